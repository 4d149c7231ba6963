//! `unlisted logs analyze`: read Exim or Postfix logs once and say, per
//! sender, whether it is spamming.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use detect::relink::{Parent, Relink};
use detect::{Detector, SenderReport, Verdict};
use maillog::{Format, LineStats, LogParser, MAX_LINE, Stamp};
use serde::Serialize;

use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Analyze log files (plain or .gz) in one pass.
    Analyze(AnalyzeArgs),
    /// What a sender sent: its messages, each with the subject, the
    /// recipients, what became of each and the remote replies.
    Messages(super::logs_messages::Args),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Auto,
    Exim,
    Postfix,
}

/// The logs to read, and how: shared by the `logs` commands.
#[derive(Debug, clap::Args)]
pub(crate) struct Inputs {
    /// Log files (rotated `.gz` files are read as they are), in any order:
    /// they are read oldest first, by the time of their first lines.
    /// Copies beside a main log (Exim's reject and panic logs, syslog's
    /// mail.info/warn/err) are left out; Dovecot's own log beside the
    /// MTA's (cPanel's /var/log/maillog beside exim_mainlog) is read for
    /// its failed logins.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Read the systemd journal's entries of these units instead of files
    /// (`postfix*`, as `journalctl --unit` takes it; several separated by
    /// spaces or commas: `'postfix* dovecot'` for Dovecot's failed logins
    /// too): where no syslog daemon writes the mail log. Beside files,
    /// Dovecot's units alone (`'dovecot*'`): their failed logins go to the
    /// logins in the files, as a login log's.
    #[arg(long, value_name = "UNITS")]
    journal: Option<String>,
    /// With --journal: the journal files of this directory, not the
    /// system's (`journalctl --directory`).
    #[arg(long, value_name = "DIR", requires = "journal")]
    journal_directory: Option<PathBuf>,
    /// Only the messages received from this time on: `2h` (back
    /// from now), `today`, `yesterday`, `2026-11-28 10:00` (on the logs'
    /// clock, see --timezone) or `2026-11-28T10:00:00Z`. Rotated files
    /// that end before it are not read.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only the messages received before this time (same forms as
    /// --since).
    #[arg(long, value_name = "WHEN")]
    until: Option<String>,
    /// The log format; `auto` detects it from the first lines.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Exim's spool directory (e.g. /var/spool/exim): for local submissions
    /// still queued, read X-PHP-Originating-Script / X-Source-Args from the
    /// -H file to name the script itself, not just its directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) exim_spool: Option<PathBuf>,
    /// The IANA time zone the logs write their times in (`America/Chicago`)
    /// when they were written on another machine; default: `[ingest]
    /// timezone`, else this machine's. Times are shown in UTC.
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AnalyzeArgs {
    #[command(flatten)]
    input: Inputs,
    /// JSON Lines: one object per sender (spamming first), then a summary.
    #[arg(long)]
    json: bool,
    /// Show every sender, not only the spamming and suspicious ones.
    #[arg(long)]
    all: bool,
    /// Threads that parse (messages are split among them by id); 0 = one
    /// per core, 1 = everything on one thread. The result is the same.
    #[arg(long, default_value_t = 0, value_name = "N")]
    threads: usize,
}

/// [`Inputs`] made ready to read: the files oldest first, without those
/// outside the window.
pub(crate) struct Ready {
    pub(crate) format: Option<Format>,
    pub(crate) zone: maillog::time::Zone,
    pub(crate) window: Window,
    pub(crate) order: Order,
    /// Files left unread: wholly outside the window.
    pub(crate) skipped: Vec<PathBuf>,
    /// Files left unread: copies of lines the others have (an Exim reject
    /// log beside its main log, [`maillog::names`]), with the reason.
    pub(crate) copies: Vec<(PathBuf, &'static str)>,
    /// Login logs read first: Dovecot's, beside the MTA's own log.
    pub(crate) login_logs: Vec<LoginLog>,
    /// Their failed logins, oldest first, for the reader of the rest
    /// ([`LogParser::add_failures`]).
    pub(crate) failures: Vec<maillog::dovecot::Logged>,
}

/// A login log: a syslog file with Dovecot's lines and none of the MTA's,
/// given with Exim's own log (cPanel's /var/log/maillog beside
/// exim_mainlog). Its failed IMAP and POP3 logins are kept for the logins
/// the main log shows after them.
#[derive(Serialize, Clone)]
pub(crate) struct LoginLog {
    file: String,
    lines: u64,
    failed_logins: u64,
}

impl Inputs {
    /// The zone the logs' times are read in, and the window of `--since`
    /// and `--until` read on its clock.
    pub(crate) fn clock(
        &self,
        config: &crate::config::Config,
    ) -> Result<(maillog::time::Zone, Window)> {
        let zone = match &self.timezone {
            Some(name) => maillog::time::Zone::named(name).map_err(anyhow::Error::msg)?,
            None => config.log_zone(None)?,
        };
        let now = output::now();
        let window = Window::read(self.since.as_deref(), self.until.as_deref(), now, &zone)?;
        Ok((zone, window))
    }

    /// Reads the format, zone and window, and puts the files in order.
    pub(crate) fn ready(&mut self, config: &crate::config::Config) -> Result<Ready> {
        if self.files.is_empty() && self.journal.is_none() {
            bail!("give the log files to read, or --journal UNITS");
        }
        // Beside files, the journal's Dovecot entries are a login log.
        let login_journal = match self.journal.take() {
            Some(units) if !self.files.is_empty() => {
                if !crate::journal::dovecot_only(&units) {
                    bail!(
                        "--journal {units} with files: beside files, --journal names Dovecot's units alone (`dovecot*`), whose failed logins go to the logins in the files; read the journal's mail entries without files"
                    );
                }
                Some(units)
            }
            units => {
                self.journal = units;
                None
            }
        };
        let format = match self.format {
            FormatArg::Auto => None,
            FormatArg::Exim => Some(Format::Exim),
            FormatArg::Postfix => Some(Format::Postfix),
        };
        let (zone, window) = self.clock(config)?;
        // Before the order: a copy's first line says nothing of where the
        // main log's files begin and end.
        let copies = maillog::names::keep_fullest(&mut self.files);
        let mut order = oldest_first(&mut self.files, format, &zone);
        let login = order.take_login_logs(&mut self.files, format);
        let skipped = order.leave_out(&mut self.files, &window);
        let mut ready = Ready {
            format,
            zone,
            window,
            order,
            skipped,
            copies,
            login_logs: Vec::new(),
            failures: Vec::new(),
        };
        ready.read_login_logs(&login)?;
        if let Some(units) = login_journal {
            ready.read_login_journal(&units, self.journal_directory.clone())?;
        }
        Ok(ready)
    }

    /// What is read: the files, or the journal.
    pub(crate) fn sources(&self) -> Vec<String> {
        match &self.journal {
            Some(units) => vec![format!("journal:{units}")],
            None => self.files.iter().map(|f| f.display().to_string()).collect(),
        }
    }

    /// Reads the files (or the journal) on this thread, handing out each
    /// message; `details` keeps subjects and replies.
    pub(crate) fn read(
        &self,
        r: &Ready,
        details: bool,
        show_bar: bool,
        observe: &mut dyn FnMut(maillog::Message),
    ) -> ReadTotals {
        match &self.journal {
            Some(units) => read_journal(self, units, r, details, observe),
            None => read_sequential(self, r, details, show_bar, observe),
        }
    }
}

/// More shards than this only add the cost of every shard reading every
/// line.
const MAX_THREADS: usize = 8;

pub(crate) fn run(g: &Global, c: Command) -> Result<Exit> {
    match c {
        Command::Analyze(a) => analyze(g, a),
        Command::Messages(a) => super::logs_messages::run(g, a),
    }
}

#[derive(Serialize)]
pub(crate) struct Sample {
    r#where: String,
    line: String,
}

impl Sample {
    pub(crate) fn new(r#where: String, line: String) -> Self {
        Sample { r#where, line }
    }
}

/// The first lines not understood, and where they were.
pub(crate) fn samples(st: &maillog::LineStats) -> Vec<Sample> {
    st.samples
        .iter()
        .map(|(w, l)| Sample {
            r#where: w.clone(),
            line: l.clone(),
        })
        .collect()
}

/// An error when every one of `sources` failed to be read.
pub(crate) fn some_read(sources: &[String], errors: &[FileError]) -> Result<()> {
    if errors.len() == sources.len() && !sources.is_empty() {
        bail!("no log could be read");
    }
    Ok(())
}

/// Says on stderr which lines were not understood.
pub(crate) fn warn_not_understood(samples: &[Sample]) {
    for sample in samples {
        output::warning(&format!(
            "not understood at {}: {}",
            sample.r#where, sample.line
        ));
    }
}

#[derive(Serialize)]
pub(crate) struct FileError {
    file: String,
    error: String,
}

impl FileError {
    /// Says on stderr that `path` could not be read, and keeps it for the
    /// summary.
    pub(crate) fn report(path: &Path, e: &anyhow::Error) -> Self {
        output::error(&format!("{e:#}"));
        FileError {
            file: path.display().to_string(),
            error: format!("{e:#}"),
        }
    }
}

#[derive(Serialize)]
struct Summary {
    #[serde(rename = "type")]
    ty: &'static str,
    format: Option<Format>,
    files: usize,
    /// The files in the order they were read (oldest first).
    read_order: Vec<String>,
    /// Whether that is not the order they were given in.
    reordered: bool,
    lines: u64,
    understood: u64,
    ignored: u64,
    not_understood: u64,
    not_understood_samples: Vec<Sample>,
    /// Lines longer than maillog::MAX_LINE, parsed from their start.
    cut_lines: u64,
    /// Lines that began with NUL bytes (a crash's hole), parsed after them.
    holes: u64,
    /// The MTA's lines journald says it dropped (its rate limit): the
    /// counts are that much short.
    dropped: u64,
    /// Lines read from rsyslog's `message repeated N times: [ …]` lines
    /// (N each); those lines count once in `lines`.
    repeated: u64,
    messages: u64,
    incomplete: u64,
    orphan_lines: u64,
    senders: usize,
    /// Of those, the ones silent for weeks that wait in a scratch file
    /// (memory follows the senders active lately).
    retired_senders: usize,
    spamming: usize,
    suspicious: usize,
    /// Times are UTC; lines without an offset were read in this zone.
    timezone: String,
    /// --since and --until, when given (UTC).
    since: Option<String>,
    until: Option<String>,
    /// Messages received outside them: read, not counted.
    outside_window: u64,
    /// Files not read because all their lines lie outside them.
    skipped_files: Vec<String>,
    /// Files not read because the others hold their lines.
    copies_left_out: Vec<LeftOut>,
    /// Login logs read first for their failed logins ([`LoginLog`]).
    login_logs: Vec<LoginLog>,
    /// Who refused this server's IP in the remote replies (a list, a
    /// provider), most refusals first: the listings a desk must clear.
    remote_refusals: Vec<Refusal>,
    /// Failed SMTP AUTH logins: how many, the names tried most and the
    /// addresses that failed most (null when none failed).
    failed_logins: Option<maillog::logins::RunSummary>,
    first: Option<String>,
    last: Option<String>,
    errors: Vec<FileError>,
}

/// A file not read because others hold its lines ([`maillog::names`]).
#[derive(Serialize)]
pub(crate) struct LeftOut {
    file: String,
    reason: &'static str,
}

impl Ready {
    /// Reads the login logs' failed logins ([`LoginLog`]). A file that
    /// cannot be read, or that holds the MTA's lines after all (past the
    /// lines looked at to tell), is an error: the analysis would miss
    /// them.
    fn read_login_logs(&mut self, logs: &[(PathBuf, i64)]) -> Result<()> {
        let format = self.format.or(self.order.format);
        for (path, year) in logs {
            let mut parser = LogParser::new(format, *year);
            parser.set_zone(self.zone.clone());
            parser.capture_failures();
            read_file(path, &mut parser, None, &mut |_| {})?;
            if parser.stats.first.is_some() {
                bail!(
                    "{} holds the MTA's lines past its first {FIRST_LINES}, though it was read as a login log: give it alone",
                    path.display()
                );
            }
            self.keep_login_log(path.display().to_string(), &mut parser);
        }
        Ok(())
    }

    /// Lists a login log read by `parser` (in capture mode) and keeps its
    /// failed logins, oldest first with those kept before.
    fn keep_login_log(&mut self, file: String, parser: &mut LogParser) {
        let failures = parser.take_captured();
        self.login_logs.push(LoginLog {
            file,
            lines: parser.stats.lines,
            failed_logins: failures.iter().map(|f| u64::from(f.attempts)).sum(),
        });
        self.failures.extend(failures);
        self.failures.sort_by_key(|f| f.at);
    }

    /// Reads the failed logins of Dovecot's journal entries (`units`), in
    /// the window, as a login log's ([`Ready::read_login_logs`]).
    fn read_login_journal(&mut self, units: &str, directory: Option<PathBuf>) -> Result<()> {
        let mut parser = LogParser::new(self.format, 1970);
        parser.set_zone(self.zone.clone());
        parser.capture_failures();
        let mut journal = journal_in(units, directory, &self.window);
        let res = journal.poll(0, |line, pos| {
            let seq = maillog::tail::Position::unpack(pos).offset;
            parser.line(line, || format!("journal:{units} entry {seq}"), &mut |_| {});
        });
        if let Some(error) = journal_problem(res, &journal) {
            bail!("journal:{units}: {error}");
        }
        self.keep_login_log(format!("journal:{units}"), &mut parser);
        Ok(())
    }

    /// The files left out as copies, for a summary.
    pub(crate) fn copies_left_out(&self) -> Vec<LeftOut> {
        (self.copies.iter())
            .map(|(f, reason)| LeftOut {
                file: f.display().to_string(),
                reason,
            })
            .collect()
    }
}

/// Says which files were left out as copies, and how to read one.
pub(crate) fn show_copies_left_out(copies: &[LeftOut]) -> Result<()> {
    for c in copies {
        output::line(&format!(
            "not read: {} ({}; give it alone to read it)",
            c.file, c.reason
        ))?;
    }
    Ok(())
}

/// Says which login logs were read, and what they held.
pub(crate) fn show_login_logs(logs: &[LoginLog]) -> Result<()> {
    for l in logs {
        output::line(&format!(
            "login log {}: {}, {} (Dovecot's, kept for the logins after them)",
            l.file,
            output::count(l.lines, "line", "lines"),
            output::count(l.failed_logins, "failed login", "failed logins")
        ))?;
    }
    Ok(())
}

/// The refusals of one list or provider in the replies.
#[derive(Serialize, Clone)]
struct Refusal {
    source: String,
    refusals: u64,
    first: String,
    last: String,
    /// The earliest refusal's reply.
    sample: String,
}

/// Refusals by source, as (count, first, last, earliest reply).
type Refusals = std::collections::HashMap<String, (u64, i64, i64, String)>;

/// Notes each failed remote attempt of `m` whose reply refuses this
/// server's IP for a listing, its reputation or its rate
/// ([`crate::remote::refusal_source`]).
fn note_refusals(
    m: &maillog::Message,
    catalog: &blocklists::Catalog,
    into: &std::sync::Mutex<Refusals>,
) {
    // The same replies come back thousands of times in a burst: each is
    // classified once per thread (the table is emptied when it grows).
    // Keyed by a hash of (host, reply): no copy of either per look-up.
    type Seen = rustc_hash::FxHashMap<u64, Option<String>>;
    thread_local! {
        static SEEN: std::cell::RefCell<Seen> = Default::default();
    }
    for r in &m.recipients {
        let refused = r.outcome != maillog::Outcome::Delivered || r.deferrals > 0;
        // Every refusal of the IP cites a list, a reputation or a rate
        // (the detector's markers): the rest are not looked at further.
        let Some(reply) = r
            .reply
            .as_deref()
            .filter(|t| refused && r.remote && detect::signals::cites_spam(t))
        else {
            continue;
        };
        let source = SEEN.with(|seen| {
            let mut seen = seen.borrow_mut();
            let key = std::hash::BuildHasher::hash_one(
                &rustc_hash::FxBuildHasher,
                (r.host.as_deref(), reply),
            );
            if let Some(s) = seen.get(&key) {
                return s.clone();
            }
            if seen.len() >= 4096 {
                seen.clear();
            }
            let e = feedback::bounce::classify(reply, r.host.as_deref(), catalog);
            let s = crate::remote::refusal_source(&e, r.host.as_deref());
            seen.insert(key, s.clone());
            s
        });
        let Some(source) = source else {
            continue;
        };
        let at = r.at.secs;
        let mut map = into.lock().unwrap_or_else(|p| p.into_inner());
        let e = map
            .entry(source)
            .or_insert_with(|| (0, at, at, reply.to_string()));
        e.0 += 1;
        // The earliest reply, whichever thread saw it first.
        if (at, reply) < (e.1, e.3.as_str()) {
            e.3 = reply.to_string();
        }
        e.1 = e.1.min(at);
        e.2 = e.2.max(at);
    }
}

/// Counts bytes read from the file (compressed bytes for .gz), for the
/// progress bar.
struct Counting<R> {
    inner: R,
    bar: Option<indicatif::ProgressBar>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}

fn file_year(path: &Path) -> i64 {
    let t = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| std::time::SystemTime::now());
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // Civil year of the file's mtime (UTC): good enough to place syslog's
    // yearless dates; the parser rolls over at new year.
    let days = secs / 86_400;
    let mut year = 1970;
    let mut rest = days;
    loop {
        let len = if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 {
            366
        } else {
            365
        };
        if rest < len {
            return year;
        }
        rest -= len;
        year += 1;
    }
}

/// Opens a log for reading: plain, or compressed as logrotate leaves it
/// (gzip, xz, bzip2, zstd; every member of each, known by the first
/// bytes), counting the file's bytes on `bar`.
pub(crate) fn open_log(
    path: &Path,
    bar: Option<indicatif::ProgressBar>,
) -> Result<Box<dyn Read + Send>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let counted = Counting { inner: file, bar };
    maillog::packed::unpacked(BufReader::with_capacity(1 << 16, counted))
        .with_context(|| format!("cannot read {}", path.display()))
}

/// Feeds every line of `path` to `parser`; lines are split in the read
/// buffer without copying, except one carried across buffer ends.
pub(crate) fn read_file(
    path: &Path,
    parser: &mut LogParser,
    bar: Option<indicatif::ProgressBar>,
    on_message: &mut impl FnMut(maillog::Message),
) -> Result<()> {
    let inner = open_log(path, bar)?;
    let mut reader = BufReader::with_capacity(1 << 20, inner);
    let name = path.display().to_string();
    let mut lineno: u64 = 0;
    let mut offset: u64 = 0;
    // A line split across reads: its start, and its first bytes (no more
    // than the parser reads: see maillog::MAX_LINE).
    let (mut carry, mut carry_at): (Vec<u8>, u64) = (Vec::new(), 0);
    let keep = |carry: &mut Vec<u8>, more: &[u8]| {
        let more = maillog::past_hole(carry, more);
        let room = (MAX_LINE + 1).saturating_sub(carry.len());
        carry.extend_from_slice(&more[..more.len().min(room)]);
    };
    loop {
        let buf = reader
            .fill_buf()
            .with_context(|| format!("cannot read {name} after line {lineno}"))?;
        if buf.is_empty() {
            break;
        }
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', buf) {
            lineno += 1;
            let n = lineno;
            if start == 0 && offset > carry_at {
                keep(&mut carry, &buf[..nl]);
                parser.line_at(&carry, carry_at, || format!("{name}:{n}"), on_message);
                carry.clear();
            } else {
                let at = offset + start as u64;
                parser.line_at(&buf[start..nl], at, || format!("{name}:{n}"), on_message);
            }
            start = nl + 1;
            carry_at = offset + start as u64;
        }
        keep(&mut carry, &buf[start..]);
        let len = buf.len();
        offset += len as u64;
        reader.consume(len);
    }
    if offset > carry_at {
        lineno += 1;
        let n = lineno;
        parser.line_at(&carry, carry_at, || format!("{name}:{n}"), on_message);
    }
    Ok(())
}

/// Names a queued local submission's script from its spool headers. A
/// message no longer queued has no -H file; it keeps what the log said.
pub(crate) fn enrich(
    m: &mut maillog::Message,
    spool: Option<&Path>,
    owners: &enforce::hold::Accounts,
) {
    crate::policy::own(m, owners);
    let Some(spool) = spool else { return };
    if !matches!(
        m.sender.kind,
        maillog::SenderKind::Script | maillog::SenderKind::Local
    ) {
        return;
    }
    let Some(file) = maillog::headers::exim_spool_file(spool, &m.id) else {
        return;
    };
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let lines = maillog::headers::exim_spool_headers(&text);
            let hints = maillog::headers::script_headers(lines.iter().map(String::as_str));
            maillog::headers::apply(m, &hints);
        }
        Err(e) => tracing::warn!(file = %file.display(), error = %e, "cannot read spool file"),
    }
}

/// What a message becomes for the detector, next to where it was
/// assembled.
enum Item {
    Counted(detect::Observation),
    /// Taken by a content filter, which queued it again as this id: the
    /// copy counts, as this sender's (`detect::relink`).
    Filtered(Box<str>, Parent, maillog::Stamp),
}

/// What reading the files saw, however many threads read them.
pub(crate) struct ReadTotals {
    pub(crate) format: Option<Format>,
    pub(crate) stats: maillog::LineStats,
    pub(crate) assembly: maillog::assemble::AssemblyStats,
    pub(crate) logins: maillog::logins::RunTally,
    pub(crate) errors: Vec<FileError>,
}

pub(crate) fn progress_bar(path: &Path) -> indicatif::ProgressBar {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let b = indicatif::ProgressBar::new(len);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b.set_message(path.display().to_string());
    b
}

/// Puts `files` in the order their lines were written, by the time of
/// each one's first line: a shell's `mainlog*` lists the live file first
/// and then `.1`, `.2.gz`..., newest first, and one stream read out of
/// order would cut messages at every file's edge. Files with no time in
/// their first lines keep their order, after the others.
pub(crate) fn oldest_first(
    files: &mut [PathBuf],
    format: Option<Format>,
    zone: &maillog::time::Zone,
) -> Order {
    let starts: Vec<FileStart> = files.iter().map(|f| first_stamp(f, format, zone)).collect();
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| (starts[i].first.is_none(), starts[i].first));
    let sorted: Vec<PathBuf> = order.iter().map(|&i| files[i].clone()).collect();
    files.clone_from_slice(&sorted);
    Order {
        changed: order.iter().enumerate().any(|(k, &i)| k != i),
        year: order.first().map_or(2026, |&i| starts[i].year),
        format: order.iter().find_map(|&i| starts[i].format),
        starts: order
            .iter()
            .map(|&i| (starts[i].first, starts[i].year))
            .collect(),
    }
}

/// What [`oldest_first`] found.
pub(crate) struct Order {
    /// The files were not given oldest first.
    pub(crate) changed: bool,
    /// The year of the oldest file's syslog dates.
    pub(crate) year: i64,
    /// The format of the first file whose first lines tell it: a run
    /// split across threads must know it before it starts.
    pub(crate) format: Option<Format>,
    /// Each file's first time (UTC) and year, oldest first.
    starts: Vec<(Option<Stamp>, i64)>,
}

impl Order {
    /// Takes out of `files` (as sorted) the login logs ([`LoginLog`]):
    /// files none of whose first lines is the MTA's and some of which are
    /// Dovecot's, beside the MTA's own log (Exim's, or Postfix's own file
    /// with `maillog_file`). Returns them with their year.
    fn take_login_logs(
        &mut self,
        files: &mut Vec<PathBuf>,
        format: Option<Format>,
    ) -> Vec<(PathBuf, i64)> {
        if format.or(self.format).is_none() {
            return Vec::new();
        }
        let login: Vec<bool> = (files.iter().zip(&self.starts))
            .map(|(f, s)| s.0.is_none() && is_plain_file(f) && has_dovecot_lines(f))
            .collect();
        if login.iter().all(|&l| l) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut k = 0;
        files.retain(|f| {
            let keep = !login[k];
            if !keep {
                out.push((f.clone(), self.starts[k].1));
            }
            k += 1;
            keep
        });
        let mut k = 0;
        self.starts.retain(|_| {
            k += 1;
            !login[k - 1]
        });
        out
    }

    /// Leaves out of `files` (as sorted) those with no line inside `w`:
    /// a file's lines come after its own first line and before the next
    /// file's, so a file whose successor starts before `w.since` ends
    /// before it, and one that starts at `w.until` or later is after it.
    /// Returns the files left out; `year` becomes that of the first kept.
    fn leave_out(&mut self, files: &mut Vec<PathBuf>, w: &Window) -> Vec<PathBuf> {
        let before = |k: usize| {
            let next = self.starts.get(k + 1).and_then(|s| s.0);
            matches!((w.since, next), (Some(since), Some(n)) if n.secs < since)
        };
        let after =
            |k: usize| matches!((w.until, self.starts[k].0), (Some(u), Some(f)) if f.secs >= u);
        let keep: Vec<bool> = (0..files.len()).map(|k| !before(k) && !after(k)).collect();
        if let Some(k) = keep.iter().position(|&k| k) {
            self.year = self.starts[k].1;
        }
        let mut out = Vec::new();
        let mut kept = keep.iter();
        files.retain(|f| {
            let k = *kept.next().unwrap_or(&true);
            if !k {
                out.push(f.clone());
            }
            k
        });
        out
    }
}

/// `--since` and `--until`: the messages counted are those received in
/// `[since, until)` (UTC seconds).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Window {
    pub(crate) since: Option<i64>,
    pub(crate) until: Option<i64>,
}

impl Window {
    /// Reads `--since` and `--until` on `zone`'s clock, relative forms
    /// from `now`.
    fn read(
        since: Option<&str>,
        until: Option<&str>,
        now: i64,
        zone: &maillog::time::Zone,
    ) -> Result<Self> {
        let at = |t: Option<&str>| {
            t.map(|t| maillog::time::moment(t, now, zone))
                .transpose()
                .map_err(anyhow::Error::msg)
        };
        let w = Window {
            since: at(since)?,
            until: at(until)?,
        };
        if let (Some(s), Some(u)) = (w.since, w.until)
            && s >= u
        {
            bail!(
                "--since ({} UTC) is not before --until ({} UTC)",
                iso(s),
                iso(u)
            );
        }
        Ok(w)
    }

    pub(crate) fn holds(&self, secs: i64) -> bool {
        self.since.is_none_or(|s| secs >= s) && self.until.is_none_or(|u| secs < u)
    }
}

pub(crate) fn iso(secs: i64) -> String {
    Stamp { secs, millis: 0 }.iso()
}

/// The start of one file, from its first lines.
struct FileStart {
    first: Option<Stamp>,
    year: i64,
    format: Option<Format>,
}

/// The time of the first of a file's first 1000 lines that carries one
/// (and the format that line is in), and the year its syslog dates are
/// in: that of its last change, or the year before when its first date
/// would then be after that change (a file rotated early in January).
/// Whether any of a file's first lines is Dovecot's.
fn has_dovecot_lines(path: &Path) -> bool {
    let mut found = false;
    each_first_line(path, |line| {
        found = maillog::dovecot::is_dovecots(line);
        !found
    });
    found
}

/// Hands `each` the first [`FIRST_LINES`] lines of a file (fewer if it
/// ends or cannot be read) while it returns `true`.
fn each_first_line(path: &Path, mut each: impl FnMut(&[u8]) -> bool) {
    let Ok(inner) = open_log(path, None) else {
        return;
    };
    let mut r = BufReader::new(inner);
    let mut line = Vec::new();
    for _ in 0..FIRST_LINES {
        line.clear();
        match maillog::read_line(&mut r, &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if !each(&line) => return,
            Ok(_) => {}
        }
    }
}

/// Whether a followed file is a login log (cPanel's /var/log/maillog,
/// where Dovecot writes beside Exim's own log): some of its first lines
/// are Dovecot's and none is an MTA's. `None` while its lines tell
/// neither and are fewer than those looked at (empty, just rotated, or
/// not there yet).
pub(crate) fn login_log_kind(path: &Path) -> Option<bool> {
    match std::fs::metadata(path) {
        Err(_) => return None,
        // A pipe read ahead would lose those lines.
        Ok(m) if !m.is_file() => return Some(false),
        Ok(_) => {}
    }
    let (mut dovecot, mut mta, mut lines) = (false, false, 0);
    each_first_line(path, |line| {
        lines += 1;
        mta = maillog::dovecot::is_mtas(line);
        dovecot |= maillog::dovecot::is_dovecots(line);
        !mta
    });
    (dovecot || mta || lines >= FIRST_LINES).then_some(dovecot && !mta)
}

/// How many lines of a file are read ahead to tell what it is.
const FIRST_LINES: usize = 1000;

fn first_stamp(path: &Path, format: Option<Format>, zone: &maillog::time::Zone) -> FileStart {
    const LINES: usize = FIRST_LINES;
    let year = file_year(path);
    if !is_plain_file(path) {
        // A pipe read ahead would lose those lines.
        return FileStart {
            first: None,
            year,
            format: None,
        };
    }
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64);
    let read = |year: i64| {
        let mut parser = LogParser::new(format, year);
        parser.set_zone(zone.clone());
        let mut r = BufReader::new(open_log(path, None).ok()?);
        let mut line = Vec::new();
        for _ in 0..LINES {
            line.clear();
            if maillog::read_line(&mut r, &mut line).ok()? == 0 {
                break;
            }
            let l = line.strip_suffix(b"\n").unwrap_or(&line);
            parser.line(l, String::new, &mut |_| {});
            if parser.stats.first.is_some() {
                break;
            }
        }
        Some((parser.stats.first?, parser.format()))
    };
    let (year, found) = match (read(year), modified) {
        (Some((first, _)), Some(m)) if first.secs > m + 86_400 => (year - 1, read(year - 1)),
        (found, _) => (year, found),
    };
    FileStart {
        first: found.map(|f| f.0),
        year,
        format: found.and_then(|f| f.1),
    }
}

/// A regular file, which can be read twice (not a pipe or a device).
fn is_plain_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// One thread: the files in turn through one [`LogParser`].
fn read_sequential(
    a: &Inputs,
    r: &Ready,
    details: bool,
    show_bar: bool,
    observe: &mut dyn FnMut(maillog::Message),
) -> ReadTotals {
    let mut parser = LogParser::new(r.format, r.order.year);
    parser.set_zone(r.zone.clone());
    if !details {
        parser.skip_details();
    }
    parser.add_failures(r.failures.clone(), true);
    let mut errors = Vec::new();
    for path in &a.files {
        let bar = show_bar.then(|| progress_bar(path));
        let res = read_file(path, &mut parser, bar.clone(), &mut |m| observe(m));
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if let Err(e) = res {
            errors.push(FileError::report(path, &e));
        }
    }
    finish(parser, errors, observe)
}

/// Hands out the messages `parser` still holds; what the reading saw.
fn finish(
    mut parser: LogParser,
    errors: Vec<FileError>,
    observe: &mut dyn FnMut(maillog::Message),
) -> ReadTotals {
    parser.finish(&mut |m| observe(m));
    ReadTotals {
        format: parser.format(),
        assembly: parser.assembly(),
        logins: parser.failed_logins(),
        stats: parser.stats,
        errors,
    }
}

/// The journal's entries of `units` in `window`, whole.
fn journal_in(
    units: &str,
    directory: Option<PathBuf>,
    window: &Window,
) -> crate::journal::JournalTail {
    // journalctl takes `@SECONDS` for an instant.
    let at = |t: Option<i64>| t.map(|t| format!("@{t}"));
    crate::journal::JournalTail::open(units, directory, None, None)
        .since(at(window.since).as_deref())
        .until(at(window.until))
}

/// What went wrong reading the journal, if anything.
fn journal_problem(
    res: std::io::Result<maillog::tail::Polled>,
    journal: &crate::journal::JournalTail,
) -> Option<String> {
    match res {
        Err(e) => Some(e.to_string()),
        Ok(_) => journal.problem().map(str::to_string),
    }
}

/// One thread: the journal's entries of `units` through one [`LogParser`].
fn read_journal(
    a: &Inputs,
    units: &str,
    r: &Ready,
    details: bool,
    observe: &mut dyn FnMut(maillog::Message),
) -> ReadTotals {
    let mut parser = LogParser::new(r.format, 1970);
    // Entries are stamped in UTC; Exim's own stamp in their text is the
    // server's wall clock.
    parser.set_zone(r.zone.clone());
    if !details {
        parser.skip_details();
    }
    let mut journal = journal_in(units, a.journal_directory.clone(), &r.window);
    let mut errors = Vec::new();
    let res = journal.poll(0, |line, pos| {
        let seq = maillog::tail::Position::unpack(pos).offset;
        parser.line(line, || format!("journal:{units} entry {seq}"), &mut |m| {
            observe(m)
        });
    });
    if let Some(error) = journal_problem(res, &journal) {
        output::error(&format!("journal:{units}: {error}"));
        errors.push(FileError {
            file: format!("journal:{units}"),
            error,
        });
    }
    finish(parser, errors, observe)
}

/// Observations handed to the detector at once.
const BATCH: usize = 64;

fn analyze(g: &Global, mut a: AnalyzeArgs) -> Result<Exit> {
    let (config, config_path) = super::load_config(g)?;
    let catalog = super::load_catalog(g, &config, config_path.as_deref().and_then(|p| p.parent()))?;
    let refusals = std::sync::Mutex::new(Refusals::default());
    let ready = a.input.ready(&config)?;
    let (format, zone, window) = (ready.format, &ready.zone, ready.window);
    let (reordered, year) = (ready.order.changed, ready.order.year);
    let mut detector = Detector::new(config.detect.clone());
    // Senders silent for weeks go to a scratch file (`retire_idle`): in
    // $TMPDIR when set, else /var/tmp, which is on disk where /tmp may be
    // memory (tmpfs, Debian's default since 13).
    let scratch = match std::env::var_os("TMPDIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ if Path::new("/var/tmp").is_dir() => PathBuf::from("/var/tmp"),
        _ => std::env::temp_dir(),
    };
    if let Err(e) = detector.retire_to(&scratch) {
        output::warning(&format!(
            "cannot make a scratch file in {}: {e}; every sender stays in memory",
            scratch.display()
        ));
    }
    let show_bar = !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let threads = match a.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
        n => n,
    };
    let spool = a.input.exim_spool.clone();
    // What the detector needs of a message, worked out on the thread that
    // assembled it.
    let owners = crate::policy::accounts(&config.enforce);
    let outside = std::sync::atomic::AtomicU64::new(0);
    let prepare = |mut m: maillog::Message| {
        enrich(&mut m, spool.as_deref(), &owners);
        if window.holds(m.received.secs) {
            note_refusals(&m, &catalog, &refusals);
        }
        // A content filter's hand-over links its copy to the sender,
        // wherever the window starts.
        if let Some((child, p)) = Parent::of(&m) {
            return Some(Item::Filtered(child, p, m.received));
        }
        if !window.holds(m.received.secs) {
            outside.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
        detect::Observation::from_message(m).map(Item::Counted)
    };
    // Observations go to the detector in small batches, so it can load
    // the senders' states of a batch together (`Detector::apply_all`).
    let mut batch = Vec::with_capacity(BATCH);
    let mut relink = Relink::default();
    let mut consume = |item: Item| {
        let mut o = match item {
            Item::Filtered(child, p, at) => return relink.parent(child, p, at),
            Item::Counted(o) => o,
        };
        relink.observation(&mut o);
        batch.push(o);
        if batch.len() == BATCH {
            detector.apply_all(&mut batch);
            // Senders silent for weeks leave memory (once a day of log
            // time): it follows the active senders, not the log's size.
            detector.retire_idle();
        }
    };
    let sharded_format = if threads > 1 && a.input.journal.is_none() {
        format.or(ready.order.format)
    } else {
        None
    };
    let read = match sharded_format {
        Some(f) => {
            let t = super::logs_sharded::run(
                &a.input.files,
                &super::logs_sharded::Reading {
                    format: f,
                    year,
                    zone,
                    failures: &ready.failures,
                },
                threads,
                show_bar,
                &prepare,
                &mut consume,
            )?;
            ReadTotals {
                format: Some(f),
                stats: t.stats,
                assembly: t.assembly,
                logins: t.logins,
                errors: t.errors,
            }
        }
        None => {
            let mut observe = |m| {
                if let Some(item) = prepare(m) {
                    consume(item);
                }
            };
            a.input.read(&ready, false, show_bar, &mut observe)
        }
    };
    detector.apply_all(&mut batch);
    let mut errors = read.errors;
    let sources = a.input.sources();
    some_read(&sources, &errors)?;
    // A scratch file that failed only kept senders in memory; one that
    // lost a sender's history is an error.
    match (detector.retire_error(), detector.retire_lost()) {
        (Some(e), 0) => output::warning(&format!("{e}; the senders stayed in memory")),
        (e, lost) if lost > 0 => {
            let e = format!(
                "{lost} senders could not be read back from the scratch file: {}",
                e.unwrap_or("")
            );
            output::error(&e);
            errors.push(FileError {
                file: scratch.display().to_string(),
                error: e,
            });
        }
        _ => {}
    }

    let st = &read.stats;
    if !no_mail_log(&sources, read.format, st, &mut errors) && st.lines > 0 && st.understood == 0 {
        output::warning(&format!(
            "none of the {} lines read is {}: all are other programs' (the MTA may log to another file)",
            st.lines,
            mta_line(read.format)
        ));
    }
    let verdicts = detector.verdicts();
    let count = |v: Verdict| verdicts.iter().filter(|x| **x == v).count();
    let asm = read.assembly;
    let summary = Summary {
        ty: "summary",
        format: read.format,
        files: sources.len(),
        read_order: sources,
        reordered,
        lines: st.lines,
        understood: st.understood,
        ignored: st.ignored,
        not_understood: st.not_understood,
        not_understood_samples: samples(st),
        cut_lines: st.cut_lines,
        holes: st.holes,
        repeated: st.repeated,
        dropped: st.dropped,
        messages: asm.messages,
        incomplete: asm.incomplete,
        orphan_lines: asm.orphan_lines,
        senders: verdicts.len(),
        retired_senders: detector.retired(),
        spamming: count(Verdict::Spamming),
        suspicious: count(Verdict::Suspicious),
        timezone: zone.name().to_string(),
        since: window.since.map(iso),
        until: window.until.map(iso),
        outside_window: outside.into_inner(),
        remote_refusals: {
            let map = refusals.into_inner().unwrap_or_else(|p| p.into_inner());
            let mut v: Vec<Refusal> = map
                .into_iter()
                .map(|(source, (n, first, last, sample))| Refusal {
                    source,
                    refusals: n,
                    first: iso(first),
                    last: iso(last),
                    sample,
                })
                .collect();
            v.sort_by(|a, b| b.refusals.cmp(&a.refusals).then(a.source.cmp(&b.source)));
            v
        },
        failed_logins: read.logins.summary(FAILED_LOGINS_SHOWN),
        copies_left_out: ready.copies_left_out(),
        login_logs: ready.login_logs.clone(),
        skipped_files: ready
            .skipped
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        first: st.first.map(|s| s.iso()),
        last: st.last.map(|s| s.iso()),
        errors,
    };
    // One report at a time (a retired sender is read back for its own).
    if a.json {
        detector.each_report(&mut |r| output::json(&r))?;
        output::json(&summary)?;
    } else {
        let mut shown = Vec::new();
        detector.each_report(&mut |r| -> Result<()> {
            if a.all || r.verdict != Verdict::Ok {
                shown.push(r);
            }
            Ok(())
        })?;
        print_human(&shown, &summary)?;
    }
    Ok(if summary.spamming > 0 {
        Exit::Found
    } else if !summary.errors.is_empty() {
        Exit::Failed
    } else {
        Exit::Clean
    })
}

/// Names and addresses the summary lists of the failed logins.
const FAILED_LOGINS_SHOWN: usize = 5;

/// `an Exim or Postfix log line`, or of the format given.
fn mta_line(format: Option<Format>) -> &'static str {
    match format {
        Some(Format::Exim) => "an Exim log line",
        Some(Format::Postfix) => "a Postfix log line",
        None => "an Exim or Postfix log line",
    }
}

/// Input of which no line is a mail log's, and some are no log's at all
/// (the wrong file, a binary): an error, not a clean server. Says so on
/// stderr and adds it to `errors`; returns whether it did.
pub(crate) fn no_mail_log(
    sources: &[String],
    format: Option<Format>,
    st: &LineStats,
    errors: &mut Vec<FileError>,
) -> bool {
    if st.lines == 0 || st.understood > 0 || st.not_understood == 0 {
        return false;
    }
    let file = match sources {
        [one] => one.clone(),
        _ => format!("{} files", sources.len()),
    };
    let error = format!(
        "{file}: none of its {} lines is {} ({} not understood): is it the MTA's main log (Exim: exim_mainlog or exim4/mainlog; Postfix: maillog or mail.log)? If it is, its lines are in a form unlisted does not read yet",
        st.lines,
        mta_line(format),
        st.not_understood
    );
    output::error(&error);
    errors.push(FileError { file, error });
    true
}

/// `shown`: the senders to list (those not `ok`, or all with `--all`).
fn print_human(shown: &[SenderReport], s: &Summary) -> Result<()> {
    // The sender column is as wide as the widest sender shown (at most 60).
    let w = shown
        .iter()
        .map(|r| r.sender.to_string().len())
        .max()
        .unwrap_or(6)
        .min(60);
    let row = |cells: [&str; 8]| {
        format!(
            "{:<10}  {:<w$}  {:<12} {:>7} {:>7} {:>7} {:>7} {:>5}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]
        )
    };
    if !shown.is_empty() {
        output::line(&row([
            "VERDICT", "SENDER", "ACCOUNT", "MSGS", "RCPTS", "BOUNCED", "DEFER", "IPS",
        ]))?;
    }
    for r in shown {
        output::line(&row([
            r.verdict.as_str(),
            &r.sender.to_string(),
            r.account.as_deref().unwrap_or("-"),
            &r.messages.to_string(),
            &r.recipients.to_string(),
            &r.bounced.to_string(),
            &r.deferred.to_string(),
            &r.client_ips.to_string(),
        ]))?;
        for reason in &r.reasons {
            output::line(&format!(
                "    {} {}: {}",
                reason.severity.as_str(),
                reason.code,
                reason.detail
            ))?;
            for sample in reason.samples.iter().take(2) {
                output::line(&format!("        {sample}"))?;
            }
        }
        if r.verdict != Verdict::Ok {
            output::line(&format!(
                "    seen {} .. {}, worst at {}",
                r.first_seen,
                r.last_seen,
                r.verdict_at.as_deref().unwrap_or("-")
            ))?;
        }
    }
    let ok = s.senders - s.spamming - s.suspicious;
    output::line(&format!(
        "{} ({} understood, {} ignored, {} not understood); {}; {}: {} spamming, {} suspicious, {} ok{}",
        output::count(s.lines, "line", "lines"),
        s.understood,
        s.ignored,
        s.not_understood,
        output::count(s.messages, "message", "messages"),
        output::count(s.senders as u64, "sender", "senders"),
        s.spamming,
        s.suspicious,
        ok,
        match (&s.first, &s.last) {
            (Some(f), Some(l)) => format!("; {f} .. {l} UTC (logs in {})", s.timezone),
            _ => String::new(),
        }
    ))?;
    for r in &s.remote_refusals {
        output::line(&format!(
            "refused by {}: {} recipients, {} .. {} UTC; first: {}",
            r.source, r.refusals, r.first, r.last, r.sample
        ))?;
    }
    if let Some(f) = &s.failed_logins {
        let most = f
            .top_addresses
            .iter()
            .map(|a| format!("{} ({})", a.address, a.failures))
            .collect::<Vec<_>>()
            .join(", ");
        output::line(&format!(
            "failed logins: {} naming {} from {}; most from {most}",
            f.failures,
            output::count(f.names as u64, "mailbox", "mailboxes"),
            output::count(f.addresses as u64, "address", "addresses")
        ))?;
        for n in &f.top_names {
            output::line(&format!(
                "    {}: {} failed from {}, {} .. {} UTC",
                n.name,
                n.failures,
                output::count(n.addresses as u64, "address", "addresses"),
                n.first,
                n.last
            ))?;
        }
    }
    if s.since.is_some() || s.until.is_some() {
        output::line(&format!(
            "counted the messages received {} .. {} UTC; {} outside were read and left out{}",
            s.since.as_deref().unwrap_or("(start)"),
            s.until.as_deref().unwrap_or("(end)"),
            s.outside_window,
            match s.skipped_files.len() {
                0 => String::new(),
                n => format!(
                    "; {n} file{} wholly outside not read: {}",
                    if n == 1 { "" } else { "s" },
                    s.skipped_files.join(", ")
                ),
            }
        ))?;
    }
    show_copies_left_out(&s.copies_left_out)?;
    show_login_logs(&s.login_logs)?;
    if s.reordered {
        output::warning(&format!(
            "read the files oldest first (by their first lines): {}",
            s.read_order.join(", ")
        ));
    }
    let lines = |n: u64| match n {
        1 => "1 line".to_string(),
        n => format!("{n} lines"),
    };
    if s.cut_lines > 0 {
        output::warning(&format!(
            "{} longer than {} KiB read from their first {} KiB only",
            lines(s.cut_lines),
            maillog::MAX_LINE >> 10,
            maillog::MAX_LINE >> 10
        ));
    }
    if s.holes > 0 {
        output::warning(&format!(
            "{} began with NUL bytes (what a crash leaves where a log's last blocks were never written), read from after them",
            lines(s.holes)
        ));
    }
    if s.dropped > 0 {
        output::warning(&dropped_by_journald(s.dropped));
    }
    if s.repeated > 0 {
        output::line(&format!(
            "syslog folded {} into `message repeated` lines: each was read as the line it repeats",
            lines(s.repeated)
        ))?;
    }
    warn_not_understood(&s.not_understood_samples);
    Ok(())
}

/// What to say of the MTA's lines journald dropped.
pub(crate) fn dropped_by_journald(n: u64) -> String {
    format!(
        "journald dropped {n} of the MTA's lines (its rate limit, which a burst of mail trips): the counts here are short by those; raise RateLimitBurst= in journald.conf or LogRateLimitBurst= in the MTA's unit"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_tells_a_login_log_by_its_first_lines_once_they_tell() {
        let dir = std::env::temp_dir().join(format!("unlisted-login-kind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kind = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            login_log_kind(&path)
        };
        let other = "Nov 29 07:00:00 web rsyslogd: [origin] start\n";
        let dovecot = "Nov 29 07:00:01 web dovecot: imap-login: Login: user=<a@b>\n";
        let exim = "2026-11-29 07:00:02 Start queue run: pid=1\n";
        assert_eq!(kind("empty", ""), None);
        assert_eq!(kind("few", &other.repeat(3)), None);
        assert_eq!(kind("many", &other.repeat(FIRST_LINES)), Some(false));
        assert_eq!(kind("dovecot", &format!("{other}{dovecot}")), Some(true));
        assert_eq!(kind("both", &format!("{dovecot}{exim}")), Some(false));
        assert_eq!(login_log_kind(&dir.join("missing")), None);
        assert_eq!(login_log_kind(Path::new("/dev/null")), Some(false));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
