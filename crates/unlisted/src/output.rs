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
    let _ = writeln!(std::io::stderr(), "error: {msg}");
}

pub(crate) fn warning(msg: &str) {
    let _ = writeln!(std::io::stderr(), "warning: {msg}");
}

pub(crate) fn hint(msg: &str) {
    let _ = writeln!(std::io::stderr(), "hint: {msg}");
}

/// Writes one line of data to stdout.
pub(crate) fn line(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")
}

/// Writes one JSON Lines object to stdout.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string(value)?;
    line(&text)?;
    Ok(())
}

pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
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
