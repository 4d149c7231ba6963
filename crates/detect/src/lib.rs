//! Is a sender spamming? Per-sender counts over sliding windows, turned
//! into a verdict (`ok | suspicious | spamming`) with the reasons and the
//! evidence behind it.
//!
//! - [`signals`]: what a reply or a script path says.
//! - this module: [`Thresholds`] (the config), [`Detector`] (all senders),
//!   and the rules.
//! - a sender's state in bounded memory: [`distinct`] counts (exact, then
//!   a sketch), `recent` members of a window by the minute last seen,
//!   `deque` buckets kept inline while few; `retire` moves long-silent
//!   senders to a scratch file.
//! - [`relink`]: a content filter's copy back to its sender.
//!
//! The rules keep volume apart from harm. Volume alone (a newsletter, a
//! busy contact form) can make a sender `suspicious`, never `spamming`;
//! `spamming` needs a bad outcome at a rate that honest mail does not have:
//! bounces, invalid recipients, replies that cite spam or blocklists, logins
//! from many networks, a busy script in an odd place, or several warning
//! signs at once. Counts live in per-minute buckets, so memory grows with
//! the number of live senders, not with their volume.

mod deque;
pub mod distinct;
mod recent;
pub mod relink;
mod retire;
pub mod signals;

use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use std::time::Duration;

use maillog::{Message, Outcome, Sender, SenderKind, Stamp};
use serde::{Deserialize, Serialize};

/// Detection thresholds (`[detect]` in the config).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// The sliding window of rates and ratios.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// The window over which an auth user's login networks are counted.
    #[serde(with = "humantime_serde")]
    pub login_window: Duration,
    /// Final recipient outcomes needed before a ratio counts.
    pub min_outcomes: u32,
    pub bounce_ratio_suspicious: f64,
    pub bounce_ratio_spamming: f64,
    pub defer_ratio_suspicious: f64,
    pub invalid_ratio_suspicious: f64,
    pub invalid_ratio_spamming: f64,
    /// Replies citing spam, blocklists or rate limits in a window.
    pub spam_replies_suspicious: u32,
    pub spam_replies_spamming: u32,
    /// ...and as a share of outcomes, so a big honest sender with a few
    /// such replies is not called spamming.
    pub spam_replies_ratio_spamming: f64,
    pub messages_per_window: u32,
    pub recipients_per_window: u32,
    pub recipient_domains_per_window: u32,
    pub login_networks_suspicious: u32,
    pub login_networks_spamming: u32,
    /// An auth user that logged in after this many failed logins naming
    /// it (or naming nobody, from its address) in the login window...
    pub failed_logins_suspicious: u32,
    /// ...from at least this many addresses is suspicious: a password
    /// guessed or stuffed. One address is most often the user's own mail
    /// client with an old password.
    pub failed_login_addresses_suspicious: u32,
    /// Messages in a window from a script in an odd place that make it
    /// spamming.
    pub odd_script_messages: u32,
    /// A window this many times the sender's previous busiest is a jump.
    pub history_jump: f64,
    pub history_min_messages: u32,
    /// The window over which feedback-loop complaints are counted against
    /// the recipients delivered in it.
    #[serde(with = "humantime_serde")]
    pub complaint_window: Duration,
    /// Complaints needed before their rate counts.
    pub complaints_min: u32,
    /// Complaints per delivered recipient (0.001 = 1 per thousand, the
    /// rate Gmail asks senders to stay under; 0.003 is where Gmail and
    /// Yahoo start refusing mail).
    pub complaint_rate_suspicious: f64,
    pub complaint_rate_spamming: f64,
    /// Recipients the server's own hourly limits held back or discarded
    /// in a window (cPanel's "max emails per hour") that make a sender
    /// suspicious. They are neither bounces nor deferrals: the remote
    /// side never saw them.
    pub held_by_limits_suspicious: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            window: Duration::from_secs(3600),
            login_window: Duration::from_secs(86_400),
            min_outcomes: 20,
            bounce_ratio_suspicious: 0.10,
            bounce_ratio_spamming: 0.30,
            defer_ratio_suspicious: 0.30,
            invalid_ratio_suspicious: 0.05,
            invalid_ratio_spamming: 0.15,
            spam_replies_suspicious: 1,
            spam_replies_spamming: 5,
            spam_replies_ratio_spamming: 0.02,
            messages_per_window: 300,
            recipients_per_window: 1000,
            recipient_domains_per_window: 200,
            login_networks_suspicious: 3,
            login_networks_spamming: 8,
            failed_logins_suspicious: 10,
            failed_login_addresses_suspicious: 3,
            odd_script_messages: 20,
            history_jump: 10.0,
            history_min_messages: 100,
            complaint_window: Duration::from_secs(7 * 86_400),
            complaints_min: 3,
            complaint_rate_suspicious: 0.001,
            complaint_rate_spamming: 0.003,
            held_by_limits_suspicious: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Suspicious,
    Spamming,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Suspicious => "suspicious",
            Verdict::Spamming => "spamming",
        }
    }
}

/// One reason behind a verdict, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// A stable code: `bounce_ratio`, `spam_replies`, …
    pub code: &'static str,
    pub severity: Verdict,
    /// A sentence with the figures.
    pub detail: String,
    /// Up to three log lines or replies that show it.
    pub samples: Vec<String>,
}

/// The reason codes [`evaluate`] gives.
const CODES: &[&str] = &[
    "bounce_ratio",
    "invalid_recipients",
    "defer_ratio",
    "spam_replies",
    "rate",
    "recipient_domains",
    "login_networks",
    "failed_logins",
    "script_location",
    "history_jump",
    "complaints",
    "held_by_limits",
    "ip_blocked",
    "combined",
];

/// Reasons written out and read back with a retired sender ([`retire`]):
/// their codes are one of [`CODES`] again.
mod reasons {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{CODES, Reason, Verdict};

    #[derive(Serialize, Deserialize)]
    struct Owned {
        code: String,
        severity: Verdict,
        detail: String,
        samples: Vec<String>,
    }

    pub(super) fn serialize<S: Serializer>(v: &[Reason], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Reason>, D::Error> {
        let v: Vec<Owned> = Deserialize::deserialize(d)?;
        v.into_iter()
            .map(|r| {
                let code = CODES
                    .iter()
                    .find(|c| **c == r.code)
                    .copied()
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!("unknown reason code `{}`", r.code))
                    })?;
                Ok(Reason {
                    code,
                    severity: r.severity,
                    detail: r.detail,
                    samples: r.samples,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Counts {
    messages: u32,
    recipients: u32,
    outcomes: u32,
    bounced: u32,
    deferred: u32,
    invalid: u32,
    spam_replies: u32,
    /// Held back or discarded by the server's own hourly limits.
    held: u32,
    /// Refused (bounced or deferred) because this server's IP is listed
    /// ([`signals::cites_a_listing`]), and of those, bounced.
    blocked: u32,
    blocked_bounced: u32,
}

impl Counts {
    fn add(&mut self, o: &Counts, sign: i64) {
        let f = |a: &mut u32, b: u32| *a = (*a as i64 + sign * b as i64).max(0) as u32;
        f(&mut self.messages, o.messages);
        f(&mut self.recipients, o.recipients);
        f(&mut self.outcomes, o.outcomes);
        f(&mut self.bounced, o.bounced);
        f(&mut self.deferred, o.deferred);
        f(&mut self.invalid, o.invalid);
        f(&mut self.spam_replies, o.spam_replies);
        f(&mut self.held, o.held);
        f(&mut self.blocked, o.blocked);
        f(&mut self.blocked_bounced, o.blocked_bounced);
    }
}

const MAX_DOMAINS: usize = 4096;
const SAMPLES: usize = 3;

/// Everything known about one sender.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SenderState {
    account: Option<String>,
    /// [`text_hash`] of `account`: a message for the same account leaves
    /// the string alone (it is seldom in the cache).
    account_hash: u64,
    /// (minute, counts), oldest first: most senders have one or two.
    buckets: deque::Deque<(i64, Counts), 2>,
    window: Counts,
    /// Recipient domains in the window, by [`distinct::hash_ci`].
    domains: recent::Recent<u64>,
    logins: recent::Recent<signals::Net>,
    /// Judged from the sender's name (again when read back).
    #[serde(skip)]
    odd_place: Option<&'static str>,
    total: Counts,
    all_domains: distinct::Distinct,
    client_ips: distinct::Distinct,
    first_seen: Stamp,
    last_seen: Stamp,
    history_peak: u32,
    history_hour: i64,
    samples_bounce: Vec<String>,
    samples_invalid: Vec<String>,
    samples_spam: Vec<String>,
    #[serde(default)]
    samples_held: Vec<String>,
    samples_blocked: Vec<String>,
    samples_msg: Vec<String>,
    current: Verdict,
    peak: Verdict,
    #[serde(with = "reasons")]
    peak_reasons: Vec<Reason>,
    peak_at: Stamp,
    last_minute: i64,
    /// Complaint times within the complaint window.
    complaints: Complaints,
    /// Delivered recipients per day (day number), for complaint rates.
    delivered_days: deque::Deque<(i64, u32), 4>,
    /// Changed since [`Detector::take_changed`] last saw it.
    #[serde(skip)]
    changed: bool,
    /// The most failed logins before one of its logins in the login
    /// window.
    #[serde(default)]
    failed_logins: Option<FailedSeen>,
}

/// Failed logins before a login ([`maillog::logins::FailedLogins`]), and
/// the minute of the login.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FailedSeen {
    count: u32,
    ips: u32,
    minute: i64,
    line: String,
}

impl SenderState {
    fn new(at: Stamp) -> Self {
        SenderState {
            account: None,
            account_hash: 0,
            buckets: Default::default(),
            window: Counts::default(),
            domains: Default::default(),
            logins: Default::default(),
            odd_place: None,
            total: Counts::default(),
            all_domains: Default::default(),
            client_ips: Default::default(),
            first_seen: at,
            last_seen: at,
            history_peak: 0,
            history_hour: at.secs.div_euclid(3600),
            samples_bounce: Vec::new(),
            samples_invalid: Vec::new(),
            samples_spam: Vec::new(),
            samples_held: Vec::new(),
            samples_blocked: Vec::new(),
            samples_msg: Vec::new(),
            current: Verdict::Ok,
            peak: Verdict::Ok,
            peak_reasons: Vec::new(),
            peak_at: at,
            last_minute: i64::MIN,
            complaints: Complaints::default(),
            delivered_days: Default::default(),
            changed: true,
            failed_logins: None,
        }
    }

    /// Drops the window counts of a sender silent past every window: the
    /// next message would expire all of them first. Its busiest window
    /// goes into its history now, as that message would put it.
    fn retire(&mut self) {
        self.history_peak = self.history_peak.max(self.window.messages);
        self.window = Counts::default();
        self.buckets = Default::default();
        self.domains = Default::default();
        self.logins = Default::default();
        self.failed_logins = None;
        self.delivered_days = Default::default();
        for v in [
            &mut self.samples_bounce,
            &mut self.samples_invalid,
            &mut self.samples_spam,
            &mut self.samples_held,
            &mut self.samples_blocked,
            &mut self.samples_msg,
        ] {
            v.shrink_to_fit();
        }
    }

    /// What is not written out with a retired sender, worked out again.
    fn revived(&mut self, sender: &Sender) {
        if sender.kind == SenderKind::Script {
            self.odd_place = signals::odd_script_place(&sender.value);
        }
    }

    /// Delivered recipients within `days` days up to `day`.
    fn delivered_since(&self, day: i64, days: i64) -> u32 {
        self.delivered_days
            .iter()
            .filter(|(d, _)| day - d < days)
            .map(|(_, n)| n)
            .sum()
    }
}

/// The report of one sender.
#[derive(Debug, Clone, Serialize)]
pub struct SenderReport {
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub sender: Sender,
    pub account: Option<String>,
    /// The worst verdict reached, with its reasons at that time.
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    /// The verdict on the latest window.
    pub current: Verdict,
    pub messages: u64,
    pub recipients: u64,
    pub recipient_domains: u64,
    pub bounced: u64,
    pub deferred: u64,
    pub client_ips: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub verdict_at: Option<String>,
}

/// A sender whose verdict changed with a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub sender: Sender,
    pub from: Verdict,
    pub to: Verdict,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SampleKind {
    Bounce,
    Invalid,
    Spam,
    Held,
    Blocked,
}

/// What one message tells about its sender, worked out without the
/// sender's state: a run split across threads works it out next to the
/// message, and only this small record crosses to the detector.
#[derive(Debug, Clone)]
pub struct Observation {
    sender: Sender,
    sender_hash: u64,
    account: Option<String>,
    account_hash: u64,
    received: Stamp,
    /// The message's latest time (its last recipient's outcome).
    at: Stamp,
    counts: Counts,
    /// Each recipient's domain, by [`distinct::hash_ci`]: the first
    /// inline (most messages have one recipient, and this record crosses
    /// threads), the others after it.
    domain: Option<u64>,
    more_domains: Vec<u64>,
    client_ip: Option<std::net::IpAddr>,
    failed_logins: Option<Box<maillog::logins::FailedLogins>>,
    /// Evidence candidates, in the order the message gives them (no more
    /// of a kind than a sender keeps).
    samples: Vec<(SampleKind, String)>,
    line: String,
    /// The message's id when it may be a content filter's copy of another
    /// sender's mail ([`relink`]).
    id: Option<Box<str>>,
}

impl Observation {
    /// `None` when the message does not count for its sender
    /// ([`Detector::counts`]).
    pub fn of(m: &Message) -> Option<Observation> {
        Detector::counts(m).then(|| {
            let failed = m.failed_logins.clone();
            Self::build(
                m,
                m.sender.clone(),
                m.account.clone(),
                m.line.clone(),
                failed,
            )
        })
    }

    /// As [`Observation::of`], keeping the message's strings instead of
    /// copying them.
    pub fn from_message(mut m: Message) -> Option<Observation> {
        let sender = std::mem::replace(&mut m.sender, Sender::new(SenderKind::From, ""));
        let (account, line) = (m.account.take(), std::mem::take(&mut m.line));
        let failed = m.failed_logins.take();
        Detector::counts_as(&m, &sender).then(|| Self::build(&m, sender, account, line, failed))
    }

    fn build(
        m: &Message,
        sender: Sender,
        account: Option<String>,
        line: String,
        failed_logins: Option<Box<maillog::logins::FailedLogins>>,
    ) -> Self {
        let at = m
            .recipients
            .iter()
            .map(|r| r.at)
            .max()
            .unwrap_or(m.received)
            .max(m.received);
        let mut c = Counts {
            messages: 1,
            recipients: m.recipients.len() as u32,
            ..Counts::default()
        };
        let (mut domain, mut more_domains) = (None, Vec::new());
        let mut samples = Vec::new();
        let mut sample = |kind: SampleKind, make: &dyn Fn() -> String| {
            if samples.iter().filter(|(k, _)| *k == kind).count() < SAMPLES {
                samples.push((kind, make()));
            }
        };
        for r in &m.recipients {
            if let Some((_, d)) = r.address.rsplit_once('@') {
                let h = distinct::hash_ci(d);
                match domain {
                    None => domain = Some(h),
                    Some(_) => more_domains.push(h),
                }
            }
            let reply = r.reply.as_deref().unwrap_or("");
            if r.outcome != Outcome::Delivered && signals::held_by_limits(reply) {
                // Our own limit, not the recipient's answer.
                c.held += 1;
                sample(SampleKind::Held, &|| format!("{}: {reply}", r.address));
                continue;
            }
            // A delivered recipient's reply is its last refusal when it
            // was deferred first and the delivery's own reply was not
            // kept (`skip_details`): "421-4.7.28 unusual rate of
            // unsolicited mail" counts even if a retry got through, as
            // the daemon counts it when it judges the deferral.
            let refused = r.outcome != Outcome::Delivered || r.deferrals > 0;
            // A refusal of the server's listed IP says nothing of this
            // sender's list or content: every sender gets it.
            let blocked = refused && !reply.is_empty() && signals::cites_a_listing(reply);
            if blocked {
                c.blocked += 1;
                sample(SampleKind::Blocked, &|| format!("{}: {reply}", r.address));
            }
            match r.outcome {
                Outcome::Delivered => c.outcomes += 1,
                Outcome::Bounced => {
                    c.outcomes += 1;
                    c.bounced += 1;
                    if blocked {
                        c.blocked_bounced += 1;
                    } else {
                        sample(SampleKind::Bounce, &|| format!("{}: {reply}", r.address));
                    }
                    if !blocked && signals::invalid_recipient(reply) {
                        c.invalid += 1;
                        sample(SampleKind::Invalid, &|| format!("{}: {reply}", r.address));
                    }
                }
                Outcome::Deferred => c.deferred += 1,
                Outcome::Pending => {}
            }
            if r.deferrals > 0 && r.outcome != Outcome::Deferred {
                c.deferred += 1;
            }
            if !reply.is_empty() && refused && !blocked && signals::cites_spam(reply) {
                c.spam_replies += 1;
                sample(SampleKind::Spam, &|| format!("{}: {reply}", r.address));
            }
        }
        if let Some(rej) = &m.rejected
            && signals::cites_spam(rej)
        {
            c.spam_replies += 1;
            sample(SampleKind::Spam, &|| rej.clone());
        }
        Observation {
            id: relink::id_for(m, &sender),
            sender_hash: sender_hash(&sender),
            sender,
            account_hash: account.as_deref().map_or(0, text_hash),
            account,
            received: m.received,
            at,
            counts: c,
            domain,
            more_domains,
            client_ip: m.client_ip,
            failed_logins,
            samples,
            line,
        }
    }
}

/// A sender as the detector's key, with its hash worked out once: a split
/// run works it out next to the message ([`Observation`]).
#[derive(Debug, Clone)]
struct SenderKey {
    hash: u64,
    sender: Sender,
}

/// A borrowed [`SenderKey`], to look up without a copy.
struct SenderRef<'a> {
    hash: u64,
    sender: &'a Sender,
}

impl<'a> SenderRef<'a> {
    fn of(sender: &'a Sender) -> Self {
        SenderRef {
            hash: sender_hash(sender),
            sender,
        }
    }
}

/// A string's hash, never 0 (0 stands for no string).
fn text_hash(s: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(s) | 1
}

fn sender_hash(s: &Sender) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(s)
}

impl PartialEq for SenderKey {
    fn eq(&self, o: &Self) -> bool {
        self.hash == o.hash && self.sender == o.sender
    }
}

impl Eq for SenderKey {}

impl Hash for SenderKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.hash);
    }
}

impl Hash for SenderRef<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.hash);
    }
}

impl hashbrown::Equivalent<SenderKey> for SenderRef<'_> {
    fn equivalent(&self, k: &SenderKey) -> bool {
        self.hash == k.hash && *self.sender == k.sender
    }
}

impl From<&SenderRef<'_>> for SenderKey {
    fn from(r: &SenderRef<'_>) -> Self {
        SenderKey {
            hash: r.hash,
            sender: r.sender.clone(),
        }
    }
}

/// All senders and the rules.
pub struct Detector {
    t: Thresholds,
    /// hashbrown for `entry_ref`: one lookup per message, and the key is
    /// cloned only for a new sender. Boxed: the table stays small, so
    /// growing it costs little (a relay's log with 80,000 live senders:
    /// 376 -> 244 MB), and the batches of `apply_all` load the states.
    senders: Senders<Box<SenderState>>,
    /// Senders silent past every window, in a scratch file
    /// ([`Detector::retire_idle`]).
    spill: Option<retire::Spill>,
    /// The latest time seen (messages and complaints): the clock of
    /// [`Detector::forget_idle`] and [`Detector::retire_idle`].
    newest: i64,
    /// The hour of that clock when idle senders were last forgotten.
    forgot_hour: i64,
    /// The day of that clock when idle senders were last retired.
    retired_day: i64,
    /// Someone saves the changed senders ([`Detector::take_changed`]):
    /// [`Detector::forget_idle`] keeps those not saved yet.
    saved: bool,
    /// Reasons without words, for [`judge`] (kept to reuse its room).
    scratch: Vec<Reason>,
}

type Senders<V> = hashbrown::HashMap<SenderKey, V, BuildHasherDefault<rustc_hash::FxHasher>>;

/// The version of a sender's saved state ([`Detector::take_changed`]):
/// bump it whenever `SenderState` or a type in it changes shape (the test
/// `saved_state_format_is_pinned` fails until then). A store that saved
/// another version is not read back; the daemon rebuilds from its
/// messages instead.
pub const STATE_FORMAT: i64 = 3;

/// How far out of time order messages reach the detector, at most: a
/// message swept as stale after three days (maillog's sweep, hourly)
/// comes after messages that ended later.
const OUT_OF_ORDER_SECS: i64 = 3 * 86_400 + 3_600;

/// Complaint times (unix seconds) counted per second. Reports arrive late
/// and out of order, and a flood of them must not cost a scan each.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Complaints {
    at: std::collections::BTreeMap<i64, u32>,
    count: u32,
}

impl Complaints {
    /// Adds one at `secs` and drops those `window` or more before the
    /// newest.
    fn add(&mut self, secs: i64, window: i64) {
        *self.at.entry(secs).or_default() += 1;
        self.count += 1;
        let newest = self.at.last_key_value().map_or(secs, |(t, _)| *t);
        while let Some(e) = self.at.first_entry() {
            if newest - *e.key() < window {
                break;
            }
            self.count -= e.remove();
        }
    }
}

/// A retired sender back in the live table, if `key` is one.
fn revive(spill: &mut Option<retire::Spill>, key: &SenderRef<'_>) -> Option<SenderState> {
    let mut st = spill.as_mut()?.take(key)?;
    st.revived(key.sender);
    Some(st)
}

/// Keeps the first few samples; `make` runs only when one is kept.
fn push_sample(v: &mut Vec<String>, make: impl FnOnce() -> String) {
    if v.len() < SAMPLES {
        let mut s = make();
        // The first 400 characters (a line is rarely longer: no copy).
        if s.len() > 400
            && let Some((cut, _)) = s.char_indices().nth(400)
        {
            s.truncate(cut);
        }
        v.push(s);
    }
}

impl Detector {
    pub fn new(t: Thresholds) -> Self {
        Detector {
            t,
            senders: Senders::default(),
            spill: None,
            newest: i64::MIN,
            forgot_hour: i64::MIN,
            retired_day: i64::MIN,
            saved: false,
            scratch: Vec::new(),
        }
    }

    pub fn thresholds(&self) -> &Thresholds {
        &self.t
    }

    /// Senders in the scratch file of [`Detector::retire_to`].
    pub fn retired(&self) -> usize {
        self.spill.as_ref().map_or(0, |s| s.index.len())
    }

    /// Senders tracked, retired ones included.
    pub fn senders(&self) -> usize {
        self.senders.len() + self.spill.as_ref().map_or(0, |s| s.index.len())
    }

    /// Lets [`Detector::retire_idle`] move long-silent senders to a
    /// scratch file in `dir` (removed at once; it goes with the process).
    pub fn retire_to(&mut self, dir: &std::path::Path) -> std::io::Result<()> {
        self.spill = Some(retire::Spill::create(dir)?);
        Ok(())
    }

    /// The first failure to write a retired sender out or read one back:
    /// after it, senders stay in memory.
    pub fn retire_error(&self) -> Option<&str> {
        self.spill.as_ref().and_then(|s| s.error.as_deref())
    }

    /// Retired senders that could not be read back when they sent again:
    /// they started again from nothing (their reports lack what came
    /// before).
    pub fn retire_lost(&self) -> u64 {
        self.spill.as_ref().map_or(0, |s| s.lost)
    }

    /// Does this message count for its sender? Authenticated, local and
    /// script mail always; unauthenticated mail only when it leaves the
    /// server (inbound mail to local mailboxes is not ours to judge).
    pub fn counts(m: &Message) -> bool {
        Self::counts_as(m, &m.sender)
    }

    fn counts_as(m: &Message, sender: &Sender) -> bool {
        // The MTA's own bounces and address probes are not anyone's
        // sending; mail a content filter took counts as the copy it
        // queued again ([`relink`]).
        if m.bounce_of.is_some()
            || m.probe
            || m.relayed_as.is_some()
            || (m.envelope_from.is_empty() && sender.kind == SenderKind::Local)
        {
            return false;
        }
        match sender.kind {
            SenderKind::Auth | SenderKind::Script | SenderKind::Local | SenderKind::Forward => true,
            SenderKind::Ip | SenderKind::From => m.outbound(),
        }
    }

    /// Folds one assembled message in; returns the verdict change it caused.
    pub fn observe(&mut self, m: &Message) -> Option<Change> {
        self.apply(Observation::of(m)?)
    }

    /// Folds in what one message told ([`Observation`]); the same as
    /// [`Detector::observe`] on that message.
    pub fn apply(&mut self, o: Observation) -> Option<Change> {
        let at = o.at;
        self.newest = self.newest.max(at.secs);
        let minute = at.secs.div_euclid(60);
        // Look up before inserting, so a known sender's key is not cloned.
        let key = SenderRef {
            hash: o.sender_hash,
            sender: &o.sender,
        };
        let spill = &mut self.spill;
        let st = self.senders.entry_ref(&key).or_insert_with(|| {
            if let Some(st) = revive(spill, &key) {
                return Box::new(st);
            }
            let mut st = SenderState::new(o.received);
            // A script's place is its name: judged once per sender.
            if o.sender.kind == SenderKind::Script {
                st.odd_place = signals::odd_script_place(&o.sender.value);
            }
            Box::new(st)
        });
        if o.account.is_some() && o.account_hash != st.account_hash {
            st.account = o.account;
            st.account_hash = o.account_hash;
        }
        st.changed = true;
        st.first_seen = st.first_seen.min(o.received);
        st.last_seen = st.last_seen.max(at);

        // The sender's own history: its busiest window before this hour.
        let hour = at.secs.div_euclid(3600);
        if hour != st.history_hour {
            st.history_peak = st.history_peak.max(st.window.messages);
            st.history_hour = hour;
        }

        let c = o.counts;
        for h in o.domain.into_iter().chain(o.more_domains) {
            let room = st.domains.len() < MAX_DOMAINS;
            st.domains.touch(h, minute, room);
            st.all_domains.insert_hashed(h);
        }
        for (kind, text) in o.samples {
            let v = match kind {
                SampleKind::Bounce => &mut st.samples_bounce,
                SampleKind::Invalid => &mut st.samples_invalid,
                SampleKind::Spam => &mut st.samples_spam,
                SampleKind::Held => &mut st.samples_held,
                SampleKind::Blocked => &mut st.samples_blocked,
            };
            push_sample(v, || text);
        }
        push_sample(&mut st.samples_msg, || o.line);
        if let Some(ip) = o.client_ip {
            st.client_ips.insert(&ip);
            if o.sender.kind == SenderKind::Auth {
                st.logins.touch(signals::Net::of(ip), minute, true);
            }
        }
        if let Some(f) = o.failed_logins
            && st.failed_logins.as_ref().is_none_or(|s| f.count >= s.count)
        {
            st.failed_logins = Some(FailedSeen {
                count: f.count,
                ips: f.ips,
                minute,
                line: f.line,
            });
        }
        match st.buckets.back_mut() {
            Some((mm, b)) if *mm == minute => b.add(&c, 1),
            _ => st.buckets.push_back((minute, c)),
        }
        st.window.add(&c, 1);
        st.total.add(&c, 1);
        let delivered = c.outcomes.saturating_sub(c.bounced);
        if delivered > 0 {
            let day = at.secs.div_euclid(86_400);
            match st.delivered_days.back_mut() {
                Some((d, n)) if *d == day => *n += delivered,
                _ => st.delivered_days.push_back((day, delivered)),
            }
            let keep = (self.t.complaint_window.as_secs() / 86_400).max(1) as i64 + 1;
            while st
                .delivered_days
                .front()
                .is_some_and(|(d, _)| day - d >= keep)
            {
                st.delivered_days.pop_front();
            }
        }
        let window_min = (self.t.window.as_secs() / 60).max(1) as i64;
        while let Some((mm, b)) = st.buckets.front().copied() {
            if minute - mm < window_min {
                break;
            }
            st.window.add(&b, -1);
            st.buckets.pop_front();
        }
        // Expire set members once a minute, not per message.
        if minute != st.last_minute {
            st.last_minute = minute;
            st.domains.expire(minute, window_min);
            let login_min = (self.t.login_window.as_secs() / 60).max(1) as i64;
            st.logins.expire(minute, login_min);
            if st
                .failed_logins
                .as_ref()
                .is_some_and(|f| minute - f.minute >= login_min)
            {
                st.failed_logins = None;
            }
        }

        judge(&self.t, st, &o.sender, at, &mut self.scratch)
    }

    /// Folds in many observations, in order, like [`Detector::apply`] on
    /// each (the verdict changes are not returned). Each sender's state is
    /// read a few observations ahead, so the memory loads of several
    /// senders overlap instead of waiting one after the other.
    pub fn apply_all(&mut self, obs: &mut Vec<Observation>) {
        let mut touched = 0u64;
        for o in obs.iter() {
            let key = SenderRef {
                hash: o.sender_hash,
                sender: &o.sender,
            };
            if let Some(st) = self.senders.get(&key) {
                touched = touched
                    .wrapping_add(st.last_minute as u64)
                    .wrapping_add(st.buckets.len() as u64)
                    .wrapping_add(st.domains.len() as u64)
                    .wrapping_add(st.total.messages as u64);
            }
        }
        std::hint::black_box(touched);
        for o in obs.drain(..) {
            self.apply(o);
        }
    }

    /// Folds in a feedback-loop complaint about `sender` (arrived at
    /// `at`); returns the verdict change it caused. A sender not seen in
    /// the logs yet is tracked from here.
    pub fn complaint(
        &mut self,
        sender: &Sender,
        account: Option<&str>,
        at: Stamp,
    ) -> Option<Change> {
        let key = SenderRef::of(sender);
        let spill = &mut self.spill;
        let st = self.senders.entry_ref(&key).or_insert_with(|| {
            Box::new(revive(spill, &key).unwrap_or_else(|| SenderState::new(at)))
        });
        if st.account.is_none()
            && let Some(a) = account
        {
            st.account = Some(a.to_string());
            st.account_hash = text_hash(a);
        }
        st.last_seen = st.last_seen.max(at);
        st.changed = true;
        self.newest = self.newest.max(at.secs);
        let window = self.t.complaint_window.as_secs() as i64;
        st.complaints.add(at.secs, window);
        judge(&self.t, st, sender, at, &mut self.scratch)
    }

    /// Forgets the senders that sent nothing for a day longer than every
    /// window (rate, logins, complaints): their counts have all expired,
    /// so what goes is their history (the busiest hour before, the first
    /// samples) and their report totals. The daemon calls it, so its
    /// memory follows the senders active lately, not every sender it ever
    /// saw (a relay meets a new outside address with most messages);
    /// `logs analyze` keeps them all for its report. The clock is the
    /// latest time the detector was given; this runs at most once an hour
    /// of it. Returns how many senders were forgotten.
    pub fn forget_idle(&mut self) -> usize {
        let hour = self.newest.div_euclid(3600);
        if hour <= self.forgot_hour {
            return 0;
        }
        self.forgot_hour = hour;
        let idle = self.idle_secs();
        let before = self.senders.len();
        let (newest, saved) = (self.newest, self.saved);
        self.senders
            .retain(|_, st| newest - st.last_seen.secs <= idle || (saved && st.changed));
        before - self.senders.len()
    }

    /// Someone will save the senders ([`Detector::take_changed`]): from now
    /// on [`Detector::forget_idle`] forgets only senders handed out since
    /// they last changed.
    pub fn saving_changes(&mut self) {
        self.saved = true;
    }

    /// Hands each sender changed since the last call to `save` as its
    /// latest time and its whole state in [`STATE_FORMAT`], so the daemon
    /// can keep its senders across a restart and take one back after
    /// [`Detector::forget_idle`] ([`Detector::restore`]). Stops at the
    /// first error of `save` (the senders not handed out yet stay
    /// changed).
    pub fn take_changed<E>(
        &mut self,
        mut save: impl FnMut(&Sender, Stamp, &[u8]) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut n = 0;
        let mut buf = Vec::new();
        for (k, st) in self.senders.iter_mut().filter(|(_, st)| st.changed) {
            buf.clear();
            // Every field serialises (maps, sets, strings): it cannot fail
            // short of memory, and a state that did would only be kept.
            buf = match postcard::to_extend(&**st, std::mem::take(&mut buf)) {
                Ok(b) => b,
                Err(_) => continue,
            };
            save(&k.sender, st.last_seen, &buf)?;
            st.changed = false;
            n += 1;
        }
        Ok(n)
    }

    /// Is `sender` in memory?
    pub fn knows(&self, sender: &Sender) -> bool {
        self.senders.contains_key(&SenderRef::of(sender))
    }

    /// Takes back a sender [`Detector::take_changed`] handed out, as it
    /// was (a sender already in memory is left as it is). Fails when the
    /// bytes are not a state of this [`STATE_FORMAT`].
    pub fn restore(&mut self, sender: &Sender, bytes: &[u8]) -> Result<(), postcard::Error> {
        if self.knows(sender) {
            return Ok(());
        }
        let mut st: SenderState = postcard::from_bytes(bytes)?;
        st.revived(sender);
        self.newest = self.newest.max(st.last_seen.secs);
        self.senders.insert(
            SenderKey {
                hash: sender_hash(sender),
                sender: sender.clone(),
            },
            Box::new(st),
        );
        Ok(())
    }

    /// Moves the senders that sent nothing for [`OUT_OF_ORDER_SECS`]
    /// longer than [`Detector::forget_idle`] waits out of memory, into the
    /// scratch file of [`Detector::retire_to`] (nothing happens without
    /// one). Their window counts, all expired, are dropped; their totals,
    /// verdicts and evidence are read back for the reports, and a sender
    /// that sends again is taken back as it was. `logs analyze` calls it,
    /// so its memory follows the senders active lately, not every sender
    /// in the log (a relay meets a new outside sender with nearly every
    /// message). Runs once a day of log time; returns how
    /// many were retired.
    pub fn retire_idle(&mut self) -> usize {
        let day = self.newest.div_euclid(86_400);
        let usable = self.spill.as_ref().is_some_and(|s| s.error.is_none());
        if day <= self.retired_day || !usable {
            return 0;
        }
        self.retired_day = day;
        let idle = self.idle_secs() + OUT_OF_ORDER_SECS;
        let newest = self.newest;
        let Some(spill) = self.spill.as_mut() else {
            return 0;
        };
        let before = self.senders.len();
        let gone = self
            .senders
            .extract_if(|_, st| newest - st.last_seen.secs > idle)
            .map(|(k, mut st)| {
                st.retire();
                (k, *st)
            });
        let back = spill.put(gone);
        self.senders
            .extend(back.into_iter().map(|(k, st)| (k, Box::new(st))));
        let n = before - self.senders.len();
        // A table that held many more senders than it does now.
        if self.senders.capacity() > 4 * self.senders.len().max(1024) {
            self.senders.shrink_to_fit();
        }
        n
    }

    /// How long a sender must be silent to be forgotten or retired: a day
    /// past every window.
    pub fn idle_secs(&self) -> i64 {
        let t = &self.t;
        let windows = [t.window, t.login_window, t.complaint_window];
        windows.into_iter().max().unwrap_or_default().as_secs() as i64 + 86_400
    }

    /// Every sender's report, spamming first, then by volume.
    /// Every sender's verdict (the worst it reached), retired ones included,
    /// in no order.
    pub fn verdicts(&self) -> Vec<Verdict> {
        let live = self.senders.values().map(|st| st.peak);
        let retired = self
            .spill
            .iter()
            .flat_map(|s| s.index.values().map(|e| e.verdict));
        live.chain(retired).collect()
    }

    pub fn reports(&self) -> std::io::Result<Vec<SenderReport>> {
        let mut v = Vec::with_capacity(self.senders());
        self.each_report(&mut |r| -> std::io::Result<()> {
            v.push(r);
            Ok(())
        })?;
        Ok(v)
    }

    /// Hands every sender's report to `f` in the order of
    /// [`Detector::reports`], building one at a time (retired senders are
    /// read back as they come). Stops at `f`'s first error, or when a
    /// retired sender cannot be read back.
    pub fn each_report<E: From<std::io::Error>>(
        &self,
        f: &mut dyn FnMut(SenderReport) -> Result<(), E>,
    ) -> Result<(), E> {
        enum Src<'a> {
            Live(&'a SenderState),
            Retired(&'a retire::Spill, retire::Entry),
        }
        let live = self
            .senders
            .iter()
            .map(|(k, st)| (st.peak, st.total.messages, &k.sender, Src::Live(st)));
        let retired = self.spill.iter().flat_map(|s| {
            s.index
                .iter()
                .map(move |(k, e)| (e.verdict, e.messages, &k.sender, Src::Retired(s, *e)))
        });
        let mut order: Vec<_> = live.chain(retired).collect();
        // Senders are unique: an unstable sort gives the one order.
        order.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)));
        for (_, _, sender, src) in order {
            let r = match src {
                Src::Live(st) => report(sender, st),
                Src::Retired(spill, e) => {
                    let st = spill.read(&e).map_err(|err| {
                        std::io::Error::other(format!(
                            "cannot read {sender} back from the scratch file: {err}"
                        ))
                    })?;
                    report(sender, &st)
                }
            };
            f(r)?;
        }
        Ok(())
    }
}

/// One sender's report.
fn report(sender: &Sender, st: &SenderState) -> SenderReport {
    SenderReport {
        ty: "sender",
        sender: sender.clone(),
        account: st.account.clone(),
        verdict: st.peak,
        reasons: st.peak_reasons.clone(),
        current: st.current,
        messages: st.total.messages as u64,
        recipients: st.total.recipients as u64,
        recipient_domains: st.all_domains.count(),
        bounced: st.total.bounced as u64,
        deferred: st.total.deferred as u64,
        client_ips: st.client_ips.count(),
        first_seen: st.first_seen.iso(),
        last_seen: st.last_seen.iso(),
        verdict_at: (st.peak != Verdict::Ok).then(|| st.peak_at.iso()),
    }
}

/// Re-evaluates a sender after new evidence; a change when its verdict
/// moved (the reasons are written out only then).
///
/// `scratch` holds the reasons without their words for a moment: most
/// messages change nothing, and cost no allocation.
fn judge(
    t: &Thresholds,
    st: &mut SenderState,
    sender: &Sender,
    at: Stamp,
    scratch: &mut Vec<Reason>,
) -> Option<Change> {
    scratch.clear();
    rules(t, st, false, scratch);
    let verdict = scratch
        .iter()
        .map(|x| x.severity)
        .max()
        .unwrap_or(Verdict::Ok);
    let before = st.current;
    st.current = verdict;
    let new_peak = verdict > st.peak
        || (verdict == st.peak && verdict != Verdict::Ok && scratch.len() > st.peak_reasons.len());
    if verdict == before && !new_peak {
        return None;
    }
    let reasons = evaluate(t, st, true);
    if new_peak {
        st.peak = verdict;
        st.peak_reasons = reasons.clone();
        st.peak_at = at;
    }
    if verdict == before {
        return None;
    }
    Some(Change {
        sender: sender.clone(),
        from: before,
        to: verdict,
        reasons,
    })
}

/// The severity a value reaches against two thresholds, if any.
fn level(x: f64, suspicious: f64, spamming: f64) -> Option<Verdict> {
    if x >= spamming {
        Some(Verdict::Spamming)
    } else if x >= suspicious {
        Some(Verdict::Suspicious)
    } else {
        None
    }
}

fn ratio(n: u32, d: u32) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// A window in words, as a reason's detail says it: `1 hour`, `7 days`
/// (humantime's `1h 30m` for one that is not a whole number of a unit).
fn span(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let whole = [(86_400, "day"), (3_600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(unit, _)| s > 0 && s.is_multiple_of(*unit) && d.subsec_nanos() == 0);
    match whole {
        Some((unit, word)) if s == unit => format!("1 {word}"),
        Some((unit, word)) => format!("{} {word}s", s / unit),
        None => humantime::format_duration(d).to_string(),
    }
}

/// The rules. Each yields a reason at a severity; the verdict is the worst.
///
/// With `describe` false only codes and severities are filled in: that is
/// all a message needs unless the verdict changes, and it keeps the
/// per-message cost to arithmetic.
fn evaluate(t: &Thresholds, st: &SenderState, describe: bool) -> Vec<Reason> {
    let mut out = Vec::new();
    rules(t, st, describe, &mut out);
    out
}

/// [`evaluate`] into `out`.
fn rules(t: &Thresholds, st: &SenderState, describe: bool, out: &mut Vec<Reason>) {
    let w = &st.window;
    let win = if describe {
        span(t.window)
    } else {
        String::new()
    };
    let mut reason = |code, severity, detail: &dyn Fn() -> String, samples: &[String]| {
        out.push(Reason {
            code,
            severity,
            detail: if describe { detail() } else { String::new() },
            samples: if describe {
                samples.to_vec()
            } else {
                Vec::new()
            },
        })
    };

    // Recipients refused because the server's IP is listed say nothing
    // of this sender's list: the ratios leave them out.
    let finals = w.outcomes.saturating_sub(w.blocked_bounced);
    if finals >= t.min_outcomes {
        let bounced = w.bounced.saturating_sub(w.blocked_bounced);
        let b = ratio(bounced, finals);
        if let Some(severity) = level(b, t.bounce_ratio_suspicious, t.bounce_ratio_spamming) {
            reason(
                "bounce_ratio",
                severity,
                &|| {
                    format!(
                        "{bounced} of {finals} recipients bounced in {win} ({})",
                        pct(b)
                    )
                },
                &st.samples_bounce,
            );
        }
        let inv = ratio(w.invalid, finals);
        if let Some(severity) = level(inv, t.invalid_ratio_suspicious, t.invalid_ratio_spamming) {
            reason(
                "invalid_recipients",
                severity,
                &|| {
                    format!(
                        "{} of {finals} recipients do not exist ({}){}",
                        w.invalid,
                        pct(inv),
                        if severity == Verdict::Spamming {
                            ": a scraped or bought list"
                        } else {
                            ""
                        }
                    )
                },
                &st.samples_invalid,
            );
        }
    }
    let attempts = finals + w.deferred;
    if attempts >= t.min_outcomes {
        let d = ratio(w.deferred, attempts);
        if d >= t.defer_ratio_suspicious {
            reason(
                "defer_ratio",
                Verdict::Suspicious,
                &|| {
                    format!(
                        "{} of {attempts} recipients deferred in {win} ({})",
                        w.deferred,
                        pct(d)
                    )
                },
                &[],
            );
        }
    }
    if w.spam_replies >= t.spam_replies_suspicious {
        let share = ratio(w.spam_replies, attempts.max(w.spam_replies));
        let severity = if w.spam_replies >= t.spam_replies_spamming
            && share >= t.spam_replies_ratio_spamming
        {
            Verdict::Spamming
        } else {
            Verdict::Suspicious
        };
        reason(
            "spam_replies",
            severity,
            &|| match w.spam_replies {
                1 => format!("1 remote reply in {win} cites spam, a blocklist or a rate limit"),
                n => format!("{n} remote replies in {win} cite spam, a blocklist or a rate limit"),
            },
            &st.samples_spam,
        );
    }
    if w.blocked >= t.spam_replies_suspicious.max(1) {
        reason(
            "ip_blocked",
            Verdict::Suspicious,
            &|| {
                format!(
                    "{} recipients in {win} refused because this server's IP is listed: every sender here gets these while the listing lasts",
                    w.blocked
                )
            },
            &st.samples_blocked,
        );
    }
    if w.held >= t.held_by_limits_suspicious.max(1) {
        reason(
            "held_by_limits",
            Verdict::Suspicious,
            &|| {
                format!(
                    "{} recipients in {win} held back or discarded by this server's hourly limits",
                    w.held
                )
            },
            &st.samples_held,
        );
    }
    if w.messages >= t.messages_per_window || w.recipients >= t.recipients_per_window {
        reason(
            "rate",
            Verdict::Suspicious,
            &|| {
                format!(
                    "{} messages to {} recipients in {win}",
                    w.messages, w.recipients
                )
            },
            &[],
        );
    }
    if st.domains.len() as u32 >= t.recipient_domains_per_window {
        reason(
            "recipient_domains",
            Verdict::Suspicious,
            &|| format!("{} distinct recipient domains in {win}", st.domains.len()),
            &[],
        );
    }
    let login_win = if describe {
        span(t.login_window)
    } else {
        String::new()
    };
    if let Some(f) = &st.failed_logins
        && f.count >= t.failed_logins_suspicious.max(1)
        && f.ips >= t.failed_login_addresses_suspicious
    {
        let line = if f.line.is_empty() {
            &[][..]
        } else {
            std::slice::from_ref(&f.line)
        };
        reason(
            "failed_logins",
            Verdict::Suspicious,
            &|| {
                format!(
                    "logged in after {} failed logins from {} addresses within {login_win} before (naming it, or from its address): a guessed or stolen password",
                    f.count, f.ips
                )
            },
            line,
        );
    }
    let nets = st.logins.len() as u32;
    if nets >= t.login_networks_suspicious {
        let shown: Vec<String> = if describe {
            let mut nets_list: Vec<std::net::IpAddr> =
                st.logins.iter().map(|(n, _)| n.ip()).collect();
            nets_list.sort();
            nets_list
                .into_iter()
                .take(SAMPLES)
                .map(signals::network_name)
                .collect()
        } else {
            Vec::new()
        };
        let severity = if nets >= t.login_networks_spamming && w.messages >= t.min_outcomes {
            Verdict::Spamming
        } else {
            Verdict::Suspicious
        };
        reason(
            "login_networks",
            severity,
            &|| format!("logged in from {nets} networks in {login_win}"),
            &shown,
        );
    }
    if let Some(why) = st.odd_place {
        let severity = if w.messages >= t.odd_script_messages {
            Verdict::Spamming
        } else {
            Verdict::Suspicious
        };
        reason(
            "script_location",
            severity,
            &|| match w.messages {
                1 => format!("the script is {why}; 1 message in {win}"),
                n => format!("the script is {why}; {n} messages in {win}"),
            },
            &st.samples_msg,
        );
    }
    if st.history_peak > 0
        && w.messages >= t.history_min_messages
        && w.messages as f64 >= t.history_jump * st.history_peak as f64
    {
        reason(
            "history_jump",
            Verdict::Suspicious,
            &|| {
                format!(
                    "{} messages in {win}, its busiest before was {}",
                    w.messages, st.history_peak
                )
            },
            &[],
        );
    }
    let complaints = st.complaints.count;
    if complaints >= t.complaints_min {
        let days = (t.complaint_window.as_secs() / 86_400).max(1) as i64;
        let delivered = st.delivered_since(st.last_seen.secs.div_euclid(86_400), days);
        let rate = ratio(complaints, delivered);
        let window = if describe {
            span(t.complaint_window)
        } else {
            String::new()
        };
        // Complaints about mail we did not see delivered (older than the
        // window, or logs not followed) still count as harm, without a rate.
        let severity = if delivered == 0 {
            Some(Verdict::Suspicious)
        } else {
            level(rate, t.complaint_rate_suspicious, t.complaint_rate_spamming)
        };
        if let Some(severity) = severity {
            reason(
                "complaints",
                severity,
                &|| {
                    if delivered == 0 {
                        format!(
                            "{complaints} feedback-loop complaints in {window}, with no delivered mail seen in that time"
                        )
                    } else {
                        format!(
                            "{complaints} feedback-loop complaints in {window} against {delivered} delivered recipients ({:.2} per thousand)",
                            rate * 1000.0
                        )
                    }
                },
                &[],
            );
        }
    }
    // Several independent signs of harm at once are worse than any one;
    // volume signs (rate, domains, a jump) only count alongside harm, so a
    // big honest mailing never adds up to spamming by size alone.
    // Our own hourly limits holding mail back say the same as the rate.
    // A listing's refusals reach every sender: context, not harm.
    const VOLUME: &[&str] = &[
        "rate",
        "recipient_domains",
        "history_jump",
        "held_by_limits",
        "ip_blocked",
    ];
    let harm = out
        .iter()
        .filter(|r| r.severity == Verdict::Suspicious && !VOLUME.contains(&r.code))
        .count();
    let volume = out.iter().any(|r| VOLUME.contains(&r.code));
    if (harm >= 3 || (harm >= 2 && volume)) && !out.iter().any(|r| r.severity == Verdict::Spamming)
    {
        let detail = if describe {
            let codes: Vec<&str> = out.iter().map(|r| r.code).collect();
            format!(
                "{} warning signs at once: {}",
                codes.len(),
                codes.join(", ")
            )
        } else {
            String::new()
        };
        out.push(Reason {
            code: "combined",
            severity: Verdict::Spamming,
            detail,
            samples: Vec::new(),
        });
    }
}

#[cfg(test)]
mod tests;
