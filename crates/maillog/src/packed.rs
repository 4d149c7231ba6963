//! Logs as logrotate leaves them: plain, or compressed with gzip (its
//! default) or with what `compresscmd` names instead (xz, bzip2, zstd).
//! The compression is known by the file's first bytes, not by its name:
//! `maillog.1` may be compressed and `x.gz` may not.

use std::io::{self, BufRead, Read};

/// How a file's bytes are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Plain,
    Gzip,
    Xz,
    Bzip2,
    Zstd,
    /// A compression this does not read (lz4, compress, lzip, lzop).
    Other(&'static str),
}

/// The suffixes compressed rotations carry.
pub const SUFFIXES: [&str; 4] = [".gz", ".xz", ".bz2", ".zst"];

impl Packing {
    /// From a file's first bytes (at least six, unless the file is shorter).
    pub fn of(first: &[u8]) -> Packing {
        if first.starts_with(&[0x1f, 0x8b]) {
            Packing::Gzip
        } else if first.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Packing::Xz
        } else if first.starts_with(b"BZh")
            && first.get(3).is_some_and(|c| (b'1'..=b'9').contains(c))
        {
            Packing::Bzip2
        } else if first.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Packing::Zstd
        } else if first.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
            Packing::Other("lz4")
        } else if first.starts_with(&[0x1f, 0x9d]) {
            Packing::Other("compress (.Z)")
        } else if first.starts_with(b"LZIP") {
            Packing::Other("lzip")
        } else if first.starts_with(&[0x89, b'L', b'Z', b'O', 0, b'\r', b'\n']) {
            Packing::Other("lzop")
        } else {
            Packing::Plain
        }
    }
}

/// The bytes `r` holds, unpacked as its first bytes say. Every member or
/// stream of a file is read (`cat a.gz b.gz`, `xz` of several streams,
/// zstd frames one after another). A file that breaks off midway is an
/// error where it breaks, after the bytes before it. A compression not
/// read here is an error at once, naming it, rather than lines of noise.
pub fn unpacked<R: BufRead + Send + 'static>(mut r: R) -> io::Result<Box<dyn Read + Send>> {
    let packing = Packing::of(r.fill_buf()?);
    Ok(match packing {
        Packing::Plain => Box::new(r),
        Packing::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Packing::Xz => Box::new(lzma_rust2::XzReader::new(r, true)),
        Packing::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(r)),
        Packing::Zstd => Box::new(Zstd {
            frame: None,
            source: Some(r),
        }),
        Packing::Other(name) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "compressed with {name}, which is not read here (gzip, xz, bzip2 and zstd are): unpack it first"
                ),
            ));
        }
    })
}

/// zstd frames one after another, each through ruzstd's decoder (which
/// reads one frame).
struct Zstd<R: BufRead> {
    frame: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
    source: Option<R>,
}

impl<R: BufRead> Read for Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(frame) = &mut self.frame {
                let n = frame.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.source = self.frame.take().map(|f| f.into_inner());
            }
            let Some(mut source) = self.source.take() else {
                return Ok(0);
            };
            if source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            let frame = ruzstd::decoding::StreamingDecoder::new(source)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")))?;
            self.frame = Some(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};
    use std::process::Command;

    fn text() -> Vec<u8> {
        (0..20_000)
            .map(|i| format!("2026-11-29 00:00:00 1abcde-000000-{i:05} Completed\n"))
            .collect::<String>()
            .into_bytes()
    }

    /// `text` through the real tool, as logrotate's compresscmd runs it.
    fn packed_by(tool: &str, text: &[u8]) -> Vec<u8> {
        let mut c = Command::new(tool)
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        let mut stdin = c.stdin.take().unwrap();
        let t = text.to_vec();
        let w = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &t));
        let out = c.wait_with_output().unwrap();
        w.join().unwrap().unwrap();
        assert!(out.status.success(), "{tool}");
        out.stdout
    }

    fn unpack(bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        unpacked(BufReader::new(Cursor::new(bytes)))?.read_to_end(&mut v)?;
        Ok(v)
    }

    #[test]
    fn each_compression_logrotate_may_use_is_read_whole_and_twice_over() {
        let t = text();
        for (tool, packing) in [
            ("gzip", Packing::Gzip),
            ("xz", Packing::Xz),
            ("bzip2", Packing::Bzip2),
            ("zstd", Packing::Zstd),
        ] {
            let one = packed_by(tool, &t);
            assert_eq!(Packing::of(&one), packing, "{tool}");
            assert!(unpack(one.clone()).unwrap() == t, "{tool}");
            // Two files concatenated: both read.
            let two = [one.clone(), one].concat();
            assert!(
                unpack(two).unwrap() == [t.clone(), t.clone()].concat(),
                "{tool}"
            );
        }
        assert_eq!(Packing::of(&t), Packing::Plain);
        let lz4 = packed_by("lz4", &t);
        let e = unpack(lz4).expect_err("lz4 is refused");
        assert!(e.to_string().contains("compressed with lz4"), "{e}");
        assert!(unpack(t.clone()).unwrap() == t);
        assert!(unpack(Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn a_file_cut_short_gives_its_start_then_an_error() {
        let t = text();
        for tool in ["gzip", "xz", "bzip2", "zstd"] {
            let mut p = packed_by(tool, &t);
            p.truncate(p.len() / 2);
            let mut r = unpacked(BufReader::new(Cursor::new(p))).unwrap();
            let mut v = Vec::new();
            let e = r.read_to_end(&mut v);
            assert!(e.is_err(), "{tool}: a cut file read as whole");
            assert!(t.starts_with(&v), "{tool}: what came out is not the start");
        }
    }
}
