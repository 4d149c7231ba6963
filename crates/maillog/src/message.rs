//! One record per message, whatever the MTA: who sent it (DESIGN.md's
//! sender vocabulary), for which account, and what became of each recipient.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::Stamp;

/// The kinds of sender identity, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderKind {
    /// SMTP AUTH / SASL login.
    Auth,
    /// A web script (its path, or the directory it ran in).
    Script,
    /// A local Unix user without a known script.
    Local,
    /// An unauthenticated relay client.
    Ip,
    /// The envelope sender, when nothing better is known.
    From,
    /// A local address whose forward (an alias, a `.forward`, a cPanel
    /// forwarder) sent mail from outside on to another host: forwarded
    /// spam is the forward's doing, not the outside senders' (each of
    /// whom sends a little).
    Forward,
}

impl SenderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderKind::Auth => "auth",
            SenderKind::Script => "script",
            SenderKind::Local => "local",
            SenderKind::Ip => "ip",
            SenderKind::From => "from",
            SenderKind::Forward => "forward",
        }
    }
}

/// `kind:value`, as written everywhere (CLI, JSON, store).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sender {
    pub kind: SenderKind,
    pub value: String,
}

impl From<&Sender> for Sender {
    fn from(s: &Sender) -> Self {
        s.clone()
    }
}

impl Sender {
    pub fn new(kind: SenderKind, value: impl Into<String>) -> Self {
        Sender {
            kind,
            value: value.into(),
        }
    }

    /// A login or an address as a sender, in lower case: mail servers
    /// take mailbox names in any case, and holds, the policy service and
    /// complaints all write them so (`Info@Shop.example` typed on a phone
    /// is the same mailbox, and an attacker's mixed case is no new sender).
    pub fn mailbox(kind: SenderKind, value: &str) -> Self {
        Sender::new(kind, value.to_ascii_lowercase())
    }
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.value)
    }
}

impl std::str::FromStr for Sender {
    type Err = String;

    /// Parses `kind:value`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, value) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not kind:value"))?;
        let kind = match kind {
            "auth" => SenderKind::Auth,
            "script" => SenderKind::Script,
            "local" => SenderKind::Local,
            "ip" => SenderKind::Ip,
            "from" => SenderKind::From,
            "forward" => SenderKind::Forward,
            other => return Err(format!("unknown sender kind `{other}`")),
        };
        Ok(Sender::new(kind, value))
    }
}

impl<'de> Deserialize<'de> for Sender {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for Sender {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What became of one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// No final word yet.
    Pending,
    Delivered,
    /// The last word was a temporary failure.
    Deferred,
    Bounced,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub address: String,
    pub outcome: Outcome,
    /// Delivered or attempted to another host (not a local mailbox).
    pub remote: bool,
    /// The remote reply or error text of the last attempt.
    pub reply: Option<String>,
    pub host: Option<String>,
    /// Temporary failures seen (not counting "retry time not reached").
    pub deferrals: u32,
    pub at: Stamp,
    /// Sent to another host by a forward of this address (the final
    /// address was not this one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forwarded: bool,
}

/// A failed delivery attempt to another host, as it is logged (before the
/// message is complete): what the remote server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at: Stamp,
    /// The MTA's message id.
    pub id: String,
    pub recipient: String,
    /// The receiving host, as logged.
    pub host: Option<String>,
    pub reply: String,
    /// A bounce (not a deferral).
    pub permanent: bool,
}

/// How a script submission was tied to its `cwd=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchedBy {
    /// The same process id (`+pid`).
    Pid,
    /// The nearest preceding `cwd=` line (no `+pid`).
    Order,
    /// From headers (X-PHP-Originating-Script, X-Source-Args).
    Header,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    pub cwd: String,
    pub args: String,
    pub matched_by: MatchedBy,
    /// Other unclaimed `cwd=` lines were as close: the match is a guess.
    pub ambiguous: bool,
    /// The script itself, when the arguments or headers name it.
    pub script: Option<String>,
    /// Who requested the page that sent it (X-PHP-Script), when known.
    #[serde(default)]
    pub visitor_ip: Option<String>,
}

/// One message, assembled from all its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Exim message id or Postfix queue id.
    pub id: String,
    pub received: Stamp,
    pub sender: Sender,
    pub envelope_from: String,
    pub account: Option<String>,
    pub client_ip: Option<IpAddr>,
    pub protocol: Option<String>,
    pub size: Option<u64>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub recipients: Vec<Recipient>,
    /// Boxed: most messages have none, and a message is moved whole from
    /// the assembler to the detector several times.
    pub attribution: Option<Box<Attribution>>,
    /// Rejected by a filter before queueing (milter, header_checks, ACL).
    pub rejected: Option<String>,
    /// A bounce the MTA wrote itself, about this message id (Exim `R=` on
    /// `<= <>` lines; empty when the log does not say which, as with
    /// Postfix's notices, whose own lines do not name it).
    pub bounce_of: Option<String>,
    /// The queue id a content filter on this server (amavis and the like,
    /// reached over loopback) re-injected it as: its recipients' fate is
    /// that message's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed_as: Option<String>,
    /// An address probe Postfix sent itself (`reject_unverified_sender`
    /// and `_recipient`: `status=deliverable` or `undeliverable`), which
    /// stops at RCPT and is nobody's mail.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub probe: bool,
    /// An SMTP AUTH login's failed logins in the day before it, naming its
    /// user or coming from its address ([`crate::logins`]). Boxed: most
    /// logins have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_logins: Option<Box<crate::logins::FailedLogins>>,
    /// The log showed the message leave the queue.
    pub complete: bool,
    /// The first log line of the message, for evidence.
    pub line: String,
    /// Where that line starts in its file (for resuming a tail after a
    /// crash); 0 when the caller gave no offsets.
    #[serde(default)]
    pub offset: u64,
}

impl Message {
    /// A message first seen at `at` on `line` (at `offset`), with nothing
    /// known of it yet.
    pub fn new(id: &str, at: Stamp, line: &str, offset: u64) -> Message {
        Message {
            id: id.to_string(),
            received: at,
            sender: Sender::new(SenderKind::From, ""),
            envelope_from: String::new(),
            account: None,
            client_ip: None,
            protocol: None,
            size: None,
            subject: None,
            message_id: None,
            recipients: Vec::new(),
            attribution: None,
            rejected: None,
            bounce_of: None,
            relayed_as: None,
            probe: false,
            failed_logins: None,
            complete: false,
            line: line.to_string(),
            offset,
        }
    }

    /// At least one recipient went, or was tried, off this server.
    pub fn outbound(&self) -> bool {
        self.recipients.iter().any(|r| r.remote)
    }

    /// Mail from another host that a forward here sent on to another host
    /// is the forward's ([`SenderKind::Forward`], named by the first
    /// forwarded address); other mail keeps its sender.
    pub fn settle_forwarder(&mut self) {
        if !matches!(self.sender.kind, SenderKind::Ip | SenderKind::From)
            || !self
                .client_ip
                .is_some_and(|ip| !ip.is_loopback() && !ip.is_unspecified())
        {
            return;
        }
        if let Some(r) = self.recipients.iter().find(|r| r.forwarded) {
            self.sender = Sender::mailbox(SenderKind::Forward, &r.address);
        }
    }

    /// The recipient with `address`, created when new. A scan of the
    /// list: [`RecipientIndex`] finds one among many without it.
    pub fn recipient(&mut self, address: &str, at: Stamp) -> &mut Recipient {
        let i = match self
            .recipients
            .iter()
            .position(|r| r.address.eq_ignore_ascii_case(address))
        {
            Some(i) => i,
            None => {
                self.recipients.push(Recipient::new(address, at));
                self.recipients.len() - 1
            }
        };
        &mut self.recipients[i]
    }
}

impl Recipient {
    /// A recipient with no outcome yet.
    pub fn new(address: &str, at: Stamp) -> Self {
        Recipient {
            address: address.to_string(),
            outcome: Outcome::Pending,
            remote: false,
            reply: None,
            host: None,
            deferrals: 0,
            at,
            forwarded: false,
        }
    }
}

/// Recipients found by address (ignoring ASCII case) through a map once a
/// message has many: a mailer's blast to 100,000 addresses would otherwise
/// cost a scan of the list per recipient, minutes for one message. Every
/// recipient of the message must be added through it.
#[derive(Debug, Default)]
pub struct RecipientIndex(Option<rustc_hash::FxHashMap<String, usize>>);

/// Recipients a scan goes through before the map is built.
const SCAN: usize = 32;

impl RecipientIndex {
    /// As [`Message::recipient`].
    pub fn recipient<'m>(
        &mut self,
        m: &'m mut Message,
        address: &str,
        at: Stamp,
    ) -> &'m mut Recipient {
        if self.0.is_none() && m.recipients.len() < SCAN {
            return m.recipient(address, at);
        }
        let map = self.0.get_or_insert_with(|| {
            let mut map = rustc_hash::FxHashMap::default();
            for (i, r) in m.recipients.iter().enumerate() {
                map.entry(r.address.to_ascii_lowercase()).or_insert(i);
            }
            map
        });
        let i = *map.entry(address.to_ascii_lowercase()).or_insert_with(|| {
            m.recipients.push(Recipient::new(address, at));
            m.recipients.len() - 1
        });
        &mut m.recipients[i]
    }
}

/// An address as logged, in its canonical form: an IPv4 address a
/// dual-stack socket wrote as IPv6 (`::ffff:203.0.113.9`) is the IPv4
/// address, so it counts as the same client, network and `ip:` sender.
pub fn parse_ip(ip: &str) -> Option<IpAddr> {
    ip.parse::<IpAddr>().ok().map(|a| a.to_canonical())
}

/// True for an address that is not another host (loopback, unspecified).
pub fn is_local_ip(ip: &str) -> bool {
    // Only 127.x, 0.x and IPv6 texts can be loopback or unspecified: the
    // rest (every remote host of every delivery) need not be parsed.
    (ip.starts_with("127.") || ip.starts_with("0.") || ip.contains(':'))
        && parse_ip(ip).is_some_and(|a| a.is_loopback() || a.is_unspecified())
}

/// An address as a sender's name (`ip:…`): IPv6 in its canonical form (so
/// one host is one sender however it is written), text that is no address
/// as written. `parsed` is [`parse_ip`] of `ip`.
pub fn ip_name(ip: &str, parsed: Option<IpAddr>) -> String {
    match parsed {
        // A dotted quad parses only as written (no leading zeros).
        Some(a) if !ip.contains(':') => {
            debug_assert_eq!(a.to_string(), ip);
            ip.to_string()
        }
        Some(a) => a.to_string(),
        None => ip.to_string(),
    }
}

/// The account owning a path under a home directory:
/// `/home/bob/public_html/x` → `bob` (also `/home2/`, `/usr/home/`).
pub fn account_from_path(path: &str) -> Option<&str> {
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    loop {
        let p = parts.next()?;
        if p.starts_with("home") {
            return parts.next().filter(|u| !u.is_empty());
        }
        if p != "usr" && p != "var" {
            return None;
        }
    }
}

/// A path in a web tree (`/var/www/html/...`, `.../public_html/...`,
/// `.../htdocs`): a sendmail run from there is a site's script even
/// outside /home (Debian's Apache, a test's temporary tree).
pub fn in_web_tree(path: &str) -> bool {
    path.split('/')
        .any(|c| matches!(c, "public_html" | "www" | "htdocs" | "httpdocs" | "html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_from_home_paths() {
        assert_eq!(account_from_path("/home/bob/public_html/x"), Some("bob"));
        assert_eq!(
            account_from_path("/home2/seaport/public_html/scripts"),
            Some("seaport")
        );
        assert_eq!(account_from_path("/usr/home/amy/www"), Some("amy"));
        assert_eq!(account_from_path("/var/spool/exim"), None);
        assert!(in_web_tree("/var/www/html/wp-content/uploads"));
        assert!(in_web_tree("/srv/site/public_html"));
        assert!(!in_web_tree("/var/spool/exim"));
        assert!(!in_web_tree("/root"));
        assert_eq!(account_from_path("/root"), None);
    }

    #[test]
    fn the_index_finds_what_a_scan_finds() {
        let at = Stamp { secs: 0, millis: 0 };
        let mut m = crate::assemble::new_message("x", at, "", 0);
        let mut scanned = m.clone();
        let mut index = RecipientIndex::default();
        for i in 0..200 {
            // New ones, then again in another case.
            for a in [
                format!("r{}@Example.NET", i % 120),
                format!("R{}@example.net", i % 90),
            ] {
                index.recipient(&mut m, &a, at).deferrals += 1;
                scanned.recipient(&a, at).deferrals += 1;
            }
        }
        assert_eq!(m.recipients.len(), 120);
        assert_eq!(m.recipients, scanned.recipients);
    }

    #[test]
    fn mapped_ipv4_addresses_are_ipv4() {
        assert_eq!(parse_ip("::ffff:203.0.113.9"), parse_ip("203.0.113.9"));
        assert!(is_local_ip("::ffff:127.0.0.1"));
        assert!(!is_local_ip("::ffff:203.0.113.9"));
        assert_eq!(parse_ip("2001:db8::1").unwrap().to_string(), "2001:db8::1");
        assert_eq!(parse_ip("nonsense"), None);
        for (written, name) in [
            ("203.0.113.9", "203.0.113.9"),
            ("::ffff:203.0.113.9", "203.0.113.9"),
            ("2001:DB8:0::1", "2001:db8::1"),
            ("203.0.113.09", "203.0.113.09"),
            ("nonsense", "nonsense"),
        ] {
            assert_eq!(ip_name(written, parse_ip(written)), name, "{written}");
        }
        assert_eq!(
            parse_ip("203.0.113.09"),
            None,
            "a leading zero is no address"
        );
        for local in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "::1",
            "::",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_local_ip(local), "{local}");
        }
        for remote in [
            "1.2.3.4",
            "10.0.0.1",
            "2001:db8::1",
            "0x7f.0.0.1",
            "",
            "localhost",
        ] {
            assert!(!is_local_ip(remote), "{remote}");
        }
    }

    #[test]
    fn sender_display() {
        assert_eq!(Sender::new(SenderKind::Auth, "a@b").to_string(), "auth:a@b");
        assert_eq!(
            Sender::mailbox(SenderKind::Auth, "Info@Shop.example").to_string(),
            "auth:info@shop.example"
        );
    }
}
