//! Assembly: the lines of one message, which interleave with every other
//! message's, folded into one [`Message`] that is handed out when the
//! message leaves the queue (`Completed`, `removed`) or the input ends.

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;

use crate::exim::{self, EximLine};
use crate::fields::has;
use crate::logins::LoginFailures;
use crate::message::{
    Attribution, MatchedBy, Message, Outcome, RecipientIndex, Sender, SenderKind,
    account_from_path, in_web_tree, ip_name, is_local_ip, parse_ip,
};
use crate::postfix::{self, PostfixLine, Status};
use crate::time::Stamp;

/// A message with no line for this long (log time) is handed out as
/// incomplete, so a frozen or lost message cannot hold memory forever.
pub const STALE_SECS: i64 = 3 * 86_400;
/// `cwd=` lines waiting for their `<=` line (without `+pid`).
const CWD_WINDOW_SECS: i64 = 10;
const CWD_KEEP: usize = 64;
/// How long a `Sender identification` line waits for its `<=` line (they
/// are written moments apart, in either order).
const SENDER_ID_SECS: i64 = 3600;

#[derive(Debug, Clone)]
struct PendingCwd {
    at: Stamp,
    cwd: String,
    args: String,
}

/// Counts of lines that refer to messages the log never showed arriving
/// (the log began mid-flight) and the like.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssemblyStats {
    pub messages: u64,
    pub orphan_lines: u64,
    pub incomplete: u64,
}

pub(crate) fn new_message(id: &str, at: Stamp, line: &str, offset: u64) -> Message {
    Message::new(id, at, line, offset)
}

/// Is this `cwd=` line Exim running itself (queue runner, delivery of a
/// spooled message, `exim -bpc` from cron) rather than a submission?
pub(crate) fn is_exim_internal(args: &str) -> bool {
    exim_runs_itself(args.as_bytes())
}

/// [`is_exim_internal`] of the bytes of a line, for the router.
pub(crate) fn exim_runs_itself(b: &[u8]) -> bool {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let prog_end = b[start..]
        .iter()
        .position(u8::is_ascii_whitespace)
        .map_or(b.len(), |n| start + n);
    let prog = &b[start..prog_end];
    let base = prog.rsplit(|c| *c == b'/').next().unwrap_or(prog);
    if !base.starts_with(b"exim") && base != b"sendmail" {
        return false;
    }
    // -M… spool actions (-Mc delivers a spooled message), -q… queue runs,
    // -E<id> a bounce Exim writes itself, -b[dpVth]… daemon, listing,
    // version, address tests: none is a new submission. The options are
    // found by their dashes (a sendmail line's words are mostly addresses).
    let mut i = prog_end;
    loop {
        i = crate::fields::find_byte(b, i, b'-');
        if i >= b.len() {
            return false;
        }
        if b[i - 1].is_ascii_whitespace()
            && matches!(
                &b[i..],
                [b'-', b'M' | b'q' | b'E', ..]
                    | [b'-', b'b', b'p' | b'd' | b'V' | b't' | b'h' | b'e', ..]
            )
        {
            return true;
        }
        i += 1;
    }
}

/// A submission from the server itself (sendmail, `P=local`), not over
/// SMTP: it may have a `cwd=` line.
fn is_local_submission(a: &exim::Arrival<'_>) -> bool {
    a.protocol.is_some_and(|p| p.starts_with("local"))
        || (a.ip.is_none() && a.user.is_some() && a.auth.is_none())
}

/// The script named in the arguments (`php /home/x/y.php`), if any.
fn script_in_args(args: &str) -> Option<&str> {
    args.split_ascii_whitespace()
        .find(|w| w.ends_with(".php") && w.starts_with('/'))
}

/// A message id as a map key, without an allocation: ids are at most 23
/// bytes (Exim 4.97+; Postfix's long queue ids are shorter). Longer words
/// are cut at 32 bytes. Held as four big-endian words, which compare and
/// hash without a call to memcmp and order as the id's text does (the
/// merge of a split run orders by it, [`crate::shard::OrderKey`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Id([u64; 4]);

impl Id {
    pub(crate) fn of(s: &str) -> Id {
        let mut b = [0u8; 32];
        let n = s.len().min(32);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_be_bytes(w)
        };
        Id([word(0), word(1), word(2), word(3)])
    }
}

/// The open messages by id, each with the time of its latest line and the
/// index of its recipients. Each sits in its own box: a message is a few
/// hundred bytes, which the map would otherwise move on every insert,
/// removal and growth.
struct Open<T>(HashMap<Id, Box<Slot<T>>>, Settled);

/// Ids of messages handed out before their last line
/// ([`crate::LogParser::settle_deferred`]), with when: their later lines
/// add nothing (their retries are no new message).
type Settled = HashMap<Id, Stamp>;

struct Slot<T> {
    value: T,
    last: Stamp,
    recipients: RecipientIndex,
}

impl<T> Default for Open<T> {
    fn default() -> Self {
        Open(HashMap::default(), HashMap::default())
    }
}

impl<T> Open<T> {
    fn get_mut(&mut self, id: &str) -> Option<(&mut T, &mut Stamp)> {
        self.indexed(id).map(|(v, last, _)| (v, last))
    }

    /// As [`Open::get_mut`], with the message's recipient index.
    fn indexed(&mut self, id: &str) -> Option<(&mut T, &mut Stamp, &mut RecipientIndex)> {
        self.0
            .get_mut(&Id::of(id))
            .map(|b| (&mut b.value, &mut b.last, &mut b.recipients))
    }

    fn remove(&mut self, id: &str) -> Option<(T, Stamp)> {
        self.0.remove(&Id::of(id)).map(|b| (b.value, b.last))
    }

    fn insert(&mut self, id: &str, (value, last): (T, Stamp), recipients: RecipientIndex) {
        self.0.insert(
            Id::of(id),
            Box::new(Slot {
                value,
                last,
                recipients,
            }),
        );
    }

    /// The entry of `id`, made by `new` when missing; whether it was.
    fn get_or_insert_with(
        &mut self,
        id: &str,
        new: impl FnOnce() -> (T, Stamp),
    ) -> ((&mut T, &mut Stamp), bool) {
        let mut made = false;
        let b = self.0.entry(Id::of(id)).or_insert_with(|| {
            made = true;
            let (value, last) = new();
            Box::new(Slot {
                value,
                last,
                recipients: RecipientIndex::default(),
            })
        });
        ((&mut b.value, &mut b.last), made)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn values(&self) -> impl Iterator<Item = &T> {
        self.0.values().map(|b| &b.value)
    }

    /// Removes and returns the open messages that are `ready` and had no
    /// line for `idle` seconds, and remembers their ids as settled.
    fn take_settled(&mut self, now: Stamp, idle: i64, ready: impl Fn(&T) -> bool) -> Vec<T> {
        let ids: Vec<Id> = self
            .0
            .iter()
            .filter(|(_, b)| now.secs - b.last.secs >= idle && ready(&b.value))
            .map(|(k, _)| *k)
            .collect();
        ids.into_iter()
            .filter_map(|k| {
                let b = self.0.remove(&k)?;
                self.1.insert(k, now);
                Some(b.value)
            })
            .collect()
    }

    /// Takes `id` as settled at `at` (a message stored before a restart).
    fn mark_settled(&mut self, id: &str, at: Stamp) {
        self.1.insert(Id::of(id), at);
    }

    /// Whether `id` was settled (and has not ended since).
    fn is_settled(&self, id: &str) -> bool {
        !self.1.is_empty() && self.1.contains_key(&Id::of(id))
    }

    /// Forgets that `id` was settled: its message ended, or its id begins
    /// another (Postfix reuses short queue ids).
    fn unsettle(&mut self, id: &str) {
        if !self.1.is_empty() {
            self.1.remove(&Id::of(id));
        }
    }

    /// Removes and returns the open messages with no line for
    /// [`STALE_SECS`]; forgets settled ids as old.
    fn take_stale(&mut self, now: Stamp) -> Vec<T> {
        self.1.retain(|_, at| now.secs - at.secs <= STALE_SECS);
        let stale: Vec<Id> = self
            .0
            .iter()
            .filter(|(_, b)| now.secs - b.last.secs > STALE_SECS)
            .map(|(k, _)| *k)
            .collect();
        stale
            .into_iter()
            .filter_map(|k| self.0.remove(&k).map(|b| b.value))
            .collect()
    }

    /// Empties the map into `out`, oldest message first; returns how many.
    fn drain_oldest_first(
        &mut self,
        to_message: impl Fn(T) -> Message,
        out: &mut impl FnMut(Message),
    ) -> u64 {
        let mut rest: Vec<Message> = self.0.drain().map(|(_, b)| to_message(b.value)).collect();
        oldest_first(&mut rest);
        let n = rest.len() as u64;
        rest.into_iter().for_each(out);
        n
    }
}

/// How many refused ids [`EximAssembler`] remembers: the reject log's copy
/// of a line follows the main log's at once.
const REFUSED_KEEP: usize = 64;

/// A message Exim refused after DATA, from what its note says.
fn refused_message(
    a: &exim::Arrival<'_>,
    reason: &str,
    at: Stamp,
    raw: &str,
    offset: u64,
) -> Message {
    let mut m = new_message(a.id, at, raw, offset);
    m.envelope_from = a.sender.to_string();
    m.client_ip = a.ip.and_then(parse_ip);
    m.protocol = a.protocol.map(str::to_string);
    m.sender = match a.auth.and_then(|x| x.split_once(':')) {
        Some((_, login)) if !login.is_empty() => Sender::mailbox(SenderKind::Auth, login),
        _ => match m.client_ip.filter(|ip| !ip.is_loopback()) {
            Some(ip) => Sender::new(SenderKind::Ip, ip.to_string()),
            None => Sender::mailbox(SenderKind::From, a.sender),
        },
    };
    m.rejected = Some(format!("rejected after DATA: {reason}"));
    m.complete = true;
    m
}

/// Every recipient of `m` was tried and the last word for one was "later":
/// the message may sit in the queue for days.
fn deferred(m: &Message) -> bool {
    !m.recipients.is_empty()
        && m.recipients.iter().all(|r| r.outcome != Outcome::Pending)
        && m.recipients.iter().any(|r| r.outcome == Outcome::Deferred)
}

/// Puts messages handed out together in one order that does not depend on
/// hash order: oldest first, then by first line, then by id. A run split
/// across threads ([`crate::shard`]) merges its shards' messages in this
/// same order.
pub fn oldest_first(v: &mut [Message]) {
    v.sort_unstable_by(|a, b| (a.received, a.offset, &a.id).cmp(&(b.received, b.offset, &b.id)));
}

/// Folds Exim lines into messages.
#[derive(Default)]
pub struct EximAssembler {
    open: Open<Message>,
    cwd_by_pid: HashMap<u32, PendingCwd>,
    cwd_recent: VecDeque<PendingCwd>,
    /// cPanel's `Sender identification` user for ids not open yet (it can
    /// come before the `<=` line), with when it was seen: forgotten by
    /// the hourly sweep, as a message rejected after it never arrives.
    sender_ids: HashMap<String, (Stamp, String)>,
    /// The ids of the last messages refused after DATA: through syslog
    /// Exim writes each such line twice, once for the main log and once
    /// for the reject log (`syslog_duplication`, its default).
    refused: VecDeque<String>,
    /// Local submissions seen since [`EximAssembler::take_local_arrivals`],
    /// kept only when `track_arrivals` is set (someone takes them).
    arrivals: Vec<String>,
    pub track_arrivals: bool,
    /// Failed remote attempts since the last take, kept only when
    /// `track_attempts` is set.
    pub attempts: Vec<crate::message::Attempt>,
    pub track_attempts: bool,
    /// See [`crate::LogParser::skip_details`].
    pub skip_details: bool,
    pub stats: AssemblyStats,
    /// Failed logins, for the logins after them (and counted for the
    /// summary).
    pub failures: LoginFailures,
}

impl EximAssembler {
    /// The ids of local submissions that arrived since the last call: their
    /// spool files may still hold the headers that name the script.
    pub fn take_local_arrivals(&mut self) -> Vec<String> {
        std::mem::take(&mut self.arrivals)
    }

    /// Applies script headers found for an open message.
    pub fn hint(&mut self, id: &str, h: &crate::headers::ScriptHeaders) {
        if let Some((m, _)) = self.open.get_mut(id) {
            crate::headers::apply(m, h);
        }
    }

    pub fn feed(
        &mut self,
        l: &EximLine<'_>,
        raw: &str,
        offset: u64,
        out: &mut impl FnMut(Message),
    ) {
        use exim::Event as E;
        match &l.event {
            E::Cwd { cwd, args } => {
                if is_exim_internal(args) {
                    return;
                }
                self.note_cwd(l, cwd, args);
            }
            E::Arrival(a) => {
                let mut m = new_message(a.id, l.at, raw, offset);
                m.envelope_from = a.sender.trim_matches(['<', '>']).to_string();
                m.client_ip = a.ip.and_then(parse_ip);
                m.size = a.size;
                if !self.skip_details {
                    m.protocol = a.protocol.map(str::to_string);
                    m.subject = a.subject.as_deref().map(str::to_string);
                    m.message_id = a.message_id.map(str::to_string);
                }
                m.bounce_of = a.bounce_of.map(str::to_string);
                let mut recipients = RecipientIndex::default();
                for r in &a.recipients {
                    recipients.recipient(&mut m, r, l.at);
                }
                let local = is_local_submission(a);
                m.sender = if let Some(auth) = a.auth {
                    let user = match auth.split_once(':') {
                        Some((_, id)) if !id.is_empty() => id,
                        _ => &m.envelope_from,
                    };
                    if !self.failures.is_empty() {
                        m.failed_logins =
                            self.failures.before(user, m.client_ip, l.at).map(Box::new);
                    }
                    Sender::mailbox(SenderKind::Auth, user)
                } else if local {
                    let user = a.user.unwrap_or("");
                    m.attribution = self.take_cwd(l.pid, l.at).map(Box::new);
                    if let Some(user) = a.user
                        && !matches!(user, "root" | "mailnull" | "exim" | "Debian-exim" | "mail")
                    {
                        m.account = Some(user.to_string());
                    }
                    match &m.attribution {
                        Some(att)
                            if account_from_path(&att.cwd).is_some()
                                || in_web_tree(&att.cwd)
                                || att.script.is_some() =>
                        {
                            if m.account.is_none() {
                                m.account = account_from_path(&att.cwd).map(str::to_string);
                            }
                            let what = att.script.clone().unwrap_or_else(|| att.cwd.clone());
                            Sender::new(SenderKind::Script, what)
                        }
                        _ => Sender::new(SenderKind::Local, user),
                    }
                } else if let Some(ip) = a.ip.filter(|_| {
                    !m.client_ip
                        .is_some_and(|c| c.is_loopback() || c.is_unspecified())
                }) {
                    Sender::new(SenderKind::Ip, ip_name(ip, m.client_ip))
                } else {
                    // Unauthenticated SMTP from this server itself (webmail,
                    // a WordPress SMTP plugin, a content filter) is every
                    // site's at once as `ip:127.0.0.1`: the envelope sender
                    // tells them apart, as for Postfix.
                    Sender::mailbox(SenderKind::From, &m.envelope_from)
                };
                if let Some((_, user)) = self.sender_ids.remove(a.id) {
                    m.account = Some(user);
                }
                if self.track_arrivals && local && m.bounce_of.is_none() {
                    self.arrivals.push(a.id.to_string());
                }
                self.stats.messages += 1;
                self.open.insert(a.id, (m, l.at), recipients);
            }
            E::Delivery(o) | E::Bounce(o) | E::Defer(o) => {
                // What the remote side answers, whatever the message
                // (also a retry of one settled early).
                if self.track_attempts && !matches!(l.event, E::Delivery(_)) {
                    self.note_attempt(l.at, o, matches!(l.event, E::Bounce(_)));
                }
                let Some((m, last, recipients)) = self.open.indexed(o.id) else {
                    if !self.open.is_settled(o.id) {
                        self.stats.orphan_lines += 1;
                    }
                    return;
                };
                *last = l.at;
                // The envelope recipient, as the `for` list names it: an
                // alias or forward may deliver it elsewhere, or to several.
                let rcpt = recipients.recipient(m, o.original.unwrap_or(o.recipient), l.at);
                rcpt.at = l.at;
                let remote = o.ip.is_some_and(|ip| !is_local_ip(ip))
                    && !o.transport.is_some_and(|t| has(t, "lmtp"));
                rcpt.remote |= remote;
                rcpt.forwarded |= remote
                    && o.original
                        .is_some_and(|a| !a.eq_ignore_ascii_case(o.recipient));
                // Without details, a delivery keeps neither host nor reply.
                let keep = !(self.skip_details && matches!(l.event, E::Delivery(_)));
                if o.host.is_some() && keep {
                    rcpt.host = o.host.map(str::to_string);
                }
                let reply = o.reply.as_deref();
                match &l.event {
                    E::Delivery(_) => rcpt.outcome = Outcome::Delivered,
                    E::Bounce(_) => rcpt.outcome = Outcome::Bounced,
                    _ => {
                        // Backoff notes are not a new answer from anyone.
                        if reply.is_some_and(|r| has(r, "retry time not reached")) {
                            return;
                        }
                        rcpt.outcome = Outcome::Deferred;
                        rcpt.deferrals += 1;
                    }
                }
                if let Some(r) = reply
                    && keep
                {
                    rcpt.reply = Some(r.to_string());
                }
                // A failure with a remote reply is an attempt off the server
                // even when the line names no host (`** rcpt R=… T=remote_smtp: … host x [ip]: 550 …`).
                if !remote
                    && !matches!(l.event, E::Delivery(_))
                    && o.transport
                        .is_some_and(|t| has(t, "smtp") && !has(t, "lmtp"))
                {
                    rcpt.remote = true;
                }
            }
            E::Completed { id } => match self.open.remove(id) {
                Some((mut m, _)) => {
                    m.complete = true;
                    out(m);
                }
                None if self.open.is_settled(id) => self.open.unsettle(id),
                None => self.stats.orphan_lines += 1,
            },
            E::SenderId { id, user, .. } => {
                if let Some(u) = user {
                    match self.open.get_mut(id) {
                        Some((m, _)) => m.account = Some(u.to_string()),
                        None => {
                            self.sender_ids
                                .insert(id.to_string(), (l.at, u.to_string()));
                        }
                    }
                }
            }
            E::MessageNote { id, text } => match self.open.get_mut(id) {
                Some((m, last)) => {
                    *last = l.at;
                    if exim::says_rejected_after_data(text) {
                        m.rejected = Some(text.to_string());
                    }
                }
                // Refused before it was queued (this server's own content
                // scan: cPanel's "detected OUTGOING smtp message as
                // spam"): a message of its sender all the same.
                None => {
                    if let Some((a, reason)) = exim::rejected_after_data(id, text)
                        && !self.refused.iter().any(|r| r == id)
                    {
                        if self.refused.len() >= REFUSED_KEEP {
                            self.refused.pop_front();
                        }
                        self.refused.push_back(id.to_string());
                        self.stats.messages += 1;
                        out(refused_message(&a, reason, l.at, raw, offset));
                    }
                }
            },
            E::AuthFailed { ip, set_id } => {
                self.failures
                    .count(*set_id, ip.and_then(parse_ip), l.at, raw, offset)
            }
            E::Connection { .. } => {}
        }
    }

    fn note_cwd(&mut self, l: &EximLine<'_>, cwd: &str, args: &str) {
        let p = PendingCwd {
            at: l.at,
            cwd: cwd.to_string(),
            args: args.to_string(),
        };
        match l.pid {
            Some(pid) => {
                self.cwd_by_pid.insert(pid, p);
            }
            None => {
                if self.cwd_recent.len() >= CWD_KEEP {
                    self.cwd_recent.pop_front();
                }
                self.cwd_recent.push_back(p);
            }
        }
    }

    /// Is a `cwd=` line waiting for its submission? Only then can another
    /// shard's arrival change this one's state (see [`EximAssembler::peek`]).
    pub fn waits_for_arrival(&self) -> bool {
        !self.cwd_recent.is_empty() || !self.cwd_by_pid.is_empty()
    }

    /// A line that belongs to another shard's message ([`crate::shard`]):
    /// only what every shard must share is applied. A `cwd=` line is
    /// remembered, and a local submission claims its `cwd=` line here too,
    /// so the next submission of this shard is matched as a single thread
    /// would match it. Nothing is counted.
    pub fn peek(&mut self, l: &EximLine<'_>, raw: &str) {
        match &l.event {
            exim::Event::Cwd { cwd, args } if !is_exim_internal(args) => {
                self.note_cwd(l, cwd, args)
            }
            exim::Event::Arrival(a) if a.auth.is_none() && is_local_submission(a) => {
                self.take_cwd(l.pid, l.at);
            }
            exim::Event::AuthFailed { ip, set_id } => {
                self.failures
                    .note(*set_id, ip.and_then(parse_ip), l.at, raw, 0)
            }
            _ => {}
        }
    }

    fn take_cwd(&mut self, pid: Option<u32>, at: Stamp) -> Option<Attribution> {
        let attribution = |p: PendingCwd, matched_by, ambiguous| Attribution {
            script: script_in_args(&p.args).map(str::to_string),
            cwd: p.cwd,
            args: p.args,
            matched_by,
            ambiguous,
            visitor_ip: None,
        };
        if let Some(pid) = pid {
            return self
                .cwd_by_pid
                .remove(&pid)
                .map(|p| attribution(p, MatchedBy::Pid, false));
        }
        // Without +pid: the nearest earlier unclaimed cwd line, within a few
        // seconds. Others as close make the match a guess; say so.
        while self
            .cwd_recent
            .front()
            .is_some_and(|p| at.secs - p.at.secs > CWD_WINDOW_SECS)
        {
            self.cwd_recent.pop_front();
        }
        let p = self.cwd_recent.pop_back()?;
        let ambiguous = !self.cwd_recent.is_empty();
        Some(attribution(p, MatchedBy::Order, ambiguous))
    }

    /// Takes `id` as a message handed out before its end.
    pub fn mark_settled(&mut self, id: &str, at: Stamp) {
        self.open.mark_settled(id, at);
    }

    /// Keeps a failed attempt to another host for
    /// [`crate::LogParser::take_attempts`].
    fn note_attempt(&mut self, at: Stamp, o: &exim::Outcome<'_>, permanent: bool) {
        // A backoff note is no answer from anyone.
        if let Some(r) = o.reply.as_deref()
            && !has(r, "retry time not reached")
            && (o.host.is_some() || o.transport.is_some_and(|t| has(t, "smtp")))
        {
            self.attempts.push(crate::message::Attempt {
                at,
                id: o.id.to_string(),
                recipient: o.recipient.to_string(),
                host: o.host.map(str::to_string),
                reply: r.to_string(),
                permanent,
            });
        }
    }

    /// Hands out, as incomplete, the messages whose every recipient was
    /// tried and one deferred, idle for `idle` seconds before `now`.
    pub fn settle(&mut self, now: Stamp, idle: i64, out: &mut impl FnMut(Message)) {
        let mut ready = self.open.take_settled(now, idle, deferred);
        oldest_first(&mut ready);
        self.stats.incomplete += ready.len() as u64;
        ready.into_iter().for_each(out);
    }

    /// Hands out the messages with no line for [`STALE_SECS`] before `now`
    /// as incomplete, and forgets `cwd=` lines nothing claimed.
    /// [`crate::LogParser`] calls it once an hour of log time.
    pub fn sweep(&mut self, now: Stamp, out: &mut impl FnMut(Message)) {
        let mut stale = self.open.take_stale(now);
        oldest_first(&mut stale);
        self.stats.incomplete += stale.len() as u64;
        stale.into_iter().for_each(out);
        self.cwd_by_pid
            .retain(|_, p| now.secs - p.at.secs <= CWD_WINDOW_SECS * 6);
        self.sender_ids
            .retain(|_, (at, _)| now.secs - at.secs <= SENDER_ID_SECS);
        self.failures.sweep(now);
    }

    /// Hands out every message still open (the input ended).
    pub fn finish(&mut self, out: &mut impl FnMut(Message)) {
        self.stats.incomplete += self.open.drain_oldest_first(|m| m, out);
    }

    /// Messages still waiting for their last line.
    pub fn open_messages(&self) -> usize {
        self.open.len()
    }

    /// The smallest offset of a message still open.
    pub fn oldest_open(&self) -> Option<u64> {
        self.open.values().map(|m| m.offset).min()
    }
}

/// Folds Postfix lines into messages.
#[derive(Default)]
pub struct PostfixAssembler {
    open: Open<Partial>,
    /// Failed remote attempts since the last take, kept only when
    /// `track_attempts` is set.
    pub attempts: Vec<crate::message::Attempt>,
    pub track_attempts: bool,
    /// See [`crate::LogParser::skip_details`].
    pub skip_details: bool,
    pub stats: AssemblyStats,
    /// Failed logins, for the logins after them (and counted for the
    /// summary).
    pub failures: LoginFailures,
}

struct Partial {
    msg: Message,
    sasl: Option<String>,
    uid: Option<u32>,
    /// Script headers a header_checks rule logged.
    headers: Vec<String>,
}

impl PostfixAssembler {
    fn entry(
        &mut self,
        qid: &str,
        at: Stamp,
        raw: &str,
        offset: u64,
    ) -> (&mut Partial, &mut Stamp) {
        let (e, made) = self.open.get_or_insert_with(qid, || {
            (
                Partial {
                    msg: new_message(qid, at, raw, offset),
                    sasl: None,
                    uid: None,
                    headers: Vec::new(),
                },
                at,
            )
        });
        if made {
            self.stats.messages += 1;
        }
        e
    }

    pub fn feed(
        &mut self,
        l: &PostfixLine<'_>,
        raw: &str,
        offset: u64,
        out: &mut impl FnMut(Message),
    ) {
        use postfix::Event as E;
        let details = !self.skip_details;
        match &l.event {
            // A settled message's retries add nothing; its id ends with
            // it, or begins another message.
            E::Queued { qid, .. }
            | E::MessageId { qid, .. }
            | E::Subject { qid, .. }
            | E::Header { qid, .. }
                if self.open.is_settled(qid) => {}
            E::Client {
                qid,
                ip,
                sasl_username,
            } => {
                self.open.unsettle(qid);
                let client_ip = ip.and_then(parse_ip);
                let failed = match sasl_username {
                    Some(user) if !self.failures.is_empty() => {
                        self.failures.before(user, client_ip, l.at).map(Box::new)
                    }
                    _ => None,
                };
                let (p, _) = self.entry(qid, l.at, raw, offset);
                p.msg.client_ip = client_ip;
                if failed.is_some() {
                    p.msg.failed_logins = failed;
                }
                if details {
                    let protocol = if sasl_username.is_some() {
                        "esmtpa"
                    } else {
                        "esmtp"
                    };
                    p.msg.protocol = Some(protocol.into());
                }
                p.sasl = sasl_username.map(str::to_string);
            }
            E::Pickup { qid, uid, from } => {
                self.open.unsettle(qid);
                let (p, _) = self.entry(qid, l.at, raw, offset);
                p.uid = *uid;
                if details {
                    p.msg.protocol = Some("local".into());
                }
                p.msg.envelope_from = from.to_string();
            }
            E::MessageId { .. } | E::Subject { .. } if !details => {}
            E::MessageId { qid, message_id } => {
                if let Some((p, _)) = self.open.get_mut(qid) {
                    p.msg.message_id = Some(message_id.to_string());
                }
            }
            E::Subject { qid, subject } => {
                if let Some((p, _)) = self.open.get_mut(qid) {
                    p.msg.subject = Some(subject.to_string());
                }
            }
            E::Header { qid, header } => {
                if let Some((p, _)) = self.open.get_mut(qid) {
                    p.headers.push(header.to_string());
                }
            }
            E::Queued {
                qid,
                from,
                size,
                nrcpt: _,
            } => {
                let (p, last) = self.entry(qid, l.at, raw, offset);
                *last = l.at;
                p.msg.envelope_from = from.to_string();
                p.msg.size = *size;
            }
            E::Delivery {
                qid,
                daemon,
                to,
                orig_to,
                relay_ip,
                status,
                reply,
                relay,
                ..
            } => {
                // What the remote side answers, whatever the message
                // (also a retry of one settled early).
                if self.track_attempts
                    && matches!(status, Status::Bounced | Status::Deferred)
                    && !reply.is_empty()
                    && *daemon == "smtp"
                {
                    self.attempts.push(crate::message::Attempt {
                        at: l.at,
                        id: qid.to_string(),
                        recipient: to.to_string(),
                        host: relay.map(|r| r.split('[').next().unwrap_or(r).to_string()),
                        reply: reply.to_string(),
                        permanent: matches!(status, Status::Bounced),
                    });
                }
                let Some((p, last, recipients)) = self.open.indexed(qid) else {
                    if !self.open.is_settled(qid) {
                        self.stats.orphan_lines += 1;
                    }
                    return;
                };
                *last = l.at;
                // Handed to a content filter on this server, which queued
                // it again under a new id.
                if matches!(status, Status::Sent)
                    && relay_ip.is_some_and(is_local_ip)
                    && let Some(q) = postfix::queued_as(reply)
                {
                    p.msg.relayed_as = Some(q.to_string());
                }
                // The envelope recipient, as with Exim's `<original>`.
                let rcpt = recipients.recipient(&mut p.msg, orig_to.unwrap_or(to), l.at);
                rcpt.at = l.at;
                let remote = *daemon == "smtp" && relay_ip.is_some_and(|ip| !is_local_ip(ip));
                rcpt.remote |= remote;
                rcpt.forwarded |= remote && orig_to.is_some_and(|a| !a.eq_ignore_ascii_case(to));
                if details || !matches!(status, Status::Sent) {
                    rcpt.host = relay.map(str::to_string);
                    rcpt.reply = Some(reply.to_string());
                }
                match status {
                    Status::Sent => rcpt.outcome = Outcome::Delivered,
                    Status::Bounced | Status::Expired => rcpt.outcome = Outcome::Bounced,
                    Status::Deferred => {
                        rcpt.outcome = Outcome::Deferred;
                        rcpt.deferrals += 1;
                    }
                    Status::Probe => p.msg.probe = true,
                    Status::Other => {}
                }
            }
            E::Rejected { qid, reason } => {
                if let Some((mut p, _)) = self.open.remove(qid) {
                    p.msg.rejected = Some(reason.to_string());
                    p.msg.complete = true;
                    out(finalize(p));
                }
            }
            // Out of the queue's lifetime: whoever was not reached gets
            // a bounce (Exim writes `**` lines itself).
            E::Expired { qid } => {
                if let Some((p, last)) = self.open.get_mut(qid) {
                    *last = l.at;
                    for r in &mut p.msg.recipients {
                        if matches!(r.outcome, Outcome::Deferred | Outcome::Pending) {
                            r.outcome = Outcome::Bounced;
                            r.at = l.at;
                        }
                    }
                }
            }
            E::Removed { qid } => match self.open.remove(qid) {
                Some((mut p, _)) => {
                    p.msg.complete = true;
                    out(finalize(p));
                }
                None if self.open.is_settled(qid) => self.open.unsettle(qid),
                None => self.stats.orphan_lines += 1,
            },
            E::AuthFailed { ip, user } => {
                self.failures
                    .count(*user, ip.and_then(parse_ip), l.at, raw, offset)
            }
            E::Note { .. } | E::NoQueueReject { .. } | E::Daemon { .. } => {}
        }
    }

    /// As [`EximAssembler::mark_settled`].
    pub fn mark_settled(&mut self, id: &str, at: Stamp) {
        self.open.mark_settled(id, at);
    }

    /// As [`EximAssembler::settle`].
    pub fn settle(&mut self, now: Stamp, idle: i64, out: &mut impl FnMut(Message)) {
        let mut ready: Vec<Message> = self
            .open
            .take_settled(now, idle, |p| deferred(&p.msg))
            .into_iter()
            .map(finalize)
            .collect();
        oldest_first(&mut ready);
        self.stats.incomplete += ready.len() as u64;
        ready.into_iter().for_each(out);
    }

    /// Hands out the messages with no line for [`STALE_SECS`] before `now`
    /// as incomplete. [`crate::LogParser`] calls it once an hour of log
    /// time.
    pub fn sweep(&mut self, now: Stamp, out: &mut impl FnMut(Message)) {
        let mut stale: Vec<Message> = self
            .open
            .take_stale(now)
            .into_iter()
            .map(finalize)
            .collect();
        oldest_first(&mut stale);
        self.stats.incomplete += stale.len() as u64;
        stale.into_iter().for_each(out);
        self.failures.sweep(now);
    }

    /// A Postfix line that belongs to another shard ([`crate::shard`]):
    /// a failed login, which every shard keeps for its own logins.
    pub fn peek(&mut self, l: &PostfixLine<'_>, raw: &str) {
        if let postfix::Event::AuthFailed { ip, user } = &l.event {
            self.failures
                .note(*user, ip.and_then(parse_ip), l.at, raw, 0);
        }
    }

    /// Hands out every message still open (the input ended).
    pub fn finish(&mut self, out: &mut impl FnMut(Message)) {
        self.stats.incomplete += self.open.drain_oldest_first(finalize, out);
    }

    pub fn open_messages(&self) -> usize {
        self.open.len()
    }

    /// The smallest offset of a message still open.
    pub fn oldest_open(&self) -> Option<u64> {
        self.open.values().map(|p| p.msg.offset).min()
    }
}

/// The sender of a Postfix message, strongest identity first.
fn finalize(p: Partial) -> Message {
    let mut m = p.msg;
    m.sender = if let Some(user) = p.sasl {
        Sender::mailbox(SenderKind::Auth, &user)
    } else if let Some(uid) = p.uid {
        m.account = Some(uid.to_string());
        let mut local = Sender::new(SenderKind::Local, uid.to_string());
        // A header_checks rule may have logged the script's headers.
        let hints = crate::headers::script_headers(p.headers.iter().map(String::as_str));
        if !hints.is_empty() {
            m.sender = local.clone();
            crate::headers::apply(&mut m, &hints);
            local = m.sender.clone();
        }
        local
    } else if let Some(ip) = m.client_ip.filter(|ip| !ip.is_loopback()) {
        Sender::new(SenderKind::Ip, ip.to_string())
    } else {
        // No client, no submitter, no envelope sender: a notice Postfix's
        // bounce daemon wrote itself (a bounce, a delay warning), as
        // Exim's `<= <> R=id` lines are.
        if m.envelope_from.is_empty() && m.client_ip.is_none() {
            m.bounce_of = Some(String::new());
        }
        Sender::mailbox(SenderKind::From, &m.envelope_from)
    };
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exim(lines: &str) -> Vec<Message> {
        let mut a = EximAssembler::default();
        let mut out = Vec::new();
        for l in lines.lines() {
            let p = exim::parse(l).unwrap_or_else(|| panic!("{l}"));
            a.feed(&p, l, 0, &mut |m| out.push(m));
        }
        a.finish(&mut |m| out.push(m));
        out
    }

    /// Every message of Postfix `lines`, the open ones at the end.
    fn postfix(lines: &str) -> Vec<Message> {
        let mut a = PostfixAssembler::default();
        let mut out = Vec::new();
        for l in lines.lines() {
            let p = postfix::parse(l, 2026).unwrap();
            a.feed(&p, l, 0, &mut |m| out.push(m));
        }
        a.finish(&mut |m| out.push(m));
        out
    }

    #[test]
    fn exim_running_itself_is_no_submission() {
        for own in [
            "/usr/sbin/exim -Mc 1dAN06-000FHm-H1",
            "/usr/sbin/exim4 -q30m",
            "exim -bpc",
            "/usr/sbin/exim -bd -q1h",
            "/usr/sbin/sendmail -bV",
            "/usr/sbin/exim -bt user@example.com",
            "/usr/sbin/exim -bh 192.0.2.1",
            "/usr/sbin/exim -be",
            "/usr/sbin/exim -Ec 1dAN06-000FHm-H1",
            "/usr/sbin/exim -v -M 1dAN06-000FHm-H1",
            " /usr/sbin/exim\t-qff",
        ] {
            assert!(is_exim_internal(own), "{own}");
        }
        for submission in [
            "/usr/sbin/sendmail -t -i -fuser@site.example",
            "/usr/sbin/exim -odi -oi -f user@site.example bob@example.net",
            "/usr/sbin/exim -bm bob@example.net",
            "/usr/bin/php /home/a/mailer.php -q",
            "/usr/sbin/sendmail -b",
            "/usr/sbin/sendmail -t -i -fuser-Mc@site.example",
            "/usr/sbin/exim",
            "",
        ] {
            assert!(!is_exim_internal(submission), "{submission}");
        }
    }

    #[test]
    fn a_sender_identification_with_no_message_is_forgotten() {
        let mut a = EximAssembler::default();
        let mut out = Vec::new();
        for l in [
            "2024-01-01 10:00:00 1rK000-000000-01 Sender identification U=bob D=bob.example S=bob@bob.example",
            "2024-01-01 10:00:00 1rK000-000000-02 Sender identification U=amy D=amy.example S=amy@amy.example",
            "2024-01-01 10:00:01 1rK000-000000-02 <= amy@amy.example U=amy P=local S=1 for r@example.net",
        ] {
            a.feed(&exim::parse(l).unwrap(), l, 0, &mut |m| out.push(m));
        }
        // Bob's message was rejected: its line waits, then goes.
        assert_eq!(a.sender_ids.len(), 1);
        let at = |secs| Stamp { secs, millis: 0 };
        let t0 = exim::parse("2024-01-01 10:00:00 x").unwrap().at.secs;
        a.sweep(at(t0 + 1800), &mut |m| out.push(m));
        assert_eq!(a.sender_ids.len(), 1);
        a.sweep(at(t0 + 3601), &mut |m| out.push(m));
        assert!(a.sender_ids.is_empty());
        a.finish(&mut |m| out.push(m));
        assert_eq!(out[0].account.as_deref(), Some("amy"));
    }

    #[test]
    fn unauthenticated_smtp_from_this_server_is_named_by_its_envelope() {
        let out = exim(concat!(
            "2024-05-01 10:00:00 1rK000-000000-01 <= wordpress@one.example H=localhost (one.example) [127.0.0.1]:40000 P=esmtp S=900 for a@dest.example\n",
            "2024-05-01 10:00:00 1rK000-000000-01 Completed\n",
            "2024-05-01 10:00:01 1rK000-000000-02 <= wordpress@two.example H=localhost [::1]:40001 P=esmtp S=900 for b@dest.example\n",
            "2024-05-01 10:00:01 1rK000-000000-02 Completed\n",
            "2024-05-01 10:00:02 1rK000-000000-03 <= x@outside.example H=mx.outside.example [198.51.100.5]:25 P=esmtp S=900 for c@dest.example\n",
            "2024-05-01 10:00:02 1rK000-000000-03 Completed\n",
        ));
        let senders: Vec<String> = out.iter().map(|m| m.sender.to_string()).collect();
        assert_eq!(
            senders,
            [
                "from:wordpress@one.example",
                "from:wordpress@two.example",
                "ip:198.51.100.5"
            ]
        );
    }

    #[test]
    fn a_delivery_is_counted_against_its_envelope_recipient() {
        // A local delivery (`=> owner <owner@…>`), an autoresponder pipe
        // for the same mailbox, and an alias that expands to two outside
        // addresses: two envelope recipients, both delivered.
        let out = exim(concat!(
            "2024-05-01 10:00:00 1rK000-000000-01 <= shop@shop.example U=shop P=local S=900 for owner@shop.example team@shop.example\n",
            "2024-05-01 10:00:00 1rK000-000000-01 => owner <owner@shop.example> R=virtual_user T=dovecot_virtual_delivery C=\"250 2.0.0 Saved\"\n",
            "2024-05-01 10:00:00 1rK000-000000-01 => |/usr/local/cpanel/bin/autorespond owner@shop.example /home/shop/.autorespond (owner@shop.example) <owner@shop.example> R=virtual_aliases_nostar T=cagefs_virtual_address_pipe\n",
            "2024-05-01 10:00:01 1rK000-000000-01 => ann@example.net <team@shop.example> R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.9] C=\"250 OK\"\n",
            "2024-05-01 10:00:01 1rK000-000000-01 -> bob@example.org <team@shop.example> R=dnslookup T=remote_smtp H=mx.example.org [198.51.100.10] C=\"250 OK\"\n",
            "2024-05-01 10:00:01 1rK000-000000-01 Completed\n",
        ));
        assert_eq!(out.len(), 1);
        let r = &out[0].recipients;
        let got: Vec<(&str, Outcome, bool)> = r
            .iter()
            .map(|r| (r.address.as_str(), r.outcome, r.remote))
            .collect();
        assert_eq!(
            got,
            [
                ("owner@shop.example", Outcome::Delivered, false),
                ("team@shop.example", Outcome::Delivered, true),
            ]
        );
    }

    #[test]
    fn a_message_to_many_recipients_keeps_each_once() {
        let rcpts: Vec<String> = (0..300).map(|i| format!("r{i}@example.net")).collect();
        let mut log = format!(
            "2024-01-01 10:00:00 1rK000-000000-00 <= a@b.example U=a P=local S=1 for {}\n",
            rcpts.join(" ")
        );
        for (i, r) in rcpts.iter().enumerate() {
            // Some twice, once in capitals: the same recipient.
            log += &format!(
                "2024-01-01 10:00:01 1rK000-000000-00 => {r} R=x T=remote_smtp H=mx [192.0.2.1]\n"
            );
            if i % 3 == 0 {
                let upper = r.to_uppercase();
                log += &format!(
                    "2024-01-01 10:00:02 1rK000-000000-00 ** {upper} R=x T=remote_smtp H=mx [192.0.2.1]: 550 gone\n"
                );
            }
        }
        log += "2024-01-01 10:00:03 1rK000-000000-00 Completed\n";
        let m = exim(&log);
        assert_eq!(m.len(), 1);
        let r = &m[0].recipients;
        assert_eq!(r.len(), 300);
        assert_eq!(
            r.iter().filter(|r| r.outcome == Outcome::Bounced).count(),
            100
        );
        assert_eq!(r[299].address, "r299@example.net");
    }

    #[test]
    fn php_script_by_order_with_account() {
        let ms = exim(
            "2017-05-15 15:53:54 cwd=/home2/seaport/public_html/scripts 4 args: /usr/sbin/sendmail -t -i -finfo@seaportenvironmental.com
2017-05-15 15:53:54 1dAN06-000FHm-H1 <= info@seaportenvironmental.com U=seaport P=local S=24180 id=f714@www.seaportenvironmental.com T=\"New Credit Application\" for design@is-t.net
2017-05-15 15:53:54 cwd=/var/spool/exim 3 args: /usr/sbin/exim -Mc 1dAN06-000FHm-H1
2017-05-15 15:53:55 1dAN06-000FHm-H1 => design@is-t.net R=dkim_lookuphost T=dkim_remote_smtp H=mx.is-t.net [203.0.113.7] C=\"250 OK\"
2017-05-15 15:53:55 1dAN06-000FHm-H1 Completed",
        );
        assert_eq!(ms.len(), 1);
        let m = &ms[0];
        assert_eq!(
            m.sender.to_string(),
            "script:/home2/seaport/public_html/scripts"
        );
        assert_eq!(m.account.as_deref(), Some("seaport"));
        let att = m.attribution.as_ref().unwrap();
        assert_eq!((att.matched_by, att.ambiguous), (MatchedBy::Order, false));
        assert!(m.complete && m.outbound());
        assert_eq!(m.recipients[0].outcome, Outcome::Delivered);
    }

    #[test]
    fn interleaved_cwd_lines_without_pid_are_marked_ambiguous() {
        let ms = exim(
            "2024-01-01 10:00:00 cwd=/home/a/public_html 3 args: /usr/sbin/sendmail -t -i
2024-01-01 10:00:00 cwd=/home/b/public_html/wp-content/uploads 3 args: /usr/sbin/sendmail -t -i
2024-01-01 10:00:00 1rKxaa-000AAA-11 <= x@b.example U=b P=local S=10 for r@example.net",
        );
        let att = ms[0].attribution.as_ref().unwrap();
        assert!(att.ambiguous);
        assert_eq!(
            ms[0].sender.to_string(),
            "script:/home/b/public_html/wp-content/uploads"
        );
        assert!(!ms[0].complete);
    }

    #[test]
    fn pid_matching_beats_order() {
        let ms = exim(
            "2025-02-14 18:12:33.000 [100] cwd=/home/a/public_html 3 args: sendmail -t
2025-02-14 18:12:33.100 [200] cwd=/home/b/public_html 3 args: sendmail -t
2025-02-14 18:12:33.200 [100] 1tixMn-00000000C5j-1wRa <= a@a.example U=a P=local S=1 for r@example.net",
        );
        let att = ms[0].attribution.as_ref().unwrap();
        assert_eq!(
            (att.matched_by, att.cwd.as_str()),
            (MatchedBy::Pid, "/home/a/public_html")
        );
    }

    #[test]
    fn auth_sender_is_the_login_not_the_envelope() {
        let ms = exim(
            "2016-03-25 14:41:14 1ajLQo-0001PZ-En <= forged@example.org H=(x) [198.51.100.2]:3000 P=esmtpa A=dovecot_login:smtpout@example.com S=10 for a@example.net
2016-03-25 14:41:15 1ajLQo-0001PZ-En ** a@example.net R=dnslookup T=remote_smtp: SMTP error from remote mail server after RCPT TO:<a@example.net>: host mx [203.0.113.1]: 550 5.1.1 User unknown
2016-03-25 14:41:15 1ajLQo-0001PZ-En Completed",
        );
        let m = &ms[0];
        assert_eq!(m.sender.to_string(), "auth:smtpout@example.com");
        assert_eq!(m.client_ip, Some("198.51.100.2".parse().unwrap()));
        assert_eq!(m.recipients[0].outcome, Outcome::Bounced);
        assert!(m.recipients[0].remote);
        assert!(m.recipients[0].reply.as_deref().unwrap().contains("5.1.1"));
    }

    #[test]
    fn an_exim_login_carries_the_failed_logins_before_it() {
        let mut lines = String::new();
        for i in 0..12 {
            lines += &format!(
                "2024-05-01 10:00:{i:02} dovecot_login authenticator failed for (User) [198.51.100.{}]:52000: 535 Incorrect authentication data (set_id=Info@Shop.example)\n",
                i % 4
            );
        }
        lines += "2024-05-01 10:01:00 dovecot_login authenticator failed for (x) [203.0.113.5]:1: 535 Incorrect authentication data (set_id=bob@shop.example)
2024-05-01 10:02:00 1ajLQo-0001PZ-En <= forged@example.org H=(x) [192.0.2.8]:3000 P=esmtpa A=dovecot_login:info@shop.example S=10 for a@example.net
2024-05-01 10:02:01 1ajLQo-0001PZ-En => a@example.net R=dnslookup T=remote_smtp H=mx [203.0.113.1]
2024-05-01 10:02:01 1ajLQo-0001PZ-En Completed
2024-05-01 10:03:00 1ajLQp-0001PZ-En <= carol@shop.example H=(x) [192.0.2.9]:3000 P=esmtpa A=dovecot_login:carol@shop.example S=10 for a@example.net
2024-05-01 10:03:01 1ajLQp-0001PZ-En Completed";
        let ms = exim(&lines);
        let f = ms[0]
            .failed_logins
            .as_ref()
            .expect("failures before the login");
        assert_eq!((f.count, f.ips), (12, 4));
        assert_eq!(f.first.iso(), "2024-05-01T10:00:00");
        assert!(f.line.contains("10:00:11") && f.line.contains("set_id=Info@Shop.example"));
        assert!(ms[1].failed_logins.is_none(), "{:?}", ms[1].failed_logins);
    }

    #[test]
    fn a_postfix_login_carries_the_failed_logins_before_it() {
        let lines = "Mar  1 09:59:00 web postfix/smtpd[5]: warning: unknown[198.51.100.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=bob@example.com
Mar  1 09:59:01 web postfix/smtpd[5]: warning: unknown[198.51.100.8]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=bob@example.com
Mar  1 09:59:02 web postfix/smtpd[5]: warning: h[198.51.100.81]: SASL PLAIN authentication failed: authentication failure
Mar  1 10:00:01 web postfix/smtpd[5]: 1DBB4A7FD: client=h[198.51.100.81], sasl_method=LOGIN, sasl_username=bob@example.com
Mar  1 10:00:01 web postfix/qmgr[3]: 1DBB4A7FD: from=<bob@example.com>, size=9, nrcpt=1 (queue active)
Mar  1 10:00:02 web postfix/smtp[4]: 1DBB4A7FD: to=<y@example.net>, relay=mx.example.net[203.0.113.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
Mar  1 10:00:02 web postfix/qmgr[3]: 1DBB4A7FD: removed";
        let out = postfix(lines);
        let f = out[0]
            .failed_logins
            .as_ref()
            .expect("failures before the login");
        // Two naming bob, and one naming nobody from the login's address.
        assert_eq!((f.count, f.ips), (3, 3));
        assert!(f.line.contains("SASL PLAIN"), "{}", f.line);
    }

    #[test]
    fn postfix_pickup_and_auth() {
        let lines = "Mar  1 10:00:00 web postfix/pickup[1]: 4A3B2C1D0E: uid=1001 from=<noreply@example.com>
Mar  1 10:00:00 web postfix/cleanup[2]: 4A3B2C1D0E: message-id=<a@b>
Mar  1 10:00:00 web postfix/qmgr[3]: 4A3B2C1D0E: from=<noreply@example.com>, size=500, nrcpt=1 (queue active)
Mar  1 10:00:01 web postfix/smtp[4]: 4A3B2C1D0E: to=<x@example.net>, relay=mx.example.net[203.0.113.9]:25, delay=1, delays=0/0/0/1, dsn=4.7.28, status=deferred (host said: 421-4.7.28 unusual rate)
Mar  1 10:00:01 web postfix/smtpd[5]: 1DBB4A7FD: client=h[198.51.100.81], sasl_method=LOGIN, sasl_username=bob@example.com
Mar  1 10:00:01 web postfix/qmgr[3]: 1DBB4A7FD: from=<bob@example.com>, size=9, nrcpt=1 (queue active)
Mar  1 10:00:02 web postfix/smtp[4]: 1DBB4A7FD: to=<y@example.net>, relay=mx.example.net[203.0.113.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
Mar  1 10:00:02 web postfix/qmgr[3]: 1DBB4A7FD: removed";
        let out = postfix(lines);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].sender.to_string(), "auth:bob@example.com");
        assert!(out[0].complete);
        assert_eq!(out[1].sender.to_string(), "local:1001");
        assert_eq!(out[1].recipients[0].outcome, Outcome::Deferred);
        assert!(!out[1].complete);
    }
}
