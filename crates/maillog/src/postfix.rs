//! Postfix log lines, as written through syslog or Postfix's own
//! `maillog_file`: `TIME HOST postfix[/service]/DAEMON[PID]: QUEUEID: text`.
//!
//! The record formats follow Postfix's sources: smtpd `client=`, pickup
//! `uid=%d from=<%s>`, cleanup `message-id=` and `milter-reject:`, qmgr
//! `from=, size=, nrcpt=` and `removed`, and the delivery agents'
//! `to=, relay=, delay=, delays=, dsn=, status=` (log_adhoc.c).

use crate::fields::{find_short, host_ip, split_once_ascii};
use crate::time::{Stamp, parse_syslog};

/// A delivery status (`status=` of a delivery agent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Sent,
    Deferred,
    Bounced,
    Expired,
    /// `deliverable` / `undeliverable`: the answer to an address probe
    /// (verify(8)), not a delivery.
    Probe,
    Other,
}

/// What one Postfix line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// smtpd: `client=name[ip], sasl_method=…, sasl_username=…`.
    Client {
        qid: &'a str,
        ip: Option<&'a str>,
        sasl_username: Option<&'a str>,
    },
    /// pickup: `uid=1001 from=<…>` (a local sendmail submission).
    Pickup {
        qid: &'a str,
        uid: Option<u32>,
        from: &'a str,
    },
    /// cleanup: `message-id=<…>`.
    MessageId { qid: &'a str, message_id: &'a str },
    /// cleanup: a header_checks action that names the Subject.
    Subject { qid: &'a str, subject: &'a str },
    /// cleanup: a header_checks WARN/INFO on a header other than Subject
    /// (`X-PHP-Originating-Script`, `X-Source-Args`, …): `Name: value`.
    Header { qid: &'a str, header: &'a str },
    /// cleanup: `milter-reject:` / `reject:` / `discard:` of a message.
    Rejected { qid: &'a str, reason: &'a str },
    /// qmgr: `from=<…>, size=…, nrcpt=…`.
    Queued {
        qid: &'a str,
        from: &'a str,
        size: Option<u64>,
        nrcpt: Option<u32>,
    },
    /// A delivery attempt of one recipient.
    Delivery {
        qid: &'a str,
        daemon: &'a str,
        to: &'a str,
        /// `orig_to=<…>`: the envelope recipient `to` was made from by an
        /// alias or a forward.
        orig_to: Option<&'a str>,
        relay: Option<&'a str>,
        relay_ip: Option<&'a str>,
        dsn: Option<&'a str>,
        status: Status,
        /// The text in parentheses after the status (the remote reply).
        reply: &'a str,
    },
    /// qmgr or postsuper: `removed` — the message left the queue.
    Removed { qid: &'a str },
    /// `qmgr: QID: from=<…>, status=expired, returned to sender`: the
    /// message outlived the queue; its recipients not reached bounce.
    Expired { qid: &'a str },
    /// Other queue-id lines (bounce notifications, holds, TLS notes).
    Note { qid: &'a str, text: &'a str },
    /// `NOQUEUE: reject: …` and other SMTP-time rejections.
    NoQueueReject { ip: Option<&'a str>, text: &'a str },
    /// smtpd: SASL authentication failure.
    AuthFailed {
        ip: Option<&'a str>,
        user: Option<&'a str>,
    },
    /// Known lines without a message: connects, warnings, statistics.
    Daemon { text: &'a str },
}

/// A parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostfixLine<'a> {
    pub at: Stamp,
    pub host: &'a str,
    pub daemon: &'a str,
    pub pid: Option<u32>,
    pub event: Event<'a>,
}

/// Why a syslog line is not a Postfix one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPostfix {
    /// A valid syslog line from another program (dovecot, cron, …).
    OtherProgram,
    /// Not a syslog line at all.
    Garbage,
}

/// The syslog part of a Postfix line: when, where, which daemon, and the
/// text after the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    pub at: Stamp,
    pub host: &'a str,
    pub daemon: &'a str,
    pub pid: Option<u32>,
    pub text: &'a str,
}

/// A syslog line cut at its tag: when, where, the program, its pid, and
/// the text after `program[pid]: `. `year` fills in syslog's missing year.
pub(crate) struct Syslog<'a> {
    pub(crate) at: Stamp,
    pub(crate) host: &'a str,
    pub(crate) program: &'a str,
    pub(crate) pid: Option<u32>,
    pub(crate) text: &'a str,
}

pub(crate) fn syslog(line: &str, year: i64) -> Option<Syslog<'_>> {
    let (at, used) = parse_syslog(line.as_bytes(), year)?;
    let rest = line[used..].strip_prefix(' ')?;
    let (host, rest) = split_once_ascii(rest, b' ')?;
    let colon = colon_space(rest)?;
    let tag = &rest[..colon];
    let text = &rest[colon + 2..];
    let (program, pid) = match split_once_ascii(tag, b'[') {
        Some((p, r)) => (p, r.strip_suffix(']').and_then(|x| x.parse().ok())),
        None => (tag, None),
    };
    Some(Syslog {
        at,
        host,
        program,
        pid,
        text,
    })
}

/// Parses the syslog part of a line; `year` fills in syslog's missing
/// year.
pub fn parse_head(line: &str, year: i64) -> Result<Head<'_>, NotPostfix> {
    let s = syslog(line, year).ok_or(NotPostfix::Garbage)?;
    if !s.program.starts_with("postfix") {
        return Err(NotPostfix::OtherProgram);
    }
    // `postfix/smtp`, `postfix-out/smtp`: after the last slash (a byte
    // search; a char pattern costs more than the rest of the head).
    let daemon = match s.program.bytes().rposition(|c| c == b'/') {
        Some(i) => &s.program[i + 1..],
        None => s.program,
    };
    Ok(Head {
        at: s.at,
        host: s.host,
        daemon,
        pid: s.pid,
        text: s.text,
    })
}

/// Parses one line; `year` fills in syslog's missing year.
pub fn parse(line: &str, year: i64) -> Result<PostfixLine<'_>, NotPostfix> {
    Ok(from_head(parse_head(line, year)?))
}

/// The event of a line whose syslog part is parsed.
pub fn from_head(h: Head<'_>) -> PostfixLine<'_> {
    PostfixLine {
        at: h.at,
        host: h.host,
        daemon: h.daemon,
        pid: h.pid,
        event: event(h.daemon, h.text),
    }
}

/// The first `a` followed by `b`: its first byte eight bytes at a time
/// ([`find_short`]), as values are short and a vector search's set-up
/// costs more than it saves.
fn pair(s: &[u8], a: u8, b: u8) -> Option<usize> {
    find_short(s, &[a, b])
}

/// The first `": "`: the colon eight bytes at a time (a tag is short: less
/// set-up than memchr), then the space after it.
fn colon_space(s: &str) -> Option<usize> {
    find_short(s.as_bytes(), b": ")
}

/// Postfix queue ids: short (hex, 6–12) or long (base-52 with `z`).
fn is_qid(s: &str) -> bool {
    let b = s.as_bytes();
    let short = (5..=12).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c));
    let long = (12..=20).contains(&b.len())
        && b.iter().all(u8::is_ascii_alphanumeric)
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_lowercase);
    short || long
}

/// `key=value` up to `, ` or the end. Walks the `=` signs (a handful per
/// line) instead of searching for the key, which is the hot path of
/// parsing.
fn attr<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let b = text.as_bytes();
    let k = key.as_bytes();
    let last = *k.last()?;
    for eq in memchr::memchr_iter(b'=', b) {
        // The byte before `=` first: a whole-key compare is a call.
        if eq < k.len() || b[eq - 1] != last || &b[eq - k.len()..eq] != k {
            continue;
        }
        let at = eq - k.len();
        if at == 0 || b[at - 1] == b' ' {
            let v = &text[eq + 1..];
            let end = pair(v.as_bytes(), b',', b' ').unwrap_or(v.len());
            return Some(&v[..end]);
        }
    }
    None
}

/// A line's `key=value` attributes, found in one pass over its `=` signs
/// (a delivery line is asked for five of them): the first value of each
/// key, as [`attr`] finds it. Past [`Attrs::ROOM`] keys, a key not kept
/// is looked for with [`attr`].
struct Attrs<'a> {
    text: &'a str,
    kv: [(&'a str, &'a str); Attrs::ROOM],
    n: usize,
    full: bool,
}

impl<'a> Attrs<'a> {
    const ROOM: usize = 16;

    fn of(text: &'a str) -> Self {
        let b = text.as_bytes();
        let mut a = Attrs {
            text,
            kv: [("", ""); Attrs::ROOM],
            n: 0,
            full: false,
        };
        for eq in memchr::memchr_iter(b'=', b) {
            // The key: from the last space before the sign (a `=` in
            // between makes it no key `attr` would match either).
            let start = b[..eq]
                .iter()
                .rposition(|&c| c == b' ')
                .map_or(0, |s| s + 1);
            let key = &text[start..eq];
            if key.is_empty() || a.kv[..a.n].iter().any(|(k, _)| *k == key) {
                continue;
            }
            if a.n == Attrs::ROOM {
                a.full = true;
                break;
            }
            let v = &text[eq + 1..];
            let end = pair(v.as_bytes(), b',', b' ').unwrap_or(v.len());
            a.kv[a.n] = (key, &v[..end]);
            a.n += 1;
        }
        a
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        match self.kv[..self.n].iter().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(v),
            None if self.full => attr(self.text, key),
            None => None,
        }
    }
}

fn angle(v: &str) -> &str {
    v.strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(v)
}

fn event<'a>(daemon: &'a str, text: &'a str) -> Event<'a> {
    let (qid, body) = match colon_space(text).map(|i| (&text[..i], &text[i + 2..])) {
        Some(("NOQUEUE", b)) => {
            let ip = b.find(" from ").and_then(|i| host_ip(&b[i..]));
            return Event::NoQueueReject { ip, text: b };
        }
        Some((q, b)) if is_qid(q) => (q, b),
        _ => return daemon_event(text),
    };
    match daemon {
        "smtpd" if body.starts_with("client=") => {
            let client = attr(body, "client").unwrap_or("");
            Event::Client {
                qid,
                ip: host_ip(client),
                sasl_username: attr(body, "sasl_username"),
            }
        }
        "pickup" if body.starts_with("uid=") => {
            let uid = body[4..].split(' ').next().and_then(|u| u.parse().ok());
            let from = body
                .find("from=")
                .map(|i| angle(body[i + 5..].split(' ').next().unwrap_or("")))
                .unwrap_or("");
            Event::Pickup { qid, uid, from }
        }
        "cleanup" if body.starts_with("message-id=") => Event::MessageId {
            qid,
            message_id: angle(&body["message-id=".len()..]),
        },
        "cleanup"
            if body.starts_with("milter-reject: ")
                || body.starts_with("reject: ")
                || body.starts_with("discard: ") =>
        {
            Event::Rejected { qid, reason: body }
        }
        "cleanup" if header_subject(body).is_some() => Event::Subject {
            qid,
            subject: header_subject(body).unwrap_or(""),
        },
        "cleanup" if logged_header(body).is_some() => Event::Header {
            qid,
            header: logged_header(body).unwrap_or(""),
        },
        "qmgr" if body == "removed" => Event::Removed { qid },
        "qmgr" => {
            let a = Attrs::of(body);
            let status = a.get("status");
            if status.is_some_and(|st| st.starts_with("expired")) {
                Event::Expired { qid }
            } else if body.starts_with("from=") && status.is_none() {
                Event::Queued {
                    qid,
                    from: angle(a.get("from").unwrap_or("")),
                    size: a.get("size").and_then(|s| s.parse().ok()),
                    nrcpt: a
                        .get("nrcpt")
                        .and_then(|s| s.split(' ').next())
                        .and_then(|s| s.parse().ok()),
                }
            } else if body.starts_with("to=<") {
                delivery(qid, daemon, body)
            } else {
                Event::Note { qid, text: body }
            }
        }
        "postsuper" if body.starts_with("removed") => Event::Removed { qid },
        _ if body.starts_with("to=<") => delivery(qid, daemon, body),
        _ => Event::Note { qid, text: body },
    }
}

/// `warning: header Subject: xyz from host[ip]; from=<…> …` (header_checks
/// WARN/INFO/HOLD/REJECT actions name the header).
fn header_subject(body: &str) -> Option<&str> {
    let i = body.find("header Subject: ")?;
    let s = &body[i + "header Subject: ".len()..];
    let end = s.find(" from ").unwrap_or(s.len());
    Some(&s[..end])
}

/// `warning: header X-Name: value from local; from=<…> …` (any header a
/// header_checks WARN or INFO rule names).
fn logged_header(body: &str) -> Option<&str> {
    let rest = body
        .strip_prefix("warning: header ")
        .or_else(|| body.strip_prefix("info: header "))?;
    let end = rest.find(" from ").unwrap_or(rest.len());
    let h = &rest[..end];
    h.contains(": ").then_some(h)
}

fn delivery<'a>(qid: &'a str, daemon: &'a str, body: &'a str) -> Event<'a> {
    let attrs = Attrs::of(body);
    let to = angle(attrs.get("to").unwrap_or(""));
    let relay = attrs.get("relay");
    let status_full = attrs.get("status").unwrap_or("");
    let (status_word, reply) = match status_full.split_once(' ') {
        Some((w, r)) => (w, r),
        None => (status_full, ""),
    };
    // The reply is `(…)` and may itself hold `, `: take it from the line,
    // after the status (its value is a slice of `body`).
    let reply = attrs
        .get("status")
        .map(|v| v.as_ptr() as usize - body.as_ptr() as usize)
        .and_then(|i| pair(&body.as_bytes()[i..], b' ', b'(').map(|j| i + j + 2))
        .map(|start| body[start..].strip_suffix(')').unwrap_or(&body[start..]))
        .unwrap_or(reply);
    let status = match status_word {
        "sent" => Status::Sent,
        "deferred" => Status::Deferred,
        "bounced" => Status::Bounced,
        "expired" => Status::Expired,
        "deliverable" | "undeliverable" => Status::Probe,
        _ => Status::Other,
    };
    Event::Delivery {
        qid,
        daemon,
        to,
        orig_to: attrs.get("orig_to").map(angle).filter(|o| !o.is_empty()),
        relay,
        relay_ip: relay.and_then(host_ip),
        dsn: attrs.get("dsn"),
        status,
        reply,
    }
}

/// The queue id in a next hop's `… queued as 3F4C52C1C5` reply (amavis
/// passes on its own MTA's: `250 2.0.0 from MTA(smtp:[127.0.0.1]:10025):
/// 250 2.0.0 Ok: queued as 3F4C52C1C5`).
pub fn queued_as(reply: &str) -> Option<&str> {
    let (_, rest) = reply.rsplit_once("queued as ")?;
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|q| is_qid(q))
}

/// A daemon's line (after its tag) that is a failed login: `warning:
/// unknown[198.51.100.7]: SASL LOGIN authentication failed: …`. The split
/// run's router asks the same of a line ([`crate::shard`]), so that every
/// shard keeps the lines one thread counts as failed logins.
pub(crate) fn is_failed_login(text: &[u8]) -> bool {
    let found = |needle: &[u8]| find_short(text, needle).is_some();
    text.starts_with(b"warning: ") && found(b"authentication failed") && found(b"SASL")
}

fn daemon_event(text: &str) -> Event<'_> {
    if is_failed_login(text.as_bytes()) {
        // `warning: unknown[198.51.100.7]: SASL LOGIN authentication failed: …, sasl_username=x`
        let ip = host_ip(text.split(": SASL").next().unwrap_or(""));
        return Event::AuthFailed {
            ip,
            user: attr(text, "sasl_username"),
        };
    }
    Event::Daemon { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_in_one_pass_are_what_attr_finds() {
        let many: String = (0..20).map(|i| format!("k{i}=v{i}, ")).collect();
        let lines = [
            "to=<a@b.example>, orig_to=<c@d.example>, relay=mx.b.example[192.0.2.1]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4F1 id=x)",
            "from=<>, size=1234, nrcpt=2 (queue active)",
            "from=<x@y>, status=expired, returned to sender",
            "x=to=<no>, to=<yes@x>, =odd, a==b, status= (empty)",
            "client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username=u@x",
            many.as_str(),
            "",
            "=",
            "no attributes at all",
        ];
        let keys = [
            "to",
            "orig_to",
            "relay",
            "delay",
            "dsn",
            "status",
            "from",
            "size",
            "nrcpt",
            "x",
            "a",
            "client",
            "sasl_username",
            "k0",
            "k15",
            "k16",
            "k19",
            "missing",
        ];
        for l in lines {
            let a = Attrs::of(l);
            for k in keys {
                assert_eq!(a.get(k), attr(l, k), "{k} in {l:?}");
            }
        }
    }

    fn ev(line: &str) -> Event<'_> {
        parse(line, 2026)
            .unwrap_or_else(|e| panic!("{e:?}: {line}"))
            .event
    }

    #[test]
    fn authenticated_submission_sequence() {
        assert_eq!(
            ev(
                "Mar  1 10:00:00 mx postfix/submission/smtpd[28762]: 1DBB4A7FD: client=host81.example.net[198.51.100.81], sasl_method=LOGIN, sasl_username=username"
            ),
            Event::Client {
                qid: "1DBB4A7FD",
                ip: Some("198.51.100.81"),
                sasl_username: Some("username")
            }
        );
        assert_eq!(
            ev(
                "Mar  1 10:00:00 mx postfix/cleanup[28816]: 1DBB4A7FD: message-id=<5809D2D3@StevePC>"
            ),
            Event::MessageId {
                qid: "1DBB4A7FD",
                message_id: "5809D2D3@StevePC"
            }
        );
        assert_eq!(
            ev(
                "Mar  1 10:00:00 mx postfix/qmgr[3280]: 1DBB4A7FD: from=<stanix@example.co.uk>, size=1778, nrcpt=1 (queue active)"
            ),
            Event::Queued {
                qid: "1DBB4A7FD",
                from: "stanix@example.co.uk",
                size: Some(1778),
                nrcpt: Some(1)
            }
        );
        let Event::Delivery {
            to,
            relay_ip,
            dsn,
            status,
            reply,
            ..
        } = ev(
            "Mar  1 10:00:02 mx postfix/smtp[28949]: 1DBB4A7FD: to=<name@tld.com>, relay=mxhost-1.vi.net[203.0.113.5]:25, delay=1.8, delays=0.2/0.03/0.72/0.81, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9EFE470001)",
        )
        else {
            panic!()
        };
        assert_eq!(
            (to, relay_ip, dsn, status),
            (
                "name@tld.com",
                Some("203.0.113.5"),
                Some("2.0.0"),
                Status::Sent
            )
        );
        assert_eq!(reply, "250 2.0.0 Ok: queued as 9EFE470001");
        assert_eq!(
            ev("Mar  1 10:00:02 mx postfix/qmgr[3280]: 1DBB4A7FD: removed"),
            Event::Removed { qid: "1DBB4A7FD" }
        );
    }

    #[test]
    fn an_aliased_delivery_names_its_envelope_recipient() {
        let l = "Mar  1 10:00:00 mx postfix/smtp[7]: 1DBB4A7FD: to=<real@gmail.example>, orig_to=<fwd@shop.example>, relay=mx.gmail.example[198.51.100.27]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 OK)";
        let Event::Delivery { to, orig_to, .. } = parse(l, 2026).unwrap().event else {
            panic!()
        };
        assert_eq!(
            (to, orig_to),
            ("real@gmail.example", Some("fwd@shop.example"))
        );
        let l = "Mar  1 10:00:00 mx postfix/local[7]: 1DBB4A7FD: to=<owner@shop.example>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)";
        let Event::Delivery { orig_to, .. } = parse(l, 2026).unwrap().event else {
            panic!()
        };
        assert_eq!(orig_to, None);
    }

    #[test]
    fn pickup_and_bounce_with_commas_in_reply() {
        assert_eq!(
            ev(
                "Mar  1 10:00:00 web postfix/pickup[11234]: 4A3B2C1D0E: uid=1001 from=<noreply@example.com>"
            ),
            Event::Pickup {
                qid: "4A3B2C1D0E",
                uid: Some(1001),
                from: "noreply@example.com"
            }
        );
        let Event::Delivery { status, reply, .. } = ev(
            "Mar  1 10:00:00 web postfix/smtp[1]: 4A3B2C1D0E: to=<x@example.net>, relay=mx.example.net[203.0.113.9]:25, delay=1, delays=0/0/0/1, dsn=5.7.1, status=bounced (host mx.example.net[203.0.113.9] said: 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org, see x (in reply to RCPT TO command))",
        ) else {
            panic!()
        };
        assert_eq!(status, Status::Bounced);
        assert!(reply.contains("blocked using zen.spamhaus.org, see x"));
    }

    #[test]
    fn rejects_and_noise() {
        assert!(matches!(
            ev(
                "Mar  1 10:00:00 mx postfix/cleanup[7779]: 7B69D240FF0: milter-reject: END-OF-MESSAGE from host[192.0.2.3]: 5.7.1 Gtube pattern; from=<a@b> to=<c@d> proto=ESMTP helo=<h>"
            ),
            Event::Rejected { .. }
        ));
        assert!(matches!(
            ev(
                "Mar  1 10:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.4]: 554 5.7.1 <x@y>: Relay access denied; from=<a@b> to=<x@y> proto=ESMTP helo=<h>"
            ),
            Event::NoQueueReject {
                ip: Some("192.0.2.4"),
                ..
            }
        ));
        assert!(matches!(
            ev("Mar  1 10:00:00 mx postfix/smtpd[1]: connect from unknown[192.0.2.4]"),
            Event::Daemon { .. }
        ));
        assert_eq!(
            ev(
                "Mar  1 10:00:00 mx postfix/smtpd[1]: warning: unknown[198.51.100.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=info@example.com"
            ),
            Event::AuthFailed {
                ip: Some("198.51.100.7"),
                user: Some("info@example.com")
            }
        );
        assert_eq!(
            parse("Mar  1 10:00:00 mx dovecot: imap-login: Login", 2026).unwrap_err(),
            NotPostfix::OtherProgram
        );
        assert_eq!(parse("garbage", 2026).unwrap_err(), NotPostfix::Garbage);
        let l = parse(
            "2025-02-14T18:12:33.461+01:00 mx postfix/qmgr[3280]: 1DBB4A7FD: removed",
            0,
        )
        .unwrap();
        assert_eq!(l.at.millis, 461);
    }

    #[test]
    fn script_header_from_header_checks() {
        assert_eq!(
            ev(
                "Mar  1 10:00:00 mx postfix/cleanup[1]: 4A3B2C1D0E: warning: header X-PHP-Originating-Script: 1001:x7.php from local; from=<a@b> to=<c@d>"
            ),
            Event::Header {
                qid: "4A3B2C1D0E",
                header: "X-PHP-Originating-Script: 1001:x7.php"
            }
        );
    }

    #[test]
    fn subject_from_header_checks() {
        assert_eq!(
            ev(
                "Mar  1 10:00:00 mx postfix/cleanup[1]: 4A3B2C1D0E: warning: header Subject: Hello => world from local; from=<a@b> to=<c@d>"
            ),
            Event::Subject {
                qid: "4A3B2C1D0E",
                subject: "Hello => world"
            }
        );
    }
}
