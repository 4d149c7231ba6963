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

pub(crate) async fn run(g: &Global, a: Args) -> Result<Exit> {
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
    if config.servers.is_empty()
        && config.logs.is_empty()
        && config.complaints.maildirs.is_empty()
        && config.enforce.policy.listen.is_none()
        && config.enforce.policy.milter.is_none()
    {
        bail!(
            "config {} names no [[server]] to watch, no [[log]] to read, no complaints.maildirs and no enforce.policy.listen",
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
    let log_lines = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
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
                log_lines: log_lines.clone(),
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
    // Rebuild the detector's windows from what is stored, then follow the
    // logs from their checkpoints.
    let mut detector = detect::Detector::new(config.detect.clone());
    let window = config
        .detect
        .window
        .max(config.detect.login_window)
        .max(config.detect.complaint_window)
        .as_secs() as i64;
    let restored = crate::ingest::restore_detector(&store, &mut detector, window)?;
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
            crate::ingest::recall(&store, &mut detector, &s)?;
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
                crate::ingest::LogIngest::open(l, &config.ingest, zone, &store, owners.clone())?;
            if a.once {
                log.linger_one_run();
            }
            Ok(log)
        })
        .collect::<Result<Vec<_>>>()?;
    let poll = config.ingest.poll;
    let remote = crate::remote::RemoteWatch::new(&config, &catalog, &store)?;
    let mut monitor = Monitor {
        config,
        catalog,
        store,
        client,
        lists,
        alerter,
        logs,
        detector,
        remote,
        scans: std::collections::HashMap::new(),
        senders_saved: None,
    };

    let mut shutdown = std::pin::pin!(shutdown_signal());
    let mut next_sweep = tokio::time::Instant::now();
    loop {
        if !monitor.config.servers.is_empty() && tokio::time::Instant::now() >= next_sweep {
            tokio::select! {
            res = monitor.sweep() => match res {
                Ok(r) => tracing::info!(lookups = r.stats.lookups, listed = r.stats.listed, errors = r.stats.errors, unknown = r.stats.unknown, zones_failed = r.stats.zones_failed, opened = r.opened, closed = r.closed, "sweep finished"),
                // Only the store can fail a sweep; that ends the daemon.
                Err(e) => return Err(e.context("sweep failed")),
            },
                _ = &mut shutdown => {
                    tracing::info!("shutting down during a sweep; nothing of it was written");
                    monitor.save_senders(true)?;
                    return Ok(Exit::Clean);
                }
            }
            next_sweep = tokio::time::Instant::now() + interval;
        }
        if !monitor.logs.is_empty() {
            let (lines, new) = monitor.ingest_logs(a.once)?;
            log_lines.fetch_add(lines as u64, std::sync::atomic::Ordering::Relaxed);
            if lines > 0 {
                tracing::debug!(lines, messages = new, "logs read");
            }
        }
        // After the logs, so a complaint finds the message it is about.
        let fed = monitor.feed_complaints()?;
        if fed > 0 {
            tracing::info!(complaints = fed, "complaints fed to detection");
        }
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
                monitor.save_senders(true)?;
                return Ok(Exit::Clean);
            }
        }
    }
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
