//! `logs analyze` on several threads: one reads the files and routes each
//! line, `n` shards parse and assemble the messages whose ids hash to them
//! ([`maillog::shard`]), and the calling thread merges their messages back
//! into the order one thread would hand them out and runs the detector on
//! them.
//!
//! The threads move in step, chunk by chunk (256 KiB of whole lines, at
//! most [`AHEAD`] queued per shard), so memory stays bounded by the chunks
//! in flight and the open messages, whatever the size of the log.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Result, anyhow};
use maillog::assemble::AssemblyStats;
use maillog::logins::RunTally;
use maillog::shard::{OrderKey, Routed, Tagger, order_key};
use maillog::{Format, LineStats, LogParser, MAX_LINE, Message, SAMPLES, Stamp};

/// Bytes per chunk: big enough that the per-chunk hand-over between
/// threads costs nothing, small enough that a few in flight are cheap.
const CHUNK: usize = 256 << 10;
/// Chunks queued ahead per shard.
const AHEAD: usize = 16;

/// Whole lines of one file, routed. Its buffers go back to the reader
/// when the last shard is done with it: fresh 256 KiB buffers would cost
/// a page fault per 4 KiB each time.
struct Chunk {
    file: usize,
    /// Where it starts in its file, and the lines of all files before it.
    offset: u64,
    lineno: u64,
    global: u64,
    /// The bytes: the lines are the first `len`.
    data: Vec<u8>,
    len: usize,
    routed: Routed,
    pool: std::sync::mpsc::Sender<Buffers>,
}

#[derive(Default)]
struct Buffers {
    data: Vec<u8>,
    routed: Routed,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        let _ = self.pool.send(Buffers {
            data: std::mem::take(&mut self.data),
            routed: std::mem::take(&mut self.routed),
        });
    }
}

enum Batch<T> {
    /// What the messages handed out while reading one chunk became, with
    /// their place in the single-thread order.
    Chunk(Vec<(OrderKey, T)>),
    /// The input ended: the messages still open, and the shard's counts.
    Done(Vec<(OrderKey, T)>, Box<ShardEnd>),
}

struct ShardEnd {
    stats: LineStats,
    assembly: AssemblyStats,
    logins: RunTally,
    /// Global line numbers of `stats.samples`, in order.
    sample_lines: Vec<u64>,
    first: Option<(u64, Stamp)>,
    last: Option<(u64, Stamp)>,
}

/// How a log is read: its format, the year of its syslog dates and the
/// zone of its wall-clock times.
pub(crate) struct Reading<'a> {
    pub(crate) format: Format,
    pub(crate) year: i64,
    pub(crate) zone: &'a maillog::time::Zone,
    /// Failed logins of login logs read before, which every shard keeps
    /// and shard 0 counts ([`LogParser::add_failures`]).
    pub(crate) failures: &'a [maillog::dovecot::Logged],
}

/// What the sharded run saw, merged as one thread would have counted it.
pub(crate) struct Totals {
    pub(crate) stats: LineStats,
    pub(crate) assembly: AssemblyStats,
    /// The failed logins (one shard counts each).
    pub(crate) logins: RunTally,
    /// Files that could not be read (whole or in part).
    pub(crate) errors: Vec<super::logs::FileError>,
}

/// Reads `files` with `shards` shard threads. Each message is turned into
/// a `T` by `prepare` on its shard's thread (next to the message, which is
/// dropped there); `consume` sees every `T` in the order a single
/// [`LogParser`] would have handed the messages out.
pub(crate) fn run<T: Send>(
    files: &[PathBuf],
    how: &Reading<'_>,
    shards: usize,
    show_bar: bool,
    prepare: &(dyn Fn(Message) -> Option<T> + Sync),
    consume: &mut dyn FnMut(T),
) -> Result<Totals> {
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let names = &names;
    std::thread::scope(|scope| {
        let mut to_shards = Vec::with_capacity(shards);
        let mut from_shards = Vec::with_capacity(shards);
        for k in 0..shards {
            let (tx, rx) = sync_channel::<Arc<Chunk>>(AHEAD);
            let (btx, brx) = sync_channel::<Batch<T>>(AHEAD);
            to_shards.push(tx);
            from_shards.push(brx);
            std::thread::Builder::new()
                .name(format!("log-shard-{k}"))
                .spawn_scoped(scope, move || shard(k, how, names, rx, btx, prepare))?;
        }
        let reader = std::thread::Builder::new()
            .name("log-reader".into())
            .spawn_scoped(scope, move || {
                read_all(
                    files,
                    show_bar,
                    Tagger::new(how.format, shards, how.year, how.zone.clone()),
                    to_shards,
                )
            })?;
        let merged = merge(&mut from_shards, consume);
        // Unblocks any thread still sending if the merge stopped early.
        drop(from_shards);
        let errors = reader
            .join()
            .map_err(|_| anyhow!("the log reader thread stopped"))?;
        let (stats, assembly, logins) = merged?;
        Ok(Totals {
            stats,
            assembly,
            logins,
            errors,
        })
    })
}

fn read_all(
    files: &[PathBuf],
    show_bar: bool,
    mut tagger: Tagger,
    to: Vec<SyncSender<Arc<Chunk>>>,
) -> Vec<super::logs::FileError> {
    let mut errors = Vec::new();
    let (pool, recycled) = std::sync::mpsc::channel::<Buffers>();
    let buffers = || recycled.try_recv().unwrap_or_default();
    let mut global = 0;
    let mut send = |file: usize, offset: u64, lineno: u64, mut b: Buffers, len: usize| {
        tagger.tag(&b.data[..len], &mut b.routed);
        let lines = b.routed.len() as u64;
        let c = Arc::new(Chunk {
            file,
            offset,
            lineno,
            global,
            data: b.data,
            len,
            routed: b.routed,
            pool: pool.clone(),
        });
        global += lines;
        to.iter()
            .all(|t| t.send(c.clone()).is_ok())
            .then_some(lines)
    };
    for (i, path) in files.iter().enumerate() {
        let b = show_bar.then(|| super::logs::progress_bar(path));
        let res = super::logs::open_log(path, b.clone())
            .and_then(|r| read_one(i, path, r, &buffers, &mut send));
        if let Some(b) = b {
            b.finish_and_clear();
        }
        match res {
            Ok(true) => {}
            Ok(false) => break, // a shard is gone; the merge reports it
            Err(e) => errors.push(super::logs::FileError::report(path, &e)),
        }
    }
    errors
}

/// Sends one file as chunks of whole lines (the last may lack its
/// newline). A read error keeps the lines read before it, like a single
/// thread. `false` when a shard stopped listening.
fn read_one(
    file: usize,
    path: &std::path::Path,
    mut r: Box<dyn Read>,
    buffers: &impl Fn() -> Buffers,
    send: &mut impl FnMut(usize, u64, u64, Buffers, usize) -> Option<u64>,
) -> Result<bool> {
    // `offset`: where `data` (the carried part of a line, then what is
    // read after it) starts in the file.
    let (mut lines, mut offset) = (0u64, 0u64);
    let mut carry: Vec<u8> = Vec::new();
    // The rest of a line longer than MAX_LINE, whose first bytes were
    // sent, is skipped up to its newline.
    let mut skipping = false;
    loop {
        // Buffers come back initialized: reading into them needs no
        // zeroing, unlike `read_to_end` into spare capacity.
        let mut b = buffers();
        let data = &mut b.data;
        let need = carry.len() + CHUNK;
        if data.len() < need {
            data.resize(need, 0);
        }
        data[..carry.len()].copy_from_slice(&carry);
        let mut filled = carry.len();
        carry.clear();
        let (mut eof, mut failed) = (false, None);
        while filled < need {
            match r.read(&mut data[filled..need]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if skipping {
            let skip = match memchr::memchr(b'\n', &data[..filled]) {
                Some(nl) => {
                    skipping = false;
                    nl + 1
                }
                None => filled,
            };
            data.copy_within(skip..filled, 0);
            filled -= skip;
            offset += skip as u64;
        }
        // A crash's hole (NUL bytes, of any length) at the start of a line
        // (`data` starts one) is kept as one byte, so that the line after
        // it fits in what the parser reads.
        if data.first() == Some(&0) {
            let n = data[..filled]
                .iter()
                .position(|&b| b != 0)
                .unwrap_or(filled);
            if n > 1 {
                data.copy_within(n - 1..filled, 0);
                filled -= n - 1;
                offset += (n - 1) as u64;
            }
        }
        let cut = match memchr::memrchr(b'\n', &data[..filled]) {
            _ if eof => filled,
            Some(nl) => nl + 1,
            // One line longer than a chunk: keep reading (or, on an error,
            // drop the part of a line, as one thread does).
            None => 0,
        };
        if cut == 0 && filled > MAX_LINE + 1 {
            // No end in sight: send as much of it as the parser reads
            // (one thread keeps as much), skip the rest.
            data[MAX_LINE + 1] = b'\n';
            match send(file, offset, lines, b, MAX_LINE + 2) {
                Some(n) => lines += n,
                None => return Ok(false),
            }
            offset += filled as u64;
            skipping = true;
        } else {
            carry.extend_from_slice(&data[cut..filled]);
            if cut > 0 {
                match send(file, offset, lines, b, cut) {
                    Some(n) => lines += n,
                    None => return Ok(false),
                }
                offset += cut as u64;
            }
        }
        if let Some(e) = failed {
            return Err(anyhow::Error::new(e)
                .context(format!("cannot read {} after line {lines}", path.display())));
        }
        if eof {
            return Ok(true);
        }
    }
}

/// Parses the lines routed to shard `k`, and the Exim lines every shard
/// glances at; sweeps where the reader marked a new hour.
fn shard<T>(
    k: usize,
    how: &Reading<'_>,
    names: &[String],
    rx: Receiver<Arc<Chunk>>,
    tx: SyncSender<Batch<T>>,
    prepare: &(dyn Fn(Message) -> Option<T> + Sync),
) {
    let mut parser = LogParser::new(Some(how.format), how.year);
    parser.set_zone(how.zone.clone());
    parser.skip_details();
    parser.add_failures(how.failures.to_vec(), k == 0);
    let mut tally = ShardEnd {
        stats: LineStats::default(),
        assembly: AssemblyStats::default(),
        logins: RunTally::default(),
        sample_lines: Vec::new(),
        first: None,
        last: None,
    };
    // A chunk hands out about as many messages as the one before: room
    // for them at once, instead of growing (and copying) the batch.
    let mut room = 0;
    for chunk in rx {
        let name = names.get(chunk.file).map(String::as_str).unwrap_or("");
        let mut out = Vec::with_capacity(room);
        let mut emit = |at: u64, m: Message| keep(&mut out, prepare, at, m);
        // What the parser had counted before each of its lines.
        let (mut samples, mut stamped) = (parser.stats.samples.len(), parser.stamped_lines());
        let data = &chunk.data[..chunk.len];
        // Global line numbers count from 1.
        let global = |j: usize| chunk.global + j as u64 + 1;
        chunk.routed.feed(
            k,
            &mut parser,
            data,
            chunk.offset,
            |line| format!("{name}:{}", chunk.lineno + line as u64 + 1),
            &mut |line, m| emit(global(line), m),
            &mut |parser, line| {
                if parser.stats.samples.len() > samples {
                    samples = parser.stats.samples.len();
                    tally.sample_lines.push(global(line));
                }
                if parser.stamped_lines() > stamped {
                    stamped = parser.stamped_lines();
                    if let Some(last) = parser.stats.last {
                        tally.first.get_or_insert((global(line), last));
                        tally.last = Some((global(line), last));
                    }
                }
            },
        );
        room = out.len() + out.len() / 8;
        if tx.send(Batch::Chunk(out)).is_err() {
            return;
        }
    }
    let mut out = Vec::new();
    parser.finish(&mut |m| keep(&mut out, prepare, u64::MAX, m));
    tally.stats = std::mem::take(&mut parser.stats);
    tally.assembly = parser.assembly();
    tally.logins = parser.failed_logins();
    let _ = tx.send(Batch::Done(out, Box::new(tally)));
}

/// What `m`, handed out by the line `at`, became, with its place in the
/// merge; nothing when `prepare` drops it.
fn keep<T>(
    out: &mut Vec<(OrderKey, T)>,
    prepare: &(dyn Fn(Message) -> Option<T> + Sync),
    at: u64,
    m: Message,
) {
    let key = order_key(at, &m);
    if let Some(t) = prepare(m) {
        out.push((key, t));
    }
}

/// Takes one batch from every shard in turn, merges them in
/// [`order_key`] order and hands the messages to `observe`; then adds up
/// the shards' counts.
fn merge<T>(
    from: &mut [Receiver<Batch<T>>],
    consume: &mut dyn FnMut(T),
) -> Result<(LineStats, AssemblyStats, RunTally)> {
    let gone = || anyhow!("a log shard thread stopped");
    let mut ends: Vec<ShardEnd> = Vec::new();
    while ends.is_empty() {
        let mut heads = Vec::with_capacity(from.len());
        for rx in from.iter() {
            match rx.recv().map_err(|_| gone())? {
                Batch::Chunk(v) => heads.push(v.into_iter()),
                Batch::Done(v, e) => {
                    heads.push(v.into_iter());
                    ends.push(*e);
                }
            }
        }
        if !ends.is_empty() && ends.len() != from.len() {
            return Err(gone());
        }
        // Each shard's batch is in order already: take the least head
        // until all are empty, moving every message once.
        loop {
            let mut best: Option<(usize, _)> = None;
            for (i, h) in heads.iter().enumerate() {
                if let Some((key, _)) = h.as_slice().first()
                    && best.is_none_or(|(_, b)| key < b)
                {
                    best = Some((i, key));
                }
            }
            let Some((i, _)) = best else { break };
            if let Some((_, t)) = heads[i].next() {
                consume(t);
            }
        }
    }
    let mut stats = LineStats::default();
    let mut assembly = AssemblyStats::default();
    let mut logins = RunTally::default();
    let mut samples: Vec<(u64, (String, String))> = Vec::new();
    for e in &mut ends {
        let s = &mut e.stats;
        stats.lines += s.lines;
        stats.understood += s.understood;
        stats.ignored += s.ignored;
        stats.not_understood += s.not_understood;
        stats.cut_lines += s.cut_lines;
        stats.holes += s.holes;
        stats.dropped += s.dropped;
        stats.repeated += s.repeated;
        samples.extend(e.sample_lines.iter().copied().zip(s.samples.drain(..)));
        assembly.messages += e.assembly.messages;
        assembly.orphan_lines += e.assembly.orphan_lines;
        assembly.incomplete += e.assembly.incomplete;
        logins.merge(std::mem::take(&mut e.logins));
    }
    samples.sort_by_key(|(at, _)| *at);
    stats.samples = samples.into_iter().take(SAMPLES).map(|(_, s)| s).collect();
    stats.first = ends
        .iter()
        .filter_map(|e| e.first)
        .min_by_key(|f| f.0)
        .map(|f| f.1);
    stats.last = ends
        .iter()
        .filter_map(|e| e.last)
        .max_by_key(|f| f.0)
        .map(|f| f.1);
    Ok((stats, assembly, logins))
}
