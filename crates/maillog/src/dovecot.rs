//! Dovecot's failed logins in a mail log. Where Dovecot logs through
//! syslog to the mail facility (Debian's and Ubuntu's default), its lines
//! sit between Postfix's in `mail.log`. A login process writes one line as
//! a client that failed to log in leaves:
//!
//! `dovecot: imap-login: Disconnected: Connection closed (auth failed, 3
//! attempts in 6 secs): user=<info@shop.example>, method=PLAIN,
//! rip=198.51.100.7, lip=192.0.2.1, session=<…>`
//!
//! (2.2 says `Aborted login (auth failed, …)`, 2.4 `Login aborted: … (auth
//! failed, …) (auth_failed): …`; `pop3-login`, `submission-login` and
//! `managesieve-login` alike.) A mailbox's password is often guessed over
//! IMAP or POP3 and then used for SMTP AUTH: these failures count with
//! the MTA's own for the logins after them ([`crate::logins`]).

use std::net::IpAddr;

/// The most attempts one line counts: a login process gives up long
/// before, and a forged count must not stall the reader.
pub const MAX_ATTEMPTS: u32 = 1_000;

/// A line's failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed<'a> {
    /// The name tried (`user=<…>`), when the client gave one.
    pub user: Option<&'a str>,
    /// The client's address (`rip=`).
    pub ip: Option<IpAddr>,
    /// How many times it tried, at least 1.
    pub attempts: u32,
}

/// A line's failed logins, read from a login log to be kept by the
/// reader of another ([`crate::LogParser::add_failures`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub at: crate::Stamp,
    pub user: Option<String>,
    pub ip: Option<IpAddr>,
    pub attempts: u32,
    /// The line, quoted as evidence.
    pub line: String,
}

/// The failed logins a syslog line of `program` with `text` after its
/// tag says, if it is a Dovecot login process's `auth failed` line.
pub fn failed_login<'a>(program: &str, text: &'a str) -> Option<Failed<'a>> {
    if program != "dovecot" {
        return None;
    }
    let (service, rest) = text.split_once(": ")?;
    if !service.ends_with("-login") {
        return None;
    }
    let at = rest.find("(auth failed, ")?;
    let rest = &rest[at + "(auth failed, ".len()..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let attempts: u32 = rest[..digits].parse().ok()?;
    let user = field(rest, "user=<", '>').filter(|u| !u.is_empty());
    let ip = field(rest, "rip=", ',').and_then(crate::message::parse_ip);
    Some(Failed {
        user,
        ip,
        attempts: attempts.clamp(1, MAX_ATTEMPTS),
    })
}

/// The value after `key` up to `end` (or the end of the text).
fn field<'a>(text: &'a str, key: &str, end: char) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    Some(rest.find(end).map_or(rest, |i| &rest[..i]))
}

/// Whether a syslog line may be a Dovecot login failure: its tag is
/// `dovecot` or `dovecot[pid]` and it says `(auth failed, `. A few byte
/// comparisons for other programs' lines, for a reader that routes lines
/// and parses none ([`crate::shard`]).
pub fn maybe_failed_login(line: &[u8]) -> bool {
    // Most lines without a message (connections) have no `(` at all.
    let said = memchr::memchr_iter(b'(', line).any(|i| line[i..].starts_with(b"(auth failed, "));
    said && is_dovecots(line)
}

/// Whether a line is Dovecot's: a syslog line whose tag is `dovecot` or
/// `dovecot[pid]`, or a line of Dovecot's own log ([`own`]).
pub fn is_dovecots(line: &[u8]) -> bool {
    program(line).is_some_and(|p| p == b"dovecot") || own(line).is_some()
}

/// Dovecot's levels, as its own log writes them after a process's name.
const LEVELS: [&[u8]; 6] = [
    b"Info: ",
    b"Warning: ",
    b"Error: ",
    b"Fatal: ",
    b"Panic: ",
    b"Debug: ",
];

/// A line of Dovecot's own log, where `log_path` names a file instead of
/// syslog: Dovecot's `log_timestamp`, then the process and the level,
/// with no host and no program tag:
///
/// `Nov 29 07:00:00 imap-login: Info: Disconnected (auth failed, 1
/// attempts in 2 secs): user=<…>, method=PLAIN, rip=…, lip=…`
///
/// The stamp is the default `%b %d %H:%M:%S` or the often set
/// `%Y-%m-%d %H:%M:%S`, which is Exim's shape: told apart by what
/// follows, a word ending in `:` and a level, which Exim's lines do not
/// start with ([`has_process_and_level`]). Returns the stamp's length and
/// the text from the process's name on (`imap-login: Info: …`).
pub fn own(line: &[u8]) -> Option<(usize, &[u8])> {
    let stamp = match line.get(..15) {
        Some(b) if b[3] == b' ' && b[6] == b' ' && b[9] == b':' && b[12] == b':' => 15,
        _ => crate::time::exim_stamp_len(line)?,
    };
    let text = line.get(stamp..)?.strip_prefix(b" ")?;
    has_process_and_level(text).then_some((stamp, text))
}

/// Whether `text` (a line after its stamp) starts as Dovecot's own log
/// goes on: a process's name with a colon, then a level (`imap-login:
/// Info: `). Exim's reader asks it of a line that names no message, so
/// that it leaves Dovecot's lines stamped as its own to Dovecot's reader.
pub fn has_process_and_level(text: &[u8]) -> bool {
    // The process: `imap-login`, `auth`, `imap(user)<pid><session>`.
    let word = crate::fields::find_byte(text, 0, b' ');
    let Some(process) = text[..word].strip_suffix(b":") else {
        return false;
    };
    let level = text.get(word + 1..).unwrap_or_default();
    process.first().is_some_and(u8::is_ascii_lowercase)
        && LEVELS.iter().any(|l| level.starts_with(l))
}

/// Whether a line is an MTA's: Exim's own log (it starts with Exim's
/// stamp), or a syslog line of Exim (`exim`, `exim4`) or Postfix
/// (`postfix/smtpd`, `postfix-out/smtp`). A file with Dovecot's lines and
/// none of these is a login log.
pub fn is_mtas(line: &[u8]) -> bool {
    let mta = crate::time::exim_stamp_len(line).is_some()
        || program(line)
            .is_some_and(|p| p.starts_with(b"postfix") || p == b"exim" || p == b"exim4");
    // Dovecot's own log may be stamped as Exim's.
    mta && own(line).is_none()
}

/// The program of a syslog line: the last word of its tag, without
/// `[pid]`.
fn program(line: &[u8]) -> Option<&[u8]> {
    let tag_end = crate::fields::find_short(line, b": ")?;
    let tag = &line[..tag_end];
    let tag = match tag.strip_suffix(b"]") {
        Some(t) => &t[..t.iter().rposition(|&c| c == b'[').unwrap_or(t.len())],
        None => tag,
    };
    let word = tag.iter().rposition(|&c| c == b' ').map_or(0, |i| i + 1);
    Some(&tag[word..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_of_the_line_is_read() {
        let ip = "198.51.100.7".parse().ok();
        for (text, user, attempts) in [
            (
                "imap-login: Disconnected: Connection closed (auth failed, 3 attempts in 6 secs): user=<info@shop.example>, method=PLAIN, rip=198.51.100.7, lip=192.0.2.1, session=<abc>",
                Some("info@shop.example"),
                3,
            ),
            (
                "pop3-login: Aborted login (auth failed, 1 attempts in 2 secs): user=<Info@Shop.example>, method=PLAIN, rip=198.51.100.7, lip=192.0.2.1",
                Some("Info@Shop.example"),
                1,
            ),
            (
                "imap-login: Login aborted: Connection closed (auth failed, 2 attempts in 4 secs) (auth_failed): user=<bob>, method=PLAIN, rip=198.51.100.7, lip=192.0.2.1, session=<x>",
                Some("bob"),
                2,
            ),
            (
                "submission-login: Disconnected (auth failed, 99999 attempts in 2 secs): method=PLAIN, rip=198.51.100.7",
                None,
                MAX_ATTEMPTS,
            ),
        ] {
            let f = failed_login("dovecot", text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!((f.user, f.ip, f.attempts), (user, ip, attempts), "{text}");
        }
        for (program, text) in [
            (
                "postfix/smtpd",
                "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, rip=198.51.100.7",
            ),
            (
                "dovecot",
                "imap-login: Login: user=<x>, method=PLAIN, rip=198.51.100.7",
            ),
            (
                "dovecot",
                "imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=198.51.100.7",
            ),
            ("dovecot", "auth: Error: (auth failed, 1 attempts"),
            (
                "dovecot",
                "imap-login: Disconnected (auth failed, many attempts)",
            ),
        ] {
            assert!(failed_login(program, text).is_none(), "{program}: {text}");
        }
    }

    #[test]
    fn mta_lines_are_told_from_dovecots_and_others() {
        for (line, mta, dovecot) in [
            (
                "2026-11-29 07:00:00 1rK001-000001-01 Completed",
                true,
                false,
            ),
            (
                "2026-11-29 07:00:00.123 [77] SMTP connection from [192.0.2.1]",
                true,
                false,
            ),
            (
                "Nov 29 07:00:00 mx postfix/smtpd[1]: connect from x[192.0.2.1]",
                true,
                false,
            ),
            (
                "Nov 29 07:00:00 mx postfix-out/smtp[1]: ABC: to=<a@b>",
                true,
                false,
            ),
            (
                "Nov 29 07:00:00 mx exim[4101]: 2026-11-29 07:00:00 Start queue run",
                true,
                false,
            ),
            (
                "2026-11-29T07:00:00.1+00:00 mx exim4[9]: Start queue run",
                true,
                false,
            ),
            (
                "Nov 29 07:00:00 mx dovecot[77]: imap-login: Login: user=<x>",
                false,
                true,
            ),
            (
                "Nov 29 07:00:00 mx dovecot: pop3(x): Disconnected: Logged out",
                false,
                true,
            ),
            ("Nov 29 07:00:00 mx notdovecot: x", false, false),
            (
                "Nov 29 07:00:00 mx cpanellogd: x postfix/smtpd: y",
                false,
                false,
            ),
            ("garbage", false, false),
        ] {
            assert_eq!(is_mtas(line.as_bytes()), mta, "{line}");
            assert_eq!(is_dovecots(line.as_bytes()), dovecot, "{line}");
        }
    }

    #[test]
    fn dovecots_own_log_is_told_by_its_process_and_level() {
        for (line, own_text) in [
            (
                "Nov 29 07:00:00 imap-login: Info: Login: user=<x>",
                Some("imap-login: Info: Login: user=<x>"),
            ),
            (
                "Nov 09 07:00:00 imap(x@y)<7><ab/c>: Info: Disconnected: Logged out",
                Some("imap(x@y)<7><ab/c>: Info: Disconnected: Logged out"),
            ),
            (
                "2026-11-29 07:00:00 master: Warning: Killed with signal 15",
                Some("master: Warning: Killed with signal 15"),
            ),
            ("2026-11-29 07:00:00 auth: Error: x", Some("auth: Error: x")),
            // Exim's own lines, and syslog's.
            (
                "2026-11-29 07:00:00 Warning: purging the environment.",
                None,
            ),
            ("2026-11-29 07:00:00 1rK001-000001-01 Completed", None),
            ("2026-11-29 07:00:00 cwd=/root 3 args: a: Info: b", None),
            ("Nov 29 07:00:00 mx dovecot: imap-login: Info: x", None),
            ("Nov 29 07:00:00 mx postfix/smtpd[1]: Info: x", None),
            ("Nov 29 07:00:00 Imap: Info: x", None),
            ("Nov 29 07:00:00 imap-login: Infos", None),
            ("Nov 29 07:00:00 imap-login:", None),
            ("Nov 29", None),
        ] {
            let got = own(line.as_bytes()).map(|(_, t)| std::str::from_utf8(t).unwrap());
            assert_eq!(got, own_text, "{line}");
            assert_eq!(
                is_dovecots(line.as_bytes()),
                own_text.is_some() || line.contains(" dovecot:"),
                "{line}"
            );
            if own_text.is_some() {
                assert!(!is_mtas(line.as_bytes()), "{line}");
            }
        }
    }

    #[test]
    fn the_quick_check_passes_the_lines_read_and_few_others() {
        let head = "Nov 29 07:00:00 mx dovecot: ";
        let fail = "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, rip=198.51.100.7";
        assert!(maybe_failed_login(format!("{head}{fail}").as_bytes()));
        assert!(maybe_failed_login(
            format!("2026-11-29T07:00:00.123+00:00 mx dovecot[77]: {fail}").as_bytes()
        ));
        assert!(!maybe_failed_login(
            format!("Nov 29 07:00:00 mx postfix/smtpd[1]: {fail}").as_bytes()
        ));
        assert!(!maybe_failed_login(
            format!("{head}imap-login: Login: user=<x>, rip=198.51.100.7").as_bytes()
        ));
    }
}
