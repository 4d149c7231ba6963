//! Senders silent past every window, moved out of memory into a scratch
//! file ([`crate::Detector::retire_idle`]) and read back when they send
//! again or when the reports are written. Memory keeps only their names,
//! where their records are, and what the reports are sorted by.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use crate::{SenderKey, SenderRef, SenderState, Senders, Verdict};

pub(crate) struct Spill {
    file: File,
    /// Where the next record goes.
    end: u64,
    pub(crate) index: Senders<Entry>,
    /// The first failure to write or read back. Nothing more is written
    /// after one.
    pub(crate) error: Option<String>,
    /// Senders that could not be read back: they start again from nothing.
    pub(crate) lost: u64,
}

/// Where a retired sender's record is, and its report's sort key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    at: u64,
    len: u32,
    pub(crate) verdict: Verdict,
    pub(crate) messages: u32,
}

impl Spill {
    /// A scratch file in `dir`, removed at once: it goes with the process,
    /// however that ends.
    pub(crate) fn create(dir: &Path) -> io::Result<Spill> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(".unlisted-senders-{}-{nanos}", std::process::id()));
        // Senders' addresses and log lines: for our eyes only.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(Self::on(file))
    }

    /// A spill into `file`.
    pub(crate) fn on(file: File) -> Spill {
        Spill {
            file,
            end: 0,
            index: Senders::default(),
            error: None,
            lost: 0,
        }
    }

    /// Writes `senders` out in one go. What could not be written is handed
    /// back, to stay in memory.
    pub(crate) fn put(
        &mut self,
        senders: impl Iterator<Item = (SenderKey, SenderState)>,
    ) -> Vec<(SenderKey, SenderState)> {
        let mut buf = Vec::new();
        let mut done = Vec::new();
        let mut unwritten = Vec::new();
        for (k, st) in senders {
            let start = buf.len();
            match postcard::to_extend(&st, std::mem::take(&mut buf)) {
                Ok(b) => buf = b,
                Err(e) => {
                    // Cannot happen with these types; if it does, this one
                    // and the rest stay in memory.
                    self.error
                        .get_or_insert_with(|| format!("cannot write a retired sender: {e}"));
                    unwritten.push((k, st));
                    break;
                }
            }
            let e = Entry {
                at: self.end + start as u64,
                len: (buf.len() - start) as u32,
                verdict: st.peak,
                messages: st.total.messages,
            };
            done.push((k, e));
        }
        let written = match self.error {
            Some(_) => Err(io::Error::other("an earlier failure")),
            None => self.file.write_all_at(&buf, self.end),
        };
        if let Err(e) = written {
            self.error.get_or_insert_with(|| {
                format!("cannot write retired senders to a scratch file: {e}")
            });
            // Back into memory, from the bytes that could not be written.
            let back = done.into_iter().filter_map(|(k, e)| {
                let at = (e.at - self.end) as usize;
                let st = postcard::from_bytes(&buf[at..at + e.len as usize]).ok()?;
                Some((k, st))
            });
            unwritten.extend(back);
            return unwritten;
        }
        self.end += buf.len() as u64;
        self.index.extend(done);
        Vec::new()
    }

    /// Takes a retired sender back, if `key` is one.
    pub(crate) fn take(&mut self, key: &SenderRef<'_>) -> Option<SenderState> {
        if self.index.is_empty() {
            return None;
        }
        let e = self.index.remove(key)?;
        match self.read(&e) {
            Ok(st) => Some(st),
            Err(err) => {
                self.lost += 1;
                self.error.get_or_insert_with(|| {
                    format!("cannot read a retired sender back ({}): {err}", key.sender)
                });
                None
            }
        }
    }

    pub(crate) fn read(&self, e: &Entry) -> io::Result<SenderState> {
        let mut buf = vec![0u8; e.len as usize];
        self.file.read_exact_at(&mut buf, e.at)?;
        postcard::from_bytes(&buf).map_err(io::Error::other)
    }
}
