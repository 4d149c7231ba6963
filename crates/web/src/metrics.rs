//! `/metrics` in the Prometheus text format. Labels are list ids, verdicts
//! and states — never an IP address or a mail address, so the series stay
//! few and say nothing about customers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::{Role, Web, with_store};

/// Figures only the daemon's memory holds.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// Policy service: decisions answered, held, rate-limited, malformed.
    pub policy_requests: u64,
    pub policy_held: u64,
    pub policy_rate_limited: u64,
    pub policy_protocol_errors: u64,
    /// Sum and count of decision times (seconds), for the mean latency.
    pub policy_latency_sum: f64,
    pub policy_latency_count: u64,
    /// Mail log lines read since the daemon started.
    pub log_lines: u64,
    /// Times the store could not be written since the daemon started, and
    /// whether it could not at the last try.
    pub store_failures: u64,
    pub store_failing: bool,
}

struct Out(String);

impl Out {
    fn metric(&mut self, name: &str, kind: &str, help: &str, values: &[(String, f64)]) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
        for (labels, v) in values {
            let _ = writeln!(self.0, "{name}{labels} {v}");
        }
    }
}

fn label(k: &str, v: &str) -> String {
    format!(
        "{{{k}=\"{}\"}}",
        v.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

pub(crate) async fn metrics(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Err(r) = crate::api::need(&web, &headers, Role::Read).await {
        return r;
    }
    let servers: Vec<String> = web.servers.iter().map(|s| s.name.clone()).collect();
    let gathered = with_store(&web, move |s| {
        let e = |e: store::StoreError| e.to_string();
        let open = s.open_episodes(None).map_err(e)?;
        let verdicts = s.sender_verdicts().map_err(e)?;
        let holds = s.holds().map_err(e)?.len();
        let incidents = s.incidents(false, 100_000).map_err(e)?;
        let complaints = s.complaint_total().map_err(e)?;
        let messages = s.message_count(None).map_err(e)?;
        let sweep = s.last_sweep().map_err(e)?;
        let counts = (
            s.sweep_count().map_err(e)?,
            s.alert_counts().map_err(e)?,
            s.log_problems().map_err(e)?.len(),
            s.log_health().map_err(e)?,
            s.queue_census().map_err(e)?,
        );
        Ok((
            open, verdicts, holds, incidents, complaints, messages, sweep, servers, counts,
        ))
    })
    .await;
    let (open, verdicts, holds, incidents, complaints, messages, sweep, servers, counts) =
        match gathered {
            Ok(g) => g,
            Err((status, msg)) => return (status, msg).into_response(),
        };
    let mut out = Out(String::new());
    let mut per_list: BTreeMap<String, f64> = BTreeMap::new();
    for e in &open {
        *per_list.entry(e.list.clone()).or_default() += 1.0;
    }
    out.metric(
        "unlisted_listings",
        "gauge",
        "Open listings (and remote refusals, list remote:*) per list.",
        &per_list
            .iter()
            .map(|(l, n)| (label("list", l), *n))
            .collect::<Vec<_>>(),
    );
    let listed = servers
        .iter()
        .filter(|name| {
            open.iter()
                .any(|e| &e.server == *name && !e.list.starts_with("remote:"))
        })
        .count();
    out.metric(
        "unlisted_servers_listed",
        "gauge",
        "Configured servers on at least one blocklist (remote refusals not counted).",
        &[(String::new(), listed as f64)],
    );
    out.metric(
        "unlisted_servers",
        "gauge",
        "Configured servers.",
        &[(String::new(), servers.len() as f64)],
    );
    let mut by_verdict: BTreeMap<&str, f64> =
        [("ok", 0.0), ("suspicious", 0.0), ("spamming", 0.0)].into();
    for v in &verdicts {
        *by_verdict.entry(v.verdict.as_str()).or_default() += 1.0;
    }
    out.metric(
        "unlisted_senders",
        "gauge",
        "Senders by their latest verdict.",
        &by_verdict
            .iter()
            .map(|(v, n)| (label("verdict", v), *n))
            .collect::<Vec<_>>(),
    );
    out.metric(
        "unlisted_holds",
        "gauge",
        "Holds in force.",
        &[(String::new(), holds as f64)],
    );
    let mut by_state: BTreeMap<&str, f64> = BTreeMap::new();
    for i in &incidents {
        *by_state.entry(i.state.as_str()).or_default() += 1.0;
    }
    out.metric(
        "unlisted_incidents",
        "gauge",
        "Incidents by state.",
        &by_state
            .iter()
            .map(|(s, n)| (label("state", s), *n))
            .collect::<Vec<_>>(),
    );
    out.metric(
        "unlisted_complaints",
        "gauge",
        "Complaints stored.",
        &[(String::new(), complaints as f64)],
    );
    out.metric(
        "unlisted_messages_stored",
        "gauge",
        "Messages read from the mail logs and stored.",
        &[(String::new(), messages as f64)],
    );
    if let Some(sw) = sweep {
        let st = &sw.stats;
        out.metric(
            "unlisted_last_sweep_lookups",
            "gauge",
            "DNS lookups of the last sweep.",
            &[(String::new(), st.lookups as f64)],
        );
        out.metric(
            "unlisted_last_sweep_dns_errors",
            "gauge",
            "DNS errors of the last sweep.",
            &[(String::new(), st.errors as f64)],
        );
        out.metric(
            "unlisted_last_sweep_timestamp_seconds",
            "gauge",
            "When the last sweep started.",
            &[(String::new(), sw.started as f64)],
        );
    }
    let (sweeps, (pending, delivered, held_back, abandoned), unreadable, health, queue) = counts;
    out.metric(
        "unlisted_sweeps_total",
        "counter",
        "Sweeps of the lists finished (checks).",
        &[(String::new(), sweeps as f64)],
    );
    out.metric(
        "unlisted_alerts",
        "gauge",
        "Alerts by outcome: pending delivery, delivered, held back as repeats, abandoned.",
        &[
            (label("outcome", "pending"), pending as f64),
            (label("outcome", "delivered"), delivered as f64),
            (label("outcome", "held_back"), held_back as f64),
            (label("outcome", "abandoned"), abandoned as f64),
        ],
    );
    out.metric(
        "unlisted_logs_unreadable",
        "gauge",
        "Followed mail logs that cannot be read now (missing, no permission): `unlisted status` says why.",
        &[(String::new(), unreadable as f64)],
    );
    let x = web.actions.extra_metrics();
    out.metric(
        "unlisted_log_lines_read_total",
        "counter",
        "Mail log lines read since the daemon started.",
        &[(String::new(), x.log_lines as f64)],
    );
    if let Some(q) = &queue {
        out.metric(
            "unlisted_queue_messages",
            "gauge",
            "Messages in the MTA's queue at the daemon's last count, per queue (Postfix's active, deferred, hold, incoming; Exim's queued and frozen).",
            &q.by_queue
                .iter()
                .map(|(name, n)| (label("queue", name), *n as f64))
                .collect::<Vec<_>>(),
        );
        out.metric(
            "unlisted_queue_counted_timestamp_seconds",
            "gauge",
            "When the daemon last counted the MTA's queue (Unix time).",
            &[(String::new(), q.at as f64)],
        );
    }
    out.metric(
        "unlisted_store_failures_total",
        "counter",
        "Times the daemon could not write its store (a full disk, a lock held too long) since it started: log reading, sweeps and alerts wait until it can.",
        &[(String::new(), x.store_failures as f64)],
    );
    out.metric(
        "unlisted_store_failing",
        "gauge",
        "1 while the daemon cannot write its store (its log says why), else 0.",
        &[(String::new(), f64::from(u8::from(x.store_failing)))],
    );
    let sum = |f: fn(&store::LogHealth) -> u64| health.iter().map(f).sum::<u64>() as f64;
    out.metric(
        "unlisted_log_lines_not_understood_total",
        "counter",
        "Mail log lines not understood (counted and skipped) since the daemon started: `unlisted status` shows the last.",
        &[(String::new(), sum(|h| h.not_understood))],
    );
    out.metric(
        "unlisted_log_lines_dropped_total",
        "counter",
        "The MTA's log lines journald said it dropped (its rate limit) since the daemon started: counts are short by these.",
        &[(String::new(), sum(|h| h.dropped))],
    );
    out.metric(
        "unlisted_smtp_auth_failures_total",
        "counter",
        "Failed logins in the followed mail logs since the daemon started (password guessing): SMTP AUTH, and IMAP or POP3 where Dovecot logs to the same file: `unlisted logs analyze` names the mailboxes tried and the addresses.",
        &[(String::new(), sum(|h| h.failed_logins))],
    );
    out.metric(
        "unlisted_policy_decisions_total",
        "counter",
        "Policy service decisions by outcome.",
        &[
            (label("outcome", "held"), x.policy_held as f64),
            (
                label("outcome", "rate_limited"),
                x.policy_rate_limited as f64,
            ),
            (
                label("outcome", "pass"),
                x.policy_requests
                    .saturating_sub(x.policy_held + x.policy_rate_limited) as f64,
            ),
        ],
    );
    out.metric(
        "unlisted_policy_protocol_errors_total",
        "counter",
        "Policy connections closed for malformed, oversized or idle input.",
        &[(String::new(), x.policy_protocol_errors as f64)],
    );
    out.metric(
        "unlisted_policy_latency_seconds_sum",
        "counter",
        "Total time spent deciding policy requests.",
        &[(String::new(), x.policy_latency_sum)],
    );
    out.metric(
        "unlisted_policy_latency_seconds_count",
        "counter",
        "Policy requests timed.",
        &[(String::new(), x.policy_latency_count as f64)],
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out.0,
    )
        .into_response()
}
