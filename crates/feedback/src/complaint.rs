//! One complaint message → a [`Complaint`]: who complained (provider),
//! about which message (its original headers), sent from which IP, when.
//!
//! ARF (RFC 5965) as real feeds send it: `Version: 0.1`, `Received-Date`
//! for `Arrival-Date`, `Abuse-Type`, hashed `Original-Rcpt-To`,
//! headers-only originals (`text/rfc822-headers`), field names in any case.
//! Besides ARF: Microsoft JMRP's older form (a `message/rfc822` attachment
//! from `staff@hotmail.com`), SpamCop's text reports (`Email from IP /
//! date` and the `[ Offending message ]`), and plain forwarded spam (an
//! attached or inline message). Anything questionable is kept and named in
//! `problems`, never guessed at.

use std::net::IpAddr;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::Serialize;

/// The largest message accepted (a complaint with a huge original is
/// still a few MB; 64 MB means something else went wrong).
pub const MAX_SIZE: usize = 64 * 1024 * 1024;

/// How the complaint was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// ARF (RFC 5965), including draft-era variants.
    Arf,
    /// Microsoft JMRP's non-ARF form.
    Jmrp,
    /// SpamCop's text report.
    Spamcop,
    /// Someone forwarded the spam (attached or inline).
    Forwarded,
}

/// What the complaint shows of our original message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Original {
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub return_path: Option<String>,
    /// `X-PHP-Originating-Script` (uid:basename).
    pub php_script: Option<String>,
    /// `X-Source-Args` (cPanel: the script's interpreter and path).
    pub source_args: Option<String>,
    /// `X-Source-Dir`.
    pub source_dir: Option<String>,
    /// The SMTP AUTH login: `X-AuthUser` (cPanel), `X-Authenticated-Sender`,
    /// or Postfix's `(Authenticated sender: …)` in a Received header.
    pub auth_user: Option<String>,
    /// Only the headers came back (`text/rfc822-headers`).
    pub headers_only: bool,
}

/// One complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Complaint {
    pub format: Format,
    /// `aol`, `comcast`, `yahoo`, `microsoft`, `spamcop`, … or the
    /// reporting domain when the sender is not known.
    pub provider: String,
    /// The report's From address.
    pub reporter: Option<String>,
    /// `abuse`, `fraud`, `virus`, `other`, `not-spam`, `auth-failure`.
    pub feedback_type: String,
    pub user_agent: Option<String>,
    pub version: Option<String>,
    pub source_ip: Option<IpAddr>,
    /// RFC 3339, when the date parsed.
    pub arrival_date: Option<String>,
    #[serde(skip)]
    pub arrival_unix: Option<i64>,
    pub original_mail_from: Option<String>,
    pub original_rcpt_to: Vec<String>,
    /// The recipients are hashes (Validity's feeds), not addresses.
    pub recipients_hashed: bool,
    pub reported_domains: Vec<String>,
    pub original: Original,
    /// What is missing or odd, in words.
    pub problems: Vec<String>,
}

/// Why a message is not a complaint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotComplaint {
    #[error("empty input")]
    Empty,
    #[error("message of {0} bytes is larger than the {MAX_SIZE}-byte limit")]
    TooLarge(usize),
    #[error("not a mail message: no header block")]
    NotMail,
    #[error(
        "no complaint found: no feedback report (ARF), no JMRP or SpamCop form, no attached or quoted message"
    )]
    NoReport,
    #[error("the message could not be read: its parser failed ({0})")]
    Unreadable(String),
}

/// Header-style `Name: value` fields with continuation lines, names
/// lowercased.
fn fields(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim();
            if !n.is_empty() && !n.contains(' ') {
                out.push((n.to_ascii_lowercase(), v.trim().to_string()));
            }
        }
    }
    out
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn all_fields(f: &[(String, String)], name: &str) -> Vec<String> {
    f.iter()
        .filter(|(n, v)| n == name && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}

fn strip_angle(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// The address in `Name <addr>` or `addr`.
fn address(s: &str) -> String {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].trim().to_string(),
        _ => s.trim().to_string(),
    }
}

/// Which feed a report comes from, by its From address (and User-Agent).
pub fn provider(from: &str, user_agent: Option<&str>) -> String {
    let addr = address(from).to_ascii_lowercase();
    let domain = addr.rsplit('@').next().unwrap_or("");
    const KNOWN: &[(&str, &str)] = &[
        ("aol.net", "aol"),
        ("aol.com", "aol"),
        ("yahoo.com", "yahoo"),
        ("yahoo.net", "yahoo"),
        ("yahoodns.net", "yahoo"),
        ("comcast", "comcast"),
        ("cox.net", "cox"),
        ("fastmail", "fastmail"),
        ("hostedemail.com", "opensrs"),
        ("opensrs", "opensrs"),
        ("rackspace", "rackspace"),
        ("rr.com", "roadrunner"),
        ("synacor", "synacor"),
        ("usa.net", "usanet"),
        ("zoho", "zoho"),
        ("bluetie", "bluetie"),
        ("hotmail.com", "microsoft"),
        ("outlook.com", "microsoft"),
        ("microsoft.com", "microsoft"),
        ("spamcop.net", "spamcop"),
        ("mail.ru", "mailru"),
        ("yandex", "yandex"),
        ("gmx", "gmx"),
        ("web.de", "webde"),
        ("xs4all", "xs4all"),
        ("terra", "terra"),
        ("laposte", "laposte"),
        ("sfr.fr", "sfr"),
        ("gandi", "gandi"),
    ];
    // Validity's feeds: feedbackloop@<isp>fbl.senderscore.net.
    if let Some(isp) = domain
        .strip_suffix("fbl.senderscore.net")
        .filter(|s| !s.is_empty())
    {
        return isp.trim_end_matches('.').to_string();
    }
    for (needle, name) in KNOWN {
        if domain.contains(needle) {
            return (*name).to_string();
        }
    }
    if user_agent.is_some_and(|u| u.contains("AOL")) {
        return "aol".into();
    }
    if domain.is_empty() {
        "unknown".into()
    } else {
        domain.to_string()
    }
}

/// An IP written in a report: brackets and spaces tolerated.
fn ip(s: &str) -> Option<IpAddr> {
    s.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim()
        .parse()
        .ok()
}

/// Why an IP cannot be a public mail server's, if it cannot.
fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v) if v.is_private() => Some("a private (RFC 1918) address"),
        IpAddr::V4(v) if v.is_loopback() => Some("a loopback address"),
        IpAddr::V4(v) if v.is_documentation() => Some("a documentation address"),
        IpAddr::V4(v) if v.is_link_local() || v.is_unspecified() || v.is_broadcast() => {
            Some("not a routable address")
        }
        IpAddr::V6(v) if v.is_loopback() || v.is_unspecified() => Some("not a routable address"),
        _ => None,
    }
}

/// A hop inside one site (private, loopback, link-local): not the relay
/// that handed the message over.
fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_private() || v.is_loopback() || v.is_link_local() || v.is_unspecified()
        }
        IpAddr::V6(v) => {
            v.is_loopback() || v.is_unspecified() || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The first IPv4/IPv6 address in text after `marker` (case-insensitive).
fn ip_after(text: &str, marker: &str) -> Option<IpAddr> {
    let lower = text.to_ascii_lowercase();
    let i = lower.find(&marker.to_ascii_lowercase())? + marker.len();
    text[i..]
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .filter(|w| w.len() >= 3)
        .find_map(|w| w.trim_matches(|c| c == '.' || c == ':').parse().ok())
}

/// Reads the headers of a returned message.
fn original_from_headers(headers: &[(String, String)], headers_only: bool) -> Original {
    let get = |n: &str| field(headers, n).map(str::to_string);
    let auth = get("x-authuser")
        .or_else(|| get("x-authenticated-sender"))
        .or_else(|| {
            all_fields(headers, "received").iter().find_map(|r| {
                let i = r.find("(Authenticated sender: ")? + 23;
                Some(r[i..].split(')').next()?.trim().to_string())
            })
        });
    Original {
        message_id: get("message-id").map(|m| strip_angle(&m)),
        from: get("from"),
        subject: get("subject"),
        date: get("date"),
        return_path: get("return-path").map(|r| strip_angle(&r)),
        php_script: get("x-php-originating-script"),
        source_args: get("x-source-args"),
        source_dir: get("x-source-dir"),
        auth_user: auth.map(|a| address(&a)),
        headers_only,
    }
}

/// The IP that handed the original to the complaining provider: the
/// topmost Received header's address that is not a hop inside one site.
fn relay_ip(headers: &[(String, String)]) -> Option<IpAddr> {
    all_fields(headers, "received").iter().find_map(|r| {
        let from = r.split(" by ").next().unwrap_or(r);
        from.split(['[', ']', '(', ')', ' '])
            .filter_map(|w| w.parse::<IpAddr>().ok())
            .find(|ip| !internal(*ip))
    })
}

/// Text of a part, whatever MIME type it was given.
fn part_text(p: &mail_parser::MessagePart<'_>) -> String {
    match &p.body {
        PartType::Text(t) | PartType::Html(t) => t.to_string(),
        PartType::Binary(b) | PartType::InlineBinary(b) => String::from_utf8_lossy(b).into_owned(),
        PartType::Message(m) => String::from_utf8_lossy(m.raw_message()).into_owned(),
        PartType::Multipart(_) => String::new(),
    }
}

fn headers_of(m: &mail_parser::Message<'_>) -> Vec<(String, String)> {
    m.headers_raw()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

/// Parses one message.
pub fn parse(raw: &[u8]) -> Result<Complaint, NotComplaint> {
    crate::guarded(|| parse_unguarded(raw), NotComplaint::Unreadable)
}

fn parse_unguarded(raw: &[u8]) -> Result<Complaint, NotComplaint> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(NotComplaint::Empty);
    }
    if raw.len() > MAX_SIZE {
        return Err(NotComplaint::TooLarge(raw.len()));
    }
    // An mbox "From " separator line before the headers.
    let raw = if raw.starts_with(b"From ") {
        match memchr_nl(raw) {
            Some(i) => &raw[i + 1..],
            None => return Err(NotComplaint::NotMail),
        }
    } else {
        raw
    };
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(NotComplaint::NotMail)?;
    if msg.headers().is_empty() {
        return Err(NotComplaint::NotMail);
    }
    let top = headers_of(&msg);
    let reporter = field(&top, "from").map(address);
    let subject = field(&top, "subject").unwrap_or("").to_string();

    let mut report: Option<Vec<(String, String)>> = None;
    let mut original: Option<(Vec<(String, String)>, bool)> = None;
    let mut texts: Vec<String> = Vec::new();
    for (i, p) in msg.parts.iter().enumerate() {
        if i == 0 && msg.parts.len() > 1 {
            continue; // the multipart container itself
        }
        let ct = p.content_type();
        let (t, s) = ct
            .map(|c| {
                (
                    c.ctype().to_ascii_lowercase(),
                    c.subtype().unwrap_or("").to_ascii_lowercase(),
                )
            })
            .unwrap_or(("text".into(), "plain".into()));
        match (t.as_str(), s.as_str()) {
            ("message", "feedback-report") if report.is_none() => {
                report = Some(fields(&part_text(p)));
            }
            ("message", "rfc822" | "global") if original.is_none() => {
                if let PartType::Message(m) = &p.body {
                    original = Some((headers_of(m), false));
                }
            }
            ("text", "rfc822-headers") if original.is_none() => {
                original = Some((fields(&part_text(p)), true));
            }
            ("text", _) => texts.push(part_text(p)),
            _ => {}
        }
    }
    if msg.parts.len() == 1 {
        texts.push(part_text(&msg.parts[0]));
    }
    let text = texts.join("\n");
    let from_line = reporter.as_deref().unwrap_or("");

    let mut problems = Vec::new();
    let (format, fb_type, ua, version, mut source, arrival_text, mail_from, rcpts, domains) =
        if let Some(r) = &report {
            let source = field(r, "source-ip").map(|s| {
                let parsed = ip(s);
                if parsed.is_none() {
                    problems.push(format!(
                        "Source-IP `{s}` is not an IP address (anonymised or damaged)"
                    ));
                }
                parsed
            });
            if source.is_none() {
                problems.push("the report has no Source-IP".to_string());
            }
            let arrival = field(r, "arrival-date")
                .or_else(|| field(r, "received-date"))
                .map(str::to_string);
            (
                Format::Arf,
                field(r, "feedback-type").unwrap_or("").to_ascii_lowercase(),
                field(r, "user-agent").map(str::to_string),
                field(r, "version").map(str::to_string),
                source.flatten(),
                arrival,
                field(r, "original-mail-from").map(strip_angle),
                all_fields(r, "original-rcpt-to")
                    .iter()
                    .map(|a| strip_angle(a))
                    .collect::<Vec<_>>(),
                all_fields(r, "reported-domain"),
            )
        } else if from_line.to_ascii_lowercase().ends_with("spamcop.net")
            || subject.starts_with("[SpamCop")
        {
            let source = ip_after(&text, "Email from ").or_else(|| ip_after(&subject, "("));
            let arrival = text.lines().find_map(|l| {
                let l = l.trim();
                l.strip_prefix("Email from ")
                    .and_then(|r| r.split_once(" / "))
                    .map(|(_, d)| d.trim().to_string())
            });
            if let Some(i) = text.find("[ Offending message ]") {
                let rest = text[i + 21..].trim_start();
                let quoted: String = rest
                    .lines()
                    .map(|l| l.strip_prefix("> ").or(l.strip_prefix('>')).unwrap_or(l))
                    .collect::<Vec<_>>()
                    .join("\n");
                let head = quoted.split("\n\n").next().unwrap_or("");
                original.get_or_insert((fields(head), false));
            }
            (
                Format::Spamcop,
                "abuse".to_string(),
                None,
                None,
                source,
                arrival,
                None,
                Vec::new(),
                Vec::new(),
            )
        } else if let Some((h, _)) = &original {
            let jmrp = from_line.to_ascii_lowercase().ends_with("@hotmail.com")
                || subject
                    .to_ascii_lowercase()
                    .starts_with("complaint about message from")
                || field(h, "x-hmxmroriginalrecipient").is_some();
            let source = ip_after(&subject, "message from ").or_else(|| relay_ip(h));
            let rcpt = field(h, "x-hmxmroriginalrecipient")
                .map(|r| vec![r.to_string()])
                .unwrap_or_default();
            (
                if jmrp {
                    Format::Jmrp
                } else {
                    Format::Forwarded
                },
                "abuse".to_string(),
                None,
                None,
                source,
                field(&top, "date").map(str::to_string),
                field(h, "return-path").map(strip_angle),
                rcpt,
                Vec::new(),
            )
        } else if let Some(i) = text
            .find("\nReceived: ")
            .or_else(|| text.starts_with("Received: ").then_some(0))
        {
            // Spam quoted inline in the body of a forward.
            let head = text[i..].trim_start().split("\n\n").next().unwrap_or("");
            let h = fields(head);
            original = Some((h.clone(), true));
            (
                Format::Forwarded,
                "abuse".to_string(),
                None,
                None,
                relay_ip(&h),
                field(&top, "date").map(str::to_string),
                field(&h, "return-path").map(strip_angle),
                Vec::new(),
                Vec::new(),
            )
        } else {
            return Err(NotComplaint::NoReport);
        };

    if format != Format::Arf && source.is_none() {
        problems.push("no source IP found in the report".to_string());
    }
    if let Some(s) = source
        && let Some(why) = not_public(s)
    {
        problems.push(format!(
            "source IP {s} is {why}: not a public mail server's (an anonymised sample?)"
        ));
    }
    if source.is_some_and(|s| s.is_unspecified()) {
        source = None;
    }
    let (arrival_date, arrival_unix) = match arrival_text.as_deref() {
        Some(t) => match mail_parser::DateTime::parse_rfc822(t) {
            Some(d) => (Some(d.to_rfc3339()), Some(d.to_timestamp())),
            None => {
                problems.push(format!("arrival date `{t}` is not an RFC 5322 date"));
                (None, None)
            }
        },
        None => {
            problems.push("no arrival date".to_string());
            (None, None)
        }
    };
    if fb_type.is_empty() {
        problems.push("the report has no Feedback-Type".to_string());
    }
    let recipients_hashed = !rcpts.is_empty()
        && rcpts.iter().all(|r| {
            let local = r.split('@').next().unwrap_or("");
            local.len() == 32 && local.bytes().all(|b| b.is_ascii_hexdigit())
        });
    let original = match original {
        Some((h, only)) => original_from_headers(&h, only),
        None => {
            problems.push("the original message is not included".to_string());
            Original::default()
        }
    };
    if original.message_id.is_none() && original.from.is_some() {
        problems.push("the original message has no Message-ID".to_string());
    }
    Ok(Complaint {
        format,
        provider: provider(from_line, ua.as_deref()),
        reporter,
        feedback_type: if fb_type.is_empty() {
            "abuse".into()
        } else {
            fb_type
        },
        user_agent: ua,
        version,
        source_ip: source,
        arrival_date,
        arrival_unix,
        original_mail_from: mail_from,
        original_rcpt_to: rcpts,
        recipients_hashed,
        reported_domains: domains,
        original,
        problems,
    })
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

impl Complaint {
    /// What identifies one report, to count duplicates once: the provider,
    /// the original message (Message-ID, else its date and subject), the
    /// source IP and the arrival date.
    pub fn key(&self) -> String {
        let orig = self.original.message_id.clone().unwrap_or_else(|| {
            format!(
                "{}|{}",
                self.original.date.as_deref().unwrap_or(""),
                self.original.subject.as_deref().unwrap_or("")
            )
        });
        format!(
            "{}|{}|{}|{}|{}",
            self.provider,
            self.feedback_type,
            orig,
            self.source_ip.map(|i| i.to_string()).unwrap_or_default(),
            self.arrival_unix.map(|t| t.to_string()).unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests;
