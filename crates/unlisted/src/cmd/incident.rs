//! `unlisted incident list|show|move|note|report|notice`: the abuse desk's
//! incidents, their evidence and timeline, the moves through the workflow
//! (refused, with the reason, when the evidence does not support them),
//! removal requests and the evidence report, and customer notices.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use incidents::State;
use incidents::delisting::{EvidenceReport, Plan, RequestFacts};
use serde::Serialize;

use crate::Global;
use crate::config::Config;
use crate::output::{self, Exit};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Incidents, newest first (active ones unless --all).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// One incident: its state and next action, what it gathered, the
    /// removal plan of each listing, and its timeline.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Move an incident to a state; refused with the reason when the
    /// evidence does not support it (--force records it anyway).
    Move {
        id: i64,
        state: String,
        /// Why (kept in the timeline).
        #[arg(long)]
        reason: String,
        #[arg(long)]
        force: bool,
    },
    /// Add a note to the timeline.
    Note { id: i64, text: String },
    /// Removal requests for each listing (once verified) and the evidence
    /// report (for an unjustified listing, the request's substance).
    Report {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Render a customer notice (suspended, compromised, listed) with the
    /// incident's facts; --send mails it through `[incidents.mail]`.
    Notice(NoticeArgs),
}

pub(crate) async fn run(g: &Global, c: Command) -> Result<Exit> {
    let (config, path) = super::load_config(g)?;
    let catalog = super::load_catalog(g, &config, path.as_deref().and_then(|p| p.parent()))?;
    let store = store::Store::open(&g.db)?;
    match c {
        Command::List { all, json } => list(&store, all, json),
        Command::Show { id, json } => show(&store, &config, &catalog, id, json),
        Command::Move {
            id,
            state,
            reason,
            force,
        } => move_to(&store, &config, id, &state, &reason, force),
        Command::Note { id, text } => {
            incident(&store, id)?;
            store.incident_event(
                id,
                output::now(),
                "note",
                &super::actor(),
                &text,
                &serde_json::Value::Null,
            )?;
            Ok(Exit::Clean)
        }
        Command::Report { id, json } => report(&store, &config, &catalog, id, json),
        Command::Notice(n) => {
            let notices_dir = config.incidents.notices_dir.clone().or_else(|| {
                path.as_deref()
                    .and_then(|p| p.parent())
                    .map(|d| d.join("notices"))
            });
            notice(&store, &config, &catalog, notices_dir.as_deref(), n).await
        }
    }
}

fn incident(store: &store::Store, id: i64) -> Result<store::IncidentRow> {
    match store.incident(id)? {
        Some(i) => Ok(i),
        None => bail!("no incident has id {id} (`unlisted incident list`)"),
    }
}

#[derive(Serialize)]
struct Row<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    i: &'a store::IncidentRow,
    next_action: &'static str,
}

fn next_action(state: &str) -> &'static str {
    state.parse::<State>().map_or("", State::next_action)
}

fn list(store: &store::Store, all: bool, json: bool) -> Result<Exit> {
    for i in store.incidents(!all, 1000)? {
        if json {
            output::json(&Row {
                ty: "incident",
                next_action: next_action(&i.state),
                i: &i,
            })?;
        } else {
            output::line(&format!(
                "{:>4}  {:<11}  {}  {}  {}{}",
                i.id,
                i.state,
                output::time(i.opened),
                i.server,
                i.title,
                i.related
                    .map(|r| format!("  (follows incident {r})"))
                    .unwrap_or_default()
            ))?;
        }
    }
    Ok(Exit::Clean)
}

/// An incident with what the workflow weighs and offers.
struct Loaded {
    i: store::IncidentRow,
    facts: incidents::Facts,
    plans: Vec<Plan>,
    request_facts: RequestFacts,
    evidence: Option<EvidenceReport>,
}

fn load(
    store: &store::Store,
    config: &Config,
    catalog: &blocklists::Catalog,
    id: i64,
) -> Result<Loaded> {
    let i = incident(store, id)?;
    let facts = crate::incident::facts(store, config, &i)?;
    let (plans, request_facts, evidence) = plans(store, config, catalog, &i, &facts)?;
    Ok(Loaded {
        i,
        facts,
        plans,
        request_facts,
        evidence,
    })
}

/// The removal plan of each listing of `i`.
fn plans(
    store: &store::Store,
    config: &Config,
    catalog: &blocklists::Catalog,
    i: &store::IncidentRow,
    facts: &incidents::Facts,
) -> Result<(Vec<Plan>, RequestFacts, Option<EvidenceReport>)> {
    let state: State = i.state.parse().map_err(anyhow::Error::msg)?;
    let rf = request_facts(store, config, i, facts)?;
    let evidence = (state == State::Unjustified || facts.senders.is_empty())
        .then(|| evidence_report(store, config, i))
        .transpose()?;
    let rf = RequestFacts {
        evidence: evidence.as_ref().map(EvidenceReport::text),
        ..rf
    };
    let plans = facts
        .listings
        .iter()
        .filter_map(|l| {
            catalog
                .get(&l.list)
                .map(|list| incidents::delisting::plan(list, l, state, &rf))
        })
        .collect();
    Ok((plans, rf, evidence))
}

fn request_facts(
    store: &store::Store,
    config: &Config,
    i: &store::IncidentRow,
    facts: &incidents::Facts,
) -> Result<RequestFacts> {
    let mut stopped = Vec::new();
    let mut cleaned = Vec::new();
    // A late listing cites the incident that stopped the spam.
    let earlier = match (facts.senders.is_empty(), i.related) {
        (true, Some(r)) => match store.incident(r)? {
            Some(old) => Some((r, crate::incident::facts(store, config, &old)?)),
            None => None,
        },
        _ => None,
    };
    if let Some((r, _)) = &earlier {
        stopped.push(format!(
            "this listing follows our incident {r}, where the spam was stopped and verified:"
        ));
    }
    let facts = earlier.as_ref().map_or(facts, |(_, f)| f);
    for s in &facts.senders {
        match store.hold(&s.sender)? {
            Some(h) => stopped.push(format!(
                "{} held ({}) on {} by {}: {}",
                h.subject,
                h.action,
                output::time(h.created),
                h.actor,
                h.reason
            )),
            None => stopped.push(format!("{}: not held", s.sender)),
        }
        if let Some(sc) = &s.scan {
            cleaned.push(format!(
                "site scan {} of {}: {} malicious files, {} quarantined",
                sc.id,
                s.sender.trim_start_matches("script:"),
                sc.malicious_files.len(),
                sc.quarantined.len()
            ));
        }
    }
    for e in store.incident_events(i.id)? {
        if e.kind == "moved" && e.detail["to"] == "cleaned" {
            cleaned.push(format!("{} ({})", e.text, e.actor));
        }
    }
    let last_spam = facts.senders.iter().filter_map(|s| s.last_out).max();
    let clock = facts.log_clock.unwrap_or(0);
    let since = last_spam.map_or(clock, |l| l + 1);
    let profile =
        store.outbound_profile(&crate::incident::logs_of(config, &i.server), since, clock)?;
    let complaints_since = match last_spam {
        Some(l) => store.complaints_between(l, i64::MAX)?,
        None => 0,
    };
    Ok(RequestFacts {
        incident: i.id,
        server: i.server.clone(),
        stopped,
        last_spam,
        cleaned,
        messages_since: profile.messages,
        recipients_since: profile.recipients,
        complaints_since,
        evidence: None,
    })
}

/// The server's outbound mail, senders, complaints, holds and scans over
/// the look-back period before the newest log line.
fn evidence_report(
    store: &store::Store,
    config: &Config,
    i: &store::IncidentRow,
) -> Result<EvidenceReport> {
    let until = store.latest_received()?.unwrap_or(0);
    let since = until - config.incidents.lookback.as_secs() as i64;
    let profile =
        store.outbound_profile(&crate::incident::logs_of(config, &i.server), since, until)?;
    let verdicts: BTreeMap<String, String> = store
        .sender_verdicts()?
        .into_iter()
        .map(|s| (s.sender, s.verdict))
        .collect();
    Ok(EvidenceReport {
        server: i.server.clone(),
        since,
        until,
        messages: profile.messages,
        recipients: profile.recipients,
        per_day: profile.per_day,
        top_senders: profile
            .top_senders
            .into_iter()
            .map(|(s, n)| {
                let v = verdicts.get(&s).cloned().unwrap_or_else(|| "ok".into());
                (s, n, v)
            })
            .collect(),
        spamming_senders: verdicts.values().filter(|v| *v == "spamming").count() as i64,
        complaints: store.complaints_between(since, i64::MAX)?,
        holds: store.holds()?.into_iter().map(|h| h.subject).collect(),
        scans: store
            .site_scans(1000)?
            .into_iter()
            .filter(|s| s.finished.is_some())
            .map(|s| (s.root, s.malicious))
            .collect(),
    })
}

/// `incident show --json` of incident `id` as a value (for the API).
pub(crate) fn show_json(
    store: &store::Store,
    config: &Config,
    catalog: &blocklists::Catalog,
    id: i64,
) -> Result<Option<serde_json::Value>> {
    if store.incident(id)?.is_none() {
        return Ok(None);
    }
    let Loaded {
        i, facts, plans, ..
    } = load(store, config, catalog, id)?;
    let links = store.incident_links(id)?;
    let timeline = store.incident_events(id)?;
    Ok(Some(serde_json::to_value(Show {
        ty: "incident",
        i: &i,
        next_action: next_action(&i.state),
        facts: &facts,
        links: &links,
        plans: &plans,
        timeline: &timeline,
    })?))
}

#[derive(Serialize)]
struct Show<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    i: &'a store::IncidentRow,
    next_action: &'static str,
    facts: &'a incidents::Facts,
    links: &'a [store::IncidentLink],
    plans: &'a [Plan],
    timeline: &'a [store::IncidentEvent],
}

fn show(
    store: &store::Store,
    config: &Config,
    catalog: &blocklists::Catalog,
    id: i64,
    json: bool,
) -> Result<Exit> {
    if json {
        let shown = show_json(store, config, catalog, id)?;
        output::json(&shown.context("no such incident")?)?;
        return Ok(Exit::Clean);
    }
    let Loaded {
        i, facts, plans, ..
    } = load(store, config, catalog, id)?;
    let timeline = store.incident_events(id)?;
    output::line(&format!("incident {}: {} ({})", i.id, i.title, i.server))?;
    output::line(&format!(
        "  state: {}; next: {}",
        i.state,
        next_action(&i.state)
    ))?;
    if let Some(r) = i.related {
        output::line(&format!("  follows incident {r}"))?;
    }
    for s in &facts.senders {
        output::line(&format!(
            "  sender {}: {}{}{}",
            s.sender,
            s.held_at
                .map(|h| format!("held since {}", output::time(h)))
                .unwrap_or_else(|| "NOT HELD".into()),
            s.last_out
                .map(|t| format!(", last message out {}", output::time(t)))
                .unwrap_or_default(),
            s.scan
                .as_ref()
                .map(|sc| format!(
                    ", scan {}: {} malicious files, {} quarantined",
                    sc.id,
                    sc.malicious_files.len(),
                    sc.quarantined.len()
                ))
                .unwrap_or_default()
        ))?;
    }
    for p in &plans {
        output::line(&format!(
            "  listing {} on {}{}: {} (who: {})",
            p.target,
            p.list,
            p.ended
                .map(|e| format!(" (ended {})", output::time(e)))
                .unwrap_or_default(),
            p.advice,
            p.who
        ))?;
        if let Some(n) = &p.not_yet {
            output::line(&format!("    no request yet: {n}"))?;
        } else if p.request.is_some() {
            output::line(&format!(
                "    request ready: unlisted incident report {}",
                i.id
            ))?;
        }
    }
    if facts.complaints > 0 {
        output::line(&format!("  complaints: {}", facts.complaints))?;
    }
    output::line("  timeline:")?;
    for e in &timeline {
        output::line(&format!(
            "    {}  {:<8} {}  {}",
            output::time(e.at),
            e.kind,
            e.actor,
            e.text
        ))?;
    }
    Ok(Exit::Clean)
}

fn move_to(
    store: &store::Store,
    config: &Config,
    id: i64,
    state: &str,
    reason: &str,
    force: bool,
) -> Result<Exit> {
    match try_move(store, config, id, state, reason, force, &super::actor())? {
        Moved::Done(text) => {
            output::line(&format!("incident {id}: {text}"))?;
            Ok(Exit::Clean)
        }
        Moved::Forced(text) => {
            output::warning(&format!("incident {id}: {text}"));
            Ok(Exit::Clean)
        }
        Moved::Refused(text) => {
            output::error(&format!("incident {id}: {text}"));
            Ok(Exit::Found)
        }
    }
}

/// What a move did.
pub(crate) enum Moved {
    Done(String),
    Forced(String),
    Refused(String),
}

/// Moves incident `id` to `state` when the evidence supports it (or
/// `force`), recording the move or the refusal with `actor`.
pub(crate) fn try_move(
    store: &store::Store,
    config: &Config,
    id: i64,
    state: &str,
    reason: &str,
    force: bool,
    actor: &str,
) -> Result<Moved> {
    let i = incident(store, id)?;
    let to: State = state.parse().map_err(anyhow::Error::msg)?;
    let from: State = i.state.parse().map_err(anyhow::Error::msg)?;
    if reason.trim().is_empty() {
        bail!("a move needs a reason (it is kept in the timeline)");
    }
    let facts = crate::incident::facts(store, config, &i)?;
    let now = output::now();
    let recorded = match incidents::check_move(from, to, &facts) {
        Ok(why) => Ok((
            format!("{reason} (evidence: {why})"),
            Moved::Done(format!("{from} → {to}: {why}")),
        )),
        Err(refusal) if force => Ok((
            format!("{reason} (forced; the evidence said: {refusal})"),
            Moved::Forced(format!("{from} → {to} forced: {refusal}")),
        )),
        Err(refusal) => Err(format!("{from} → {to} refused: {refusal}")),
    };
    match recorded {
        Ok((text, moved)) => {
            store.move_incident(id, from.as_str(), to.as_str(), now, actor, &text)?;
            crate::alert::incident_event(
                store,
                &config.alerts,
                id,
                &format!("moved:{to}"),
                &text,
                actor,
            )?;
            Ok(moved)
        }
        Err(text) => {
            store.incident_event(
                id,
                now,
                "refused",
                actor,
                &text,
                &serde_json::json!({"from": from.as_str(), "to": to.as_str(), "reason": reason}),
            )?;
            Ok(Moved::Refused(text))
        }
    }
}

#[derive(Serialize)]
struct ReportJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    incident: i64,
    state: &'a str,
    plans: &'a [Plan],
    request_facts: &'a RequestFacts,
    evidence: Option<&'a EvidenceReport>,
}

fn report(
    store: &store::Store,
    config: &Config,
    catalog: &blocklists::Catalog,
    id: i64,
    json: bool,
) -> Result<Exit> {
    let Loaded {
        i,
        plans,
        request_facts: rf,
        evidence,
        ..
    } = load(store, config, catalog, id)?;
    if json {
        output::json(&ReportJson {
            ty: "report",
            incident: id,
            state: &i.state,
            plans: &plans,
            request_facts: &rf,
            evidence: evidence.as_ref(),
        })?;
        return Ok(Exit::Clean);
    }
    for p in &plans {
        output::line(&format!(
            "== {} on {} ({})",
            p.target,
            p.list_name,
            p.routes.join(", ")
        ))?;
        output::line(&format!("{} (who: {})", p.advice, p.who))?;
        if let Some(u) = &p.url {
            output::line(&format!("form: {u}"))?;
        }
        if let Some(e) = &p.email {
            output::line(&format!("e-mail: {e}"))?;
        }
        match (&p.request, &p.not_yet) {
            (Some(r), _) => output::line(&format!("\n{r}"))?,
            (None, Some(n)) => output::line(&format!("no request yet: {n}"))?,
            (None, None) => {}
        }
        output::line("")?;
    }
    if let Some(e) = &evidence {
        output::line("== evidence report")?;
        output::line(&e.text())?;
    }
    Ok(Exit::Clean)
}

#[derive(Debug, clap::Args)]
pub(crate) struct NoticeArgs {
    id: i64,
    kind: String,
    /// The customer (account) it is for, as the notice names them.
    #[arg(long)]
    account: Option<String>,
    /// The sender the notice is about (default: the incident's first).
    #[arg(long)]
    sender: Option<String>,
    /// The customer's address (default: from `incidents.contacts`,
    /// cPanel's /var/cpanel/users where it exists).
    #[arg(long)]
    to: Option<String>,
    /// `listed` only: one notice to every customer who sent mail through
    /// this server's logs in `incidents.lookback`.
    #[arg(long, conflicts_with_all = ["account", "to"])]
    all_accounts: bool,
    #[arg(long)]
    send: bool,
    #[arg(long)]
    json: bool,
}

async fn notice(
    store: &store::Store,
    config: &Config,
    catalog: &blocklists::Catalog,
    dir: Option<&std::path::Path>,
    a: NoticeArgs,
) -> Result<Exit> {
    let i = incident(store, a.id)?;
    let kind: incidents::notice::Kind = a.kind.parse().map_err(anyhow::Error::msg)?;
    let facts = crate::incident::facts(store, config, &i)?;
    let mine: Vec<&incidents::SenderFacts> = facts
        .senders
        .iter()
        .filter(|s| a.sender.as_deref().is_none_or(|x| x == s.sender))
        .collect();
    let customer = a
        .account
        .clone()
        .or_else(|| mine.first().and_then(|s| sender_account(store, &s.sender)))
        .unwrap_or_else(|| "customer".into());
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert("customer", customer.clone());
    vars.insert("server", i.server.clone());
    vars.insert("incident", i.id.to_string());
    vars.insert("desk", config.incidents.desk.clone());
    match kind {
        incidents::notice::Kind::Suspended => {
            let Some(s) = mine.first() else {
                bail!("incident {} has no such sender to tell about", i.id);
            };
            let hold = store.hold(&s.sender)?;
            vars.insert("sender", s.sender.clone());
            vars.insert(
                "held_since",
                hold.as_ref()
                    .map_or("now".into(), |h| output::time(h.created)),
            );
            vars.insert(
                "why",
                hold.map(|h| h.reason)
                    .unwrap_or_else(|| "it was sending spam".into()),
            );
        }
        incidents::notice::Kind::Compromised => {
            let Some(s) = mine.iter().find(|s| s.scan.is_some()) else {
                bail!("incident {} has no scanned site to tell about", i.id);
            };
            let sc = s.scan.as_ref().context("scan")?;
            let row = store.site_scan(sc.id)?.context("scan row")?;
            vars.insert("sender", s.sender.clone());
            vars.insert("site", row.root.clone());
            vars.insert(
                "findings",
                sc.malicious_files
                    .iter()
                    .map(|f| format!("  {f}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            vars.insert(
                "quarantined",
                if sc.quarantined.is_empty() {
                    "They are still in place: tell us whether we should take them out.".into()
                } else {
                    format!(
                        "We took {} of them out of the site (kept, not deleted, in case you need them).",
                        sc.quarantined.len()
                    )
                },
            );
        }
        incidents::notice::Kind::Listed => {
            let open: Vec<&incidents::ListingFacts> = facts
                .listings
                .iter()
                .filter(|l| l.ended.is_none())
                .collect();
            let Some(first) = open.first() else {
                bail!("incident {} has no open listing", i.id);
            };
            vars.insert("ip", first.target.clone());
            let mut lines = Vec::new();
            let mut no_procedure = Vec::new();
            for l in &open {
                let name = catalog
                    .get(&l.list)
                    .map_or(l.list.clone(), |c| c.name.clone());
                lines.push(format!("  {name} (since {})", output::time(l.first_seen)));
                let routes = catalog
                    .get(&l.list)
                    .map(|c| c.delisting.routes.clone())
                    .unwrap_or_default();
                if routes.is_empty() || routes.contains(&blocklists::catalog::Route::None) {
                    no_procedure.push(name);
                }
            }
            vars.insert("lists", lines.join("\n"));
            vars.insert(
                "progress",
                format!("{} ({})", i.state, next_action(&i.state)),
            );
            vars.insert(
                "no_procedure",
                if no_procedure.is_empty() {
                    String::new()
                } else {
                    format!(
                        "{} has no removal procedure: nobody, not even we, can ask it to remove the listing. If mail to someone bounces because of it, reach them another way and ask them to tell their own mail administrator that the list cannot be appealed, so they can accept mail from us.\n",
                        no_procedure.join(", ")
                    )
                },
            );
        }
    }
    if a.all_accounts {
        if kind != incidents::notice::Kind::Listed {
            bail!("--all-accounts is for the `listed` notice");
        }
        return notice_everyone(store, config, &i, dir, vars, a.send).await;
    }
    let rendered = incidents::notice::notice(kind, dir, &vars).map_err(anyhow::Error::msg)?;
    if a.json {
        output::json(&rendered)?;
    } else {
        output::line(&format!(
            "Subject: {}\n\n{}",
            rendered.subject, rendered.text
        ))?;
    }
    if !a.send {
        return Ok(Exit::Clean);
    }
    let to = match a.to.clone().or_else(|| config.incidents.contact(&customer)) {
        Some(to) => to,
        None => bail!(
            "no address for customer {customer}: give --to, or set incidents.contacts (a cPanel users directory or a file of `account address` lines)"
        ),
    };
    send_notice(store, config, &i, kind, &rendered, &customer, &to).await?;
    output::line(&format!("sent to {to}"))?;
    Ok(Exit::Clean)
}

/// Mails a rendered notice and records it in the incident.
async fn send_notice(
    store: &store::Store,
    config: &Config,
    i: &store::IncidentRow,
    kind: incidents::notice::Kind,
    rendered: &incidents::notice::Rendered,
    customer: &str,
    to: &str,
) -> Result<()> {
    let Some(mail) = &config.incidents.mail else {
        bail!("--send needs [incidents.mail] in the config (smtp, from)");
    };
    crate::alert::send_notice(
        &mail.to(to),
        &rendered.subject,
        &rendered.text,
        &rendered.html,
    )
    .await?;
    store.link_incident(
        i.id,
        "notice",
        // Unique per sending, even two in one second.
        &format!(
            "{}:{to}:{}",
            kind.as_str(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ),
        output::now(),
        &super::actor(),
        &format!("notice \"{}\" sent to {customer} <{to}>", rendered.subject),
    )?;
    Ok(())
}

/// The `listed` notice to every customer of the incident's server.
async fn notice_everyone(
    store: &store::Store,
    config: &Config,
    i: &store::IncidentRow,
    dir: Option<&std::path::Path>,
    mut vars: BTreeMap<&str, String>,
    send: bool,
) -> Result<Exit> {
    let logs = crate::incident::logs_of(config, &i.server);
    let since = store.latest_received()?.unwrap_or(0) - config.incidents.lookback.as_secs() as i64;
    let accounts = store.accounts_of_logs(&logs, since)?;
    let (mut sent, mut missing) = (0, Vec::new());
    for account in &accounts {
        let Some(to) = config.incidents.contact(account) else {
            missing.push(account.clone());
            continue;
        };
        vars.insert("customer", account.clone());
        let rendered = incidents::notice::notice(incidents::notice::Kind::Listed, dir, &vars)
            .map_err(anyhow::Error::msg)?;
        if send {
            send_notice(
                store,
                config,
                i,
                incidents::notice::Kind::Listed,
                &rendered,
                account,
                &to,
            )
            .await?;
            sent += 1;
        }
        output::line(&format!(
            "{account} <{to}>{}",
            if send { ": sent" } else { "" }
        ))?;
    }
    if !missing.is_empty() {
        output::warning(&format!(
            "no address for {} of {} customers: {}",
            missing.len(),
            accounts.len(),
            missing.join(", ")
        ));
    }
    if send {
        output::line(&format!("{sent} notices sent"))?;
    }
    Ok(if missing.is_empty() {
        Exit::Clean
    } else {
        Exit::Found
    })
}

/// The account a sender's messages belong to.
fn sender_account(store: &store::Store, sender: &str) -> Option<String> {
    store
        .sender_verdicts()
        .ok()?
        .into_iter()
        .find(|s| s.sender == sender)
        .and_then(|s| s.account)
}
