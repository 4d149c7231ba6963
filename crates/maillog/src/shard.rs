//! Splitting one log across threads.
//!
//! Every line that says something about a message names it by its id, so a
//! log can be cut by message: shard `k` of `n` assembles the messages whose
//! id hashes to `k` and skips the rest. One reader finds each line's id
//! (a few byte comparisons, [`Tagger`]); a shard reads only the lines
//! routed to it ([`Routed::steps`]).
//!
//! What a single thread would share between messages is given to every
//! shard: Exim's `cwd=` lines (a submission without `+pid` takes the latest
//! one), and a glance at other shards' `<=` lines while a `cwd=` line waits,
//! so each shard ties scripts to submissions exactly as one thread does.
//! Lines without a message (connections, rejections before a message,
//! other programs, garbage) change no message: the reader hands them to
//! the shards in turn, and each is counted by the one shard that reads
//! it, so the shards' counts add up to a single thread's (and no shard
//! reads a third of a Postfix log's lines more than the others).
//!
//! The reader also keeps the log's clock, as one thread would: it marks
//! where syslog dates (which write no year) move to a new year, which
//! every shard takes from it, and the lines where a new hour of log time
//! starts: every shard sweeps out
//! stale messages (three days without a line) at those lines, as one
//! thread does, even at a line it does not read. The shards' messages are merged back in the order one thread
//! hands them out with [`order_key`]: the result is the same, byte for
//! byte, as a single thread's.

use std::hash::{BuildHasher, BuildHasherDefault};

use rustc_hash::FxHasher;

use crate::message::Message;
use crate::{Format, LogParser, Stamp};

/// Where a line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A line of one message, owned by this shard. `arrival` marks an Exim
    /// `<=` line, which the other shards glance at (see the module text).
    Shard { shard: usize, arrival: bool },
    /// Exim's `cwd=` lines and failed logins of both: every shard keeps
    /// them; shard 0 counts them.
    Every,
    /// No message: one shard (the reader spreads these, [`Tagger`]; shard
    /// 0 takes those left so).
    First,
}

/// Routes lines of one format to `shards` shards.
#[derive(Debug, Clone, Copy)]
pub struct Router {
    format: Format,
    shards: usize,
}

impl Router {
    pub fn new(format: Format, shards: usize) -> Self {
        Router {
            format,
            shards: shards.max(1),
        }
    }

    pub fn route(&self, line: &[u8]) -> Route {
        let found = match self.format {
            Format::Exim => match crate::time::exim_stamp_len(line) {
                Some(used) => match exim_id(line, used) {
                    // Dovecot's own log may be stamped as Exim's.
                    None if crate::dovecot::maybe_failed_login(line) => Some(Key::Shared),
                    found => found,
                },
                None => return self.route_through_syslog(line),
            },
            Format::Postfix => match postfix_id(line) {
                // `warning: …` is shaped like a queue id.
                Some(Key::Id(b"warning", _)) => postfix_failed_login(line),
                // So is the level of Dovecot's own log (`imap-login: Info:
                // …`), which no queue id spells.
                Some(Key::Id(b"Info", _)) if crate::dovecot::maybe_failed_login(line) => {
                    Some(Key::Shared)
                }
                // Where the line it repeats goes ([`crate::syslog_repeat`]).
                None => match crate::syslog_repeat(line) {
                    Some((copy, _)) => return self.route(&copy),
                    // Every shard keeps failed logins, Dovecot's too.
                    None if crate::dovecot::maybe_failed_login(line) => Some(Key::Shared),
                    None => None,
                },
                found => found,
            },
        };
        self.route_key(found)
    }

    fn route_key(&self, found: Option<Key<'_>>) -> Route {
        match found {
            Some(Key::Id(id, arrival)) => Route::Shard {
                shard: self.shard_of(id),
                arrival,
            },
            Some(Key::Shared) => Route::Every,
            None => Route::First,
        }
    }

    /// An Exim line through syslog: cut as the parser cuts it
    /// ([`crate::exim::parse_head_in`]; the year does not move the cut).
    fn route_through_syslog(&self, line: &[u8]) -> Route {
        if let Some((copy, _)) = crate::syslog_repeat(line) {
            return self.route(&copy);
        }
        let text = crate::utf8(line);
        let text = text.trim_end_matches('\r');
        let rest = crate::exim::parse_head_in(text, 2000).map(|h| h.rest.as_bytes());
        match rest {
            None if crate::dovecot::maybe_failed_login(line) => Route::Every,
            _ => self.route_key(rest.and_then(exim_key)),
        }
    }

    fn shard_of(&self, id: &[u8]) -> usize {
        let h = BuildHasherDefault::<FxHasher>::default().hash_one(id);
        // The high bits of an Fx hash are the well-mixed ones.
        ((h >> 32) % self.shards as u64) as usize
    }
}

enum Key<'a> {
    Id(&'a [u8], bool),
    /// A line every shard keeps: a `cwd=` line, or a failed login (the
    /// next login of its user may be any shard's message).
    Shared,
}

/// The message id of an Exim line whose stamp is `used` bytes long, and
/// whether it is a `<=` line, or that it is a `cwd=` line. Mirrors
/// [`crate::exim::parse_head`]: stamp, optional `[pid]`, then the id.
fn exim_id(b: &[u8], used: usize) -> Option<Key<'_>> {
    let mut rest = b.get(used..)?.strip_prefix(b" ")?;
    if let Some(r) = rest.strip_prefix(b"[") {
        let end = crate::fields::find_byte(r, 0, b']');
        rest = r.get(end + 1..)?.strip_prefix(b" ")?;
    }
    exim_key(rest)
}

/// What the text after an Exim line's stamp and `[pid]` starts with.
fn exim_key(rest: &[u8]) -> Option<Key<'_>> {
    if let Some(r) = rest.strip_prefix(b"cwd=") {
        // Exim running itself (a delivery's `-Mc`, a queue run) ties no
        // submission to a script: no shard needs it, and shard 0 counts it
        // as it counts any line without a message.
        return (!cwd_of_exim_itself(r)).then_some(Key::Shared);
    }
    let end = crate::fields::find_byte(rest, 0, b' ');
    let id = &rest[..end];
    // The shape is enough here: a word of that shape that is no id makes
    // a line with no message, which its one owner counts like any other.
    let shaped = match id.len() {
        16 => id[6] == b'-' && id[13] == b'-',
        23 => id[6] == b'-' && id[18] == b'-',
        _ => false,
    };
    if !shaped {
        return exim_failed_login(rest).then_some(Key::Shared);
    }
    let flag = rest.get(end + 1..end + 3);
    let arrival =
        matches!(flag, Some(b"<=") | Some(b"(=")) && rest.get(end + 3).is_none_or(|&c| c == b' ');
    Some(Key::Id(id, arrival))
}

/// Is an Exim line without a message a failed login, as
/// [`crate::exim::parse_event`] finds it?
fn exim_failed_login(rest: &[u8]) -> bool {
    static FAILED: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(" authenticator failed for "));
    FAILED.find(rest).is_some()
}

/// After `cwd=`: is it Exim running itself? The arguments as
/// [`crate::exim::parse_event`] finds them.
fn cwd_of_exim_itself(r: &[u8]) -> bool {
    let find = |needle: &[u8]| crate::fields::find_short(r, needle);
    let Some(marker) = find(b" args: ").or_else(|| find(b" args:")) else {
        return false;
    };
    let args = &r[marker + b" args:".len()..];
    let skip = args.iter().take_while(|&&c| c == b' ').count();
    crate::assemble::exim_runs_itself(&args[skip..])
}

/// Is `b` an Exim message id: 16 bytes `6-6-2` or (4.97+) 23 bytes
/// `6-11-4`?
pub(crate) fn is_exim_id(b: &[u8]) -> bool {
    // Every line's first word is asked: a table says which bytes may be
    // in an id, with no test chain per byte.
    static ALNUM: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            t[c] = (c as u8).is_ascii_alphanumeric();
            c += 1;
        }
        t
    };
    let ok = |r: &[u8]| r.iter().fold(true, |all, &c| all & ALNUM[c as usize]);
    match b.len() {
        16 => b[6] == b'-' && b[13] == b'-' && ok(&b[..6]) && ok(&b[7..13]) && ok(&b[14..]),
        23 => b[6] == b'-' && b[18] == b'-' && ok(&b[..6]) && ok(&b[7..18]) && ok(&b[19..]),
        _ => false,
    }
}

/// The queue id of a Postfix line: the word between the first `": "` (end
/// of the program tag) and the next, as [`crate::postfix::parse`] finds it.
fn postfix_id(b: &[u8]) -> Option<Key<'_>> {
    let tag_end = colon_space(b)?;
    let text = &b[tag_end + 2..];
    let end = colon_space(text)?;
    let id = &text[..end];
    (!id.is_empty()
        && id.len() <= 20
        && id.iter().all(u8::is_ascii_alphanumeric)
        && id != b"NOQUEUE")
        .then_some(Key::Id(id, false))
}

/// A Postfix line without a queue id that is a failed login (`warning:
/// unknown[198.51.100.7]: SASL LOGIN authentication failed: …`), as
/// [`crate::postfix::parse`] finds it.
fn postfix_failed_login(b: &[u8]) -> Option<Key<'static>> {
    crate::postfix::is_failed_login(&b[colon_space(b)? + 2..]).then_some(Key::Shared)
}

/// The first `": "` (a stamp's colons and a short tag come first: less
/// set-up per call than memchr).
fn colon_space(b: &[u8]) -> Option<usize> {
    crate::fields::find_short(b, b": ")
}

/// The reader's side of a split run: routes every line of a chunk and
/// keeps the log's clock.
pub struct Tagger {
    router: Router,
    clock: LogParser,
    /// Where the first part of each Exim line split for syslog went, by
    /// its pid: the other parts go there too ([`crate::exim::Part`]).
    parts: rustc_hash::FxHashMap<Option<u32>, Route>,
    /// The shard the last line without a message went to.
    spread: usize,
}

/// The lines of one chunk of whole lines, as [`Tagger::tag`] found them.
#[derive(Debug, Default, Clone)]
pub struct Routed {
    /// Each line's end (its newline, or the chunk's end for a last line
    /// without one) and where it goes.
    lines: Vec<(u32, Route)>,
    /// Lines (by index) that start a new hour of log time, with its time.
    hours: Vec<(u32, Stamp)>,
    /// Lines (by index) from which syslog dates, which write no year, are
    /// read in another year ([`Routed::feed`]).
    years: Vec<(u32, i64)>,
    /// Lines (by index) whose wall time lies in an hour the zone repeats,
    /// with the UTC time the reader settled ([`LogParser::fold_hint`]).
    folds: Vec<(u32, Stamp)>,
}

impl Tagger {
    /// `year` as for [`LogParser::new`]; `zone` as the shards'
    /// [`LogParser::set_zone`].
    pub fn new(format: Format, shards: usize, year: i64, zone: crate::time::Zone) -> Self {
        let mut clock = LogParser::new(Some(format), year);
        clock.set_zone(zone);
        Tagger {
            router: Router::new(format, shards),
            clock,
            parts: Default::default(),
            spread: 0,
        }
    }

    /// A line without a message goes to the shards in turn: it changes no
    /// shard's messages, only the counts, which add up the same.
    fn spread(&mut self, route: Route) -> Route {
        if route != Route::First {
            return route;
        }
        self.spread = (self.spread + 1) % self.router.shards;
        Route::Shard {
            shard: self.spread,
            arrival: false,
        }
    }

    /// Where a line goes; the parts of an Exim line split for syslog all
    /// go where its first part, which names the message, goes.
    fn route(&mut self, line: &[u8]) -> Route {
        if self.router.format != Format::Exim {
            let r = self.router.route(line);
            return self.spread(r);
        }
        if let Some(used) = crate::time::exim_stamp_len(line) {
            let r = self.router.route_key(exim_id(line, used));
            return self.spread(r);
        }
        let text = crate::utf8(line);
        let Some(p) = crate::exim::syslog_part(text.trim_end_matches('\r')) else {
            let r = self.router.route_through_syslog(line);
            return self.spread(r);
        };
        if p.i == 1 {
            // The first part, cut as the parser cuts the joined line.
            let first = [p.head, p.text].concat();
            let rest = crate::exim::parse_head_in(&first, 2000).map(|h| h.rest.as_bytes());
            let route = self.router.route_key(rest.and_then(exim_key));
            // Every part where the first goes.
            let route = self.spread(route);
            if self.parts.len() >= crate::MAX_JOINING {
                self.parts.clear();
            }
            self.parts.insert(p.pid, route);
            return route;
        }
        // A part whose first was not read: shard 0, as one thread would
        // meet it after the others of its kind.
        let route = self.parts.get(&p.pid).copied().unwrap_or(Route::First);
        if p.i == p.n {
            self.parts.remove(&p.pid);
        }
        route
    }

    /// Splits `data` (whole lines; the last may lack its newline) into
    /// lines, routes each, and marks the new hours.
    pub fn tag(&mut self, data: &[u8], into: &mut Routed) {
        into.lines.clear();
        into.hours.clear();
        into.years.clear();
        into.folds.clear();
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', data)
            .chain((!data.is_empty() && !data.ends_with(b"\n")).then_some(data.len()));
        for end in ends {
            let line = crate::after_hole(&data[start..end]);
            start = end + 1;
            let route = self.route(line);
            let year = self.clock.year;
            if let Some(at) = self.clock.clock(line, route) {
                into.hours.push((into.lines.len() as u32, at));
            }
            if self.clock.year != year {
                into.years.push((into.lines.len() as u32, self.clock.year));
            }
            if let Some(at) = self.clock.fold() {
                into.folds.push((into.lines.len() as u32, at));
            }
            into.lines.push((end as u32, route));
        }
    }
}

/// One thing shard `k` does with a chunk ([`Routed::steps`]). `line` is
/// the line's index in the chunk; `start..end` its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A line of this shard: [`LogParser::line_at`].
    Own {
        line: usize,
        start: usize,
        end: usize,
    },
    /// A line every shard glances at: [`LogParser::peek`].
    Peek {
        line: usize,
        start: usize,
        end: usize,
        route: Route,
    },
    /// A new hour of log time starts at `line`: [`LogParser::sweep_at`],
    /// after that line and before the next.
    Sweep { line: usize, at: Stamp },
}

impl Routed {
    /// Lines in the chunk.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The UTC time the reader settled for line `line` when its wall time
    /// lies in a repeated hour: give it to [`LogParser::fold_hint`] before
    /// the line.
    pub fn fold_at(&self, line: usize) -> Option<Stamp> {
        if self.folds.is_empty() {
            return None;
        }
        let i = self
            .folds
            .binary_search_by_key(&(line as u32), |f| f.0)
            .ok()?;
        Some(self.folds[i].1)
    }

    /// What shard `k` does with the chunk, in order.
    pub fn steps(&self, k: usize) -> Steps<'_> {
        Steps {
            r: self,
            k,
            line: 0,
            start: 0,
            hour: 0,
        }
    }
}

impl Routed {
    /// Shard `k`'s part of the chunk `data` (which starts at `offset` in
    /// its file), fed to its `parser` as the shard's thread does: its own
    /// lines, the lines it glances at, the sweeps the reader marked.
    /// `place` names a line (by its index in the chunk) for the summary;
    /// `out` gets each message with the index of the line that handed it
    /// out; `after_own` sees the parser after each of its own lines.
    #[allow(clippy::too_many_arguments)] // one shard's thread, its chunk and its three callbacks
    pub fn feed(
        &self,
        k: usize,
        parser: &mut LogParser,
        data: &[u8],
        offset: u64,
        place: impl Fn(usize) -> String,
        out: &mut impl FnMut(usize, Message),
        after_own: &mut impl FnMut(&LogParser, usize),
    ) {
        // The year of syslog dates is the reader's, which saw every line
        // before this one, as one thread would have: a shard that saw a
        // few could find a jump back of months where there was none.
        parser.year_given = true;
        let mut next = 0;
        let mut year_at = |parser: &mut LogParser, line: usize| {
            while let Some(&(from, year)) = self.years.get(next)
                && from as usize <= line
            {
                parser.year = year;
                next += 1;
            }
        };
        for step in self.steps(k) {
            match step {
                Step::Sweep { line, at } => parser.sweep_at(at, &mut |m| out(line, m)),
                Step::Peek {
                    line,
                    start,
                    end,
                    route,
                } => {
                    year_at(parser, line);
                    if let Some(at) = self.fold_at(line) {
                        parser.fold_hint(at);
                    }
                    parser.peek(&data[start..end], route)
                }
                Step::Own { line, start, end } => {
                    year_at(parser, line);
                    if let Some(at) = self.fold_at(line) {
                        parser.fold_hint(at);
                    }
                    let at = offset + start as u64;
                    parser.line_at(&data[start..end], at, || place(line), &mut |m| out(line, m));
                    after_own(parser, line);
                }
            }
        }
        // Changes after this shard's last line hold for the next chunk.
        year_at(parser, usize::MAX);
    }
}

/// The iterator of [`Routed::steps`].
pub struct Steps<'a> {
    r: &'a Routed,
    k: usize,
    line: usize,
    start: usize,
    hour: usize,
}

impl Iterator for Steps<'_> {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        loop {
            // A new hour at an earlier line (or any left after the last).
            if let Some(&(h, at)) = self.r.hours.get(self.hour)
                && (h as usize) < self.line
            {
                self.hour += 1;
                return Some(Step::Sweep {
                    line: h as usize,
                    at,
                });
            }
            let &(end, route) = self.r.lines.get(self.line)?;
            let (line, start, end) = (self.line, self.start, end as usize);
            self.line += 1;
            self.start = end + 1;
            let own = match route {
                Route::Shard { shard, .. } => shard == self.k,
                Route::Every | Route::First => self.k == 0,
            };
            if own {
                return Some(Step::Own { line, start, end });
            }
            if matches!(route, Route::Every | Route::Shard { arrival: true, .. }) {
                return Some(Step::Peek {
                    line,
                    start,
                    end,
                    route,
                });
            }
        }
    }
}

/// The order in which messages handed out by several shards are merged:
/// by the line that handed them out (`emitted_at`, its position in the
/// input; `u64::MAX` for the end of input), a message completed by that
/// line before the stale ones its sweep handed out, then as
/// [`crate::assemble::oldest_first`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrderKey {
    emitted_at: u64,
    incomplete: bool,
    received: crate::Stamp,
    offset: u64,
    id: crate::assemble::Id,
}

pub fn order_key(emitted_at: u64, m: &Message) -> OrderKey {
    OrderKey {
        emitted_at,
        incomplete: !m.complete,
        received: m.received,
        offset: m.offset,
        id: crate::assemble::Id::of(&m.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(r: Route) -> Option<(usize, bool)> {
        match r {
            Route::Shard { shard, arrival } => Some((shard, arrival)),
            _ => None,
        }
    }

    #[test]
    fn exim_lines_of_one_message_go_to_one_shard() {
        let r = Router::new(Format::Exim, 7);
        let lines = [
            "2024-01-01 00:00:02 1r71Lh-fe8L6H-LV <= a@b.example U=a P=local S=1 T=\"x => y\" for r@c.example",
            "2024-01-01 00:00:02.123 [4242] 1r71Lh-fe8L6H-LV => r@c.example R=x T=y",
            "2024-01-01 00:00:02 +0100 1r71Lh-fe8L6H-LV Completed",
        ];
        let got: Vec<_> = lines.iter().map(|l| shard(r.route(l.as_bytes()))).collect();
        let s = got[0].unwrap().0;
        assert_eq!(got, [Some((s, true)), Some((s, false)), Some((s, false))]);
        assert_eq!(
            r.route(b"2024-01-01 00:00:02 cwd=/home/a/public_html 3 args: sendmail -t"),
            Route::Every
        );
        assert_eq!(
            r.route(
                b"2024-01-01 00:00:02 [77] cwd=/var/spool/exim 3 args: exim -odi -f a@b.example"
            ),
            Route::Every
        );
        // Exim delivering a spooled message: no shard needs it.
        assert_eq!(
            r.route(b"2024-01-01 00:00:02 [77] cwd=/var/spool/exim 3 args: exim -Mc x"),
            Route::First
        );
        assert_eq!(
            r.route(b"2024-01-01 00:00:02 cwd=/var/spool/exim 2 args:   /usr/sbin/exim -q1h"),
            Route::First
        );
        for l in [
            "2024-01-01 00:00:02 SMTP connection from [198.51.100.1]:1234 lost",
            "2024-01-01 00:00:02 1r71Lh-fe8L6 <= truncated id",
            "garbage",
            "",
        ] {
            assert_eq!(r.route(l.as_bytes()), Route::First, "{l}");
        }
    }

    #[test]
    fn lines_without_a_message_go_to_the_shards_in_turn() {
        let mut t = Tagger::new(Format::Postfix, 3, 2024, crate::time::Zone::as_written());
        let mut r = Routed::default();
        let mut log = String::new();
        for i in 0..6 {
            log.push_str(&format!(
                "Jan  1 00:00:0{i} mx postfix/smtpd[1]: connect from unknown[198.51.100.{i}]\n"
            ));
        }
        t.tag(log.as_bytes(), &mut r);
        let shards: Vec<_> = r.lines.iter().map(|(_, route)| shard(*route)).collect();
        assert_eq!(
            shards,
            [1, 2, 0, 1, 2, 0].map(|s| Some((s, false))),
            "each shard reads every third"
        );
        // Each line is read by exactly one shard.
        for line in 0..6 {
            let owners = (0..3)
                .filter(|&k| {
                    r.steps(k)
                        .any(|s| matches!(s, Step::Own { line: l, .. } if l == line))
                })
                .count();
            assert_eq!(owners, 1, "line {line}");
        }

        // The parts of an Exim line split for syslog that names no
        // message all go where its first part goes.
        let mut t = Tagger::new(Format::Exim, 3, 2024, crate::time::Zone::as_written());
        let long = "x".repeat(40);
        let log = format!(
            "May  1 00:00:00 web exim[7]: [1/2] 2024-05-01 00:00:00 H=(a) [198.51.100.1] rejected RCPT {long}\n\
             May  1 00:00:00 web exim[8]: 2024-05-01 00:00:00 SMTP connection from [198.51.100.2] lost\n\
             May  1 00:00:00 web exim[7]: [2/2] {long}\n"
        );
        t.tag(log.as_bytes(), &mut r);
        let routes: Vec<_> = r.lines.iter().map(|(_, route)| *route).collect();
        assert_eq!(routes[0], routes[2], "{routes:?}");
        assert_ne!(routes[0], routes[1], "{routes:?}");
    }

    #[test]
    fn postfix_lines_route_by_queue_id() {
        let r = Router::new(Format::Postfix, 5);
        let a = r.route(b"Jan  1 00:00:00 mx postfix/submission/smtpd[31312]: 10000001: client=unknown[198.51.49.117]");
        let b =
            r.route(b"2026-01-01T00:00:00.123456+01:00 mx postfix/qmgr[999]: 10000001: removed");
        assert_eq!(a, b);
        assert!(shard(a).is_some());
        for l in [
            "Jan  1 00:00:00 mx postfix/smtpd[1]: connect from unknown[198.51.49.117]",
            "Jan  1 00:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[1.2.3.4]: 554 no",
            "not syslog",
        ] {
            assert_eq!(r.route(l.as_bytes()), Route::First, "{l}");
        }
    }

    #[test]
    fn a_repeated_line_goes_where_the_line_it_repeats_goes() {
        let r = Router::new(Format::Postfix, 5);
        let head = "Jan  1 00:00:00 mx postfix/smtp[7]: ";
        let to = "10000001: to=<a@b.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (connect refused)";
        assert_eq!(
            r.route(format!("{head}message repeated 2 times: [ {to}]").as_bytes()),
            r.route(format!("{head}{to}").as_bytes())
        );
        let fail = "warning: unknown[198.51.100.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6";
        assert_eq!(
            r.route(format!("{head}message repeated 2 times: [ {fail}]").as_bytes()),
            Route::Every
        );
        let e = Router::new(Format::Exim, 5);
        let head = "Nov 29 06:52:22 vm exim[26023]: ";
        let fail = "2026-11-29 06:52:22 plain authenticator failed for (bot) [127.0.60.1]:41329: 535 Incorrect authentication data (set_id=info@shop.example)";
        assert_eq!(
            e.route(format!("{head}message repeated 7 times: [ {fail}]").as_bytes()),
            Route::Every
        );
    }

    #[test]
    fn every_shard_reads_the_failed_logins_and_gives_each_login_what_one_parser_gives() {
        let exim_fail = |t: &str, ip: u32| {
            format!(
                "2024-05-01 {t} [77] dovecot_login authenticator failed for (x) [198.51.100.{ip}]:5: 535 Incorrect authentication data (set_id=info@shop.example)\n"
            )
        };
        let postfix_fail = |t: &str, ip: u32| {
            format!(
                "May  1 {t} mx postfix/smtpd[77]: warning: unknown[198.51.100.{ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=info@shop.example\n"
            )
        };
        let times: Vec<String> = (0..40)
            .map(|i| format!("10:{:02}:{:02}", i / 2, (i % 2) * 30))
            .collect();
        let (exim, postfix) =
            failures_and_logins(&times, |t, i| (exim_fail(t, i % 5), postfix_fail(t, i % 5)));
        // Four more failures before each login, from at most 5 addresses.
        let each: Vec<_> = (1..=10u32)
            .map(|k| Some((4 * k, if k == 1 { 4 } else { 5 })))
            .collect();
        logins_count_as_one_parser_counts(Format::Exim, &exim, &exim_fail("10:00:00", 1), &each);
        logins_count_as_one_parser_counts(
            Format::Postfix,
            &postfix,
            &postfix_fail("10:00:00", 1),
            &each,
        );
        // Other warnings carry no login: one shard, as before.
        let other = b"May  1 10:00:00 mx postfix/smtpd[77]: warning: hostname x does not resolve to address 198.51.100.1";
        assert!(!matches!(
            Router::new(Format::Postfix, 3).route(other),
            Route::Every
        ));
    }

    #[test]
    fn dovecots_failed_logins_in_the_mail_log_count_as_one_parser_counts_them() {
        // Guessed over IMAP, two attempts a line, then logins over SMTP.
        let dovecot = |t: &str, ip: u32| {
            format!(
                "May  1 {t} mx dovecot: imap-login: Disconnected: Connection closed (auth failed, 2 attempts in 4 secs): user=<Info@shop.example>, method=PLAIN, rip=198.51.100.{ip}, lip=192.0.2.1, session=<s{t}>\n"
            )
        };
        let times: Vec<String> = (0..20).map(|i| format!("10:{i:02}:00")).collect();
        let (exim, postfix) =
            failures_and_logins(&times, |t, i| (dovecot(t, i % 5), dovecot(t, i % 5)));
        let each = [(8, 4), (16, 5), (24, 5), (32, 5), (40, 5)].map(Some);
        let fail = dovecot("10:00:00", 1);
        logins_count_as_one_parser_counts(Format::Exim, &exim, &fail, &each);
        logins_count_as_one_parser_counts(Format::Postfix, &postfix, &fail, &each);
    }

    /// `fail` goes to every shard, and three shards give each login of
    /// `log` the failures before it (`each`: count, addresses) that one
    /// parser gives.
    fn logins_count_as_one_parser_counts(
        format: Format,
        log: &str,
        fail: &str,
        each: &[Option<(u32, u32)>],
    ) {
        assert_eq!(
            Router::new(format, 3).route(fail.trim_end().as_bytes()),
            Route::Every
        );
        let (one, split) = one_and_split(format, log, 3);
        assert_eq!(one, split, "{format:?}");
        let counts: Vec<_> = one.iter().map(|m| m.1).collect();
        assert_eq!(counts, each, "{format:?}");
    }

    /// An Exim and a Postfix log: at each of `times`, the failure lines
    /// `fail` gives for it (Exim's, Postfix's) and, after every fourth,
    /// a login of info@shop.example on a message of its own, whichever
    /// shard it hashes to.
    fn failures_and_logins(
        times: &[String],
        fail: impl Fn(&str, u32) -> (String, String),
    ) -> (String, String) {
        let (mut exim, mut postfix) = (String::new(), String::new());
        for (i, t) in (0u32..).zip(times) {
            let (e, p) = fail(t, i);
            exim += &e;
            postfix += &p;
            if i % 4 == 3 {
                let id = format!("1r{i:03}x-0001PZ-En");
                exim += &format!(
                    "2024-05-01 {t} {id} <= info@shop.example H=(x) [192.0.2.8]:3 P=esmtpa A=dovecot_login:info@shop.example S=10 for a@example.net\n2024-05-01 {t} {id} Completed\n"
                );
                let q = format!("{:X}", 0x1000_0000 + i * 7919);
                postfix += &format!(
                    "May  1 {t} mx postfix/smtpd[78]: {q}: client=h[192.0.2.8], sasl_method=LOGIN, sasl_username=info@shop.example\nMay  1 {t} mx postfix/qmgr[3]: {q}: removed\n"
                );
            }
        }
        (exim, postfix)
    }

    #[test]
    fn ids_spread_over_shards() {
        let r = Router::new(Format::Postfix, 2);
        let mut n = [0u32; 2];
        for i in 0..10_000u32 {
            let l = format!(
                "Jan  1 00:00:00 mx postfix/qmgr[9]: {:X}: removed",
                0x1000_0000 + i
            );
            n[shard(r.route(l.as_bytes())).unwrap().0] += 1;
        }
        assert!(n.iter().all(|&c| c > 4_500), "{n:?}");
    }

    /// The messages handed out by one parser and by `n` shards fed by a
    /// tagger (in two chunks, as a reader sends them), each with the line
    /// that handed it out, in merge order.
    type Out = Vec<(u64, Option<(u32, u32)>, String, bool, i64)>;

    fn failed(m: &Message) -> Option<(u32, u32)> {
        m.failed_logins.as_ref().map(|f| (f.count, f.ips))
    }

    fn one_and_split(format: Format, log: &str, n: usize) -> (Out, Out) {
        split_in(format, log, n, crate::time::Zone::as_written())
    }

    /// [`one_and_split`] reading wall times in `zone`.
    fn split_in(format: Format, log: &str, n: usize, zone: crate::time::Zone) -> (Out, Out) {
        let mut one = Vec::new();
        let mut p = LogParser::new(Some(format), 2024);
        p.set_zone(zone.clone());
        let mut offset = 0;
        for (i, l) in log.lines().enumerate() {
            let at = i as u64 + 1;
            p.line_at(l.as_bytes(), offset, String::new, &mut |m| {
                one.push((at, failed(&m), m.id, m.complete, m.received.secs))
            });
            offset += l.len() as u64 + 1;
        }
        p.finish(&mut |m| one.push((u64::MAX, failed(&m), m.id, m.complete, m.received.secs)));

        let half = log.as_bytes()[..log.len() / 2]
            .iter()
            .rposition(|&b| b == b'\n')
            .unwrap()
            + 1;
        let mut tagger = Tagger::new(format, n, 2024, zone.clone());
        let chunks: Vec<(usize, Routed)> = [&log[..half], &log[half..]]
            .iter()
            .scan(0, |before, c| {
                let mut r = Routed::default();
                tagger.tag(c.as_bytes(), &mut r);
                let first = *before;
                *before += r.len();
                Some((first, r))
            })
            .collect();
        let mut split = Vec::new();
        for k in 0..n {
            let mut p = LogParser::new(Some(format), 2024);
            p.set_zone(zone.clone());
            let mut base = 0;
            for (c, (first, routed)) in chunks.iter().enumerate() {
                let data = if c == 0 { &log[..half] } else { &log[half..] }.as_bytes();
                let global = |j: usize| (first + j) as u64 + 1;
                let mut out = |at: u64, m: Message| {
                    split.push((
                        order_key(at, &m),
                        (at, failed(&m), m.id, m.complete, m.received.secs),
                    ))
                };
                routed.feed(
                    k,
                    &mut p,
                    data,
                    base,
                    |_| String::new(),
                    &mut |line, m| out(global(line), m),
                    &mut |_, _| {},
                );
                base += data.len() as u64;
            }
            p.finish(&mut |m| {
                split.push((
                    order_key(u64::MAX, &m),
                    (u64::MAX, failed(&m), m.id, m.complete, m.received.secs),
                ))
            });
        }
        split.sort_by_key(|(key, _)| *key);
        (one, split.into_iter().map(|(_, m)| m).collect())
    }

    /// Messages left open for days (deferred, never completed) next to
    /// busy ones, a line every 17 minutes over six days.
    fn days_of(format: Format) -> String {
        let mut log = String::new();
        for i in 0..500u32 {
            let t = 1_704_067_200 + i as i64 * 17 * 60;
            let stamp = crate::Stamp { secs: t, millis: 0 }.iso();
            let (date, time) = (&stamp[..10], &stamp[11..19]);
            // Deliveries eight minutes later: a new hour may start at any
            // kind of line.
            let later = crate::Stamp {
                secs: t + 8 * 60,
                millis: 0,
            }
            .iso()
            .replace('T', " ");
            let line = match format {
                Format::Exim => {
                    let id = format!("1r{:04}-{:06}-{:02}", i, i * 7, i % 100);
                    let mut l = format!(
                        "{date} {time} {id} <= a{}@b.example U=a{} P=local S=1 for c@d.example\n",
                        i % 9,
                        i % 9
                    );
                    l += &if i % 4 == 0 {
                        format!(
                            "{later} {id} == c@d.example R=x T=remote_smtp defer (-44): 421 later\n"
                        )
                    } else {
                        format!(
                            "{later} {id} => c@d.example R=x T=remote_smtp\n{later} {id} Completed\n"
                        )
                    };
                    l
                }
                Format::Postfix => {
                    const MONTHS: [&str; 12] = [
                        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                        "Nov", "Dec",
                    ];
                    let month = MONTHS[date[5..7].parse::<usize>().unwrap() - 1];
                    let head = format!(
                        "{month} {:>2} {time} mx",
                        date[8..10].parse::<u32>().unwrap()
                    );
                    let q = format!("{:X}", 0x1000_0000 + i);
                    let mut l = format!(
                        "{head} postfix/pickup[1]: {q}: uid=100{} from=<a@b.example>\n{head} postfix/qmgr[2]: {q}: from=<a@b.example>, size=1, nrcpt=1 (queue active)\n",
                        i % 9
                    );
                    l += &if i % 4 == 0 {
                        format!(
                            "{head} postfix/smtp[3]: {q}: to=<c@d.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (connect timed out)\n"
                        )
                    } else {
                        format!(
                            "{head} postfix/smtp[3]: {q}: to=<c@d.example>, relay=x[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 ok)\n{head} postfix/qmgr[2]: {q}: removed\n"
                        )
                    };
                    l
                }
            };
            log += &line;
        }
        log
    }

    #[test]
    fn shards_hand_out_what_one_parser_does_at_the_same_lines() {
        for format in [Format::Exim, Format::Postfix] {
            let log = days_of(format);
            let (one, split) = one_and_split(format, &log, 3);
            // Most deferred messages go stale days later, swept at lines
            // of other shards.
            let swept = one
                .iter()
                .filter(|(at, _, _, done, _)| !done && *at != u64::MAX)
                .count();
            assert!(swept > 50, "{format:?}: {swept} swept");
            assert_eq!(one.len(), 500, "{format:?}");
            assert_eq!(one, split, "{format:?}");
        }
    }

    /// An Exim main log line as Exim sends it through syslog: with its
    /// own stamp (`syslog_timestamp`, the default) or without.
    fn through_syslog(line: &str, keep_stamp: bool, pid: u32) -> String {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS[line[5..7].parse::<usize>().unwrap() - 1];
        let day: u32 = line[8..10].parse().unwrap();
        let text = if keep_stamp { line } else { &line[20..] };
        format!("{month} {day:>2} {} mx exim[{pid}]: {text}", &line[11..19])
    }

    #[test]
    fn shards_agree_with_one_parser_on_exim_through_syslog() {
        // Exim's lines through syslog, with and without its own stamp,
        // among other programs' lines: the same messages as the main log.
        let log = days_of(Format::Exim);
        let mut syslog = String::new();
        let other = |l: &str| {
            through_syslog(l, true, 1).replace("exim[1]", "dovecot[1]")
                + " imap-login: Login: user=<a>\n"
        };
        for (i, l) in log.lines().enumerate() {
            if i % 5 == 0 {
                syslog += &other(l);
            }
            let whole = through_syslog(l, i % 2 == 0, 100 + i as u32);
            // Exim marks only lines it splits: one part is no `[1/1]`.
            if i % 3 != 0 || whole.len() - whole.find("]: ").unwrap() <= 48 {
                syslog += &whole;
                syslog.push('\n');
                continue;
            }
            // Split as Exim splits a line too long for syslog: at 870
            // characters, here at 45, still past the message id and flag
            // (which the first part always holds); another program's line
            // between parts.
            let (head, text) = whole.split_at(whole.find("]: ").unwrap() + 3);
            let chunks: Vec<&str> = text
                .as_bytes()
                .chunks(45)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            for (k, c) in chunks.iter().enumerate() {
                syslog += &format!("{head}[{}/{}] {c}\n", k + 1, chunks.len());
                if k == 0 {
                    syslog += &other(l);
                }
            }
        }
        let (main, _) = one_and_split(Format::Exim, &log, 1);
        let (one, split) = one_and_split(Format::Exim, &syslog, 3);
        assert_eq!(one.len(), 500);
        assert_eq!(one, split);
        let messages = |o: &Out| {
            o.iter()
                .map(|(_, _, id, complete, at)| (id.clone(), *complete, *at))
                .collect::<Vec<_>>()
        };
        assert_eq!(messages(&one), messages(&main));

        // Parts gone astray: a last part whose first was never written,
        // a first part whose last never comes, a part out of order, and
        // lines cut short. Split runs still hand out what one thread does.
        let mut astray = String::new();
        for (i, l) in syslog.lines().enumerate() {
            match i % 17 {
                3 => astray += &format!("Jan  1 00:00:00 mx exim[{i}]: [2/2] the end of nothing\n"),
                7 => {
                    astray += &format!(
                        "Jan  1 00:00:00 mx exim[{i}]: [1/3] 2024-01-01 00:00:00 1r9999-999999-{:02} <= x@y.example\n",
                        i % 100
                    )
                }
                11 => astray += &format!("Jan  1 00:00:00 mx exim[{i}]: [3/2] nonsense\n"),
                13 => {
                    astray += &l[..l.len() / 2];
                    astray.push('\n');
                }
                _ => {}
            }
            astray += l;
            astray.push('\n');
        }
        let (one, split) = one_and_split(Format::Exim, &astray, 3);
        assert_eq!(one, split);
    }

    #[test]
    fn shards_agree_with_one_parser_on_a_log_full_of_garbage() {
        // Garbage, and lines cut short (a crash mid-write), among the
        // lines of days of messages: the split run hands out what one
        // parser does, at the same lines.
        for format in [Format::Exim, Format::Postfix] {
            let log = days_of(format);
            let mut dirty = String::new();
            for (i, l) in log.lines().enumerate() {
                dirty += l;
                dirty.push('\n');
                if i % 3 == 0 {
                    dirty += "garbage \u{fffd} => \"\n";
                }
                if i % 7 == 0 {
                    dirty += &l[..l.len() / 2];
                    dirty.push('\n');
                }
            }
            let (one, split) = one_and_split(format, &dirty, 3);
            assert_eq!(one.len(), 500, "{format:?}");
            assert_eq!(one, split, "{format:?}");
        }
    }

    /// 2, 3 and 4 shards hand out what one parser does on `log`.
    fn agrees_split_any_way(format: Format, log: &str) {
        for n in 2..=4 {
            let (one, split) = one_and_split(format, log, n);
            assert_eq!(one, split, "{n} shards");
        }
    }

    #[test]
    fn shards_agree_with_one_parser_when_the_time_jumps() {
        // Found by fuzzing (fuzz/fuzz_targets/split_same.rs): a message
        // seen again after the log's time jumped a year and back.
        let log = "\n2025-02-14 18:12:33 \n2025-02-14 18:12:33 -0500 \n2024-01-01 00:00:02 1r71Lh-fe86LH-LV <=\n2025-02-14 18:12:33 -0500 \n2024-01-01 00:00:02 1r71Lh-fe86LH-LV <=";
        agrees_split_any_way(Format::Exim, log);
    }

    #[test]
    fn shards_agree_with_one_parser_on_what_a_failed_login_is() {
        // Found by fuzzing: a line that names SASL and a failed
        // authentication but is no `warning:`, before a login from the
        // same address. One parser took it for a failed login; the
        // router, rightly, did not.
        let log = "Mar  1 10:00:00  postfix: [198.51.100.81]SASLauthentication failed\nMar  1 10:00:01  postfix/smtpd: BA7FD: client=[198.51.100.81] sasl_username=";
        agrees_split_any_way(Format::Postfix, log);
    }

    #[test]
    fn shards_take_no_time_from_dovecots_lines_as_one_parser_takes_none() {
        // Found by fuzzing: a line of Dovecot's own log, stamped as Exim's,
        // years after the lines around it. One parser reads no time from
        // it; the reader swept every shard there.
        let log = "\n2024-01-01 00:00:02 1r71Lh-fe8L6H-LV <=\n2026-11-29 07:00:00 u: Error: \n2024-01-01 00:00:02 1r71Lh-fe8L6H-LV <=";
        agrees_split_any_way(Format::Exim, log);
    }

    #[test]
    fn shards_read_syslog_dates_in_the_year_one_parser_does() {
        // Found by fuzzing: a jump back of months (a new year for syslog
        // dates, which have none) read by another shard than the one
        // whose message is dated after it.
        let log = "Nov 29 06:49:06  postfix: \nJan  1 00:00:05  postfix: \nNov 28 10:00:01  postfix/qmgr: 1BC4E: from=";
        agrees_split_any_way(Format::Postfix, log);
    }

    use crate::seeded::Rng;

    #[test]
    fn shards_agree_with_one_parser_on_mangled_logs() {
        // What the fuzz target `split_same` checks, on a bounded number of
        // seeded manglings of real-shaped logs: lines dropped, repeated,
        // swapped, cut, given another line's time, and lines of other
        // kinds put in (failed logins, Dovecot's, syslog's repeats,
        // zoned stamps, garbage).
        for format in [Format::Exim, Format::Postfix] {
            let log = days_of(format);
            let lines: Vec<&str> = log.lines().collect();
            let extra: &[&str] = match format {
                Format::Exim => &[
                    "2024-01-02 03:04:05 cwd=/home/a/public_html 3 args: /usr/sbin/sendmail -t -i",
                    "2024-01-02 03:04:05 cwd=/home/a/public_html",
                    "2024-01-02 03:04:05 imap-login: Info: Disconnected (auth failed, 1 attempts in 2 secs): user=<a@b.example>, method=PLAIN, rip=198.51.100.7, lip=192.0.2.1",
                    "2024-01-02 03:04:05 dovecot_login authenticator failed for (x) [198.51.100.7]:4321: 535 Incorrect authentication data (set_id=a@b.example)",
                    "2024-01-02 03:04:05 -0500 1r0001-000007-01 Completed",
                    "2024-03-02 03:04:05 +0100 1r0002-000014-02 => c@d.example R=x T=remote_smtp",
                    "Jan  2 03:04:05 mx exim[77]: 2024-01-02 03:04:05 1r0003-000021-03 Completed",
                    "2026-11-29 07:00:00 imap: Error: x",
                    "garbage \u{fffd} => \"",
                    "",
                ],
                Format::Postfix => &[
                    "Jan  2 03:04:05 mx postfix/smtpd[5]: warning: unknown[198.51.100.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=a@b.example",
                    "Jan  2 03:04:05 mx postfix/smtpd[5]: connect from unknown[198.51.100.7]",
                    "Jan  2 03:04:05 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<a@b.example>, method=PLAIN, rip=198.51.100.7, lip=192.0.2.1",
                    "Jan  2 03:04:05 mx postfix/qmgr[2]: message repeated 3 times: [ 10000004: removed]",
                    "2024-01-02T03:04:05.123456+01:00 mx postfix/qmgr[2]: 10000005: removed",
                    // A failure that is no `warning:`, and a login from
                    // the same address just after it.
                    "Jan  2 03:04:05 mx postfix/smtpd[5]: unknown[198.51.100.8]: SASL LOGIN authentication failed\nJan  2 03:04:06 mx postfix/smtpd[5]: 10000007: client=unknown[198.51.100.8], sasl_method=LOGIN, sasl_username=a@b.example",
                    "Dec 31 23:59:59 mx postfix/qmgr[2]: 10000006: removed",
                    "garbage \u{fffd} => \"",
                    "",
                ],
            };
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            for round in 0..300 {
                let start = rng.below(lines.len() - 40);
                let mut m: Vec<String> = lines[start..start + 40]
                    .iter()
                    .map(|l| l.to_string())
                    .collect();
                for _ in 0..1 + rng.below(6) {
                    let (i, j) = (rng.below(m.len()), rng.below(m.len()));
                    match rng.below(8) {
                        0 => {
                            m.remove(i);
                        }
                        1 => {
                            let l = m[i].clone();
                            m.insert(j, l);
                        }
                        2 => m.swap(i, j),
                        3 => {
                            let mut cut = rng.below(m[i].len() + 1);
                            while !m[i].is_char_boundary(cut) {
                                cut -= 1;
                            }
                            m[i].truncate(cut);
                        }
                        4 => {
                            // The time of a line anywhere in the log, days
                            // away maybe (19 bytes for Exim's stamp, 15 for
                            // syslog's).
                            let k = if format == Format::Exim { 19 } else { 15 };
                            let from = lines[rng.below(lines.len())];
                            if m[i].len() >= k && m[i].is_char_boundary(k) && from.len() >= k {
                                m[i].replace_range(..k, &from[..k]);
                            }
                        }
                        5 => {
                            // The same line a zone away (Exim's
                            // log_timezone; RFC 3339 syslog stamps).
                            let (k, zone) = if format == Format::Exim {
                                (19, " -0500")
                            } else {
                                (15, "")
                            };
                            if !zone.is_empty() && m[i].len() >= k && m[i].is_char_boundary(k) {
                                let mut l = m[i].clone();
                                l.insert_str(k, zone);
                                m.insert(i + 1, l);
                            }
                        }
                        _ => m.insert(i, extra[rng.below(extra.len())].to_string()),
                    }
                }
                let mangled = m.join("\n") + "\n";
                if !mangled.as_bytes()[..mangled.len() / 2].contains(&b'\n') {
                    continue;
                }
                for n in 2..=3 {
                    let (one, split) = one_and_split(format, &mangled, n);
                    assert_eq!(
                        one, split,
                        "{format:?} round {round}, {n} shards:\n{mangled}"
                    );
                }
            }
        }
    }

    #[test]
    fn shards_read_a_repeated_hour_as_one_parser_does() {
        // Chicago, 2 November 2025: 01:00-01:59 is written twice (summer
        // time, then standard). A message every 9 minutes from 23:00 to
        // 04:00 local, each third one delivered 40 minutes later (many
        // cross from one pass into the other): a shard sees a line of its
        // own only now and then, too seldom to tell the passes apart
        // without the reader.
        let back = 1_762_066_800; // 2025-11-02 07:00:00 UTC
        let wall = |utc: i64| utc - if utc < back { 5 * 3600 } else { 6 * 3600 };
        let mut lines = Vec::new();
        let mut truth = Vec::new();
        for i in 0..40i64 {
            let t = back - 8 * 3600 + 3 * 3600 + i * 9 * 60;
            let id = format!("1u{:04}-000000-AB", i);
            truth.push((id.clone(), t));
            let stamp = |t: i64| {
                crate::Stamp {
                    secs: wall(t),
                    millis: 0,
                }
                .iso()
                .replace('T', " ")
            };
            lines.push((
                t,
                format!(
                    "{} {id} <= a{}@site.example U=a{} P=local S=900 for r{i}@dest.example",
                    stamp(t),
                    i % 7,
                    i % 7
                ),
            ));
            let done = t + if i % 3 == 0 { 40 * 60 } else { 0 };
            lines.push((done, format!("{} {id} => r{i}@dest.example R=dnslookup T=remote_smtp H=mx.dest.example [198.51.100.9] C=\"250 OK\"", stamp(done))));
            lines.push((done, format!("{} {id} Completed", stamp(done))));
        }
        lines.sort_by_key(|(t, _)| *t);
        let log: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        let zone = crate::time::Zone::named("America/Chicago").unwrap();
        let (one, split) = split_in(Format::Exim, &log, 3, zone);
        assert_eq!(one.len(), 40);
        let mut got: Vec<(String, i64)> = one
            .iter()
            .map(|(_, _, id, _, at)| (id.clone(), *at))
            .collect();
        got.sort();
        assert_eq!(got, truth);
        assert_eq!(one, split);
    }
}
