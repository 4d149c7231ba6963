//! What a log file's name says of it: some files hold copies of another
//! log's lines. Exim writes each refusal to its reject log as well as its
//! main log (with the refused message's headers after it), and most
//! panics to the main log as well as the panic log; rsyslog's older
//! Debian setup writes the mail facility to `mail.log` and again, by
//! severity, to `mail.info`, `mail.warn` and `mail.err`. A glob such as
//! `/var/log/exim_*` or `/var/log/mail.*` gives them all, and reading
//! them all counts a refusal or a failed login twice and puts the copies
//! out of time order. [`keep_fullest`] leaves the copies out.

use std::path::{Path, PathBuf};

/// The files a log's copies come from, fullest first: a file of a later
/// kind holds copies of lines a file of an earlier kind has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A main log (Exim's, `mail.log`, `maillog`, anything else).
    Main,
    /// rsyslog's `mail.info`: the mail facility at info and up, which is
    /// every line an MTA writes.
    SyslogInfo,
    /// rsyslog's `mail.warn`.
    SyslogWarn,
    /// rsyslog's `mail.err`, Exim's reject log and its panic log: the
    /// fewest lines, each also in the main log.
    Copies,
}

/// The kind a file's name says, and why, rotation and compression
/// suffixes aside (`exim_rejectlog-20261129.gz`, `rejectlog.2.gz`,
/// `mail.err.1`).
pub fn kind(path: &Path) -> (Kind, &'static str) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let stem = unrotated(&name);
    if stem.ends_with("rejectlog") {
        (
            Kind::Copies,
            "Exim's reject log: each of its refusals is in the main log too",
        )
    } else if stem.ends_with("paniclog") {
        (
            Kind::Copies,
            "Exim's panic log: its lines are in the main log too",
        )
    } else {
        match stem {
            "mail.info" => (
                Kind::SyslogInfo,
                "syslog's mail.info: a copy of the mail log's lines",
            ),
            "mail.warn" => (
                Kind::SyslogWarn,
                "syslog's mail.warn: a copy of the mail log's warnings",
            ),
            "mail.err" => (
                Kind::Copies,
                "syslog's mail.err: a copy of the mail log's errors",
            ),
            _ => (Kind::Main, ""),
        }
    }
}

/// `name` without what rotation adds: a compression suffix, then `.N`
/// (logrotate, exicyclog's `.01`) or `-YYYYMMDD` (dateext).
fn unrotated(name: &str) -> &str {
    let mut s = name;
    for ext in [".gz", ".xz", ".bz2", ".zst"] {
        if let Some(rest) = s.strip_suffix(ext) {
            s = rest;
            break;
        }
    }
    if let Some((head, tail)) = s.rsplit_once(['.', '-'])
        && !tail.is_empty()
        && tail.bytes().all(|b| b.is_ascii_digit())
    {
        s = head;
    }
    s
}

/// Leaves in `files` only those of the fullest kind given, in their
/// order; returns the others with the reason each is left out. Files of
/// one kind are read together (a reject log and a panic log alone are
/// different lines).
pub fn keep_fullest(files: &mut Vec<PathBuf>) -> Vec<(PathBuf, &'static str)> {
    let kinds: Vec<(Kind, &'static str)> = files.iter().map(|f| kind(f)).collect();
    let Some(fullest) = kinds.iter().map(|k| k.0).min() else {
        return Vec::new();
    };
    let mut left = Vec::new();
    let mut kept = Vec::with_capacity(files.len());
    for (f, (k, why)) in files.drain(..).zip(kinds) {
        if k == fullest {
            kept.push(f);
        } else {
            left.push((f, why));
        }
    }
    *files = kept;
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(files: &[PathBuf]) -> Vec<String> {
        files.iter().map(|f| f.display().to_string()).collect()
    }

    #[test]
    fn rotated_and_compressed_copies_are_known_by_name() {
        for (name, want) in [
            ("/var/log/exim_mainlog", Kind::Main),
            ("/var/log/exim_mainlog-20261129.gz", Kind::Main),
            ("/var/log/exim_rejectlog", Kind::Copies),
            ("/var/log/exim_rejectlog-20261129.gz", Kind::Copies),
            ("/var/log/exim4/rejectlog.2.gz", Kind::Copies),
            ("/var/spool/exim/log/rejectlog.01", Kind::Copies),
            ("/var/log/exim4/paniclog", Kind::Copies),
            ("/var/log/mail.log", Kind::Main),
            ("/var/log/mail.log.1", Kind::Main),
            ("/var/log/mail.info.3.gz", Kind::SyslogInfo),
            ("/var/log/mail.warn", Kind::SyslogWarn),
            ("/var/log/mail.err.1", Kind::Copies),
            ("/var/log/maillog-20261129", Kind::Main),
            // Names that only look alike.
            ("/var/log/mail.error", Kind::Main),
            ("/var/log/rejectlogs", Kind::Main),
            ("/var/log/mail.err.bak", Kind::Main),
        ] {
            assert_eq!(kind(Path::new(name)).0, want, "{name}");
        }
    }

    #[test]
    fn a_glob_of_all_exim_logs_reads_the_main_ones() {
        let mut files: Vec<PathBuf> = [
            "/var/log/exim_mainlog",
            "/var/log/exim_paniclog",
            "/var/log/exim_rejectlog",
            "/var/log/exim_mainlog-20261122.gz",
            "/var/log/exim_rejectlog-20261122.gz",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let left = keep_fullest(&mut files);
        assert_eq!(
            names(&files),
            ["/var/log/exim_mainlog", "/var/log/exim_mainlog-20261122.gz"]
        );
        let left: Vec<_> = left.iter().map(|(f, _)| f.display().to_string()).collect();
        assert_eq!(
            left,
            [
                "/var/log/exim_paniclog",
                "/var/log/exim_rejectlog",
                "/var/log/exim_rejectlog-20261122.gz"
            ]
        );
    }

    #[test]
    fn without_a_main_log_the_fullest_copy_is_read() {
        let mut files: Vec<PathBuf> = ["mail.err", "mail.info", "mail.warn", "mail.info.1"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let left = keep_fullest(&mut files);
        assert_eq!(names(&files), ["mail.info", "mail.info.1"]);
        assert_eq!(left.len(), 2);
        // A reject log and a panic log alone hold different lines: both
        // are read.
        let mut files: Vec<PathBuf> = ["rejectlog", "paniclog"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert!(keep_fullest(&mut files).is_empty());
        assert_eq!(files.len(), 2);
        assert!(keep_fullest(&mut Vec::new()).is_empty());
    }
}
