//! Remote-rejection watch: a reply in the mail logs that says one of our
//! IPs is blocked — by a DNS list, or by Microsoft, Gmail, Yahoo,
//! Proofpoint, Cloudmark — becomes a listing episode like a DNS listing
//! (`remote:SOURCE` as its list), with first and last seen and sample
//! replies, and alerts through the same outbox. These blocks cannot be
//! seen by any DNS query: the replies are the only signal.
//!
//! An episode ends when no such reply has come for `monitor.remote_quiet`
//! of log time. Replies that name an IP that is not one of the configured
//! servers' are not ours (a relay, a forward) and are left out.

use std::collections::HashMap;
use std::net::IpAddr;

use anyhow::Result;
use blocklists::Catalog;
use feedback::bounce::{Category, classify};
use maillog::message::Attempt;
use store::{Evidence, Store, Update};

use crate::config::Config;

/// The prefix of remote-rejection episodes' list ids.
pub(crate) const PREFIX: &str = "remote:";

type Key = (String, String, String);

/// Who refuses our IP in a remote reply, as `remote:SOURCE` names it: a
/// DNS list (its catalog id), a provider (`microsoft`), or the host that
/// answered; `None` when the reply is no refusal of the IP for a
/// listing, its reputation or its rate. Domain listings (DBL) are the
/// customer's domain, not our IP.
pub(crate) fn refusal_source(
    e: &feedback::bounce::Explanation,
    host: Option<&str>,
) -> Option<String> {
    if !matches!(
        e.category,
        Category::Blocklisted | Category::Reputation | Category::RateLimited
    ) || e.listed_domain.is_some()
    {
        return None;
    }
    Some(match (&e.list, &e.provider) {
        (Some(l), _) => {
            l.id.clone()
                .unwrap_or_else(|| l.zone.clone().unwrap_or(l.name.clone()))
        }
        (None, Some(p)) => p.clone(),
        (None, None) => format!("host:{}", host?),
    })
}

pub(crate) struct RemoteWatch {
    catalog: Catalog,
    /// Our IPs and the server each belongs to.
    ours: HashMap<IpAddr, String>,
    /// The one server, when only one is configured (replies that name no
    /// IP are its).
    only_server: Option<String>,
    quiet: i64,
    /// Open remote episodes: id, evidence, last seen.
    open: HashMap<Key, (i64, Evidence, i64)>,
}

impl RemoteWatch {
    pub(crate) fn new(config: &Config, catalog: &Catalog, store: &Store) -> Result<Self> {
        let mut ours = HashMap::new();
        for s in &config.servers {
            for ip in &s.ips {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    ours.insert(ip, s.name.clone());
                }
            }
        }
        let mut w = RemoteWatch {
            catalog: catalog.clone(),
            ours,
            only_server: (config.servers.len() == 1).then(|| config.servers[0].name.clone()),
            quiet: config.monitor.remote_quiet.as_secs() as i64,
            open: HashMap::new(),
        };
        w.reload(store)?;
        Ok(w)
    }

    /// Reads the open remote episodes again (after a batch opened some).
    pub(crate) fn reload(&mut self, store: &Store) -> Result<()> {
        self.open = store
            .open_episodes(None)?
            .into_iter()
            .filter(|e| e.list.starts_with(PREFIX))
            .map(|e| {
                (
                    (e.server.clone(), e.target.clone(), e.list.clone()),
                    (
                        e.id,
                        Evidence {
                            zone: e.zone.clone(),
                            codes: e.codes.clone(),
                            meanings: e.meanings.clone(),
                            txt: e.txt.clone(),
                        },
                        e.last_seen,
                    ),
                )
            })
            .collect();
        Ok(())
    }

    /// The episode updates a batch of failed attempts makes, each with its
    /// log time; `newest` is the latest log time read (for ending quiet
    /// episodes).
    pub(crate) fn updates(
        &self,
        attempts: &[Attempt],
        newest: Option<i64>,
        channels: &[String],
    ) -> Vec<(i64, Update)> {
        // Per episode: first and last time, evidence.
        let mut seen: HashMap<Key, (i64, i64, Evidence)> = HashMap::new();
        for a in attempts {
            let e = classify(&a.reply, a.host.as_deref(), &self.catalog);
            let Some(source) = refusal_source(&e, a.host.as_deref()) else {
                continue;
            };
            let (server, target) = match e.listed_ip {
                Some(ip) => match self.ours.get(&ip) {
                    Some(s) => (s.clone(), ip.to_string()),
                    None if self.ours.is_empty() => ("unknown".to_string(), ip.to_string()),
                    // Someone else's IP: not a listing of ours.
                    None => continue,
                },
                None => (
                    self.only_server.clone().unwrap_or_else(|| "unknown".into()),
                    "(not named)".to_string(),
                ),
            };
            let zone = e
                .list
                .as_ref()
                .and_then(|l| l.zone.clone())
                .or(e.provider.clone())
                .unwrap_or_else(|| source.clone());
            let code = e
                .enhanced
                .clone()
                .or(e.code.map(|c| c.to_string()))
                .unwrap_or_default();
            let key = (server, target, format!("{PREFIX}{source}"));
            let t = a.at.secs;
            let entry = seen.entry(key).or_insert_with(|| {
                (
                    t,
                    t,
                    Evidence {
                        zone,
                        codes: Vec::new(),
                        meanings: vec![format!("{}: {}", e.category.as_str(), e.explanation)],
                        txt: Vec::new(),
                    },
                )
            });
            entry.0 = entry.0.min(t);
            entry.1 = entry.1.max(t);
            if !code.is_empty() && !entry.2.codes.contains(&code) {
                entry.2.codes.push(code);
            }
            let sample = format!(
                "{} ({}): {}",
                a.recipient,
                a.host.as_deref().unwrap_or("?"),
                e.reply
            );
            if entry.2.txt.len() < 3 && !entry.2.txt.contains(&sample) {
                entry.2.txt.push(sample);
            }
        }
        // Replies older than the quiet period before the newest line are
        // old news: the block has lifted by the quiet rule. Without this, a
        // restart that reads a deferred message's lines again (its queue
        // entry keeps the log's resume point back) would reopen an episode
        // that already ended, or keep an open one alive forever.
        if let Some(now) = newest {
            seen.retain(|_, (_, last, _)| now - *last < self.quiet);
        }
        let mut out = Vec::new();
        for (key, (first, last, ev)) in &seen {
            match self.open.get(key) {
                Some((id, old, _)) => {
                    let mut merged = old.clone();
                    for c in &ev.codes {
                        if !merged.codes.contains(c) {
                            merged.codes.push(c.clone());
                        }
                    }
                    for s in &ev.txt {
                        if merged.txt.len() < 3 && !merged.txt.contains(s) {
                            merged.txt.push(s.clone());
                        }
                    }
                    out.push((
                        *last,
                        Update::Touch {
                            episode: *id,
                            evidence: merged,
                        },
                    ));
                }
                None => {
                    out.push((
                        *first,
                        Update::Open {
                            server: key.0.clone(),
                            target: key.1.clone(),
                            list: key.2.clone(),
                            evidence: ev.clone(),
                            channels: channels.to_vec(),
                        },
                    ));
                    out.push((
                        *last,
                        Update::Seen {
                            server: key.0.clone(),
                            target: key.1.clone(),
                            list: key.2.clone(),
                        },
                    ));
                }
            }
        }
        // Quiet long enough (in log time): the block has lifted.
        if let Some(now) = newest {
            for (key, (id, _, last)) in &self.open {
                if !seen.contains_key(key) && now - last >= self.quiet {
                    out.push((
                        now,
                        Update::Close {
                            episode: *id,
                            channels: channels.to_vec(),
                        },
                    ));
                }
            }
        }
        out
    }
}
