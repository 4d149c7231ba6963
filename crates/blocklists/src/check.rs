//! Checking targets against lists: the self-test of each zone, bounded
//! concurrent lookups, per-zone rate limits and the TXT reason of listings.
//!
//! Results stream out in input order through a bounded window of targets,
//! so memory stays flat however many targets a sweep holds.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::rr::RecordType;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::catalog::{Delisting, List, Selected};
use crate::dns::DnsClient;
use crate::target::{Target, TargetKind};
use crate::verdict::{Status, Verdict, classify};

/// A list ready to query: its catalog entry and its resolved zone.
#[derive(Debug, Clone)]
pub struct PreparedList {
    pub list: List,
    pub zone: String,
}

impl From<Selected<'_>> for PreparedList {
    fn from(s: Selected<'_>) -> Self {
        PreparedList {
            list: s.list.clone(),
            zone: s.zone,
        }
    }
}

/// How a check runs.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Lookups in flight at once.
    pub concurrency: usize,
    /// Targets in flight at once (bounds memory and keeps output ordered).
    pub window: usize,
    /// Probe each zone's RFC 5782 test points first and suppress the
    /// verdicts of a zone that fails.
    pub self_test: bool,
    /// Fetch the TXT reason of each listing.
    pub fetch_txt: bool,
    /// Queries per second per zone; zones absent are not limited.
    pub zone_qps: HashMap<String, f64>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            concurrency: 128,
            window: 16,
            self_test: true,
            fetch_txt: true,
            zone_qps: HashMap::new(),
        }
    }
}

/// One list's answer about one target.
#[derive(Debug, Clone, Serialize)]
pub struct ListResult {
    pub list: String,
    pub name: String,
    pub zone: String,
    pub status: Status,
    pub codes: Vec<Ipv4Addr>,
    pub meanings: Vec<String>,
    pub txt: Vec<String>,
    pub error: Option<String>,
    /// The way off the list; only for `listed` results.
    pub delisting: Option<Delisting>,
}

/// Every list's answer about one target.
#[derive(Debug, Clone)]
pub struct TargetReport {
    pub target: Target,
    pub results: Vec<ListResult>,
}

impl TargetReport {
    pub fn listed(&self) -> bool {
        self.results.iter().any(|r| r.status == Status::Listed)
    }

    /// True when every list gave a definite answer.
    pub fn complete(&self) -> bool {
        self.results
            .iter()
            .all(|r| matches!(r.status, Status::Listed | Status::Clean))
    }
}

/// The self-test outcome of one zone for one kind of target.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneHealth {
    pub list: String,
    pub zone: String,
    pub kind: TargetKind,
    /// `None` when the zone behaved; otherwise why its verdicts are void.
    pub problem: Option<String>,
}

struct RateLimiter {
    zones: HashMap<String, (Duration, Mutex<Instant>)>,
}

impl RateLimiter {
    fn new(qps: &HashMap<String, f64>) -> Self {
        let now = Instant::now();
        let zones = qps
            .iter()
            .filter(|(_, q)| **q > 0.0)
            .map(|(z, q)| {
                (
                    z.clone(),
                    (Duration::from_secs_f64(1.0 / q), Mutex::new(now)),
                )
            })
            .collect();
        RateLimiter { zones }
    }

    async fn wait(&self, zone: &str) {
        let Some((gap, next)) = self.zones.get(zone) else {
            return;
        };
        let at = {
            let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
            let at = (*n).max(Instant::now());
            *n = at + *gap;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

struct Shared {
    client: DnsClient,
    lists: Vec<PreparedList>,
    opts: CheckOptions,
    permits: Semaphore,
    limiter: RateLimiter,
    health: Mutex<HashMap<(usize, TargetKind), Option<String>>>,
}

/// Checks targets against a fixed set of lists through one nameserver.
#[derive(Clone)]
pub struct Checker {
    shared: Arc<Shared>,
}

impl Checker {
    pub fn new(client: DnsClient, lists: Vec<PreparedList>, opts: CheckOptions) -> Self {
        let limiter = RateLimiter::new(&opts.zone_qps);
        Checker {
            shared: Arc::new(Shared {
                client,
                lists,
                permits: Semaphore::new(opts.concurrency.max(1)),
                opts,
                limiter,
                health: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn lists(&self) -> &[PreparedList] {
        &self.shared.lists
    }

    /// Probes every list that accepts one of `kinds` at its RFC 5782 test
    /// points, and remembers the outcome for the lookups that follow.
    pub async fn self_test(&self, kinds: &[TargetKind]) -> Vec<ZoneHealth> {
        let mut set = JoinSet::new();
        for (idx, p) in self.shared.lists.iter().enumerate() {
            for &kind in kinds.iter().filter(|k| p.list.accepts(**k)) {
                let shared = self.shared.clone();
                set.spawn(async move { (idx, kind, probe(&shared, idx, kind).await) });
            }
        }
        let mut out = Vec::new();
        while let Some(joined) = set.join_next().await {
            // A probe task only panics on a bug; skip it rather than abort.
            let Ok((idx, kind, problem)) = joined else {
                continue;
            };
            self.shared
                .health
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((idx, kind), problem.clone());
            let p = &self.shared.lists[idx];
            out.push(ZoneHealth {
                list: p.list.id.clone(),
                zone: p.zone.clone(),
                kind,
                problem,
            });
        }
        out.sort_by(|a, b| (&a.list, a.kind).cmp(&(&b.list, b.kind)));
        out
    }

    /// Checks one target against every list that accepts its kind.
    pub async fn check(&self, target: Target) -> TargetReport {
        check_target(self.shared.clone(), target).await
    }

    /// Checks many targets, calling `emit` with each report in input order.
    /// An `Err` item (a target that could not be read) is not checked but
    /// handed back to `emit` in its place, so output keeps input order. At
    /// most `window` targets are in flight, so memory does not grow with the
    /// number of targets.
    pub async fn check_all<I, E, F>(&self, items: I, mut emit: F)
    where
        I: IntoIterator<Item = Result<Target, E>>,
        F: FnMut(Result<TargetReport, E>),
    {
        let mut window = VecDeque::new();
        for item in items {
            if window.len() >= self.shared.opts.window.max(1)
                && let Some(r) = next_report(&mut window).await
            {
                emit(r);
            }
            window.push_back(match item {
                Ok(t) => Slot::Running(tokio::spawn(check_target(self.shared.clone(), t))),
                Err(e) => Slot::Skipped(e),
            });
        }
        while !window.is_empty() {
            if let Some(r) = next_report(&mut window).await {
                emit(r);
            }
        }
    }
}

enum Slot<E> {
    Running(tokio::task::JoinHandle<TargetReport>),
    Skipped(E),
}

async fn next_report<E>(window: &mut VecDeque<Slot<E>>) -> Option<Result<TargetReport, E>> {
    match window.pop_front()? {
        Slot::Skipped(e) => Some(Err(e)),
        Slot::Running(handle) => match handle.await {
            Ok(r) => Some(Ok(r)),
            Err(e) => {
                tracing::error!(error = %e, "a target check task failed");
                None
            }
        },
    }
}

async fn probe(shared: &Shared, idx: usize, kind: TargetKind) -> Option<String> {
    let p = &shared.lists[idx];
    let listed = p
        .list
        .test
        .listed
        .iter()
        .filter_map(|s| Target::test_point(s))
        .filter(|t| t.kind() == kind);
    for t in listed {
        let v = lookup(shared, p, &t).await;
        match v.status {
            Status::Listed => {}
            Status::Clean => {
                return Some(format!(
                    "RFC 5782 test point {t} should be listed but is not: the zone is empty, gone, or refusing this resolver without saying so"
                ));
            }
            Status::Error | Status::Unknown => {
                return Some(format!("test point {t}: {}", v.error.unwrap_or_default()));
            }
        }
    }
    for point in p.list.clean_test_points(kind) {
        let Some(t) = Target::test_point(&point).filter(|t| t.kind() == kind) else {
            continue;
        };
        let v = lookup(shared, p, &t).await;
        match v.status {
            Status::Clean => {}
            Status::Listed => {
                let codes: Vec<String> = v.codes.iter().map(|c| c.to_string()).collect();
                return Some(format!(
                    "RFC 5782 test point {t} must never be listed but answers {}: the zone lists everything (wildcard, parked or dead domain)",
                    codes.join(", ")
                ));
            }
            Status::Error | Status::Unknown => {
                return Some(format!("test point {t}: {}", v.error.unwrap_or_default()));
            }
        }
    }
    None
}

/// One A lookup under the concurrency and rate limits, classified.
async fn lookup(shared: &Shared, p: &PreparedList, target: &Target) -> Verdict {
    let _permit = shared.permits.acquire().await;
    shared.limiter.wait(&p.zone).await;
    let name = target.query_name(&p.zone);
    match shared.client.query(&name, RecordType::A).await {
        Ok(resp) => classify(&p.list, &resp.lookup()),
        Err(failure) => classify(&p.list, &crate::verdict::Lookup::Failed(failure)),
    }
}

async fn check_target(shared: Arc<Shared>, target: Target) -> TargetReport {
    let kind = target.kind();
    // One task per target; its lists are polled together inside it, which
    // costs far less than a task per lookup.
    let lookups = shared
        .lists
        .iter()
        .enumerate()
        .filter(|(_, p)| p.list.accepts(kind))
        .map(|(idx, _)| check_list(&shared, idx, &target));
    let results = futures_util::future::join_all(lookups).await;
    TargetReport { target, results }
}

async fn check_list(shared: &Shared, idx: usize, target: &Target) -> ListResult {
    let p = &shared.lists[idx];
    let suppressed = shared
        .health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&(idx, target.kind()))
        .cloned()
        .flatten();
    let verdict = match suppressed {
        Some(problem) => Verdict::error(format!(
            "zone failed its self-test, verdict suppressed: {problem}"
        )),
        None => lookup(shared, p, target).await,
    };
    let mut txt = Vec::new();
    // TXT explains a listing, and also an operator's error answer (Spamhaus
    // and URIBL name the resolver problem there).
    if shared.opts.fetch_txt && !verdict.codes.is_empty() {
        let _permit = shared.permits.acquire().await;
        shared.limiter.wait(&p.zone).await;
        // TXT is for people; a failure to fetch it changes no verdict.
        if let Ok(resp) = shared
            .client
            .query(&target.query_name(&p.zone), RecordType::TXT)
            .await
        {
            txt = resp.txt;
        }
    }
    ListResult {
        list: p.list.id.clone(),
        name: p.list.name.clone(),
        zone: p.zone.clone(),
        codes: verdict.codes,
        meanings: verdict.meanings,
        txt,
        error: verdict.error,
        delisting: (verdict.status == Status::Listed).then(|| p.list.delisting.clone()),
        status: verdict.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_queries_per_zone_only() {
        let rl = RateLimiter::new(&HashMap::from([("slow.example".to_string(), 10.0)]));
        let start = Instant::now();
        for _ in 0..5 {
            rl.wait("slow.example").await;
        }
        // The first query goes at once, each next one 100 ms later.
        assert_eq!(start.elapsed(), Duration::from_millis(400));
        let start = Instant::now();
        for _ in 0..100 {
            rl.wait("fast.example").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
