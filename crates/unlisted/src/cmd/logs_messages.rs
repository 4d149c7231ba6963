//! `unlisted logs messages`: what a sender sent, message by message, with
//! every line of a message already put together (what `exigrep` does for
//! Exim, for Postfix's queue ids too): the subject, each recipient's fate
//! and the remote server's reply. The evidence an abuse desk reads before
//! it stops a sender, and quotes in a removal request.

use std::path::Path;

use anyhow::Result;
use maillog::{Message, Outcome, Sender};
use serde::Serialize;

use super::logs::{FileError, Inputs, Sample, iso};
use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    input: Inputs,
    /// The sender as `logs analyze` names it (`auth:info@shop.example`,
    /// `script:/home/bob/public_html/x.php`; a `script:` directory takes
    /// every script below it), or a bare address or name, matched against
    /// any kind of sender and the envelope sender.
    #[arg(long)]
    sender: Option<String>,
    /// The customer account the messages belong to.
    #[arg(long)]
    account: Option<String>,
    /// An Exim message id or a Postfix queue id.
    #[arg(long)]
    id: Option<String>,
    /// Messages to this address.
    #[arg(long)]
    recipient: Option<String>,
    /// Show the first N messages that match (0: all); all are counted.
    #[arg(long, default_value_t = 0, value_name = "N")]
    limit: usize,
    /// JSON Lines: one object per message, then a summary.
    #[arg(long)]
    json: bool,
    /// Read the messages `unlisted serve` stored (the store, `--db`; kept
    /// `[ingest] keep_messages`) instead of logs: they outlive the log's
    /// rotation.
    #[arg(long, conflicts_with_all = ["files", "journal"])]
    stored: bool,
}

/// Which messages are shown: all the filters given must hold.
struct Filter {
    sender: Option<Who>,
    account: Option<String>,
    id: Option<String>,
    recipient: Option<String>,
}

enum Who {
    /// `kind:value`.
    Exactly(Sender),
    /// A bare address or name.
    Named(String),
}

impl Filter {
    fn of(a: &Args) -> Self {
        let sender = a.sender.as_ref().map(|s| match s.parse::<Sender>() {
            Ok(exact) => Who::Exactly(exact),
            Err(_) => Who::Named(s.clone()),
        });
        Filter {
            sender,
            account: a.account.clone(),
            id: a.id.clone(),
            recipient: a.recipient.clone(),
        }
    }

    fn holds(&self, m: &Message) -> bool {
        let sender = match &self.sender {
            None => true,
            Some(Who::Exactly(s)) if s.kind == maillog::SenderKind::Script => {
                m.sender.kind == s.kind && Path::new(&m.sender.value).starts_with(&s.value)
            }
            Some(Who::Exactly(s)) => {
                m.sender.kind == s.kind && m.sender.value.eq_ignore_ascii_case(&s.value)
            }
            Some(Who::Named(v)) => {
                m.sender.value.eq_ignore_ascii_case(v) || m.envelope_from.eq_ignore_ascii_case(v)
            }
        };
        sender
            && self
                .account
                .as_ref()
                .is_none_or(|a| m.account.as_deref() == Some(a))
            && self
                .id
                .as_ref()
                .is_none_or(|id| m.id == *id || m.relayed_as.as_deref() == Some(id))
            && self.recipient.as_ref().is_none_or(|r| {
                m.recipients
                    .iter()
                    .any(|x| x.address.eq_ignore_ascii_case(r))
            })
    }
}

#[derive(Serialize)]
struct MessageJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    id: &'a str,
    received: String,
    sender: String,
    envelope_from: &'a str,
    account: Option<&'a str>,
    client_ip: Option<String>,
    protocol: Option<&'a str>,
    size: Option<u64>,
    subject: Option<&'a str>,
    message_id: Option<&'a str>,
    /// The script and the `cwd=` line it was tied to.
    attribution: Option<&'a maillog::message::Attribution>,
    rejected: Option<&'a str>,
    /// A bounce this server wrote, about this message id.
    bounce_of: Option<&'a str>,
    /// The id a content filter here queued it again as.
    relayed_as: Option<&'a str>,
    /// An address probe Postfix sent itself.
    probe: bool,
    /// The failed logins before its SMTP AUTH login, when there were any.
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_logins: Option<&'a maillog::logins::FailedLogins>,
    /// The log showed it leave the queue.
    complete: bool,
    recipients: Vec<RecipientJson<'a>>,
    /// Its first line.
    line: &'a str,
}

#[derive(Serialize)]
struct RecipientJson<'a> {
    address: &'a str,
    outcome: Outcome,
    remote: bool,
    host: Option<&'a str>,
    reply: Option<&'a str>,
    deferrals: u32,
    at: String,
    /// Sent on to another host by a forward of this address.
    forwarded: bool,
}

impl<'a> MessageJson<'a> {
    fn of(m: &'a Message) -> Self {
        MessageJson {
            ty: "message",
            id: &m.id,
            received: m.received.iso(),
            sender: m.sender.to_string(),
            envelope_from: &m.envelope_from,
            account: m.account.as_deref(),
            client_ip: m.client_ip.map(|ip| ip.to_string()),
            protocol: m.protocol.as_deref(),
            size: m.size,
            subject: m.subject.as_deref(),
            message_id: m.message_id.as_deref(),
            attribution: m.attribution.as_deref(),
            rejected: m.rejected.as_deref(),
            bounce_of: m.bounce_of.as_deref(),
            relayed_as: m.relayed_as.as_deref(),
            probe: m.probe,
            failed_logins: m.failed_logins.as_deref(),
            complete: m.complete,
            recipients: m
                .recipients
                .iter()
                .map(|r| RecipientJson {
                    address: &r.address,
                    outcome: r.outcome,
                    remote: r.remote,
                    host: r.host.as_deref(),
                    reply: r.reply.as_deref(),
                    deferrals: r.deferrals,
                    at: r.at.iso(),
                    forwarded: r.forwarded,
                })
                .collect(),
            line: &m.line,
        }
    }
}

#[derive(Serialize)]
struct Summary {
    #[serde(rename = "type")]
    ty: &'static str,
    /// Messages that match the filters, and those shown (--limit).
    matched: u64,
    shown: u64,
    /// Every message the logs hold.
    messages: u64,
    read_order: Vec<String>,
    lines: u64,
    not_understood: u64,
    not_understood_samples: Vec<Sample>,
    /// The MTA's lines journald said it dropped: messages may lack them.
    dropped: u64,
    timezone: String,
    since: Option<String>,
    until: Option<String>,
    skipped_files: Vec<String>,
    /// Files not read because the others hold their lines.
    copies_left_out: Vec<super::logs::LeftOut>,
    /// Login logs read first for their failed logins.
    login_logs: Vec<super::logs::LoginLog>,
    first: Option<String>,
    last: Option<String>,
    errors: Vec<FileError>,
}

/// Shows the messages that match, as they come.
struct Show<'a> {
    filter: Filter,
    window: super::logs::Window,
    limit: usize,
    json: bool,
    matched: u64,
    shown: u64,
    /// The first failure to write (a closed pipe): nothing more is shown.
    failed: Option<anyhow::Error>,
    /// Ties a content filter's copy to its sender (logs only: the store
    /// keeps the copies already tied).
    relink: Option<detect::relink::Relink>,
    enrich: Box<dyn Fn(&mut Message) + 'a>,
}

impl<'a> Show<'a> {
    fn new(
        a: &Args,
        window: super::logs::Window,
        relink: Option<detect::relink::Relink>,
        enrich: Box<dyn Fn(&mut Message) + 'a>,
    ) -> Self {
        Show {
            filter: Filter::of(a),
            window,
            limit: a.limit,
            json: a.json,
            matched: 0,
            shown: 0,
            failed: None,
            relink,
            enrich,
        }
    }

    fn message(&mut self, mut m: Message) {
        if !self.window.holds(m.received.secs) {
            return;
        }
        (self.enrich)(&mut m);
        // A content filter's copy is shown as its sender's mail, as
        // `logs analyze` counts it; the message it took is shown too.
        if let Some(r) = &mut self.relink {
            r.message(&mut m);
        }
        if !self.filter.holds(&m) {
            return;
        }
        self.matched += 1;
        if self.failed.is_some() || (self.limit > 0 && self.shown >= self.limit as u64) {
            return;
        }
        self.shown += 1;
        let res = if self.json {
            output::json(&MessageJson::of(&m))
        } else {
            print_message(&m).map_err(anyhow::Error::from)
        };
        if let Err(e) = res {
            self.failed = Some(e);
        }
    }
}

pub(crate) fn run(g: &Global, mut a: Args) -> Result<Exit> {
    let (config, _) = super::load_config(g)?;
    if a.stored {
        return stored(g, &a, &config);
    }
    let ready = a.input.ready(&config)?;
    let owners = crate::policy::accounts(&config.enforce);
    let spool = a.input.exim_spool.clone();
    let mut show = Show::new(
        &a,
        ready.window,
        Some(Default::default()),
        Box::new(|m| super::logs::enrich(m, spool.as_deref(), &owners)),
    );
    let show_bar = !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let read = a
        .input
        .read(&ready, true, show_bar, &mut |m| show.message(m));
    if let Some(e) = show.failed {
        return Err(e);
    }
    let sources = a.input.sources();
    super::logs::some_read(&sources, &read.errors)?;
    let st = &read.stats;
    let mut errors = read.errors;
    super::logs::no_mail_log(&sources, read.format, st, &mut errors);
    let summary = Summary {
        ty: "summary",
        matched: show.matched,
        shown: show.shown,
        messages: read.assembly.messages,
        read_order: sources,
        lines: st.lines,
        not_understood: st.not_understood,
        not_understood_samples: super::logs::samples(st),
        dropped: st.dropped,
        timezone: ready.zone.name().to_string(),
        since: ready.window.since.map(iso),
        until: ready.window.until.map(iso),
        skipped_files: (ready.skipped.iter())
            .map(|f| f.display().to_string())
            .collect(),
        copies_left_out: ready.copies_left_out(),
        login_logs: ready.login_logs.clone(),
        first: st.first.map(|s| s.iso()),
        last: st.last.map(|s| s.iso()),
        errors,
    };
    finish(&summary, a.json, "lines")
}

/// The summary, last.
fn finish(summary: &Summary, json: bool, unit: &str) -> Result<Exit> {
    if json {
        output::json(summary)?;
    } else {
        output::line(&format!(
            "{} of {} messages matched{}; {} {unit} ({} not understood){}",
            summary.matched,
            summary.messages,
            if summary.shown < summary.matched {
                format!(", the first {} shown", summary.shown)
            } else {
                String::new()
            },
            summary.lines,
            summary.not_understood,
            match (&summary.first, &summary.last) {
                (Some(f), Some(l)) => format!("; {f} .. {l} UTC (logs in {})", summary.timezone),
                _ => String::new(),
            }
        ))?;
        super::logs::show_copies_left_out(&summary.copies_left_out)?;
        super::logs::show_login_logs(&summary.login_logs)?;
        if summary.dropped > 0 {
            output::warning(&super::logs::dropped_by_journald(summary.dropped));
        }
        super::logs::warn_not_understood(&summary.not_understood_samples);
    }
    Ok(if summary.errors.is_empty() {
        Exit::Clean
    } else {
        Exit::Failed
    })
}

/// `--stored`: the messages the daemon kept, from the store.
fn stored(g: &Global, a: &Args, config: &crate::config::Config) -> Result<Exit> {
    let (zone, window) = a.input.clock(config)?;
    let store = store::Store::open(&g.db)?;
    let name = format!("store:{}", g.db.display());
    let mut show = Show::new(a, window, None, Box::new(|_| {}));
    let (mut records, mut bad) = (0u64, Vec::new());
    let mut span: Option<(maillog::Stamp, maillog::Stamp)> = None;
    store.messages_between(window.since, window.until, |record| -> Result<()> {
        records += 1;
        match serde_json::from_str::<Message>(&record) {
            Ok(m) => {
                let at = m.received;
                span = Some(span.map_or((at, at), |(f, l)| (f.min(at), l.max(at))));
                show.message(m);
            }
            Err(e) => bad.push((records, e.to_string())),
        }
        Ok(())
    })?;
    if let Some(e) = show.failed {
        return Err(e);
    }
    for (n, e) in &bad {
        tracing::warn!(record = n, error = %e, "a stored message cannot be read");
    }
    let summary = Summary {
        ty: "summary",
        matched: show.matched,
        shown: show.shown,
        messages: records - bad.len() as u64,
        read_order: vec![name.clone()],
        lines: records,
        not_understood: bad.len() as u64,
        not_understood_samples: (bad.iter().take(maillog::SAMPLES))
            .map(|(n, e)| Sample::new(format!("{name} record {n}"), e.clone()))
            .collect(),
        dropped: 0,
        timezone: zone.name().to_string(),
        since: window.since.map(iso),
        until: window.until.map(iso),
        skipped_files: Vec::new(),
        copies_left_out: Vec::new(),
        login_logs: Vec::new(),
        first: span.map(|s| s.0.iso()),
        last: span.map(|s| s.1.iso()),
        errors: Vec::new(),
    };
    finish(&summary, a.json, "records")
}

/// One message for people: a heading, what it was, then a line per
/// recipient with its fate and the reply.
fn print_message(m: &Message) -> std::io::Result<()> {
    let mut head = format!("{} {} {}", m.received.iso(), m.id, m.sender);
    if let Some(a) = &m.account {
        head.push_str(&format!(" (account {a})"));
    }
    if let Some(ip) = m.client_ip {
        head.push_str(&format!(" from {ip}"));
    }
    if let Some(size) = m.size {
        head.push_str(&format!(", {size} bytes"));
    }
    if !m.complete {
        // Still queued when the log ended, deferred and judged before it
        // left (the daemon), or lost to a crash.
        head.push_str(", not seen leaving the queue");
    }
    output::line(&head)?;
    if !m.envelope_from.is_empty() && m.envelope_from != m.sender.value {
        output::line(&format!("    envelope from: <{}>", m.envelope_from))?;
    }
    if let Some(s) = &m.subject {
        output::line(&format!("    subject: {s}"))?;
    }
    if let Some(f) = &m.failed_logins {
        output::line(&format!(
            "    logged in after {} failed logins from {} addresses since {}",
            f.count,
            f.ips,
            f.first.iso()
        ))?;
    }
    if let Some(at) = &m.attribution {
        let by = match at.matched_by {
            maillog::message::MatchedBy::Pid => "its pid",
            maillog::message::MatchedBy::Order => "order",
            maillog::message::MatchedBy::Header => "its headers",
        };
        let script = at
            .script
            .as_deref()
            .map_or(String::new(), |s| format!("{s}, "));
        output::line(&format!(
            "    script: {script}run in {} (tied by {by}{})",
            at.cwd,
            if at.ambiguous { ", a guess" } else { "" }
        ))?;
    }
    if let Some(r) = &m.rejected {
        output::line(&format!("    rejected: {r}"))?;
    }
    if m.probe {
        output::line("    an address probe this server sent itself (Postfix verify)")?;
    }
    if let Some(b) = &m.bounce_of {
        output::line(&format!(
            "    a bounce this server wrote{}",
            if b.is_empty() {
                String::new()
            } else {
                format!(" about {b}")
            }
        ))?;
    }
    if let Some(r) = &m.relayed_as {
        output::line(&format!("    handed to a content filter, back as {r}"))?;
    }
    for r in &m.recipients {
        let fate = match r.outcome {
            Outcome::Pending => "pending",
            Outcome::Delivered => "delivered",
            Outcome::Deferred => "deferred",
            Outcome::Bounced => "bounced",
        };
        let mut l = format!("    {fate:<9} {}", r.address);
        if r.forwarded {
            l.push_str(" (forwarded)");
        }
        if r.deferrals > 0 && r.outcome != Outcome::Deferred {
            l.push_str(&format!(" (after {} deferrals)", r.deferrals));
        } else if r.deferrals > 1 {
            l.push_str(&format!(" ({} times)", r.deferrals));
        }
        if let Some(h) = &r.host {
            l.push_str(&format!(" via {h}"));
        }
        if let Some(reply) = &r.reply {
            l.push_str(&format!(": {reply}"));
        }
        output::line(&l)?;
    }
    Ok(())
}
