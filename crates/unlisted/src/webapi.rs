//! The daemon's side of the web API: the actions the dashboard and the
//! API may take, done with the same code as the CLI, each with its own
//! store connection.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::config::Config;

pub(crate) struct DaemonActions {
    pub(crate) db: PathBuf,
    pub(crate) config: Config,
    pub(crate) catalog: blocklists::Catalog,
    /// Wakes the daemon's loop for a sweep now.
    pub(crate) check: Arc<tokio::sync::Notify>,
    pub(crate) policy: Option<Arc<enforce::server::Shared>>,
    pub(crate) counters: Arc<Counters>,
}

/// What the daemon's loop counts for /metrics.
#[derive(Default)]
pub(crate) struct Counters {
    /// Mail log lines read since the start.
    pub(crate) log_lines: AtomicU64,
    /// Rounds the store failed since the start.
    pub(crate) store_failures: AtomicU64,
    /// Whether the store failed in the last round.
    pub(crate) store_failing: AtomicBool,
}

fn msg(e: anyhow::Error) -> String {
    format!("{e:#}")
}

impl DaemonActions {
    fn store(&self) -> Result<store::Store, String> {
        store::Store::open(&self.db).map_err(|e| e.to_string())
    }
}

impl web::Actions for DaemonActions {
    fn incident(&self, id: i64) -> Result<Option<serde_json::Value>, String> {
        crate::cmd::incident::show_json(&self.store()?, &self.config, &self.catalog, id)
            .map_err(msg)
    }

    fn move_incident(
        &self,
        id: i64,
        state: &str,
        reason: &str,
        force: bool,
        actor: &str,
    ) -> Result<Result<String, String>, String> {
        use crate::cmd::incident::Moved;
        match crate::cmd::incident::try_move(
            &self.store()?,
            &self.config,
            id,
            state,
            reason,
            force,
            actor,
        )
        .map_err(msg)?
        {
            Moved::Done(t) | Moved::Forced(t) => Ok(Ok(t)),
            Moved::Refused(t) => Ok(Err(t)),
        }
    }

    fn note_incident(&self, id: i64, text: &str, actor: &str) -> Result<(), String> {
        let store = self.store()?;
        if store.incident(id).map_err(|e| e.to_string())?.is_none() {
            return Err(format!("no incident {id}"));
        }
        store
            .incident_event(
                id,
                crate::output::now(),
                "note",
                actor,
                text,
                &serde_json::Value::Null,
            )
            .map_err(|e| e.to_string())
    }

    fn add_hold(
        &self,
        subject: &str,
        action: &str,
        reason: &str,
        for_secs: Option<u64>,
        actor: &str,
    ) -> Result<(), String> {
        let action: enforce::Action = action.parse()?;
        crate::cmd::hold::place(
            &self.store()?,
            &self.config,
            subject,
            action,
            reason,
            for_secs.map(std::time::Duration::from_secs),
            actor,
        )
        .map(|lines| {
            for l in lines {
                tracing::info!(actor, "{l}");
            }
        })
        .map_err(msg)
    }

    fn release_hold(&self, subject: &str, note: Option<&str>, actor: &str) -> Result<bool, String> {
        let store = self.store()?;
        let subject = crate::cmd::hold::subject(subject).map_err(msg)?.to_string();
        let released = store
            .release_hold(&subject, actor, note, crate::output::now())
            .map_err(|e| e.to_string())?;
        if let Some(h) = &released {
            tracing::info!(actor, sender = %h.subject, "hold released");
            crate::alert::hold_event(&store, &self.config.alerts, "released", h, actor)
                .map_err(msg)?;
        }
        Ok(released.is_some())
    }

    fn check_now(&self) {
        self.check.notify_one();
    }

    fn extra_metrics(&self) -> web::Extra {
        let mut x = web::Extra {
            log_lines: self.counters.log_lines.load(Ordering::Relaxed),
            store_failures: self.counters.store_failures.load(Ordering::Relaxed),
            store_failing: self.counters.store_failing.load(Ordering::Relaxed),
            ..web::Extra::default()
        };
        if let Some(p) = &self.policy {
            let s = &p.stats;
            x.policy_requests = s.requests.load(Ordering::Relaxed);
            x.policy_held = s.held.load(Ordering::Relaxed);
            x.policy_rate_limited = s.rate_limited.load(Ordering::Relaxed);
            x.policy_protocol_errors =
                s.protocol_errors.load(Ordering::Relaxed) + s.idle_timeouts.load(Ordering::Relaxed);
            x.policy_latency_sum = s.decide_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            x.policy_latency_count = s.decisions.load(Ordering::Relaxed);
        }
        x
    }
}
