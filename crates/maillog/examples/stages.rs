//! What each stage of reading a log costs on one thread, to put the
//! benchmark's figures in proportion (bench/logs/run.sh prints them next
//! to `logs analyze`): splitting the lines, parsing each line alone, and
//! parsing with assembly into messages as `logs analyze` assembles them
//! (without the details it skips; the messages are then dropped). The
//! detector's work is what `logs analyze --threads 1` adds after that.
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
            eprintln!("usage: stages exim|postfix FILE [split|parse|assemble]");
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
