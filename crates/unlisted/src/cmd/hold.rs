//! `unlisted hold add|list|release|log`: stop a sender now, see who is
//! stopped and why, let it send again. Every change lands in the audit log
//! with who made it.

use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Stop a sender: `auth:USER`, `script:/path` (a script or a directory
    /// of scripts), `local:USER`, `ip:ADDR`, `from:ADDR`, or `account:NAME`
    /// for every sender of one customer.
    Add(AddArgs),
    /// The holds in force.
    List(ListArgs),
    /// Let a held sender send again.
    Release(ReleaseArgs),
    /// The audit log of hold changes, newest first.
    Log(LogArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct AddArgs {
    /// Who to stop (see `unlisted hold add --help`).
    sender: String,
    /// Why; shown to the MTA's client in the refusal and kept in the audit.
    #[arg(long)]
    reason: String,
    /// How long (`2h`, `3d`); default: until released.
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// What the MTA does with the sender's new mail: `reject` (bounce),
    /// `defer` (the client retries later), `hold` (accept into the hold
    /// queue for review).
    #[arg(long, default_value = "hold", value_parser = parse_action)]
    action: enforce::Action,
}

fn parse_action(s: &str) -> Result<enforce::Action, String> {
    s.parse()
}

#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// JSON Lines, one hold per line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReleaseArgs {
    sender: String,
    /// Why (kept in the audit).
    #[arg(long)]
    note: Option<String>,
    /// Let the sender's held queued mail go out (postsuper -H, exim -Mt).
    #[arg(long, conflicts_with = "delete")]
    requeue: bool,
    /// Delete the sender's held queued mail (postsuper -d, exim -Mrm).
    #[arg(long)]
    delete: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LogArgs {
    /// Only this sender.
    sender: Option<String>,
    /// How many entries.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

pub(crate) fn subject(s: &str) -> Result<enforce::Subject> {
    match s.parse::<enforce::Subject>() {
        Ok(s) => Ok(s),
        Err(e) => bail!("{e}"),
    }
}

pub(crate) fn run(g: &Global, c: Command) -> Result<Exit> {
    match c {
        Command::Add(a) => add(g, a),
        Command::List(a) => list(g, a),
        Command::Release(a) => release(g, a),
        Command::Log(a) => log(g, a),
    }
}

fn add(g: &Global, a: AddArgs) -> Result<Exit> {
    let (config, _) = super::load_config(g)?;
    let store = store::Store::open(&g.db)?;
    for line in place(
        &store,
        &config,
        &a.sender,
        a.action,
        &a.reason,
        a.duration,
        &super::actor(),
    )? {
        output::line(&line)?;
    }
    Ok(Exit::Clean)
}

/// Holds `sender` (and its queued mail, as configured); what was done, in
/// lines for people.
pub(crate) fn place(
    store: &store::Store,
    config: &crate::config::Config,
    sender: &str,
    action: enforce::Action,
    reason: &str,
    duration: Option<Duration>,
    actor: &str,
) -> Result<Vec<String>> {
    let subject = subject(sender)?;
    let reason = reason.trim();
    if reason.is_empty() {
        bail!("a hold needs a reason (--reason): it is shown to the sender and kept in the audit");
    }
    let now = output::now();
    let row = store::HoldRow {
        subject: subject.to_string(),
        action: action.to_string(),
        reason: reason.to_string(),
        created: now,
        until: duration.map(|d| now + d.as_secs() as i64),
        actor: actor.to_string(),
        automatic: false,
    };
    let existed = store.place_hold(&row, None)?;
    crate::alert::hold_event(
        store,
        &config.alerts,
        if existed { "changed" } else { "placed" },
        &row,
        actor,
    )?;
    let until = row
        .until
        .map(|u| format!(" until {}", output::time(u)))
        .unwrap_or_default();
    let mut out = vec![format!(
        "{} {subject}: {}{until} ({})",
        if existed { "changed hold on" } else { "held" },
        row.action,
        row.reason
    )];
    if let Some(text) = crate::policy::hold_queued(store, &config.enforce, &row, &row.actor)? {
        out.push(text);
    }
    Ok(out)
}

#[derive(Serialize)]
struct HoldJson<'a> {
    #[serde(flatten)]
    hold: &'a store::HoldRow,
    created_at: String,
    until_at: Option<String>,
    active: bool,
}

fn list(g: &Global, a: ListArgs) -> Result<Exit> {
    let store = store::Store::open(&g.db)?;
    let now = output::now();
    let holds = store.holds()?;
    if a.json {
        for h in &holds {
            output::json(&HoldJson {
                hold: h,
                created_at: output::time(h.created),
                until_at: h.until.map(output::time),
                active: h.until.is_none_or(|u| now < u),
            })?;
        }
        return Ok(Exit::Clean);
    }
    if holds.is_empty() {
        output::line("no holds")?;
        return Ok(Exit::Clean);
    }
    let width = holds
        .iter()
        .map(|h| h.subject.len())
        .max()
        .unwrap_or(6)
        .max(6);
    output::line(&format!(
        "{:<width$}  {:<6}  {:<20}  {:<20}  {:<16}  REASON",
        "SENDER", "ACTION", "SINCE", "UNTIL", "BY"
    ))?;
    for h in &holds {
        let until = match h.until {
            Some(u) if u <= now => format!("{} (expired)", output::time(u)),
            Some(u) => output::time(u),
            None => "released by hand".into(),
        };
        let by = if h.automatic {
            format!("{} (auto)", h.actor)
        } else {
            h.actor.clone()
        };
        output::line(&format!(
            "{:<width$}  {:<6}  {:<20}  {:<20}  {:<16}  {}",
            h.subject,
            h.action,
            output::time(h.created),
            until,
            by,
            h.reason
        ))?;
    }
    Ok(Exit::Clean)
}

fn release(g: &Global, a: ReleaseArgs) -> Result<Exit> {
    use crate::policy::OnRelease;
    let subject = subject(&a.sender)?;
    let (config, _) = super::load_config(g)?;
    let what = match (a.requeue, a.delete) {
        (true, _) => OnRelease::Requeue,
        (_, true) => OnRelease::Delete,
        _ => OnRelease::Keep,
    };
    if what != OnRelease::Keep && config.enforce.queue.mta().is_none() {
        bail!("--requeue and --delete need enforce.queue.mta (postfix or exim) in the config");
    }
    let store = store::Store::open(&g.db)?;
    let who = super::actor();
    let Some(h) =
        store.release_hold(&subject.to_string(), &who, a.note.as_deref(), output::now())?
    else {
        output::error(&format!(
            "{subject} is not held (`unlisted hold list` shows the holds)"
        ));
        return Ok(Exit::Found);
    };
    crate::alert::hold_event(&store, &config.alerts, "released", &h, &who)?;
    output::line(&format!(
        "released {} (was {}: {})",
        h.subject, h.action, h.reason
    ))?;
    if let Some(text) = crate::policy::release_queued(&store, &config.enforce, &h, what, &who)? {
        output::line(&text)?;
    }
    Ok(Exit::Clean)
}

#[derive(Serialize)]
struct AuditJson<'a> {
    #[serde(flatten)]
    row: &'a store::AuditRow,
    at_time: String,
}

fn log(g: &Global, a: LogArgs) -> Result<Exit> {
    let store = store::Store::open(&g.db)?;
    let subject = a
        .sender
        .as_deref()
        .map(subject)
        .transpose()?
        .map(|s| s.to_string());
    let rows = store.hold_audit(subject.as_deref(), a.limit.max(1))?;
    for r in &rows {
        if a.json {
            output::json(&AuditJson {
                row: r,
                at_time: output::time(r.at),
            })?;
            continue;
        }
        let mut text = format!(
            "{}  {:<9} {}  by {}",
            output::time(r.at),
            r.change,
            r.subject,
            r.actor
        );
        if let Some(act) = &r.action {
            text.push_str(&format!("  [{act}]"));
        }
        if let Some(reason) = &r.reason {
            text.push_str(&format!("  {reason}"));
        }
        if let Some(d) = &r.detail {
            text.push_str(&format!("  ({d})"));
        }
        output::line(&text)?;
    }
    Ok(Exit::Clean)
}
