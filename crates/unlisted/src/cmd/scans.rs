//! `unlisted scans [--json] [ID]`: the site scans the daemon ran for
//! scripts that turned spamming, and one scan's findings and trace.

use anyhow::{Result, bail};
use serde::Serialize;

use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Show this scan's findings and trace.
    id: Option<i64>,
    /// How many scans to list, newest first.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct RowJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    row: &'a store::SiteScanRow,
    state: &'static str,
}

fn state(r: &store::SiteScanRow) -> &'static str {
    match (r.finished, &r.error) {
        (None, _) => "pending",
        (Some(_), Some(_)) => "failed",
        (Some(_), None) => "finished",
    }
}

pub(crate) fn run(g: &Global, a: Args) -> Result<Exit> {
    let store = store::Store::open(&g.db)?;
    let Some(id) = a.id else {
        for r in store.site_scans(a.limit)? {
            if a.json {
                let mut row = r.clone();
                // The list is an index; `scans ID` has the report.
                row.report = serde_json::Value::Null;
                output::json(&RowJson {
                    ty: "scan",
                    row: &row,
                    state: state(&r),
                })?;
            } else {
                output::line(&format!(
                    "{:>4}  {}  {:<8}  {} malicious, {} suspicious  {}  (site {}){}",
                    r.id,
                    output::time(r.queued),
                    state(&r),
                    r.malicious,
                    r.suspicious,
                    r.sender,
                    r.root,
                    r.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ))?;
            }
        }
        return Ok(Exit::Clean);
    };
    let Some(r) = store.site_scan(id)? else {
        bail!("no site scan has id {id} (`unlisted scans`)");
    };
    if a.json {
        output::json(&RowJson {
            ty: "scan",
            row: &r,
            state: state(&r),
        })?;
        return Ok(Exit::Clean);
    }
    output::line(&format!(
        "scan {}: {} of {} for {} (queued {}), {}",
        r.id,
        state(&r),
        r.root,
        r.sender,
        output::time(r.queued),
        match (&r.error, r.finished) {
            (Some(e), _) => e.clone(),
            (None, Some(f)) => format!(
                "finished {}: {} malicious, {} suspicious",
                output::time(f),
                r.malicious,
                r.suspicious
            ),
            (None, None) => "not run yet".into(),
        }
    ))?;
    let findings: Vec<sitescan::Finding> =
        serde_json::from_value(r.report["findings"].clone()).unwrap_or_default();
    for f in &findings {
        super::scan::print_finding(f, "  ")?;
    }
    if let Ok(t) =
        serde_json::from_value::<sitescan::trace::Trace>(r.report["trace"]["trace"].clone())
    {
        super::trace::print(std::path::Path::new(&r.target), &t)?;
    }
    Ok(Exit::Clean)
}
