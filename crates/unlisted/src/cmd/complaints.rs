//! `unlisted complaints ingest|senders`: read feedback-loop complaints and
//! forwarded spam, tie each to the sender that sent the original, store it
//! once, and count complaints per sender.

use std::path::PathBuf;

use anyhow::Result;
use feedback::{Complaint, NotComplaint};
use serde::Serialize;

use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Read complaints from message files, Maildir folders, mbox files or
    /// stdin (`-`), store them once each, and say who they are about.
    Ingest(IngestArgs),
    /// Complaints per sender, most first.
    Senders(SendersArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct IngestArgs {
    /// Files, Maildir folders, mbox files, directories; `-` for stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// JSON Lines: one object per complaint, then a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SendersArgs {
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ComplaintJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    file: &'a str,
    format: feedback::Format,
    provider: &'a str,
    feedback_type: &'a str,
    source_ip: Option<String>,
    arrival_date: Option<&'a str>,
    original_message_id: Option<&'a str>,
    original_mail_from: Option<&'a str>,
    sender: Option<&'a str>,
    account: Option<&'a str>,
    linked_by: Option<&'a str>,
    duplicate: bool,
    problems: Vec<String>,
    original: &'a feedback::Original,
}

#[derive(Default, Serialize)]
struct Summary {
    #[serde(rename = "type")]
    ty: &'static str,
    messages: u64,
    complaints: u64,
    duplicates: u64,
    linked: u64,
    not_complaints: Vec<String>,
    errors: Vec<String>,
}

pub(crate) fn run(g: &Global, c: Command) -> Result<Exit> {
    match c {
        Command::Ingest(a) => ingest(g, a),
        Command::Senders(a) => senders(g, a),
    }
}

fn ingest(g: &Global, a: IngestArgs) -> Result<Exit> {
    let store = store::Store::open(&g.db)?;
    let mut sum = Summary {
        ty: "summary",
        ..Summary::default()
    };
    let mut failure: Option<anyhow::Error> = None;
    let now = output::now();
    for path in &a.paths {
        feedback::input::read_path(path, &mut |item| {
            if failure.is_some() {
                return;
            }
            let data = match item.data {
                Ok(d) => d,
                Err(e) => {
                    sum.errors.push(format!("{}: {e}", item.location));
                    return;
                }
            };
            sum.messages += 1;
            let c = match feedback::complaint::parse(&data) {
                Ok(c) => c,
                Err(e @ (NotComplaint::NoReport | NotComplaint::Empty)) => {
                    sum.not_complaints.push(format!("{}: {e}", item.location));
                    return;
                }
                Err(e) => {
                    sum.errors.push(format!("{}: {e}", item.location));
                    return;
                }
            };
            if let Err(e) = report(&store, &c, &item.location, a.json, now, &mut sum) {
                failure = Some(e);
            }
        });
        if let Some(e) = failure.take() {
            return Err(e);
        }
    }
    if a.json {
        output::json(&sum)?;
    } else {
        output::line(&format!(
            "{} messages: {} complaints ({} already stored), {} tied to a sender, {} not complaints, {} errors",
            sum.messages,
            sum.complaints,
            sum.duplicates,
            sum.linked,
            sum.not_complaints.len(),
            sum.errors.len()
        ))?;
        for e in sum.not_complaints.iter().chain(&sum.errors) {
            output::line(&format!("  {e}"))?;
        }
    }
    Ok(if sum.errors.is_empty() {
        Exit::Clean
    } else {
        Exit::Failed
    })
}

fn report(
    store: &store::Store,
    c: &Complaint,
    location: &str,
    json: bool,
    now: i64,
    sum: &mut Summary,
) -> Result<()> {
    let (fresh, l) = crate::complaints::store_complaint(store, c, location, now)?;
    sum.complaints += 1;
    if !fresh {
        sum.duplicates += 1;
    }
    if l.sender.is_some() {
        sum.linked += 1;
    }
    let mut problems = c.problems.clone();
    problems.extend(l.problems.iter().cloned());
    if json {
        output::json(&ComplaintJson {
            ty: "complaint",
            file: location,
            format: c.format,
            provider: &c.provider,
            feedback_type: &c.feedback_type,
            source_ip: c.source_ip.map(|i| i.to_string()),
            arrival_date: c.arrival_date.as_deref(),
            original_message_id: c.original.message_id.as_deref(),
            original_mail_from: c.original_mail_from.as_deref(),
            sender: l.sender.as_deref(),
            account: l.account.as_deref(),
            linked_by: l.by,
            duplicate: !fresh,
            problems,
            original: &c.original,
        })?;
    } else {
        let who = match (&l.sender, l.by) {
            (Some(s), Some(by)) => format!("{s} (by {by})"),
            _ => "no sender".into(),
        };
        output::line(&format!(
            "{location}: {} {} from {} at {} -> {who}{}",
            c.provider,
            c.feedback_type,
            c.source_ip
                .map(|i| i.to_string())
                .unwrap_or_else(|| "?".into()),
            c.arrival_date.as_deref().unwrap_or("?"),
            if fresh { "" } else { " [already stored]" }
        ))?;
        for p in &problems {
            output::line(&format!("    {p}"))?;
        }
    }
    Ok(())
}

fn senders(g: &Global, a: SendersArgs) -> Result<Exit> {
    let store = store::Store::open(&g.db)?;
    let counts = store.complaint_counts()?;
    if a.json {
        for c in &counts {
            output::json(c)?;
        }
        return Ok(Exit::Clean);
    }
    if counts.is_empty() {
        output::line(&format!(
            "no complaints tied to a sender ({} stored)",
            store.complaint_total()?
        ))?;
    }
    for c in &counts {
        output::line(&format!(
            "{:>5}  {}  {}  {} .. {}",
            c.complaints,
            c.sender,
            c.account.as_deref().unwrap_or("-"),
            c.first.map(output::time).unwrap_or_else(|| "?".into()),
            c.last.map(output::time).unwrap_or_else(|| "?".into())
        ))?;
    }
    Ok(Exit::Clean)
}
