//! `unlisted serve`: the monitor daemon.

use anyhow::{Context, Result, bail};
use blocklists::{DnsClient, DnsOptions, PreparedList};

use crate::Global;
use crate::alert::Alerter;
use crate::config::{parse_nameserver, system_nameserver};
use crate::monitor::Monitor;
use crate::output::Exit;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run one sweep, read the logs to their end, deliver alerts, and exit
    /// (for cron or a test).
    #[arg(long)]
    once: bool,
    /// Serve the dashboard, API and metrics here (`ADDR:PORT`; default
    /// `web.listen`, 127.0.0.1:8427; "" for none). Not with --once.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

/// The config and catalog as they are on disk, when they are fit to run
/// on (what `config check` would say).
fn checked_config(
    g: &Global,
) -> Result<(
    crate::config::Config,
    std::path::PathBuf,
    blocklists::Catalog,
)> {
    let (config, path) = super::load_config(g)?;
    let Some(path) = path else {
        bail!(
            "the monitor needs a config naming the servers to watch: `unlisted config example > unlisted.toml`, edit it, then `unlisted serve --config unlisted.toml`"
        );
    };
    let catalog = super::load_catalog(g, &config, path.parent())?;
    let problems = config.problems(&catalog);
    if !problems.is_empty() {
        bail!(
            "config {} has {} problems (run `unlisted config check`):\n  {}",
            path.display(),
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok((config, path, catalog))
}

pub(crate) async fn run(g: &Global, a: Args) -> Result<Exit> {
    let (config, path, catalog) = checked_config(g)?;
    if config.servers.is_empty()
        && config.logs.is_empty()
        && config.complaints.maildirs.is_empty()
        && config.enforce.policy.listen.is_none()
        && config.enforce.policy.milter.is_none()
        && config.enforce.queue.mta().is_none()
    {
        bail!(
            "config {} names no [[server]] to watch, no [[log]] to read, no complaints.maildirs, no enforce.policy.listen and no enforce.queue.mta",
            path.display()
        );
    }
    let sel = catalog.select(&config.monitor.lists, &config.keys);
    super::warn_unqueried(&sel);
    let lists: Vec<PreparedList> = sel.lists.into_iter().map(PreparedList::from).collect();
    let nameserver = match &config.dns.nameserver {
        Some(ns) => parse_nameserver(ns)?,
        None => system_nameserver(),
    };
    if let Some(who) = blocklists::resolvers::public_resolver(nameserver.ip()) {
        tracing::warn!(%nameserver, who, "the nameserver is a public resolver; lists that refuse public resolvers will answer with errors");
    }
    let store = store::Store::open(&g.db)?;
    let mut beat = crate::heartbeat::Heartbeat::new(crate::output::now());
    if let Some(pid) = beat.other(&store, crate::output::now())? {
        tracing::warn!(
            pid,
            "another `unlisted serve` runs on this store: each would read the logs and send the alerts; stop one"
        );
    }
    // The policy service answers the MTAs from its own tasks; the loop
    // below keeps feeding it holds through the store.
    let parse = |s: &Option<String>| -> Result<Option<enforce::server::Listen>> {
        s.as_ref()
            .map(|s| s.parse().map_err(anyhow::Error::msg))
            .transpose()
    };
    let policy_listen = parse(&config.enforce.policy.listen)?;
    let milter_listen = parse(&config.enforce.policy.milter)?;
    let _policy = if policy_listen.is_some() || milter_listen.is_some() {
        Some(
            crate::policy::start(
                policy_listen.as_ref(),
                milter_listen.as_ref(),
                &g.db,
                &config.enforce,
            )
            .await?,
        )
    } else {
        None
    };
    let check = std::sync::Arc::new(tokio::sync::Notify::new());
    let counters = std::sync::Arc::new(crate::webapi::Counters::default());
    let listen = a
        .listen
        .clone()
        .unwrap_or_else(|| config.web.listen.clone());
    let _web = if !a.once && !listen.trim().is_empty() {
        let listener = tokio::net::TcpListener::bind(listen.trim())
            .await
            .with_context(|| format!("cannot listen on {listen} for the dashboard and API"))?;
        let bound = listener.local_addr()?;
        let web = std::sync::Arc::new(web::Web {
            store: g.db.clone(),
            servers: config
                .servers
                .iter()
                .map(|s| web::ServerInfo {
                    name: s.name.clone(),
                    ips: s.ips.clone(),
                })
                .collect(),
            actions: std::sync::Arc::new(crate::webapi::DaemonActions {
                db: g.db.clone(),
                config: config.clone(),
                catalog: catalog.clone(),
                check: check.clone(),
                policy: _policy.as_ref().map(|p| p.shared.clone()),
                counters: counters.clone(),
            }),
        });
        // Said whatever the log level: it is where the operator goes next.
        crate::output::hint(&format!(
            "dashboard, API (/api/v1) and /metrics at http://{bound}/ (log in with a token from `unlisted token create --role operate`)"
        ));
        tracing::info!(url = %format!("http://{bound}/"), "web server listening");
        Some(AbortOnDrop(tokio::spawn(async move {
            if let Err(e) = web::serve(listener, web).await {
                tracing::error!(error = %e, "the web server stopped");
            }
        })))
    } else {
        None
    };
    let client = DnsClient::new(DnsOptions {
        nameserver,
        timeout: config.dns.timeout,
        tries: config.dns.tries.max(1),
        sockets: 4,
    })
    .await
    .with_context(|| format!("cannot open a UDP socket to reach {nameserver}"))?;
    let alerter = Alerter::new(&config.alerts)?;
    let interval = config.monitor.interval;
    tracing::info!(config = %path.display(), db = %g.db.display(), %nameserver, lists = lists.len(), servers = config.servers.len(), logs = config.logs.len(), ?interval, "monitor starting");
    let followed = follow_from_store(&store, &config, &catalog, a.once)?;
    let poll = config.ingest.poll;
    let mut monitor = Monitor {
        config,
        catalog,
        store,
        client,
        lists,
        alerter,
        logs: followed.logs,
        detector: followed.detector,
        remote: followed.remote,
        scans: std::collections::HashMap::new(),
        senders_saved: None,
        resting: std::collections::HashMap::new(),
        queue_counted: None,
    };

    let mut shutdown = std::pin::pin!(shutdown_signal());
    // SIGHUP (`systemctl reload`): the config again, checked, then
    // [`restart_in_place`].
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot catch SIGHUP")?;
    let mut next_sweep = tokio::time::Instant::now();
    // Store failures in a row: each doubles the wait before the next try.
    let mut failures = 0u32;
    loop {
        // After the store failed, nothing runs on what was read since the
        // last commit: the store is opened again, and all rebuilt from it,
        // before the next round.
        if failures > 0 {
            tokio::select! {
                _ = tokio::time::sleep(store_retry_wait(failures)) => {}
                _ = &mut shutdown => {
                    tracing::info!("shutting down; what was read since the store failed is read again at the next start");
                    stopped(&beat, &monitor.store);
                    return Ok(Exit::Clean);
                }
            }
            if let Err(e) = recover(&mut monitor, &g.db, a.once) {
                failures += 1;
                tracing::error!(error = %format!("{e:#}"), retry_in = ?store_retry_wait(failures), failures, "cannot open the store again");
                continue;
            }
        }
        let round = async {
            if !monitor.config.servers.is_empty() && tokio::time::Instant::now() >= next_sweep {
                tokio::select! {
                res = monitor.sweep() => match res {
                    Ok(r) => tracing::info!(lookups = r.stats.lookups, listed = r.stats.listed, errors = r.stats.errors, unknown = r.stats.unknown, zones_failed = r.stats.zones_failed, opened = r.opened, closed = r.closed, "sweep finished"),
                    // Only the store can fail a sweep.
                    Err(e) => return Err(e.context("sweep failed")),
                },
                    _ = &mut shutdown => {
                        tracing::info!("shutting down during a sweep; nothing of it was written");
                        // Not the round's error: the daemon ends either way.
                        stopped(&beat, &monitor.store);
                        return Ok(Some(monitor.save_senders(true).map(|_| Exit::Clean)));
                    }
                }
                next_sweep = tokio::time::Instant::now() + interval;
            }
            if !monitor.logs.is_empty() {
                let (lines, new) = monitor.ingest_logs(a.once)?;
                (counters.log_lines).fetch_add(lines as u64, std::sync::atomic::Ordering::Relaxed);
                if lines > 0 {
                    tracing::debug!(lines, messages = new, "logs read");
                }
            }
            // After the logs, so a complaint finds the message it is about.
            let fed = monitor.feed_complaints()?;
            if fed > 0 {
                tracing::info!(complaints = fed, "complaints fed to detection");
            }
            // Holds for the senders that turned spamming, in the logs or
            // by complaints, this round or before a stop.
            monitor.contain_pending()?;
            monitor.count_queue(a.once)?;
            monitor.save_senders(a.once)?;
            monitor.run_site_scans(a.once)?;
            crate::incident::sync(&monitor.store, &monitor.config, crate::output::now())?;
            for h in monitor.store.expire_holds(crate::output::now())? {
                crate::alert::hold_event(
                    &monitor.store,
                    &monitor.config.alerts,
                    "expired",
                    &h,
                    "unlisted",
                )?;
                tracing::info!(sender = %h.subject, "hold expired");
            }
            let (sent, failed) = monitor.deliver_alerts().await?;
            if sent + failed > 0 {
                tracing::info!(sent, failed, "alerts delivered");
            }
            // The next round comes within the poll, or with the next sweep
            // when no log is followed.
            let gap = match monitor.logs.is_empty() && !monitor.config.servers.is_empty() {
                true => interval,
                false => poll,
            };
            beat.round(&monitor.store, crate::output::now(), gap, a.once)?;
            anyhow::Ok(None)
        };
        match round.await {
            Ok(Some(ended)) => return ended,
            Ok(None) => {
                (counters.store_failing).store(false, std::sync::atomic::Ordering::Relaxed);
                if failures > 0 {
                    tracing::warn!(
                        failures,
                        "the store works again; what was read while it failed is stored"
                    );
                }
                failures = 0;
            }
            // The store cannot be written (a full disk, a lock held past
            // the busy timeout, a file system remounted read-only): the
            // daemon stays up, and what it read since the last commit is
            // read again from the checkpoints once the store works, as
            // after a restart. A one-shot run fails, for cron to run again.
            Err(e) if !a.once && store_failed(&e) => {
                failures += 1;
                (counters.store_failures).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (counters.store_failing).store(true, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(error = %format!("{e:#}"), retry_in = ?store_retry_wait(failures), failures, "cannot write the store: logs, sweeps and alerts wait for it; the policy service answers from the holds it has");
                continue;
            }
            Err(e) => return Err(e),
        }
        if a.once {
            return Ok(Exit::Clean);
        }
        let until_sweep = next_sweep.saturating_duration_since(tokio::time::Instant::now());
        let wait = match (monitor.config.servers.is_empty(), monitor.logs.is_empty()) {
            (false, true) => until_sweep,
            (false, false) => poll.min(until_sweep),
            // Logs only, or the policy service only.
            (true, _) => poll,
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = check.notified() => {
                tracing::info!("check asked for through the API: sweeping now");
                next_sweep = tokio::time::Instant::now();
            }
            _ = &mut shutdown => {
                tracing::info!("shutting down");
                stopped(&beat, &monitor.store);
                monitor.save_senders(true)?;
                return Ok(Exit::Clean);
            }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reading the config again");
                match checked_config(g) {
                    Ok(_) => {
                        monitor.save_senders(true)?;
                        let e = restart_in_place();
                        tracing::error!(error = %format!("{e:#}"), "cannot restart with the new config; running on with the one it has");
                    }
                    Err(e) => tracing::error!(error = %format!("{e:#}"), "the new config is refused; running on with the one it has"),
                }
            }
        }
    }
}

/// Runs this daemon again in its own process (`exec`: the same pid, as
/// systemd expects of a reload), with the same arguments, from the
/// binary now at its path (an upgrade is taken up too). Everything starts
/// again from the store and the checkpoints, as after a restart. Returns
/// only when that cannot be done.
fn restart_in_place() -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return anyhow::Error::new(e).context("cannot find this binary"),
    };
    // Replaced on disk (an upgrade): Linux names the old one "… (deleted)".
    let exe = match exe.to_str().and_then(|p| p.strip_suffix(" (deleted)")) {
        Some(p) => std::path::PathBuf::from(p),
        None => exe,
    };
    tracing::info!(binary = %exe.display(), "restarting in place with the new config");
    let e = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .exec();
    anyhow::Error::new(e).context(format!("cannot run {}", exe.display()))
}

/// Records a clean stop in the heartbeat, when the store can be written.
fn stopped(beat: &crate::heartbeat::Heartbeat, store: &store::Store) {
    if let Err(e) = beat.stopped(store, crate::output::now()) {
        tracing::warn!(error = %e, "cannot record the stop in the store");
    }
}

/// How long to wait before trying the store again after `failures` in a
/// row: a second, doubled at each failure, at most five minutes.
fn store_retry_wait(failures: u32) -> std::time::Duration {
    crate::monitor::doubling_wait(1, 300, failures)
}

/// Whether `e` is the store failing to read or write (worth waiting out),
/// not a store this binary cannot use at all.
fn store_failed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<store::StoreError>()
            .is_some_and(|s| !matches!(s, store::StoreError::TooNew { .. }))
    })
}

/// What the daemon rebuilds from the store: the detector's windows, the
/// logs' readers at their checkpoints, and the remote refusals open.
struct Followed {
    detector: detect::Detector,
    logs: Vec<crate::ingest::LogIngest>,
    remote: crate::remote::RemoteWatch,
}

fn follow_from_store(
    store: &store::Store,
    config: &crate::config::Config,
    catalog: &blocklists::Catalog,
    once: bool,
) -> Result<Followed> {
    // Rebuild the detector's windows from what is stored, then follow the
    // logs from their checkpoints.
    let mut detector = detect::Detector::new(config.detect.clone());
    let window = config
        .detect
        .window
        .max(config.detect.login_window)
        .max(config.detect.complaint_window)
        .as_secs() as i64;
    let restored = crate::ingest::restore_detector(store, &mut detector, window)?;
    if restored.senders + restored.messages > 0 {
        tracing::info!(
            senders = restored.senders,
            messages = restored.messages,
            "detector rebuilt from the store"
        );
    }
    // Complaints fed before a restart and not in the saved states go back
    // in without alerting again; newer ones are fed (and alerted) by the
    // loop.
    let fed = store.cursor(crate::monitor::COMPLAINTS_CURSOR)?;
    let since = crate::output::now() - config.detect.complaint_window.as_secs() as i64;
    for c in store.complaints_after(restored.complaints)? {
        if c.id > fed {
            break;
        }
        if let Ok(s) = c.sender.parse::<maillog::Sender>()
            && c.at >= since
        {
            let at = maillog::Stamp {
                secs: c.at,
                millis: 0,
            };
            crate::ingest::recall(store, &mut detector, &s)?;
            detector.complaint(&s, c.account.as_deref(), at);
        }
    }
    let owners = crate::policy::accounts(&config.enforce);
    let logs = config
        .logs
        .iter()
        .map(|l| {
            let zone = config.log_zone(Some(l))?;
            let mut log =
                crate::ingest::LogIngest::open(l, &config.ingest, zone, store, owners.clone())?;
            if once {
                log.linger_one_run();
            }
            Ok(log)
        })
        .collect::<Result<Vec<_>>>()?;
    let remote = crate::remote::RemoteWatch::new(config, catalog, store)?;
    Ok(Followed {
        detector,
        logs,
        remote,
    })
}

/// After the store failed: opens it again and rebuilds from it all that
/// may hold what was never committed, as a restart would.
fn recover(monitor: &mut Monitor, db: &std::path::Path, once: bool) -> Result<()> {
    let store = store::Store::open(db)?;
    let followed = follow_from_store(&store, &monitor.config, &monitor.catalog, once)?;
    monitor.store = store;
    monitor.detector = followed.detector;
    monitor.logs = followed.logs;
    monitor.remote = followed.remote;
    monitor.senders_saved = None;
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// A task stopped when the daemon returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_for_the_store_doubles_up_to_five_minutes() {
        let secs: Vec<u64> = [1, 2, 3, 9, 10, 11, 1000]
            .into_iter()
            .map(|n| store_retry_wait(n).as_secs())
            .collect();
        assert_eq!(secs, [1, 2, 4, 256, 300, 300, 300]);
    }

    #[test]
    fn only_a_store_that_fails_is_waited_for() {
        let query = || store::StoreError::Query {
            path: "unlisted.db".into(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                None,
            ),
        };
        assert!(store_failed(&anyhow::Error::from(query())));
        assert!(store_failed(
            &anyhow::Error::from(query()).context("sweep failed")
        ));
        let too_new = store::StoreError::TooNew {
            path: "unlisted.db".into(),
            found: 99,
            known: 18,
        };
        assert!(!store_failed(&anyhow::Error::from(too_new)));
        assert!(!store_failed(&anyhow::anyhow!("cannot read mail.log")));
    }
}
