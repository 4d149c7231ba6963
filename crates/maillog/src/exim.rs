//! Exim main log lines (Exim spec, chapter "Log files").
//!
//! One line → one [`EximLine`]; no I/O and no state. The flag of a message
//! line is matched by position, right after the message id, so a subject
//! that holds `=>` or quotes cannot be mistaken for a delivery.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use crate::fields::{Fields, find_ascii, host_ip, split_once_ascii};
use crate::time::{Stamp, parse_exim};

/// What one Exim line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// `cwd=/path N args: …` (log_selector `+arguments`).
    Cwd { cwd: &'a str, args: &'a str },
    /// `<=` message arrival (boxed: the biggest line record by far, and
    /// every line's record is moved a few times).
    Arrival(Box<Arrival<'a>>),
    /// `=>`, `->`, `>>`, `*>`: a delivery.
    Delivery(Outcome<'a>),
    /// `**`: a permanent failure (bounce).
    Bounce(Outcome<'a>),
    /// `==`: a temporary failure (deferral).
    Defer(Outcome<'a>),
    /// `Completed`: the message left the spool.
    Completed { id: &'a str },
    /// cPanel: `Sender identification U=… D=… S=…`.
    SenderId {
        id: &'a str,
        user: Option<&'a str>,
        domain: Option<&'a str>,
        sender: Option<&'a str>,
    },
    /// A message-level line without a verdict (`SMTP connection outbound`,
    /// `Frozen`, `removed by`, `rejected after DATA`, …).
    MessageNote { id: &'a str, text: &'a str },
    /// `… authenticator failed for … (set_id=user)`.
    AuthFailed {
        ip: Option<&'a str>,
        set_id: Option<&'a str>,
    },
    /// A connection-level line: connections, rejections before a message
    /// exists, queue runs, daemon start.
    Connection { text: &'a str },
}

/// A `<=` line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Arrival<'a> {
    pub id: &'a str,
    pub sender: &'a str,
    pub host: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub protocol: Option<&'a str>,
    /// `A=authenticator:id`, whole.
    pub auth: Option<&'a str>,
    pub user: Option<&'a str>,
    pub size: Option<u64>,
    pub message_id: Option<&'a str>,
    /// `R=id` on a bounce Exim generated: the message it is about.
    pub bounce_of: Option<&'a str>,
    /// `T="…"`, unescaped only when it held escapes.
    pub subject: Option<std::borrow::Cow<'a, str>>,
    pub recipients: Vec<&'a str>,
}

/// A delivery, bounce or deferral line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome<'a> {
    pub id: &'a str,
    /// The address delivered to, as logged first: a local part, an
    /// address, a file or a pipe command (`|/usr/bin/prog args`).
    pub recipient: &'a str,
    /// `<original>`: the envelope recipient it was made from by an alias,
    /// a forward or a local delivery (`=> owner <owner@shop.example>`),
    /// which is the one the `<=` line's `for` list names.
    pub original: Option<&'a str>,
    pub router: Option<&'a str>,
    pub transport: Option<&'a str>,
    pub host: Option<&'a str>,
    pub ip: Option<&'a str>,
    /// `C="…"` on deliveries; the error text on bounces and deferrals.
    pub reply: Option<std::borrow::Cow<'a, str>>,
}

/// A parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EximLine<'a> {
    pub at: Stamp,
    pub pid: Option<u32>,
    pub event: Event<'a>,
}

/// Is `s` an Exim message id: 16 chars `6-6-2` or (4.97+) 23 chars `6-11-4`?
pub fn is_message_id(s: &str) -> bool {
    crate::shard::is_exim_id(s.as_bytes())
}

/// Parses one line; `None` when it is not an Exim main log line.
pub fn parse(line: &str) -> Option<EximLine<'_>> {
    let (at, pid, rest) = parse_head(line)?;
    let event = parse_event(rest)?;
    Some(EximLine { at, pid, event })
}

/// The head of an Exim line, from the main log or through syslog
/// (`log_file_path = syslog`: `TIME HOST exim[PID]: ` and then the main
/// log's line, with its own stamp, `syslog_timestamp`, Exim's default, or
/// without it). The tag's pid is the line's when the line has none, as
/// `+pid` would give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadIn<'a> {
    pub at: Stamp,
    pub pid: Option<u32>,
    /// The text after the stamp and `[pid]`.
    pub rest: &'a str,
    /// The time carries its offset (`log_timezone`, or an RFC 3339
    /// syslog stamp).
    pub zoned: bool,
    /// The time is syslog's, which has no year (in `year`).
    pub by_syslog: bool,
}

/// The head of a line of the main log or through syslog ([`HeadIn`]).
pub fn parse_head_in(line: &str, year: i64) -> Option<HeadIn<'_>> {
    if let Some((at, pid, rest)) = parse_head(line) {
        let zoned = crate::time::exim_zoned(line.as_bytes());
        return Some(HeadIn {
            at,
            pid,
            rest,
            zoned,
            by_syslog: false,
        });
    }
    let s = through_syslog(line, year)?;
    let text = s.text;
    if let Some((at, own, rest)) = parse_head(text) {
        let zoned = crate::time::exim_zoned(text.as_bytes());
        return Some(HeadIn {
            at,
            pid: own.or(s.pid),
            rest,
            zoned,
            by_syslog: false,
        });
    }
    // No stamp of its own; `+pid` still writes `[pid] `.
    let own_pid = text.strip_prefix('[').and_then(|r| {
        let (pid, rest) = r.split_once("] ")?;
        Some((pid.parse().ok()?, rest))
    });
    let (pid, rest) = match own_pid {
        Some((pid, rest)) => (Some(pid), rest),
        None => (s.pid, text),
    };
    Some(HeadIn {
        at: s.at,
        pid,
        rest,
        zoned: crate::time::syslog_zoned(line.as_bytes()),
        by_syslog: true,
    })
}

/// A line of the header copy Exim writes to its reject log after a
/// refusal once the message's header was read: `Envelope-from: <…>`,
/// `Envelope-to: <…>` (up to five), then each header line as `X Name:
/// value`, `X` its kind (`F` From, `T` To, `P` Received, `I` Message-Id,
/// `*` one removed, a space for others; folded lines go on indented).
pub fn reject_log_header(line: &str) -> bool {
    if line.starts_with("Envelope-from: <") || line.starts_with("Envelope-to: <") {
        return true;
    }
    let b = line.as_bytes();
    let name_end = b.iter().skip(2).position(|&c| c == b':');
    b.len() > 3
        && matches!(
            b[0],
            b'B' | b'C' | b'F' | b'I' | b'P' | b'R' | b'S' | b'T' | b'*'
        )
        && b[1] == b' '
        && name_end.is_some_and(|n| n > 0 && b[2..2 + n].iter().all(|c| c.is_ascii_graphic()))
}

/// One part of a line Exim split for syslog: a line longer than 870
/// characters (a message to many recipients) goes out as `[1/n] `,
/// `[2/n] `, … (`\\` instead of `/` when the part ends where the entry
/// has a newline; what follows is its indented continuation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'a> {
    pub i: u32,
    pub n: u32,
    /// The part ends at a newline of the entry.
    pub at_newline: bool,
    /// The syslog head up to the text (`TIME HOST exim[PID]: `).
    pub head: &'a str,
    /// The tag's pid: the parts of one line share it.
    pub pid: Option<u32>,
    /// The part's text after its marker.
    pub text: &'a str,
}

/// The part of a split line this is, if it is one.
pub fn syslog_part(line: &str) -> Option<Part<'_>> {
    // Exim's own lines start with their stamp: no syslog, no parts.
    if line.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && crate::time::exim_stamp_len(line.as_bytes()).is_some()
    {
        return None;
    }
    let s = through_syslog(line, 2000)?;
    let marked = s.text.strip_prefix('[')?;
    let (marker, text) = marked.split_once("] ")?;
    let cut = marker.find(['/', '\\'])?;
    let (i, n) = (marker[..cut].parse().ok()?, marker[cut + 1..].parse().ok()?);
    if i == 0 || i > n || n < 2 {
        return None;
    }
    Some(Part {
        i,
        n,
        at_newline: marker.as_bytes()[cut] == b'\\',
        head: &line[..line.len() - s.text.len()],
        pid: s.pid,
        text,
    })
}

/// The syslog parts of a line Exim sent through syslog (its process name,
/// `syslog_processname`, is `exim` unless changed; Debian's is `exim4`).
fn through_syslog(line: &str, year: i64) -> Option<crate::postfix::Syslog<'_>> {
    crate::postfix::syslog(line, year).filter(|s| s.program.starts_with("exim"))
}

/// The stamp and `[pid]` of a line, and the rest after them. Every line
/// with a valid head parses, except a `cwd=` line without its `args:`.
pub fn parse_head(line: &str) -> Option<(Stamp, Option<u32>, &str)> {
    let (at, used) = parse_exim(line.as_bytes())?;
    let mut rest = line[used..].strip_prefix(' ')?;
    let mut pid = None;
    if let Some(r) = rest.strip_prefix('[') {
        let end = find_ascii(r, b']')?;
        pid = Some(r[..end].parse().ok()?);
        rest = r[end + 1..].strip_prefix(' ')?;
    }
    Some((at, pid, rest))
}

/// A line of Dovecot's own log stamped as Exim's (`log_timestamp`), by
/// what follows the stamp: no Exim line, and so no Exim time either.
pub(crate) fn is_dovecots(rest: &str) -> bool {
    let first = split_once_ascii(rest, b' ').map_or(rest, |(f, _)| f);
    !is_message_id(first) && crate::dovecot::has_process_and_level(rest.as_bytes())
}

pub(crate) fn parse_event(rest: &str) -> Option<Event<'_>> {
    if let Some(r) = rest.strip_prefix("cwd=") {
        // `cwd=/path 4 args: /usr/sbin/sendmail -t -i`; a path may hold spaces,
        // so find the ` N args:` marker from the left.
        // Searchers built once: a `cwd=` line comes with most messages.
        static ARGS: LazyLock<[Finder<'static>; 2]> =
            LazyLock::new(|| [Finder::new(" args: "), Finder::new(" args:")]);
        let marker = ARGS.iter().find_map(|f| f.find(r.as_bytes()))?;
        let head = &r[..marker];
        let (cwd, _count) = head.rsplit_once(' ')?;
        let args = r[marker + " args:".len()..].trim_start_matches(' ');
        return Some(Event::Cwd { cwd, args });
    }
    let (first, after) = split_once_ascii(rest, b' ').unwrap_or((rest, ""));
    if !is_message_id(first) {
        if is_dovecots(rest) {
            return None;
        }
        return Some(connection_event(rest));
    }
    let id = first;
    let (flag, body) = split_once_ascii(after, b' ').unwrap_or((after, ""));
    Some(match flag {
        "<=" | "(=" => Event::Arrival(Box::new(arrival(id, body))),
        "=>" | "->" | ">>" | "*>" => Event::Delivery(outcome(id, body, false)),
        "**" => Event::Bounce(outcome(id, body, true)),
        "==" => Event::Defer(outcome(id, body, true)),
        "Completed" => Event::Completed { id },
        _ if after.starts_with("Sender identification ") => {
            let f = Fields::new(&after["Sender identification ".len()..]);
            let mut ev = Event::SenderId {
                id,
                user: None,
                domain: None,
                sender: None,
            };
            if let Event::SenderId {
                user,
                domain,
                sender,
                ..
            } = &mut ev
            {
                for (k, v) in f {
                    match k {
                        "U" => *user = Some(v.raw),
                        "D" => *domain = Some(v.raw),
                        "S" => *sender = Some(v.raw),
                        _ => {}
                    }
                }
            }
            ev
        }
        _ => Event::MessageNote { id, text: after },
    })
}

/// Does a message note say the message was refused after DATA? A note
/// comes with most messages (`SMTP connection outbound`): the searcher
/// is built once.
pub(crate) fn says_rejected_after_data(text: &str) -> bool {
    static REJECTED: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new("rejected after DATA"));
    REJECTED.find(text.as_bytes()).is_some()
}

/// What a `rejected after DATA` note says of the message this server
/// refused (its own content scan, cPanel's outgoing spam check): the
/// client, login and envelope sender of the head, and the reason.
/// `H=… [ip]:port A=plain:user F=<a@b> rejected after DATA: reason`.
pub fn rejected_after_data<'a>(id: &'a str, text: &'a str) -> Option<(Arrival<'a>, &'a str)> {
    let (head, reason) = text.split_once(" rejected after DATA")?;
    let mut a = Arrival {
        id,
        ..Arrival::default()
    };
    for (k, v) in Fields::new(head) {
        match k {
            "H" => {
                a.host = Some(v.raw);
                a.ip = host_ip(v.raw);
            }
            "A" => a.auth = Some(v.raw),
            "U" => a.user = Some(v.raw),
            "F" => a.sender = v.raw.trim_matches(['<', '>']),
            "P" => a.protocol = Some(v.raw),
            _ => {}
        }
    }
    Some((a, reason.trim_start_matches(':').trim()))
}

fn connection_event(rest: &str) -> Event<'_> {
    // Built once: connection lines are many on a busy server.
    static FAILED: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new(" authenticator failed for "));
    if let Some(i) = FAILED.find(rest.as_bytes()) {
        let tail = &rest[i..];
        let ip = tail
            .find('[')
            .and_then(|s| tail[s + 1..].find(']').map(|e| &tail[s + 1..s + 1 + e]));
        let set_id = tail
            .find("(set_id=")
            .and_then(|s| tail[s + 8..].find(')').map(|e| &tail[s + 8..s + 8 + e]));
        return Event::AuthFailed { ip, set_id };
    }
    Event::Connection { text: rest }
}

fn arrival<'a>(id: &'a str, body: &'a str) -> Arrival<'a> {
    let (sender, fields) = split_once_ascii(body, b' ').unwrap_or((body, ""));
    let mut a = Arrival {
        id,
        sender,
        ..Arrival::default()
    };
    let mut f = Fields::new(fields);
    for (k, v) in &mut f {
        match k {
            "H" => {
                a.host = Some(v.raw);
                a.ip = host_ip(v.raw);
            }
            "P" => a.protocol = Some(v.raw),
            "A" => a.auth = Some(v.raw),
            "U" => a.user = Some(v.raw),
            "S" => a.size = v.raw.parse().ok(),
            "id" => a.message_id = Some(v.raw),
            "R" => a.bounce_of = Some(v.raw),
            "T" => a.subject = Some(v.text()),
            _ => {}
        }
    }
    a.recipients = f.recipients();
    a
}

/// The addresses a delivery line starts with: the final one (a pipe
/// command may hold spaces), any `(intermediate)` ones, and the
/// `<original>`; then the rest of the line.
fn addresses(body: &str) -> (&str, Option<&str>, &str) {
    let end = if body.starts_with('|') {
        [" (", " <", " R=", " T="]
            .iter()
            .filter_map(|m| body.find(m))
            .min()
            .unwrap_or(body.len())
    } else {
        find_ascii(body, b' ').unwrap_or(body.len())
    };
    let (recipient, mut rest) = body.split_at(end);
    let mut original = None;
    loop {
        let r = rest.trim_start_matches(' ');
        let (open, close) = match r.as_bytes().first() {
            Some(b'(') => (b'(', b')'),
            Some(b'<') if original.is_none() => (b'<', b'>'),
            _ => break,
        };
        let Some(end) = find_ascii(r, close) else {
            break;
        };
        if open == b'<' {
            original = Some(&r[1..end]).filter(|o| !o.is_empty());
        }
        rest = &r[end + 1..];
    }
    (recipient, original, rest)
}

fn outcome<'a>(id: &'a str, body: &'a str, failure: bool) -> Outcome<'a> {
    let (recipient, original, fields) = addresses(body);
    let mut o = Outcome {
        id,
        recipient,
        original,
        ..Outcome::default()
    };
    // On `**` and `==` the fields end at the first ": "; the rest is the
    // error text (which may itself hold `H=` and colons).
    let (fields, reason) = if failure {
        match fields.find(": ") {
            Some(i) => (&fields[..i], Some(&fields[i + 2..])),
            None => (fields.trim_end_matches(':'), None),
        }
    } else {
        (fields, None)
    };
    for (k, v) in Fields::new(fields) {
        match k {
            "R" => o.router = Some(v.raw.trim_end_matches(':')),
            "T" => o.transport = Some(v.raw.trim_end_matches(':')),
            "H" => {
                o.host = Some(v.raw);
                o.ip = host_ip(v.raw);
            }
            "C" if !failure => o.reply = Some(v.text()),
            _ => {}
        }
    }
    if let Some(r) = reason {
        o.reply = Some(r.into());
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &str) -> Event<'_> {
        parse(line)
            .unwrap_or_else(|| panic!("not parsed: {line}"))
            .event
    }

    #[test]
    fn message_ids_old_and_new() {
        assert!(is_message_id("1ajLoq-0001wC-Pk"));
        assert!(is_message_id("1wtYVW-0000000GFxD-3Ryp"));
        assert!(!is_message_id("1ajLoq-0001wC-P"));
        assert!(!is_message_id("cwd=/home/x/y"));
    }

    #[test]
    fn authenticated_arrival() {
        let l = "2016-03-25 14:41:14 1ajLQo-0001PZ-En <= email@buytickets.com.my H=mail.buytickets.com.my (www.buytickets.com.my) [124.217.254.72]:39384 P=esmtpa A=dovecot_login:email@buytickets.com.my S=14250 id=314d@www.buytickets.com.my T=\"Copy of: Advertising with BUYTICKETS\" for palmer_ifill71@rambler.ru";
        let Event::Arrival(a) = ev(l) else { panic!() };
        assert_eq!(a.id, "1ajLQo-0001PZ-En");
        assert_eq!(a.sender, "email@buytickets.com.my");
        assert_eq!(a.ip, Some("124.217.254.72"));
        assert_eq!(a.protocol, Some("esmtpa"));
        assert_eq!(a.auth, Some("dovecot_login:email@buytickets.com.my"));
        assert_eq!(a.size, Some(14250));
        assert_eq!(
            a.subject.as_deref(),
            Some("Copy of: Advertising with BUYTICKETS")
        );
        assert_eq!(a.recipients, ["palmer_ifill71@rambler.ru"]);
    }

    #[test]
    fn subject_with_arrow_and_quotes_does_not_confuse() {
        let l = r#"2024-01-02 03:04:05 1rKxyz-000ABC-12 <= a@example.com U=bob P=local S=100 T="Re: a => b \"quoted\" for you" for x@example.net y@example.org"#;
        let Event::Arrival(a) = ev(l) else { panic!() };
        assert_eq!(a.subject.as_deref(), Some(r#"Re: a => b "quoted" for you"#));
        assert_eq!(a.recipients, ["x@example.net", "y@example.org"]);
        assert_eq!(a.user, Some("bob"));
    }

    #[test]
    fn cwd_lines_with_and_without_pid() {
        let l = "2017-05-15 15:53:54 cwd=/home2/seaport/public_html/scripts 4 args: /usr/sbin/sendmail -t -i -finfo@seaportenvironmental.com";
        assert_eq!(
            ev(l),
            Event::Cwd {
                cwd: "/home2/seaport/public_html/scripts",
                args: "/usr/sbin/sendmail -t -i -finfo@seaportenvironmental.com"
            }
        );
        let p = parse(
            "2025-02-14 18:12:33.461 [46483] cwd=/var/log/exim 3 args: sendmail -i test@domain.ru",
        )
        .unwrap();
        assert_eq!(p.pid, Some(46483));
        assert_eq!(p.at.millis, 461);
    }

    #[test]
    fn new_ids_with_pid_and_millis() {
        let l = "2025-02-14 18:12:33.470 [46483] 1tixMn-00000000C5j-1wRa <= root@domain.ru U=root Ci=46483 P=local S=362 M8S=0 RT=0.004s id*=E1tixMn@mail.domain.ru T=\"test\" from <root@domain.ru> for test@domain.ru";
        let p = parse(l).unwrap();
        let Event::Arrival(a) = p.event else { panic!() };
        assert_eq!(a.id, "1tixMn-00000000C5j-1wRa");
        assert_eq!(a.user, Some("root"));
        assert_eq!(a.recipients, ["test@domain.ru"]);
    }

    #[test]
    fn delivery_bounce_defer() {
        let Event::Delivery(d) = ev(
            "2016-03-25 15:06:10 1ajLoq-0001wC-Pk => 0129.alexng@gmail.com R=dkim_lookuphost T=dkim_remote_smtp H=gmail-smtp-in.l.google.com [74.125.200.27] X=TLSv1.2:x CV=yes C=\"250 2.0.0 OK 1458889570\"",
        ) else {
            panic!()
        };
        assert_eq!(d.ip, Some("74.125.200.27"));
        assert_eq!(d.reply.as_deref(), Some("250 2.0.0 OK 1458889570"));
        let Event::Bounce(b) = ev(
            "2012-02-13 15:02:27 1Rwtcp-0000Ac-BW ** pmtzjnyta@brightconsult.ru R=dnslookup T=remote_smtp: SMTP error from remote mail server after RCPT TO:<pmtzjnyta@brightconsult.ru>: host tmg.navicons.ru [86.110.12.210]: 550 5.7.1 Client host 194.226.74.6 blocked using 88.blocklist.zap",
        ) else {
            panic!()
        };
        assert_eq!(b.transport, Some("remote_smtp"));
        assert!(b.reply.unwrap().contains("blocked using"));
        let Event::Defer(d) = ev(
            "2026-08-11 00:30:18 1wtMbN-0000000GFxD-3Ryp == fishingnetcruise@gmail.com (info@fishingnet.gr) <info@fishingnet.gr> R=dkim_lookuphost T=dkim_remote_forwarded_smtp defer (-46) H=alt3.gmail-smtp-in.l.google.com [192.178.211.26]: SMTP error from remote mail server after end of data: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail.",
        ) else {
            panic!()
        };
        assert_eq!(d.ip, Some("192.178.211.26"));
        assert_eq!(
            (d.recipient, d.original),
            ("fishingnetcruise@gmail.com", Some("info@fishingnet.gr"))
        );
        assert!(d.reply.unwrap().contains("4.7.28"));
    }

    #[test]
    fn deliveries_name_the_envelope_recipient_they_came_from() {
        // cPanel's local deliveries, a forward, an autoresponder pipe with
        // spaces in it, a file, and a bounce of an alias.
        let cases = [
            (
                "=> owner <owner@shop.example> R=virtual_user T=dovecot_virtual_delivery C=\"250 2.0.0 <owner@shop.example> Saved\"",
                "owner",
                Some("owner@shop.example"),
                Some("dovecot_virtual_delivery"),
            ),
            (
                "-> real@gmail.example <fwd@shop.example> R=dnslookup T=remote_smtp H=mx.gmail.example [198.51.100.27] C=\"250 OK\"",
                "real@gmail.example",
                Some("fwd@shop.example"),
                Some("remote_smtp"),
            ),
            (
                "=> |/usr/local/cpanel/bin/autorespond owner@shop.example /home/shop/.autorespond (owner@shop.example) <owner@shop.example> R=virtual_aliases_nostar T=cagefs_virtual_address_pipe",
                "|/usr/local/cpanel/bin/autorespond owner@shop.example /home/shop/.autorespond",
                Some("owner@shop.example"),
                Some("cagefs_virtual_address_pipe"),
            ),
            (
                "=> /home/shop/mail/archive <archive@shop.example> R=local_file T=address_file",
                "/home/shop/mail/archive",
                Some("archive@shop.example"),
                Some("address_file"),
            ),
            (
                "** a@gone.example <team@shop.example>: Unrouteable address",
                "a@gone.example",
                Some("team@shop.example"),
                None,
            ),
            (
                "=> plain@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.9]",
                "plain@example.net",
                None,
                Some("remote_smtp"),
            ),
        ];
        for (tail, recipient, original, transport) in cases {
            let l = format!("2024-05-01 10:00:00 1rK000-000000-01 {tail}");
            let o = match ev(&l) {
                Event::Delivery(o) | Event::Bounce(o) => o,
                e => panic!("{e:?}"),
            };
            assert_eq!(
                (o.recipient, o.original, o.transport),
                (recipient, original, transport),
                "{tail}"
            );
        }
        let Event::Bounce(b) = ev(
            "2024-05-01 10:00:00 1rK000-000000-01 ** a@gone.example <team@shop.example>: Unrouteable address",
        ) else {
            panic!()
        };
        assert_eq!(b.reply.as_deref(), Some("Unrouteable address"));
    }

    #[test]
    fn cpanel_lines() {
        assert_eq!(
            ev(
                "2020-01-01 00:00:00 1ajLoq-0001wC-Pk Sender identification U=sbusco D=suck.com S=service@suck.com"
            ),
            Event::SenderId {
                id: "1ajLoq-0001wC-Pk",
                user: Some("sbusco"),
                domain: Some("suck.com"),
                sender: Some("service@suck.com")
            }
        );
        let Event::Bounce(b) = ev(
            "2020-01-01 00:00:00 1ajLoq-0001wC-Pk ** colin@example.co.za R=enforce_mail_permissionsHG: Domain proautorubber.co.za has exceeded the max emails per hour (500/500 (100%)) allowed. Message discarded.",
        ) else {
            panic!()
        };
        assert_eq!(b.router, Some("enforce_mail_permissionsHG"));
        assert!(b.reply.unwrap().contains("max emails per hour"));
        assert!(matches!(
            ev(
                "2016-03-25 15:06:05 1ajLoq-0001wC-Pk SMTP connection outbound 1458889565 1ajLoq-0001wC-Pk buytickets.com.my 0129.alexng@gmail.com"
            ),
            Event::MessageNote { .. }
        ));
    }

    #[test]
    fn auth_failure_and_connection_lines() {
        assert_eq!(
            ev(
                "2024-05-01 10:00:00 dovecot_login authenticator failed for (User) [198.51.100.7]:52000: 535 Incorrect authentication data (set_id=info@example.com)"
            ),
            Event::AuthFailed {
                ip: Some("198.51.100.7"),
                set_id: Some("info@example.com")
            }
        );
        assert!(matches!(
            ev(
                "2024-05-01 10:00:00 SMTP connection from [198.51.100.7]:52000 (TCP/IP connection count = 1)"
            ),
            Event::Connection { .. }
        ));
        assert!(parse("not a log line").is_none());
        assert!(parse("2024-05-01 10:00:00").is_none());
    }
}
