//! Live mail log ingestion for the daemon: follow each configured log,
//! assemble messages, judge their senders, and store messages, verdict
//! changes and the tail's checkpoint together, batch by batch.
//!
//! A restart, even after `kill -9`, resumes at the first line of the oldest
//! message that was still open at the last checkpoint; messages stored
//! before are recognised by the store and neither stored nor counted again,
//! and the detector's windows are rebuilt from the stored messages first.

use std::path::PathBuf;

use anyhow::{Context, Result};
use detect::{Detector, Verdict};
use maillog::tail::{Resume, Tailer};
use maillog::{Format, LogParser, Message};
use store::{LogCheckpoint, NewMessage, Store, VerdictChange};

use crate::config::LogConfig;

/// Where a followed log's lines come from.
enum Source {
    /// Boxed: a tail carries its files' state, a few times a journal's.
    File(Box<Tailer>),
    Journal(crate::journal::JournalTail),
}

impl Source {
    fn poll(
        &mut self,
        max_lines: usize,
        f: impl FnMut(&[u8], u64),
    ) -> std::io::Result<maillog::tail::Polled> {
        match self {
            Source::File(t) => t.poll(max_lines, f),
            Source::Journal(j) => j.poll(max_lines, f),
        }
    }

    fn notes(&mut self) -> Vec<String> {
        match self {
            Source::File(t) => std::mem::take(&mut t.notes),
            Source::Journal(j) => std::mem::take(&mut j.notes),
        }
    }

    fn problem(&self) -> Option<&str> {
        match self {
            Source::File(t) => t.problem(),
            Source::Journal(j) => j.problem(),
        }
    }

    /// The generation of the positions of lines read now (a journal's
    /// are all 0).
    fn generation(&self) -> u16 {
        match self {
            Source::File(t) => t.generation(),
            Source::Journal(_) => 0,
        }
    }

    fn checkpoint(&self, oldest_open: Option<u64>) -> Resume {
        match self {
            Source::File(t) => t.checkpoint(oldest_open),
            Source::Journal(j) => j.checkpoint(oldest_open),
        }
    }

    /// What a line's position counts, for naming where a line was.
    fn unit(&self) -> &'static str {
        match self {
            Source::File(_) => "at byte",
            Source::Journal(_) => "entry",
        }
    }
}

/// One followed log.
pub(crate) struct LogIngest {
    spool: Option<PathBuf>,
    /// Its name in the store and in messages: the path, or
    /// `journal:UNITS`.
    pub(crate) key: String,
    source: Source,
    /// The journal's sequence-number id as the store has it.
    told_journal: Option<String>,
    parser: LogParser,
    /// Mail a content filter took, waiting for its re-injected copy.
    relink: detect::relink::Relink,
    /// Where each message waiting in `relink` starts, and when it was
    /// received (by the queue id of its copy): for [`HOLD_FOR_COPY_SECS`]
    /// the checkpoint stays before it, so a restart reads it again and the
    /// copy still finds its sender.
    waiting_at: std::collections::HashMap<Box<str>, (u64, i64)>,
    /// Domain owners, for mailboxes the log gives no account.
    owners: std::sync::Arc<enforce::hold::Accounts>,
    /// What the store says of the log's [`Tailer::problem`] (`None`: not
    /// told yet this run).
    told_problem: Option<Option<String>>,
    /// When lines were last read, and the log's time then: while the log
    /// is quiet its time moves on by this machine's clock
    /// ([`maillog::LogParser::idle_until`]).
    heard: Option<(std::time::Instant, maillog::Stamp)>,
    /// Lines after a NUL hole told of so far (`LineStats::holes`).
    told_holes: u64,
    /// Lines not understood told of so far, and when last told.
    told_bad: (u64, Option<std::time::Instant>),
    /// Lines journald said it dropped, told of so far.
    told_dropped: u64,
    /// When this run started following the log (Unix seconds), and the
    /// counts last written to the store for `status`, with when.
    started: i64,
    health_told: Option<((u64, u64, u64, u64), std::time::Instant)>,
    /// Where the last checkpoint stored says a restart reads again from
    /// (a packed position), and the parser's failed-login changes at the
    /// last save ([`LogIngest::save_logins`]).
    logins_place: Option<u64>,
    logins_saved: u64,
    /// The `[[server]]` the log belongs to, as configured (`None`: the
    /// first).
    pub(crate) server: Option<String>,
    /// A login log: Dovecot's own (cPanel's /var/log/maillog beside
    /// exim_mainlog). Its failed logins are shared with the server's other
    /// logs, and it is read before them ([`crate::monitor`]).
    pub(crate) logins_only: bool,
    /// The file's lines have not told yet whether it is a login log
    /// (empty when the daemon started): asked again before each read.
    undecided: Option<PathBuf>,
}

/// Lines not understood are told of at most this often per log, with
/// their count since and the last of them: a log of junk does not fill
/// the daemon's own.
const TELL_BAD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a message a content filter took holds the checkpoint while
/// its copy is awaited: filters hand mail back within seconds.
const HOLD_FOR_COPY_SECS: i64 = 3_600;

impl LogIngest {
    pub(crate) fn open(
        cfg: &LogConfig,
        ingest: &crate::config::IngestConfig,
        zone: maillog::time::Zone,
        store: &Store,
        owners: std::sync::Arc<enforce::hold::Accounts>,
    ) -> Result<Self> {
        let key = cfg.key();
        let mut resume = store.log_checkpoint(&key)?.map(|c| Resume {
            inode: c.inode,
            read_to: c.read_to,
            resume_at: c.resume_at,
            head: c.head,
            linger: c.linger,
            linger_head: c.linger_head,
            in_place: c.in_place.map(maillog::tail::from_epoch_nanos),
        });
        // Messages are stored once by (log, id, time): read again in
        // another zone, the lines of the messages open at the last stop
        // would store their neighbours a second time. Start where the
        // reading stopped instead; those few messages are lost. (A
        // journal's entries carry UTC times, so Postfix's are read the
        // same in any zone; Exim's text keeps its own wall-clock stamp.)
        let before = store.log_zone(&key)?;
        let same = match before.as_deref() {
            None => zone.same_clock(&maillog::time::Zone::as_written()),
            Some(name) => maillog::time::Zone::named(name).is_ok_and(|z| z.same_clock(&zone)),
        };
        let zoned = cfg.journal.is_none() || cfg.format != "postfix";
        if let Some(r) = (resume.as_mut()).filter(|r| zoned && !same && r.resume_at < r.read_to) {
            tracing::warn!(
                log = %key,
                "the log's time zone changed from {} to {}: reading on from {} {} (messages still open at the last stop lose their earlier lines, which are not read again so that nothing is stored twice)",
                before.as_deref().unwrap_or("UTC"),
                zone.name(),
                if cfg.journal.is_some() { "entry" } else { "byte" },
                r.read_to
            );
            r.resume_at = r.read_to;
        }
        store.set_log_zone(&key, zone.name())?;
        let year = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| 1970 + d.as_secs() as i64 / 31_556_952)
            .unwrap_or(2026);
        let format = match cfg.format.as_str() {
            "exim" => Some(Format::Exim),
            "postfix" => Some(Format::Postfix),
            _ => None,
        };
        let mut parser = LogParser::new(format, year);
        parser.set_zone(zone);
        if cfg.exim_spool.is_some() {
            parser.track_local_arrivals();
        }
        parser.track_attempts();
        parser.settle_deferred(ingest.settle_deferred.as_secs() as i64);
        let unfinished = store.unfinished_messages(&key, maillog::assemble::STALE_SECS)?;
        parser.settled_before(
            unfinished
                .into_iter()
                .map(|(id, secs)| (id, maillog::Stamp { secs, millis: 0 })),
        );
        let kind = cfg.login_log_kind();
        let logins_only = kind == Some(true);
        if logins_only {
            login_log(&key, &mut parser);
        }
        // The failed logins kept at the last stop, as read before anything
        // now (a snapshot that cannot be read only loses them; a login
        // log shares them again).
        if let Some(saved) = store.log_logins(&key)? {
            match serde_json::from_str(&saved) {
                Ok(saved) => parser.restore_logins(saved),
                Err(e) => {
                    tracing::warn!(log = %key, error = %e, "cannot read the failed logins kept at the last stop; they are forgotten")
                }
            }
        }
        let logins_saved = parser.logins_changes();
        let told_journal = match cfg.journal {
            Some(_) => store.journal_id(&key)?,
            None => None,
        };
        let source = match &cfg.journal {
            Some(units) => Source::Journal(crate::journal::JournalTail::open(
                units,
                cfg.journal_directory.clone(),
                resume,
                told_journal.clone(),
            )),
            None => Source::File(Box::new(Tailer::open(&cfg.path, resume))),
        };
        Ok(LogIngest {
            source,
            told_journal,
            spool: cfg.exim_spool.clone(),
            key,
            parser,
            relink: Default::default(),
            waiting_at: Default::default(),
            owners,
            told_problem: None,
            heard: None,
            told_holes: 0,
            told_bad: (0, None),
            told_dropped: 0,
            started: crate::output::now(),
            health_told: None,
            logins_place: None,
            logins_saved,
            server: cfg.server.clone(),
            logins_only,
            undecided: kind.is_none().then(|| cfg.path.clone()),
        })
    }

    /// The failed logins read since the last call that the server's other
    /// logs should know of (a login log's; none for others).
    pub(crate) fn take_shared(&mut self) -> Vec<maillog::dovecot::Logged> {
        self.parser.take_shared()
    }

    /// Failed logins another log of the server read: a login in this one
    /// after them is told of them.
    pub(crate) fn note_shared(&mut self, failures: Vec<maillog::dovecot::Logged>) {
        self.parser.note_shared(failures);
    }

    /// Keeps the failed logins read before where a restart reads again
    /// (the last checkpoint stored), when they changed since the last
    /// save: a login after a restart, or in the next `serve --once`, still
    /// sees the guesses before it. What a restart reads again is noted
    /// again, so nothing counts twice; failures read since the last save
    /// are lost to a crash (fewer, never more).
    pub(crate) fn save_logins(&mut self, store: &Store) -> Result<()> {
        let changes = self.parser.logins_changes();
        let Some(place) = self.logins_place.filter(|_| changes != self.logins_saved) else {
            return Ok(());
        };
        let saved = serde_json::to_string(&self.parser.save_logins(place))?;
        store.set_log_logins(&self.key, &saved, crate::output::now())?;
        self.logins_saved = changes;
        Ok(())
    }

    /// A run that polls once (`serve --once`, from cron): no time passes
    /// between its polls, so a renamed file is read again by the next
    /// run and let go by the first run that finds it has not grown
    /// ([`Tailer::set_linger`]).
    pub(crate) fn linger_one_run(&mut self) {
        if let Source::File(t) = &mut self.source {
            t.set_linger(std::time::Duration::ZERO);
        }
    }

    /// Reads what is new (at most `max_lines`, 0 for all) and stores it.
    /// Returns (lines read, messages new, read to the end); senders that
    /// turned `spamming` are added to `spamming`.
    pub(crate) fn poll(
        &mut self,
        store: &mut Store,
        detector: &mut Detector,
        channels: &[String],
        max_lines: usize,
        remote: &mut crate::remote::RemoteWatch,
    ) -> Result<(usize, usize, bool)> {
        if let Some(path) = &self.undecided
            && let Some(login) = crate::cmd::logs::login_log_kind(path)
        {
            self.undecided = None;
            if login {
                self.logins_only = true;
                login_log(&self.key, &mut self.parser);
            }
        }
        let mut messages: Vec<Message> = Vec::new();
        let parser = &mut self.parser;
        let name = &self.key;
        let spool = self.spool.as_deref();
        let unit = self.source.unit();
        let polled = self
            .source
            .poll(max_lines, |line, pos| {
                let at = || {
                    let p = maillog::tail::Position::unpack(pos);
                    format!("{name} {unit} {}", p.offset)
                };
                parser.line_at(line, pos, at, &mut |m| messages.push(m));
                // Read a local submission's headers now, while it is queued.
                if let Some(spool) = spool {
                    for id in parser.take_local_arrivals() {
                        if let Some(h) = spool_headers(spool, &id) {
                            parser.hint(&id, &h);
                        }
                    }
                }
            })
            .with_context(|| format!("cannot read {}", self.key))?;
        let now = std::time::Instant::now();
        if polled.lines > 0 {
            self.heard = parser.stats.last.map(|last| (now, last));
        } else if polled.at_end
            && let Some((when, last)) = self.heard
        {
            let quiet = now.duration_since(when).as_secs() as i64;
            let at = maillog::Stamp {
                secs: last.secs + quiet,
                ..last
            };
            parser.idle_until(at, &mut |m| messages.push(m));
        }
        for note in self.source.notes() {
            tracing::warn!(log = %self.key, "{note}");
        }
        if parser.stats.holes > self.told_holes {
            tracing::warn!(
                log = %self.key,
                lines = parser.stats.holes - self.told_holes,
                "a line began with NUL bytes (a crash left the log's last blocks unwritten); read from after them"
            );
            self.told_holes = parser.stats.holes;
        }
        if parser.stats.dropped > self.told_dropped {
            tracing::warn!(
                log = %self.key,
                lines = parser.stats.dropped - self.told_dropped,
                "journald dropped the MTA's lines (its rate limit): the counts are short by them; raise RateLimitBurst"
            );
            self.told_dropped = parser.stats.dropped;
        }
        // For `status`: at once when something went wrong, else the
        // line count at most once a minute.
        let counts = (
            parser.stats.lines,
            parser.stats.not_understood,
            parser.stats.dropped,
            parser.failed_login_count(),
        );
        let due = match self.health_told {
            None => true,
            Some((told, at)) => {
                (told.1, told.2) != (counts.1, counts.2)
                    || ((told.0, told.3) != (counts.0, counts.3)
                        && now.duration_since(at) >= TELL_BAD_EVERY)
            }
        };
        if due {
            let last = parser.stats.latest.as_ref();
            store.set_log_health(&store::LogHealth {
                path: self.key.clone(),
                since: self.started,
                lines: counts.0,
                not_understood: counts.1,
                dropped: counts.2,
                failed_logins: counts.3,
                last_bad_at: last.map(|(at, _)| at.clone()),
                last_bad: last.map(|(_, line)| line.clone()),
            })?;
            self.health_told = Some((counts, now));
        }
        let bad = parser.stats.not_understood - self.told_bad.0;
        if bad > 0
            && self
                .told_bad
                .1
                .is_none_or(|t| now.duration_since(t) >= TELL_BAD_EVERY)
            && let Some((at, line)) = &parser.stats.latest
        {
            tracing::warn!(
                log = %self.key,
                lines = bad,
                last_at = %at,
                last = %crate::output::printable(line),
                "lines not understood: counted and skipped"
            );
            self.told_bad = (parser.stats.not_understood, Some(now));
        }
        if let Source::Journal(j) = &self.source
            && j.seqnum_id() != self.told_journal.as_deref()
            && let Some(id) = j.seqnum_id()
        {
            store.set_journal_id(&self.key, id)?;
            self.told_journal = Some(id.to_string());
        }
        // Why the log cannot be read, for `status` (once per change).
        let problem = self.source.problem().map(str::to_string);
        if self.told_problem.as_ref() != Some(&problem) {
            store.set_log_problem(&self.key, problem.as_deref(), crate::output::now())?;
            self.told_problem = Some(problem);
        }
        for m in &mut messages {
            crate::policy::own(m, &self.owners);
            match m.relayed_as.as_deref() {
                Some(child) => {
                    self.waiting_at
                        .insert(child.into(), (m.offset, m.received.secs));
                }
                None => {
                    self.waiting_at.remove(m.id.as_str());
                }
            }
        }
        // A message a content filter took is stored as the copy it queued
        // again, under its own sender.
        messages.retain_mut(|m| self.relink.message(m));
        // A copy may have become a forward's ([`maillog::Message::settle_forwarder`]).
        for m in &mut messages {
            crate::policy::own(m, &self.owners);
        }
        let relink = &self.relink;
        // A copy that has not come back soon (the filter discarded the
        // message) no longer holds the checkpoint; the link waits on.
        let now = self.parser.stats.last.map_or(i64::MIN, |s| s.secs);
        self.waiting_at.retain(|child, (_, at)| {
            relink.waits_for(child) && now.saturating_sub(*at) <= HOLD_FOR_COPY_SECS
        });
        for m in &messages {
            recall(store, detector, &m.sender)?;
        }
        let oldest = self
            .parser
            .oldest_open()
            .into_iter()
            .chain(self.waiting_at.values().map(|(offset, _)| *offset))
            .min();
        let cp = self.source.checkpoint(oldest);
        let attempts = self.parser.take_attempts();
        if polled.lines == 0 && messages.is_empty() && attempts.is_empty() {
            return Ok((0, 0, polled.at_end));
        }
        let newest = self.parser.stats.last.map(|s| s.secs);
        let updates = remote.updates(&attempts, newest, channels);
        let rows: Vec<NewMessage> = messages
            .iter()
            .map(|m| NewMessage {
                msg_id: m.id.clone(),
                received: m.received.secs,
                sender: m.sender.to_string(),
                account: m.account.clone(),
                recipients: m.recipients.len() as i64,
                outbound: m.outbound(),
                record: serde_json::to_string(m).unwrap_or_default(),
            })
            .collect();
        let new = store.ingest(
            store::Batch {
                path: &self.key,
                checkpoint: LogCheckpoint {
                    inode: cp.inode,
                    read_to: cp.read_to,
                    resume_at: cp.resume_at,
                    head: cp.head,
                    linger: cp.linger,
                    linger_head: cp.linger_head,
                    in_place: cp.in_place.and_then(maillog::tail::epoch_nanos),
                },
                messages: &rows,
                channels,
                now: crate::output::now(),
                updates: &updates,
            },
            |i| {
                let m = &messages[i];
                let change = detector.observe(m)?;
                if change.to == Verdict::Spamming {
                    tracing::warn!(sender = %change.sender, "sender is spamming");
                }
                Some(VerdictChange {
                    sender: change.sender.to_string(),
                    account: m.account.clone(),
                    at: m.received.secs,
                    from: change.from.as_str().into(),
                    to: change.to.as_str().into(),
                    reasons: serde_json::to_string(&change.reasons).unwrap_or_else(|_| "[]".into()),
                })
            },
        )?;
        if !updates.is_empty() {
            for (_, u) in &updates {
                if let store::Update::Open { target, list, .. } = u {
                    tracing::warn!(%target, %list, "remote servers refuse our mail: a listing seen in their replies");
                }
            }
            remote.reload(store)?;
        }
        self.logins_place = Some(
            maillog::tail::Position {
                generation: self.source.generation(),
                offset: cp.resume_at,
            }
            .pack(),
        );
        Ok((polled.lines, new, polled.at_end))
    }
}

/// Makes `parser` share its failed logins ([`LogIngest::logins_only`]).
fn login_log(key: &str, parser: &mut LogParser) {
    tracing::info!(log = %key, "a login log (Dovecot's lines, no MTA's): its failed logins go to the logins in the server's other logs");
    parser.share_failures();
}

/// The script headers of a queued Exim message, if its -H file is there.
fn spool_headers(spool: &std::path::Path, id: &str) -> Option<maillog::headers::ScriptHeaders> {
    let file = maillog::headers::exim_spool_file(spool, id)?;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| tracing::debug!(file = %file.display(), error = %e, "spool file gone or unreadable"))
        .ok()?;
    let lines = maillog::headers::exim_spool_headers(&text);
    Some(maillog::headers::script_headers(
        lines.iter().map(String::as_str),
    ))
}

/// How the detector was rebuilt at start ([`restore_detector`]).
#[derive(Debug, Default)]
pub(crate) struct Restored {
    /// Sender states read back.
    pub(crate) senders: usize,
    /// Stored messages replayed after them.
    pub(crate) messages: usize,
    /// The last complaint (its id) the states include; later ones are fed
    /// again.
    pub(crate) complaints: i64,
}

/// Rebuilds the detector as the daemon left it: the sender states it saved
/// (those seen lately enough to be in memory) and the messages stored
/// after them. Without saved states of this detector's format (a first
/// start, an upgrade), the messages of the last `window` before the newest
/// are replayed instead, so a restart forgets neither a burst nor the mail
/// complaints are counted against.
pub(crate) fn restore_detector(
    store: &Store,
    detector: &mut Detector,
    window: i64,
) -> Result<Restored> {
    detector.saving_changes();
    let newest = store.latest_received()?;
    let mut done = Restored::default();
    // One stored message, as the detector saw it the first time.
    fn replay(store: &Store, detector: &mut Detector, r: &str, n: &mut usize) -> Result<()> {
        match serde_json::from_str::<Message>(r) {
            Ok(m) => {
                recall(store, detector, &m.sender)?;
                detector.observe(&m);
                *n += 1;
            }
            Err(e) => tracing::warn!(error = %e, "skipping a stored message that does not parse"),
        }
        Ok(())
    }
    match store.saved_detector()? {
        Some(saved) if saved.format == detect::STATE_FORMAT => {
            let since = newest.map_or(i64::MIN, |n| n - detector.idle_secs());
            for s in store.sender_states_since(since)? {
                match s.sender.parse::<maillog::Sender>() {
                    Ok(sender) => match detector.restore(&sender, &s.state) {
                        Ok(()) => done.senders += 1,
                        Err(e) => {
                            tracing::warn!(sender = %s.sender, error = %e, "a saved sender state does not read back; it starts again")
                        }
                    },
                    Err(e) => {
                        tracing::warn!(sender = %s.sender, error = %e, "a saved sender name does not parse")
                    }
                }
            }
            done.complaints = saved.complaints;
            store.messages_after(saved.messages, |r| {
                replay(store, detector, &r, &mut done.messages)
            })?;
        }
        other => {
            if let Some(saved) = other {
                let dropped = store.clear_sender_states()?;
                tracing::warn!(
                    found = saved.format,
                    known = detect::STATE_FORMAT,
                    dropped,
                    "saved sender states are of another format; rebuilding from the stored messages"
                );
            }
            if let Some(n) = newest {
                store.messages_since(n - window, |r| {
                    replay(store, detector, &r, &mut done.messages)
                })?;
            }
        }
    }
    Ok(done)
}

/// Takes a sender the detector forgot (silent for a week and more) back
/// from the store, so its history counts when it sends again.
pub(crate) fn recall(
    store: &Store,
    detector: &mut Detector,
    sender: &maillog::Sender,
) -> Result<()> {
    if detector.knows(sender) {
        return Ok(());
    }
    if let Some(state) = store.sender_state(&sender.to_string())?
        && let Err(e) = detector.restore(sender, &state)
    {
        tracing::warn!(%sender, error = %e, "a saved sender state does not read back; it starts again");
    }
    Ok(())
}
