//! Alert delivery: a JSON POST to a webhook and an e-mail through an SMTP
//! relay. Alerts wait in the store's outbox until delivered, so a receiver
//! that is down for a while loses nothing; each sweep retries them.

use anyhow::{Context, Result};
use blocklists::Catalog;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use store::PendingAlert;

use crate::config::{AlertsConfig, EmailConfig, SmtpTls, WebhookConfig};
use crate::output::time;

pub(crate) const WEBHOOK: &str = "webhook";
pub(crate) const EMAIL: &str = "email";
pub(crate) const SLACK: &str = "slack";

/// The webhook body; fields are only ever added.
#[derive(Debug, Serialize)]
pub(crate) struct Payload<'a> {
    #[serde(rename = "type")]
    pub(crate) ty: &'static str,
    /// The outbox id: delivery is at least once (a crash between sending
    /// and recording it sends again), so receivers dedupe on this.
    pub(crate) alert_id: i64,
    /// `listed` or `delisted`.
    pub(crate) event: &'a str,
    pub(crate) server: &'a str,
    pub(crate) target: &'a str,
    pub(crate) list: &'a str,
    pub(crate) list_name: Option<&'a str>,
    pub(crate) zone: &'a str,
    pub(crate) codes: &'a [String],
    pub(crate) meanings: &'a [String],
    pub(crate) txt: &'a [String],
    pub(crate) first_seen: String,
    pub(crate) last_seen: String,
    pub(crate) ended: Option<String>,
    pub(crate) delisting: Option<&'a blocklists::catalog::Delisting>,
    /// Alerts of the same kind held back since the last one sent.
    pub(crate) suppressed: i64,
}

impl<'a> Payload<'a> {
    pub(crate) fn new(a: &'a PendingAlert, catalog: &'a Catalog) -> Self {
        let e = &a.episode;
        // A remote-rejection episode (`remote:ID`) of a catalog list gets
        // that list's delisting route too.
        let list = catalog.get(
            e.list
                .strip_prefix(crate::remote::PREFIX)
                .unwrap_or(&e.list),
        );
        Payload {
            ty: "listing",
            alert_id: a.id,
            event: &a.event,
            server: &e.server,
            target: &e.target,
            list: &e.list,
            list_name: list.map(|l| l.name.as_str()),
            zone: &e.zone,
            codes: &e.codes,
            meanings: &e.meanings,
            txt: &e.txt,
            first_seen: time(e.first_seen),
            last_seen: time(e.last_seen),
            ended: e.ended.map(time),
            delisting: list.map(|l| &l.delisting),
            suppressed: 0,
        }
    }

    /// The key alerts of this listing and event are throttled by.
    pub(crate) fn key(a: &PendingAlert) -> String {
        let e = &a.episode;
        format!("listing:{}:{}:{}:{}", a.event, e.server, e.target, e.list)
    }

    fn subject(&self) -> String {
        let name = self.list_name.unwrap_or(self.list);
        match self.event {
            "delisted" => format!(
                "[unlisted] {}: {} delisted from {name}",
                self.server, self.target
            ),
            _ => format!(
                "[unlisted] {}: {} LISTED on {name}",
                self.server, self.target
            ),
        }
    }

    fn body(&self) -> String {
        let mut b = vec![
            self.subject().trim_start_matches("[unlisted] ").to_string(),
            String::new(),
        ];
        b.push(format!("list:       {} ({})", self.list, self.zone));
        b.push(format!("first seen: {}", self.first_seen));
        b.push(format!("last seen:  {}", self.last_seen));
        if let Some(e) = &self.ended {
            b.push(format!("ended:      {e}"));
        }
        for (c, m) in self.codes.iter().zip(
            self.meanings
                .iter()
                .map(Some)
                .chain(std::iter::repeat(None)),
        ) {
            b.push(format!(
                "code:       {c} {}",
                m.map(String::as_str).unwrap_or("")
            ));
        }
        for t in self.txt {
            b.push(format!("txt:        {t}"));
        }
        if let Some(d) = self.delisting {
            b.push(format!("delisting:  {}", d.summary()));
            if let Some(n) = &d.note {
                b.push(format!("            {n}"));
            }
        }
        if self.suppressed > 0 {
            b.push(held_back(self.suppressed));
        }
        b.join("\n")
    }
}

/// The configured channels.
pub(crate) struct Alerter {
    webhook: Option<(reqwest::Client, WebhookConfig)>,
    email: Option<(AsyncSmtpTransport<Tokio1Executor>, EmailConfig)>,
    slack: Option<(reqwest::Client, WebhookConfig)>,
    channels: Vec<String>,
}

/// The line that says how many alerts were held back.
pub(crate) fn held_back(n: i64) -> String {
    format!(
        "({n} more alerts like this one were held back since the last one sent: alerts.repeat_after)"
    )
}

/// POSTs `body` as JSON; any 2xx is delivered.
async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &impl Serialize,
) -> Result<(), String> {
    let resp = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("POST {url}: HTTP {}", resp.status()))
    }
}

fn http_client(w: &WebhookConfig) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(w.timeout)
        .user_agent(concat!("unlisted/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the webhook HTTP client")
}

/// Queues an alert about an event (an incident opened or moved, a hold
/// placed or released) on every configured channel; the daemon delivers
/// it. `key` throttles repeats.
pub(crate) fn queue_event(
    store: &store::Store,
    cfg: &AlertsConfig,
    event: &str,
    key: &str,
    subject: &str,
    body: &str,
    payload: serde_json::Value,
) -> Result<()> {
    let channels = cfg.channels();
    if channels.is_empty() {
        return Ok(());
    }
    store.queue_event_alert(
        event,
        key,
        &format!("[unlisted] {subject}"),
        body,
        &payload,
        &channels,
        crate::output::now(),
    )?;
    Ok(())
}

impl Alerter {
    pub(crate) fn new(cfg: &AlertsConfig) -> Result<Self> {
        let webhook = match &cfg.webhook {
            Some(w) => Some((http_client(w)?, w.clone())),
            None => None,
        };
        let slack = match &cfg.slack {
            Some(w) => Some((http_client(w)?, w.clone())),
            None => None,
        };
        let email = match &cfg.email {
            Some(e) => Some((smtp_transport(e)?, e.clone())),
            None => None,
        };
        Ok(Alerter {
            webhook,
            email,
            slack,
            channels: cfg.channels(),
        })
    }

    /// The channel names an alert is queued on.
    pub(crate) fn channels(&self) -> Vec<String> {
        self.channels.clone()
    }

    /// Delivers one alert on its channel.
    pub(crate) async fn deliver(
        &self,
        alert: &PendingAlert,
        catalog: &Catalog,
        suppressed: i64,
    ) -> Result<(), String> {
        let mut payload = Payload::new(alert, catalog);
        payload.suppressed = suppressed;
        self.send(
            &alert.channel,
            &payload,
            &payload.subject(),
            &payload.body(),
        )
        .await
    }

    /// Delivers the alert of a sender turned spamming, with its hold (or
    /// the hold proposed in alert mode).
    pub(crate) async fn deliver_sender(
        &self,
        alert_id: i64,
        channel: &str,
        change: &store::VerdictChange,
        containment: Option<&Containment>,
        suppressed: i64,
    ) -> Result<(), String> {
        let reasons: serde_json::Value =
            serde_json::from_str(&change.reasons).unwrap_or(serde_json::Value::Null);
        let at = maillog::Stamp {
            secs: change.at,
            millis: 0,
        }
        .iso();
        let mut payload = serde_json::json!({
            "type": "sender",
            "alert_id": alert_id,
            "event": change.to,
            "sender": change.sender,
            "account": change.account,
            "from": change.from,
            "at": at,
            "reasons": reasons,
        });
        match containment {
            Some(Containment::Held(h)) => payload["hold"] = serde_json::json!(h),
            Some(Containment::Proposed { action, command }) => {
                payload["proposed_hold"] =
                    serde_json::json!({"action": action, "command": command});
            }
            Some(Containment::Advice(text)) => payload["advice"] = serde_json::json!(text),
            None => {}
        }
        let subject = format!("[unlisted] {} is {}", change.sender, change.to);
        let mut body = vec![
            format!("sender:  {}", change.sender),
            format!("account: {}", change.account.as_deref().unwrap_or("-")),
            format!("verdict: {} (was {}) at {at} UTC", change.to, change.from),
        ];
        for r in reasons.as_array().into_iter().flatten() {
            body.push(format!(
                "reason:  {} {}: {}",
                r["severity"].as_str().unwrap_or(""),
                r["code"].as_str().unwrap_or(""),
                r["detail"].as_str().unwrap_or("")
            ));
            for s in r["samples"].as_array().into_iter().flatten() {
                body.push(format!("         {}", s.as_str().unwrap_or("")));
            }
        }
        match containment {
            Some(Containment::Held(h)) => body.push(format!(
                "hold:    {} by {} since {}: {}",
                h.action,
                h.actor,
                crate::output::time(h.created),
                h.reason
            )),
            Some(Containment::Proposed { command, .. }) => {
                body.push(format!(
                    "not held (enforce.mode = \"alert\"); to hold it:\n         {command}"
                ));
            }
            Some(Containment::Advice(text)) => body.push(format!("advice:  {text}")),
            None => {}
        }
        if suppressed > 0 {
            payload["suppressed"] = serde_json::json!(suppressed);
            body.push(held_back(suppressed));
        }
        self.send(channel, &payload, &subject, &body.join("\n"))
            .await
    }

    /// Delivers an event alert (rendered when it was queued).
    pub(crate) async fn deliver_event(
        &self,
        a: &store::EventAlert,
        suppressed: i64,
    ) -> Result<(), String> {
        let mut payload: serde_json::Value =
            serde_json::from_str(&a.payload).unwrap_or_else(|_| serde_json::json!({}));
        payload["alert_id"] = serde_json::json!(a.id);
        payload["event"] = serde_json::json!(a.event);
        let mut body = a.body.clone();
        if suppressed > 0 {
            payload["suppressed"] = serde_json::json!(suppressed);
            body += "\n";
            body += &held_back(suppressed);
        }
        self.send(&a.channel, &payload, &a.subject, &body).await
    }

    async fn send(
        &self,
        channel: &str,
        payload: &impl Serialize,
        subject: &str,
        body: &str,
    ) -> Result<(), String> {
        match channel {
            WEBHOOK => {
                let Some((client, w)) = &self.webhook else {
                    return Err("the webhook channel is no longer configured".into());
                };
                post_json(client, &w.url, payload).await
            }
            EMAIL => {
                let Some((transport, e)) = &self.email else {
                    return Err("the email channel is no longer configured".into());
                };
                let msg = build_mail(e, subject, body).map_err(|err| format!("{err:#}"))?;
                transport
                    .send(msg)
                    .await
                    .map(|_| ())
                    .map_err(|err| format!("SMTP {}: {err}", e.smtp))
            }
            SLACK => {
                let Some((client, w)) = &self.slack else {
                    return Err("the slack channel is no longer configured".into());
                };
                let text = format!("*{subject}*\n```{body}```");
                post_json(client, &w.url, &serde_json::json!({ "text": text })).await
            }
            other => Err(format!("unknown alert channel `{other}`")),
        }
    }
}

/// Sends a customer notice (text and HTML alternatives) through the relay
/// of `e` to its recipients.
pub(crate) async fn send_notice(
    e: &EmailConfig,
    subject: &str,
    text: &str,
    html: &str,
) -> Result<()> {
    let msg = message(e, subject)?.multipart(
        lettre::message::MultiPart::alternative_plain_html(text.to_string(), html.to_string()),
    )?;
    smtp_transport(e)?
        .send(msg)
        .await
        .map(|_| ())
        .with_context(|| format!("SMTP {}", e.smtp))
}

/// A message from `e.from` to `e.to` with `subject`, to give a body.
fn message(e: &EmailConfig, subject: &str) -> Result<lettre::message::MessageBuilder> {
    let from: Mailbox = e
        .from
        .parse()
        .with_context(|| format!("bad from address `{}`", e.from))?;
    let mut b = Message::builder().from(from).subject(subject);
    for to in &e.to {
        b = b.to(to
            .parse()
            .with_context(|| format!("bad to address `{to}`"))?);
    }
    Ok(b)
}

fn build_mail(e: &EmailConfig, subject: &str, body: &str) -> Result<Message> {
    Ok(message(e, subject)?.body(body.to_string())?)
}

fn smtp_transport(e: &EmailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let (host, port) = e.host_port();
    let params = || TlsParameters::new(host.clone()).context("cannot set up TLS for SMTP");
    let tls = match e.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Opportunistic => Tls::Opportunistic(params()?),
        SmtpTls::Starttls => Tls::Required(params()?),
        SmtpTls::Wrapper => Tls::Wrapper(params()?),
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
        .port(port)
        .tls(tls)
        .timeout(Some(e.timeout));
    if let (Some(u), Some(p)) = (&e.username, &e.password) {
        b = b.credentials(Credentials::new(u.clone(), p.clone()));
    }
    Ok(b.build())
}

/// Queues the alert of a hold change (`placed`, `changed`, `released`,
/// `expired`).
pub(crate) fn hold_event(
    store: &store::Store,
    cfg: &AlertsConfig,
    change: &str,
    h: &store::HoldRow,
    actor: &str,
) -> Result<()> {
    let subject = match change {
        "released" | "expired" => format!("{} {change} (was {}) by {actor}", h.subject, h.action),
        _ => format!("{} held ({}) by {actor}", h.subject, h.action),
    };
    let body = format!(
        "sender: {}\naction: {}\nreason: {}\nsince:  {}\nuntil:  {}\nby:     {actor}",
        h.subject,
        h.action,
        h.reason,
        time(h.created),
        h.until
            .map(time)
            .unwrap_or_else(|| "released by hand".into())
    );
    queue_event(
        store,
        cfg,
        &format!("hold_{change}"),
        &format!("hold:{}:{change}", h.subject),
        &subject,
        &body,
        serde_json::json!({"type": "hold", "change": change, "hold": h, "actor": actor}),
    )
}

/// Queues the alert of a mail queue at `alert_above` messages or more,
/// with who sent most of them.
pub(crate) fn queue_over(
    store: &store::Store,
    cfg: &AlertsConfig,
    c: &store::QueueCensus,
    alert_above: u64,
) -> Result<()> {
    let subject = format!("mail queue at {} messages", c.total);
    let mut body = format!(
        "queued: {} (alert_above {alert_above}), held or frozen: {}\nby queue: {}\ncounted at {}",
        c.total,
        c.held,
        c.by_queue
            .iter()
            .map(|(q, n)| format!("{q} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        time(c.at)
    );
    if !c.senders.is_empty() {
        body += &format!("\nmost queued, of {} read:", c.sampled);
        for (s, n) in &c.senders {
            body += &format!("\n  {n:>6}  {s}");
        }
    }
    queue_event(
        store,
        cfg,
        "queue",
        "queue:over",
        &subject,
        &body,
        serde_json::json!({"type": "queue", "alert_above": alert_above, "queue": c}),
    )
}

/// Queues the alert of an incident opened or moved.
pub(crate) fn incident_event(
    store: &store::Store,
    cfg: &AlertsConfig,
    id: i64,
    what: &str,
    text: &str,
    actor: &str,
) -> Result<()> {
    let Some(i) = store.incident(id)? else {
        return Ok(());
    };
    queue_event(
        store,
        cfg,
        &format!("incident_{}", what.split(':').next().unwrap_or(what)),
        &format!("incident:{id}:{what}"),
        &format!("{}: incident {id} {what}: {}", i.server, i.title),
        &format!(
            "incident {id} ({}) on {}\nstate:  {}\nby:     {actor}\n{text}\n\nunlisted incident show {id}",
            i.title, i.server, i.state
        ),
        serde_json::json!({"type": "incident", "incident": id, "server": i.server, "title": i.title,
                           "state": i.state, "what": what, "text": text, "actor": actor}),
    )
}

/// What was done about a spamming sender, for its alert.
#[derive(Debug, Clone)]
pub(crate) enum Containment {
    Held(store::HoldRow),
    Proposed {
        action: String,
        command: String,
    },
    /// No hold can reach it: what to do instead.
    Advice(String),
}

/// What to do about a forward that sends spam on: the MTA takes its mail
/// as the outside senders', so no hold reaches it.
pub(crate) const FORWARD_ADVICE: &str = "this is mail from outside that a forward on this server sends on; no hold reaches it: remove the forward or filter it (spam filtering before forwarding, or forward only what passes), and tell its account";
