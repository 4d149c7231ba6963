//! Complaints shared by the CLI and the daemon: tie a complaint to one of
//! our senders and store it once; read complaints from a Maildir as they
//! arrive.

use std::path::Path;

use anyhow::Result;
use feedback::Complaint;
use maillog::{Sender, SenderKind};

/// Who a complaint is about, and how we know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) sender: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) by: Option<&'static str>,
    pub(crate) problems: Vec<String>,
}

/// Ties a complaint to one of our senders, strongest evidence first: the
/// original's Message-ID in the stored mail logs, the script headers, the
/// SMTP AUTH headers, the envelope sender.
fn link(store: &store::Store, c: &Complaint) -> Result<Link> {
    let mut l = Link::default();
    if let Some(mid) = &c.original.message_id {
        if let Some(m) = store.message_by_message_id(mid)? {
            l.sender = Some(m.sender);
            l.account = m.account;
            l.by = Some("message-id");
            return Ok(l);
        }
        l.problems.push(format!(
            "Message-ID <{mid}> is not in the stored mail logs (not ours, or older than what was read)"
        ));
    }
    let o = &c.original;
    let headers: Vec<String> = [
        ("X-PHP-Originating-Script", &o.php_script),
        ("X-Source-Args", &o.source_args),
        ("X-Source-Dir", &o.source_dir),
    ]
    .iter()
    .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n}: {v}")))
    .collect();
    let h = maillog::headers::script_headers(headers.iter().map(String::as_str));
    if let Some(path) = &h.path {
        l.sender = Some(Sender::new(SenderKind::Script, path.clone()).to_string());
        l.account = maillog::message::account_from_path(path).map(str::to_string);
        l.by = Some("script-header");
        return Ok(l);
    }
    if let Some(u) = &o.auth_user {
        l.sender = Some(Sender::new(SenderKind::Auth, u.to_ascii_lowercase()).to_string());
        l.by = Some("auth-header");
        return Ok(l);
    }
    if let Some(base) = &h.basename {
        l.problems.push(format!(
            "the script is named only as `{base}` (X-PHP-Originating-Script): its directory is unknown"
        ));
    }
    let envelope = c
        .original_mail_from
        .clone()
        .or_else(|| o.return_path.clone())
        .filter(|a| a.contains('@'));
    if let Some(a) = envelope {
        l.sender = Some(Sender::new(SenderKind::From, a.to_ascii_lowercase()).to_string());
        l.by = Some("envelope");
        l.problems
            .push("tied by envelope sender only, which anyone can forge".to_string());
        return Ok(l);
    }
    l.problems
        .push("cannot tie this complaint to a sender: no Message-ID we logged, no script or login header, no envelope sender".to_string());
    Ok(l)
}

/// Ties `c` to a sender and stores it; `true` when it was not stored
/// before.
pub(crate) fn store_complaint(
    store: &store::Store,
    c: &Complaint,
    location: &str,
    now: i64,
) -> Result<(bool, Link)> {
    let l = link(store, c)?;
    let record = serde_json::to_string(c)?;
    let fresh = store.add_complaint(
        &store::NewComplaint {
            key: c.key(),
            arrival: c.arrival_unix,
            provider: c.provider.clone(),
            feedback_type: c.feedback_type.clone(),
            source_ip: c.source_ip.map(|i| i.to_string()),
            original_message_id: c.original.message_id.clone(),
            sender: l.sender.clone(),
            account: l.account.clone(),
            linked_by: l.by.map(str::to_string),
            location: location.to_string(),
            record,
        },
        now,
    )?;
    Ok((fresh, l))
}

/// Reads the messages delivered to a Maildir's `new/` since the last
/// look, stores the complaints among them, and moves each message to
/// `cur/` marked seen (the Maildir convention for "read"), so it is read
/// once. A file that cannot be read or moved is reported and left for the
/// next look. Returns (messages read, complaints stored new).
pub(crate) fn watch_maildir(store: &store::Store, dir: &Path, now: i64) -> Result<(usize, usize)> {
    let new = dir.join("new");
    let entries = match std::fs::read_dir(&new) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(maildir = %dir.display(), error = %e, "cannot read the complaints Maildir");
            return Ok((0, 0));
        }
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let (mut read, mut stored) = (0, 0);
    for f in files {
        let data = match std::fs::read(&f) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(file = %f.display(), error = %e, "cannot read a complaint message");
                continue;
            }
        };
        read += 1;
        let location = f.display().to_string();
        match feedback::complaint::parse(&data) {
            Ok(c) => {
                let (fresh, l) = store_complaint(store, &c, &location, now)?;
                if fresh {
                    stored += 1;
                    tracing::info!(provider = %c.provider, sender = l.sender.as_deref().unwrap_or("-"), "complaint received");
                }
            }
            Err(e) => {
                tracing::warn!(file = %location, error = %e, "not a complaint; moved to cur/ unread by us")
            }
        }
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("msg");
        let seen = if name.contains(":2,") {
            name.to_string()
        } else {
            format!("{name}:2,S")
        };
        if let Err(e) = std::fs::rename(&f, dir.join("cur").join(seen)) {
            tracing::warn!(file = %location, error = %e, "cannot move a read complaint to cur/; it will be read again (and counted once)");
        }
    }
    Ok((read, stored))
}
