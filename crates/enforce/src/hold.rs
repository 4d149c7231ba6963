//! Holds: a sender (or a whole account) that may not send, the action the
//! MTA takes on its mail, and why.
//!
//! A hold names a sender in the DESIGN.md vocabulary (`auth:`, `script:`,
//! `local:`, `ip:`, `from:`) or `account:NAME` for every sender of one
//! customer. A `script:` hold on a directory covers every script below it.

use std::fmt;
use std::str::FromStr;

use maillog::message::{Sender, SenderKind};
use serde::{Deserialize, Serialize};

/// What a hold stops.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    Sender(Sender),
    /// All senders of one customer account.
    Account(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Sender(s) => s.fmt(f),
            Subject::Account(a) => write!(f, "account:{a}"),
        }
    }
}

impl FromStr for Subject {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(a) = s.strip_prefix("account:") {
            if a.is_empty() || a.contains(char::is_whitespace) {
                return Err(format!("`{s}`: an account name is one word"));
            }
            return Ok(Subject::Account(a.to_string()));
        }
        let sender: Sender = s
            .parse()
            .map_err(|e| format!("{e} (use auth:, script:, local:, ip:, from: or account:)"))?;
        if sender.value.trim().is_empty() {
            return Err(format!("`{s}` names no sender"));
        }
        if sender.kind == SenderKind::Forward {
            return Err(format!(
                "`{s}` cannot be held: the MTA takes forwarded mail as the outside sender's; remove or filter the forward (cPanel: Email > Forwarders), or hold its account:"
            ));
        }
        if sender.kind == SenderKind::Ip && sender.value.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("`{}` is not an IP address", sender.value));
        }
        if sender.kind == SenderKind::Script && !sender.value.starts_with('/') {
            return Err(format!(
                "`{}`: a script is named by its absolute path (or a directory)",
                sender.value
            ));
        }
        Ok(Subject::Sender(normalise(sender)))
    }
}

/// A sender's value as holds store it, borrowed when it already is.
fn normalised_value(s: &Sender) -> std::borrow::Cow<'_, str> {
    match s.kind {
        SenderKind::Auth | SenderKind::From | SenderKind::Forward
            if s.value.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            std::borrow::Cow::Owned(s.value.to_ascii_lowercase())
        }
        SenderKind::Ip => match maillog::message::parse_ip(&s.value) {
            Some(ip) if ip.to_string() != s.value => std::borrow::Cow::Owned(ip.to_string()),
            _ => std::borrow::Cow::Borrowed(&s.value),
        },
        _ => std::borrow::Cow::Borrowed(&s.value),
    }
}

/// Mailbox names and addresses compare without case; paths and IPs as
/// written (an IP in its canonical form).
fn normalise(mut s: Sender) -> Sender {
    match s.kind {
        SenderKind::Auth | SenderKind::From | SenderKind::Forward => {
            s.value = s.value.to_ascii_lowercase()
        }
        SenderKind::Ip => {
            if let Some(ip) = maillog::message::parse_ip(&s.value) {
                s.value = ip.to_string();
            }
        }
        SenderKind::Script => {
            let trimmed = s.value.trim_end_matches('/');
            if !trimmed.is_empty() {
                s.value = trimmed.to_string();
            }
        }
        SenderKind::Local => {}
    }
    s
}

/// What the MTA does with a held sender's mail.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Temporary failure: the client keeps the mail and retries later.
    #[default]
    Defer,
    /// Accept into the MTA's hold queue (Postfix hold, Exim frozen), where
    /// it waits for review and is never delivered on its own.
    Hold,
    /// Permanent failure: the client gets a bounce.
    Reject,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Defer => "defer",
            Action::Hold => "hold",
            Action::Reject => "reject",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "defer" => Ok(Action::Defer),
            "hold" => Ok(Action::Hold),
            "reject" => Ok(Action::Reject),
            _ => Err(format!("`{s}` is not an action: reject, defer or hold")),
        }
    }
}

/// One hold in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub subject: Subject,
    pub action: Action,
    pub reason: String,
    /// Unix seconds; `None` holds until released.
    pub until: Option<i64>,
}

impl Hold {
    pub fn active(&self, now: i64) -> bool {
        self.until.is_none_or(|u| now < u)
    }
}

/// Who is asking to send: every identity the MTA told us, strongest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub senders: Vec<Sender>,
    /// The owning account, when the request shows it (a local user, a
    /// script under a home directory).
    pub account: Option<String>,
    /// A script known only by its basename (`X-PHP-Originating-Script`),
    /// with the local user that ran it.
    pub script_basename: Option<String>,
}

impl Identity {
    /// The strongest identity, for rate limits and messages.
    pub fn primary(&self) -> Option<&Sender> {
        self.senders.iter().min_by_key(|s| s.kind)
    }
}

/// Which customer account owns a mail domain, so that an `account:` hold
/// also stops the SMTP AUTH mailboxes and envelope senders of that
/// customer's domains. Read from cPanel's `/etc/userdomains` format
/// (`domain: account` per line), or from Plesk's tree of virtual hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    by_domain: rustc_hash::FxHashMap<String, String>,
    /// Plesk's /var/www/vhosts, when read from there: a script below
    /// `<vhosts>/<domain>/` is that domain's owner's.
    vhosts: Option<std::path::PathBuf>,
    /// The subscriptions' system users by uid, when read from Plesk's
    /// tree: Postfix logs a local submission's uid, not its login.
    logins: rustc_hash::FxHashMap<u32, String>,
}

/// Entries of Plesk's vhosts directory that are no customer's.
const NOT_VHOSTS: [&str; 5] = ["system", "default", "chroot", "fs", "fs-passwd"];

/// A directory name that is a domain name (`shop.example`), not one of a
/// site's own directories (`httpdocs`, `error_docs`, `.skel`).
fn is_domain_name(name: &str) -> bool {
    name.contains('.')
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

impl Accounts {
    /// Plesk writes no domain-owner file. Each subscription's main domain
    /// is a directory of `vhosts` (/var/www/vhosts) owned by the
    /// subscription's system user, and its additional domains and
    /// subdomains are directories inside it with the same owner (Plesk's
    /// "Virtual Host Structure (Linux)"). `login_of` names a uid.
    pub fn from_vhosts(
        vhosts: &std::path::Path,
        login_of: impl Fn(u32) -> Option<String>,
    ) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let mut by_domain = rustc_hash::FxHashMap::default();
        let mut logins = rustc_hash::FxHashMap::default();
        for e in std::fs::read_dir(vhosts)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            let Ok(meta) = std::fs::metadata(e.path()) else {
                continue;
            };
            if !meta.is_dir()
                || meta.uid() == 0
                || NOT_VHOSTS.contains(&name.as_str())
                || !is_domain_name(&name)
            {
                continue;
            }
            let Some(owner) = login_of(meta.uid()) else {
                continue;
            };
            for inner in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                let n = inner.file_name().to_string_lossy().to_ascii_lowercase();
                let same = std::fs::metadata(inner.path())
                    .is_ok_and(|m| m.is_dir() && m.uid() == meta.uid());
                if same && is_domain_name(&n) {
                    by_domain.entry(n).or_insert_with(|| owner.clone());
                }
            }
            logins.insert(meta.uid(), owner.clone());
            by_domain.insert(name, owner);
        }
        Ok(Accounts {
            by_domain,
            vhosts: Some(vhosts.to_path_buf()),
            logins,
        })
    }

    /// The login of a subscription's system user by its uid, when read
    /// from Plesk's tree.
    pub fn of_uid(&self, uid: u32) -> Option<&str> {
        self.logins.get(&uid).map(String::as_str)
    }

    /// The account owning a script by where it lives: below
    /// `<vhosts>/<domain>/` when read from Plesk's tree.
    pub fn of_path(&self, path: &str) -> Option<&str> {
        let rest = std::path::Path::new(path)
            .strip_prefix(self.vhosts.as_ref()?)
            .ok()?;
        let domain = rest.components().next()?.as_os_str().to_str()?;
        self.by_domain
            .get(&domain.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Parses `domain: account` lines; `*: nobody` (cPanel's catch-all),
    /// blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Self {
        let mut by_domain = rustc_hash::FxHashMap::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((d, a)) = line.split_once(':') {
                let (d, a) = (d.trim().to_ascii_lowercase(), a.trim());
                if d != "*" && !d.is_empty() && !a.is_empty() && a != "nobody" {
                    by_domain.insert(d, a.to_string());
                }
            }
        }
        Accounts {
            by_domain,
            ..Accounts::default()
        }
    }

    pub fn len(&self) -> usize {
        self.by_domain.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }

    /// The account owning `domain` or the nearest parent domain listed.
    pub fn of_domain(&self, domain: &str) -> Option<&str> {
        let mut d = domain.trim_end_matches('.').to_ascii_lowercase();
        loop {
            if let Some(a) = self.by_domain.get(&d) {
                return Some(a);
            }
            let (_, parent) = d.split_once('.')?;
            if !parent.contains('.') {
                return None;
            }
            d = parent.to_string();
        }
    }

    /// The account of an identity's mailbox or envelope domain.
    fn of(&self, who: &Identity) -> Option<&str> {
        if self.by_domain.is_empty() {
            return None;
        }
        who.senders
            .iter()
            .filter(|s| matches!(s.kind, SenderKind::Auth | SenderKind::From))
            .filter_map(|s| s.value.rsplit_once('@').map(|(_, d)| d))
            .find_map(|d| self.of_domain(d))
    }
}

/// The holds in force, indexed for the policy service's lookups (which
/// run for every request: no allocation on the common path).
#[derive(Debug, Clone, Default)]
pub struct HoldSet {
    exact: rustc_hash::FxHashMap<Subject, Hold>,
    /// Sender holds by kind (`SenderKind as usize`), keyed by value.
    by_kind: [rustc_hash::FxHashMap<String, Hold>; 5],
    /// `script:` holds, matched as a path or a directory prefix.
    scripts: Vec<Hold>,
    accounts: std::sync::Arc<Accounts>,
}

impl HoldSet {
    pub fn new(holds: impl IntoIterator<Item = Hold>) -> Self {
        let mut set = HoldSet::default();
        for h in holds {
            if let Subject::Sender(s) = &h.subject {
                if s.kind == SenderKind::Script {
                    set.scripts.push(h.clone());
                }
                set.by_kind[s.kind as usize].insert(s.value.clone(), h.clone());
            }
            set.exact.insert(h.subject.clone(), h);
        }
        set
    }

    /// Resolves accounts of mail domains with `accounts`.
    pub fn with_accounts(mut self, accounts: std::sync::Arc<Accounts>) -> Self {
        self.accounts = accounts;
        self
    }

    pub fn len(&self) -> usize {
        self.exact.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// The hold that applies to `who` at `now`; when several do, the one
    /// with the strongest action (reject, then hold, then defer).
    pub fn find(&self, who: &Identity, now: i64) -> Option<&Hold> {
        if self.exact.is_empty() {
            return None;
        }
        let mut found: Vec<&Hold> = Vec::new();
        for s in &who.senders {
            if s.kind == SenderKind::Script {
                let path = s.value.trim_end_matches('/');
                found.extend(self.scripts.iter().filter(
                    |h| matches!(&h.subject, Subject::Sender(hs) if covers(&hs.value, path)),
                ));
                continue;
            }
            let map = &self.by_kind[s.kind as usize];
            if map.is_empty() {
                continue;
            }
            let key = normalised_value(s);
            if let Some(h) = map.get(key.as_ref()) {
                found.push(h);
            }
        }
        let account = who.account.as_deref().or_else(|| self.accounts.of(who));
        if let Some(a) = account {
            if let Some(h) = self.exact.get(&Subject::Account(a.to_string())) {
                found.push(h);
            }
            // A script known by basename only: a hold on a script of the
            // same name in this account's home.
            if let Some(base) = &who.script_basename {
                found.extend(self.scripts.iter().filter(|h| match &h.subject {
                    Subject::Sender(hs) => {
                        hs.value.rsplit('/').next() == Some(base.as_str())
                            && maillog::message::account_from_path(&hs.value) == Some(a)
                    }
                    Subject::Account(_) => false,
                }));
            }
        }
        found
            .into_iter()
            .filter(|h| h.active(now))
            .max_by_key(|h| h.action)
    }
}

/// A `script:` hold on `held` covers `path` when it is that script or a
/// directory above it.
fn covers(held: &str, path: &str) -> bool {
    path == held
        || (path.len() > held.len()
            && path.starts_with(held)
            && path.as_bytes()[held.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(subject: &str, action: Action) -> Hold {
        Hold {
            subject: subject.parse().unwrap(),
            action,
            reason: "test".into(),
            until: None,
        }
    }

    fn who(senders: &[&str], account: Option<&str>) -> Identity {
        Identity {
            senders: senders.iter().map(|s| s.parse().unwrap()).collect(),
            account: account.map(str::to_string),
            script_basename: None,
        }
    }

    #[test]
    fn a_plesk_script_belongs_to_its_sites_owner() {
        let mut by_domain = rustc_hash::FxHashMap::default();
        by_domain.insert("shop.example".to_string(), "bob".to_string());
        let a = Accounts {
            by_domain,
            vhosts: Some("/var/www/vhosts".into()),
            ..Accounts::default()
        };
        assert_eq!(
            a.of_path("/var/www/vhosts/Shop.Example/httpdocs/wp-content/uploads/x.php"),
            Some("bob")
        );
        assert_eq!(
            a.of_path("/var/www/vhosts/other.example/httpdocs/x.php"),
            None
        );
        assert_eq!(a.of_path("/home/bob/public_html/x.php"), None);
        assert!(is_domain_name("shop.example") && !is_domain_name("httpdocs"));
        assert!(!is_domain_name(".skel") && !is_domain_name("a b.example"));
    }

    #[test]
    fn subjects_parse_and_normalise() {
        let s: Subject = "auth:Bob@Example.COM".parse().unwrap();
        assert_eq!(s.to_string(), "auth:bob@example.com");
        let s: Subject = "script:/home/bob/public_html/".parse().unwrap();
        assert_eq!(s.to_string(), "script:/home/bob/public_html");
        let s: Subject = "ip:2001:db8:0::1".parse().unwrap();
        assert_eq!(s.to_string(), "ip:2001:db8::1");
        // What a dual-stack socket logs for an IPv4 client is that client.
        let s: Subject = "ip:::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(s.to_string(), "ip:203.0.113.9");
        assert_eq!(
            "account:bob".parse::<Subject>().unwrap(),
            Subject::Account("bob".into())
        );
        for bad in [
            "bob",
            "auth:",
            "ip:not-an-ip",
            "script:relative/x.php",
            "account:",
            "host:x",
        ] {
            assert!(bad.parse::<Subject>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn exact_account_and_directory_matches() {
        let set = HoldSet::new([
            hold("auth:bob@example.com", Action::Defer),
            hold("account:carol", Action::Hold),
            hold(
                "script:/home/dave/public_html/wp-content/uploads",
                Action::Reject,
            ),
        ]);
        let h = set.find(&who(&["auth:BOB@example.com", "ip:127.0.0.2"], None), 0);
        assert_eq!(h.map(|h| h.action), Some(Action::Defer));
        assert!(set.find(&who(&["auth:eve@example.com"], None), 0).is_none());
        let h = set.find(&who(&["local:carol"], Some("carol")), 0);
        assert_eq!(h.map(|h| h.action), Some(Action::Hold));
        let h = set.find(
            &who(
                &["script:/home/dave/public_html/wp-content/uploads/2024/x.php"],
                Some("dave"),
            ),
            0,
        );
        assert_eq!(h.map(|h| h.action), Some(Action::Reject));
        // A sibling directory with a common prefix is not covered.
        let h = set.find(
            &who(
                &["script:/home/dave/public_html/wp-content/uploads2/x.php"],
                Some("dave"),
            ),
            0,
        );
        assert!(h.is_none());
    }

    #[test]
    fn strongest_action_wins_and_expired_holds_do_not_apply() {
        let mut expired = hold("ip:127.0.0.9", Action::Reject);
        expired.until = Some(100);
        let set = HoldSet::new([
            hold("auth:bob", Action::Defer),
            hold("account:bob", Action::Reject),
            expired,
        ]);
        let h = set
            .find(&who(&["auth:bob", "local:bob"], Some("bob")), 0)
            .unwrap();
        assert_eq!(h.action, Action::Reject);
        assert!(set.find(&who(&["ip:127.0.0.9"], None), 99).is_some());
        assert!(set.find(&who(&["ip:127.0.0.9"], None), 100).is_none());
    }

    #[test]
    fn account_holds_reach_mailboxes_of_the_accounts_domains() {
        let accounts = Accounts::parse(
            "# cPanel\nshop.example: carol\nblog.example: dave\n*: nobody\n\nbroken line\n",
        );
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts.of_domain("SHOP.example"), Some("carol"));
        assert_eq!(accounts.of_domain("mail.shop.example"), Some("carol"));
        assert_eq!(accounts.of_domain("example"), None);
        assert_eq!(accounts.of_domain("other.example"), None);
        let set = HoldSet::new([hold("account:carol", Action::Reject)])
            .with_accounts(std::sync::Arc::new(accounts));
        assert!(
            set.find(&who(&["auth:info@shop.example"], None), 0)
                .is_some()
        );
        assert!(
            set.find(&who(&["ip:127.0.0.1", "from:x@mail.shop.example"], None), 0)
                .is_some()
        );
        assert!(
            set.find(&who(&["auth:info@blog.example"], None), 0)
                .is_none()
        );
        // Without the map, a mailbox has no account.
        let bare = HoldSet::new([hold("account:carol", Action::Reject)]);
        assert!(
            bare.find(&who(&["auth:info@shop.example"], None), 0)
                .is_none()
        );
    }

    #[test]
    fn basename_only_scripts_match_within_their_account() {
        let set = HoldSet::new([hold("script:/home/dave/public_html/x7.php", Action::Reject)]);
        let mut w = who(&["local:dave"], Some("dave"));
        w.script_basename = Some("x7.php".into());
        assert!(set.find(&w, 0).is_some());
        let mut other = who(&["local:erin"], Some("erin"));
        other.script_basename = Some("x7.php".into());
        assert!(set.find(&other, 0).is_none());
    }
}
