//! Investigating a script that sent spam: read the access logs for the
//! requests to it (and its clients' other requests), its messages in the
//! mail logs, and — inside the daemon — scan the site and trace the script
//! when `detect` turns a `script:` sender `spamming`. `unlisted trace`
//! uses the same readers.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Result;
use sitescan::trace::Request;

/// Access logs read for a trace.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    /// Requests to the target, then its clients' other requests.
    pub(crate) requests: Vec<Request>,
    pub(crate) not_understood: usize,
    /// `file: error` for logs that could not be read.
    pub(crate) errors: Vec<String>,
}

/// Every line of `log` that parses as a request, to `keep`; returns the
/// lines that did not parse.
fn each_request(log: &Path, keep: &mut impl FnMut(Request)) -> std::io::Result<usize> {
    let file = std::fs::File::open(log)?;
    let reader = BufReader::new(maillog::packed::unpacked(BufReader::new(file))?);
    let mut bad = 0;
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        let line = String::from_utf8_lossy(&line);
        if line.trim().is_empty() {
            continue;
        }
        match sitescan::trace::parse_line(&line, format!("{}:{}", log.display(), n + 1)) {
            Some(r) => keep(r),
            None => bad += 1,
        }
    }
    Ok(bad)
}

/// The requests a trace of `url` needs, in two passes so memory holds only
/// those: the requests to it (below it for a directory), then every
/// request of the clients that made them.
pub(crate) fn requests_for(url: &str, is_dir: bool, logs: &[PathBuf]) -> Requests {
    let hits = |r: &Request| sitescan::trace::is_to(r, url, is_dir);
    let mut out = Requests::default();
    let mut readable = Vec::new();
    for log in logs {
        match each_request(log, &mut |r| {
            if hits(&r) {
                out.requests.push(r)
            }
        }) {
            Ok(bad) => {
                out.not_understood += bad;
                readable.push(log);
            }
            Err(e) => out.errors.push(format!("{}: {e}", log.display())),
        }
    }
    let clients: HashSet<std::net::IpAddr> = out.requests.iter().map(|r| r.ip).collect();
    if clients.is_empty() {
        return out;
    }
    for log in readable {
        let res = each_request(log, &mut |r| {
            if !hits(&r) && clients.contains(&r.ip) {
                out.requests.push(r)
            }
        });
        if let Err(e) = res {
            out.errors.push(format!("{}: {e}", log.display()));
        }
    }
    out
}

/// The messages `target` sent (a script, or any script under a
/// directory; a sender known only by the script's directory counts) as
/// (UTC seconds, recipients), from mail logs that write their times in
/// `zone`.
pub(crate) fn script_mail(
    target: &Path,
    logs: &[PathBuf],
    zone: maillog::time::Zone,
) -> Result<Vec<(i64, usize)>> {
    // Oldest first, whatever order they were given in.
    let mut logs = logs.to_vec();
    let year = crate::cmd::logs::oldest_first(&mut logs, None, &zone).year;
    let mut parser = maillog::LogParser::new(None, year);
    parser.set_zone(zone);
    let mut out = Vec::new();
    let mut keep = |m: maillog::Message| {
        if m.sender.kind != maillog::SenderKind::Script {
            return;
        }
        let sender = Path::new(&m.sender.value);
        if sender.starts_with(target) || target.parent() == Some(sender) {
            out.push((m.received.secs, m.recipients.len()));
        }
    };
    for log in &logs {
        crate::cmd::logs::read_file(log, &mut parser, None, &mut keep)?;
    }
    parser.finish(&mut keep);
    out.sort_unstable();
    Ok(out)
}

/// The access logs to read: the configured files and directories, or the
/// usual places that exist here. In a directory every file counts except
/// error and byte-count logs (cPanel's domlogs name files by domain).
pub(crate) fn access_logs(configured: &[PathBuf]) -> Vec<PathBuf> {
    const USUAL: [&str; 5] = [
        "/var/log/apache2",
        "/var/log/httpd",
        "/var/log/nginx",
        "/usr/local/apache/domlogs",
        "/etc/apache2/logs/domlogs",
    ];
    let places: Vec<PathBuf> = if configured.is_empty() {
        USUAL
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect()
    } else {
        configured.to_vec()
    };
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, usize)> = places.into_iter().map(|p| (p, 0)).collect();
    while let Some((p, depth)) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else {
            // Reported when read.
            out.push(p);
            continue;
        };
        if meta.is_file() {
            out.push(p);
        } else if meta.is_dir() && depth < 2 {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let skip = name.contains("error")
                    || name.ends_with("bytes_log")
                    || name.ends_with(".offset")
                    || name.starts_with('.');
                if !skip {
                    stack.push((e.path(), depth + 1));
                }
            }
        }
    }
    out.sort();
    out
}

/// What the daemon needs to investigate a script.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) rules: Vec<PathBuf>,
    pub(crate) max_size: u64,
    pub(crate) window: i64,
    pub(crate) access_logs: Vec<PathBuf>,
    pub(crate) mail_logs: Vec<PathBuf>,
    /// The zone the mail logs write their times in, when the config names
    /// it; else they are read in the access log's offset.
    pub(crate) mail_zone: Option<String>,
}

/// The zone of mail logs for lining them up with access logs: `named`
/// when given, else the fixed offset the access log writes (`+0100`).
pub(crate) fn mail_zone(named: Option<&str>, access_offset: i64) -> Result<maillog::time::Zone> {
    match named {
        Some(n) => maillog::time::Zone::named(n).map_err(anyhow::Error::msg),
        None => Ok(maillog::time::Zone::fixed(access_offset)),
    }
}

/// The tree to scan for a script (or a script's directory): its site's
/// document root, else the directory itself.
pub(crate) fn site_root(target: &Path) -> PathBuf {
    sitescan::trace::docroot_of(target).unwrap_or_else(|| {
        if target.is_dir() {
            target.to_path_buf()
        } else {
            target.parent().unwrap_or(target).to_path_buf()
        }
    })
}

/// Scans `row`'s site and traces its script; the report to store with
/// (malicious, suspicious), or why it could not run.
pub(crate) fn investigate(
    row: &store::SiteScanRow,
    setup: &Setup,
) -> Result<((i64, i64), serde_json::Value), String> {
    let target = PathBuf::from(&row.target);
    let root = PathBuf::from(&row.root);
    if !root.is_dir() {
        return Err(format!("{} is not a directory here", root.display()));
    }
    let rules = sitescan::RuleSet::load(&setup.rules).map_err(|e| e.to_string())?;
    let opts = sitescan::Options {
        max_size: setup.max_size,
        // Leave a core to the MTA and the daemon.
        threads: 1,
        ..sitescan::Options::default()
    };
    let (findings, summary) = sitescan::scan(std::slice::from_ref(&root), &rules, &opts);
    let trace = sitescan::trace::url_path(&target, Some(&root)).map(|url| {
        let logs = access_logs(&setup.access_logs);
        let read = requests_for(&url, target.is_dir(), &logs);
        let offset = read.requests.first().map_or(0, |r| r.utc_offset);
        let mail = mail_zone(setup.mail_zone.as_deref(), offset)
            .and_then(|zone| script_mail(&target, &setup.mail_logs, zone))
            .ok();
        let t = sitescan::trace::trace(
            &target,
            &url,
            &read.requests,
            Some(&root),
            setup.window,
            read.not_understood,
            mail.as_deref(),
        );
        serde_json::json!({"trace": t, "access_logs": logs, "errors": read.errors})
    });
    let report = serde_json::json!({
        "findings": findings,
        "summary": summary,
        "trace": trace,
    });
    Ok((
        (summary.malicious as i64, summary.suspicious as i64),
        report,
    ))
}
