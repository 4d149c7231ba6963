//! Where complaints come from: single message files, Maildir folders
//! (`cur/` and `new/`), mbox files (any number of messages, read as a
//! stream), directories of message files, and stdin. Each message comes
//! with where it was (`file`, `file#3` for the third message of an mbox),
//! and an unreadable file is an item with an error, not a stop.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One message, or why it could not be read.
#[derive(Debug)]
pub struct Item {
    pub location: String,
    pub data: Result<Vec<u8>, String>,
}

/// Reads `path` (`-` for stdin) and hands each message to `f`.
pub fn read_path(path: &Path, f: &mut dyn FnMut(Item)) {
    if path == Path::new("-") {
        let stdin = std::io::stdin();
        read_stream("stdin", stdin.lock(), f);
        return;
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return f(Item {
                location: path.display().to_string(),
                data: Err(format!("cannot read: {e}")),
            });
        }
    };
    if meta.is_dir() {
        // A Maildir's messages are in cur/ and new/ (tmp/ is mid-delivery).
        let maildir = path.join("cur").is_dir() || path.join("new").is_dir();
        let dirs: Vec<PathBuf> = if maildir {
            vec![path.join("new"), path.join("cur")]
        } else {
            vec![path.to_path_buf()]
        };
        for d in dirs {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(&d) {
                Ok(rd) => rd
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect(),
                Err(e) if maildir && e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    f(Item {
                        location: d.display().to_string(),
                        data: Err(format!("cannot list: {e}")),
                    });
                    continue;
                }
            };
            files.sort();
            for p in files {
                read_file(&p, f);
            }
        }
        return;
    }
    read_file(path, f);
}

fn read_file(path: &Path, f: &mut dyn FnMut(Item)) {
    let name = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(file) => read_stream(&name, BufReader::new(file), f),
        Err(e) => f(Item {
            location: name,
            data: Err(format!("cannot read: {e}")),
        }),
    }
}

/// Splits a stream into messages: an mbox (messages after `From ` lines
/// that follow an empty line; `>From ` unescaped) or one message.
/// `name` is where the stream came from, for each item's location.
pub fn read_stream(name: &str, mut r: impl BufRead, f: &mut dyn FnMut(Item)) {
    let mut first = Vec::new();
    if let Err(e) = r.read_until(b'\n', &mut first) {
        return f(Item {
            location: name.to_string(),
            data: Err(format!("cannot read: {e}")),
        });
    }
    if !first.starts_with(b"From ") {
        // One message: read the rest, bounded.
        let mut data = first;
        let limit = (crate::complaint::MAX_SIZE + 1) as u64;
        let res = r.take(limit).read_to_end(&mut data);
        return f(Item {
            location: name.to_string(),
            data: res.map(|_| data).map_err(|e| format!("cannot read: {e}")),
        });
    }
    let mut n = 0;
    let mut current: Vec<u8> = Vec::new();
    let mut prev_blank = true;
    let mut line = Vec::new();
    let emit = |buf: &mut Vec<u8>, n: &mut usize, f: &mut dyn FnMut(Item)| {
        *n += 1;
        f(Item {
            location: format!("{name}#{n}"),
            data: Ok(std::mem::take(buf)),
        });
    };
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                n += 1;
                f(Item {
                    location: format!("{name}#{n}"),
                    data: Err(format!("cannot read: {e}")),
                });
                return;
            }
        }
        if prev_blank && line.starts_with(b"From ") {
            emit(&mut current, &mut n, f);
            prev_blank = false;
            continue;
        }
        prev_blank = line == b"\n" || line == b"\r\n";
        // mboxrd: one '>' less before "From ".
        let body: &[u8] = match line.iter().position(|&b| b != b'>') {
            Some(i) if i > 0 && line[i..].starts_with(b"From ") => &line[1..],
            _ => &line,
        };
        if current.len() <= crate::complaint::MAX_SIZE {
            current.extend_from_slice(body);
        }
    }
    emit(&mut current, &mut n, f);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(name: &str, text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        read_stream(name, text.as_bytes(), &mut |i| {
            out.push((i.location, String::from_utf8(i.data.unwrap()).unwrap()));
        });
        out
    }

    #[test]
    fn mbox_is_split_and_unescaped() {
        let m = collect(
            "box",
            "From a@b Tue Jan 19 19:32:49 2016\nSubject: one\n\nbody\n>From the start\n\nFrom c@d Wed Jan 20 10:00:00 2016\nSubject: two\n\nx\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].0, "box#1");
        assert_eq!(m[0].1, "Subject: one\n\nbody\nFrom the start\n\n");
        assert_eq!(m[1].1, "Subject: two\n\nx\n");
    }

    #[test]
    fn a_single_message_is_one_item() {
        let m = collect("one.eml", "Subject: x\n\nFrom here on\n");
        assert_eq!(
            m,
            [(
                "one.eml".to_string(),
                "Subject: x\n\nFrom here on\n".to_string()
            )]
        );
    }

    #[test]
    fn a_missing_file_is_an_item_with_an_error() {
        let mut got = Vec::new();
        read_path(Path::new("/nonexistent/unlisted-test"), &mut |i| {
            got.push(i)
        });
        assert_eq!(got.len(), 1);
        assert!(got[0].data.as_ref().unwrap_err().contains("cannot read"));
    }
}
