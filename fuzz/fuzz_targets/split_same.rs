//! A log split across shards (what `logs analyze --threads N` does) must
//! hand out the same messages, in the same order, with the same counts,
//! as one parser reading it line by line. The shards run one after the
//! other here, each as its thread does (`unlisted` `logs_sharded.rs`), on
//! the log sent as two chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maillog::shard::{OrderKey, Routed, Tagger, order_key};
use maillog::time::Zone;
use maillog::{Format, LineStats, LogParser};

fn counts(s: &LineStats) -> [u64; 8] {
    [
        s.lines,
        s.understood,
        s.ignored,
        s.not_understood,
        s.cut_lines,
        s.holes,
        s.repeated,
        s.dropped,
    ]
}

/// Each line's bytes, as the reader cuts them (the last may lack its
/// newline).
fn lines(log: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in log.iter().enumerate() {
        if b == b'\n' {
            out.push((start, i));
            start = i + 1;
        }
    }
    if start < log.len() {
        out.push((start, log.len()));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some((&cut, log)) = rest.split_first() else {
        return;
    };
    let format = if pick & 1 == 0 {
        Format::Exim
    } else {
        Format::Postfix
    };
    let shards = 2 + usize::from(pick >> 1) % 3;

    let mut one = LogParser::new(Some(format), 2026);
    one.skip_details();
    let mut alone = Vec::new();
    for (start, end) in lines(log) {
        one.line_at(&log[start..end], start as u64, String::new, &mut |m| {
            alone.push(format!("{m:?}"))
        });
    }
    one.finish(&mut |m| alone.push(format!("{m:?}")));

    // Two chunks of whole lines, cut where the second byte says, as the
    // reader sends them.
    let at = log.len() * usize::from(cut) / 256;
    let half = log[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |nl| nl + 1);
    let chunks = [(0, &log[..half]), (half, &log[half..])];
    let mut tagger = Tagger::new(format, shards, 2026, Zone::utc());
    let mut parsers: Vec<LogParser> = (0..shards)
        .map(|_| {
            let mut p = LogParser::new(Some(format), 2026);
            p.skip_details();
            p
        })
        .collect();
    // What each shard handed out, chunk by chunk, then at the end.
    let mut rounds: Vec<Vec<Vec<(OrderKey, String)>>> = Vec::new();
    let mut before = 0u64;
    for (offset, chunk) in chunks {
        let mut routed = Routed::default();
        tagger.tag(chunk, &mut routed);
        let mut round = Vec::new();
        for (k, p) in parsers.iter_mut().enumerate() {
            let mut out = Vec::new();
            let mut emit =
                |at: u64, m: maillog::Message| out.push((order_key(at, &m), format!("{m:?}")));
            routed.feed(
                k,
                p,
                chunk,
                offset as u64,
                |_| String::new(),
                &mut |line, m| emit(before + line as u64 + 1, m),
                &mut |_, _| {},
            );
            round.push(out);
        }
        before += routed.len() as u64;
        rounds.push(round);
    }
    let mut total = [0u64; 8];
    let mut ends = Vec::new();
    for p in &mut parsers {
        let mut end = Vec::new();
        p.finish(&mut |m| end.push((order_key(u64::MAX, &m), format!("{m:?}"))));
        ends.push(end);
        for (t, c) in total.iter_mut().zip(counts(&p.stats)) {
            *t += c;
        }
    }
    rounds.push(ends);
    let mut merged = Vec::new();
    for round in rounds {
        // The least head first; a tie goes to the lower shard.
        let mut heads: Vec<_> = round
            .into_iter()
            .map(|v| v.into_iter().peekable())
            .collect();
        loop {
            let mut best: Option<(usize, OrderKey)> = None;
            for (i, h) in heads.iter_mut().enumerate() {
                if let Some((key, _)) = h.peek()
                    && best.is_none_or(|(_, b)| *key < b)
                {
                    best = Some((i, *key));
                }
            }
            let Some((i, _)) = best else { break };
            if let Some((_, m)) = heads[i].next() {
                merged.push(m);
            }
        }
    }
    assert_eq!(
        counts(&one.stats),
        total,
        "line counts differ with {shards} shards"
    );
    assert_eq!(
        alone.len(),
        merged.len(),
        "message counts differ with {shards} shards:\n{alone:#?}\n{merged:#?}"
    );
    for (a, b) in alone.iter().zip(&merged) {
        assert_eq!(a, b, "a message differs with {shards} shards");
    }
});
