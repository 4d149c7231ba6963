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
        }
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
        b.join("\n")
    }
}

/// The configured channels.
pub(crate) struct Alerter {
    webhook: Option<(reqwest::Client, WebhookConfig)>,
    email: Option<(AsyncSmtpTransport<Tokio1Executor>, EmailConfig)>,
}

impl Alerter {
    pub(crate) fn new(cfg: &AlertsConfig) -> Result<Self> {
        let webhook = match &cfg.webhook {
            Some(w) => Some((
                reqwest::Client::builder()
                    .timeout(w.timeout)
                    .user_agent(concat!("unlisted/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .context("cannot build the webhook HTTP client")?,
                w.clone(),
            )),
            None => None,
        };
        let email = match &cfg.email {
            Some(e) => Some((smtp_transport(e)?, e.clone())),
            None => None,
        };
        Ok(Alerter { webhook, email })
    }

    /// The channel names an alert is queued on.
    pub(crate) fn channels(&self) -> Vec<String> {
        let mut c = Vec::new();
        if self.webhook.is_some() {
            c.push(WEBHOOK.to_string());
        }
        if self.email.is_some() {
            c.push(EMAIL.to_string());
        }
        c
    }

    /// Delivers one alert on its channel.
    pub(crate) async fn deliver(
        &self,
        alert: &PendingAlert,
        catalog: &Catalog,
    ) -> Result<(), String> {
        let payload = Payload::new(alert, catalog);
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
            None => {}
        }
        let subject = format!("[unlisted] {} is {}", change.sender, change.to);
        let mut body = vec![
            format!("sender:  {}", change.sender),
            format!("account: {}", change.account.as_deref().unwrap_or("-")),
            format!(
                "verdict: {} (was {}) at {at} (log time)",
                change.to, change.from
            ),
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
            None => {}
        }
        self.send(channel, &payload, &subject, &body.join("\n"))
            .await
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
                let resp = client
                    .post(&w.url)
                    .json(payload)
                    .send()
                    .await
                    .map_err(|e| format!("POST {}: {e}", w.url))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("POST {}: HTTP {}", w.url, resp.status()))
                }
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

/// What was done about a spamming sender, for its alert.
#[derive(Debug, Clone)]
pub(crate) enum Containment {
    Held(store::HoldRow),
    Proposed { action: String, command: String },
}
