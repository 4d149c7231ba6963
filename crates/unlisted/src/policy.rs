//! The policy service inside the binary: holds loaded from the store and
//! reloaded when they change, rate limits from the config.
//!
//! Fail-safe: if the store cannot be read, the service keeps answering
//! from the holds it last loaded (and `DUNNO` for everyone when it never
//! loaded any); the MTAs are configured to pass mail when the service is
//! down (README, integration section).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use enforce::server::{Listen, Listener, Options, Shared};
use enforce::{Accounts, Hold, HoldSet, RateLimiter};

use crate::config::EnforceConfig;

/// Store rows → holds; a row that does not parse (written by a newer
/// version, edited by hand) is skipped with a warning, never guessed at.
pub(crate) fn hold_set(rows: &[store::HoldRow], accounts: &Arc<Accounts>) -> HoldSet {
    HoldSet::new(rows.iter().filter_map(|r| match to_hold(r) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!(subject = %r.subject, error = %e, "stored hold not understood; ignored");
            None
        }
    }))
    .with_accounts(accounts.clone())
}

/// Where the control panels keep their domain owners, in the same
/// `domain: account` form: cPanel, DirectAdmin.
const DOMAIN_OWNERS: [&str; 2] = ["/etc/userdomains", "/etc/virtual/domainowners"];
/// Plesk's virtual hosts (with its `system` directory beside them).
const PLESK_VHOSTS: &str = "/var/www/vhosts";

/// The domain → account map (`enforce.userdomains`, else the control
/// panel's file when present). A file that cannot be read is reported
/// and left out: account holds then reach scripts and local users only.
pub(crate) fn accounts(cfg: &EnforceConfig) -> Arc<Accounts> {
    let path = cfg.userdomains.clone().or_else(|| {
        DOMAIN_OWNERS
            .iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.exists())
            .or_else(|| {
                // Plesk: no file, its tree of virtual hosts.
                let vhosts = std::path::Path::new(PLESK_VHOSTS);
                vhosts.join("system").is_dir().then(|| vhosts.to_path_buf())
            })
    });
    let Some(path) = path else {
        return Arc::new(Accounts::default());
    };
    if path.is_dir() {
        return match Accounts::from_vhosts(&path, enforce::queue::login_of) {
            Ok(a) => {
                tracing::info!(dir = %path.display(), domains = a.len(), "domain owners read from the virtual hosts");
                Arc::new(a)
            }
            Err(e) => {
                tracing::warn!(dir = %path.display(), error = %e, "cannot read the virtual hosts; account holds will not reach mailboxes");
                Arc::new(Accounts::default())
            }
        };
    }
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let a = Accounts::parse(&text);
            tracing::info!(file = %path.display(), domains = a.len(), "domain owners loaded");
            Arc::new(a)
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the domain owners; account holds will not reach mailboxes");
            Arc::new(Accounts::default())
        }
    }
}

pub(crate) fn to_hold(r: &store::HoldRow) -> Result<Hold, String> {
    Ok(Hold {
        subject: r.subject.parse()?,
        action: r.action.parse()?,
        reason: r.reason.clone(),
        until: r.until,
    })
}

/// The running policy service and milter (either may be off).
pub(crate) struct PolicyService {
    /// Where each listens, once bound (a port 0 becomes the real one).
    pub(crate) policy: Option<Listen>,
    pub(crate) milter: Option<Listen>,
    /// Holds, rate counters and decision counts shared by both.
    pub(crate) shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for PolicyService {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn bind(listen: &Listen, what: &str) -> Result<(Listener, Listen)> {
    let listener = Listener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for the {what}"))?;
    let bound = listener.local()?;
    Ok((listener, bound))
}

/// Binds the policy service and the milter where asked and serves both
/// from one set of holds (from the store at `db`) and rate counters.
pub(crate) async fn start(
    policy: Option<&Listen>,
    milter: Option<&Listen>,
    db: &Path,
    cfg: &EnforceConfig,
) -> Result<PolicyService> {
    let policy = match policy {
        Some(l) => Some(bind(l, "policy service").await?),
        None => None,
    };
    let milter = match milter {
        Some(l) => Some(bind(l, "milter").await?),
        None => None,
    };
    let store = store::Store::open(db)?;
    let version = store.holds_version()?;
    let accounts = accounts(cfg);
    let holds = hold_set(&store.holds()?, &accounts);
    let shared = Arc::new(Shared::new(holds, RateLimiter::new(cfg.limits.clone())));
    let mut svc = PolicyService {
        policy: None,
        milter: None,
        shared: shared.clone(),
        tasks: Vec::new(),
    };
    if let Some((listener, bound)) = policy {
        let opts = Options {
            idle_timeout: cfg.policy.idle_timeout,
            max_connections: cfg.policy.max_connections,
        };
        tracing::info!(listen = %bound, holds = shared.holds().len(), "policy service listening");
        svc.tasks
            .push(tokio::spawn(listener.run(shared.clone(), opts)));
        svc.policy = Some(bound);
    }
    if let Some((listener, bound)) = milter {
        tracing::info!(listen = %bound, "milter listening");
        let shared = shared.clone();
        let max = cfg.policy.max_connections;
        svc.tasks.push(tokio::spawn(async move {
            if let Err(e) = enforce::milter::run(listener, shared, max).await {
                tracing::error!(error = %e, "milter stopped");
            }
        }));
        svc.milter = Some(bound);
    }
    svc.tasks.push(tokio::spawn(reload_loop(
        db.to_path_buf(),
        store,
        version,
        shared,
        accounts,
    )));
    Ok(svc)
}

/// Polls the store's hold version twice a second and swaps the hold set
/// when it moved; expired holds stop applying by their time even between
/// reloads.
async fn reload_loop(
    db: PathBuf,
    mut store: store::Store,
    mut version: i64,
    shared: Arc<Shared>,
    accounts: Arc<Accounts>,
) {
    let mut failing = false;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let loaded = store.holds_version().and_then(|v| {
            if v == version {
                Ok(None)
            } else {
                store.holds().map(|h| Some((v, h)))
            }
        });
        match loaded {
            Ok(None) => failing = false,
            Ok(Some((v, rows))) => {
                let set = hold_set(&rows, &accounts);
                tracing::info!(holds = set.len(), "policy service: holds reloaded");
                shared.set_holds(set);
                version = v;
                failing = false;
            }
            Err(e) => {
                if !failing {
                    tracing::error!(error = %e, db = %db.display(), "policy service cannot read the holds; answering from the last ones loaded");
                }
                failing = true;
                // The file may have been replaced: open it again.
                if let Ok(s) = store::Store::open(&db) {
                    store = s;
                }
            }
        }
    }
}

/// Holds the already queued mail of the sender `row` holds, and records
/// what was done in the audit. A queue that cannot be read is reported
/// (and audited) without undoing the hold: new mail is stopped either way.
pub(crate) fn hold_queued(
    store: &store::Store,
    cfg: &EnforceConfig,
    row: &store::HoldRow,
    actor: &str,
) -> Result<Option<String>> {
    let Some(mta) = cfg.queue.mta() else {
        return Ok(None);
    };
    let hold = to_hold(row).map_err(anyhow::Error::msg)?;
    let now = crate::output::now();
    let set = HoldSet::new([hold]).with_accounts(accounts(cfg));
    let text = match mta.hold_matching(&set, now, 20) {
        Ok(r) => format!("queued mail: {}", r.summary("held")),
        Err(e) => format!("queued mail not held: {e}"),
    };
    store.audit_hold(&row.subject, "queue", actor, Some(&text), now)?;
    Ok(Some(text))
}

/// What to do with a released sender's queued mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnRelease {
    Keep,
    Requeue,
    Delete,
}

/// Releases or deletes the held queued mail of the sender `row` held.
pub(crate) fn release_queued(
    store: &store::Store,
    cfg: &EnforceConfig,
    row: &store::HoldRow,
    what: OnRelease,
    actor: &str,
) -> Result<Option<String>> {
    let Some(mta) = cfg.queue.mta() else {
        if what != OnRelease::Keep {
            anyhow::bail!(
                "--requeue and --delete need enforce.queue.mta (postfix or exim) in the config"
            );
        }
        return Ok(None);
    };
    let hold = to_hold(row).map_err(anyhow::Error::msg)?;
    let set = HoldSet::new([Hold {
        until: None,
        ..hold
    }]);
    let now = crate::output::now();
    let text = match what {
        OnRelease::Keep => match mta.list() {
            Ok(list) => {
                let n = list
                    .iter()
                    .filter(|q| q.held() && set.find(&q.identity, now).is_some())
                    .count();
                format!("queued mail: {n} still held (release with --requeue or --delete)")
            }
            Err(e) => format!("queue not read: {e}"),
        },
        OnRelease::Requeue => match mta.release_matching(&set, now) {
            Ok(r) => format!("queued mail: {}", r.summary("released")),
            Err(e) => anyhow::bail!("the hold is released but its queued mail is not: {e}"),
        },
        OnRelease::Delete => match mta.delete_matching(&set, now) {
            Ok(r) => format!("queued mail: {}", r.summary("deleted")),
            Err(e) => anyhow::bail!("the hold is released but its queued mail is not deleted: {e}"),
        },
    };
    store.audit_hold(&row.subject, "queue", actor, Some(&text), now)?;
    Ok(Some(text))
}

/// Ties a mailbox (`auth:`), an envelope sender (`from:`) or a forward
/// (`forward:`) the log gave no account to the account owning its domain.
pub(crate) fn own(m: &mut maillog::Message, accounts: &Accounts) {
    if accounts.is_empty() {
        return;
    }
    // Postfix names a local submission by its uid: Plesk's tree has the
    // login of a subscription's system user.
    if m.sender.kind == maillog::SenderKind::Local
        && let Some(login) = (m.account.as_deref())
            .and_then(|a| a.parse().ok())
            .and_then(|uid| accounts.of_uid(uid))
    {
        m.account = Some(login.to_string());
        return;
    }
    if m.account.is_some() {
        return;
    }
    match m.sender.kind {
        maillog::SenderKind::Auth | maillog::SenderKind::From | maillog::SenderKind::Forward => {
            if let Some((_, domain)) = m.sender.value.rsplit_once('@') {
                m.account = accounts.of_domain(domain).map(str::to_string);
            }
        }
        // A script in a Plesk site (/var/www/vhosts/DOMAIN/httpdocs/...).
        maillog::SenderKind::Script => {
            m.account = accounts.of_path(&m.sender.value).map(str::to_string);
        }
        _ => {}
    }
}
