//! Any bytes as mail handed to the complaint and bounce readers (an mbox
//! or one message): anyone on the internet can send us such mail, so no
//! input may panic them.
#![no_main]

use std::sync::OnceLock;

use blocklists::Catalog;
use feedback::{bounce, complaint, input};
use libfuzzer_sys::fuzz_target;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::builtin().expect("the built-in catalog loads"))
}

/// The readers catch a panic as the message's error, so that the daemon
/// goes on; libfuzzer-sys's panic hook still aborts on it, so each one is
/// a finding here.
fn read(raw: &[u8]) {
    let _ = complaint::parse(raw);
    let _ = bounce::read(raw);
    let _ = bounce::explain_bounce(raw, catalog());
}

fuzz_target!(|data: &[u8]| {
    read(data);
    input::read_stream("fuzz", data, &mut |item| {
        if let Ok(raw) = &item.data {
            read(raw);
        }
    });
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = bounce::classify(text, None, catalog());
        let _ = bounce::normalise(text);
    }
});
