//! Any bytes as a mail log: the parser and the detector behind it must
//! neither panic nor lose count of a line.
#![no_main]

use detect::{Detector, Observation, Thresholds};
use libfuzzer_sys::fuzz_target;
use maillog::{Format, LogParser, Message};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, log)) = data.split_first() else {
        return;
    };
    let format = match pick % 3 {
        0 => Some(Format::Exim),
        1 => Some(Format::Postfix),
        _ => None,
    };
    let mut parser = LogParser::new(format, 2026);
    let mut detector = Detector::new(Thresholds::default());
    let mut out = |m: Message| {
        if let Some(o) = Observation::from_message(m) {
            detector.apply(o);
        }
    };
    let mut n = 0u64;
    for line in log.split(|&b| b == b'\n') {
        n += 1;
        parser.line(line, || format!("line {n}"), &mut out);
    }
    parser.finish(&mut out);
    let s = &parser.stats;
    assert_eq!(s.lines, n);
    assert_eq!(s.understood + s.ignored + s.not_understood, n, "{s:?}");
    let _ = detector.verdicts();
    let _ = detector.reports();
});
