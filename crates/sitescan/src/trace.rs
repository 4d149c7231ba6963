//! Point of exploit: given the script that sent spam (or a directory the
//! attacker owns) and the web server's access logs (Apache or Nginx
//! combined format, cPanel domlogs), build the timeline an operator acts
//! on: the first and last requests to the script, who made them, what those
//! clients did around the time the file appeared (uploads, plugin AJAX
//! actions, xmlrpc, login bursts, the theme or plugin editor), the
//! busiest minute of POSTs to it, and the files changed near its ctime.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maillog::time::days_from_civil;
use serde::{Deserialize, Serialize};

/// One access-log request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub at: i64,
    pub ip: IpAddr,
    pub method: String,
    /// Path and query.
    pub target: String,
    pub status: u16,
    pub user_agent: String,
    /// `log:line`.
    pub place: String,
    /// The log's zone, seconds east of UTC (`+0100` → 3600): mail logs
    /// on the same server write this zone's local time without saying so.
    pub utc_offset: i64,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `[28/Nov/2026:02:13:45 +0100]` → (unix seconds, zone offset seconds).
fn clf_time(s: &str) -> Option<(i64, i64)> {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    let (dt, zone) = s.split_once(' ')?;
    let mut p = dt.split(['/', ':']);
    let d: u32 = p.next()?.parse().ok()?;
    let mon = p.next()?;
    let mo = MONTHS.iter().position(|m| *m == mon)? as u32 + 1;
    let y: i64 = p.next()?.parse().ok()?;
    let (h, mi, se): (i64, i64, i64) = (
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
    );
    // A stamp no server writes (a forged or mangled line) is no time:
    // out of these ranges the sum below would overflow.
    if !(1..=31).contains(&d)
        || !(1970..=9999).contains(&y)
        || !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..=60).contains(&se)
    {
        return None;
    }
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let z = zone.trim_start_matches(['+', '-']);
    let off = z.get(0..2)?.parse::<i64>().ok()? * 3600 + z.get(2..4)?.parse::<i64>().ok()? * 60;
    Some((
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - sign * off,
        sign * off,
    ))
}

/// Parses one combined-format line.
pub fn parse_line(line: &str, place: String) -> Option<Request> {
    let (ip, rest) = line.split_once(' ')?;
    let ip: IpAddr = ip.parse().ok()?;
    let lb = rest.find('[')?;
    let rb = rest[lb..].find(']')? + lb;
    let (at, utc_offset) = clf_time(&rest[lb..=rb])?;
    let rest = &rest[rb + 1..];
    let q1 = rest.find('"')?;
    let q2 = rest[q1 + 1..].find('"')? + q1 + 1;
    let req = &rest[q1 + 1..q2];
    let mut parts = req.split(' ');
    let method = parts.next()?.to_string();
    let target = parts.next().unwrap_or("").to_string();
    let after = rest[q2 + 1..].trim_start();
    let status = after.split(' ').next()?.parse().ok()?;
    let user_agent = after.rsplit('"').nth(1).unwrap_or("").to_string();
    Some(Request {
        at,
        ip,
        method,
        target,
        status,
        user_agent,
        place,
        utc_offset,
    })
}

/// What a request was, for the timeline.
pub fn kind(r: &Request) -> &'static str {
    let t = r.target.to_ascii_lowercase();
    let post = r.method == "POST";
    if t.contains("/wp-admin/theme-editor.php") || t.contains("/wp-admin/plugin-editor.php") {
        "editor"
    } else if t.contains("/wp-admin/admin-ajax.php") {
        // Plugin AJAX actions (upload ones too): the action names the plugin.
        "ajax"
    } else if t.contains("/wp-admin/update.php?action=upload")
        || t.contains("/wp-admin/plugin-install.php")
        || t.contains("/wp-admin/async-upload.php")
        || t.contains("/wp-admin/media-new.php")
        || (post && t.contains("upload"))
    {
        "upload"
    } else if t.contains("/xmlrpc.php") {
        "xmlrpc"
    } else if t.contains("/wp-login.php") {
        "login"
    } else {
        "other"
    }
}

/// The timeline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Trace {
    pub url_path: String,
    pub requests: usize,
    pub first: Option<Request>,
    pub last: Option<Request>,
    /// Client → requests to the script.
    pub clients: BTreeMap<String, usize>,
    /// The busiest minute of POSTs to the script: (minute start, count).
    pub peak_posts_minute: Option<(i64, usize)>,
    /// What the script's clients did within the window around its ctime
    /// and its first request (not counting requests to the script).
    pub around: Vec<(String, Request)>,
    /// Files under the docroot changed within the window of the script's
    /// ctime: (path, ctime).
    pub changed_files: Vec<(PathBuf, i64)>,
    pub ctime: Option<i64>,
    pub lines_not_understood: usize,
    /// How the script's mail lines up with the POSTs to it (with a mail
    /// log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<MailLineUp>,
}

/// The script's mail from the mail log beside the POSTs to it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MailLineUp {
    pub messages: usize,
    pub recipients: usize,
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// The busiest minute of mail: (minute start, messages).
    pub peak_minute: Option<(i64, usize)>,
    /// Messages sent in a minute with a POST to the script or the minute
    /// after: the requests that made it send.
    pub after_posts: usize,
    /// The busiest minutes of either: (minute start, POSTs, messages),
    /// in time order, at most [`MINUTES_SHOWN`].
    pub minutes: Vec<(i64, usize, usize)>,
}

/// Minutes listed in [`MailLineUp::minutes`].
pub const MINUTES_SHOWN: usize = 30;

/// Lines up POSTs per minute with `mail` (UTC seconds, recipients).
fn line_up(posts: &BTreeMap<i64, usize>, mail: &[(i64, usize)]) -> MailLineUp {
    let mut per_minute: BTreeMap<i64, usize> = BTreeMap::new();
    let mut up = MailLineUp::default();
    for &(at, rcpts) in mail {
        up.messages += 1;
        up.recipients += rcpts;
        up.first = Some(up.first.map_or(at, |f| f.min(at)));
        up.last = Some(up.last.map_or(at, |l| l.max(at)));
        let minute = at.div_euclid(60) * 60;
        *per_minute.entry(minute).or_default() += 1;
        if posts.contains_key(&minute) || posts.contains_key(&(minute - 60)) {
            up.after_posts += 1;
        }
    }
    up.peak_minute = per_minute
        .iter()
        .map(|(m, n)| (*m, *n))
        .max_by_key(|(m, n)| (*n, -m));
    let mut both: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
    for (m, n) in posts {
        both.entry(*m).or_default().0 = *n;
    }
    for (m, n) in &per_minute {
        both.entry(*m).or_default().1 = *n;
    }
    let mut minutes: Vec<(i64, usize, usize)> =
        both.into_iter().map(|(m, (p, n))| (m, p, n)).collect();
    minutes.sort_by_key(|(m, p, n)| (std::cmp::Reverse(p + n), *m));
    minutes.truncate(MINUTES_SHOWN);
    minutes.sort_by_key(|(m, _, _)| *m);
    up.minutes = minutes;
    up
}

const DOCROOT_NAMES: [&str; 4] = ["/public_html/", "/www/", "/htdocs/", "/html/"];

/// The document root in a file's path (up to `public_html` and the like).
pub fn docroot_of(file: &Path) -> Option<PathBuf> {
    let s = file.to_string_lossy();
    DOCROOT_NAMES
        .iter()
        .find_map(|m| s.find(m).map(|i| PathBuf::from(&s[..i + m.len() - 1])))
}

/// The URL path of a file: its path below `docroot`, or below the
/// `public_html`/`www`/`htdocs` in its path.
pub fn url_path(file: &Path, docroot: Option<&Path>) -> Option<String> {
    if let Some(root) = docroot {
        let rel = file.strip_prefix(root).ok()?;
        return Some(format!("/{}", rel.display()));
    }
    let s = file.to_string_lossy();
    for marker in DOCROOT_NAMES {
        if let Some(i) = s.find(marker) {
            return Some(format!("/{}", &s[i + marker.len()..]));
        }
    }
    None
}

/// The request is to `url` (or below it, for a directory).
pub fn is_to(r: &Request, url: &str, is_dir: bool) -> bool {
    let path = r.target.split('?').next().unwrap_or("");
    if is_dir {
        path.starts_with(url)
    } else {
        path == url
    }
}

/// Builds the trace of `script` from the requests; `window` seconds
/// around the script's ctime and first request count as "around". With
/// `mail` (the script's messages: UTC seconds and recipients) the trace
/// lines them up with the POSTs to it.
pub fn trace(
    script: &Path,
    url: &str,
    requests: &[Request],
    docroot: Option<&Path>,
    window: i64,
    not_understood: usize,
    mail: Option<&[(i64, usize)]>,
) -> Trace {
    use std::os::unix::fs::MetadataExt;
    let ctime = std::fs::symlink_metadata(script).ok().map(|m| m.ctime());
    let is_dir = script.is_dir();
    let hits = |r: &Request| is_to(r, url, is_dir);
    let mut t = Trace {
        url_path: url.to_string(),
        ctime,
        lines_not_understood: not_understood,
        ..Trace::default()
    };
    let mut per_minute: BTreeMap<i64, usize> = BTreeMap::new();
    for r in requests.iter().filter(|r| hits(r)) {
        t.requests += 1;
        *t.clients.entry(r.ip.to_string()).or_default() += 1;
        if t.first.as_ref().is_none_or(|f| r.at < f.at) {
            t.first = Some(r.clone());
        }
        if t.last.as_ref().is_none_or(|l| r.at >= l.at) {
            t.last = Some(r.clone());
        }
        if r.method == "POST" {
            *per_minute.entry(r.at.div_euclid(60) * 60).or_default() += 1;
        }
    }
    t.peak_posts_minute = per_minute
        .iter()
        .map(|(m, n)| (*m, *n))
        .max_by_key(|(m, n)| (*n, -m));
    t.mail = mail.map(|m| line_up(&per_minute, m));
    let anchors: Vec<i64> = [ctime, t.first.as_ref().map(|f| f.at)]
        .into_iter()
        .flatten()
        .collect();
    let near = |at: i64| anchors.iter().any(|a| (at - a).abs() <= window);
    for r in requests
        .iter()
        .filter(|r| !hits(r) && t.clients.contains_key(&r.ip.to_string()) && near(r.at))
    {
        t.around.push((kind(r).to_string(), r.clone()));
    }
    t.around.sort_by_key(|(_, r)| r.at);
    let root = docroot
        .map(Path::to_path_buf)
        .or_else(|| docroot_of(script))
        .or_else(|| script.parent().map(Path::to_path_buf));
    if let (Some(c), Some(root)) = (ctime, root) {
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                    continue;
                };
                if m.is_dir() {
                    stack.push(e.path());
                } else if m.is_file() && (m.ctime() - c).abs() <= window && e.path() != script {
                    t.changed_files.push((e.path(), m.ctime()));
                }
            }
        }
        t.changed_files.sort_by_key(|(_, c)| *c);
        t.changed_files.truncate(200);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_lines_parse_with_zones() {
        let r = parse_line(
            r#"203.0.113.9 - - [28/Nov/2026:02:13:45 +0100] "POST /wp-content/uploads/x.php?a=1 HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11)""#,
            "log:1".into(),
        )
        .unwrap();
        assert_eq!(r.ip.to_string(), "203.0.113.9");
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, "/wp-content/uploads/x.php?a=1");
        assert_eq!(r.status, 200);
        assert_eq!(r.user_agent, "Mozilla/5.0 (X11)");
        // 02:13:45 at +0100 is 01:13:45 UTC.
        assert_eq!(
            r.at,
            days_from_civil(2026, 11, 28) * 86_400 + 3600 + 13 * 60 + 45
        );
        assert_eq!(r.utc_offset, 3600);
        assert!(parse_line("garbage", "x".into()).is_none());
        // Numbers no stamp holds are no time, not an overflow.
        for stamp in [
            "28/Nov/9223372036854775807:02:13:45 +0100",
            "28/Nov/2026:9223372036854775807:13:45 +0100",
            "28/Nov/2026:-5:13:45 +0100",
            "99/Nov/2026:02:13:45 +0100",
        ] {
            let line = format!(r#"203.0.113.9 - - [{stamp}] "GET / HTTP/1.1" 200 1 "-" "x""#);
            assert!(parse_line(&line, "x".into()).is_none(), "{stamp}");
        }
    }

    #[test]
    fn mail_lines_up_with_the_posts_that_made_it() {
        let posts: BTreeMap<i64, usize> = [(600, 3), (1200, 1)].into();
        // Two in the POST minute, one the minute after, one long after.
        let mail = [(610, 2), (650, 1), (700, 5), (5000, 1)];
        let up = line_up(&posts, &mail);
        assert_eq!((up.messages, up.recipients), (4, 9));
        assert_eq!(up.after_posts, 3);
        assert_eq!(up.peak_minute, Some((600, 2)));
        assert_eq!((up.first, up.last), (Some(610), Some(5000)));
        assert_eq!(
            up.minutes,
            [(600, 3, 2), (660, 0, 1), (1200, 1, 0), (4980, 0, 1)]
        );
    }
}
