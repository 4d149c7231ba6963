//! Mail logs: Exim main logs and Postfix syslog lines, parsed and
//! assembled into one [`Message`] per message.
//!
//! - [`time`]: log timestamps.
//! - [`fields`]: Exim's `K=value` fields.
//! - [`exim`], [`postfix`]: one line → one event, pure and stateless.
//! - [`headers`]: script hints in headers, and Exim spool header files.
//! - [`message`]: the assembled record and the sender vocabulary.
//! - [`logins`]: failed logins, for the logins after them.
//! - [`dovecot`]: Dovecot's failed IMAP and POP3 logins in a mail log.
//! - [`assemble`]: folding events into messages, and tying script
//!   submissions to their `cwd=` lines.
//! - [`shard`]: cutting one log by message id across threads.
//! - [`tail`]: following a log across rotation, with checkpoints.
//! - [`names`]: files whose names say they copy another log's lines.
//! - this module: [`LogParser`], which detects the format, feeds the
//!   assembler and counts every line as understood, ignored or not.

pub mod assemble;
pub mod dovecot;
pub mod exim;
pub mod fields;
pub mod headers;
pub mod logins;
pub mod message;
pub mod names;
pub mod packed;
pub mod postfix;
pub mod shard;
pub mod tail;
pub mod time;

use std::borrow::Cow;

use serde::Serialize;

pub use message::{Message, Outcome, Recipient, Sender, SenderKind};
pub use time::Stamp;

/// Which MTA wrote the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Exim,
    Postfix,
}

impl std::str::FromStr for Format {
    type Err = String;

    /// `exim` or `postfix`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "exim" => Ok(Format::Exim),
            "postfix" => Ok(Format::Postfix),
            other => Err(format!("unknown log format `{other}` (exim or postfix)")),
        }
    }
}

/// How many not-understood lines are quoted in the summary.
pub const SAMPLES: usize = 5;

/// The longest line parsed: of a longer one only the first `MAX_LINE`
/// bytes are ([`LineStats::cut_lines`]), and readers keep no more than
/// `MAX_LINE + 1` bytes of any line, so a run of NUL bytes left by a crash
/// or a file of binary junk cannot make memory grow with its length.
/// Real lines are far shorter (an Exim `<=` line naming ten thousand
/// recipients is about 300 KB).
pub const MAX_LINE: usize = 1 << 20;

/// Line counts, and the first lines that were not understood.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LineStats {
    pub lines: u64,
    pub understood: u64,
    /// Valid lines of other programs (a shared syslog file), blank lines.
    pub ignored: u64,
    pub not_understood: u64,
    /// Lines longer than [`MAX_LINE`], parsed from their first bytes.
    pub cut_lines: u64,
    /// Lines that began with NUL bytes, parsed from after them: a crash
    /// leaves a file's last blocks allocated but never written, and the
    /// MTA's next line follows that hole ([`after_hole`]).
    pub holes: u64,
    /// `(where, line)` of the first few not understood.
    pub samples: Vec<(String, String)>,
    /// `(where, line)` of the last not understood (the daemon reports
    /// those met since it last said).
    pub latest: Option<(String, String)>,
    /// Copies read from rsyslog's `message repeated N times: [ …]` lines
    /// ([`syslog_repeat`]); each such line counts once above.
    pub repeated: u64,
    /// Lines of the MTA the logger says it dropped: journald's
    /// `Suppressed 1234 messages from postfix@-.service` (its rate limit,
    /// which a burst of spam is what trips). Counted from the notice.
    pub dropped: u64,
    pub first: Option<Stamp>,
    pub last: Option<Stamp>,
}

/// `line` without the NUL bytes it starts with: the hole a crash (power
/// lost before the file's last blocks were written) leaves in a log,
/// which the MTA's next line follows on the same line. Lines without one
/// cost one comparison.
#[inline]
pub fn after_hole(line: &[u8]) -> &[u8] {
    if line.first() != Some(&0) {
        return line;
    }
    let n = line.iter().position(|&b| b != 0).unwrap_or(line.len());
    &line[n..]
}

/// The most copies one `message repeated` line is read as: rsyslog
/// writes one when another line comes, so real counts are small, and a
/// forged count must not stall the reader.
pub const MAX_REPEAT: u32 = 100_000;

/// rsyslog's `$RepeatedMsgReduction on` (Ubuntu's rsyslog.conf has it)
/// writes a line that comes again, alike, from the same program as `HEAD
/// message repeated N times: [ TEXT]` after the first: the line `HEAD
/// TEXT` and N (at most [`MAX_REPEAT`]), or `None` for any other line. A
/// brute force from one process is what repeats. A line that does not
/// end in `]` costs two comparisons.
#[inline]
pub fn syslog_repeat(b: &[u8]) -> Option<(Vec<u8>, u32)> {
    let b = b.strip_suffix(b"\r").unwrap_or(b);
    // Exim's own lines have a space after the date.
    if b.last() != Some(&b']') || b.get(10) == Some(&b' ') {
        return None;
    }
    repeat_of(b)
}

#[inline(never)]
fn repeat_of(b: &[u8]) -> Option<(Vec<u8>, u32)> {
    let tag = fields::find_short(b, b": ")? + 2;
    let rest = b[tag..].strip_prefix(b"message repeated ")?;
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let n: u32 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let text = rest[digits..].strip_prefix(b" times: [")?;
    let text = &text[..text.len() - 1];
    let text = text.strip_prefix(b" ").unwrap_or(text);
    if n == 0 || text.starts_with(b"message repeated ") {
        return None;
    }
    Some(([&b[..tag], text].concat(), n.min(MAX_REPEAT)))
}

/// The part of `piece` (the next bytes of a line of which `kept` is kept
/// so far) to keep: a crash's hole, a run of NUL bytes of any length at
/// the line's start, is kept as one NUL byte, so that the line after it
/// fits in what the parser reads ([`after_hole`] skips that byte).
pub fn past_hole<'a>(kept: &mut Vec<u8>, piece: &'a [u8]) -> &'a [u8] {
    if piece.first() != Some(&0) || !(kept.is_empty() || kept[..] == [0]) {
        return piece;
    }
    if kept.is_empty() {
        kept.push(0);
    }
    let n = piece.iter().position(|&b| b != 0).unwrap_or(piece.len());
    &piece[n..]
}

/// Reads one line with its newline into `buf`, as `read_until` does, but
/// keeps no more than `MAX_LINE + 1` bytes of it (the parser reads
/// [`MAX_LINE`]), a hole of NUL bytes at its start as one
/// ([`past_hole`]); returns the bytes consumed (0 at the end).
pub fn read_line(r: &mut impl std::io::BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut got = 0;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(got);
        }
        let (take, ends) = match memchr::memchr(b'\n', avail) {
            Some(nl) => (nl + 1, true),
            None => (avail.len(), false),
        };
        let piece = past_hole(buf, &avail[..take]);
        let room = (MAX_LINE + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&piece[..piece.len().min(room)]);
        r.consume(take);
        got += take;
        if ends {
            if buf.last() != Some(&b'\n') {
                buf.push(b'\n');
            }
            return Ok(got);
        }
    }
}

/// A line as text. Nearly every line is valid UTF-8; the lossy path only
/// for the rest (`from_utf8_lossy` is slower on valid text).
pub(crate) fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// An Exim line split for syslog, joined so far.
struct Joining {
    line: String,
    /// Where its first part starts: the joined line's place.
    offset: u64,
    next: u32,
    /// A part ended at a newline of the entry: the rest is its indented
    /// continuation, which the main log's reader skips too.
    cut: bool,
}

/// What an Exim line is once its syslog parts are joined.
enum Whole<'a> {
    Line(Cow<'a, str>),
    /// A part kept until the last one.
    Part,
    /// A part whose earlier parts were not read.
    Stray,
}

/// More lines split at once than Exim processes write at a time: parts
/// whose last part never came are dropped.
pub(crate) const MAX_JOINING: usize = 1024;

/// Parses lines of one log stream and hands out assembled messages.
pub struct LogParser {
    format: Option<Format>,
    year: i64,
    /// A split run's reader sets `year` ([`shard::Routed::feed`]): no
    /// jump back of months is looked for here.
    year_given: bool,
    exim: assemble::EximAssembler,
    postfix: assemble::PostfixAssembler,
    /// Exim lines split for syslog, by the tag's pid, until their last
    /// part ([`exim::Part`]).
    parts: rustc_hash::FxHashMap<Option<u32>, Joining>,
    /// The latest time of a line: the log's clock.
    last: Option<Stamp>,
    /// The hour of log time of the last sweep of stale messages.
    swept_hour: i64,
    /// [`LogParser::settle_deferred`]: the idle seconds, and the minute
    /// of log time of the last look.
    settle_after: Option<i64>,
    settled_minute: i64,
    /// The first bytes of the line that last moved the clock, and the UTC
    /// offset written after them ([`offset_tail`]).
    clock_key: [u8; CLOCK_KEY],
    clock_tail: [u8; 6],
    offset: u64,
    stamped: u64,
    /// Turns wall-clock stamps into UTC ([`LogParser::set_zone`]).
    zone: time::Zone,
    /// The UTC time a split run's reader settled for the next line, in a
    /// repeated hour ([`LogParser::fold_hint`]).
    hint: Option<Stamp>,
    /// The time of the line that last moved the clock, when its wall time
    /// lay in a repeated hour; and the same for the last line
    /// [`LogParser::clock`] read ([`LogParser::fold`]).
    clock_fold: Option<Stamp>,
    line_fold: Option<Stamp>,
    /// The last failed login read through syslog: its time and pid, and
    /// its text ([`LogParser::second_copy`]).
    syslog_failure: Option<((Stamp, Option<u32>), String)>,
    /// Failed logins of another log, waiting for this log's clock to
    /// reach them, oldest first, and how each is kept
    /// ([`LogParser::add_failures`], [`LogParser::note_shared`]).
    pending: std::collections::VecDeque<(dovecot::Logged, Keep)>,
    /// Where a login log's failed logins go while it is read
    /// ([`LogParser::capture_failures`]).
    captured: Option<Vec<dovecot::Logged>>,
    /// Copies of the failed logins this reader counted, for the readers
    /// of the server's other logs ([`LogParser::share_failures`]).
    shared: Option<Vec<dovecot::Logged>>,
    pub stats: LineStats,
}

/// How a failed login of another log is kept once the clock reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Counted here too (a login log read before, in `logs analyze`).
    Count,
    /// Kept for the logins after it, counted by another reader (a shard).
    Note,
    /// Kept for the logins after it, and left out of a snapshot: the
    /// reader that shared it keeps it ([`LogParser::note_shared`]).
    Shared,
}

/// Failed logins shared by other readers that wait for this log's clock
/// at most ([`LogParser::note_shared`]): a followed log that stays quiet
/// while another fills with guesses does not grow without end.
pub const MAX_SHARED: usize = 100_000;

/// Adds a failed login to those a reader shares: a login log read whole
/// at once (a backlog) keeps no more than twice [`MAX_SHARED`].
fn share(shared: &mut Vec<dovecot::Logged>, f: dovecot::Logged) {
    shared.push(f);
    if shared.len() > 2 * MAX_SHARED {
        keep_newest(shared, MAX_SHARED);
    }
}

/// Sorts failures oldest first and keeps the newest `cap`.
fn keep_newest(v: &mut Vec<dovecot::Logged>, cap: usize) {
    v.sort_by_key(|f| f.at);
    let over = v.len().saturating_sub(cap);
    v.drain(..over);
}

/// A line that starts with these many bytes of the line that last moved
/// the clock has the same time, to the second (`2026-01-01 10:00:00`,
/// `Jan  1 10:00:00 host`), when it writes the same UTC offset after them
/// ([`offset_tail`]).
const CLOCK_KEY: usize = 19;

/// The UTC offset a stamp writes after its first [`CLOCK_KEY`] bytes and
/// any fraction of a second: Exim's ` -0500` (`log_timezone`), RFC 3339's
/// `-05:00` or `Z`; zeros when it writes none. Two lines of the same
/// second with other offsets are hours apart.
fn offset_tail(line: &[u8]) -> [u8; 6] {
    let mut i = CLOCK_KEY;
    match line.get(i..i + 2) {
        // Most lines: a space and then no offset.
        Some([b' ', b]) if !matches!(b, b'+' | b'-') => return [0; 6],
        Some([b'.', _]) => {
            i += 1;
            while line.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => {}
    }
    let rest = line.get(i..).unwrap_or_default();
    let n = match rest {
        [b'Z', ..] => 1,
        [b'+' | b'-', ..] | [b' ', b'+' | b'-', ..] => 6,
        _ => 0,
    };
    let n = n.min(rest.len());
    let mut tail = [0; 6];
    tail[..n].copy_from_slice(&rest[..n]);
    tail
}

impl LogParser {
    /// `format: None` detects it from the first line that parses; `year`
    /// is the year of syslog lines, which do not carry one.
    pub fn new(format: Option<Format>, year: i64) -> Self {
        LogParser {
            format,
            year,
            year_given: false,
            exim: Default::default(),
            postfix: Default::default(),
            parts: Default::default(),
            last: None,
            swept_hour: i64::MIN,
            settle_after: None,
            settled_minute: i64::MIN,
            clock_key: [0; CLOCK_KEY],
            clock_tail: [0; 6],
            offset: 0,
            stamped: 0,
            zone: time::Zone::as_written(),
            hint: None,
            clock_fold: None,
            line_fold: None,
            syslog_failure: None,
            pending: Default::default(),
            captured: None,
            shared: None,
            stats: LineStats::default(),
        }
    }

    /// Reads a login log (Dovecot's, on a server where the MTA writes a
    /// log of its own: cPanel's /var/log/maillog beside exim_mainlog):
    /// its failed logins are kept for [`LogParser::take_captured`]
    /// instead of being counted here.
    pub fn capture_failures(&mut self) {
        self.captured = Some(Vec::new());
    }

    /// The failed logins a login log held, oldest first.
    pub fn take_captured(&mut self) -> Vec<dovecot::Logged> {
        let mut v = self.captured.take().unwrap_or_default();
        v.sort_by_key(|f| f.at);
        v
    }

    /// Failed logins of a login log read before: each is kept, as if read
    /// here, once this log's clock reaches its time, so a login after it
    /// is told of it; `count` when this reader counts them (one shard of
    /// a split run). Those left at the end are kept and counted at
    /// [`LogParser::finish`].
    pub fn add_failures(&mut self, failures: Vec<dovecot::Logged>, count: bool) {
        let keep = if count { Keep::Count } else { Keep::Note };
        self.wait_for_clock(failures, keep);
    }

    /// Copies the failed logins this reader counts from now on (Dovecot's,
    /// in a login log), and those [`LogParser::restore_logins`] gives
    /// back, for [`LogParser::take_shared`]: a daemon hands them to the
    /// readers of the server's other logs ([`LogParser::note_shared`]).
    pub fn share_failures(&mut self) {
        self.shared.get_or_insert_with(Vec::new);
    }

    /// The failed logins copied since the last call, oldest first.
    /// At most [`MAX_SHARED`], the newest: no more would wait in the
    /// other readers ([`LogParser::note_shared`]).
    pub fn take_shared(&mut self) -> Vec<dovecot::Logged> {
        let mut v = self.shared.as_mut().map(std::mem::take).unwrap_or_default();
        keep_newest(&mut v, MAX_SHARED);
        v
    }

    /// Failed logins another reader shares ([`LogParser::take_shared`]):
    /// each is kept, as if read here, once this log's clock reaches its
    /// time, so that a login after it is told of it. They are not counted
    /// here and not given by [`LogParser::save_logins`]: the reader that
    /// shared them keeps them across a restart, and shares them again.
    /// At most [`MAX_SHARED`] wait; the oldest go first.
    pub fn note_shared(&mut self, failures: Vec<dovecot::Logged>) {
        self.wait_for_clock(failures, Keep::Shared);
        let waiting = self.pending.iter().filter(|(_, k)| *k == Keep::Shared);
        let over = waiting.count().saturating_sub(MAX_SHARED);
        if over > 0 {
            let mut left = over;
            self.pending.retain(|(_, k)| {
                let drop = left > 0 && *k == Keep::Shared;
                left -= drop as usize;
                !drop
            });
        }
    }

    /// Puts failures (oldest first) with those waiting, in time order.
    fn wait_for_clock(&mut self, failures: Vec<dovecot::Logged>, keep: Keep) {
        let later = match (self.pending.back(), failures.first()) {
            (Some((w, _)), Some(f)) => f.at >= w.at,
            _ => true,
        } && failures.is_sorted_by_key(|f| f.at);
        self.pending.extend(failures.into_iter().map(|f| (f, keep)));
        if !later {
            // Older than some waiting (a snapshot shared again): sorted
            // once, not put in place one by one.
            self.pending.make_contiguous().sort_by_key(|(f, _)| f.at);
        }
    }

    /// Keeps the failures waiting for the clock up to `now`.
    fn take_pending(&mut self, now: Option<Stamp>) {
        while let Some((f, _)) = self.pending.front() {
            if now.is_some_and(|n| f.at > n) {
                break;
            }
            let (f, keep) = self.pending.pop_front().expect("front");
            let failures = match self.format {
                Some(Format::Postfix) => &mut self.postfix.failures,
                _ => &mut self.exim.failures,
            };
            for _ in 0..f.attempts {
                let (user, line) = (f.user.as_deref(), &f.line);
                match keep {
                    Keep::Count => failures.count(user, f.ip, f.at, line, 0),
                    Keep::Note => failures.note(user, f.ip, f.at, line, 0),
                    // Past any place a snapshot is taken at.
                    Keep::Shared => failures.note(user, f.ip, f.at, line, u64::MAX),
                }
            }
        }
    }

    /// Reads stamps without an offset as wall-clock times of `zone` and
    /// turns them into UTC (stamps with one are UTC already). Without it
    /// they stay as written.
    pub fn set_zone(&mut self, zone: time::Zone) {
        self.zone = zone;
    }

    /// The UTC time of the next line, as the reader of a split run settled
    /// it in a repeated hour ([`Tagger`](shard::Tagger)): a shard that
    /// does not see every line could settle it otherwise.
    pub fn fold_hint(&mut self, at: Stamp) {
        self.hint = Some(at);
    }

    /// The UTC time of the last line [`LogParser::clock`] read, when its
    /// wall time lay in a repeated hour (see [`time::Zone`]).
    pub fn fold(&self) -> Option<Stamp> {
        self.line_fold
    }

    /// The UTC time of a line's stamp `at`; `zoned` when the line wrote
    /// its offset.
    fn utc(&mut self, at: Stamp, zoned: bool) -> Stamp {
        if let Some(h) = self.hint.take() {
            self.zone.saw(h.secs);
            return h;
        }
        if zoned {
            self.zone.saw(at.secs);
            return at;
        }
        self.zone.to_utc(at)
    }

    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// Messages still waiting for their last line.
    pub fn open_messages(&self) -> usize {
        self.exim.open_messages() + self.postfix.open_messages()
    }

    /// Starts keeping the ids of local submissions for
    /// [`LogParser::take_local_arrivals`].
    pub fn track_local_arrivals(&mut self) {
        self.exim.track_arrivals = true;
    }

    /// Drops what only a reader of whole messages uses: subjects,
    /// Message-IDs, protocols, and the relay host and reply of a delivered
    /// recipient (a failed one keeps them). `logs analyze` sets it: the
    /// detector reads none of them, and copying them cost 3-6% of its time.
    pub fn skip_details(&mut self) {
        self.exim.skip_details = true;
        self.postfix.skip_details = true;
    }

    /// Hands out a message whose every recipient was tried and one
    /// deferred once it has had no line for `idle_secs` of log time,
    /// instead of when it leaves the queue, which may be days later: a
    /// follower of the live log (the daemon) must judge a sender whose
    /// mail the remote side defers ("421 4.7.28 unusual rate of
    /// unsolicited mail") now. The message's later lines (its retries)
    /// then change nothing but the attempts ([`LogParser::take_attempts`]).
    pub fn settle_deferred(&mut self, idle_secs: i64) {
        self.settle_after = Some(idle_secs);
    }

    /// Takes these messages (id, time) as handed out before their end by
    /// an earlier run ([`LogParser::settle_deferred`]): after a restart,
    /// their retries read again are no new messages.
    pub fn settled_before(&mut self, ids: impl IntoIterator<Item = (String, Stamp)>) {
        for (id, at) in ids {
            self.exim.mark_settled(&id, at);
            self.postfix.mark_settled(&id, at);
        }
    }

    /// Starts keeping failed remote delivery attempts for
    /// [`LogParser::take_attempts`].
    pub fn track_attempts(&mut self) {
        self.exim.track_attempts = true;
        self.postfix.track_attempts = true;
    }

    /// Failed remote delivery attempts logged since the last call, as they
    /// happen (a deferred message may stay open for days).
    pub fn take_attempts(&mut self) -> Vec<message::Attempt> {
        let mut a = std::mem::take(&mut self.exim.attempts);
        a.append(&mut self.postfix.attempts);
        a
    }

    /// Local submissions (Exim) that arrived since the last call.
    pub fn take_local_arrivals(&mut self) -> Vec<String> {
        self.exim.take_local_arrivals()
    }

    /// Applies script headers found for an open message (see [`headers`]).
    pub fn hint(&mut self, id: &str, h: &headers::ScriptHeaders) {
        self.exim.hint(id, h);
    }

    /// The offset of the first line of the oldest message still open: a
    /// tail that restarts there rebuilds every open message.
    pub fn oldest_open(&self) -> Option<u64> {
        // A line Exim split for syslog, its last part not read yet, is
        // read again whole too.
        let parts = self.parts.values().map(|j| j.offset);
        [self.exim.oldest_open(), self.postfix.oldest_open()]
            .into_iter()
            .flatten()
            .chain(parts)
            .min()
    }

    /// The failed logins read before `place` (the offset a reader will
    /// read again from after a restart), to be given back to the next
    /// parser with [`LogParser::restore_logins`].
    pub fn save_logins(&self, place: u64) -> logins::Saved {
        match self.format {
            Some(Format::Postfix) => self.postfix.failures.save(place),
            Some(Format::Exim) => self.exim.failures.save(place),
            // Before the format is known, Dovecot's failures are kept
            // with Postfix's (a login log of Dovecot's lines alone).
            None => {
                let mut saved = self.exim.failures.save(place);
                saved.extend(self.postfix.failures.save(place));
                saved
            }
        }
    }

    /// Bumped by every change to what [`LogParser::save_logins`] gives.
    pub fn logins_changes(&self) -> u64 {
        self.exim.failures.changes + self.postfix.failures.changes
    }

    /// Takes back what [`LogParser::save_logins`] gave, as read before any
    /// line this parser reads.
    pub fn restore_logins(&mut self, saved: logins::Saved) {
        if let Some(shared) = &mut self.shared {
            for f in saved.failures() {
                share(shared, f);
            }
        }
        match self.format {
            Some(Format::Postfix) => self.postfix.failures.restore(saved),
            Some(Format::Exim) => self.exim.failures.restore(saved),
            None => {
                self.exim.failures.restore(saved.clone());
                self.postfix.failures.restore(saved);
            }
        }
    }

    /// How many failed logins this parser counted.
    pub fn failed_login_count(&self) -> u64 {
        self.exim.failures.run.total() + self.postfix.failures.run.total()
    }

    /// The failed logins this parser counted (both formats).
    pub fn failed_logins(&self) -> logins::RunTally {
        let mut t = self.exim.failures.run.clone();
        t.merge(self.postfix.failures.run.clone());
        t
    }

    /// Assembly counts (messages, orphan lines, incomplete messages).
    pub fn assembly(&self) -> assemble::AssemblyStats {
        let (a, b) = (self.exim.stats, self.postfix.stats);
        assemble::AssemblyStats {
            messages: a.messages + b.messages,
            orphan_lines: a.orphan_lines + b.orphan_lines,
            incomplete: a.incomplete + b.incomplete,
        }
    }

    /// Feeds one line (without its newline); `place` names it for the
    /// summary when it is not understood.
    pub fn line(
        &mut self,
        bytes: &[u8],
        place: impl FnOnce() -> String,
        out: &mut impl FnMut(Message),
    ) {
        self.line_at(bytes, 0, place, out)
    }

    /// As [`LogParser::line`], with the line's position in its file, which
    /// messages keep (see [`LogParser::oldest_open`]).
    pub fn line_at(
        &mut self,
        bytes: &[u8],
        offset: u64,
        place: impl FnOnce() -> String,
        out: &mut impl FnMut(Message),
    ) {
        let out = &mut settled(out);
        self.offset = offset;
        self.stats.lines += 1;
        let whole = bytes.len();
        let bytes = after_hole(bytes);
        if bytes.len() < whole {
            self.stats.holes += 1;
        }
        let bytes = match bytes.get(..MAX_LINE) {
            Some(head) if bytes.len() > MAX_LINE => {
                self.stats.cut_lines += 1;
                head
            }
            _ => bytes,
        };
        if let Some((copy, n)) = syslog_repeat(bytes) {
            self.repeated(bytes, &copy, n, place, out);
            return;
        }
        self.classify(bytes, place, out);
    }

    /// The copies a `message repeated N times` line stands for: each is
    /// read, and the line is counted once, as its first copy is.
    fn repeated(
        &mut self,
        line: &[u8],
        copy: &[u8],
        n: u32,
        place: impl FnOnce() -> String,
        out: &mut impl FnMut(Message),
    ) {
        self.stats.repeated += u64::from(n);
        let (samples, not_understood) = (self.stats.samples.len(), self.stats.not_understood);
        self.classify(copy, place, out);
        if self.stats.not_understood > not_understood {
            // Quoted as written, so that it can be found.
            let text: String = utf8(line)
                .trim_end_matches('\r')
                .chars()
                .take(300)
                .collect();
            if let Some(s) = self.stats.samples.get_mut(samples) {
                s.1.clone_from(&text);
            }
            if let Some(l) = &mut self.stats.latest {
                l.1 = text;
            }
        }
        let counted = (
            self.stats.understood,
            self.stats.ignored,
            self.stats.not_understood,
            self.stats.samples.len(),
            self.stats.latest.clone(),
        );
        for _ in 1..n {
            self.classify(copy, String::new, out);
        }
        let st = &mut self.stats;
        (st.understood, st.ignored, st.not_understood) = (counted.0, counted.1, counted.2);
        st.samples.truncate(counted.3);
        st.latest = counted.4;
    }

    /// One line, counted once as understood, ignored or not understood.
    #[inline(always)]
    fn classify(
        &mut self,
        bytes: &[u8],
        place: impl FnOnce() -> String,
        out: &mut impl FnMut(Message),
    ) {
        let text = utf8(bytes);
        let line = text.trim_end_matches('\r');
        if line.trim().is_empty() {
            self.stats.ignored += 1;
            self.hint = None;
            return;
        }
        // Exim continues a multi-line entry on lines that start with
        // whitespace (" Suggested action: use keep_environment.").
        if matches!(line.as_bytes()[0], b' ' | b'\t') && self.format == Some(Format::Exim) {
            self.stats.understood += 1;
            self.hint = None;
            return;
        }
        let understood = match self.format {
            Some(Format::Exim) => {
                self.exim_line(line, out)
                    || self.other_program(line)
                    || self.reject_copy(line)
                    || self.dovecot_own(line)
            }
            Some(Format::Postfix) => self.postfix_line(line, out) || self.dovecot_own(line),
            None => {
                if self.exim_line(line, out) {
                    // Its line set the format, unless it was the first part
                    // of one split for syslog.
                    if self.format.is_none() {
                        self.decide(Format::Exim);
                    }
                    true
                } else if self.postfix_line(line, out) {
                    // Postfix's own line set the format; another program's
                    // (dovecot's before Exim's, in a syslog file) says
                    // nothing of it.
                    true
                } else {
                    self.dovecot_own(line)
                }
            }
        };
        self.hint = None;
        if !understood {
            self.stats.not_understood += 1;
            let sample = (place(), line.chars().take(300).collect::<String>());
            if self.stats.samples.len() < SAMPLES {
                self.stats.samples.push(sample.clone());
            }
            self.stats.latest = Some(sample);
        }
    }

    /// A line another shard owns, or a `cwd=` line shard 0 counts (see
    /// [`shard`]): applies what every shard must share, counts nothing.
    /// `route` is what the router said of it: an Exim `<=` line matters
    /// only while a `cwd=` line waits. The clock does not move here: a
    /// shard sweeps at the lines the reader marks ([`LogParser::sweep_at`]).
    pub fn peek(&mut self, bytes: &[u8], route: shard::Route) {
        if let Some((copy, n)) = syslog_repeat(bytes) {
            for _ in 0..n {
                self.peek(&copy, route);
            }
            return;
        }
        let arrival = match route {
            shard::Route::Every => false,
            shard::Route::Shard { arrival: true, .. } => true,
            _ => return,
        };
        if self.format == Some(Format::Postfix) && !arrival {
            self.postfix_peek(bytes);
            return;
        }
        if self.format != Some(Format::Exim) {
            return;
        }
        let bytes = after_hole(bytes);
        // The parts of a split line are joined whether or not a `cwd=`
        // line waits now: one may wait by its last part.
        let split = time::exim_stamp_len(bytes).is_none();
        if !split && arrival && !self.exim.waits_for_arrival() {
            return;
        }
        let text = utf8(bytes);
        let Whole::Line(line) = self.whole(text.trim_end_matches('\r')) else {
            return;
        };
        let line = &*line;
        if arrival && !self.exim.waits_for_arrival() {
            return;
        }
        match self.exim_parse(line) {
            Some((mut l, zoned)) if !split || !self.second_copy(&l, line) => {
                l.at = self.utc(l.at, zoned);
                self.exim.peek(&l, line);
            }
            Some(_) => {}
            None if route == shard::Route::Every => {
                self.dovecot_failures(line, false);
            }
            None => {}
        }
        self.hint = None;
    }

    /// A Postfix line every shard reads (a failed login): see
    /// [`LogParser::peek`].
    fn postfix_peek(&mut self, bytes: &[u8]) {
        let text = utf8(after_hole(bytes));
        let line = text.trim_end_matches('\r');
        match self.postfix_head(line) {
            Ok(mut h) => {
                h.at = self.utc(h.at, time::syslog_zoned(line.as_bytes()));
                self.postfix.peek(&postfix::from_head(h), line);
            }
            Err(_) => {
                self.dovecot_failures(line, false);
            }
        }
        self.hint = None;
    }

    /// Moves the clock on a line as one thread would, and nothing else:
    /// for the reader of a split run, which routes lines and parses none
    /// ([`shard::Tagger`]). Returns the line's time when it starts a new
    /// hour of log time: every shard sweeps stale messages there
    /// ([`LogParser::sweep_at`]).
    pub fn clock(&mut self, bytes: &[u8], route: shard::Route) -> Option<Stamp> {
        self.line_fold = None;
        // The parts of an Exim line split for syslog tell its time at the
        // last, as one thread reads it.
        let parts = self.format == Some(Format::Exim) && time::exim_stamp_len(bytes).is_none();
        if !parts
            && bytes.get(..CLOCK_KEY) == Some(&self.clock_key[..])
            && offset_tail(bytes) == self.clock_tail
        {
            self.line_fold = self.clock_fold;
            return None; // the same second as the clock
        }
        let text = utf8(bytes);
        let Whole::Line(line) = self.whole(text.trim_end_matches('\r')) else {
            return None;
        };
        let line = &*line;
        let (at, zoned) = match self.format? {
            // A `cwd=` line without its `args:` moves no clock.
            Format::Exim if route == shard::Route::Every => {
                let (l, zoned) = self.exim_parse(line)?;
                (l.at, zoned)
            }
            Format::Exim => {
                let h = self.exim_head(line)?;
                // One thread reads no time from Dovecot's lines.
                if exim::is_dovecots(h.rest) {
                    return None;
                }
                (h.at, h.zoned)
            }
            Format::Postfix => (
                self.postfix_head(line).ok()?.at,
                time::syslog_zoned(line.as_bytes()),
            ),
        };
        let at = self.utc(at, zoned);
        self.clock_fold = (!zoned && self.zone.folded()).then_some(at);
        self.line_fold = self.clock_fold;
        let hour = self.swept_hour;
        self.sweep_at(at, &mut |_| {});
        // Only a reader's clock looks back at the line that moved it.
        if let Some(key) = line.as_bytes().get(..CLOCK_KEY) {
            self.clock_key.copy_from_slice(key);
            self.clock_tail = offset_tail(line.as_bytes());
        }
        (self.swept_hour != hour).then_some(at)
    }

    /// Moves the log's clock to `at`; once an hour of log time, sweeps out
    /// messages stale for days. Each line read here calls it, and a shard
    /// calls it where [`LogParser::clock`] found a sweep due at a line it
    /// is not given: stale messages are handed out as if that line had
    /// been read here. Nothing happens when this hour was swept already.
    pub fn sweep_at(&mut self, at: Stamp, out: &mut impl FnMut(Message)) {
        let out = &mut settled(out);
        self.last = Some(at);
        self.zone.saw(at.secs);
        let hour = at.secs.div_euclid(3600);
        if hour > self.swept_hour {
            self.swept_hour = hour;
            self.exim.sweep(at, out);
            self.postfix.sweep(at, out);
        }
        if let Some(idle) = self.settle_after {
            let minute = at.secs.div_euclid(60);
            if minute > self.settled_minute {
                self.settled_minute = minute;
                self.exim.settle(at, idle, out);
                self.postfix.settle(at, idle, out);
            }
        }
    }

    /// The log has been quiet: `at` is its last line's time plus the
    /// wall time since that line was read. Deferred messages idle for
    /// [`LogParser::settle_deferred`]'s seconds by then are handed out, as
    /// a new line at `at` would hand them out; a burst the remote side
    /// defers is judged even when nothing is logged after it. The clock
    /// does not move (the next line sets it), and this looks every time
    /// it is called, not once a minute: a quiet log costs little.
    pub fn idle_until(&mut self, at: Stamp, out: &mut impl FnMut(Message)) {
        let Some(idle) = self.settle_after else {
            return;
        };
        if self.last.is_none_or(|last| at <= last) {
            return;
        }
        let out = &mut settled(out);
        self.exim.settle(at, idle, out);
        self.postfix.settle(at, idle, out);
    }

    /// How many lines carried a time so far (each sets `stats.last`).
    pub fn stamped_lines(&self) -> u64 {
        self.stamped
    }

    fn seen(&mut self, at: Stamp) {
        if !self.pending.is_empty() {
            self.take_pending(Some(at));
        }
        self.stamped += 1;
        self.stats.first.get_or_insert(at);
        self.stats.last = Some(at);
    }

    /// An Exim line, from the main log or through syslog; a line dated by
    /// syslog alone (no year) months before the last is the new year's.
    /// Returns the line and whether its time carries its offset.
    fn exim_parse<'a>(&mut self, line: &'a str) -> Option<(exim::EximLine<'a>, bool)> {
        let h = self.exim_head(line)?;
        let l = exim::EximLine {
            at: h.at,
            pid: h.pid,
            event: exim::parse_event(h.rest)?,
        };
        Some((l, h.zoned))
    }

    fn exim_head<'a>(&mut self, line: &'a str) -> Option<exim::HeadIn<'a>> {
        let head = exim::parse_head_in(line, self.year)?;
        if let Some(last) = self.last
            && last.secs - head.at.secs > 180 * 86_400
            && head.by_syslog
            && !self.year_given
        {
            self.year += 1;
            return exim::parse_head_in(line, self.year);
        }
        Some(head)
    }

    /// `line` whole: an Exim line split for syslog is kept until its last
    /// part, then handed out joined. Lines of Exim's own log, and of other
    /// formats, are whole as they are.
    fn whole<'a>(&mut self, line: &'a str) -> Whole<'a> {
        if self.format == Some(Format::Postfix) {
            return Whole::Line(Cow::Borrowed(line));
        }
        let Some(p) = exim::syslog_part(line) else {
            return Whole::Line(Cow::Borrowed(line));
        };
        if p.i == 1 {
            if self.parts.len() >= MAX_JOINING {
                self.parts.clear();
            }
            // Room for two parts: `n` is the line's word, not a promise.
            let mut joined = String::with_capacity(p.head.len() + p.text.len() * 2);
            joined.push_str(p.head);
            joined.push_str(p.text);
            let j = Joining {
                line: joined,
                offset: self.offset,
                next: 2,
                cut: p.at_newline,
            };
            self.parts.insert(p.pid, j);
            return Whole::Part;
        }
        let Some(j) = self.parts.get_mut(&p.pid).filter(|j| j.next == p.i) else {
            self.parts.remove(&p.pid);
            return Whole::Stray;
        };
        if !j.cut {
            j.line.push_str(p.text);
        }
        // No longer than a line the parser reads (parts may keep coming).
        j.cut |= p.at_newline || j.line.len() >= MAX_LINE;
        j.next += 1;
        if p.i < p.n {
            return Whole::Part;
        }
        let Some(j) = self.parts.remove(&p.pid) else {
            return Whole::Stray;
        };
        // A restart from a message of this line reads its first part again.
        self.offset = j.offset;
        Whole::Line(Cow::Owned(j.line))
    }

    fn exim_line(&mut self, line: &str, out: &mut impl FnMut(Message)) -> bool {
        // Exim's own log, the line starting with its stamp: the hot path.
        if let Some((at, pid, rest)) = exim::parse_head(line) {
            let Some(event) = exim::parse_event(rest) else {
                return false;
            };
            let l = exim::EximLine { at, pid, event };
            return self.exim_event(l, line, time::exim_zoned(line.as_bytes()), out);
        }
        let line = match self.whole(line) {
            Whole::Line(l) => l,
            Whole::Part => {
                self.stats.understood += 1;
                return true;
            }
            Whole::Stray => return false,
        };
        let line = &*line;
        let Some((l, zoned)) = self.exim_parse(line) else {
            return false;
        };
        if self.second_copy(&l, line) {
            self.stats.understood += 1;
            return true;
        }
        self.exim_event(l, line, zoned, out)
    }

    /// Through syslog Exim writes a line meant for both its main and its
    /// reject log twice, one after the other (`syslog_duplication`, true
    /// by default): is `l` the second copy of a failed login? Pairs are
    /// taken apart, so two real failures alike to the second (and the
    /// source port) count as two. Only syslog lines are looked at: Exim's
    /// own log has one copy.
    fn second_copy(&mut self, l: &exim::EximLine<'_>, line: &str) -> bool {
        if !matches!(l.event, exim::Event::AuthFailed { .. }) {
            return false;
        }
        let text = line
            .find(" authenticator failed for ")
            .map_or(line, |i| &line[i..]);
        let key = (l.at, l.pid);
        match &self.syslog_failure {
            Some((k, t)) if *k == key && t == text => {
                self.syslog_failure = None;
                true
            }
            _ => {
                self.syslog_failure = Some((key, text.to_string()));
                false
            }
        }
    }

    fn exim_event(
        &mut self,
        mut l: exim::EximLine<'_>,
        line: &str,
        zoned: bool,
        out: &mut impl FnMut(Message),
    ) -> bool {
        l.at = self.utc(l.at, zoned);
        self.stats.understood += 1;
        if self.format.is_none() {
            self.decide(Format::Exim);
        }
        self.seen(l.at);
        self.exim.feed(&l, line, self.offset, out);
        self.sweep_at(l.at, out);
        true
    }

    /// The syslog part of a Postfix line. BSD syslog dates have no year: a
    /// jump back of months at one is the new year (a stamp that writes its
    /// year moves none). A split run's shards take the year from the
    /// reader instead ([`shard::Routed::feed`]).
    fn postfix_head<'a>(
        &mut self,
        line: &'a str,
    ) -> Result<postfix::Head<'a>, postfix::NotPostfix> {
        let head = postfix::parse_head(line, self.year)?;
        if let Some(last) = self.last
            && last.secs - head.at.secs > 180 * 86_400
            && !time::syslog_has_year(line.as_bytes())
            && !self.year_given
        {
            self.year += 1;
            return postfix::parse_head(line, self.year);
        }
        Ok(head)
    }

    /// Another program's line in a syslog file Exim writes to (dovecot,
    /// cron): ignored, as in a Postfix log.
    /// A header line of the copy Exim's reject log keeps of a refused
    /// message: Exim's own, used for nothing.
    fn reject_copy(&mut self, line: &str) -> bool {
        let copy = exim::reject_log_header(line);
        if copy {
            self.stats.understood += 1;
        }
        copy
    }

    fn other_program(&mut self, line: &str) -> bool {
        let other =
            postfix::syslog(line, self.year).is_some_and(|s| !s.program.starts_with("exim"));
        if other && self.dovecot_failures(line, true) {
            self.stats.understood += 1;
        } else if other {
            self.stats.ignored += 1;
            self.note_dropped(line);
        }
        other
    }

    /// A Dovecot login process's failed logins in the mail log
    /// ([`dovecot`]): kept, as the MTA's own are, for the logins after
    /// them, and counted when `count` (the reader that owns the line; a
    /// split run's other shards only keep them).
    fn dovecot_failures(&mut self, line: &str, count: bool) -> bool {
        // Most other programs' lines are no login failure: told without
        // parsing their syslog head a second time.
        if !dovecot::maybe_failed_login(line.as_bytes()) {
            return false;
        }
        let Some((at, zoned, text)) = self.dovecot_text(line) else {
            return false;
        };
        let Some(f) = dovecot::failed_login("dovecot", text) else {
            return false;
        };
        let at = self.utc(at, zoned);
        if let Some(shared) = self.shared.as_mut().filter(|_| count) {
            let f = dovecot::Logged {
                at,
                user: f.user.map(str::to_string),
                ip: f.ip,
                attempts: f.attempts,
                line: line.to_string(),
            };
            share(shared, f);
        }
        if let Some(captured) = &mut self.captured {
            captured.push(dovecot::Logged {
                at,
                user: f.user.map(str::to_string),
                ip: f.ip,
                attempts: f.attempts,
                line: line.to_string(),
            });
            return true;
        }
        let failures = match self.format {
            Some(Format::Exim) => &mut self.exim.failures,
            _ => &mut self.postfix.failures,
        };
        for _ in 0..f.attempts {
            if count {
                failures.count(f.user, f.ip, at, line, self.offset);
            } else {
                failures.note(f.user, f.ip, at, line, 0);
            }
        }
        true
    }

    /// The format, told by the first MTA line of a reader not given it:
    /// known before the failed logins waiting for that line's time are
    /// kept ([`LogParser::seen`]), and those kept before it (Dovecot's, in
    /// the same syslog file) go with it, so that the MTA's logins are told
    /// of them.
    fn decide(&mut self, format: Format) {
        self.format = Some(format);
        let (mine, other) = match format {
            Format::Exim => (&mut self.exim.failures, &mut self.postfix.failures),
            Format::Postfix => (&mut self.postfix.failures, &mut self.exim.failures),
        };
        if mine.is_empty() {
            std::mem::swap(mine, other);
        }
    }

    /// A Dovecot line's time (and whether it carries its offset) and its
    /// text from the process's name on: a syslog line of `dovecot`, or a
    /// line of Dovecot's own log ([`dovecot::own`]).
    fn dovecot_text<'a>(&self, line: &'a str) -> Option<(Stamp, bool, &'a str)> {
        if let Some((stamp, text)) = dovecot::own(line.as_bytes()) {
            let b = line.as_bytes();
            let (at, zoned) = match stamp {
                15 => (time::parse_syslog(b, self.year)?.0, false),
                _ => (time::parse_exim(b)?.0, time::exim_zoned(b)),
            };
            return Some((at, zoned, &line[line.len() - text.len()..]));
        }
        let s = postfix::syslog(line, self.year)?;
        (s.program == "dovecot").then(|| (s.at, time::syslog_zoned(line.as_bytes()), s.text))
    }

    /// A line of Dovecot's own log the MTA's reader was given (the
    /// daemon follows it as a login log, beside Exim's own): its failed
    /// logins are kept, its other lines ignored. Tried only on a line
    /// nothing else understood.
    fn dovecot_own(&mut self, line: &str) -> bool {
        if dovecot::own(line.as_bytes()).is_none() {
            return false;
        }
        if self.dovecot_failures(line, true) {
            self.stats.understood += 1;
        } else {
            self.stats.ignored += 1;
        }
        true
    }

    /// Counts the lines journald says it dropped of the MTA's and Dovecot's units (its
    /// notice comes with them when the journal is read by unit).
    fn note_dropped(&mut self, line: &str) {
        if !fields::has(line, "systemd-journald") {
            return;
        }
        let Some(s) = postfix::syslog(line, self.year) else {
            return;
        };
        let dropped = s
            .text
            .strip_prefix("Suppressed ")
            .and_then(|r| r.split_once(" messages from "))
            .filter(|(_, unit)| {
                unit.starts_with("postfix")
                    || unit.starts_with("exim")
                    || unit.starts_with("dovecot")
            });
        if s.program == "systemd-journald"
            && let Some((n, _)) = dropped
            && let Ok(n) = n.parse::<u64>()
        {
            self.stats.dropped += n;
        }
    }

    fn postfix_line(&mut self, line: &str, out: &mut impl FnMut(Message)) -> bool {
        match self.postfix_head(line) {
            Ok(mut h) => {
                h.at = self.utc(h.at, time::syslog_zoned(line.as_bytes()));
                let l = postfix::from_head(h);
                self.stats.understood += 1;
                if self.format.is_none() {
                    self.decide(Format::Postfix);
                }
                self.seen(l.at);
                self.postfix.feed(&l, line, self.offset, out);
                self.sweep_at(l.at, out);
                true
            }
            Err(postfix::NotPostfix::OtherProgram) => {
                if self.dovecot_failures(line, true) {
                    self.stats.understood += 1;
                } else {
                    self.stats.ignored += 1;
                    self.note_dropped(line);
                }
                true
            }
            Err(postfix::NotPostfix::Garbage) => false,
        }
    }

    /// Hands out every message still open; call at the end of the input.
    pub fn finish(&mut self, out: &mut impl FnMut(Message)) {
        self.take_pending(None);
        let out = &mut settled(out);
        self.exim.finish(out);
        self.postfix.finish(out);
    }
}

/// `out`, handed each message with its sender settled once all its lines
/// are in ([`Message::settle_forwarder`]).
fn settled(out: &mut impl FnMut(Message)) -> impl FnMut(Message) + '_ {
    move |mut m: Message| {
        m.settle_forwarder();
        out(m)
    }
}

#[cfg(test)]
mod mangled;

#[cfg(test)]
mod seeded;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message of `lines`, from a parser with or without details.
    fn messages(lines: &[&str], skip: bool) -> Vec<Message> {
        let mut p = LogParser::new(None, 2026);
        if skip {
            p.skip_details();
        }
        let mut out = Vec::new();
        for l in lines {
            p.line(l.as_bytes(), String::new, &mut |m| out.push(m));
        }
        p.finish(&mut |m| out.push(m));
        out
    }

    #[test]
    fn deferred_messages_are_settled_when_asked_and_their_retries_add_nothing() {
        let run = |lines: &[&str], settle: bool| {
            let mut p = LogParser::new(None, 2026);
            p.track_attempts();
            if settle {
                p.settle_deferred(120);
            }
            let mut out = Vec::new();
            for l in lines {
                p.line(l.as_bytes(), String::new, &mut |m| out.push(m));
            }
            let attempts = p.take_attempts().len();
            (out, p.assembly(), attempts)
        };
        let exim = [
            "2024-05-01 10:00:00 1rK001-000001-01 <= info@shop.example H=(pc) [203.0.113.5]:5000 P=esmtpsa A=dovecot_login:info@shop.example S=10 for a@gmail.example",
            "2024-05-01 10:00:01 1rK001-000001-01 == a@gmail.example R=dnslookup T=remote_smtp defer (-46) H=gmail-smtp-in.l.google.com [192.0.2.27]: SMTP error from remote mail server after end of data: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail",
            // Other mail moves the clock on.
            "2024-05-01 10:03:00 1rK002-000002-02 <= x@y.example H=(h) [203.0.113.9]:5000 P=esmtp S=10 for b@shop.example",
            // The retry, then the end.
            "2024-05-01 10:15:00 1rK001-000001-01 == a@gmail.example R=dnslookup T=remote_smtp defer (-46) H=gmail-smtp-in.l.google.com [192.0.2.27]: SMTP error from remote mail server after end of data: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail",
            "2024-05-01 10:45:00 1rK001-000001-01 => a@gmail.example R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [192.0.2.27] C=\"250 OK\"",
            "2024-05-01 10:45:00 1rK001-000001-01 Completed",
        ];
        let (out, asm, attempts) = run(&exim, true);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].recipients[0].outcome, Outcome::Deferred);
        assert!(!out[0].complete);
        assert_eq!((asm.orphan_lines, asm.incomplete), (0, 1));
        assert_eq!(attempts, 2, "the retry is still an answer from Gmail");
        // Without it, the message waits for its end.
        let (out, asm, _) = run(&exim, false);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].recipients[0].outcome, Outcome::Delivered);
        assert_eq!(asm.incomplete, 0);

        let postfix = [
            "May  1 10:00:00 mx postfix/submission/smtpd[9]: AAA111: client=pc[203.0.113.5], sasl_method=PLAIN, sasl_username=info@shop.example",
            "May  1 10:00:00 mx postfix/qmgr[3]: AAA111: from=<info@shop.example>, size=100, nrcpt=1 (queue active)",
            "May  1 10:00:01 mx postfix/smtp[5]: AAA111: to=<a@gmail.example>, relay=gmail-smtp-in.l.google.com[192.0.2.27]:25, delay=1, delays=0/0/0/1, dsn=4.7.28, status=deferred (host said: 421-4.7.28 unusual rate of unsolicited mail)",
            "May  1 10:03:00 mx postfix/pickup[4]: BBB222: uid=1000 from=<u@shop.example>",
            // The retry re-activates it: no new message.
            "May  1 10:05:01 mx postfix/qmgr[3]: AAA111: from=<info@shop.example>, size=100, nrcpt=1 (queue active)",
            "May  1 10:05:02 mx postfix/smtp[5]: AAA111: to=<a@gmail.example>, relay=gmail-smtp-in.l.google.com[192.0.2.27]:25, delay=300, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
            "May  1 10:05:02 mx postfix/qmgr[3]: AAA111: removed",
            // The id again, days later: another message.
            "May  4 10:00:00 mx postfix/smtpd[9]: AAA111: client=mx.out.example[203.0.113.8]",
            "May  4 10:00:00 mx postfix/qmgr[3]: AAA111: from=<z@out.example>, size=100, nrcpt=1 (queue active)",
            "May  4 10:00:01 mx postfix/local[6]: AAA111: to=<u@shop.example>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)",
            "May  4 10:00:01 mx postfix/qmgr[3]: AAA111: removed",
        ];
        let (out, asm, attempts) = run(&postfix, true);
        let got: Vec<(String, bool)> = out
            .iter()
            .map(|m| (m.sender.to_string(), m.complete))
            .collect();
        assert_eq!(
            got,
            [
                ("auth:info@shop.example".to_string(), false),
                ("ip:203.0.113.8".to_string(), true)
            ],
            "{out:#?}"
        );
        assert_eq!((asm.orphan_lines, attempts), (0, 1));
    }

    #[test]
    fn a_quiet_log_settles_deferred_mail_by_the_time_that_passed() {
        // The burst's last message is deferred and nothing is logged after
        // it: the daemon's wall clock says how long the log was quiet.
        let lines = [
            "2024-05-01 10:00:00 1rK001-000001-01 <= info@shop.example H=(pc) [203.0.113.5]:5000 P=esmtpsa A=dovecot_login:info@shop.example S=10 for a@gmail.example",
            "2024-05-01 10:00:01 1rK001-000001-01 == a@gmail.example R=dnslookup T=remote_smtp defer (-46) H=gmail-smtp-in.l.google.com [192.0.2.27]: SMTP error from remote mail server after end of data: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail",
            "2024-05-01 10:00:02 1rK003-000003-03 <= info@shop.example H=(pc) [203.0.113.5]:5000 P=esmtpsa A=dovecot_login:info@shop.example S=10 for c@gmail.example",
        ];
        let mut p = LogParser::new(None, 2026);
        let mut out = Vec::new();
        for l in lines {
            p.line(l.as_bytes(), String::new, &mut |m| out.push(m));
        }
        let last = p.stats.last.unwrap();
        let after = |secs: i64| Stamp {
            secs: last.secs + secs,
            millis: 0,
        };
        // Not asked to settle: nothing, however long the quiet.
        p.idle_until(after(3_600), &mut |m| out.push(m));
        assert!(out.is_empty());
        p.settle_deferred(120);
        p.idle_until(after(100), &mut |m| out.push(m));
        assert!(out.is_empty(), "{out:#?}");
        p.idle_until(after(125), &mut |m| out.push(m));
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].id, "1rK001-000001-01");
        assert_eq!(out[0].recipients[0].outcome, Outcome::Deferred);
        // The clock did not move: a line from before the quiet's end is
        // still read in order, and the message not yet tried waits on.
        assert_eq!(p.stats.last, Some(last));
        p.idle_until(after(600), &mut |m| out.push(m));
        assert_eq!(out.len(), 1);
        assert_eq!(p.open_messages(), 1);
    }

    #[test]
    fn mail_from_outside_sent_on_by_a_forward_is_the_forwards() {
        let postfix = |q: &str, client: &str, sasl: &str, orig: &str, relay: &str| {
            [
                format!("Mar  1 10:00:00 mx postfix/smtpd[9]: {q}: client={client}{sasl}"),
                format!(
                    "Mar  1 10:00:00 mx postfix/qmgr[3]: {q}: from=<x@outside.example>, size=100, nrcpt=1 (queue active)"
                ),
                format!(
                    "Mar  1 10:00:01 mx postfix/smtp[5]: {q}: to=<me@gmail.example>, orig_to=<{orig}>, relay={relay}, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)"
                ),
                format!("Mar  1 10:00:01 mx postfix/qmgr[3]: {q}: removed"),
            ]
        };
        let gmail = "gmail-smtp-in.l.google.com[192.0.2.27]:25";
        let mut lines = Vec::new();
        // From outside to an alias sent on to Gmail: the alias's.
        lines.extend(postfix(
            "AAA001",
            "mx.out.example[203.0.113.5]",
            "",
            "Info@Shop.example",
            gmail,
        ));
        // An authenticated user writing to the alias: still theirs.
        lines.extend(postfix(
            "AAA002",
            "pc[203.0.113.6]",
            ", sasl_method=PLAIN, sasl_username=bob@shop.example",
            "info@shop.example",
            gmail,
        ));
        // From this server itself (a content filter's copy): not settled here.
        lines.extend(postfix(
            "AAA003",
            "localhost[127.0.0.1]",
            "",
            "info@shop.example",
            gmail,
        ));
        // Relayed to another host as addressed (no forward): the client's.
        lines.extend(postfix(
            "AAA004",
            "mx.out.example[203.0.113.5]",
            "",
            "me@gmail.example",
            gmail,
        ));
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let senders: Vec<String> = messages(&lines, true)
            .iter()
            .map(|m| m.sender.to_string())
            .collect();
        assert_eq!(
            senders,
            [
                "forward:info@shop.example",
                "auth:bob@shop.example",
                "from:x@outside.example",
                "ip:203.0.113.5"
            ]
        );
        // Exim: `=> final <original>` to another host, cPanel's forwarder.
        let exim = [
            "2024-05-01 10:00:00 1rK001-000001-01 <= x@outside.example H=mx.out.example [203.0.113.5]:25 P=esmtp S=10 for info@shop.example",
            "2024-05-01 10:00:01 1rK001-000001-01 => me@gmail.example <info@shop.example> R=dkim_lookuphost T=dkim_remote_forwarded_smtp H=gmail-smtp-in.l.google.com [192.0.2.27] C=\"250 OK\"",
            "2024-05-01 10:00:01 1rK001-000001-01 Completed",
            // Delivered here through the alias: no forward, not outbound.
            "2024-05-01 10:00:02 1rK002-000002-02 <= x@outside.example H=mx.out.example [203.0.113.5]:25 P=esmtp S=10 for info@shop.example",
            "2024-05-01 10:00:02 1rK002-000002-02 => owner <info@shop.example> R=virtual_user T=dovecot_virtual_delivery C=\"250 saved\"",
            "2024-05-01 10:00:02 1rK002-000002-02 Completed",
        ];
        let out = messages(&exim, true);
        assert_eq!(out[0].sender.to_string(), "forward:info@shop.example");
        assert!(out[0].recipients[0].forwarded);
        assert_eq!(out[1].sender.to_string(), "ip:203.0.113.5");
        assert!(!out[1].recipients[0].forwarded);
    }

    #[test]
    fn postfix_mail_that_outlived_the_queue_bounces() {
        let lines = [
            "May  1 00:00:01 mx postfix/submission/smtpd[100]: 4A3B2C1D0E: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=a@b.example",
            "May  1 00:00:01 mx postfix/qmgr[103]: 4A3B2C1D0E: from=<a@b.example>, size=4200, nrcpt=2 (queue active)",
            "May  1 00:00:02 mx postfix/smtp[104]: 4A3B2C1D0E: to=<y@d.example>, relay=mx.d.example[198.51.100.9]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)",
            "May  1 00:00:02 mx postfix/smtp[104]: 4A3B2C1D0E: to=<z@d.example>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.d.example[198.51.100.9]:25: Connection timed out)",
            "May  1 01:06:02 mx postfix/smtp[104]: 4A3B2C1D0E: to=<z@d.example>, relay=none, delay=3961, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.d.example[198.51.100.9]:25: Connection timed out)",
            "May  1 02:12:00 mx postfix/qmgr[103]: 4A3B2C1D0E: from=<a@b.example>, status=expired, returned to sender",
            "May  1 02:12:00 mx postfix/qmgr[103]: 4A3B2C1D0E: removed",
        ];
        let out = messages(&lines, true);
        assert_eq!(out.len(), 1);
        let m = &out[0];
        assert!(m.complete);
        let fates: Vec<Outcome> = m.recipients.iter().map(|r| r.outcome).collect();
        assert_eq!(fates, [Outcome::Delivered, Outcome::Bounced]);
        assert!(
            m.recipients[1]
                .reply
                .as_deref()
                .unwrap()
                .contains("Connection timed out")
        );
    }

    #[test]
    fn postfixs_own_notices_are_marked_as_bounces() {
        let lines = [
            "Mar  1 10:00:00 mx postfix/smtpd[9]: AAA111: client=unknown[203.0.113.5]",
            "Mar  1 10:00:00 mx postfix/qmgr[3]: AAA111: from=<forged@victim.example>, size=100, nrcpt=1 (queue active)",
            "Mar  1 10:00:00 mx postfix/local[5]: AAA111: to=<nobody@shop.example>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=5.1.1, status=bounced (unknown user: \"nobody\")",
            "Mar  1 10:00:00 mx postfix/cleanup[4]: BBB222: message-id=<20240301100000.BBB222@mx.shop.example>",
            "Mar  1 10:00:00 mx postfix/bounce[6]: AAA111: sender non-delivery notification: BBB222",
            "Mar  1 10:00:00 mx postfix/qmgr[3]: BBB222: from=<>, size=2000, nrcpt=1 (queue active)",
            "Mar  1 10:00:00 mx postfix/qmgr[3]: AAA111: removed",
            "Mar  1 10:00:01 mx postfix/smtp[7]: BBB222: to=<forged@victim.example>, relay=mx.victim.example[198.51.100.7]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 OK)",
            "Mar  1 10:00:01 mx postfix/qmgr[3]: BBB222: removed",
            // A null sender from a client is someone's mail.
            "Mar  1 10:00:02 mx postfix/smtpd[9]: CCC333: client=mx.other.example[198.51.100.8]",
            "Mar  1 10:00:02 mx postfix/qmgr[3]: CCC333: from=<>, size=100, nrcpt=1 (queue active)",
            "Mar  1 10:00:02 mx postfix/qmgr[3]: CCC333: removed",
        ];
        let got: Vec<(String, Option<String>)> = messages(&lines, true)
            .into_iter()
            .map(|m| (m.id, m.bounce_of))
            .collect();
        assert_eq!(
            got,
            [
                ("AAA111".into(), None),
                ("BBB222".into(), Some(String::new())),
                ("CCC333".into(), None)
            ]
        );
    }

    #[test]
    fn a_content_filters_queue_id_is_kept_and_a_remote_ones_is_not() {
        let lines = [
            "Mar  1 10:00:00 mx postfix/qmgr[3]: C00001: from=<a@shop.example>, size=1, nrcpt=1 (queue active)",
            "Mar  1 10:00:00 mx postfix/smtp[7]: C00001: to=<r@dest.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.4, delays=0.1/0/0/0.3, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as D00001)",
            "Mar  1 10:00:00 mx postfix/qmgr[3]: C00001: removed",
            "Mar  1 10:00:01 mx postfix/qmgr[3]: C00002: from=<a@shop.example>, size=1, nrcpt=1 (queue active)",
            "Mar  1 10:00:01 mx postfix/smtp[7]: C00002: to=<r@dest.example>, relay=mx.dest.example[198.51.100.4]:25, delay=0.4, delays=0.1/0/0/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9EFE470001)",
            "Mar  1 10:00:01 mx postfix/qmgr[3]: C00002: removed",
        ];
        let got: Vec<Option<String>> = messages(&lines, true)
            .into_iter()
            .map(|m| m.relayed_as)
            .collect();
        assert_eq!(got, [Some("D00001".to_string()), None]);
        assert_eq!(
            postfix::queued_as("250 2.0.0 Ok: queued as 3F4C52C1C5"),
            Some("3F4C52C1C5")
        );
        assert_eq!(postfix::queued_as("250 2.0.0 Ok"), None);
    }

    #[test]
    fn skipped_details_change_nothing_else() {
        let exim = [
            "2026-03-01 10:00:00 1rK000-000000-01 <= a@shop.example H=(x) [203.0.113.5]:5000 P=esmtpa A=login:a@shop.example S=900 id=m1@shop.example T=\"Offer \\\"now\\\"\" for r1@gmail.example r2@yahoo.example r3@local.example",
            "2026-03-01 10:00:01 1rK000-000000-01 == r1@gmail.example R=lookuphost T=remote_smtp defer (-44) H=mx.gmail.example [198.51.100.1]: SMTP error from remote mail server after RCPT TO:<r1@gmail.example>: 421-4.7.28 unusual rate of unsolicited mail",
            "2026-03-01 10:00:02 1rK000-000000-01 ** r2@yahoo.example R=lookuphost T=remote_smtp H=mx.yahoo.example [198.51.100.2]: SMTP error from remote mail server after RCPT TO:<r2@yahoo.example>: 550 5.1.1 user unknown",
            "2026-03-01 10:00:03 1rK000-000000-01 => r3@local.example R=local_user T=local_delivery",
            "2026-03-01 10:05:00 1rK000-000000-01 => r1@gmail.example R=lookuphost T=remote_smtp H=mx.gmail.example [198.51.100.1] C=\"250 2.0.0 OK\"",
            "2026-03-01 10:05:00 1rK000-000000-01 Completed",
        ];
        let postfix = [
            "Mar  1 10:00:00 mx postfix/smtpd[9]: 1DBB4A7FD: client=x[203.0.113.5], sasl_method=LOGIN, sasl_username=a@shop.example",
            "Mar  1 10:00:00 mx postfix/cleanup[8]: 1DBB4A7FD: message-id=<m1@shop.example>",
            "Mar  1 10:00:00 mx postfix/qmgr[3]: 1DBB4A7FD: from=<a@shop.example>, size=900, nrcpt=3 (queue active)",
            "Mar  1 10:00:01 mx postfix/smtp[7]: 1DBB4A7FD: to=<r1@gmail.example>, relay=mx.gmail.example[198.51.100.1]:25, delay=1, delays=0/0/0/1, dsn=4.7.28, status=deferred (host mx.gmail.example[198.51.100.1] said: 421-4.7.28 unusual rate of unsolicited mail)",
            "Mar  1 10:00:02 mx postfix/smtp[7]: 1DBB4A7FD: to=<r2@yahoo.example>, relay=mx.yahoo.example[198.51.100.2]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.yahoo.example[198.51.100.2] said: 550 5.1.1 user unknown)",
            "Mar  1 10:05:00 mx postfix/smtp[7]: 1DBB4A7FD: to=<r1@gmail.example>, relay=mx.gmail.example[198.51.100.1]:25, delay=300, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 OK)",
            "Mar  1 10:05:00 mx postfix/qmgr[3]: 1DBB4A7FD: removed",
        ];
        for lines in [&exim[..], &postfix[..]] {
            let (full, lean) = (messages(lines, false), messages(lines, true));
            assert_eq!(full.len(), 1);
            assert!(full[0].subject.is_some() || full[0].message_id.is_some());
            assert!(
                full[0]
                    .recipients
                    .iter()
                    .any(|r| r.outcome == Outcome::Delivered)
            );
            // What the skip drops, dropped from the full messages too.
            let cleared = |mut m: Message| {
                (m.protocol, m.subject, m.message_id) = (None, None, None);
                for r in &mut m.recipients {
                    if r.outcome == Outcome::Delivered {
                        (r.host, r.reply) = (None, None);
                    }
                }
                m
            };
            let lean: Vec<Message> = lean.into_iter().map(cleared).collect();
            assert_eq!(full.into_iter().map(cleared).collect::<Vec<_>>(), lean);
            // A failure keeps its reply and host.
            let bounced = lean[0]
                .recipients
                .iter()
                .find(|r| r.outcome == Outcome::Bounced);
            assert!(bounced.unwrap().reply.as_deref().unwrap().contains("5.1.1"));
        }
    }

    #[test]
    fn detects_format_and_quotes_garbage() {
        let mut p = LogParser::new(None, 2026);
        let mut msgs = Vec::new();
        for (i, l) in [
            "garbage before anything",
            "Mar  1 10:00:00 mx postfix/qmgr[3]: 1DBB4A7FD: from=<a@b>, size=1, nrcpt=1 (queue active)",
            "Mar  1 10:00:00 mx dovecot: imap-login: Login: user=<a>",
            "",
            "\u{fffd}\u{fffd} binary junk",
            "Mar  1 10:00:01 mx postfix/qmgr[3]: 1DBB4A7FD: removed",
        ]
        .iter()
        .enumerate()
        {
            p.line(l.as_bytes(), || format!("t:{}", i + 1), &mut |m| msgs.push(m));
        }
        assert_eq!(p.format(), Some(Format::Postfix));
        assert_eq!(p.stats.lines, 6);
        assert_eq!(p.stats.understood, 2);
        assert_eq!(p.stats.ignored, 2);
        assert_eq!(p.stats.not_understood, 2);
        assert_eq!(
            p.stats.samples[0],
            ("t:1".to_string(), "garbage before anything".to_string())
        );
        assert_eq!(msgs.len(), 1);
    }

    #[test]
    fn exim_through_syslog_is_read_as_its_main_log() {
        // `log_file_path = syslog`: another program's line first, then
        // Exim's with its own stamp, and without (`syslog_timestamp =
        // false`, dated by syslog); the tag's pid ties the script to its
        // submission as `+pid` does.
        let lines = [
            "Nov 28 10:00:00 web dovecot[900]: imap-login: Login: user=<a@shop.example>",
            "Nov 28 10:00:01 web exim[4101]: 2026-11-28 10:00:01 cwd=/home/shop/public_html/wp-content/uploads 3 args: /usr/sbin/sendmail -t -i",
            "Nov 28 10:00:01 web exim[4102]: 2026-11-28 10:00:01 cwd=/home/other/public_html 3 args: /usr/sbin/sendmail -t -i",
            "Nov 28 10:00:01 web exim[4101]: 2026-11-28 10:00:01 1rK001-000001-01 <= shop@shop.example U=shop P=local S=900 for a@gmail.example",
            "Nov 28 10:00:02 web exim[4103]: 1rK001-000001-01 => a@gmail.example R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [192.0.2.27] C=\"250 OK\"",
            "Nov 28 10:00:02 web exim[4103]: 1rK001-000001-01 Completed",
            "Nov 28 10:00:03 web exim[4104]: [4104] 1rK002-000002-02 <= x@y.example H=(h) [203.0.113.9]:5000 P=esmtp S=10 for b@shop.example",
        ];
        let mut p = LogParser::new(None, 2026);
        let mut out = Vec::new();
        for l in lines {
            p.line(l.as_bytes(), String::new, &mut |m| out.push(m));
        }
        p.finish(&mut |m| out.push(m));
        assert_eq!(p.format(), Some(Format::Exim));
        assert_eq!(
            (p.stats.understood, p.stats.ignored, p.stats.not_understood),
            (6, 1, 0)
        );
        let m = &out[0];
        assert_eq!(
            m.sender.to_string(),
            "script:/home/shop/public_html/wp-content/uploads"
        );
        assert!(m.complete);
        assert_eq!(m.recipients[0].outcome, Outcome::Delivered);
        let t = |s: &str| time::parse_exim(s.as_bytes()).unwrap().0;
        assert_eq!(m.received, t("2026-11-28 10:00:01"));
        assert_eq!(m.recipients[0].at, t("2026-11-28 10:00:02"));
        assert_eq!(out[1].sender.to_string(), "ip:203.0.113.9");
    }

    #[test]
    fn a_failed_login_exim_wrote_twice_to_syslog_counts_once() {
        // Main and reject log copies of each failure, one after the other;
        // the last two are two real failures alike to the second (one
        // connection), each written twice. In Exim's own log two lines
        // alike are two failures.
        let fail = |port: u32| {
            format!(
                "2026-11-28 10:00:01 plain authenticator failed for (x) [198.51.100.7]:{port}: 535 Incorrect authentication data (set_id=info@shop.example)"
            )
        };
        let login = "2026-11-28 10:00:02 1rK001-000001-01 <= a@shop.example H=(x) [192.0.2.8]:5 P=esmtpa A=plain:info@shop.example S=10 for r@example.net";
        let syslog = |text: &str| format!("Nov 28 10:00:01 web exim[4101]: {text}");
        let mut through = Vec::new();
        for port in [1000, 1000, 2000, 2000, 3000, 3000, 3000, 3000] {
            through.push(syslog(&fail(port)));
        }
        through.push(syslog(login));
        let own: Vec<String> = [1000, 3000, 3000]
            .iter()
            .map(|&p| fail(p))
            .chain([login.to_string()])
            .collect();
        for (lines, count) in [(through, 4), (own, 3)] {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let out = messages(&lines, false);
            let f = out[0].failed_logins.as_ref().unwrap();
            assert_eq!(f.count, count, "{lines:#?}");
        }
    }

    /// A daemon following Dovecot's own log beside Exim's (cPanel) hands
    /// the failures of one reader to the other: the login after them is
    /// told of them, they count once (in the log that holds them), and a
    /// snapshot of the Exim reader leaves them out, so that a restart,
    /// which shares them again from the login log's own snapshot, does not
    /// count them twice.
    #[test]
    fn failed_logins_shared_by_a_login_log_name_the_login_after_them() {
        let fail = |n: u32| {
            format!(
                "2026-11-28T10:00:0{n}.000000+00:00 web dovecot: imap-login: Disconnected (auth failed, 4 attempts in 9 secs): user=<info@shop.example>, method=PLAIN, rip=198.51.100.{n}, lip=192.0.2.1"
            )
        };
        let mut logins = LogParser::new(None, 2026);
        logins.share_failures();
        for n in 1..=3 {
            logins.line(fail(n).as_bytes(), String::new, &mut |_| {});
        }
        assert_eq!(logins.failed_login_count(), 12);
        let shared = logins.take_shared();
        assert_eq!(shared.iter().map(|f| f.attempts).sum::<u32>(), 12);
        assert!(logins.take_shared().is_empty(), "taken once");

        let login = |n: u32, secs: u32| {
            format!(
                "2026-11-28 10:00:{secs:02} 1rK00{n}-000001-01 <= a@shop.example H=(x) [192.0.2.8]:5 P=esmtpa A=plain:info@shop.example S=10 for r@example.net"
            )
        };
        let mut exim = LogParser::new(Some(Format::Exim), 2026);
        // One login before the guesses, one after.
        let mut out = Vec::new();
        exim.line(login(1, 0).as_bytes(), String::new, &mut |m| out.push(m));
        exim.note_shared(shared.clone());
        exim.line(login(2, 30).as_bytes(), String::new, &mut |m| out.push(m));
        exim.finish(&mut |m| out.push(m));
        out.sort_by_key(|m| m.received);
        assert!(out[0].failed_logins.is_none());
        let f = out[1].failed_logins.as_ref().expect("told of the guesses");
        assert_eq!((f.count, f.ips), (12, 3));
        assert_eq!(f.line, fail(3));
        assert_eq!(exim.failed_login_count(), 0, "counted where they were read");
        assert!(exim.save_logins(u64::MAX - 1).failures().is_empty());

        // The login log's snapshot (before a place past every line) holds
        // them, and a new login log reader given it back shares them again.
        let saved = logins.save_logins(u64::MAX - 1);
        assert_eq!(saved.failures().len(), 12);
        let mut again = LogParser::new(None, 2026);
        again.share_failures();
        again.restore_logins(saved);
        let shared_again = again.take_shared();
        assert_eq!(shared_again.len(), 12);
        assert_eq!(
            shared_again.last().map(|f| f.at),
            shared.last().map(|f| f.at)
        );

        // Shared failures waiting for a quiet log's clock stay bounded.
        let mut quiet = LogParser::new(Some(Format::Exim), 2026);
        let many: Vec<dovecot::Logged> = (0..MAX_SHARED + 10)
            .map(|i| dovecot::Logged {
                at: Stamp {
                    secs: i as i64,
                    millis: 0,
                },
                ..shared[0].clone()
            })
            .collect();
        quiet.note_shared(many.clone());
        assert_eq!(quiet.pending.len(), MAX_SHARED);
        assert_eq!(quiet.pending.front().map(|(f, _)| f.at.secs), Some(10));
        // A batch older than those waiting (a snapshot shared again)
        // goes in time order.
        let mut mixed = LogParser::new(Some(Format::Exim), 2026);
        let at = |secs| dovecot::Logged {
            at: Stamp { secs, millis: 0 },
            ..shared[0].clone()
        };
        mixed.note_shared(vec![at(50), at(60)]);
        mixed.note_shared(vec![at(10), at(55), at(70)]);
        let order: Vec<i64> = mixed.pending.iter().map(|(f, _)| f.at.secs).collect();
        assert_eq!(order, [10, 50, 55, 60, 70]);
        // And those a login log shares, read whole at once (out of order
        // here), stay bounded, the newest kept.
        let mut out = Vec::new();
        let total = 2 * MAX_SHARED as i64 + 10;
        for secs in (0..total).rev() {
            let at = Stamp { secs, millis: 0 };
            share(
                &mut out,
                dovecot::Logged {
                    at,
                    ..many[0].clone()
                },
            );
            assert!(out.len() <= 2 * MAX_SHARED);
        }
        keep_newest(&mut out, MAX_SHARED);
        assert_eq!(out.len(), MAX_SHARED);
        assert_eq!(out.last().map(|f| f.at.secs), Some(total - 1));
    }

    /// A login log read first (`logs analyze mail.log dovecot.log`) whose
    /// failures all come before the mail log's first line: a reader not
    /// yet told its format keeps them for Postfix's logins when that first
    /// line is Postfix's (they went to Exim's, and the login after them
    /// was not told of them).
    #[test]
    fn failures_before_a_postfix_logs_first_line_name_its_login() {
        let mut logins = LogParser::new(None, 2026);
        logins.capture_failures();
        for n in 1..=3 {
            let line = format!(
                "Nov 28 10:00:0{n} imap-login: Info: Disconnected (auth failed, 4 attempts in 9 secs): user=<info@shop.example>, method=PLAIN, rip=198.51.100.{n}, lip=192.0.2.1"
            );
            logins.line(line.as_bytes(), String::new, &mut |_| {});
        }
        assert_eq!(logins.stats.understood, 3);
        let failures = logins.take_captured();
        assert_eq!(failures.iter().map(|f| f.attempts).sum::<u32>(), 12);

        let mut postfix = LogParser::new(None, 2026);
        postfix.add_failures(failures, true);
        let mut out = Vec::new();
        for line in [
            "Nov 28 10:00:09 mx postfix/smtpd[1]: 4AB0001: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=info@shop.example",
            "Nov 28 10:00:09 mx postfix/qmgr[2]: 4AB0001: from=<info@shop.example>, size=900, nrcpt=1 (queue active)",
            "Nov 28 10:00:09 mx postfix/smtp[3]: 4AB0001: to=<a@dest.example>, relay=mx.dest.example[198.51.100.20]:25, delay=0.2, delays=0/0/0.1/0.1, dsn=2.0.0, status=sent (250 OK)",
            "Nov 28 10:00:09 mx postfix/qmgr[2]: 4AB0001: removed",
        ] {
            postfix.line(line.as_bytes(), String::new, &mut |m| out.push(m));
        }
        postfix.finish(&mut |m| out.push(m));
        assert_eq!(postfix.format(), Some(Format::Postfix));
        let f = out[0].failed_logins.as_ref().expect("told of the guesses");
        assert_eq!((f.count, f.ips), (12, 3));
        assert_eq!(postfix.failed_login_count(), 12);
    }

    /// A syslog file whose first lines are Dovecot's guesses and whose
    /// MTA, Exim through syslog, shows up after them: read by a reader not
    /// told the format, the guesses are kept for Exim's logins (they were
    /// kept for Postfix's, and the login after them was not told of them).
    #[test]
    fn dovecots_guesses_before_the_first_exim_line_name_its_login() {
        let mut lines: Vec<String> = (1..=3)
            .map(|n| format!("Nov 28 10:00:0{n} web dovecot[900]: imap-login: Disconnected (auth failed, 4 attempts in 9 secs): user=<info@shop.example>, method=PLAIN, rip=198.51.100.{n}, lip=192.0.2.1"))
            .collect();
        lines.push("Nov 28 10:00:09 web exim[4101]: 2026-11-28 10:00:09 1rK001-000001-01 <= info@shop.example H=(pc) [203.0.113.9]:5000 P=esmtpsa A=dovecot_login:info@shop.example S=900 for a@dest.example".into());
        let mut p = LogParser::new(None, 2026);
        let mut out = Vec::new();
        for l in &lines {
            p.line(l.as_bytes(), String::new, &mut |m| out.push(m));
        }
        p.finish(&mut |m| out.push(m));
        assert_eq!(p.format(), Some(Format::Exim));
        assert_eq!(p.failed_login_count(), 12);
        let f = out[0].failed_logins.as_ref().expect("told of the guesses");
        assert_eq!((f.count, f.ips), (12, 3));
    }

    /// Dovecot's own log (`log_path`), stamped its default way or as Exim
    /// stamps, given to the MTA's reader (the daemon follows it beside
    /// Exim's main log): its failures are kept, its other lines ignored,
    /// none is taken for the MTA's, and the shards route its failures to
    /// every shard.
    #[test]
    fn dovecots_own_log_is_read_for_its_failed_logins() {
        for stamp in ["Nov 28 10:00:01", "2026-11-28 10:00:01"] {
            for format in [None, Some(Format::Exim), Some(Format::Postfix)] {
                let mut p = LogParser::new(format, 2026);
                let lines = [
                    format!(
                        "{stamp} master: Info: Dovecot v2.3.19.1 (9b53102964) starting up for imap (core dumps disabled)"
                    ),
                    format!(
                        "{stamp} imap-login: Info: Login: user=<owner@site.example>, method=PLAIN, rip=192.0.2.50, lip=192.0.2.1, mpid=7, session=<a>"
                    ),
                    format!(
                        "{stamp} imap-login: Info: Disconnected: Aborted login by logging out (auth failed, 4 attempts in 2 secs): user=<info@shop.example>, method=PLAIN, rip=127.0.100.1, lip=127.0.0.1, session=<b>"
                    ),
                    format!(
                        "{stamp} imap(owner@site.example)<7><a>: Info: Disconnected: Logged out in=8 out=468"
                    ),
                ];
                for l in &lines {
                    p.line(l.as_bytes(), String::new, &mut |_| {});
                }
                let what = format!("{stamp} {format:?}");
                assert_eq!(p.stats.not_understood, 0, "{what}");
                assert_eq!((p.stats.understood, p.stats.ignored), (1, 3), "{what}");
                assert_eq!(p.failed_login_count(), 4, "{what}");
                assert!(p.stats.first.is_none(), "no MTA line: {what}");
                assert_eq!(p.format(), format, "{what}");
                assert!(dovecot::is_dovecots(lines[0].as_bytes()), "{what}");
                assert!(!dovecot::is_mtas(lines[2].as_bytes()), "{what}");
                for f in [Format::Exim, Format::Postfix] {
                    let r = shard::Router::new(f, 2);
                    assert_eq!(r.route(lines[2].as_bytes()), shard::Route::Every, "{what}");
                }
            }
        }
    }

    /// journald's notice of lines it dropped counts for the units a mail
    /// log is read from: the MTA's and Dovecot's (its failed logins).
    #[test]
    fn lines_journald_dropped_count_for_mail_units_only() {
        let mut p = LogParser::new(Some(Format::Postfix), 2026);
        for (unit, n) in [
            ("postfix@-.service", 5),
            ("dovecot.service", 7),
            ("exim4.service", 11),
            ("sshd.service", 1000),
        ] {
            let line = format!(
                "2026-11-28T10:00:00.000000Z mx systemd-journald[310]: Suppressed {n} messages from {unit}"
            );
            p.line(line.as_bytes(), String::new, &mut |_| {});
        }
        assert_eq!(p.stats.dropped, 23);
    }

    #[test]
    fn a_line_exim_split_for_syslog_is_joined_again() {
        // A message to 60 recipients: Exim sends its `<=` line to syslog in
        // parts of 870 characters, `[1/2] …`, `[2/2] …`; another process's
        // line comes between them. A part whose first part was not read is
        // not understood, and nothing else is lost.
        let rcpts: Vec<String> = (0..60)
            .map(|i| format!("rcpt{i:02}@gmail.example"))
            .collect();
        let arrival = format!(
            "2026-11-28 10:00:01 1rK001-000001-01 <= info@shop.example H=(pc) [203.0.113.5]:5000 P=esmtpsa A=dovecot_login:info@shop.example S=1000 T=\"Offer\" for {}",
            rcpts.join(" ")
        );
        assert!(arrival.len() > 870);
        let head = "Nov 28 10:00:01 web exim[4101]: ";
        let (a, b) = arrival.split_at(870);
        let lines = [
            format!("{head}[1/2] {a}"),
            "Nov 28 10:00:01 web exim[4102]: 2026-11-28 10:00:01 SMTP connection from [198.51.100.1]:4000".to_string(),
            format!("{head}[2/2] {b}"),
            "Nov 28 10:00:02 web exim[4103]: 2026-11-28 10:00:02 1rK001-000001-01 Completed".to_string(),
            "Nov 28 10:00:03 web exim[4104]: [2/2] stray end of a line never begun".to_string(),
        ];
        let mut p = LogParser::new(Some(Format::Exim), 2026);
        let mut out = Vec::new();
        for l in &lines {
            p.line(l.as_bytes(), String::new, &mut |m| out.push(m));
        }
        assert_eq!(out.len(), 1);
        let got: Vec<&str> = out[0]
            .recipients
            .iter()
            .map(|r| r.address.as_str())
            .collect();
        assert_eq!(got, rcpts);
        assert_eq!(out[0].sender.to_string(), "auth:info@shop.example");
        assert_eq!(
            (p.stats.understood, p.stats.not_understood),
            (4, 1),
            "{:?}",
            p.stats.samples
        );
    }

    #[test]
    fn parts_of_absurd_counts_cost_no_more_than_a_line() {
        // A line claiming four billion parts, and a flood of parts of one
        // line: no huge allocation, and the joined line stops growing at
        // what the parser reads of one line.
        let head = "Nov 28 10:00:01 web exim[4101]: ";
        let mut p = LogParser::new(Some(Format::Exim), 2026);
        let mut out = Vec::new();
        let first = format!(
            "{head}[1/4294967295] 2026-11-28 10:00:01 1rK001-000001-01 <= a@b.example U=a P=local S=1 for {}",
            "x".repeat(800)
        );
        p.line(first.as_bytes(), String::new, &mut |m| out.push(m));
        let part = "y".repeat(60_000);
        for i in 2..40u32 {
            let l = format!("{head}[{i}/4294967295] {part}");
            p.line(l.as_bytes(), String::new, &mut |m| out.push(m));
        }
        assert!(p.parts.values().all(|j| j.line.len() < MAX_LINE + 70_000));
        assert_eq!(p.stats.understood, 39);
        assert!(out.is_empty());
    }

    #[test]
    fn a_refusal_exim_writes_to_both_logs_is_one_message_through_syslog() {
        // Through syslog a line for the main and the reject log comes
        // twice; the reject log's copy carries the headers after newlines
        // (parts marked `\\`), which its first line is read without.
        let head = "Nov 28 10:00:05 web exim[4107]: ";
        let refusal = "2026-11-28 10:00:05 1rK009-000009-09 H=(pc) [203.0.113.5]:5000 P=esmtpsa A=dovecot_login:info@shop.example F=<info@shop.example> rejected after DATA: Your message looks like SPAM";
        let lines = [
            format!("{head}{refusal}"),
            format!("{head}[1\\3] {refusal}"),
            format!("{head}[2\\3] Envelope-from: <info@shop.example>"),
            format!("{head}[3/3] Envelope-to: <x@gmail.example>"),
        ];
        let mut p = LogParser::new(Some(Format::Exim), 2026);
        let mut out = Vec::new();
        for l in &lines {
            p.line(l.as_bytes(), String::new, &mut |m| out.push(m));
        }
        p.finish(&mut |m| out.push(m));
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].sender.to_string(), "auth:info@shop.example");
        assert!(
            out[0]
                .rejected
                .as_deref()
                .unwrap()
                .ends_with("looks like SPAM")
        );
        assert_eq!((p.stats.understood, p.stats.not_understood), (4, 0));
    }

    #[test]
    fn exims_reject_log_read_alone_is_understood_line_by_line() {
        // As Exim 4.96 wrote it for a refusal at RCPT, a failed login and
        // a refusal after DATA (the header copy follows that one).
        let lines = [
            "2026-11-29 06:40:00 H=(vm) [127.0.0.1]:47542 F=<a@b.example> rejected RCPT <x@far.example>: relay not permitted",
            "2026-11-29 06:40:01 plain authenticator failed for (vm) [127.0.0.1]:47550: 535 Incorrect authentication data (set_id=alice@test.example)",
            "2026-11-29 06:40:01 1xXYZt-0000Pl-1C H=(vm) [127.0.0.1]:47556 F=<alice@test.example> A=plain:alice@test.example rejected after DATA: rejected as spam",
            "Envelope-from: <alice@test.example>",
            "Envelope-to: <x@far.example>",
            "P Received: from [127.0.0.1] (port=47556 helo=vm)",
            "\tby mx.test.example with esmtpa (Exim 4.96)",
            "\tid 1xXYZt-0000Pl-1C",
            "  Date: Sun, 29 Nov 2026 06:40:01 +0000",
            "T To: x@far.example",
            "F From: alice@test.example",
            "  Subject: cheap spam",
            "I Message-Id: <20261129064001.001596@vm>",
            "  X-PHP-Originating-Script: 33:evil.php",
        ];
        let mut p = LogParser::new(None, 2026);
        let mut out = Vec::new();
        for l in lines {
            p.line(l.as_bytes(), String::new, &mut |m| out.push(m));
        }
        p.finish(&mut |m| out.push(m));
        assert_eq!((p.stats.understood, p.stats.not_understood), (14, 0));
        assert_eq!(p.failed_login_count(), 1);
        assert_eq!(out.len(), 1, "{out:#?}");
        // Shaped like a header copy but not one: not understood.
        for stray in [
            "X Received: from",
            "F : empty name",
            "T To no colon",
            "Envelope-from: x",
        ] {
            let mut p = LogParser::new(Some(Format::Exim), 2026);
            p.line(stray.as_bytes(), String::new, &mut |_| {});
            assert_eq!(p.stats.not_understood, 1, "{stray}");
        }
    }

    #[test]
    fn rsyslogs_repeated_lines_are_read_as_the_lines_they_repeat() {
        let (copy, n) = syslog_repeat(b"Nov 29 06:49:06 vm postfix/smtpd[4242]: message repeated 4 times: [ connect from unknown[198.51.100.7]]\r").unwrap();
        assert_eq!(
            (String::from_utf8(copy).unwrap().as_str(), n),
            (
                "Nov 29 06:49:06 vm postfix/smtpd[4242]: connect from unknown[198.51.100.7]",
                4
            )
        );
        let many = "Nov 29 06:49:06 vm exim[1]: message repeated 99999999 times: [ x]";
        assert_eq!(syslog_repeat(many.as_bytes()).unwrap().1, MAX_REPEAT);
        for not in [
            "2026-11-29 06:49:06 1rA000-000001-01 message repeated 4 times: [ x]",
            "Nov 29 06:49:06 vm postfix/smtpd[1]: message repeated 0 times: [ x]",
            "Nov 29 06:49:06 vm postfix/smtpd[1]: message repeated four times: [ x]",
            "Nov 29 06:49:06 vm postfix/smtpd[1]: message repeated 4 times: [ x",
            "Nov 29 06:49:06 vm postfix/smtpd[1]: message repeated 2 times: [ message repeated 2 times: [ x]]",
            "Nov 29 06:49:06 vm postfix/smtpd[1]: warning: message repeated 4 times: [ x]",
        ] {
            assert!(syslog_repeat(not.as_bytes()).is_none(), "{not}");
        }

        let head = "Nov 29 06:49:06 vm postfix/smtpd[4242]: ";
        let fail = "warning: unknown[198.51.100.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=info@shop.example";
        let lines = [
            format!("{head}{fail}"),
            format!("{head}message repeated 4 times: [ {fail}]"),
            format!("{head}message repeated 3 times: [ not a postfix line]"),
            format!("{head}disconnect from unknown[198.51.100.7]"),
        ];
        let mut p = LogParser::new(Some(Format::Postfix), 2026);
        for l in &lines {
            p.line(l.as_bytes(), || "here".into(), &mut |_| {});
        }
        assert_eq!(p.failed_login_count(), 5);
        let st = &p.stats;
        // Each line counts once, as what it repeats.
        assert_eq!((st.lines, st.understood, st.not_understood), (4, 4, 0));
        assert_eq!(st.repeated, 7);
        // A repeated line of garbage is one line not understood.
        let mut p = LogParser::new(Some(Format::Postfix), 2026);
        let junk = b"junk junk junk: message repeated 5 times: [ more junk]";
        p.line(junk, || "here".into(), &mut |_| {});
        let st = &p.stats;
        assert_eq!(
            (st.not_understood, st.samples.len(), st.repeated),
            (1, 1, 5)
        );
        assert_eq!(st.samples[0].1.as_bytes(), junk);
    }

    #[test]
    fn postfix_address_probes_are_marked() {
        // reject_unverified_sender: Postfix probes the address itself
        // (from double-bounce, stopped at RCPT).
        let lines = [
            "Nov 28 10:00:01 mx postfix/cleanup[1202]: A1B2C3D4E5: message-id=<20261128100001.A1B2C3D4E5@mx.example>",
            "Nov 28 10:00:01 mx postfix/qmgr[900]: A1B2C3D4E5: from=<double-bounce@mx.example>, size=234, nrcpt=1 (queue active)",
            "Nov 28 10:00:02 mx postfix/smtp[1203]: A1B2C3D4E5: to=<nobody@gmail.example>, relay=mx.gmail.example[203.0.113.5]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=5.1.1, status=undeliverable (host mx.gmail.example[203.0.113.5] said: 550 5.1.1 no such user (in reply to RCPT TO command))",
            "Nov 28 10:00:02 mx postfix/qmgr[900]: A1B2C3D4E5: removed",
            "Nov 28 10:00:03 mx postfix/pickup[1300]: B1B2C3D4E5: uid=1000 from=<u@shop.example>",
            "Nov 28 10:00:04 mx postfix/smtp[1203]: B1B2C3D4E5: to=<x@gmail.example>, relay=mx.gmail.example[203.0.113.5]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 2.0.0 OK)",
            "Nov 28 10:00:04 mx postfix/qmgr[900]: B1B2C3D4E5: removed",
        ];
        let mut p = LogParser::new(Some(Format::Postfix), 2026);
        let mut out = Vec::new();
        for l in lines {
            p.line(l.as_bytes(), String::new, &mut |m| out.push(m));
        }
        let probes: Vec<(String, bool)> = out.iter().map(|m| (m.id.clone(), m.probe)).collect();
        assert_eq!(
            probes,
            [
                ("A1B2C3D4E5".to_string(), true),
                ("B1B2C3D4E5".to_string(), false)
            ]
        );
    }

    #[test]
    fn messages_silent_for_days_are_handed_out_once_an_hour() {
        let mut p = LogParser::new(Some(Format::Exim), 2026);
        let mut out = Vec::new();
        let lines = [
            "2024-01-01 10:00:00 1rK000-000000-00 <= a@b.example U=a P=local S=1 for c@d.example",
            "2024-01-01 10:00:01 1rK000-000000-00 == c@d.example R=x T=remote_smtp defer (-44): 421 later",
            "2024-01-04 10:00:01 1rK000-000001-01 <= a@b.example U=a P=local S=1 for c@d.example",
            "2024-01-04 10:59:59 1rK000-000001-01 Completed",
            "2024-01-04 11:00:02 1rK000-000002-02 <= a@b.example U=a P=local S=1 for c@d.example",
        ];
        let mut when = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            p.line(l.as_bytes(), String::new, &mut |m| {
                when.push(i);
                out.push(m)
            });
        }
        // Three days and a second after its last line, at the first line
        // of a new hour: the deferred message, incomplete.
        assert_eq!(when, [3, 4]);
        assert_eq!(out[1].id, "1rK000-000000-00");
        assert!(!out[1].complete);
        assert_eq!(p.assembly().incomplete, 1);
        assert_eq!(p.open_messages(), 1);
    }

    #[test]
    fn a_line_after_a_crash_hole_is_read_from_after_the_nul_bytes() {
        // Power lost: the log's last block was allocated but never
        // written (NUL bytes), and after the reboot the MTA's next line
        // follows the hole on the same line.
        let hole = "\0".repeat(3000);
        for (format, lines) in [
            (
                Format::Exim,
                [
                    "2024-01-01 10:00:00 1rK000-000000-00 <= a@b.example U=a P=local S=1 for c@d.example",
                    "2024-01-01 10:05:00 1rK000-000000-00 => c@d.example R=r T=t H=mx.d.example [192.0.2.9] C=\"250 OK\"",
                    "2024-01-01 10:05:00 1rK000-000000-00 Completed",
                ],
            ),
            (
                Format::Postfix,
                [
                    "Jan  1 10:00:00 mx postfix/qmgr[3]: 1DBB4A7FD: from=<a@b.example>, size=1, nrcpt=1 (queue active)",
                    "Jan  1 10:05:00 mx postfix/smtp[4]: 1DBB4A7FD: to=<c@d.example>, relay=mx.d.example[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 OK)",
                    "Jan  1 10:05:00 mx postfix/qmgr[3]: 1DBB4A7FD: removed",
                ],
            ),
        ] {
            // A hole before each line in turn; the first also finds the
            // format out from the line after the hole.
            for at in 0..lines.len() {
                let told = (at > 0).then_some(format);
                let mut p = LogParser::new(told, 2024);
                let mut msgs = Vec::new();
                for (i, l) in lines.iter().enumerate() {
                    let l = if i == at {
                        format!("{hole}{l}")
                    } else {
                        l.to_string()
                    };
                    p.line(l.as_bytes(), String::new, &mut |m| msgs.push(m));
                }
                // A hole at the end, not yet followed by a line.
                p.line(hole.as_bytes(), String::new, &mut |m| msgs.push(m));
                p.finish(&mut |m| msgs.push(m));
                assert_eq!(p.stats.holes, 2, "{format:?} {at}");
                assert_eq!(p.stats.not_understood, 0, "{:?}", p.stats.samples);
                assert_eq!(p.format(), Some(format));
                assert_eq!(msgs.len(), 1, "{format:?} {at}: {msgs:?}");
                let r = &msgs[0].recipients;
                assert_eq!(r.len(), 1, "{format:?} {at}: {msgs:?}");
                assert_eq!(r[0].outcome, Outcome::Delivered);
                assert!(msgs[0].complete);
            }
        }
        assert_eq!(after_hole(b"\0\0ab\0"), b"ab\0");
        assert_eq!(after_hole(b"ab"), b"ab");
        assert_eq!(after_hole(b"\0\0"), b"");
    }

    #[test]
    fn a_line_longer_than_max_line_is_parsed_from_its_start() {
        let mut p = LogParser::new(Some(Format::Exim), 2026);
        let mut msgs = Vec::new();
        // A `<=` line naming more recipients than fit: read up to the cut.
        let rcpts: String = (0..20)
            .map(|i| format!(" r{i}{}@example.net", "x".repeat(60_000)))
            .collect();
        let arrival = format!(
            "2024-01-01 10:00:00 1rK000-000000-00 <= a@b.example U=a P=local S=1 for{rcpts}"
        );
        assert!(arrival.len() > MAX_LINE);
        for l in [
            arrival.as_str(),
            "2024-01-01 10:00:01 1rK000-000000-00 Completed",
            &"x".repeat(MAX_LINE + 1),
        ] {
            p.line(l.as_bytes(), String::new, &mut |m| msgs.push(m));
        }
        assert_eq!(p.stats.cut_lines, 2);
        assert_eq!((p.stats.understood, p.stats.not_understood), (2, 1));
        let got = msgs[0].recipients.len();
        assert!(got > 10 && got < 20, "{got} recipients");
    }

    #[test]
    fn syslog_year_rolls_over() {
        let mut p = LogParser::new(Some(Format::Postfix), 2025);
        let mut n = 0;
        for l in [
            "Dec 31 23:59:59 mx postfix/qmgr[3]: 1DBB4A7FD: removed",
            "Jan  1 00:00:01 mx postfix/qmgr[3]: 1DBB4A7FE: removed",
        ] {
            p.line(l.as_bytes(), String::new, &mut |_| n += 1);
        }
        assert_eq!(p.stats.last.unwrap().iso(), "2026-01-01T00:00:01");
    }
}
