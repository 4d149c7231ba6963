//! The milter (sendmail mail filter protocol, through indymilter) for
//! Postfix's `non_smtpd_milters`: mail submitted with sendmail (PHP's
//! mail()) never reaches the policy service, but it does pass the milter.
//! It names the sender from what the MTA shows it — the SASL login
//! (`{auth_authen}`), the client, the envelope sender, and the
//! `X-PHP-Originating-Script` / `X-Source-Args` / `X-Source-Dir` headers —
//! and applies the same holds and limits: reject, tempfail, or quarantine
//! into Postfix's hold queue.
//!
//! Postfix does not tell a milter which uid ran sendmail (its own
//! `Received: … from userid N` header is not passed on, and no macro holds
//! it), so a local user is known from the uid in
//! `X-PHP-Originating-Script` (PHP's `mail.add_x_header`): other sendmail
//! callers are known by their envelope sender only.
//!
//! It can sit in `smtpd_milters` too, instead of (not as well as) the
//! policy service, which would count each message's rate twice.

use std::ffi::CStr;
use std::net::IpAddr;
use std::sync::Arc;

use indymilter::{
    Actions, Callbacks, Config, ContextActions, EomContext, SetErrorReply, SocketInfo, Status,
};

use crate::hold::Action;
use crate::policy::{Outcome, Request};
use crate::server::{Listener, Shared};

/// What the milter learned of one connection and its current message.
#[derive(Debug, Default)]
struct Session {
    client: Option<IpAddr>,
    sender: Option<String>,
    recipients: u32,
    headers: Vec<(&'static str, String)>,
    /// From X-PHP-Originating-Script: the submission is local.
    uid: Option<u32>,
}

fn text(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

fn macro_text(m: &indymilter::Macros, name: &CStr) -> Option<String> {
    m.get(name).map(text).filter(|v| !v.is_empty())
}

/// The request the policy logic decides on, from a session.
fn request(s: &Session, sasl: Option<String>) -> Request {
    let mut attrs: Vec<(String, String)> = vec![
        ("request".into(), "smtpd_access_policy".into()),
        ("protocol_state".into(), "END-OF-MESSAGE".into()),
        ("recipient_count".into(), s.recipients.to_string()),
    ];
    if let Some(u) = sasl {
        attrs.push(("sasl_username".into(), u));
    }
    let local = s.uid.is_some();
    if let Some(uid) = s.uid
        && let Some(login) = crate::queue::login_of(uid)
    {
        attrs.push(("local_user".into(), login));
    }
    // A local submission's "client" is Postfix itself: not an identity.
    if let Some(ip) = s.client
        && !local
    {
        attrs.push(("client_address".into(), ip.to_string()));
    }
    if let Some(from) = &s.sender {
        attrs.push(("sender".into(), from.clone()));
    }
    for (k, v) in &s.headers {
        attrs.push(((*k).into(), v.clone()));
    }
    Request::from_attrs(attrs)
}

/// `X-PHP-Originating-Script: 1001:mailer.php`.
fn php_uid(value: &str) -> Option<u32> {
    value.split(':').next()?.trim().parse().ok()
}

async fn eom(ctx: &mut EomContext<Session>, shared: &Shared) -> Status {
    let Some(s) = ctx.data.as_ref() else {
        return Status::Continue;
    };
    let sasl = macro_text(&ctx.macros, c"{auth_authen}");
    let req = request(s, sasl);
    let d = shared.decide(&req, false);
    let reply = |ctx: &mut EomContext<Session>, code: &str, x: &str| {
        // A reply the MTA would refuse (too long): its default text then.
        let _ = ctx.reply.set_error_reply(code, Some(x), [d.text.as_str()]);
    };
    let action = match &d.outcome {
        Outcome::Pass => return Status::Continue,
        Outcome::Held { subject, action } => {
            tracing::info!(sender = %subject, %action, "milter: held sender refused");
            *action
        }
        Outcome::RateLimited {
            sender,
            limit,
            action,
        } => {
            tracing::info!(%sender, %limit, %action, "milter: rate limit reached");
            *action
        }
    };
    match action {
        Action::Reject => {
            reply(ctx, "550", "5.7.1");
            Status::Reject
        }
        Action::Defer => {
            reply(ctx, "451", "4.7.1");
            Status::Tempfail
        }
        Action::Hold => {
            if let Err(e) = ctx.actions.quarantine(d.text.clone()).await {
                // Not negotiated: refuse temporarily rather than let it go.
                tracing::warn!(error = ?e, "milter: quarantine refused by the MTA; deferring instead");
                reply(ctx, "451", "4.7.1");
                return Status::Tempfail;
            }
            Status::Accept
        }
    }
}

/// Serves the milter protocol on a bound listener until the task is
/// dropped.
pub async fn run(
    listener: Listener,
    shared: Arc<Shared>,
    max_connections: usize,
) -> std::io::Result<()> {
    let s_eom = shared.clone();
    let callbacks = Callbacks::<Session>::new()
        .on_connect(|ctx, _host, socket| {
            Box::pin(async move {
                let client = match socket {
                    SocketInfo::Inet(a) => Some(a.ip()),
                    _ => None,
                };
                ctx.data = Some(Session {
                    client,
                    ..Session::default()
                });
                Status::Continue
            })
        })
        .on_mail(|ctx, args| {
            Box::pin(async move {
                let s = ctx.data.get_or_insert_with(Session::default);
                // A new message on the same connection starts clean.
                s.recipients = 0;
                s.headers.clear();
                s.uid = None;
                s.sender = args.first().map(|a| {
                    text(a)
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                });
                Status::Continue
            })
        })
        .on_rcpt(|ctx, _args| {
            Box::pin(async move {
                if let Some(s) = ctx.data.as_mut() {
                    s.recipients += 1;
                }
                Status::Continue
            })
        })
        .on_header(|ctx, name, value| {
            Box::pin(async move {
                let (name, value) = (text(&name), text(&value));
                if let Some(s) = ctx.data.as_mut()
                    && let Some(attr) = crate::policy::script_header_attr(&name)
                {
                    let one_line = value.split_whitespace().collect::<Vec<_>>().join(" ");
                    if attr == "x_php_originating_script" {
                        s.uid = php_uid(&one_line);
                    }
                    s.headers.push((attr, one_line));
                }
                Status::Continue
            })
        })
        .on_eom(move |ctx| {
            let shared = s_eom.clone();
            Box::pin(async move { eom(ctx, &shared).await })
        })
        .on_abort(|ctx| {
            Box::pin(async move {
                if let Some(s) = ctx.data.as_mut() {
                    s.recipients = 0;
                    s.headers.clear();
                }
                Status::Continue
            })
        });
    let config = Config {
        max_connections,
        actions: Actions::QUARANTINE,
        ..Config::default()
    };
    indymilter::run(listener, callbacks, config, std::future::pending::<()>()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_header_names_the_uid() {
        assert_eq!(php_uid("1001:mailer.php"), Some(1001));
        assert_eq!(php_uid("mailer.php"), None);
    }

    #[test]
    fn local_submissions_are_named_by_script_and_user_not_by_loopback() {
        let s = Session {
            client: Some("127.0.0.1".parse().unwrap()),
            sender: Some("erin@shop.example".into()),
            recipients: 1,
            headers: vec![(
                "x_source_args",
                "/usr/bin/php /home/erin/public_html/wp-content/uploads/m.php".into(),
            )],
            uid: Some(0),
        };
        let id = request(&s, None).identity();
        let names: Vec<String> = id.senders.iter().map(|x| x.to_string()).collect();
        assert_eq!(
            names,
            [
                "script:/home/erin/public_html/wp-content/uploads/m.php",
                "local:root",
                "from:erin@shop.example"
            ]
        );
        let smtp = Session {
            uid: None,
            headers: vec![],
            ..s
        };
        let id = request(&smtp, Some("bob@shop.example".into())).identity();
        assert_eq!(id.primary().unwrap().to_string(), "auth:bob@shop.example");
        assert!(id.senders.iter().any(|x| x.to_string() == "ip:127.0.0.1"));
    }
}
