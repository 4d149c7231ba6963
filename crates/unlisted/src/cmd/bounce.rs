//! `unlisted bounce explain FILE|-`: what a bounce means, for the customer
//! who forwarded it: the category, the list or provider that refused the
//! mail, the IP or domain that is listed, and how removal works.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use blocklists::Catalog;
use feedback::bounce::{Category, Explanation};
use serde::Serialize;

use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Explain a bounce: a DSN, an Exim or Postfix bounce message, or just
    /// the remote server's reply line.
    Explain(ExplainArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExplainArgs {
    /// Bounce files, or `-` for stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// JSON Lines: one object per bounced recipient.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct BounceJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    file: String,
    #[serde(flatten)]
    e: &'a Explanation,
    removal: String,
}

/// How the block goes away, from the catalog's delisting routes or what
/// is known of the provider.
pub(crate) fn removal(e: &Explanation, catalog: &Catalog) -> String {
    if let Some(l) = &e.list {
        return match l.id.as_deref().and_then(|id| catalog.get(id)) {
            Some(list) => {
                let mut s = format!("{}: {}", list.name, list.delisting.summary());
                if let Some(n) = &list.delisting.note {
                    s.push_str(&format!(" ({n})"));
                }
                s.push_str(". Fix the cause first: a list relists a source that keeps sending.");
                s
            }
            None => format!(
                "{} is not a list we track; the recipient should ask their own mail admin why their server uses it, or to accept our mail.",
                l.name
            ),
        };
    }
    match e.provider.as_deref() {
        Some("microsoft") => "Microsoft: Microsoft 365 blocks are removed at https://sender.office.com; Outlook.com blocks through the sender support form (https://go.microsoft.com/fwlink/?LinkID=614866), with the full error text. Usually 24-48 h.".into(),
        Some("google") => "Gmail has no blocklist to be removed from: fix authentication (SPF, DKIM, DMARC), volume and complaints, and watch Google Postmaster Tools; it clears as the reputation recovers.".into(),
        Some("yahoo") => "Yahoo/AOL: a temporary deferral; slow down and stop the source, and if it persists open a request through the Yahoo Sender Hub with the full error and sending IPs.".into(),
        Some("proofpoint") => "Proofpoint: blocks expire once the spam stops; otherwise request removal at https://support.proofpoint.com/dnsbl-lookup.cgi.".into(),
        Some("cloudmark") => "Cloudmark: request a reputation reset at https://csi.cloudmark.com/reset-request/ (the first is usually granted).".into(),
        _ => match e.category {
            Category::Blocklisted | Category::Reputation | Category::RateLimited => {
                "The reply names no list we know; the recipient should ask their own mail admin what their server holds against us.".into()
            }
            _ => "Nothing to remove: this is not a listing.".into(),
        },
    }
}

pub(crate) fn run(g: &Global, c: Command) -> Result<Exit> {
    match c {
        Command::Explain(a) => explain(g, a),
    }
}

fn explain(g: &Global, a: ExplainArgs) -> Result<Exit> {
    let (config, path) = super::load_config(g)?;
    let catalog = super::load_catalog(g, &config, path.as_deref().and_then(|p| p.parent()))?;
    let mut failed = false;
    for file in &a.files {
        let (name, data) = if file.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .take(feedback::complaint::MAX_SIZE as u64 + 1)
                .read_to_end(&mut buf)
                .context("cannot read stdin")?;
            ("stdin".to_string(), buf)
        } else {
            match std::fs::read(file) {
                Ok(d) => (file.display().to_string(), d),
                Err(e) => {
                    output::error(&format!("cannot read {}: {e}", file.display()));
                    failed = true;
                    continue;
                }
            }
        };
        match feedback::bounce::explain_bounce(&data, &catalog) {
            Ok(explained) => show(&name, &explained, &catalog, a.json)?,
            Err(e) => {
                output::error(&format!("{name}: {e}"));
                failed = true;
            }
        }
    }
    Ok(if failed { Exit::Failed } else { Exit::Clean })
}

fn show(name: &str, explained: &[Explanation], catalog: &Catalog, json: bool) -> Result<()> {
    for e in explained {
        let removal = removal(e, catalog);
        if json {
            output::json(&BounceJson {
                ty: "bounce",
                file: name.to_string(),
                e,
                removal,
            })?;
            continue;
        }
        let mut head = format!(
            "{}: {}{}",
            e.recipient.as_deref().unwrap_or("(recipient not given)"),
            e.category.as_str(),
            if e.permanent {
                ", permanent"
            } else {
                ", temporary"
            }
        );
        if let Some(l) = &e.list {
            head.push_str(&format!(" — {}", l.zone.as_deref().unwrap_or(&l.name)));
        } else if let Some(p) = &e.provider {
            head.push_str(&format!(" — {p}"));
        }
        if let Some(ip) = e.listed_ip {
            head.push_str(&format!(", listed IP {ip}"));
        }
        if let Some(d) = &e.listed_domain {
            head.push_str(&format!(", listed domain {d}"));
        }
        output::line(&head)?;
        output::line(&format!("  reply:   {}", e.reply))?;
        output::line(&format!("  meaning: {}", e.explanation))?;
        output::line(&format!("  removal: {removal}"))?;
    }
    Ok(())
}
