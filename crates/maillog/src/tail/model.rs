//! The tail against a seeded model of what happens around a followed
//! log: an MTA appending lines (some in two writes), writers still adding
//! to a file just renamed away, logrotate renaming or copying and
//! truncating (numbered or dated names, compressed at once, a rotation
//! later, or not at all), and the daemon polling, storing checkpoints,
//! and being killed and started again, with rotations while it is down.
//!
//! What the tail hands out up to its last checkpoint must be every line
//! written, each once. Deterministic per seed, so a failure names its
//! seed and comes back the same.
//!
//! Left out, as limits of the tail rather than of the model: a writer
//! adding to a renamed file that was empty when renamed (compressed while
//! unlisted is down, nothing tells it from the others), and files deleted
//! before they were read (logrotate's `rotate N` running out).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Resume, Tailer};
use crate::seeded::Rng;

#[derive(Clone, Copy, Debug)]
enum Names {
    /// `log.1`, `log.2`, … shifted at each rotation.
    Numbered,
    /// `log-20261101`, `log-20261102`, … (logrotate's `dateext`).
    Dated,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Compress {
    No,
    /// `compress`: the file just rotated, at once.
    AtOnce,
    /// `compress` with `delaycompress`: the one rotated before it.
    Delayed,
}

struct World {
    rng: Rng,
    path: PathBuf,
    names: Names,
    compress: Compress,
    /// Rotated files, newest first.
    rotated: Vec<PathBuf>,
    rotations: usize,
    /// Every line written, in order.
    written: Vec<String>,
    /// The rest of a line written in part.
    pending: Option<String>,
    /// The file just renamed away, which a writer may still add to.
    stale: Option<PathBuf>,
    /// Files' modification times, set by the model: one second per step,
    /// as rotations hours apart would leave them (the file system's own
    /// stamps can tie within a test's millisecond).
    clock: SystemTime,
    /// Where the steps went, for a failure's message.
    story: Vec<String>,
}

impl World {
    fn tick(&mut self, p: &Path) {
        self.clock += Duration::from_secs(1);
        let f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
        f.set_modified(self.clock).unwrap();
    }

    fn append(&mut self, p: &Path, s: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap();
        f.write_all(s.as_bytes()).unwrap();
        drop(f);
        self.tick(p);
    }

    fn line(&mut self) -> String {
        let n = self.written.len();
        // Lengths vary so that a truncated file can grow past where the
        // tail was within one poll.
        let pad = "x".repeat(self.rng.below(60));
        let l = format!("2026-11-29 12:00:00 line {n} {pad}");
        self.written.push(l.clone());
        l
    }

    fn finish_pending(&mut self) {
        if let Some(rest) = self.pending.take() {
            let p = self.path.clone();
            self.append(&p, &rest);
            self.story.push("finish the line".into());
        }
    }

    fn write(&mut self) {
        self.finish_pending();
        let n = 1 + self.rng.below(8);
        let mut s = String::new();
        for _ in 0..n {
            s += &self.line();
            s.push('\n');
        }
        if self.rng.chance(20) {
            // One more line, in two writes.
            let l = self.line() + "\n";
            let cut = 1 + self.rng.below(l.len() - 1);
            s += &l[..cut];
            self.pending = Some(l[cut..].to_string());
        }
        let p = self.path.clone();
        self.append(&p, &s);
        self.story.push(format!("write {n} lines"));
    }

    fn write_stale(&mut self) {
        if let Some(p) = self.stale.clone() {
            let s = self.line() + "\n";
            self.append(&p, &s);
            self.story.push(format!("write a line to {}", name(&p)));
        }
    }

    /// The name of the next rotation, after shifting numbered ones.
    fn next_name(&mut self) -> PathBuf {
        self.rotations += 1;
        match self.names {
            Names::Numbered => {
                // Oldest first, so that no name is overwritten.
                let mut shifted = Vec::new();
                for (i, p) in self.rotated.iter().enumerate().rev() {
                    let gz = p.extension().is_some_and(|e| e == "gz");
                    let to = with(
                        &self.path,
                        &format!(".{}{}", i + 2, if gz { ".gz" } else { "" }),
                    );
                    std::fs::rename(p, &to).unwrap();
                    shifted.push(to);
                }
                shifted.reverse();
                self.rotated = shifted;
                with(&self.path, ".1")
            }
            Names::Dated => with(&self.path, &format!("-202611{:02}", self.rotations)),
        }
    }

    fn gzip(&mut self, p: &Path) -> PathBuf {
        let ok = std::process::Command::new("gzip")
            .args(["-q", "-f"])
            .arg(p)
            .status()
            .unwrap()
            .success();
        assert!(ok, "gzip {}", p.display());
        with(p, ".gz")
    }

    /// logrotate's `compress`, after a rotation to `rotated[0]`.
    fn compress_rotated(&mut self) {
        let at = match self.compress {
            Compress::No => return,
            Compress::AtOnce => 0,
            Compress::Delayed => 1,
        };
        if let Some(p) = self.rotated.get(at).cloned()
            && p.extension().is_none_or(|e| e != "gz")
        {
            let z = self.gzip(&p);
            self.rotated[at] = z;
        }
    }

    fn rotate_by_rename(&mut self) {
        self.finish_pending();
        if !self.path.exists() {
            return;
        }
        self.stale = None;
        // A writer still adding to it wrote to it before (an empty file
        // renamed and then written to, compressed while unlisted is down,
        // is not found again: nothing tells it from the others).
        let written = std::fs::metadata(&self.path).unwrap().len() > 0;
        let to = self.next_name();
        std::fs::rename(&self.path, &to).unwrap();
        self.rotated.insert(0, to.clone());
        self.story.push(format!("rename to {}", name(&to)));
        if self.rng.chance(50) {
            let p = self.path.clone();
            self.append(&p, "");
            self.story.push("create the new log".into());
        }
        self.compress_rotated();
        if self.compress != Compress::AtOnce && written {
            self.stale = Some(to);
        }
    }

    fn copytruncate(&mut self) {
        self.finish_pending();
        if !self.path.exists() {
            return;
        }
        self.stale = None;
        let to = self.next_name();
        std::fs::copy(&self.path, &to).unwrap();
        self.tick(&to);
        std::fs::File::create(&self.path).unwrap();
        let p = self.path.clone();
        self.tick(&p);
        self.rotated.insert(0, to.clone());
        self.story.push(format!("copytruncate to {}", name(&to)));
        self.compress_rotated();
    }
}

fn with(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// The daemon: a tail, what it read since its last checkpoint, and what
/// it stored with that checkpoint.
struct Daemon {
    tail: Option<Tailer>,
    unstored: Vec<String>,
    stored: Vec<String>,
    checkpoint: Option<Resume>,
}

impl Daemon {
    fn start(&mut self, path: &Path) {
        let mut t = Tailer::open(path, self.checkpoint.clone());
        // Writers of a renamed file are let go only when the next one is
        // renamed, as the model's writers are.
        t.set_linger(Duration::from_secs(24 * 3600));
        self.tail = Some(t);
    }

    fn poll(&mut self, max: usize) -> bool {
        let t = self.tail.as_mut().unwrap();
        let got = &mut self.unstored;
        t.poll(max, |l, _| {
            got.push(String::from_utf8_lossy(l).into_owned())
        })
        .unwrap()
        .at_end
    }

    /// Stores what was read with the checkpoint, as one transaction.
    fn store(&mut self) {
        self.checkpoint = Some(self.tail.as_ref().unwrap().checkpoint(None));
        self.stored.append(&mut self.unstored);
    }

    /// `kill -9`: what was read since the last checkpoint is gone.
    fn kill(&mut self) {
        self.tail = None;
        self.unstored.clear();
    }
}

fn run(seed: u64, steps: usize) {
    let dir =
        std::env::temp_dir().join(format!("unlisted-tail-model-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let names = if rng.chance(50) {
        Names::Numbered
    } else {
        Names::Dated
    };
    let compress = [Compress::No, Compress::AtOnce, Compress::Delayed][rng.below(3)];
    let mut w = World {
        rng,
        path: dir.join("mainlog"),
        names,
        compress,
        rotated: Vec::new(),
        rotations: 0,
        written: Vec::new(),
        pending: None,
        stale: None,
        clock: SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        story: vec![format!("{names:?}, compress {compress:?}")],
    };
    let mut d = Daemon {
        tail: None,
        unstored: Vec::new(),
        stored: Vec::new(),
        checkpoint: None,
    };
    w.write();
    d.start(&w.path);
    d.store();
    for _ in 0..steps {
        let up = d.tail.is_some();
        match w.rng.below(100) {
            0..30 => w.write(),
            30..36 => w.write_stale(),
            36..42 => w.rotate_by_rename(),
            42..47 => w.copytruncate(),
            47..70 if up => {
                let max = [0, 1, 3][w.rng.below(3)];
                d.poll(max);
                w.story.push(format!("poll {max}"));
            }
            70..85 if up => {
                d.store();
                w.story.push("checkpoint".into());
            }
            85..90 if up => {
                d.kill();
                w.story.push("kill".into());
            }
            90..100 if !up => {
                d.start(&w.path);
                w.story.push("start".into());
            }
            _ => {}
        }
    }
    // Quiet now: the writers finish, the daemon runs to the end.
    w.finish_pending();
    if d.tail.is_none() {
        d.start(&w.path);
        w.story.push("start".into());
    }
    let mut polls = 0;
    while !d.poll(0) {
        polls += 1;
        assert!(polls < 100, "seed {seed}: the tail never reached the end");
    }
    // Once more: a renamed file is read again at the poll after the one
    // that finished it.
    d.poll(0);
    d.store();

    let mut seen = HashSet::new();
    let twice: Vec<&String> = d.stored.iter().filter(|l| !seen.insert(*l)).collect();
    let lost: Vec<&String> = w.written.iter().filter(|l| !seen.contains(*l)).collect();
    let notes = d.tail.as_ref().map(|t| t.notes.clone()).unwrap_or_default();
    assert!(
        twice.is_empty() && lost.is_empty() && d.stored.len() == w.written.len(),
        "seed {seed}: {} lines written, {} stored; twice: {twice:?}; lost: {lost:?}\nsteps: {}\nnotes: {notes:?}",
        w.written.len(),
        d.stored.len(),
        w.story.join(", "),
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// 200 seeds here, of 60 to 180 steps (a few seconds);
/// `UNLISTED_TAIL_SEEDS=FIRST..END` runs others, `UNLISTED_TAIL_SEEDS=N`
/// one.
#[test]
fn rotations_restarts_and_kills_in_any_order_lose_and_repeat_no_line() {
    let seeds = std::env::var("UNLISTED_TAIL_SEEDS").unwrap_or_else(|_| "0..200".into());
    let seeds = match seeds.split_once("..") {
        Some((a, b)) => a.parse().unwrap()..b.parse().unwrap(),
        None => seeds.parse().unwrap()..seeds.parse::<u64>().unwrap() + 1,
    };
    for seed in seeds {
        // Longer runs pile up more rotations between looks.
        run(seed, 60 + (seed % 4) as usize * 40);
    }
}
