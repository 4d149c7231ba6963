//! The Postfix SMTPD access policy protocol (SMTPD_POLICY_README): a
//! request is `name=value` lines ended by an empty line; the answer is one
//! `action=…` line and an empty line; a connection carries many requests.
//! Exim's `${readsocket}` (the shipped ACL snippet) speaks the same
//! protocol with a few extra attributes for local submissions.

use maillog::message::{Sender, SenderKind};

use crate::hold::{Action, HoldSet, Identity};
use crate::ratelimit::RateLimiter;

/// The script headers PHP and cPanel add, as request attributes:
/// (attribute, header name). The Exim snippet, the milter and the queue
/// readers all pass them on under these names.
pub(crate) const SCRIPT_HEADERS: [(&str, &str); 3] = [
    ("x_php_originating_script", "X-PHP-Originating-Script"),
    ("x_source_args", "X-Source-Args"),
    ("x_source_dir", "X-Source-Dir"),
];

/// The attribute a script header travels as, if `name` is one.
pub(crate) fn script_header_attr(name: &str) -> Option<&'static str> {
    SCRIPT_HEADERS
        .iter()
        .find(|(_, h)| h.eq_ignore_ascii_case(name.trim()))
        .map(|(a, _)| *a)
}

/// Bounds on what one request may hold.
pub const MAX_LINE: usize = 8192;
pub const MAX_ATTRIBUTES: usize = 200;
pub const MAX_REQUEST: usize = 64 * 1024;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("line longer than {MAX_LINE} bytes")]
    LineTooLong,
    #[error("request larger than {MAX_REQUEST} bytes or {MAX_ATTRIBUTES} attributes")]
    TooLarge,
    #[error("line is not name=value: {0:?}")]
    NotAttribute(String),
    #[error("line is not UTF-8")]
    NotUtf8,
    #[error("request has no request=smtpd_access_policy")]
    NotPolicyRequest,
}

/// One policy request's attributes, in arrival order. The text is kept in
/// one buffer with offsets (a request has ~25 attributes, and the service
/// reads tens of thousands of requests a second).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    text: String,
    /// (name start, `=` position, value end) in `text`.
    spans: Vec<(u32, u32, u32)>,
}

impl Request {
    /// A request built from attributes gathered elsewhere (a queued
    /// message's envelope and headers), to name its sender the same way.
    pub fn from_attrs(attrs: Vec<(String, String)>) -> Self {
        let mut r = Request::default();
        for (k, v) in attrs {
            r.push(&k, &v);
        }
        r
    }

    fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(name);
        let eq = self.text.len() as u32;
        self.text.push('=');
        self.text.push_str(value);
        self.spans.push((start, eq, self.text.len() as u32));
    }

    /// Every (name, value), in order.
    pub fn attrs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans.iter().map(|&(s, e, end)| {
            (
                &self.text[s as usize..e as usize],
                &self.text[e as usize + 1..end as usize],
            )
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }

    /// Forgets the attributes, keeping the buffers for the next request.
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    /// Feeds one line (without its newline). Returns `Ok(true)` when the
    /// empty line ended the request.
    pub fn push_line(&mut self, line: &[u8]) -> Result<bool, ProtocolError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_LINE {
            return Err(ProtocolError::LineTooLong);
        }
        if line.is_empty() {
            if self.spans.is_empty() {
                // Blank lines between requests are tolerated.
                return Ok(false);
            }
            if self.get("request") != Some("smtpd_access_policy") {
                return Err(ProtocolError::NotPolicyRequest);
            }
            return Ok(true);
        }
        if self.text.len() + line.len() + 1 > MAX_REQUEST || self.spans.len() >= MAX_ATTRIBUTES {
            return Err(ProtocolError::TooLarge);
        }
        let line = std::str::from_utf8(line).map_err(|_| ProtocolError::NotUtf8)?;
        let (name, value) = line
            .split_once('=')
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| ProtocolError::NotAttribute(line.chars().take(80).collect()))?;
        self.push(name, value);
        Ok(false)
    }

    /// Who is sending, from Postfix's attributes and the extra ones the
    /// Exim snippet sends (`local_user`, `x_php_originating_script`,
    /// `x_source_args`, `account`).
    pub fn identity(&self) -> Identity {
        let mut id = Identity::default();
        if let Some(u) = self.get("sasl_username") {
            id.senders
                .push(Sender::new(SenderKind::Auth, u.to_ascii_lowercase()));
        }
        let headers: Vec<String> = SCRIPT_HEADERS
            .iter()
            .filter_map(|(attr, header)| self.get(attr).map(|v| format!("{header}: {v}")))
            .collect();
        let hints = maillog::headers::script_headers(headers.iter().map(String::as_str));
        if let Some(path) = &hints.path {
            id.senders
                .push(Sender::new(SenderKind::Script, path.clone()));
            id.account = maillog::message::account_from_path(path).map(str::to_string);
        }
        id.script_basename = hints.basename.clone();
        if let Some(u) = self.get("local_user") {
            id.senders.push(Sender::new(SenderKind::Local, u));
            id.account.get_or_insert_with(|| u.to_string());
        }
        if let Some(a) = self.get("account") {
            id.account = Some(a.to_string());
        }
        if let Some(ip) = self.get("client_address")
            && let Some(ip) = maillog::message::parse_ip(ip)
        {
            id.senders.push(Sender::new(SenderKind::Ip, ip.to_string()));
        }
        if let Some(from) = self.get("sender") {
            id.senders
                .push(Sender::new(SenderKind::From, from.to_ascii_lowercase()));
        }
        id
    }

    /// The state at which a message is counted once: `DATA` or
    /// `END-OF-MESSAGE` (where `recipient_count` is known).
    pub fn counts_message(&self) -> bool {
        matches!(
            self.get("protocol_state")
                .map(str::to_ascii_uppercase)
                .as_deref(),
            Some("DATA" | "END-OF-MESSAGE")
        )
    }
}

/// Why the answer is what it is, for the log and the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Held {
        subject: String,
        action: Action,
    },
    RateLimited {
        sender: String,
        limit: String,
        action: Action,
    },
}

/// The answer to one request: the `action=` value and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: String,
    pub outcome: Outcome,
    /// The human part of the answer (for a milter's SMTP reply).
    pub text: String,
}

impl Decision {
    /// The reply on the wire.
    pub fn reply(&self) -> String {
        format!("action={}\n\n", self.action)
    }
}

/// A reason fit for one SMTP reply line: printable, single line, short.
fn clean(text: &str) -> String {
    let t: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() > 200 {
        let mut s: String = t.chars().take(199).collect();
        s.push('…');
        s
    } else {
        t
    }
}

/// Decides one request. `instance_seen` says the message this request
/// belongs to was counted already (Postfix sends DATA and END-OF-MESSAGE
/// for the same `instance` when both restriction lists call us).
pub fn decide(
    req: &Request,
    holds: &HoldSet,
    limits: &mut RateLimiter,
    instance_seen: bool,
    now: i64,
) -> Decision {
    let who = req.identity();
    if let Some(h) = holds.find(&who, now) {
        let subject = h.subject.to_string();
        let reason = clean(&h.reason);
        let (action, text) = match h.action {
            Action::Reject => (
                "REJECT 5.7.1",
                format!("Sending as {subject} is suspended: {reason}"),
            ),
            Action::Defer => (
                "DEFER 4.7.1",
                format!("Sending as {subject} is paused: {reason}"),
            ),
            Action::Hold => ("HOLD", format!("held for review ({subject}): {reason}")),
        };
        return Decision {
            action: format!("{action} {text}"),
            text,
            outcome: Outcome::Held {
                subject,
                action: h.action,
            },
        };
    }
    if req.counts_message()
        && !instance_seen
        && !limits.is_empty()
        && let Some(primary) = who.primary()
    {
        let rcpts = req
            .get("recipient_count")
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1);
        if let Err(e) = limits.admit(primary, rcpts, now) {
            let (verb, text) = match e.action {
                Action::Hold => (
                    "HOLD",
                    format!("{primary} is over its limit of {}", e.limit),
                ),
                Action::Reject => (
                    "REJECT 5.7.1",
                    format!("{primary} is over its limit of {}", e.limit),
                ),
                Action::Defer => (
                    "DEFER 4.7.1",
                    format!(
                        "{primary} is over its limit of {}; try again later",
                        e.limit
                    ),
                ),
            };
            return Decision {
                action: format!("{verb} {text}"),
                text,
                outcome: Outcome::RateLimited {
                    sender: primary.to_string(),
                    limit: e.limit,
                    action: e.action,
                },
            };
        }
    }
    Decision {
        action: "DUNNO".into(),
        text: String::new(),
        outcome: Outcome::Pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hold::{Hold, Subject};
    use crate::ratelimit::{Limit, Limits};

    fn request(text: &str) -> Request {
        let mut r = Request::default();
        for line in text.lines() {
            if r.push_line(line.as_bytes()).unwrap() {
                return r;
            }
        }
        assert!(r.push_line(b"").unwrap(), "request did not end");
        r
    }

    const AUTH: &str = "request=smtpd_access_policy
protocol_state=END-OF-MESSAGE
protocol_name=ESMTP
client_address=127.0.0.2
client_name=localhost
helo_name=client.example
sender=Bob@Example.com
recipient=
recipient_count=3
queue_id=8045F2AB23
instance=123.456.7
size=12345
sasl_method=PLAIN
sasl_username=bob@example.com
sasl_sender=
ccert_subject=
encryption_protocol=
";

    fn holds(list: &[(&str, Action)]) -> HoldSet {
        HoldSet::new(list.iter().map(|(s, a)| Hold {
            subject: s.parse::<Subject>().unwrap(),
            action: *a,
            reason: "compromised password\r\n, reported by abuse desk".into(),
            until: None,
        }))
    }

    #[test]
    fn parses_a_postfix_request_into_identities() {
        let r = request(AUTH);
        let id = r.identity();
        let names: Vec<String> = id.senders.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            names,
            [
                "auth:bob@example.com",
                "ip:127.0.0.2",
                "from:bob@example.com"
            ]
        );
        assert_eq!(id.primary().unwrap().to_string(), "auth:bob@example.com");
        assert_eq!(r.get("recipient"), None, "empty values read as absent");
        assert!(r.counts_message());
    }

    #[test]
    fn exim_local_submission_attributes() {
        let r = request(
            "request=smtpd_access_policy
protocol_state=END-OF-MESSAGE
local_user=dave
sender=dave@host.example
x_php_originating_script=1001:mailer.php
x_source_args=/usr/bin/php /home/dave/public_html/wp-content/uploads/mailer.php
",
        );
        let id = r.identity();
        assert_eq!(
            id.primary().unwrap().to_string(),
            "script:/home/dave/public_html/wp-content/uploads/mailer.php"
        );
        assert_eq!(id.account.as_deref(), Some("dave"));
        assert_eq!(id.script_basename.as_deref(), Some("mailer.php"));
    }

    #[test]
    fn answers_held_senders_with_the_hold_and_others_dunno() {
        let set = holds(&[("auth:bob@example.com", Action::Reject)]);
        let mut rl = RateLimiter::default();
        let d = decide(&request(AUTH), &set, &mut rl, false, 0);
        assert_eq!(
            d.reply(),
            "action=REJECT 5.7.1 Sending as auth:bob@example.com is suspended: compromised password , reported by abuse desk\n\n"
        );
        let other = AUTH.replace("bob@example.com", "carol@example.com");
        let d = decide(&request(&other), &set, &mut rl, false, 0);
        assert_eq!(d.reply(), "action=DUNNO\n\n");
        let set = holds(&[("ip:127.0.0.2", Action::Hold)]);
        assert!(
            decide(&request(AUTH), &set, &mut rl, false, 0)
                .action
                .starts_with("HOLD ")
        );
        let set = holds(&[("from:bob@example.com", Action::Defer)]);
        assert!(
            decide(&request(AUTH), &set, &mut rl, false, 0)
                .action
                .starts_with("DEFER 4.7.1 ")
        );
    }

    #[test]
    fn rate_limit_counts_each_message_once() {
        let mut l = Limits::new();
        l.insert(
            SenderKind::Auth,
            Limit {
                recipients_per_hour: Some(6),
                ..Limit::default()
            },
        );
        let mut rl = RateLimiter::new(l);
        let set = HoldSet::default();
        let r = request(AUTH); // 3 recipients
        assert_eq!(decide(&r, &set, &mut rl, false, 100).outcome, Outcome::Pass);
        // The same message again at END-OF-MESSAGE after DATA: not counted.
        assert_eq!(decide(&r, &set, &mut rl, true, 101).outcome, Outcome::Pass);
        assert_eq!(decide(&r, &set, &mut rl, false, 102).outcome, Outcome::Pass);
        let d = decide(&r, &set, &mut rl, false, 103);
        assert_eq!(
            d.action,
            "DEFER 4.7.1 auth:bob@example.com is over its limit of 6 recipients per hour; try again later"
        );
        // RCPT-stage requests are not counted.
        let rcpt = request(&AUTH.replace("END-OF-MESSAGE", "RCPT"));
        assert_eq!(
            decide(&rcpt, &set, &mut rl, false, 104).outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn malformed_and_oversized_requests_are_errors() {
        let mut r = Request::default();
        assert_eq!(
            r.push_line(b"no equals sign"),
            Err(ProtocolError::NotAttribute("no equals sign".into()))
        );
        let mut r = Request::default();
        assert_eq!(
            r.push_line(&vec![b'a'; MAX_LINE + 1]),
            Err(ProtocolError::LineTooLong)
        );
        let mut r = Request::default();
        let mut err = None;
        for i in 0..=MAX_ATTRIBUTES {
            if let Err(e) = r.push_line(format!("x{i}=1").as_bytes()) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(ProtocolError::TooLarge));
        let mut r = Request::default();
        r.push_line(b"sender=a@b").unwrap();
        assert_eq!(r.push_line(b""), Err(ProtocolError::NotPolicyRequest));
        let mut r = Request::default();
        assert_eq!(r.push_line(b"a=\xff"), Err(ProtocolError::NotUtf8));
    }
}
