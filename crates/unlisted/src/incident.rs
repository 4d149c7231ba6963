//! Incidents from the store's events: the daemon's sync opens an incident
//! for a new listing (or a sender turning spamming) and gathers everything
//! related on that server — listings, senders, holds, site scans,
//! complaints — with a timeline; it moves an incident itself only where
//! the evidence is plain (all spamming senders held → `contained`; every
//! listing gone while delisting → `resolved`). The facts the workflow
//! weighs are gathered here too, for the CLI.

use std::collections::BTreeMap;

use anyhow::Result;
use incidents::{Facts, ListingFacts, ScanFacts, SenderFacts, State};
use store::{IncidentRow, Store};

use crate::config::Config;

/// The daemon's actor name for what it does to incidents.
const MONITOR: &str = "unlisted:monitor";

/// The server a log belongs to: its `server`, else the first configured.
fn server_of_log(config: &Config, log: &str) -> String {
    config
        .logs
        .iter()
        .find(|l| l.key() == log)
        .and_then(|l| l.server.clone())
        .or_else(|| config.servers.first().map(|s| s.name.clone()))
        // As remote refusals name a server no config names.
        .unwrap_or_else(|| "unknown".into())
}

/// The logs of `server`.
pub(crate) fn logs_of(config: &Config, server: &str) -> Vec<String> {
    config
        .logs
        .iter()
        .map(|l| l.key())
        .filter(|p| server_of_log(config, p) == server)
        .collect()
}

fn day(secs: i64) -> String {
    crate::output::time(secs)
}

/// `3 days`, `5 hours`, `12 minutes`.
fn ago(secs: i64) -> String {
    let (n, unit) = match secs.max(0) {
        s if s >= 2 * 86_400 => (s / 86_400, "days"),
        s if s >= 2 * 3600 => (s / 3600, "hours"),
        s => (s / 60, "minutes"),
    };
    format!("{n} {unit}")
}

/// When an incident moved to `state`, from its timeline.
fn moved_to(store: &Store, id: i64, state: &str) -> Result<Option<i64>> {
    Ok(store
        .incident_events(id)?
        .into_iter()
        .filter(|e| e.kind == "moved" && e.detail["to"] == state)
        .map(|e| e.at)
        .next_back())
}

/// The incident a new event on `server` joins: the active one, or a new
/// one (linked to an earlier incident within the look-back when there is
/// one: a late listing).
fn incident_for(
    store: &Store,
    config: &Config,
    server: &str,
    cause: &str,
    title: &str,
    now: i64,
) -> Result<i64> {
    if let Some(i) = store.active_incident(server)? {
        return Ok(i.id);
    }
    let since = now - config.incidents.lookback.as_secs() as i64;
    let mut related = None;
    let mut late = None;
    for old in store.incidents_since(server, since)? {
        if let Some(stopped) = moved_to(store, old.id, "contained")? {
            late = Some(format!(
                "spam from this server stopped {} ago in incident {} (contained {}); this listing most likely comes from late complaints",
                ago(now - stopped),
                old.id,
                day(stopped)
            ));
            related = Some(old.id);
            break;
        }
    }
    let id = store.open_incident(
        &IncidentRow {
            id: 0,
            server: server.to_string(),
            state: "open".into(),
            opened: now,
            updated: now,
            cause: cause.into(),
            title: title.into(),
            related,
        },
        now,
        MONITOR,
        title,
    )?;
    if let Some(text) = &late {
        store.incident_event(
            id,
            now,
            "late",
            MONITOR,
            text,
            &serde_json::json!({"related": related}),
        )?;
    }
    // The listing, refusal or sender that opened it has its own alert; a
    // late listing's link to an earlier incident is news of its own.
    if let Some(text) = &late {
        crate::alert::incident_event(store, &config.alerts, id, "late", text, MONITOR)?;
    }
    tracing::warn!(incident = id, server, "{title}");
    Ok(id)
}

/// One pass: new listings and spamming senders into incidents, what they
/// gathered since, and the moves the evidence makes plain.
pub(crate) fn sync(store: &Store, config: &Config, now: i64) -> Result<()> {
    // Blocklist listings before remote refusals, so an incident is named
    // after the listing when both arrive together.
    let mut episodes = store.open_episodes(None)?;
    episodes.sort_by_key(|e| (e.list.starts_with("remote:"), e.id));
    for ep in episodes {
        let key = ep.id.to_string();
        if !store.linked_incidents("episode", &key)?.is_empty() {
            continue;
        }
        let remote = ep.list.starts_with("remote:");
        let title = if remote {
            format!(
                "{} refused by {}",
                ep.target,
                ep.list.trim_start_matches("remote:")
            )
        } else {
            format!("{} listed on {}", ep.target, ep.list)
        };
        let id = incident_for(
            store,
            config,
            &ep.server,
            if remote { "remote" } else { "listing" },
            &title,
            now,
        )?;
        let why = if ep.meanings.is_empty() {
            ep.codes.join(", ")
        } else {
            ep.meanings.join("; ")
        };
        store.link_incident(
            id,
            "episode",
            &key,
            now,
            MONITOR,
            &format!("{title} since {} ({why})", day(ep.first_seen)),
        )?;
    }
    for s in store.sender_verdicts()? {
        if s.verdict != "spamming" {
            continue;
        }
        let linked = store.linked_incidents("sender", &s.sender)?;
        // Already in an incident since it turned spamming.
        let mut known = false;
        for id in &linked {
            if let Some(i) = store.incident(*id)?
                && (i.state != "resolved" || i.updated >= s.since)
            {
                known = true;
            }
        }
        if known {
            continue;
        }
        let log = store.sender_log(&s.sender)?.unwrap_or_default();
        let server = server_of_log(config, &log);
        let title = format!("{} is spamming", s.sender);
        let id = incident_for(store, config, &server, "spamming", &title, now)?;
        store.link_incident(
            id,
            "sender",
            &s.sender,
            now,
            MONITOR,
            &format!(
                "{} turned spamming ({} messages stored)",
                s.sender, s.messages
            ),
        )?;
    }
    for i in store.incidents(true, 1000)? {
        gather(store, &i, now)?;
        auto_move(store, config, &i, now)?;
    }
    Ok(())
}

/// Links the holds, finished site scans, complaints and ended listings of
/// an incident's senders and episodes.
fn gather(store: &Store, i: &IncidentRow, now: i64) -> Result<()> {
    let clock = store.latest_received()?.unwrap_or(0);
    for l in store.incident_links(i.id)? {
        match l.kind.as_str() {
            "sender" => {
                if let Some(h) = store.hold(&l.reference)? {
                    // The hold's time in the log's clock: how far the logs
                    // were read when it was seen (messages after it count
                    // as leaking through it).
                    store.link_incident(
                        i.id,
                        "hold",
                        &format!("{}@{}", h.subject, h.created),
                        clock,
                        &h.actor,
                        &format!(
                            "{} held ({}) by {}: {}",
                            h.subject, h.action, h.actor, h.reason
                        ),
                    )?;
                }
                for sc in store.site_scans_for(&l.reference)? {
                    if sc.finished.is_none() {
                        continue;
                    }
                    let text = match &sc.error {
                        Some(e) => format!("site scan {} of {} could not run: {e}", sc.id, sc.root),
                        None => format!(
                            "site scan {} of {}: {} malicious and {} suspicious findings (unlisted scans {})",
                            sc.id, sc.root, sc.malicious, sc.suspicious, sc.id
                        ),
                    };
                    store.link_incident(
                        i.id,
                        "scan",
                        &sc.id.to_string(),
                        now,
                        "unlisted:scan",
                        &text,
                    )?;
                }
                for (n, (at, provider)) in store
                    .sender_complaints(&l.reference)?
                    .into_iter()
                    .enumerate()
                {
                    store.link_incident(
                        i.id,
                        "complaint",
                        &format!("{}#{n}", l.reference),
                        now,
                        "unlisted:complaints",
                        &format!(
                            "complaint from {provider} about {} ({})",
                            l.reference,
                            day(at)
                        ),
                    )?;
                }
            }
            "episode" => {
                let Ok(ep_id) = l.reference.parse::<i64>() else {
                    continue;
                };
                if let Some(ep) = store.episode(ep_id)?
                    && let Some(ended) = ep.ended
                {
                    store.link_incident(
                        i.id,
                        "ended",
                        &l.reference,
                        ended,
                        MONITOR,
                        &format!(
                            "{} no longer listed on {} ({})",
                            ep.target,
                            ep.list,
                            day(ended)
                        ),
                    )?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The moves the daemon makes itself.
fn auto_move(store: &Store, config: &Config, i: &IncidentRow, now: i64) -> Result<()> {
    let Ok(from) = i.state.parse::<State>() else {
        return Ok(());
    };
    let to = match from {
        State::Open => State::Contained,
        State::Delisting | State::Unjustified | State::Verified => State::Resolved,
        _ => return Ok(()),
    };
    // Most loops nothing can move: tell that from the links alone before
    // weighing the full facts (which read every sender's messages).
    let links = store.incident_links(i.id)?;
    let refs = |kind: &str| -> Vec<&str> {
        links
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.reference.as_str())
            .collect()
    };
    let possible = if to == State::Contained {
        let senders = refs("sender");
        !senders.is_empty()
            && senders
                .iter()
                .all(|s| store.hold(s).is_ok_and(|h| h.is_some()))
    } else {
        // Resolving needs listings that ended, not merely none at all.
        let (episodes, ended) = (refs("episode"), refs("ended"));
        !episodes.is_empty() && episodes.iter().all(|e| ended.contains(e))
    };
    if !possible {
        return Ok(());
    }
    let f = facts(store, config, i)?;
    if let Ok(why) = incidents::check_move(from, to, &f) {
        store.move_incident(i.id, from.as_str(), to.as_str(), now, MONITOR, &why)?;
        crate::alert::incident_event(
            store,
            &config.alerts,
            i.id,
            &format!("moved:{to}"),
            &why,
            MONITOR,
        )?;
        tracing::info!(incident = i.id, from = %from, to = %to, "{why}");
    }
    Ok(())
}

/// What the workflow weighs for incident `i`.
pub(crate) fn facts(store: &Store, config: &Config, i: &IncidentRow) -> Result<Facts> {
    let links = store.incident_links(i.id)?;
    let mut senders = Vec::new();
    let mut listings = Vec::new();
    let mut complaints = 0;
    let hold_clock: BTreeMap<String, i64> = links
        .iter()
        .filter(|l| l.kind == "hold")
        .filter_map(|l| {
            l.reference
                .rsplit_once('@')
                .map(|(s, _)| (s.to_string(), l.at))
        })
        .collect();
    for l in &links {
        match l.kind.as_str() {
            "sender" => {
                let hold = store.hold(&l.reference)?;
                let after = hold_clock.get(&l.reference).copied().unwrap_or(i64::MAX);
                let (out_after_hold, _) = if hold.is_some() {
                    store.sender_outbound(&l.reference, after)?
                } else {
                    (0, None)
                };
                let (_, last_out) = store.sender_outbound(&l.reference, i64::MIN)?;
                let scan = store
                    .site_scans_for(&l.reference)?
                    .into_iter()
                    .next()
                    .map(|sc| {
                        let malicious_files: Vec<String> = sc.report["findings"]
                            .as_array()
                            .map(|a| {
                                let mut v: Vec<String> = a
                                    .iter()
                                    .filter(|f| f["severity"] == "malicious")
                                    .filter_map(|f| f["path"].as_str().map(str::to_string))
                                    .collect();
                                v.dedup();
                                v
                            })
                            .unwrap_or_default();
                        let quarantined = store.quarantined_under(&sc.root).unwrap_or_default();
                        ScanFacts {
                            id: sc.id,
                            finished: sc.finished.is_some(),
                            error: sc.error.clone(),
                            quarantined: malicious_files
                                .iter()
                                .filter(|m| quarantined.contains(m))
                                .cloned()
                                .collect(),
                            malicious_files,
                        }
                    });
                senders.push(SenderFacts {
                    sender: l.reference.clone(),
                    held_at: hold.map(|h| h.created),
                    out_after_hold,
                    last_out,
                    scan,
                });
            }
            "episode" => {
                if let Some(ep) = l
                    .reference
                    .parse()
                    .ok()
                    .and_then(|id| store.episode(id).ok().flatten())
                {
                    listings.push(ListingFacts {
                        episode: ep.id,
                        list: ep.list,
                        target: ep.target,
                        first_seen: ep.first_seen,
                        ended: ep.ended,
                    });
                }
            }
            "complaint" => complaints += 1,
            _ => {}
        }
    }
    let related_verified = match i.related {
        Some(r) => moved_to(store, r, "verified")?.map(|_| r),
        None => None,
    };
    Ok(Facts {
        senders,
        listings,
        complaints,
        log_clock: store.latest_received()?,
        quiet: config.incidents.quiet.as_secs() as i64,
        related_verified,
    })
}
