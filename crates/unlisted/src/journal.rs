//! Following a mail log kept only in the systemd journal (no syslog daemon
//! writes a file), through `journalctl --output=json`.
//!
//! Each entry becomes the syslog line a syslog daemon would have written,
//! stamped in UTC (`2026-11-28T10:00:00.123456Z mx postfix/smtpd[12]: …`),
//! so the Postfix parser reads it like any other. An entry's position is
//! its sequence number in the journal (the `i=` of its cursor): the
//! checkpoint keeps the last one read and the first one of the oldest
//! message still open, and a restart asks for the entries after that
//! (`--after-cursor=s=ID;i=N`). The sequence-number id (`s=`) is kept
//! beside the checkpoint ([`store::Store::set_journal_id`]).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use maillog::tail::{Polled, Position, Resume};

/// How far back a journal is read the first time (a file is read whole;
/// a journal may hold months).
const FIRST_READ: &str = "-7d";

/// One followed journal.
pub(crate) struct JournalTail {
    units: String,
    directory: Option<PathBuf>,
    /// The journal's sequence-number id, once known.
    seqnum_id: Option<String>,
    /// The sequence number of the last entry read (0: none yet).
    read_to: u64,
    /// Things worth telling the operator.
    pub(crate) notes: Vec<String>,
    problem: Option<String>,
    /// Where a read without a cursor starts (`journalctl --since`).
    since: String,
    /// Where a one-shot read stops (`journalctl --until`).
    until: Option<String>,
}

impl JournalTail {
    /// Follows the entries of `units`, resuming after a checkpoint of the
    /// journal whose sequence-number id is `seqnum_id`.
    pub(crate) fn open(
        units: &str,
        directory: Option<PathBuf>,
        resume: Option<Resume>,
        seqnum_id: Option<String>,
    ) -> Self {
        // Start again at the oldest message still open at the checkpoint.
        let read_to = match (&seqnum_id, resume) {
            (Some(_), Some(r)) => r.resume_at.saturating_sub(1),
            _ => 0,
        };
        JournalTail {
            units: units.to_string(),
            directory,
            seqnum_id,
            read_to,
            notes: Vec::new(),
            problem: None,
            since: FIRST_READ.into(),
            until: None,
        }
    }

    /// Reads from `since` (as `journalctl --since` takes it) when there is
    /// no cursor to follow; `None`: the whole journal.
    pub(crate) fn since(mut self, since: Option<&str>) -> Self {
        self.since = since.unwrap_or("").to_string();
        self
    }

    /// Reads the entries before `until` only (as `journalctl --until`
    /// takes it).
    pub(crate) fn until(mut self, until: Option<String>) -> Self {
        self.until = until;
        self
    }

    /// Why the journal cannot be read now (journalctl missing or failing).
    pub(crate) fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// The journal's sequence-number id, once an entry was read.
    pub(crate) fn seqnum_id(&self) -> Option<&str> {
        self.seqnum_id.as_deref()
    }

    /// The checkpoint: the last entry read, and where to start again given
    /// the packed position of the oldest message still open.
    pub(crate) fn checkpoint(&self, oldest_open: Option<u64>) -> Resume {
        let next = self.read_to + 1;
        let resume_at = oldest_open
            .map(|p| Position::unpack(p).offset)
            .unwrap_or(next)
            .min(next);
        Resume {
            inode: 0,
            read_to: self.read_to,
            resume_at,
            head: Vec::new(),
            linger: None,
            linger_head: Vec::new(),
            in_place: None,
        }
    }

    /// Reads the entries written since the last poll (at most
    /// `max_lines`, 0 for all), calling `f(line, packed_position)` for each.
    pub(crate) fn poll(
        &mut self,
        max_lines: usize,
        mut f: impl FnMut(&[u8], u64),
    ) -> std::io::Result<Polled> {
        let limit = maillog::tail::line_limit(max_lines);
        let mut cmd = Command::new("journalctl");
        // Not --quiet: that also hides the warning that this user may not
        // see the system's entries ([`problem_of`]).
        cmd.args(["--output=json", "--all", "--no-pager"])
            .args(units(&self.units).map(|u| format!("--unit={u}")));
        if let Some(d) = &self.directory {
            cmd.arg(format!("--directory={}", d.display()));
        }
        match &self.seqnum_id {
            Some(id) if self.read_to > 0 => {
                cmd.arg(format!("--after-cursor=s={id};i={:x}", self.read_to))
            }
            _ if self.since.is_empty() => &mut cmd,
            _ => cmd.arg(format!("--since={}", self.since)),
        };
        if let Some(u) = &self.until {
            cmd.arg(format!("--until={u}"));
        }
        let mut child = match cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                self.set_problem(Some(format!("cannot run journalctl: {e}")));
                return Ok(Polled {
                    lines: 0,
                    at_end: true,
                });
            }
        };
        let mut polled = Polled::default();
        let mut stopped = false;
        if let Some(out) = child.stdout.take() {
            let mut line = String::new();
            let mut r = BufReader::new(out);
            while polled.lines < limit {
                line.clear();
                if r.read_line(&mut line)? == 0 {
                    break;
                }
                let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let Some((id, seq)) = entry["__CURSOR"].as_str().and_then(cursor) else {
                    continue;
                };
                if self.seqnum_id.as_deref() != Some(id) {
                    if self.seqnum_id.is_some() {
                        self.notes.push(format!(
                            "the journal's sequence numbers changed (it was vacuumed, or is another machine's): reading journal:{} again from {FIRST_READ}; messages stored before are not stored twice",
                            self.units
                        ));
                    }
                    self.seqnum_id = Some(id.to_string());
                }
                if let Some(text) = syslog_line(&entry) {
                    f(
                        text.as_bytes(),
                        Position {
                            generation: 0,
                            offset: seq,
                        }
                        .pack(),
                    );
                }
                self.read_to = seq;
                polled.lines += 1;
            }
            stopped = polled.lines >= limit;
        }
        if stopped {
            // The rest waits for the next poll.
            let _ = child.kill();
        }
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = child.wait()?;
        polled.at_end = !stopped;
        let why = err.trim();
        if stopped {
            self.set_problem(None);
        } else {
            if !status.success() && why.contains("cursor") && self.read_to > 0 {
                // The entry to start after is gone (vacuumed): read the
                // recent entries again; stored messages are kept once.
                self.notes.push(format!(
                    "journal:{}: {why}; reading from {FIRST_READ} again",
                    self.units
                ));
                self.seqnum_id = None;
                self.read_to = 0;
            }
            let ended = if status.success() {
                Ok(())
            } else {
                Err(status)
            };
            let problem = problem_of(ended, why, &self.units);
            self.set_problem(problem);
        }
        Ok(polled)
    }

    fn set_problem(&mut self, p: Option<String>) {
        if p != self.problem {
            match &p {
                Some(p) => self.notes.push(p.clone()),
                None if self.problem.is_some() => self
                    .notes
                    .push(format!("journal:{} can be read now", self.units)),
                None => {}
            }
            self.problem = p;
        }
    }
}

/// The unit patterns of a `journal` setting: several are separated by
/// spaces or commas (`postfix* dovecot`); journalctl gives the entries of
/// all of them, in the journal's order.
pub(crate) fn units(setting: &str) -> impl Iterator<Item = &str> {
    setting.split([' ', ',']).filter(|u| !u.is_empty())
}

/// Whether a `journal` setting names Dovecot's units alone: a login log
/// beside an MTA's own file (Exim's mainlog on Debian 12, which keeps no
/// syslog file).
pub(crate) fn dovecot_only(setting: &str) -> bool {
    let mut any = false;
    for u in units(setting) {
        if !u.starts_with("dovecot") {
            return false;
        }
        any = true;
    }
    any
}

/// What is wrong when journalctl ended as `status` (`Err` with its exit
/// status when it failed) saying `why` on stderr, reading `units`.
fn problem_of(
    status: Result<(), std::process::ExitStatus>,
    why: &str,
    units: &str,
) -> Option<String> {
    match status {
        // It exits 0 when the user may read only its own entries.
        Ok(()) if why.contains("not seeing messages from other users") => Some(
            "the daemon's user may not read the system journal: run it as root or add the user to the systemd-journal group".into(),
        ),
        Ok(()) => None,
        // A unit pattern that matches nothing journalctl knows.
        Err(_) if why.contains("filter for units") => {
            Some(format!("the journal has no entries of units {units} (yet)"))
        }
        Err(status) => Some(format!(
            "journalctl failed ({status}): {}",
            if why.is_empty() { "no message" } else { why }
        )),
    }
}

/// The sequence-number id and number of a cursor (`s=…;i=…;…`).
fn cursor(c: &str) -> Option<(&str, u64)> {
    let (mut s, mut i) = (None, None);
    for part in c.split(';') {
        match part.split_once('=') {
            Some(("s", v)) => s = Some(v),
            Some(("i", v)) => i = u64::from_str_radix(v, 16).ok(),
            _ => {}
        }
    }
    Some((s?, i?))
}

/// A journal field as text: a string, or the bytes journalctl writes as
/// an array of numbers when they are not UTF-8.
fn field(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => {
            let bytes: Vec<u8> = a
                .iter()
                .filter_map(|b| b.as_u64())
                .map(|b| b as u8)
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => None,
    }
}

/// The syslog line of a journal entry, stamped in UTC.
fn syslog_line(e: &serde_json::Value) -> Option<String> {
    let micros: i64 = e["__REALTIME_TIMESTAMP"].as_str()?.parse().ok()?;
    let at = maillog::Stamp {
        secs: micros.div_euclid(1_000_000),
        millis: 0,
    }
    .iso();
    let host = field(&e["_HOSTNAME"]).unwrap_or_else(|| "localhost".into());
    let ident = field(&e["SYSLOG_IDENTIFIER"]).unwrap_or_else(|| "unknown".into());
    let pid = field(&e["_PID"]).or_else(|| field(&e["SYSLOG_PID"]));
    let message = field(&e["MESSAGE"])?;
    // One entry, one line: a message holding newlines keeps them as spaces.
    let message = message.replace(['\n', '\r'], " ");
    Some(match pid {
        Some(pid) => format!(
            "{at}.{:06}Z {host} {ident}[{pid}]: {message}",
            micros.rem_euclid(1_000_000)
        ),
        None => format!(
            "{at}.{:06}Z {host} {ident}: {message}",
            micros.rem_euclid(1_000_000)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_names_several_units_and_may_name_dovecots_alone() {
        let got: Vec<&str> = units(" postfix*, dovecot.service  exim4").collect();
        assert_eq!(got, ["postfix*", "dovecot.service", "exim4"]);
        assert!(dovecot_only("dovecot*"));
        assert!(dovecot_only("dovecot.service, dovecot-auth"));
        assert!(!dovecot_only("postfix* dovecot"));
        assert!(!dovecot_only(" , "));
    }

    #[test]
    fn what_journalctl_says_becomes_a_problem() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(problem_of(Ok(()), "", "postfix*"), None);
        // journalctl's hint to a user outside systemd-journal and adm.
        let hint = "Hint: You are currently not seeing messages from other users and the system.\n      Users in groups 'adm', 'systemd-journal' can see all messages.";
        assert!(
            problem_of(Ok(()), hint, "postfix*")
                .unwrap()
                .contains("systemd-journal group")
        );
        let failed = std::process::ExitStatus::from_raw(1 << 8);
        assert_eq!(
            problem_of(
                Err(failed),
                "Failed to add filter for units: No data available",
                "exim*"
            )
            .unwrap(),
            "the journal has no entries of units exim* (yet)"
        );
        assert_eq!(
            problem_of(
                Err(failed),
                "Failed to seek to cursor: Invalid argument",
                "postfix*"
            )
            .unwrap(),
            "journalctl failed (exit status: 1): Failed to seek to cursor: Invalid argument"
        );
    }

    #[test]
    fn cursors_and_entries_become_positions_and_syslog_lines() {
        assert_eq!(
            cursor("s=a592f2ede769483c97b0433f31eccaaf;i=1f;b=01;m=0;t=644a4b149e800;x=60"),
            Some(("a592f2ede769483c97b0433f31eccaaf", 31))
        );
        assert_eq!(cursor("i=1"), None);
        let e = serde_json::json!({
            "__REALTIME_TIMESTAMP": "1764324000001000",
            "_HOSTNAME": "mx",
            "SYSLOG_IDENTIFIER": "postfix/qmgr",
            "_PID": "99",
            "MESSAGE": "4ABC: removed",
        });
        assert_eq!(
            syslog_line(&e).unwrap(),
            "2025-11-28T10:00:00.001000Z mx postfix/qmgr[99]: 4ABC: removed"
        );
        // Not UTF-8: journalctl writes the bytes.
        let e = serde_json::json!({
            "__REALTIME_TIMESTAMP": "1764324000000000",
            "SYSLOG_IDENTIFIER": "postfix/smtpd",
            "MESSAGE": [99, 111, 110, 255],
        });
        assert_eq!(
            syslog_line(&e).unwrap(),
            "2025-11-28T10:00:00.000000Z localhost postfix/smtpd: con\u{fffd}"
        );
    }
}
