//! `unlisted trace SCRIPT_OR_DIR --access-log FILE...`: how the attacker
//! got in, from the web server's logs.

use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The script that sent the spam, or a directory the attacker owns.
    target: PathBuf,
    /// Access logs (Apache/Nginx combined, cPanel domlogs); `.gz` too.
    #[arg(long = "access-log", required = true, value_name = "FILE")]
    access_logs: Vec<PathBuf>,
    /// The site's document root (default: the part of the path after
    /// public_html, www, htdocs or html).
    #[arg(long)]
    docroot: Option<PathBuf>,
    /// Seconds around the file's ctime and its first request that count as
    /// "around the time it appeared".
    #[arg(long, default_value_t = 3600)]
    window: i64,
    /// Exim or Postfix logs of the same server: the script's messages are
    /// lined up with the POSTs to it.
    #[arg(long = "mail-log", value_name = "FILE")]
    mail_logs: Vec<PathBuf>,
    /// The IANA time zone the mail logs write their times in
    /// (`Europe/Berlin`); default: the offset the access log writes.
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct TraceJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    t: &'a sitescan::trace::Trace,
}

pub(crate) fn run(_g: &Global, a: Args) -> Result<Exit> {
    let target = std::path::absolute(&a.target)?;
    let Some(url) = sitescan::trace::url_path(&target, a.docroot.as_deref()) else {
        bail!(
            "cannot tell the URL of {}: give --docroot",
            target.display()
        );
    };
    let read = crate::investigate::requests_for(&url, target.is_dir(), &a.access_logs);
    if let Some(e) = read.errors.first() {
        output::error(&format!("cannot read {e}"));
        return Ok(Exit::Failed);
    }
    let (requests, bad) = (read.requests, read.not_understood);
    let mail = if a.mail_logs.is_empty() {
        None
    } else {
        let offset = requests.first().map_or(0, |r| r.utc_offset);
        let zone = crate::investigate::mail_zone(a.timezone.as_deref(), offset)?;
        match crate::investigate::script_mail(&target, &a.mail_logs, zone) {
            Ok(m) => Some(m),
            Err(e) => {
                output::error(&format!("{e:#}"));
                return Ok(Exit::Failed);
            }
        }
    };
    let t = sitescan::trace::trace(
        &target,
        &url,
        &requests,
        a.docroot.as_deref(),
        a.window,
        bad,
        mail.as_deref(),
    );
    if a.json {
        output::json(&TraceJson { ty: "trace", t: &t })?;
        return Ok(Exit::Clean);
    }
    print(&target, &t)?;
    Ok(Exit::Clean)
}

/// The trace for people.
pub(crate) fn print(target: &std::path::Path, t: &sitescan::trace::Trace) -> Result<()> {
    output::line(&format!(
        "{} (URL {}): {} requests",
        target.display(),
        t.url_path,
        t.requests
    ))?;
    if let Some(c) = t.ctime {
        output::line(&format!("  file changed (ctime): {}", output::time(c)))?;
    }
    for (label, r) in [("first", &t.first), ("last", &t.last)] {
        if let Some(r) = r {
            output::line(&format!(
                "  {label} request: {} {} {} {} ({})",
                output::time(r.at),
                r.ip,
                r.method,
                r.target,
                r.status
            ))?;
        }
    }
    if let Some((m, n)) = t.peak_posts_minute {
        output::line(&format!(
            "  busiest minute: {n} POSTs at {}",
            output::time(m)
        ))?;
    }
    if let Some(mail) = &t.mail {
        output::line(&format!(
            "  mail from it: {} messages to {} recipients{}; {} sent in a minute with a POST to it or the next",
            mail.messages,
            mail.recipients,
            match (mail.first, mail.last) {
                (Some(f), Some(l)) => format!(" from {} to {}", output::time(f), output::time(l)),
                _ => String::new(),
            },
            mail.after_posts
        ))?;
        for (m, posts, sent) in &mail.minutes {
            output::line(&format!(
                "    {}  {posts:>5} POSTs  {sent:>5} messages",
                output::time(*m)
            ))?;
        }
    }
    for (ip, n) in &t.clients {
        output::line(&format!("  client {ip}: {n} requests"))?;
    }
    if !t.around.is_empty() {
        output::line("  what its clients did around the time it appeared:")?;
        for (kind, r) in &t.around {
            output::line(&format!(
                "    {} {:<7} {} {} {} ({})",
                output::time(r.at),
                kind,
                r.ip,
                r.method,
                r.target,
                r.status
            ))?;
        }
    }
    if !t.changed_files.is_empty() {
        output::line("  files changed near its ctime:")?;
        for (p, c) in &t.changed_files {
            output::line(&format!("    {}  {}", output::time(*c), p.display()))?;
        }
    }
    if t.lines_not_understood > 0 {
        output::line(&format!(
            "  {} log lines not understood",
            t.lines_not_understood
        ))?;
    }
    Ok(())
}
