//! Where output goes: data to stdout, messages (`error:`, `warning:`,
//! `hint:`) to stderr. A closed stdout (a pipe into `head`) ends the
//! command quietly with exit 0.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// The exit codes of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Nothing found, and the answer is complete.
    Clean = 0,
    /// Found something: a listing, a config problem.
    Found = 1,
    /// Could not do the job, or only part of it.
    Failed = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

pub(crate) fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

pub(crate) fn error(msg: &str) {
    let _ = writeln!(std::io::stderr(), "error: {}", printable(msg));
}

pub(crate) fn warning(msg: &str) {
    let _ = writeln!(std::io::stderr(), "warning: {}", printable(msg));
}

pub(crate) fn hint(msg: &str) {
    let _ = writeln!(std::io::stderr(), "hint: {}", printable(msg));
}

/// `text` with its control characters (other than newline and tab)
/// written as `\x1b`, `\u{9b}`: what people read quotes log lines, file
/// names and remote replies, which anyone who sends mail or writes a file
/// can fill with terminal escapes or raw binary.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.contains(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if bad(c) && (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if bad(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Writes one line of data to stdout, for people ([`printable`]).
pub(crate) fn line(text: &str) -> std::io::Result<()> {
    raw_line(&printable(text))
}

fn raw_line(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")
}

/// Writes one JSON Lines object to stdout (JSON escapes its own control
/// characters).
pub(crate) fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string(value)?;
    raw_line(&text)?;
    Ok(())
}

pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A span of `secs` seconds, roughly: `42 s`, `5 min`, `3 h`, `2 days`.
pub(crate) fn ago(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..120 => format!("{s} s"),
        120..7_200 => format!("{} min", s / 60),
        7_200..172_800 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// Unix seconds as RFC 3339 UTC.
pub(crate) fn time(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Now, in Unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `n` and the noun for it: `1 sender`, `3 senders`.
pub(crate) fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    match n.into() {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{count, printable};

    #[test]
    fn counts_take_the_noun_that_fits() {
        assert_eq!(count(1u64, "sender", "senders"), "1 sender");
        assert_eq!(count(0u64, "sender", "senders"), "0 senders");
        assert_eq!(count(2u64, "address", "addresses"), "2 addresses");
    }

    #[test]
    fn control_characters_are_written_out_for_people() {
        assert_eq!(printable("plain: Grüße, 2 > 1"), "plain: Grüße, 2 > 1");
        assert_eq!(printable("a\tb\nc"), "a\tb\nc");
        assert_eq!(
            printable("T=\"\u{1b}]0;pwned\u{7}\u{1b}[2J\" \r"),
            "T=\"\\x1b]0;pwned\\x07\\x1b[2J\" \\x0d"
        );
        assert_eq!(printable("\u{9b}31m\u{7f}\0"), "\\u{9b}31m\\x7f\\x00");
    }
}
