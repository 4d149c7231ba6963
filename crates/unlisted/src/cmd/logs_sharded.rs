//! `logs analyze` on several threads: one reads the files, `n` shards parse
//! and assemble the messages whose ids hash to them ([`maillog::shard`]),
//! and the calling thread merges their messages back into the order one
//! thread would hand them out and runs the detector on them.
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
use maillog::shard::{OrderKey, Route, Router, order_key};
use maillog::{Format, LineStats, LogParser, Message, SAMPLES, Stamp};

/// Bytes per chunk: big enough that the per-chunk hand-over between
/// threads costs nothing, small enough that a few in flight are cheap.
const CHUNK: usize = 256 << 10;
/// Chunks queued ahead per shard.
const AHEAD: usize = 16;

/// Whole lines of one file. Its buffer goes back to the reader when the
/// last shard is done with it: fresh 256 KiB buffers would cost a page
/// fault per 4 KiB each time.
struct Chunk {
    file: usize,
    /// The buffer; its first `len` bytes are the lines.
    data: Vec<u8>,
    len: usize,
    pool: std::sync::mpsc::Sender<Vec<u8>>,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        let _ = self.pool.send(std::mem::take(&mut self.data));
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
    /// Global line numbers of `stats.samples`, in order.
    sample_lines: Vec<u64>,
    first: Option<(u64, Stamp)>,
    last: Option<(u64, Stamp)>,
}

/// What the sharded run saw, merged as one thread would have counted it.
pub(crate) struct Totals {
    pub(crate) stats: LineStats,
    pub(crate) assembly: AssemblyStats,
    /// Files that could not be read (whole or in part).
    pub(crate) errors: Vec<super::logs::FileError>,
}

/// Reads `files` with `shards` shard threads. Each message is turned into
/// a `T` by `prepare` on its shard's thread (next to the message, which is
/// dropped there); `consume` sees every `T` in the order a single
/// [`LogParser`] would have handed the messages out.
pub(crate) fn run<T: Send>(
    files: &[PathBuf],
    format: Format,
    year: i64,
    shards: usize,
    show_bar: bool,
    prepare: &(dyn Fn(Message) -> Option<T> + Sync),
    consume: &mut dyn FnMut(T),
) -> Result<Totals> {
    let router = Router::new(format, shards);
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
                .spawn_scoped(scope, move || {
                    shard(k, router, format, year, names, rx, btx, prepare)
                })?;
        }
        let reader = std::thread::Builder::new()
            .name("log-reader".into())
            .spawn_scoped(scope, move || read_all(files, show_bar, to_shards))?;
        let merged = merge(&mut from_shards, consume);
        // Unblocks any thread still sending if the merge stopped early.
        drop(from_shards);
        let errors = reader
            .join()
            .map_err(|_| anyhow!("the log reader thread stopped"))?;
        let (stats, assembly) = merged?;
        Ok(Totals {
            stats,
            assembly,
            errors,
        })
    })
}

fn read_all(
    files: &[PathBuf],
    show_bar: bool,
    to: Vec<SyncSender<Arc<Chunk>>>,
) -> Vec<super::logs::FileError> {
    let mut errors = Vec::new();
    let (pool, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
    let buffer = || recycled.try_recv().unwrap_or_default();
    let send = |file: usize, data: Vec<u8>, len: usize| {
        let c = Arc::new(Chunk {
            file,
            data,
            len,
            pool: pool.clone(),
        });
        to.iter().all(|t| t.send(c.clone()).is_ok())
    };
    for (i, path) in files.iter().enumerate() {
        let b = show_bar.then(|| super::logs::progress_bar(path));
        let res = super::logs::open_log(path, b.clone())
            .and_then(|r| read_one(i, path, r, &buffer, &send));
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
    buffer: &impl Fn() -> Vec<u8>,
    send: &impl Fn(usize, Vec<u8>, usize) -> bool,
) -> Result<bool> {
    let mut lines: u64 = 0;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        // Buffers come back initialized: reading into them needs no
        // zeroing, unlike `read_to_end` into spare capacity.
        let mut data = buffer();
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
        let cut = match memchr::memrchr(b'\n', &data[..filled]) {
            _ if eof => filled,
            Some(nl) => nl + 1,
            // One line longer than a chunk: keep reading (or, on an error,
            // drop the part of a line, as one thread does).
            None => 0,
        };
        carry.extend_from_slice(&data[cut..filled]);
        if cut > 0 {
            lines += memchr::memchr_iter(b'\n', &data[..cut]).count() as u64;
            if !send(file, data, cut) {
                return Ok(false);
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

#[allow(clippy::too_many_arguments)] // one thread's whole context
fn shard<T>(
    k: usize,
    router: Router,
    format: Format,
    year: i64,
    names: &[String],
    rx: Receiver<Arc<Chunk>>,
    tx: SyncSender<Batch<T>>,
    prepare: &(dyn Fn(Message) -> Option<T> + Sync),
) {
    let mut parser = LogParser::new(Some(format), year);
    let mut end = ShardEnd {
        stats: LineStats::default(),
        assembly: AssemblyStats::default(),
        sample_lines: Vec::new(),
        first: None,
        last: None,
    };
    let mut global: u64 = 0;
    let (mut file, mut lineno, mut offset) = (usize::MAX, 0u64, 0u64);
    for chunk in rx {
        if chunk.file != file {
            (file, lineno, offset) = (chunk.file, 0, 0);
        }
        let name = names.get(file).map(String::as_str).unwrap_or("");
        let mut out = Vec::new();
        let mut emit = |at: u64, m: Message| keep(&mut out, prepare, at, m);
        let data = &chunk.data[..chunk.len];
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', data).chain(
            // A last line without its newline.
            (!data.ends_with(b"\n")).then_some(data.len()),
        );
        for nl in ends {
            let line = &data[start..nl];
            let at = offset + start as u64;
            start = nl + 1;
            lineno += 1;
            global += 1;
            let route = router.route(line);
            let own = match route {
                Route::Shard { shard, .. } => shard == k,
                Route::Every | Route::First => k == 0,
            };
            if !own {
                parser.peek(line, route, &mut |m| emit(global, m));
                continue;
            }
            let (samples, stamped) = (parser.stats.samples.len(), parser.stamped_lines());
            let n = lineno;
            parser.line_at(line, at, || format!("{name}:{n}"), &mut |m| emit(global, m));
            if parser.stats.samples.len() > samples {
                end.sample_lines.push(global);
            }
            if parser.stamped_lines() > stamped
                && let Some(last) = parser.stats.last
            {
                end.first.get_or_insert((global, last));
                end.last = Some((global, last));
            }
        }
        offset += data.len() as u64;
        if tx.send(Batch::Chunk(out)).is_err() {
            return;
        }
    }
    let mut out = Vec::new();
    parser.finish(&mut |m| keep(&mut out, prepare, u64::MAX, m));
    end.stats = std::mem::take(&mut parser.stats);
    end.assembly = parser.assembly();
    let _ = tx.send(Batch::Done(out, Box::new(end)));
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
) -> Result<(LineStats, AssemblyStats)> {
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
    let mut samples: Vec<(u64, (String, String))> = Vec::new();
    for e in &mut ends {
        let s = &mut e.stats;
        stats.lines += s.lines;
        stats.understood += s.understood;
        stats.ignored += s.ignored;
        stats.not_understood += s.not_understood;
        samples.extend(e.sample_lines.iter().copied().zip(s.samples.drain(..)));
        assembly.messages += e.assembly.messages;
        assembly.orphan_lines += e.assembly.orphan_lines;
        assembly.incomplete += e.assembly.incomplete;
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
    Ok((stats, assembly))
}
