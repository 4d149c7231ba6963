//! `unlisted status`: current listings per server, read from the store.

use anyhow::Result;
use serde::Serialize;

use crate::Global;
use crate::heartbeat::State;
use crate::output::{self, Exit};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only this server.
    #[arg(long)]
    server: Option<String>,
    /// Also show ended episodes (the latest 100).
    #[arg(long)]
    history: bool,
    /// JSON Lines: the daemon's state, one object per listing, then the
    /// last sweep and any failing zone.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct EpisodeJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    episode: &'a store::Episode,
    since: String,
    delisting: Option<&'a blocklists::catalog::Delisting>,
}

pub(crate) fn run(g: &Global, a: Args) -> Result<Exit> {
    let (config, path) = super::load_config(g)?;
    let catalog = super::load_catalog(g, &config, path.as_deref().and_then(|p| p.parent()))?;
    let store = store::Store::open(&g.db)?;
    let open = store.open_episodes(a.server.as_deref())?;
    let ended: Vec<_> = if a.history {
        store
            .episodes(a.server.as_deref(), 100)?
            .into_iter()
            .filter(|e| e.ended.is_some())
            .collect()
    } else {
        Vec::new()
    };
    let sweep = store.last_sweep()?;
    let beat = store.daemon()?;
    let queue = store.queue_census()?;
    let now = output::now();
    let daemon = crate::heartbeat::state(beat.as_ref(), now, crate::heartbeat::alive);
    let failing = store.failing_zones()?;
    let senders = store.sender_verdicts()?;
    let logs = store.logs()?;
    let health = store.log_health()?;
    let health_of = |path: &str| health.iter().find(|h| h.path == path);
    let unread = store.log_problems()?;
    // Logs the daemon takes for login logs (Dovecot's alone), by key.
    let login_logs: Vec<String> = (config.logs.iter())
        .filter(|l| l.login_log_kind() == Some(true))
        .map(|l| l.key())
        .collect();
    let is_login_log = |path: &str| login_logs.iter().any(|k| k == path);
    let spamming = senders.iter().any(|s| s.verdict == "spamming");
    let delisting = |list: &str| {
        catalog
            .get(list.strip_prefix(crate::remote::PREFIX).unwrap_or(list))
            .map(|l| &l.delisting)
    };

    if a.json {
        let mut d = serde_json::json!({"type": "daemon", "state": daemon.as_str()});
        if let Some(b) = &beat {
            d["pid"] = b.pid.into();
            d["started"] = output::time(b.started).into();
            d["seen"] = output::time(b.seen).into();
            d["stopped"] = b.stopped.map(output::time).into();
            d["once"] = b.once.into();
            d["version"] = b.version.clone().into();
        }
        output::json(&d)?;
        if let Some(q) = &queue {
            let mut j = serde_json::json!({"type": "queue", "queue": q});
            j["counted"] = output::time(q.at).into();
            output::json(&j)?;
        }
        for e in open.iter().chain(&ended) {
            output::json(&EpisodeJson {
                ty: if e.ended.is_some() {
                    "ended"
                } else {
                    "listing"
                },
                episode: e,
                since: output::time(e.first_seen),
                delisting: delisting(&e.list),
            })?;
        }
        if let Some(s) = &sweep {
            output::json(&serde_json::json!({"type": "sweep", "sweep": s}))?;
        }
        for z in &failing {
            output::json(&serde_json::json!({"type": "zone", "zone": z}))?;
        }
        for s in &senders {
            output::json(&serde_json::json!({
                "type": "sender",
                "sender": s.sender,
                "account": s.account,
                "verdict": s.verdict,
                "since": maillog::Stamp { secs: s.since, millis: 0 }.iso(),
                "messages": s.messages,
            }))?;
        }
        for (path, cp, messages) in &logs {
            let mut log = serde_json::json!({
                "type": "log", "path": path, "read_to": cp.read_to, "resume_at": cp.resume_at, "messages": messages,
                "login_log": is_login_log(path),
            });
            // What the daemon met in it since it started.
            if let Some(h) = health_of(path) {
                log["counted_since"] = output::time(h.since).into();
                log["lines"] = h.lines.into();
                log["not_understood"] = h.not_understood.into();
                log["dropped"] = h.dropped.into();
                log["failed_logins"] = h.failed_logins.into();
                log["last_not_understood_at"] = h.last_bad_at.clone().into();
                log["last_not_understood"] = h.last_bad.clone().into();
            }
            output::json(&log)?;
        }
        for (path, problem, since) in &unread {
            output::json(&serde_json::json!({
                "type": "log_problem", "path": path, "problem": problem, "since": output::time(*since),
            }))?;
        }
    } else {
        let line = daemon_line(daemon, beat.as_ref(), now);
        match daemon {
            State::Gone | State::Silent => output::warning(&line),
            _ => output::line(&line)?,
        }
        if let Some(q) = &queue {
            let line = queue_line(q, now);
            let over = config.enforce.queue.alert_above;
            if over > 0 && q.total as u64 >= over {
                output::warning(&format!("{line} (enforce.queue.alert_above is {over})"));
            } else {
                output::line(&line)?;
            }
        }
        if open.is_empty() {
            output::line("no current listings")?;
        }
        let mut server = None;
        for e in &open {
            if server != Some(&e.server) {
                output::line(&e.server)?;
                server = Some(&e.server);
            }
            output::line(&format!(
                "  {:<39} {:<16} listed since {}, last seen {}",
                e.target,
                e.list,
                output::time(e.first_seen),
                output::time(e.last_seen)
            ))?;
            for (c, m) in e
                .codes
                .iter()
                .zip(e.meanings.iter().chain(std::iter::repeat(&String::new())))
            {
                output::line(&format!("      {c} {m}"))?;
            }
            for t in &e.txt {
                output::line(&format!("      txt: {t}"))?;
            }
            if let Some(d) = delisting(&e.list) {
                output::line(&format!("      delisting: {}", d.summary()))?;
            }
        }
        if !ended.is_empty() {
            output::line("ended")?;
            for e in &ended {
                output::line(&format!(
                    "  {:<12} {:<39} {:<16} {} .. {}",
                    e.server,
                    e.target,
                    e.list,
                    output::time(e.first_seen),
                    output::time(e.ended.unwrap_or_default())
                ))?;
            }
        }
        match &sweep {
            Some(s) => output::line(&format!(
                "last sweep {}: {} lookups, {} listed, {} errors, {} unknown, {} zones failed self-test",
                output::time(s.finished.unwrap_or(s.started)),
                s.stats.lookups,
                s.stats.listed,
                s.stats.errors,
                s.stats.unknown,
                s.stats.zones_failed
            ))?,
            None => {
                output::line("no sweep has finished yet; start the monitor with `unlisted serve`")?
            }
        }
        for s in senders.iter().filter(|s| s.verdict != "ok") {
            output::line(&format!(
                "sender {:<10} {} (account {}) since {}, {} stored",
                s.verdict,
                s.sender,
                s.account.as_deref().unwrap_or("-"),
                maillog::Stamp {
                    secs: s.since,
                    millis: 0
                }
                .iso(),
                output::count(s.messages as u64, "message", "messages")
            ))?;
        }
        for (path, cp, messages) in &logs {
            output::line(&format!(
                "log {path}: read to byte {}, {}",
                cp.read_to,
                match is_login_log(path) {
                    true => "a login log: its failed logins go to the server's other logs".into(),
                    false => format!(
                        "{} stored",
                        output::count(*messages as u64, "message", "messages")
                    ),
                }
            ))?;
            let Some(h) = health_of(path) else { continue };
            if h.not_understood > 0 {
                output::warning(&format!(
                    "log {path}: {} of {} not understood since {}, the last at {}: {}",
                    h.not_understood,
                    output::count(h.lines, "line", "lines"),
                    output::time(h.since),
                    h.last_bad_at.as_deref().unwrap_or("?"),
                    h.last_bad.as_deref().unwrap_or("")
                ));
            }
            if h.dropped > 0 {
                output::warning(&format!(
                    "log {path}: {} (since {})",
                    super::logs::dropped_by_journald(h.dropped),
                    output::time(h.since)
                ));
            }
            if h.failed_logins > 0 {
                output::line(&format!(
                    "log {path}: {} since {} (`unlisted logs analyze` names the mailboxes tried)",
                    output::count(h.failed_logins, "failed login", "failed logins"),
                    output::time(h.since)
                ))?;
            }
        }
        const SHOWN: usize = 5;
        if failing.len() > SHOWN {
            output::warning(&format!(
                "{} zones failed their last self-test (the first {SHOWN} follow; `status --json` lists all)",
                failing.len()
            ));
        }
        for (_, problem, since) in &unread {
            output::warning(&format!(
                "{problem} (since {}): no mail is read from it",
                output::time(*since)
            ));
        }
        for z in failing.iter().take(SHOWN) {
            output::warning(&format!(
                "{} ({}) failed its self-test at {}: {}",
                z.list,
                z.kind,
                output::time(z.checked),
                z.problem.as_deref().unwrap_or("")
            ));
        }
    }
    Ok(if open.is_empty() && !spamming {
        Exit::Clean
    } else {
        Exit::Found
    })
}

/// What `status` says of the daemon, from its heartbeat.
fn daemon_line(state: State, beat: Option<&store::DaemonBeat>, now: i64) -> String {
    let Some(b) = beat else {
        return "daemon: never ran on this store (`unlisted serve`)".into();
    };
    let ago = |t: i64| format!("{} ({} ago)", output::time(t), output::ago(now - t));
    match state {
        State::Never => "daemon: never ran on this store (`unlisted serve`)".into(),
        State::Stopped if b.once => format!(
            "daemon: last ran {} (serve --once)",
            ago(b.stopped.unwrap_or(b.seen))
        ),
        State::Stopped => format!(
            "daemon: stopped {}, pid {}",
            ago(b.stopped.unwrap_or(b.seen)),
            b.pid
        ),
        State::Running => format!(
            "daemon: running since {}, pid {}, last round {}",
            output::time(b.started),
            b.pid,
            ago(b.seen)
        ),
        State::Gone => format!(
            "daemon: not running: pid {} ended without stopping (killed, crashed or rebooted) after its last round {}; `unlisted serve` again reads on from its checkpoints",
            b.pid,
            ago(b.seen)
        ),
        State::Silent => format!(
            "daemon: pid {} runs but has finished no round since {}: reading a long backlog, stuck, or unable to write its store (its log says which)",
            b.pid,
            ago(b.seen)
        ),
    }
}

/// What `status` says of the daemon's last count of the mail queue.
fn queue_line(q: &store::QueueCensus, now: i64) -> String {
    let by: Vec<String> = q.by_queue.iter().map(|(n, c)| format!("{n} {c}")).collect();
    let mut line = format!(
        "queue: {} ({} held or frozen{}{}), counted {} ago",
        output::count(q.total as u64, "message", "messages"),
        q.held,
        if by.is_empty() { "" } else { "; " },
        by.join(", "),
        output::ago(now - q.at)
    );
    if !q.senders.is_empty() {
        let top: Vec<String> = (q.senders.iter().take(3))
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        line += &format!("; most from {} (of {} read)", top.join(", "), q.sampled);
    }
    line
}
