//! Following a log file as the MTA writes it, across rotation by rename
//! (logrotate's default, Exim's own) and by copytruncate.
//!
//! Only complete lines are consumed: `pos` is always just after a newline,
//! so a line being written is read again, whole, on the next poll. When the
//! file is rotated away, the old file is read to its end before the new one
//! is started, and read again at each poll while its writers may still add
//! to it (rsyslog until logrotate's postrotate makes it reopen, an Exim
//! process until its next write): until it has been quiet for
//! [`LINGER`], when a last line without a newline is read too. Positions
//! carry a file generation in their top 16 bits ([`Position`]) so that the
//! offset of a message's first line can be compared across a rotation.
//!
//! More than one rotation can come between two looks: while unlisted is
//! stopped (a weekend, daily rotations), or while it is held up. Then the
//! files rotated in between are read too, oldest first, by the order of
//! their names (`log.2` before `log.1`, `log-20261128` before
//! `log-20261129`), compressed or not. A file is known by its inode while
//! it is held open, and otherwise by its first bytes as well: once a file
//! is compressed, its inode number goes to the next file created. A file
//! that was empty when last seen has no first bytes to be known by; the
//! files modified since it was seen then stand in.
//!
//! `tail/model.rs` checks all of this against a seeded model of the MTA,
//! logrotate and a daemon that is killed and started again.

use crate::packed;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// A line's place: file generation (bumped at each rotation) and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub generation: u16,
    pub offset: u64,
}

impl Position {
    /// Packs into one number that orders like the position.
    pub fn pack(self) -> u64 {
        ((self.generation as u64) << 48) | (self.offset & ((1 << 48) - 1))
    }

    pub fn unpack(v: u64) -> Self {
        Position {
            generation: (v >> 48) as u16,
            offset: v & ((1 << 48) - 1),
        }
    }
}

/// What a tail remembers between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub inode: u64,
    pub read_to: u64,
    pub resume_at: u64,
    /// The file's first bytes (up to 64; empty when not known): a file
    /// copied and truncated while the daemon was stopped keeps its inode,
    /// and may have grown past `read_to` again, but not with the same
    /// beginning.
    pub head: Vec<u8>,
    /// A renamed file still read for what its writers add
    /// ([`Tailer::set_linger`]): its inode, and where to read on in it
    /// (the end of what was read, or the first line of a message still
    /// open that began in it). A restart within the linger finds it by
    /// its inode and reads on.
    pub linger: Option<(u64, u64)>,
    /// That renamed file's first bytes: compressed by a later rotation
    /// (`delaycompress`) while unlisted was down, it is found by them.
    pub linger_head: Vec<u8>,
    /// The followed file's modification time when it was last seen at
    /// its path, or that of the last rotated file read to its end when
    /// later (`None` when not known). The files rotated after it were
    /// modified since: a restart after two rotations reads the one
    /// between them too.
    pub in_place: Option<SystemTime>,
}

/// [`Resume::in_place`] as stored: nanoseconds since the epoch.
pub fn epoch_nanos(t: SystemTime) -> Option<i64> {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).ok(),
        Err(e) => i64::try_from(e.duration().as_nanos()).ok().map(|n| -n),
    }
}

/// The time [`epoch_nanos`] stored.
pub fn from_epoch_nanos(n: i64) -> SystemTime {
    let d = Duration::from_nanos(n.unsigned_abs());
    if n < 0 {
        SystemTime::UNIX_EPOCH - d
    } else {
        SystemTime::UNIX_EPOCH + d
    }
}

struct Open {
    file: File,
    inode: u64,
    pos: u64,
    /// The first bytes seen: copytruncate can leave a file as long as
    /// before, but not with the same beginning.
    head: Vec<u8>,
    /// The line at `pos` is longer than the parser reads and had no
    /// newline up to here: the next poll looks for its end from here
    /// instead of reading it all again (a crash can leave hundreds of MB
    /// of NUL bytes at a log's end).
    unfinished: Option<u64>,
    /// A compressed file unpacked into a temporary one: when the
    /// compressed file was last written (gzip and the others keep the
    /// time of the file they packed).
    packed_at: Option<SystemTime>,
}

const HEAD: usize = 64;

impl Open {
    fn read_head(&self, n: usize) -> std::io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let mut b = vec![0u8; n];
        let got = self.file.read_at(&mut b, 0)?;
        b.truncate(got);
        Ok(b)
    }

    /// The first bytes that tell the file as it is now ([`whole_lines`]).
    fn known_head(&self) -> Vec<u8> {
        whole_lines(self.read_head(HEAD).unwrap_or_default())
    }

    /// The file's first bytes as they are now (an unpacked copy's, as
    /// they were found: it holds nothing before where it is read from).
    fn first_bytes(&self) -> Vec<u8> {
        match self.packed_at {
            Some(_) => self.head.clone(),
            None => self.known_head(),
        }
    }

    /// Was the file truncated (and perhaps rewritten) under us?
    fn truncated(&self, len: u64) -> bool {
        if len < self.pos {
            return true;
        }
        !self.head.is_empty()
            && self
                .read_head(self.head.len())
                .map(|h| h != self.head)
                .unwrap_or(true)
    }
}

/// One followed file.
pub struct Tailer {
    path: PathBuf,
    main: Option<Open>,
    /// A rotated file still to be read to its end before `main`, and
    /// whether it was renamed (its writers may still add to it) rather
    /// than copied.
    draining: Option<(Open, bool)>,
    /// A renamed file read to its end, read again while it is not quiet
    /// for `linger`, with its generation and when it last grew.
    lingering: Option<(Open, u16, Instant)>,
    linger: Duration,
    generation: u16,
    /// Files rotated after the one being finished and before the one at
    /// the path (two rotations before a poll, or while unlisted was not
    /// running), oldest first: read after it, before the followed file.
    after: VecDeque<Next>,
    /// The followed file's modification time when it was last seen at
    /// its path ([`Resume::in_place`]).
    in_place: Option<SystemTime>,
    /// The followed file's modification time when it was last seen
    /// empty: written after that, it may have been copied and truncated
    /// before a byte of it was read.
    seen_empty: Option<SystemTime>,
    /// The first bytes of the last [`DRAINED`] rotated files read to
    /// their end: a file found again by its time alone is not read twice.
    drained: VecDeque<Vec<u8>>,
    /// The inode and first bytes of the rotated file read to its end
    /// last, while the file at the path is not open yet.
    finished: Option<Finished>,
    /// Things worth telling the operator (rotations, possible losses).
    pub notes: Vec<String>,
    /// Bytes taken from the files so far: what the polls cost.
    pub bytes_read: u64,
    /// Why the file cannot be followed now ([`Tailer::problem`]).
    problem: Option<String>,
    /// Whether the file was ever there to follow: a log missing after
    /// that was rotated away and is not written again yet.
    seen: bool,
}

/// The rotated file read to its end last.
#[derive(Debug, Clone)]
struct Finished {
    inode: u64,
    head: Vec<u8>,
    /// Its length: where it was read to.
    end: u64,
}

/// The outcome of one poll.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Polled {
    pub lines: usize,
    /// Everything written so far has been read.
    pub at_end: bool,
}

fn open_at(path: &Path, pos: u64) -> std::io::Result<Open> {
    let file = File::open(path)?;
    let inode = file.metadata()?.ino();
    let mut o = Open {
        file,
        inode,
        pos,
        head: Vec::new(),
        unfinished: None,
        packed_at: None,
    };
    // Known before anything is read: a copytruncate before the first
    // poll shows as other first bytes.
    note_head(&mut o);
    Ok(o)
}

/// How many rotated files read to their end are remembered
/// ([`Tailer::drained`]).
const DRAINED: usize = 64;

/// How long a renamed log is read again after it last grew: logrotate's
/// postrotate makes rsyslog reopen within a moment, and an Exim process
/// reopens at its next write.
pub const LINGER: Duration = Duration::from_secs(60);

/// Suffixes of a renamed or copied log without `dateext`.
const ROTATED: [&str; 3] = [".1", ".0", "-old"];

/// How many dated or numbered rotations are looked at, newest first: a
/// month of daily ones, so that a daemon stopped that long still finds
/// the file it was reading and every one rotated after it.
const DATED: usize = 32;

/// Files logrotate leaves a renamed or copied log under: `log.1`, `log.0`,
/// `log-old`, then with `dateext` (the default of RHEL's logrotate.conf,
/// and so of cPanel servers) `log-20261128`, exicyclog's `mainlog.01`,
/// and older numbered ones, the newest first. With `compressed`, the same
/// names compressed (`log.1.gz`, `log-20261128.xz`, see
/// [`packed::SUFFIXES`]) instead: another inode with other bytes, found by
/// what they hold ([`unpacked_rotation`]).
fn rotated_candidates(path: &Path, compressed: bool) -> Vec<PathBuf> {
    let suffixes: &[&str] = if compressed { &packed::SUFFIXES } else { &[""] };
    let with = |s: &str, z: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(s);
        p.push(z);
        PathBuf::from(p)
    };
    let mut out: Vec<PathBuf> = ROTATED
        .iter()
        .flat_map(|s| suffixes.iter().map(move |z| with(s, z)))
        .collect();
    let (Some(name), Some(dir)) = (path.file_name().and_then(|n| n.to_str()), path.parent()) else {
        return out;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let others = [".lz4", ".Z", ".lz", ".lzo"];
    let mut dated: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name();
            let n = n.to_str()?;
            let rest = n.strip_prefix(name)?;
            let plain = if compressed {
                packed::SUFFIXES.iter().find_map(|z| rest.strip_suffix(z))?
            } else {
                rest
            };
            let dated = plain.strip_prefix(['-', '.', '_'])?;
            let keep = dated.starts_with(|c: char| c.is_ascii_digit())
                && !ROTATED.contains(&plain)
                && !packed::SUFFIXES
                    .iter()
                    .chain(&others)
                    .any(|c| plain.ends_with(c));
            let meta = e.metadata().ok().filter(|m| keep && m.is_file())?;
            Some((meta.modified().ok()?, e.path()))
        })
        .collect();
    dated.sort_by_key(|d| std::cmp::Reverse(d.0));
    out.extend(dated.into_iter().take(DATED).map(|(_, p)| p));
    out
}

/// The file `path` was renamed to, by its inode and its first bytes
/// `head` (when known), among its rotations, opened at `at`, and its name
/// now. The inode alone is not enough: once the file is compressed, its
/// number is free for the next file created.
fn renamed_to(path: &Path, inode: u64, head: &[u8], at: u64) -> Option<(Open, PathBuf)> {
    rotated_candidates(path, false)
        .into_iter()
        .filter_map(|p| open_at(&p, at).ok().map(|o| (o, p)))
        .find(|(o, _)| o.inode == inode && begins_with(o, head))
}

/// Where a file renamed away from `path` went: among its rotations by its
/// inode, or (compressed at once) by its first bytes `head`.
fn rotation_of(path: &Path, inode: u64, head: &[u8]) -> Option<PathBuf> {
    renamed_to(path, inode, head, 0)
        .map(|(_, p)| p)
        .or_else(|| {
            if head.is_empty() {
                return None;
            }
            rotated_candidates(path, true)
                .into_iter()
                .find(|p| packed_head(p, head.len()).is_some_and(|h| h == head))
        })
}

/// The first `n` bytes of a compressed file, unpacked.
fn packed_head(p: &Path, n: usize) -> Option<Vec<u8>> {
    let z = packed::unpacked(BufReader::new(File::open(p).ok()?)).ok()?;
    let mut h = Vec::with_capacity(n);
    z.take(n as u64).read_to_end(&mut h).ok()?;
    Some(h)
}

/// A file rotated after the one being finished, waiting its turn.
enum Next {
    /// Opened when found: renamed again meanwhile, it is still the file.
    Plain(Open),
    /// Compressed, known by its first bytes (its name moves with each
    /// rotation); found and unpacked when its turn comes.
    Packed(Vec<u8>),
}

/// Where the files rotated after another end.
#[derive(Debug, Clone, Copy)]
enum Until<'a> {
    /// The file at the path.
    Path,
    /// A rotation with this name.
    Name(&'a Path),
    /// A rotation that cannot be found by name: it was last modified then
    /// (its copies were made before; files created after it was renamed
    /// are modified after).
    Time(SystemTime),
}

/// Where a rotation's name puts it among the others, older first:
/// logrotate's and exicyclog's numbers grow with age (`log.1` is the
/// newest, savelog's `log.0` newer still); `dateext` stamps (`-20261128`,
/// `-2026112803`, `-1795000000`) grow with time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Age {
    Numbered(std::cmp::Reverse<u64>),
    Dated(usize, String),
}

/// The [`Age`] of `rotated` as a rotation of `path`; `None` for a name
/// that says nothing of it (`log-old`).
fn age(path: &Path, rotated: &Path) -> Option<Age> {
    let name = path.file_name()?.to_str()?;
    let rest = rotated.file_name()?.to_str()?.strip_prefix(name)?;
    let plain = packed::SUFFIXES
        .iter()
        .find_map(|z| rest.strip_suffix(z))
        .unwrap_or(rest);
    let stamp = plain.strip_prefix(['-', '.', '_'])?;
    if !stamp.starts_with(|c: char| c.is_ascii_digit())
        || !stamp
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    {
        return None;
    }
    let digits = stamp.bytes().filter(u8::is_ascii_digit).count();
    if digits >= 6 {
        Some(Age::Dated(stamp.len(), stamp.to_string()))
    } else if plain.starts_with('.') && digits == stamp.len() {
        stamp
            .parse()
            .ok()
            .map(|n| Age::Numbered(std::cmp::Reverse(n)))
    } else {
        None
    }
}

/// The files rotated after `from` (a rotation of `path`), oldest first:
/// those named newer than it the same way, and modified since `since`
/// when that is known (a leftover `log.0` from another scheme is not
/// one), but for the files in `skip` (by inode: the one followed now, the
/// one still read for its writers) and those whose first bytes are
/// `known` (copies, compressed or not, of files read otherwise). Without
/// `from` (it is gone, or was empty when last seen, so nothing tells its
/// copies from the others), those modified after `since`. Only those
/// rotated before `until`.
fn rotated_after(
    path: &Path,
    from: Option<&Path>,
    until: Until<'_>,
    since: Option<SystemTime>,
    slack: Duration,
    skip: &[u64],
    known: &[Vec<u8>],
) -> VecDeque<Next> {
    let from_age = from.and_then(|f| age(path, f));
    let until_age = match until {
        Until::Name(u) => age(path, u),
        _ => None,
    };
    let kind = |a: &Age, b: &Age| std::mem::discriminant(a) == std::mem::discriminant(b);
    let newer = |a: &Age| {
        let after = match &from_age {
            Some(f) => kind(a, f) && a > f,
            None => from.is_none(),
        };
        after && until_age.as_ref().is_none_or(|u| kind(a, u) && a < u)
    };
    let old = |m: SystemTime| match (since, from) {
        // Its writers may have added to the file rotated from for a
        // linger after the next one was last written.
        (Some(s), Some(_)) => m + slack < s,
        (Some(s), None) => m <= s,
        (None, _) => from.is_none(),
    };
    let mut found: Vec<(Age, Next)> = Vec::new();
    let plain = rotated_candidates(path, false)
        .into_iter()
        .map(|c| (c, false));
    let packed = rotated_candidates(path, true)
        .into_iter()
        .map(|c| (c, true));
    for (c, compressed) in plain.chain(packed) {
        let Some(a) = age(path, &c).filter(newer) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&c) else {
            continue;
        };
        let later = match until {
            Until::Time(t) => meta.modified().is_ok_and(|m| m > t),
            _ => false,
        };
        if Some(c.as_path()) == from
            || later
            || !meta.is_file()
            || meta.modified().is_ok_and(old)
            || skip.contains(&meta.ino())
        {
            continue;
        }
        let same_head = |h: &[u8]| known.iter().any(|k| same_start(h, k));
        if compressed {
            // An empty one has nothing to read.
            if let Some(h) = packed_head(&c, HEAD).filter(|h| !h.is_empty() && !same_head(h)) {
                let known = whole_lines(h.clone());
                found.push((a, Next::Packed(if known.is_empty() { h } else { known })));
            }
        } else if let Ok(o) = open_at(&c, 0)
            && !o.read_head(HEAD).is_ok_and(|h| same_head(&h))
        {
            found.push((a, Next::Plain(o)));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.into_iter().map(|(_, n)| n).collect()
}

/// A rotated file that logrotate compressed at once (`compress` without
/// `delaycompress`) before its last lines were read: the compressed file
/// among `path`'s rotations that begins, unpacked, with `head` and is at
/// least `at_least` bytes long. Its bytes from `from` on are copied into
/// an unnamed temporary file at the same offsets (the bytes before are a
/// hole, never read), which then drains like the file it was. `None`
/// when `head` is not known: without it no compressed file can be told to
/// be the one.
fn unpacked_rotation(
    path: &Path,
    head: &[u8],
    from: u64,
    at_least: u64,
) -> Option<(Open, PathBuf)> {
    if head.is_empty() {
        return None;
    }
    rotated_candidates(path, true).into_iter().find_map(|z| {
        unpack_from(&z, head, from, at_least)
            .ok()
            .flatten()
            .map(|o| (o, z))
    })
}

fn unpack_from(
    packed: &Path,
    head: &[u8],
    from: u64,
    at_least: u64,
) -> std::io::Result<Option<Open>> {
    use std::io::Write;
    let mut z = packed::unpacked(BufReader::new(File::open(packed)?))?;
    let mut first = vec![0u8; head.len()];
    if z.read_exact(&mut first).is_err() || first != head {
        return Ok(None);
    }
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = packed.file_name().unwrap_or_default().to_string_lossy();
    let tmp = std::env::temp_dir().join(format!(
        "unlisted-rotated-{}-{n}-{name}",
        std::process::id()
    ));
    let mut out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    // Unnamed from here: gone when the drain is done, or at a crash.
    std::fs::remove_file(&tmp)?;
    out.seek(SeekFrom::Start(from))?;
    if let Some(rest) = first.get(from as usize..) {
        out.write_all(rest)?;
    }
    let skip = from.saturating_sub(first.len() as u64);
    std::io::copy(&mut (&mut z).take(skip), &mut std::io::sink())?;
    let copied = std::io::copy(&mut z, &mut out)?;
    if from.max(first.len() as u64) + copied < at_least {
        return Ok(None);
    }
    Ok(Some(Open {
        file: out,
        // Not a rotation's inode (the temporary file may be on another
        // file system): never taken for one. A restart finds the
        // compressed file again by its first bytes.
        inode: 0,
        pos: from,
        head: first,
        unfinished: None,
        packed_at: std::fs::metadata(packed)?.modified().ok(),
    }))
}

impl Tailer {
    /// Starts following `path`, resuming where a previous run stopped.
    pub fn open(path: &Path, resume: Option<Resume>) -> Self {
        let mut t = Tailer {
            path: path.to_path_buf(),
            main: None,
            draining: None,
            lingering: None,
            linger: LINGER,
            generation: 0,
            after: VecDeque::new(),
            finished: None,
            drained: VecDeque::new(),
            seen_empty: None,
            in_place: resume.as_ref().and_then(|r| r.in_place),
            notes: Vec::new(),
            bytes_read: 0,
            problem: None,
            // A checkpoint means the file was followed before.
            seen: resume.is_some(),
        };
        let current = t.opened(open_at(path, 0));
        // Still read for what its writers add, from the first line of a
        // message still open in it: its lines take this generation, and
        // the files after it the next ones. By its inode and first bytes
        // (the inode of a file compressed since is another file's now),
        // or compressed.
        if let Some(r) = &resume
            && let Some((inode, resume_at)) = r.linger
            // The file the checkpoint names is read on from there instead.
            && !same_file(inode, &r.linger_head, r.inode, &r.head)
            // Empty when last seen: its inode number may be another file's
            // now, and nothing else tells it.
            && !r.linger_head.is_empty()
            && let Some((o, _)) = renamed_to(path, inode, &r.linger_head, resume_at)
                .or_else(|| unpacked_rotation(path, &r.linger_head, resume_at, resume_at))
        {
            t.lingering = Some((o, t.generation, Instant::now()));
            t.generation += 1;
        }
        match (resume, current) {
            (None, cur) => {
                t.in_place = cur.as_ref().and_then(modified);
                t.main = cur;
            }
            (Some(r), Some(mut cur)) if cur.inode == r.inode => {
                let len = cur.file.metadata().map(|m| m.len()).unwrap_or(0);
                if len >= r.read_to && begins_with(&cur, &r.head) {
                    cur.pos = r.resume_at;
                    if r.head.is_empty() && written_since(modified(&cur), r.in_place) {
                        // Empty at the checkpoint and written since: if it
                        // was copied and truncated meanwhile, the copies
                        // made since hold what it had.
                        let now = cur.known_head();
                        t.queue_after(None, &now, &[cur.inode]);
                        t.draining = t.next_after();
                    }
                } else {
                    // Truncated while we were down (copytruncate): the copy
                    // holds what we had not read yet.
                    t.notes.push(format!(
                        "{} was truncated while unlisted was not running",
                        path.display()
                    ));
                    if !t.drain_copy(r.resume_at, r.read_to, &r.head) {
                        t.no_copy();
                    }
                }
                t.main = Some(cur);
            }
            (Some(r), cur) => {
                // Rotated by rename while we were down: find the old file.
                t.main = cur;
                // An inode alone is not the file: once that was compressed
                // or removed, its number went to the next file created.
                let by_inode = match r.head.is_empty() {
                    true => None,
                    false => renamed_to(path, r.inode, &r.head, r.resume_at),
                };
                match by_inode {
                    Some((o, p)) => {
                        let skip: Vec<u64> = t.main.iter().map(|c| c.inode).collect();
                        t.queue_after(Some(&p), &r.head, &skip);
                        t.draining = Some((o, true));
                    }
                    // Compressed since, or copied and truncated before it
                    // was renamed: known by its first bytes.
                    None if !r.head.is_empty() && t.drain_copy(r.resume_at, r.read_to, &r.head) => {
                    }
                    None => {
                        // Gone (or empty when last seen, and so unknown):
                        // the files rotated after it were modified since.
                        if !r.head.is_empty() {
                            t.notes.push(format!(
                                "{} was rotated while unlisted was not running and the old file was not found; lines written to it after the last checkpoint are lost",
                                path.display()
                            ));
                        }
                        let now = t.main.as_ref().map(Open::known_head);
                        let skip: Vec<u64> = t.main.iter().map(|c| c.inode).collect();
                        t.queue_after(None, &now.unwrap_or_default(), &skip);
                        t.draining = t.next_after();
                        if t.main.is_none() && t.draining.is_none() {
                            // No new file yet: the next polls ask again
                            // what was rotated after it.
                            t.finished = Some(Finished {
                                inode: r.inode,
                                head: r.head.clone(),
                                end: r.read_to,
                            });
                        }
                    }
                }
            }
        }
        t.seen_empty = t.main.as_ref().and_then(empty_since);
        t
    }

    /// Why the file cannot be followed, while that lasts: it cannot be
    /// opened (no read permission), or it never existed. A file missing
    /// once it was followed was rotated away and waits to be written
    /// again, which is no problem.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// Keeps what opening the file said for [`Tailer::problem`] (with a
    /// note when that changes).
    fn opened(&mut self, r: std::io::Result<Open>) -> Option<Open> {
        let problem = match &r {
            Ok(_) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.seen => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some(format!("{} does not exist", self.path.display()))
            }
            Err(e) => Some(format!("cannot open {}: {e}", self.path.display())),
        };
        self.seen |= r.is_ok();
        if problem != self.problem {
            match &problem {
                Some(p) => self
                    .notes
                    .push(format!("{p}; it is not followed until it can be read")),
                None if self.problem.is_some() => self.notes.push(format!(
                    "{} can be read now; following it",
                    self.path.display()
                )),
                None => {}
            }
            self.problem = problem;
        }
        r.ok()
    }

    /// Reads the rest of a truncated file from its copy: the newest
    /// rotated file at least `at_least` long that begins with `head` (when
    /// known), then the files rotated after it; whether there was one.
    fn drain_copy(&mut self, from: u64, at_least: u64, head: &[u8]) -> bool {
        let copy = rotated_candidates(&self.path, false)
            .into_iter()
            .filter_map(|p| open_at(&p, from).ok().map(|o| (o, p)))
            .find(|(o, _)| {
                o.file
                    .metadata()
                    .map(|m| m.len() >= at_least)
                    .unwrap_or(false)
                    && begins_with(o, head)
            })
            .or_else(|| unpacked_rotation(&self.path, head, from, at_least));
        let Some((c, p)) = copy else {
            return false;
        };
        let mut skip = vec![c.inode];
        skip.extend(self.main.as_ref().map(|m| m.inode));
        self.queue_after(Some(&p), head, &skip);
        self.draining = Some((c, false));
        true
    }

    fn no_copy(&mut self) {
        self.notes.push(format!(
            "{} was truncated and no rotated copy was found; lines written just before the truncation may be lost",
            self.path.display()
        ));
    }

    /// Queues the files rotated after `from` (which began with `head`)
    /// and before the file at the path, but for `skip`'s inodes.
    fn queue_after(&mut self, from: Option<&Path>, head: &[u8], skip: &[u64]) {
        // The followed file renamed away since as well: those rotated
        // after it come after it, once that is seen.
        let moved = self
            .main
            .as_ref()
            .filter(|m| !std::fs::metadata(&self.path).is_ok_and(|at| at.ino() == m.inode));
        let name = moved.and_then(|m| {
            let now = m.known_head();
            rotation_of(&self.path, m.inode, &now)
        });
        let until = match (&name, moved.and_then(modified)) {
            (Some(n), _) => Until::Name(n),
            (None, Some(t)) => Until::Time(t),
            (None, None) => Until::Path,
        };
        let mut skip = skip.to_vec();
        skip.extend(std::fs::metadata(&self.path).map(|m| m.ino()));
        skip.extend(self.lingering.as_ref().map(|l| l.0.inode));
        // Files with what was read already, or what is read anyway: the
        // one rotated from, those read to their end, the followed one and
        // the one still read for its writers, as they are now.
        let mut known: Vec<Vec<u8>> = self.drained.iter().cloned().collect();
        known.push(head.to_vec());
        known.extend(self.main.as_ref().map(Open::first_bytes));
        known.extend(self.lingering.as_ref().map(|l| l.0.first_bytes()));
        self.after = rotated_after(
            &self.path,
            from,
            until,
            self.in_place,
            self.linger,
            &skip,
            &known,
        );
        if !self.after.is_empty() {
            self.notes.push(format!(
                "{} was rotated {} more times before unlisted read on; reading those files in turn",
                self.path.display(),
                self.after.len()
            ));
        }
    }

    /// The next file of [`Tailer::after`] to finish, opened; a compressed
    /// one that cannot be unpacked is told and passed over.
    fn next_after(&mut self) -> Option<(Open, bool)> {
        while let Some(n) = self.after.pop_front() {
            match n {
                Next::Plain(o) => return Some((o, true)),
                Next::Packed(head) => match unpacked_rotation(&self.path, &head, 0, 0) {
                    Some((o, _)) => return Some((o, false)),
                    None => self.notes.push(format!(
                        "a compressed rotation of {} beginning {:?} is gone or cannot be unpacked; the lines in it are not read",
                        self.path.display(),
                        String::from_utf8_lossy(&head)
                    )),
                },
            }
        }
        None
    }

    /// How long a renamed file is read again after it was last seen to
    /// grow ([`LINGER`] unless set). However short, it is read again at
    /// least at the poll after the one that finished it.
    pub fn set_linger(&mut self, linger: Duration) {
        self.linger = linger;
    }

    /// Reads what the writers of the renamed file still added to it; lets
    /// it go once it has been quiet for the linger.
    fn read_lingering(
        &mut self,
        polled: &mut Polled,
        limit: usize,
        f: &mut impl FnMut(&[u8], u64),
    ) -> std::io::Result<()> {
        let Some((l, generation, grew)) = self.lingering.as_mut() else {
            return Ok(());
        };
        if polled.lines >= limit {
            return Ok(());
        }
        let (n, _) = read_lines(
            l,
            false,
            limit - polled.lines,
            *generation,
            &mut self.bytes_read,
            f,
        )?;
        polled.lines += n;
        if n > 0 {
            *grew = Instant::now();
        } else if grew.elapsed() >= self.linger {
            self.let_go(polled, f)?;
        }
        Ok(())
    }

    /// Stops reading the renamed file, reading a last line without a
    /// newline first.
    fn let_go(
        &mut self,
        polled: &mut Polled,
        f: &mut impl FnMut(&[u8], u64),
    ) -> std::io::Result<()> {
        if let Some((mut l, generation, _)) = self.lingering.take() {
            let (n, _) = read_lines(
                &mut l,
                true,
                usize::MAX,
                generation,
                &mut self.bytes_read,
                f,
            )?;
            polled.lines += n;
        }
        Ok(())
    }

    /// The generation of the lines read now: positions of lines read again
    /// after a restart from [`Tailer::checkpoint`]'s `resume_at` are at
    /// or past `Position { generation, offset: resume_at }`.
    pub fn generation(&self) -> u16 {
        match self.last_read() {
            Some(_) => self.generation.wrapping_sub(1),
            None => self.generation,
        }
    }

    /// The rotated file read last, while none is open: the one a
    /// checkpoint names.
    fn last_read(&self) -> Option<&Finished> {
        self.finished
            .as_ref()
            .filter(|_| self.draining.is_none() && self.main.is_none())
    }

    /// The file being read and the checkpoint values for it: the inode,
    /// the end of what was read, and where to resume given the packed
    /// position of the oldest message still open. While a rotated file is
    /// being finished (a poll of a few lines can stop in it), that file: a
    /// restart finds it by its inode, or its compressed copy by its first
    /// bytes, finishes it and reads the new one from its start.
    pub fn checkpoint(&self, oldest_open: Option<u64>) -> Resume {
        let current = match &self.draining {
            Some((d, _)) => Some(d),
            None => self.main.as_ref(),
        };
        // None open (rotated away, the new file not there yet): the last
        // one read, to its end, so that a restart knows where it was. A
        // file empty when last seen has no first bytes (those written
        // since may follow others that a copytruncate took away), and a
        // restart looks for the files modified since.
        let (inode, pos, head) = match (current, self.last_read()) {
            (Some(m), _) => (m.inode, m.pos, m.head.clone()),
            (None, Some(f)) => {
                // Still read for its writers: as far as that went.
                let end = match &self.lingering {
                    Some((l, _, _)) if same_file(l.inode, &l.head, f.inode, &f.head) => l.pos,
                    _ => f.end,
                };
                (f.inode, end, f.head.clone())
            }
            (None, None) => (0, 0, Vec::new()),
        };
        let generation = self.generation();
        let resume_at = match oldest_open.map(Position::unpack) {
            // A message still open from this file: start again at its first line.
            Some(p) if p.generation == generation => p.offset.min(pos),
            // One from a file rotated away cannot be re-read from this one.
            Some(_) => 0,
            None => pos,
        };
        Resume {
            inode,
            read_to: pos,
            resume_at,
            head,
            in_place: self.in_place,
            linger: self.lingering.as_ref().map(|(l, generation, _)| {
                let at = match oldest_open.map(Position::unpack) {
                    Some(p) if p.generation == *generation => p.offset.min(l.pos),
                    _ => l.pos,
                };
                (l.inode, at)
            }),
            linger_head: self
                .lingering
                .as_ref()
                .map(|(l, _, _)| l.head.clone())
                .unwrap_or_default(),
        }
    }

    /// Reads complete lines (at most `max_lines`, 0 for no limit), calling
    /// `f(line, packed_position)` for each.
    pub fn poll(
        &mut self,
        max_lines: usize,
        mut f: impl FnMut(&[u8], u64),
    ) -> std::io::Result<Polled> {
        let limit = line_limit(max_lines);
        let mut polled = Polled::default();
        self.read_lingering(&mut polled, limit, &mut f)?;
        loop {
            if let Some((mut d, renamed)) = self.draining.take() {
                let generation = self.generation;
                let (n, done) = read_lines(
                    &mut d,
                    !renamed,
                    limit - polled.lines,
                    generation,
                    &mut self.bytes_read,
                    &mut f,
                )?;
                polled.lines += n;
                if !done {
                    self.draining = Some((d, renamed));
                    return Ok(polled);
                }
                // Files modified before it are read (a restart must not
                // take them for ones rotated since).
                self.in_place = self.in_place.max(d.packed_at.or_else(|| modified(&d)));
                self.finished = Some(Finished {
                    inode: d.inode,
                    head: d.head.clone(),
                    end: d.pos,
                });
                if !d.head.is_empty() {
                    if self.drained.len() == DRAINED {
                        self.drained.pop_front();
                    }
                    self.drained.push_back(d.head.clone());
                }
                if renamed {
                    // A file renamed twice in a linger's time is let go.
                    // This one is read again from the next poll on (the
                    // next run's, for `serve --once`), however short the
                    // linger.
                    self.let_go(&mut polled, &mut f)?;
                    self.lingering = Some((d, generation, Instant::now()));
                }
                self.generation = self.generation.wrapping_add(1);
                self.draining = self.next_after();
                continue;
            }
            if self.main.is_none()
                && let Some(Finished { inode, head, .. }) = self.finished.clone()
            {
                // The files were rotated again while the last ones were
                // read, before the new file was opened (asked again at
                // each poll until it is): those rotated since come first.
                // The last one is known by its inode while it is held open
                // (still read for its writers), or by its first bytes;
                // else (empty, and compressed or removed since) the files
                // modified since are those. An unpacked copy's inode is 0,
                // no file's.
                let held =
                    inode != 0 && self.lingering.as_ref().is_some_and(|l| l.0.inode == inode);
                let at = match !head.is_empty() || held {
                    true => rotation_of(&self.path, inode, &head),
                    false => None,
                };
                self.queue_after(at.as_deref(), &head, &[inode]);
                self.draining = self.next_after();
                if self.draining.is_some() {
                    continue;
                }
            }
            let Some(main) = self.main.as_mut() else {
                // Not there yet (rotated away, not yet recreated), or
                // not readable.
                let r = open_at(&self.path, 0);
                match self.opened(r) {
                    Some(o) => {
                        self.in_place = self.in_place.max(modified(&o));
                        self.seen_empty = empty_since(&o);
                        self.finished = None;
                        self.main = Some(o);
                        continue;
                    }
                    None => {
                        polled.at_end = true;
                        return Ok(polled);
                    }
                }
            };
            // Truncated (and perhaps written again past where it was
            // read): what is there now is not the rest of what was read.
            let meta = main.file.metadata().ok();
            let truncated = meta.as_ref().is_some_and(|m| main.truncated(m.len()));
            let changed = meta.and_then(|m| m.modified().ok());
            if !truncated && main.head.is_empty() && written_since(changed, self.seen_empty) {
                // Empty when last seen, and written since: if it was
                // copied and truncated meanwhile, the copies made since
                // hold what it had.
                // Its own bytes now tell it from those copies, should it
                // have been renamed and compressed since as well. Modified
                // since it was seen empty, that is (for this search only).
                let inode = main.inode;
                let now = main.known_head();
                let since = std::mem::replace(&mut self.in_place, self.seen_empty);
                self.queue_after(None, &now, &[inode]);
                self.in_place = since;
                self.seen_empty = changed;
                self.draining = self.next_after();
                continue;
            }
            let (n, done) = if truncated {
                (0, true)
            } else {
                read_lines(
                    main,
                    false,
                    limit - polled.lines,
                    self.generation,
                    &mut self.bytes_read,
                    &mut f,
                )?
            };
            polled.lines += n;
            if !done {
                return Ok(polled);
            }
            // At the end of what is written: was the file rotated? A
            // truncation first: it may have been renamed after it.
            let pos = main.pos;
            let inode = main.inode;
            if truncated {
                self.notes.push(format!(
                    "{} was truncated (copytruncate); reading the rest from its copy",
                    self.path.display()
                ));
                let head = main.head.clone();
                if !self.drain_copy(pos, pos, &head) {
                    self.no_copy();
                }
                if let Some(m) = self.main.as_mut() {
                    m.pos = 0;
                    m.head.clear();
                    m.unfinished = None;
                    note_head(m);
                    self.seen_empty = empty_since(m);
                }
                continue;
            }
            let at_path = std::fs::metadata(&self.path);
            let gone = at_path
                .as_ref()
                .err()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound);
            match at_path {
                Ok(ref meta) if meta.ino() != inode => self.notes.push(format!(
                    "{} was rotated (renamed); following the new file",
                    self.path.display()
                )),
                _ if gone => self.notes.push(format!(
                    "{} was renamed or removed; reading it to its end, and the new file from its start once it is there",
                    self.path.display()
                )),
                Ok(meta) => {
                    // Not back before the rotated files read to their end.
                    self.in_place = self.in_place.max(meta.modified().ok());
                    self.seen_empty = self.main.as_ref().and_then(empty_since);
                    polled.at_end = true;
                    return Ok(polled);
                }
                Err(_) => {
                    polled.at_end = true;
                    return Ok(polled);
                }
            }
            // Renamed away: finish the old file (its last line may lack a
            // newline), then any rotated after it, then start the new one.
            let head = main.head.clone();
            let now = main.known_head();
            let renamed = self.main.take();
            match rotation_of(&self.path, inode, &head) {
                Some(p) => self.queue_after(Some(&p), &head, &[inode]),
                // Compressed before a byte of it was known: the files
                // rotated after it are those modified since it was last
                // seen in place, but its own copy.
                None => self.queue_after(None, &now, &[inode]),
            }
            self.draining = renamed.map(|m| (m, true));
        }
    }
}

/// Do the first bytes `h` of a file say it is the one whose first bytes
/// were `k`? The same, or as many as [`HEAD`] of them, or whole lines (a
/// file that then grew).
fn same_start(h: &[u8], k: &[u8]) -> bool {
    !k.is_empty()
        && h.starts_with(k)
        && (k.len() == HEAD || h.len() == k.len() || k.ends_with(b"\n"))
}

/// Are two files named by inode and first bytes one? By inode, but for
/// unpacked copies (inode 0), whose first bytes are fixed.
fn same_file(a: u64, a_head: &[u8], b: u64, b_head: &[u8]) -> bool {
    a == b && (a != 0 || a_head == b_head)
}

/// When the file was last modified.
fn modified(o: &Open) -> Option<SystemTime> {
    o.file.metadata().ok()?.modified().ok()
}

/// When the file was last modified, if nothing of it is known yet.
fn empty_since(o: &Open) -> Option<SystemTime> {
    if o.head.is_empty() { modified(o) } else { None }
}

/// Was a file modified (`modified`) after it was seen empty (at
/// `in_place`)?
fn written_since(modified: Option<SystemTime>, in_place: Option<SystemTime>) -> bool {
    modified.zip(in_place).is_some_and(|(m, s)| m > s)
}

/// The lines one poll may read: `max_lines`, 0 for no limit.
pub fn line_limit(max_lines: usize) -> usize {
    if max_lines == 0 {
        usize::MAX
    } else {
        max_lines
    }
}

/// Does the file begin with `head` (which is empty when not known)?
fn begins_with(o: &Open, head: &[u8]) -> bool {
    head.is_empty() || o.read_head(head.len()).is_ok_and(|h| h == head)
}

/// Remembers the file's first bytes, as many as there are up to
/// [`HEAD`]: a line still being written keeps the bytes it has.
fn note_head(o: &mut Open) {
    // An unpacked copy holds nothing before where it is read from: its
    // first bytes are the ones it was found by.
    if o.packed_at.is_none() && o.head.len() < HEAD {
        let h = o.known_head();
        if h.len() > o.head.len() {
            o.head = h;
        }
    }
}

/// First bytes that tell a file: [`HEAD`] of them, or whole lines (none
/// when there are fewer). A line still being written is a prefix of
/// other files' lines (`… line 20` of `… line 205`).
fn whole_lines(mut h: Vec<u8>) -> Vec<u8> {
    if h.len() < HEAD {
        let end = memchr::memrchr(b'\n', &h).map_or(0, |i| i + 1);
        h.truncate(end);
    }
    h
}

/// Reads lines of `o` from its position. Returns the lines read and whether
/// the end was reached. A final line without a newline is read only when
/// `finished` (the file will not grow any more). `read` counts the bytes
/// taken from the file.
fn read_lines(
    o: &mut Open,
    finished: bool,
    max: usize,
    generation: u16,
    read: &mut u64,
    f: &mut impl FnMut(&[u8], u64),
) -> std::io::Result<(usize, bool)> {
    let mut n = 0;
    if max > 0 && o.unfinished.is_some() {
        match end_long_line(o, finished, generation, read, f)? {
            Some(true) => n += 1,
            Some(false) => return Ok((0, true)),
            None => {}
        }
    }
    o.file.seek(SeekFrom::Start(o.pos))?;
    let mut r = BufReader::with_capacity(1 << 16, &o.file);
    let mut buf = Vec::new();
    while n < max {
        buf.clear();
        let got = crate::read_line(&mut r, &mut buf)?;
        *read += got as u64;
        if got == 0 {
            note_head(o);
            return Ok((n, true));
        }
        let complete = buf.last() == Some(&b'\n');
        if !complete && !finished {
            // A line still being written: leave it for the next poll, and
            // when it is already longer than the parser reads, remember
            // how far it was searched.
            if got > crate::MAX_LINE {
                o.unfinished = Some(o.pos + got as u64);
            }
            note_head(o);
            return Ok((n, true));
        }
        let line = if complete {
            &buf[..buf.len() - 1]
        } else {
            &buf[..]
        };
        f(
            line,
            Position {
                generation,
                offset: o.pos,
            }
            .pack(),
        );
        o.pos += got as u64;
        n += 1;
    }
    note_head(o);
    Ok((n, false))
}

/// Looks for the end of the long line at `o.pos` from where the last poll
/// stopped, reading only what was written since (and the line's first
/// bytes once it ends). `Some(true)` when the line was handed to `f`,
/// `Some(false)` when it is still being written, `None` when the file
/// shrank under it and must be read afresh.
fn end_long_line(
    o: &mut Open,
    finished: bool,
    generation: u16,
    read: &mut u64,
    f: &mut impl FnMut(&[u8], u64),
) -> std::io::Result<Option<bool>> {
    use std::io::BufRead;
    use std::os::unix::fs::FileExt;
    let Some(from) = o.unfinished.take() else {
        return Ok(None);
    };
    if o.file.metadata()?.len() < from {
        // Shorter than what was searched: truncated. Read it afresh (the
        // truncation check after this poll sees it too).
        return Ok(None);
    }
    o.file.seek(SeekFrom::Start(from))?;
    let mut r = BufReader::with_capacity(1 << 16, &o.file);
    let mut end = from;
    let ended = loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            break false;
        }
        *read += avail.len() as u64;
        if let Some(nl) = memchr::memchr(b'\n', avail) {
            end += nl as u64 + 1;
            break true;
        }
        end += avail.len() as u64;
        let len = avail.len();
        r.consume(len);
    };
    if !ended && !finished {
        o.unfinished = Some(end);
        return Ok(Some(false));
    }
    // The first bytes, as `read_line` keeps them (a hole of NUL bytes at
    // the start as one).
    let mut head = Vec::with_capacity(crate::MAX_LINE + 1);
    let mut at = o.pos;
    let mut piece = vec![0u8; 1 << 16];
    // Without its newline.
    let stop = if ended { end - 1 } else { end };
    while head.len() < crate::MAX_LINE + 1 && at < stop {
        let want = piece.len().min((stop - at) as usize);
        let k = o.file.read_at(&mut piece[..want], at)?;
        if k == 0 {
            break;
        }
        at += k as u64;
        *read += k as u64;
        let kept = crate::past_hole(&mut head, &piece[..k]);
        let room = crate::MAX_LINE + 1 - head.len();
        head.extend_from_slice(&kept[..kept.len().min(room)]);
    }
    f(
        &head,
        Position {
            generation,
            offset: o.pos,
        }
        .pack(),
    );
    o.pos = end;
    Ok(Some(true))
}

#[cfg(test)]
mod model;

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("unlisted-tail-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn append(p: &Path, s: &str) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap()
            .write_all(s.as_bytes())
            .unwrap();
    }

    /// What logrotate's copytruncate does: copy, then empty the file.
    fn copytruncate(p: &Path, copy: &Path) {
        std::fs::copy(p, copy).unwrap();
        std::fs::File::create(p).unwrap();
    }

    fn read(t: &mut Tailer) -> Vec<String> {
        let mut out = Vec::new();
        t.poll(0, |l, _| out.push(String::from_utf8_lossy(l).into_owned()))
            .unwrap();
        out
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let d = dir("partial");
        let p = d.join("log");
        append(&p, "one\ntw");
        let mut t = Tailer::open(&p, None);
        assert_eq!(read(&mut t), ["one"]);
        append(&p, "o\nthree\n");
        assert_eq!(read(&mut t), ["two", "three"]);
        assert_eq!(t.checkpoint(None).read_to, 14);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_giant_line_is_kept_to_its_first_mib() {
        let d = dir("giant");
        let p = d.join("log");
        append(&p, &"y".repeat(3 << 20));
        let mut t = Tailer::open(&p, None);
        // Still being written: nothing yet, and not all of it in memory.
        assert!(read(&mut t).is_empty());
        append(&p, "\nnext\n");
        let mut lines = Vec::new();
        t.poll(0, |l, at| lines.push((l.len(), l.to_vec(), at)))
            .unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, crate::MAX_LINE + 1);
        assert_eq!(lines[1].1, b"next");
        assert_eq!(Position::unpack(lines[1].2).offset, (3 << 20) + 1);
        assert_eq!(t.checkpoint(None).read_to, (3 << 20) + 6);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_giant_unfinished_line_is_not_read_again_each_poll() {
        let d = dir("giant-polls");
        let p = d.join("log");
        append(&p, "before\n");
        append(&p, &"y".repeat(3 << 20));
        let mut t = Tailer::open(&p, None);
        // Its rotation below lets the unfinished line go at the next poll.
        t.set_linger(Duration::ZERO);
        assert_eq!(read(&mut t), ["before"]);
        let first = t.bytes_read;
        assert!(first > 3 << 20);
        // The line grows a little between polls: each poll reads the new
        // bytes, not the 3 MiB before them.
        for _ in 0..5 {
            append(&p, "yyyy");
            assert!(read(&mut t).is_empty());
        }
        assert!(t.bytes_read - first < 1024, "{}", t.bytes_read - first);
        append(&p, "\nnext\n");
        let mut lines = Vec::new();
        t.poll(0, |l, at| {
            lines.push((l.to_vec(), Position::unpack(at).offset))
        })
        .unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0.len(), crate::MAX_LINE + 1);
        assert_eq!(lines[0].1, 7);
        assert_eq!(lines[1], (b"next".to_vec(), 7 + (3 << 20) + 20 + 1));
        // Rotated away while still unfinished: its first bytes are read
        // as its last line, once the old file is let go.
        append(&p, &"x".repeat(2 << 20));
        assert!(read(&mut t).is_empty());
        std::fs::rename(&p, d.join("log.1")).unwrap();
        append(&p, "new\n");
        assert_eq!(read(&mut t), ["new"]);
        let mut lines = Vec::new();
        t.poll(0, |l, _| lines.push(l.to_vec())).unwrap();
        assert_eq!(lines, [vec![b'x'; crate::MAX_LINE + 1]]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_line_after_a_crash_hole_of_any_length_is_read_whole() {
        // A crash left 3 MiB of NUL bytes (more than the parser reads of
        // a line); after the reboot the MTA writes its next line after
        // them. Read whether the hole was seen unfinished first or not.
        let line = format!("2024-05-02 {}", "z".repeat(100));
        for seen_first in [true, false] {
            let d = dir(&format!("hole-{seen_first}"));
            let p = d.join("log");
            append(&p, "before\n");
            let mut t = Tailer::open(&p, None);
            assert_eq!(read(&mut t), ["before"]);
            append(&p, &"\0".repeat(3 << 20));
            if seen_first {
                assert!(read(&mut t).is_empty());
            }
            append(&p, &format!("{line}\nnext\n"));
            let mut lines = Vec::new();
            t.poll(0, |l, _| lines.push(l.to_vec())).unwrap();
            assert_eq!(lines.len(), 2, "{seen_first}");
            assert_eq!(
                crate::after_hole(&lines[0]),
                line.as_bytes(),
                "{seen_first}"
            );
            assert_eq!(lines[0][0], 0, "the hole is still seen");
            assert_eq!(lines[1], b"next");
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    /// The old file's lines come before the new one's; a last line
    /// without a newline only once the old file is let go, at a later
    /// poll (the next run's, for `serve --once`), however short the
    /// linger.
    #[test]
    fn rename_rotation_finishes_the_old_file_first() {
        let d = dir("rename");
        let p = d.join("log");
        append(&p, "a\n");
        let mut t = Tailer::open(&p, None);
        t.set_linger(Duration::ZERO);
        assert_eq!(read(&mut t), ["a"]);
        append(&p, "b\nc-no-newline");
        std::fs::rename(&p, d.join("log.1")).unwrap();
        append(&p, "d\n");
        assert_eq!(read(&mut t), ["b", "d"]);
        assert!(t.checkpoint(None).linger.is_some());
        assert_eq!(read(&mut t), ["c-no-newline"]);
        assert_eq!(t.checkpoint(None).linger, None);
        std::fs::remove_dir_all(d).unwrap();
    }

    /// A restart while the renamed file is still read: the checkpoint
    /// names it, and the restarted tail reads on in it, and lets it go
    /// once quiet.
    #[test]
    fn a_restart_within_the_linger_reads_on_in_the_renamed_file() {
        let d = dir("linger-restart");
        let p = d.join("log");
        let old = d.join("log.1");
        append(&p, "a\n");
        let mut t = Tailer::open(&p, None);
        assert_eq!(read(&mut t), ["a"]);
        std::fs::rename(&p, &old).unwrap();
        append(&p, "b\n");
        assert_eq!(read(&mut t), ["b"]);
        append(&old, "late\n");
        let cp = t.checkpoint(None);
        assert!(cp.linger.is_some());
        let mut t = Tailer::open(&p, Some(cp));
        assert_eq!(read(&mut t), ["late"]);
        append(&old, "later\n");
        append(&p, "c\n");
        let mut seen = Vec::new();
        t.poll(0, |l, at| {
            seen.push((String::from_utf8_lossy(l).into_owned(), at))
        })
        .unwrap();
        let lines: Vec<&str> = seen.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(lines, ["later", "c"]);
        // A message that began at "later" is still open at the next
        // restart: it is read again from there, and the new file from
        // its start (what a restart does for a message begun in a file
        // rotated away; the store keeps each message once).
        let cp = t.checkpoint(Some(seen[0].1));
        let mut t = Tailer::open(&p, Some(cp));
        assert_eq!(read(&mut t), ["later", "b", "c"]);
        t.set_linger(Duration::ZERO);
        assert!(read(&mut t).is_empty());
        assert_eq!(t.checkpoint(None).linger, None);
        append(&old, "gone\n");
        assert!(read(&mut t).is_empty());
        std::fs::remove_dir_all(d).unwrap();
    }

    /// A daemon reading a few lines a poll (`max_lines`) can stop in the
    /// middle of a rotated file and be killed there: its checkpoint names
    /// that file, and a restart reads the rest of it, then the new one,
    /// each line once. By rename and by copytruncate.
    #[test]
    fn a_checkpoint_taken_while_finishing_a_rotated_file_resumes_in_it() {
        for copy in [false, true] {
            let d = dir(if copy { "mid-drain-copy" } else { "mid-drain" });
            let p = d.join("log");
            append(&p, "a\n");
            let mut t = Tailer::open(&p, None);
            t.set_linger(Duration::ZERO);
            assert_eq!(read(&mut t), ["a"]);
            append(&p, "b\nc\nd\n");
            if copy {
                copytruncate(&p, &d.join("log.1"));
            } else {
                std::fs::rename(&p, d.join("log.1")).unwrap();
            }
            append(&p, "e\n");
            let mut first = Vec::new();
            t.poll(2, |l, _| {
                first.push(String::from_utf8_lossy(l).into_owned())
            })
            .unwrap();
            assert_eq!(first, ["b", "c"]);
            let cp = t.checkpoint(None);
            let mut t = Tailer::open(&p, Some(cp));
            t.set_linger(Duration::ZERO);
            assert_eq!(read(&mut t), ["d", "e"], "copy: {copy}");
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    /// rsyslog goes on writing to a renamed mail.log until logrotate's
    /// postrotate makes it reopen (an Exim process until its next write):
    /// what lands in the old file after the new one was started is read
    /// too, until the old file has been quiet for the linger. A last line
    /// without a newline waits for it as long.
    #[test]
    fn lines_written_to_the_renamed_file_after_the_rotation_are_read() {
        let d = dir("linger");
        let p = d.join("log");
        let old = d.join("log.1");
        append(&p, "a\n");
        let mut t = Tailer::open(&p, None);
        assert_eq!(read(&mut t), ["a"]);
        append(&p, "b\n");
        std::fs::rename(&p, &old).unwrap();
        append(&p, "c\n");
        assert_eq!(read(&mut t), ["b", "c"]);
        // The writer has not reopened yet.
        append(&old, "late\npart");
        append(&p, "d\n");
        assert_eq!(read(&mut t), ["late", "d"]);
        append(&old, "ial\n");
        assert_eq!(read(&mut t), ["partial"]);
        // A second rotation before the first file went quiet: both are
        // read to their ends, the older let go.
        append(&p, "e\n");
        std::fs::rename(&old, d.join("log.2")).unwrap();
        std::fs::rename(&p, &old).unwrap();
        append(&d.join("log.2"), "older-cut");
        append(&p, "f\n");
        assert_eq!(read(&mut t), ["e", "older-cut", "f"]);
        // A last unfinished line waits while the file may grow; quiet past
        // the linger (none here), the file is let go, that line read then,
        // and nothing read of the file after.
        append(&old, "cut");
        assert!(read(&mut t).is_empty());
        t.set_linger(Duration::ZERO);
        assert_eq!(read(&mut t), ["cut"]);
        append(&old, "\nafter\n");
        append(&p, "g\n");
        assert_eq!(read(&mut t), ["g"]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn copytruncate_reads_the_rest_from_the_copy() {
        let d = dir("copytrunc");
        let p = d.join("log");
        append(&p, "a\n");
        let mut t = Tailer::open(&p, None);
        assert_eq!(read(&mut t), ["a"]);
        append(&p, "b\n");
        copytruncate(&p, &d.join("log.1"));
        append(&p, "c\n");
        assert_eq!(read(&mut t), ["b", "c"]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn resume_after_restart_and_after_rotation_while_down() {
        let d = dir("resume");
        let p = d.join("log");
        append(&p, "a\nb\n");
        let mut t = Tailer::open(&p, None);
        assert_eq!(read(&mut t), ["a", "b"]);
        let cp = t.checkpoint(Some(
            Position {
                generation: 0,
                offset: 2,
            }
            .pack(),
        ));
        assert_eq!((cp.read_to, cp.resume_at), (4, 2));
        // Restart: from the oldest open message's line.
        let mut t = Tailer::open(&p, Some(cp));
        assert_eq!(read(&mut t), ["b"]);
        // Down while the log rotates: the old file is found and finished.
        append(&p, "c\n");
        let cp = t.checkpoint(None);
        std::fs::rename(&p, d.join("log.1")).unwrap();
        append(&p, "d\n");
        let mut t = Tailer::open(&p, Some(cp));
        assert_eq!(read(&mut t), ["c", "d"]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn the_files_rotated_between_two_looks_are_read_oldest_first() {
        // Debian's exim4 logrotate (daily, delaycompress, nocreate) twice
        // over a stopped daemon: the file it read is `.2.gz` now, the day
        // between is `.1`, and the new file appears with Exim's next line.
        for (names, old, between) in [
            ("numbered", "log.2", "log.1"),
            ("dated", "log-20261128", "log-20261129"),
        ] {
            let d = dir(&format!("between-{names}"));
            let p = d.join("log");
            append(&p, "2026-11-27 09:00:00 a\n");
            let mut t = Tailer::open(&p, None);
            assert_eq!(read(&mut t), ["2026-11-27 09:00:00 a"]);
            let cp = t.checkpoint(None);
            drop(t);
            append(&p, "2026-11-27 23:00:00 b\n");
            std::fs::rename(&p, d.join(between)).unwrap();
            append(&p, "2026-11-28 10:00:00 c\n");
            std::fs::rename(d.join(between), d.join(old)).unwrap();
            compress("gzip", &d.join(old));
            std::fs::rename(&p, d.join(between)).unwrap();
            let mut t = Tailer::open(&p, Some(cp));
            assert_eq!(
                read(&mut t),
                ["2026-11-27 23:00:00 b", "2026-11-28 10:00:00 c"],
                "{names}"
            );
            append(&p, "2026-11-29 06:00:00 d\n");
            assert_eq!(read(&mut t), ["2026-11-29 06:00:00 d"], "{names}");
            assert!(
                t.notes.iter().any(|n| n.contains("rotated 1 more times")),
                "{names}: {:?}",
                t.notes
            );

            assert!(read(&mut t).is_empty(), "{names}");
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn a_checkpoints_time_is_stored_to_the_nanosecond() {
        for t in [
            SystemTime::UNIX_EPOCH + Duration::new(1_795_000_000, 123_456_789),
            SystemTime::UNIX_EPOCH - Duration::new(86_400, 5),
            SystemTime::UNIX_EPOCH,
        ] {
            assert_eq!(from_epoch_nanos(epoch_nanos(t).unwrap()), t);
        }
    }

    #[test]
    fn lines_written_after_a_copytruncate_are_not_read_from_where_the_old_ones_ended() {
        let d = dir("truncated-before-read");
        let p = d.join("log");
        append(&p, "2026-11-29 10:00:00 one\n");
        let mut t = Tailer::open(&p, None);
        assert_eq!(read(&mut t), ["2026-11-29 10:00:00 one"]);
        append(&p, "2026-11-29 10:00:01 two\n");
        copytruncate(&p, &d.join("log.1"));
        // More than was read, before the next poll.
        append(
            &p,
            "2026-11-29 10:00:02 three, a longer line than the first\n",
        );
        assert_eq!(
            read(&mut t),
            [
                "2026-11-29 10:00:01 two",
                "2026-11-29 10:00:02 three, a longer line than the first"
            ]
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_copy_truncated_while_down_is_known_by_its_first_bytes_though_longer_again() {
        // Stopped, then copytruncate, then more written than was read
        // before: the same inode, long enough, but other first bytes.
        let d = dir("copytrunc-down");
        let p = d.join("log");
        append(&p, "2024-05-01 one\n2024-05-01 two\n");
        let mut t = Tailer::open(&p, None);
        assert_eq!(read(&mut t).len(), 2);
        let cp = t.checkpoint(None);
        assert_eq!(cp.head, b"2024-05-01 one\n2024-05-01 two\n");
        drop(t);
        append(&p, "2024-05-01 three\n");
        copytruncate(&p, &d.join("log.1"));
        append(&p, "2024-05-02 four, a longer line\n2024-05-02 five\n");
        let mut t = Tailer::open(&p, Some(cp));
        assert_eq!(
            read(&mut t),
            [
                "2024-05-01 three",
                "2024-05-02 four, a longer line",
                "2024-05-02 five"
            ]
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    /// What logrotate's `compress` does to a rotated file, at once, with
    /// `compresscmd` `tool` (the real program: `log` becomes `log.gz`,
    /// `log.xz`, …).
    fn compress(tool: &str, p: &Path) {
        let ok = std::process::Command::new(tool)
            .args(["-q", "-f"])
            .args((tool == "zstd").then_some("--rm"))
            .arg(p)
            .status()
            .unwrap_or_else(|e| panic!("{tool}: {e}"))
            .success();
        assert!(ok && !p.exists(), "{tool} {}", p.display());
    }

    #[test]
    fn a_rotation_compressed_at_once_while_down_is_finished_from_the_compressed_file() {
        for tool in ["gzip", "xz", "bzip2", "zstd"] {
            compressed_at_once_while_down(tool);
        }
    }

    fn compressed_at_once_while_down(tool: &str) {
        let gzip = |p: &Path| compress(tool, p);
        let d = dir(&format!("{tool}-down"));
        let p = d.join("exim_mainlog");
        // An older day, compressed: it is not the one.
        append(&d.join("exim_mainlog-20261127"), "2024-05-01 old\n");
        gzip(&d.join("exim_mainlog-20261127"));
        append(&p, "2024-05-02 a\n2024-05-02 b\n");
        let mut t = Tailer::open(&p, None);
        assert_eq!(read(&mut t).len(), 2);
        let cp = t.checkpoint(Some(
            Position {
                generation: 0,
                offset: 13,
            }
            .pack(),
        ));
        drop(t);
        // Stopped: more lines, then rename, compress, and a new file.
        append(&p, "2024-05-02 c\n2024-05-02 d\n");
        std::fs::rename(&p, d.join("exim_mainlog-20261128")).unwrap();
        gzip(&d.join("exim_mainlog-20261128"));
        append(&p, "2024-05-03 e\n");
        let mut t = Tailer::open(&p, Some(cp));
        assert_eq!(
            read(&mut t),
            [
                "2024-05-02 b",
                "2024-05-02 c",
                "2024-05-02 d",
                "2024-05-03 e"
            ],
            "{tool}: {:?}",
            t.notes
        );
        // copytruncate with compress, while stopped.
        append(&p, "2024-05-03 f\n");
        assert_eq!(read(&mut t), ["2024-05-03 f"]);
        let cp = t.checkpoint(None);
        drop(t);
        append(&p, "2024-05-03 g\n");
        copytruncate(&p, &d.join("exim_mainlog.1"));
        gzip(&d.join("exim_mainlog.1"));
        append(&p, "2024-05-04 h\n");
        let mut t = Tailer::open(&p, Some(cp));
        assert_eq!(read(&mut t), ["2024-05-03 g", "2024-05-04 h"], "{tool}");
        // No temporary file is left behind (of this test's logs: others
        // run at the same time).
        let left = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(&format!("unlisted-rotated-{}-", std::process::id()))
                    && n.contains("-exim_mainlog")
            })
            .count();
        assert_eq!(left, 0);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn rotated_names_of_logrotate_and_exicyclog() {
        let d = dir("names");
        let p = d.join("mainlog");
        for n in [
            "mainlog.02.gz",
            "mainlog.01",
            "mainlog-20261128",
            "mainlog.bak",
            "mainlogs",
            "rejectlog.01",
        ] {
            append(&d.join(n), "x\n");
        }
        let names: Vec<String> = rotated_candidates(&p, false)
            .iter()
            .map(|c| c.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(&names[..3], ["mainlog.1", "mainlog.0", "mainlog-old"]);
        let mut found = names[3..].to_vec();
        found.sort();
        assert_eq!(found, ["mainlog-20261128", "mainlog.01"]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn logrotate_dateext_names_are_found_after_a_rotation_while_down() {
        // RHEL's logrotate (cPanel's servers) renames to `log-YYYYMMDD`;
        // older rotations, compressed ones and other logs lie beside it.
        let d = dir("dateext");
        let p = d.join("exim_mainlog");
        append(&d.join("exim_mainlog-20261120"), "old\n");
        append(&d.join("exim_mainlog-20261113.gz"), "not gzip\n");
        append(&d.join("exim_mainlogger"), "other\n");
        append(&p, "a\n");
        let mut t = Tailer::open(&p, None);
        assert_eq!(read(&mut t), ["a"]);
        append(&p, "b\n");
        let cp = t.checkpoint(None);
        drop(t);
        std::fs::rename(&p, d.join("exim_mainlog-20261128")).unwrap();
        append(&p, "c\n");
        let mut t = Tailer::open(&p, Some(cp));
        assert_eq!(read(&mut t), ["b", "c"]);
        assert!(t.notes.iter().all(|n| !n.contains("lost")), "{:?}", t.notes);

        // copytruncate to a dated copy while down: the rest is in the copy.
        append(&p, "d\n");
        assert_eq!(read(&mut t), ["d"]);
        let cp = t.checkpoint(None);
        drop(t);
        append(&p, "e\n");
        copytruncate(&p, &d.join("exim_mainlog-20261129"));
        append(&p, "f\n");
        let mut t = Tailer::open(&p, Some(cp));
        assert_eq!(read(&mut t), ["e", "f"]);
        std::fs::remove_dir_all(d).unwrap();
    }
}
