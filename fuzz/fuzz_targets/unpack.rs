//! Any bytes as a rotated log (plain, gzip, xz, bzip2, zstd): a file cut
//! short or damaged must be an error, never a panic or a runaway.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = maillog::packed::unpacked(std::io::Cursor::new(data.to_vec())) else {
        return;
    };
    // A small input can stand for a lot of output: read a bounded amount.
    let mut out = Vec::new();
    let _ = r.take(8 << 20).read_to_end(&mut out);
});
