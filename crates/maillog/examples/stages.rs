//! What each stage of reading a log costs on one thread, to put the
//! benchmark's figures in proportion (bench/logs/run.sh prints them next
//! to `logs analyze`): splitting the lines, parsing each line alone, and
//! parsing with assembly into messages as `logs analyze` assembles them
//! (without the details it skips; the messages are then dropped). The
//! detector's work is what `logs analyze --threads 1` adds after that.
//! And a floor: `tally`, the least work the peers' own reports need (per
//! envelope sender: messages, bytes, deliveries, bounces, deferrals, as
//! eximstats and pflogsumm count them), with no message assembled and
//! nothing else read from a line.
//!
//! usage: cargo run --release -p maillog --example stages -- exim|postfix FILE [STAGE]
//! (one stage alone, for a profiler)

use std::io::Read;
use std::time::Instant;

use maillog::{Format, LogParser};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (format, path, only) = match &args[..] {
        [_, f, p] => (f, p, None),
        [_, f, p, s] => (f, p, Some(s.as_str())),
        _ => {
            eprintln!("usage: stages exim|postfix FILE [split|parse|assemble|tally]");
            std::process::exit(2);
        }
    };
    let run = |stage: &str| only.is_none_or(|o| o == stage);
    let format = match format.as_str() {
        "exim" => Format::Exim,
        "postfix" => Format::Postfix,
        other => {
            eprintln!("unknown format {other}");
            std::process::exit(2);
        }
    };
    let mut data = Vec::new();
    if let Err(e) = std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut data)) {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(1);
    }
    let mb = data.len() as f64 / 1_048_576.0;
    let data = &data[..];
    let lines = || {
        let mut start = 0;
        memchr::memchr_iter(b'\n', data).map(move |nl| {
            let l = &data[start..nl];
            start = nl + 1;
            l
        })
    };

    // Each stage prints: name, seconds, MB/s, and a count that depends on
    // the work (so none of it can be skipped).
    let report = |name: &str, t: Instant, n: u64| {
        let s = t.elapsed().as_secs_f64();
        println!("{name}\t{s:.3}\t{:.0}\t{n}", mb / s);
    };

    if run("split") {
        let t = Instant::now();
        let n = lines().map(|l| l.len() as u64 & 1).sum();
        report("split", t, n);
    }
    if run("parse") {
        let t = Instant::now();
        let mut parsed = 0u64;
        for l in lines() {
            let Ok(s) = std::str::from_utf8(l) else {
                continue;
            };
            let ok = match format {
                Format::Exim => maillog::exim::parse(s).is_some(),
                Format::Postfix => maillog::postfix::parse(s, 2024).is_ok(),
            };
            parsed += ok as u64;
        }
        report("parse", t, parsed);
    }
    if run("tally") {
        let t = Instant::now();
        let mut tally = Tally::default();
        for l in lines() {
            match format {
                Format::Exim => tally.exim(l),
                Format::Postfix => tally.postfix(l),
            }
        }
        report("tally", t, tally.total());
    }
    if run("assemble") {
        let t = Instant::now();
        let mut parser = LogParser::new(Some(format), 2024);
        parser.skip_details();
        let mut messages = 0u64;
        let mut count = |_m: maillog::Message| messages += 1;
        for l in lines() {
            parser.line(l, String::new, &mut count);
        }
        parser.finish(&mut count);
        report("assemble", t, messages);
    }
}

/// Per envelope sender: messages, bytes, delivered, bounced, deferred.
#[derive(Default)]
struct Tally {
    senders: rustc_hash::FxHashMap<Vec<u8>, usize>,
    counts: Vec<[u64; 5]>,
    /// Messages in flight: id (Exim's are at most 23 bytes, Postfix's
    /// long ids 17) to sender.
    live: rustc_hash::FxHashMap<[u8; 24], usize>,
}

impl Tally {
    fn sender(&mut self, who: &[u8]) -> usize {
        if let Some(&i) = self.senders.get(who) {
            return i;
        }
        self.counts.push([0; 5]);
        self.senders.insert(who.to_vec(), self.counts.len() - 1);
        self.counts.len() - 1
    }

    fn arrival(&mut self, id: &[u8], who: &[u8], size: u64) {
        let i = self.sender(who);
        self.counts[i][0] += 1;
        self.counts[i][1] += size;
        self.live.insert(key(id), i);
    }

    fn fate(&mut self, id: &[u8], k: usize) {
        if let Some(&i) = self.live.get(&key(id)) {
            self.counts[i][k] += 1;
        }
    }

    /// `STAMP ID FLAG …`: `<=` (sender, `S=`), `=>`/`->`, `**`, `==`,
    /// `Completed`.
    fn exim(&mut self, l: &[u8]) {
        let Some(used) = maillog::time::exim_stamp_len(l) else {
            return;
        };
        let rest = &l[(used + 1).min(l.len())..];
        let Some(sp) = memchr::memchr(b' ', rest) else {
            return;
        };
        let (id, ev) = (&rest[..sp], &rest[sp + 1..]);
        if !(id.len() == 16 || id.len() == 23) || ev.len() < 3 {
            return;
        }
        match &ev[..2] {
            b"<=" => {
                let a = &ev[3..];
                let who = &a[..memchr::memchr(b' ', a).unwrap_or(a.len())];
                let size = memchr::memmem::find(a, b" S=").map_or(0, |p| number(&a[p + 3..]));
                self.arrival(id, who, size);
            }
            b"=>" | b"->" => self.fate(id, 2),
            b"**" => self.fate(id, 3),
            b"==" => self.fate(id, 4),
            b"Co" => {
                self.live.remove(&key(id));
            }
            _ => {}
        }
    }

    /// `… postfix/PROG[PID]: ID: from=<…>, size=N` (qmgr), `to=<…>, …
    /// status=sent|bounced|deferred`, `removed`.
    fn postfix(&mut self, l: &[u8]) {
        let Some(tag) = memchr::memmem::find(l, b"]: ") else {
            return;
        };
        let rest = &l[tag + 3..];
        let Some(colon) = memchr::memmem::find(rest, b": ") else {
            return;
        };
        let (id, text) = (&rest[..colon], &rest[colon + 2..]);
        if let Some(a) = text.strip_prefix(b"from=<") {
            let end = memchr::memchr(b'>', a).unwrap_or(a.len());
            let size = memchr::memmem::find(a, b"size=").map_or(0, |p| number(&a[p + 5..]));
            self.arrival(id, &a[..end], size);
        } else if text.starts_with(b"to=<") {
            if let Some(p) = memchr::memmem::find(text, b"status=") {
                match text.get(p + 7) {
                    Some(b's') => self.fate(id, 2),
                    Some(b'b') => self.fate(id, 3),
                    Some(b'd') => self.fate(id, 4),
                    _ => {}
                }
            }
        } else if text == b"removed" {
            self.live.remove(&key(id));
        }
    }

    /// Messages tallied (the other counts kept from the optimizer too).
    fn total(&self) -> u64 {
        std::hint::black_box(&self.counts);
        self.counts.iter().map(|c| c[0]).sum()
    }
}

fn key(id: &[u8]) -> [u8; 24] {
    let mut k = [0; 24];
    let n = id.len().min(24);
    k[..n].copy_from_slice(&id[..n]);
    k
}

fn number(b: &[u8]) -> u64 {
    b.iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0, |n, &c| n * 10 + u64::from(c - b'0'))
}
