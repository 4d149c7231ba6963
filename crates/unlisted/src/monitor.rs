//! The monitor: one sweep checks every configured target on every watched
//! list, folds the answers into listing episodes (with flap damping) and
//! queues alerts; then the alert outbox is delivered.
//!
//! A sweep writes to the store in one transaction at its end, so a sweep cut
//! short (shutdown, crash) leaves no half-applied state.

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use blocklists::damping::{Damping, Run, Transition};
use blocklists::{
    Catalog, CheckOptions, Checker, DnsClient, PreparedList, Status, Target, TargetKind,
};
use store::{Evidence, Outbox, Store, Streak, SweepStats, Update, ZoneHealthRow};

use crate::alert::Alerter;
use crate::config::Config;
use crate::output::now;

/// How far the daemon has fed stored complaints to the detector.
pub(crate) const COMPLAINTS_CURSOR: &str = "complaints";

/// Old messages deleted per save at most.
const PRUNE_BATCH: i64 = 20_000;

pub(crate) struct Monitor {
    pub(crate) config: Config,
    pub(crate) catalog: Catalog,
    pub(crate) store: Store,
    pub(crate) client: DnsClient,
    pub(crate) lists: Vec<PreparedList>,
    pub(crate) alerter: Alerter,
    pub(crate) logs: Vec<crate::ingest::LogIngest>,
    pub(crate) detector: detect::Detector,
    pub(crate) remote: crate::remote::RemoteWatch,
    /// Site scans running in their own threads, by id.
    pub(crate) scans: HashMap<i64, std::thread::JoinHandle<()>>,
    /// When the detector's changed senders were last saved.
    pub(crate) senders_saved: Option<std::time::Instant>,
    /// Alert channels that failed: when each is tried again, and its
    /// failures in a row ([`alert_retry_wait`]).
    pub(crate) resting: HashMap<String, (std::time::Instant, u32)>,
    /// When the mail queue was last counted.
    pub(crate) queue_counted: Option<std::time::Instant>,
}

/// How many queued messages' senders a count of Postfix's queue reads
/// (one `postcat` each); Exim's are all read.
const QUEUE_SAMPLE: usize = 200;
/// Senders kept with the count, most first.
const QUEUE_SENDERS: usize = 10;

/// How long an alert channel rests after `failures` failed deliveries in
/// a row: 30 s, doubled at each, at most 15 minutes. A channel that is
/// down (a receiver restarting, a mail relay gone) is not tried at every
/// round, where each try could wait its whole timeout and keep the logs
/// unread, and the alerts' `max_attempts` span hours, not seconds.
pub(crate) fn alert_retry_wait(failures: u32) -> std::time::Duration {
    doubling_wait(30, 15 * 60, failures)
}

/// `first` seconds after one failure, doubled at each more, at most `max`.
pub(crate) fn doubling_wait(first: u64, max: u64, failures: u32) -> std::time::Duration {
    let secs = first.saturating_mul(1 << failures.saturating_sub(1).min(20));
    std::time::Duration::from_secs(secs.min(max))
}

/// What one sweep saw and changed.
#[derive(Debug, Default)]
pub(crate) struct SweepReport {
    pub(crate) stats: SweepStats,
    pub(crate) opened: usize,
    pub(crate) closed: usize,
}

type Key = (String, String, String);

impl Monitor {
    pub(crate) async fn sweep(&mut self) -> Result<SweepReport> {
        let targets = self.config.targets();
        let started = now();
        let sweep_id = self.store.begin_sweep(started)?;
        let opts = CheckOptions {
            concurrency: self.config.dns.concurrency.max(1),
            self_test: self.config.monitor.self_test,
            fetch_txt: true,
            zone_qps: self.config.zone_qps(&self.lists),
            ..CheckOptions::default()
        };
        let checker = Checker::new(self.client.clone(), self.lists.clone(), opts);

        let mut stats = SweepStats::default();
        let mut health_rows = Vec::new();
        if self.config.monitor.self_test {
            let kinds: BTreeSet<TargetKind> = targets.keys().map(Target::kind).collect();
            let health = checker
                .self_test(&kinds.into_iter().collect::<Vec<_>>())
                .await;
            let failed = health.iter().filter(|h| h.problem.is_some()).count();
            // Every zone failing at once is the resolver, not the lists: say
            // that once instead of once per zone.
            let all_failed = failed > 0 && failed == health.len();
            if all_failed {
                tracing::error!(zones = failed, nameserver = %self.client.nameserver(), problem = health[0].problem.as_deref().unwrap_or(""), "no zone passed its self-test: the nameserver is not answering for blocklists; no verdicts this sweep");
            }
            for h in health {
                if let Some(p) = &h.problem {
                    stats.zones_failed += 1;
                    if !all_failed {
                        tracing::warn!(list = %h.list, zone = %h.zone, kind = %h.kind, problem = %p, "zone failed its self-test; its verdicts are suppressed this sweep");
                    }
                }
                health_rows.push(ZoneHealthRow {
                    list: h.list,
                    kind: h.kind.as_str().to_string(),
                    problem: h.problem,
                    checked: started,
                });
            }
        }

        let mut runs: HashMap<Key, Streak> = HashMap::new();
        for server in self.config.servers.iter().map(|s| s.name.as_str()) {
            for (target, list, s) in self.store.streaks(server)? {
                runs.insert((server.to_string(), target, list), s);
            }
        }
        let open: HashMap<Key, i64> = self
            .store
            .open_episodes(None)?
            .into_iter()
            .map(|e| ((e.server, e.target, e.list), e.id))
            .collect();

        let damping = Damping {
            listed_after: self.config.monitor.listed_after,
            clean_after: self.config.monitor.clean_after,
        };
        let channels = self.alerter.channels();
        let mut updates = Vec::new();
        let mut report = SweepReport::default();
        checker
            .check_all(targets.keys().cloned().map(Ok::<_, ()>), |tr| {
                let Ok(tr) = tr else { return };
                let owners = targets.get(&tr.target).map(Vec::as_slice).unwrap_or(&[]);
                let target = tr.target.to_string();
                for r in &tr.results {
                    stats.lookups += 1;
                    match r.status {
                        Status::Listed => stats.listed += 1,
                        Status::Clean => stats.clean += 1,
                        Status::Error => stats.errors += 1,
                        Status::Unknown => stats.unknown += 1,
                    }
                    if matches!(r.status, Status::Error | Status::Unknown) {
                        tracing::debug!(%target, list = %r.list, error = r.error.as_deref().unwrap_or(""), "no verdict");
                    }
                    let evidence = || Evidence {
                        zone: r.zone.clone(),
                        codes: r.codes.iter().map(|c| c.to_string()).collect(),
                        meanings: r.meanings.clone(),
                        txt: r.txt.clone(),
                    };
                    for server in owners {
                        let key = (server.clone(), target.clone(), r.list.clone());
                        let prev = runs.get(&key).map(|s| Run {
                            listed: s.listed,
                            count: s.count,
                        });
                        let episode = open.get(&key).copied();
                        let (run, t) = damping.observe(prev, episode.is_some(), r.status);
                        if let Some(run) = run.filter(|r| Some(*r) != prev) {
                            updates.push(Update::Streak {
                                server: server.clone(),
                                target: target.clone(),
                                list: r.list.clone(),
                                streak: Streak {
                                    listed: run.listed,
                                    count: run.count,
                                },
                            });
                        }
                        match (t, episode) {
                            (Transition::Open, _) => {
                                tracing::warn!(%server, %target, list = %r.list, codes = ?r.codes, "new listing");
                                report.opened += 1;
                                updates.push(Update::Open {
                                    server: server.clone(),
                                    target: target.clone(),
                                    list: r.list.clone(),
                                    evidence: evidence(),
                                    channels: channels.clone(),
                                });
                            }
                            (Transition::Refresh, Some(id)) => updates.push(Update::Touch {
                                episode: id,
                                evidence: evidence(),
                            }),
                            (Transition::Close, Some(id)) => {
                                tracing::warn!(%server, %target, list = %r.list, "delisted");
                                report.closed += 1;
                                updates.push(Update::Close {
                                    episode: id,
                                    channels: channels.clone(),
                                });
                            }
                            _ => {}
                        }
                    }
                }
            })
            .await;
        self.store
            .finish_sweep(sweep_id, now(), &updates, &health_rows, stats)?;
        report.stats = stats;
        Ok(report)
    }

    /// Tries every pending alert once; returns (delivered, failed). The
    /// same alert goes out at most once per `alerts.repeat_after` on a
    /// channel: the ones in between are marked held back and counted in
    /// the next one sent.
    pub(crate) async fn deliver_alerts(&mut self) -> Result<(usize, usize)> {
        let mut tally = (0, 0);
        for alert in self.store.pending_alerts()? {
            let key = crate::alert::Payload::key(&alert);
            let Some(n) = self.may_send(Outbox::Listings, alert.id, &alert.channel, &key)? else {
                continue;
            };
            let res = self.alerter.deliver(&alert, &self.catalog, n).await;
            self.settle(
                Outbox::Listings,
                alert.id,
                &alert.channel,
                &key,
                alert.attempts,
                res,
                &mut tally,
            )?;
        }
        for (id, channel, attempts, change) in self.store.pending_sender_alerts()? {
            let key = format!("sender:{}:{}", change.sender, change.to);
            let Some(n) = self.may_send(Outbox::Senders, id, &channel, &key)? else {
                continue;
            };
            let forward = change.sender.starts_with("forward:");
            let containment = match self.store.hold(&change.sender)? {
                Some(h) => Some(crate::alert::Containment::Held(h)),
                None if forward && change.to == "spamming" => Some(
                    crate::alert::Containment::Advice(crate::alert::FORWARD_ADVICE.into()),
                ),
                None if change.to == "spamming" => Some(crate::alert::Containment::Proposed {
                    action: self.config.enforce.auto_action.to_string(),
                    command: format!(
                        "unlisted hold add {} --action {} --reason 'detected spamming'",
                        change.sender, self.config.enforce.auto_action
                    ),
                }),
                None => None,
            };
            let res = self
                .alerter
                .deliver_sender(id, &channel, &change, containment.as_ref(), n)
                .await;
            self.settle(
                Outbox::Senders,
                id,
                &channel,
                &key,
                attempts,
                res,
                &mut tally,
            )?;
        }
        for a in self.store.pending_event_alerts()? {
            let Some(n) = self.may_send(Outbox::Events, a.id, &a.channel, &a.key)? else {
                continue;
            };
            let res = self.alerter.deliver_event(&a, n).await;
            self.settle(
                Outbox::Events,
                a.id,
                &a.channel,
                &a.key,
                a.attempts,
                res,
                &mut tally,
            )?;
        }
        Ok(tally)
    }

    /// Whether alert `id` for `key` may go out on `channel` now: the count
    /// held back since the last one sent, or `None` when it is held back
    /// (and recorded so).
    fn may_send(&self, outbox: Outbox, id: i64, channel: &str, key: &str) -> Result<Option<i64>> {
        if self
            .resting
            .get(channel)
            .is_some_and(|(until, _)| std::time::Instant::now() < *until)
        {
            // Tried at the channel's next try; not an attempt.
            return Ok(None);
        }
        let every = self.config.alerts.repeat_after.as_secs() as i64;
        let now = now();
        match self.store.alert_key(channel, key)? {
            Some((last, _)) if now - last < every => {
                tracing::info!(%channel, alert = id, key, "alert held back: the same went out less than alerts.repeat_after ago");
                self.store.alert_suppressed(outbox, id, channel, key, now)?;
                Ok(None)
            }
            Some((_, n)) => Ok(Some(n)),
            None => Ok(Some(0)),
        }
    }

    /// Records a delivery attempt: delivered, failed (retried when the
    /// channel has rested), or abandoned after `alerts.max_attempts`.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        outbox: Outbox,
        id: i64,
        channel: &str,
        key: &str,
        attempts: i64,
        res: Result<(), String>,
        tally: &mut (usize, usize),
    ) -> Result<()> {
        let now = now();
        match res {
            Ok(()) => {
                tally.0 += 1;
                self.resting.remove(channel);
                self.store.alert_delivered(outbox, id, now)?;
                self.store.alert_key_sent(channel, key, now)?;
            }
            Err(e) => {
                tally.1 += 1;
                let failures = self.resting.get(channel).map_or(0, |r| r.1) + 1;
                let wait = alert_retry_wait(failures);
                self.resting.insert(
                    channel.to_string(),
                    (std::time::Instant::now() + wait, failures),
                );
                tracing::warn!(%channel, alert = id, error = %e, retry_in = ?wait, "alert not delivered; the channel's alerts wait, then are tried again");
                self.store.alert_failed(outbox, id, &e)?;
                if attempts + 1 >= self.config.alerts.max_attempts {
                    tracing::error!(%channel, alert = id, attempts = attempts + 1, "alert abandoned after too many failed deliveries");
                    self.store.alert_abandoned(outbox, id, now)?;
                }
            }
        }
        Ok(())
    }

    /// Reads what is new in every followed log. With `drain`, reads each to
    /// its end whatever `ingest.max_lines` says (one-shot runs).
    pub(crate) fn ingest_logs(&mut self, drain: bool) -> anyhow::Result<(usize, usize)> {
        let channels = self.alerter.channels();
        let max = self.config.ingest.max_lines;
        let (mut lines, mut new) = (0, 0);
        // Login logs first: their failed logins wait in the other logs'
        // readers for the logins after them, also in a backlog.
        let mut order: Vec<usize> = (0..self.logs.len()).collect();
        order.sort_by_key(|&i| !self.logs[i].logins_only);
        for i in order {
            let log = &mut self.logs[i];
            loop {
                match log.poll(
                    &mut self.store,
                    &mut self.detector,
                    &channels,
                    max,
                    &mut self.remote,
                ) {
                    Ok((l, n, at_end)) => {
                        lines += l;
                        new += n;
                        if at_end || !drain || l == 0 {
                            break;
                        }
                    }
                    // Only the store can fail here in a way that must stop the
                    // round (the daemon waits for it, `serve::store_failed`);
                    // a log that cannot be read is reported and retried.
                    Err(e) if e.downcast_ref::<store::StoreError>().is_some() => return Err(e),
                    Err(e) => {
                        tracing::error!(log = %log.key, error = %format!("{e:#}"), "cannot read log; will retry");
                        break;
                    }
                }
            }
            let shared = log.take_shared();
            if !shared.is_empty() {
                let config = &self.config;
                let server = |l: &crate::ingest::LogIngest| config.server_of(l.server.as_deref());
                let of = server(&self.logs[i]);
                for (j, other) in self.logs.iter_mut().enumerate() {
                    if j != i && server(other) == of {
                        other.note_shared(shared.clone());
                    }
                }
            }
        }
        // Memory follows the senders active lately, not all ever seen.
        let forgotten = self.detector.forget_idle();
        if forgotten > 0 {
            tracing::debug!(
                forgotten,
                tracked = self.detector.senders(),
                "idle senders forgotten"
            );
        }
        Ok((lines, new))
    }

    /// Saves the senders the detector changed since the last save, once
    /// per `[ingest] save_senders` (or now, with `now`), as of everything
    /// stored so far; drops those silent past `[ingest] keep_senders`, and
    /// a batch of the messages older than `[ingest] keep_messages`.
    /// Returns how many senders were saved.
    pub(crate) fn save_senders(&mut self, now: bool) -> anyhow::Result<usize> {
        let every = self.config.ingest.save_senders;
        if !now && self.senders_saved.is_some_and(|t| t.elapsed() < every) {
            return Ok(0);
        }
        self.senders_saved = Some(std::time::Instant::now());
        let mut states = Vec::new();
        // Saving into a Vec cannot fail.
        let Ok(_) = self.detector.take_changed(
            |s, last_seen, bytes| -> Result<(), std::convert::Infallible> {
                states.push(store::SenderState {
                    sender: s.to_string(),
                    last_seen: last_seen.secs,
                    state: bytes.to_vec(),
                });
                Ok(())
            },
        );
        let complaints = self.store.cursor(COMPLAINTS_CURSOR)?;
        // By the logs' clock (the newest message stored), so a backlog of
        // old logs keeps its senders and messages, and a complaint dated
        // far from them moves nothing.
        let newest = self.store.latest_received()?;
        let keep = self.config.ingest.keep_senders.as_secs() as i64;
        let forget_before = newest.map_or(i64::MIN, |n| n - keep);
        self.store
            .save_sender_states(&states, detect::STATE_FORMAT, complaints, forget_before)?;
        for log in &mut self.logs {
            log.save_logins(&self.store)?;
        }
        if let Some(newest) = newest {
            let keep = self.config.ingest.keep_messages.as_secs() as i64;
            let pruned = self.store.prune_messages(newest - keep, PRUNE_BATCH)?;
            if pruned > 0 {
                tracing::info!(
                    messages = pruned,
                    "old stored messages deleted (ingest.keep_messages)"
                );
            }
        }
        if !states.is_empty() {
            tracing::debug!(senders = states.len(), "detector state saved");
        }
        Ok(states.len())
    }

    /// Reads the complaint Maildirs, then feeds every complaint stored since
    /// the last call (by this daemon or `unlisted complaints ingest`) to
    /// the detector; a verdict change is recorded and alerted like one from
    /// the logs. Returns the complaints fed.
    pub(crate) fn feed_complaints(&mut self) -> anyhow::Result<usize> {
        let now = now();
        for dir in &self.config.complaints.maildirs {
            crate::complaints::watch_maildir(&self.store, dir, now)?;
        }
        // Complaints that arrived before their message completed in the
        // log are tied to it now, and count against its real sender.
        let relinked = self.store.relink_complaints()?;
        for c in &relinked {
            tracing::info!(complaint = c.id, sender = %c.sender, "complaint tied to its message now that the message is stored");
        }
        if !relinked.is_empty() {
            // A restart re-feeds only complaints after the saved states:
            // save right after this one, which moves older complaints.
            self.senders_saved = None;
        }
        let cursor = self.store.cursor(COMPLAINTS_CURSOR)?;
        let new = self.store.complaints_after(cursor)?;
        let last = new.last().map(|c| c.id);
        if last.is_none() && relinked.is_empty() {
            return Ok(0);
        }
        let channels = self.alerter.channels();
        // Relinked ones already fed are fed again under their new sender;
        // new ones that were just relinked are fed once.
        let fed: Vec<&store::SenderComplaint> = relinked
            .iter()
            .filter(|c| c.id <= cursor)
            .chain(new.iter())
            .collect();
        for store::SenderComplaint {
            id,
            sender,
            account,
            at,
            ..
        } in fed
        {
            let Ok(s) = sender.parse::<maillog::Sender>() else {
                continue;
            };
            crate::ingest::recall(&self.store, &mut self.detector, &s)?;
            let Some(change) = self.detector.complaint(
                &s,
                account.as_deref(),
                maillog::Stamp {
                    secs: *at,
                    millis: 0,
                },
            ) else {
                continue;
            };
            let reasons = serde_json::to_string(&change.reasons).unwrap_or_else(|_| "[]".into());
            self.store.record_verdict_change(
                &store::VerdictChange {
                    sender: sender.clone(),
                    account: account.clone(),
                    at: *at,
                    from: change.from.as_str().into(),
                    to: change.to.as_str().into(),
                    reasons,
                },
                &channels,
                now,
                // Fed with the change, so a stop after it (the store
                // failing at the next) does not feed it twice.
                (*id > cursor).then_some((COMPLAINTS_CURSOR, *id)),
            )?;
            if change.to == detect::Verdict::Spamming {
                tracing::warn!(%sender, "sender is spamming (complaints)");
            }
        }
        if let Some(last) = last {
            self.store.set_cursor(COMPLAINTS_CURSOR, last)?;
        }
        Ok(new.len() + relinked.len())
    }

    /// Counts the MTA's queue (`enforce.queue`) every `check_every`, or
    /// now with `at_once`; stores the count for `status` and /metrics, and
    /// alerts when `alert_above` messages or more wait. A queue that
    /// cannot be read is logged and tried again at the next count.
    pub(crate) fn count_queue(&mut self, at_once: bool) -> anyhow::Result<()> {
        let cfg = &self.config.enforce.queue;
        let Some(mta) = cfg.mta() else {
            return Ok(());
        };
        if !at_once
            && self
                .queue_counted
                .is_some_and(|t| t.elapsed() < cfg.check_every)
        {
            return Ok(());
        }
        self.queue_counted = Some(std::time::Instant::now());
        let c = match mta.census(QUEUE_SAMPLE) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot count the mail queue; trying again at the next count");
                return Ok(());
            }
        };
        let count = |n: usize| n as i64;
        let row = store::QueueCensus {
            at: now(),
            total: count(c.total),
            held: count(c.held),
            by_queue: c.by_queue.into_iter().map(|(q, n)| (q, count(n))).collect(),
            sampled: count(c.sampled),
            senders: (c.senders.into_iter().take(QUEUE_SENDERS))
                .map(|(s, n)| (s, count(n)))
                .collect(),
        };
        self.store.set_queue_census(&row)?;
        if cfg.alert_above > 0 && c.total as u64 >= cfg.alert_above {
            tracing::warn!(
                messages = c.total,
                alert_above = cfg.alert_above,
                "the mail queue is over enforce.queue.alert_above"
            );
            crate::alert::queue_over(&self.store, &self.config.alerts, &row, cfg.alert_above)?;
        }
        Ok(())
    }

    /// Acts on every turn to `spamming` the store holds and nothing acted
    /// on yet ([`Self::contain`]): this round's, and one a stop left
    /// between storing it and acting on it (a `kill -9`, a store that
    /// failed in between), so no hold is lost to bad timing.
    pub(crate) fn contain_pending(&mut self) -> anyhow::Result<()> {
        for (id, c) in self.store.uncontained()? {
            match c.sender.parse::<maillog::Sender>() {
                Ok(sender) => self.contain(&Spamming {
                    sender,
                    account: c.account,
                    why: spamming_why(&c.reasons),
                })?,
                Err(e) => {
                    tracing::warn!(sender = %c.sender, error = %e, "a stored sender that does not parse: not held")
                }
            }
            self.store.mark_contained(id, now())?;
        }
        Ok(())
    }

    /// A sender turned `spamming`: hold it (mode `enforce`), or record the
    /// hold that would have been placed (mode `alert`, the default). A
    /// sender on the allow-list, or already held, is left as it is.
    fn contain(&mut self, s: &Spamming) -> anyhow::Result<()> {
        if s.sender.kind == maillog::SenderKind::Forward {
            // No hold reaches it (the alert says what to do instead).
            tracing::warn!(sender = %s.sender, "a forward is sending spam on; it cannot be held");
            return Ok(());
        }
        self.queue_site_scan(&s.sender)?;
        let cfg = &self.config.enforce;
        let subject = enforce::Subject::Sender(s.sender.clone());
        let key = subject.to_string();
        let allowed = cfg.allow.iter().filter_map(|a| a.parse::<enforce::Subject>().ok()).any(|a| {
            a == subject
                || matches!(&a, enforce::Subject::Account(acc) if s.account.as_deref() == Some(acc.as_str()))
                || (matches!((&a, &subject), (enforce::Subject::Sender(d), enforce::Subject::Sender(x))
                    if d.kind == maillog::SenderKind::Script && x.kind == maillog::SenderKind::Script
                    && x.value.starts_with(&format!("{}/", d.value))))
        });
        let now = now();
        if allowed {
            tracing::warn!(sender = %key, "spamming sender is on enforce.allow; not held");
            self.store
                .audit_hold(&key, "allowed", "unlisted:detect", Some(&s.why), now)?;
            return Ok(());
        }
        if self.store.hold(&key)?.is_some() {
            return Ok(());
        }
        let reason = format!("detected spamming: {}", s.why);
        match cfg.mode {
            crate::config::EnforceMode::Alert => {
                tracing::warn!(sender = %key, action = %cfg.auto_action, "would hold this sender (enforce.mode = \"alert\")");
                let detail = format!(
                    "proposed: unlisted hold add {key} --action {} --reason '{}'",
                    cfg.auto_action,
                    reason.replace('\'', "")
                );
                self.store
                    .audit_hold(&key, "proposed", "unlisted:detect", Some(&detail), now)?;
            }
            crate::config::EnforceMode::Enforce => {
                let row = store::HoldRow {
                    subject: key.clone(),
                    action: cfg.auto_action.to_string(),
                    reason,
                    created: now,
                    until: cfg.auto_for.map(|d| now + d.as_secs() as i64),
                    actor: "unlisted:detect".into(),
                    automatic: true,
                };
                self.store.place_hold(&row, None)?;
                crate::alert::hold_event(
                    &self.store,
                    &self.config.alerts,
                    "placed",
                    &row,
                    "unlisted:detect",
                )?;
                tracing::warn!(sender = %key, action = %row.action, "sender held automatically");
                if let Some(text) =
                    crate::policy::hold_queued(&self.store, cfg, &row, "unlisted:detect")?
                {
                    tracing::warn!(sender = %key, "{text}");
                }
            }
        }
        Ok(())
    }

    /// A script turned spamming: queue a scan of its site (read-only),
    /// unless one is already waiting.
    fn queue_site_scan(&mut self, sender: &maillog::Sender) -> anyhow::Result<()> {
        if !self.config.scan.on_spamming || sender.kind != maillog::SenderKind::Script {
            return Ok(());
        }
        let target = std::path::Path::new(&sender.value);
        let root = crate::investigate::site_root(target);
        if let Some(id) = self.store.queue_site_scan(
            &sender.to_string(),
            &sender.value,
            &root.to_string_lossy(),
            now(),
        )? {
            tracing::info!(id, %sender, root = %root.display(), "site scan queued");
        }
        Ok(())
    }

    /// Starts every queued site scan that is not running (each in its own
    /// thread, with its own store connection), and forgets the finished
    /// ones. With `wait`, returns when all have finished (one-shot runs).
    pub(crate) fn run_site_scans(&mut self, wait: bool) -> anyhow::Result<()> {
        self.scans.retain(|_, h| !h.is_finished());
        let setup = crate::investigate::Setup {
            rules: self.config.scan.rules.clone(),
            max_size: self.config.scan.max_size,
            window: self.config.scan.window.as_secs() as i64,
            access_logs: self.config.scan.access_logs.clone(),
            // Journals are not read for traces (files only).
            mail_logs: (self.config.logs.iter())
                .filter(|l| l.journal.is_none())
                .map(|l| l.path.clone())
                .collect(),
            mail_zone: (self.config.logs.iter())
                .find_map(|l| l.timezone.clone())
                .or_else(|| self.config.ingest.timezone.clone()),
        };
        for row in self.store.pending_site_scans()? {
            if self.scans.contains_key(&row.id) {
                continue;
            }
            let path = self.store.path().to_path_buf();
            let setup = setup.clone();
            let id = row.id;
            let handle = std::thread::Builder::new()
                .name(format!("site-scan-{id}"))
                .spawn(move || site_scan(&path, &row, &setup))?;
            self.scans.insert(id, handle);
        }
        if wait {
            for (_, h) in self.scans.drain() {
                let _ = h.join();
            }
        }
        Ok(())
    }
}

/// Runs one site scan and stores its outcome; a scan that cannot run is
/// stored with the reason, so it is not retried forever.
fn site_scan(
    store_path: &std::path::Path,
    row: &store::SiteScanRow,
    setup: &crate::investigate::Setup,
) {
    let outcome = crate::investigate::investigate(row, setup);
    let finish = |store: &Store| match &outcome {
        Ok((counts, report)) => store.finish_site_scan(row.id, now(), *counts, report, None),
        Err(e) => store.finish_site_scan(row.id, now(), (0, 0), &serde_json::Value::Null, Some(e)),
    };
    match Store::open(store_path)
        .map_err(anyhow::Error::from)
        .and_then(|s| finish(&s).map_err(Into::into))
    {
        Ok(()) => match &outcome {
            Ok(((malicious, suspicious), _)) if *malicious > 0 => {
                tracing::warn!(id = row.id, sender = %row.sender, root = %row.root, malicious, suspicious, "site scan found malicious files: unlisted scans {}", row.id)
            }
            Ok(((malicious, suspicious), _)) => {
                tracing::info!(id = row.id, sender = %row.sender, root = %row.root, malicious, suspicious, "site scan finished")
            }
            Err(e) => {
                tracing::warn!(id = row.id, sender = %row.sender, error = %e, "site scan could not run")
            }
        },
        // The row stays pending and runs again at the next start.
        Err(e) => {
            tracing::error!(id = row.id, error = %format!("{e:#}"), "cannot store a site scan")
        }
    }
}

/// A sender that turned `spamming`, as [`Monitor::contain`] acts on it.
#[derive(Debug, Clone)]
pub(crate) struct Spamming {
    pub(crate) sender: maillog::Sender,
    pub(crate) account: Option<String>,
    /// The spamming reasons, one line.
    pub(crate) why: String,
}

/// The details of the `spamming` reasons of a stored verdict change (its
/// reasons as JSON), in one line.
fn spamming_why(reasons: &str) -> String {
    let reasons: Vec<serde_json::Value> = serde_json::from_str(reasons).unwrap_or_default();
    reasons
        .iter()
        .filter(|r| r["severity"] == "spamming")
        .filter_map(|r| r["detail"].as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_alert_channel_rests_longer_each_time_up_to_15_minutes() {
        let secs: Vec<u64> = [1, 2, 3, 5, 6, 7, 40]
            .into_iter()
            .map(|n| alert_retry_wait(n).as_secs())
            .collect();
        assert_eq!(secs, [30, 60, 120, 480, 900, 900, 900]);
        // The default 20 attempts span about four hours.
        let span: u64 = (1..20).map(|n| alert_retry_wait(n).as_secs()).sum();
        assert!((3 * 3600..5 * 3600).contains(&span), "{span}");
    }
}
