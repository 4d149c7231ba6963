//! `unlisted lists`: the catalog as the binary sees it.

use anyhow::Result;
use serde::Serialize;

use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Include defunct lists.
    #[arg(long)]
    defunct: bool,
    /// JSON Lines, one object per list.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ListJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    list: &'a blocklists::List,
}

pub(crate) fn run(g: &Global, a: Args) -> Result<Exit> {
    let (config, path) = super::load_config(g)?;
    let catalog = super::load_catalog(g, &config, path.as_deref().and_then(|p| p.parent()))?;
    let lists: Vec<_> = catalog
        .lists()
        .iter()
        .filter(|l| a.defunct || l.is_active())
        .collect();
    let id_w = lists.iter().map(|l| l.id.len()).max().unwrap_or(2);
    let zone_w = lists.iter().map(|l| l.zone.len()).max().unwrap_or(4);
    if !a.json {
        output::line(&format!(
            "{:<id_w$}  {:<zone_w$}  {:<17} {:<7} DELISTING",
            "ID", "ZONE", "KINDS", "DEFAULT"
        ))?;
    }
    for l in lists {
        if a.json {
            output::json(&ListJson {
                ty: "list",
                list: l,
            })?;
            continue;
        }
        let kinds: Vec<&str> = l.kinds.iter().map(|k| k.as_str()).collect();
        let tail = match &l.defunct {
            Some(why) if !l.is_active() => format!("DEFUNCT: {why}"),
            _ => l.delisting.summary(),
        };
        output::line(&format!(
            "{:<id_w$}  {:<zone_w$}  {:<17} {:<7} {tail}",
            l.id,
            l.zone,
            kinds.join(","),
            if l.default { "yes" } else { "no" },
        ))?;
    }
    Ok(Exit::Clean)
}
