//! Why a message bounced, in words a customer understands: the category,
//! whether it is permanent, the blocklist (catalog id and zone) or the
//! provider that refused it, the IP or domain that is listed (never the
//! receiving server's own IP), the codes, and an explanation.
//!
//! Input is a DSN (RFC 3464), an Exim or Postfix bounce in plain text, or
//! just the remote reply. The same [`classify`] reads the remote replies
//! in the mail logs.

use std::net::IpAddr;

use blocklists::Catalog;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::Serialize;

/// What kind of refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A DNS blocklist or a provider's own block list has our IP (or the
    /// sender's domain).
    Blocklisted,
    /// The provider distrusts the sending IP or domain (volume, complaints).
    Reputation,
    /// The content was judged spam.
    SpamContent,
    /// SPF, DKIM, DMARC or reverse DNS failed.
    Authentication,
    RecipientUnknown,
    MailboxFull,
    RateLimited,
    /// Other rules of the receiver (relaying, size, sender refused).
    Policy,
    /// The receiver could not be reached.
    Network,
    Other,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Blocklisted => "blocklisted",
            Category::Reputation => "reputation",
            Category::SpamContent => "spam_content",
            Category::Authentication => "authentication",
            Category::RecipientUnknown => "recipient_unknown",
            Category::MailboxFull => "mailbox_full",
            Category::RateLimited => "rate_limited",
            Category::Policy => "policy",
            Category::Network => "network",
            Category::Other => "other",
        }
    }

    pub const ALL: [Category; 10] = [
        Category::Blocklisted,
        Category::Reputation,
        Category::SpamContent,
        Category::Authentication,
        Category::RecipientUnknown,
        Category::MailboxFull,
        Category::RateLimited,
        Category::Policy,
        Category::Network,
        Category::Other,
    ];
}

impl std::str::FromStr for Category {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a category"))
    }
}

/// A blocklist named by the reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRef {
    /// The catalog id, when the list is in the catalog.
    pub id: Option<String>,
    pub name: String,
    pub zone: Option<String>,
}

/// One bounced recipient, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub recipient: Option<String>,
    pub category: Category,
    pub permanent: bool,
    pub list: Option<ListRef>,
    pub provider: Option<String>,
    pub listed_ip: Option<IpAddr>,
    pub listed_domain: Option<String>,
    /// The SMTP reply code (550).
    pub code: Option<u16>,
    /// The enhanced status (5.7.1).
    pub enhanced: Option<String>,
    pub remote_mta: Option<String>,
    /// The remote reply, on one line.
    pub reply: String,
    pub explanation: String,
}

/// What a bounce says about one recipient, before classifying.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounced {
    pub recipient: Option<String>,
    pub action: Option<String>,
    pub status: Option<String>,
    pub remote_mta: Option<String>,
    pub reply: String,
}

/// Joins a multi-line SMTP reply (`550-5.7.1 a` / `550 5.7.1 b`) and folded
/// lines into one line without the repeated prefixes.
pub fn normalise(reply: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut first = true;
    for line in reply.lines() {
        let l = line.trim();
        if l.is_empty() {
            continue;
        }
        let b = l.as_bytes();
        let has_code =
            b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && (b[3] == b'-' || b[3] == b' ');
        let mut rest = l;
        if has_code && !first {
            rest = l[4..].trim_start();
            // The repeated enhanced code too.
            if let Some((tok, after)) = rest.split_once(' ')
                && enhanced_code(tok).is_some()
            {
                rest = after;
            }
        } else if has_code && b[3] == b'-' {
            // `550-5.7.1 text` → `550 5.7.1 text`
            parts.push(format!("{} {}", &l[..3], l[4..].trim_start()));
            first = false;
            continue;
        }
        parts.push(rest.to_string());
        first = false;
    }
    parts.join(" ")
}

/// `5.7.1` (class 2, 4 or 5), from a token.
fn enhanced_code(tok: &str) -> Option<String> {
    let t = tok.trim_matches(|c: char| !c.is_ascii_digit());
    let mut it = t.split('.');
    let (a, b, c) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let ok = matches!(a, "2" | "4" | "5")
        && (1..=3).contains(&b.len())
        && (1..=3).contains(&c.len())
        && b.bytes().chain(c.bytes()).all(|x| x.is_ascii_digit());
    ok.then(|| t.to_string())
}

/// The reply code and enhanced status at the start of a reply.
fn codes(reply: &str) -> (Option<u16>, Option<String>) {
    let mut toks = reply.split_whitespace();
    let mut code = None;
    let mut enh = None;
    if let Some(t) = toks.next() {
        let t = t.trim_end_matches('-');
        if t.len() == 3 && t.bytes().all(|b| b.is_ascii_digit()) {
            code = t.parse().ok();
            enh = toks.next().and_then(enhanced_code);
        } else {
            enh = enhanced_code(t);
        }
    }
    if enh.is_none() {
        // `#5.7.1` or `(5.7.1)` further in (Microsoft writes it late).
        enh = reply
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '#')
            .take(12)
            .find_map(enhanced_code);
    }
    (code, enh)
}

/// Lowercased text with the receiving host's own name and IP removed
/// (`host mx.example[192.0.2.1] said:`), so its IP is never taken for ours.
fn without_receiver(text: &str) -> String {
    let mut t = text.to_string();
    // `host NAME[IP] said:` / `host NAME [IP]` (Postfix, Exim): a host
    // name, then its address in brackets.
    let mut from = 0;
    while let Some(i) = t[from..].find("host ") {
        let at = from + i;
        let rest = &t[at + 5..];
        let name_len = rest
            .find(|c: char| c == '[' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        let after = rest[name_len..].trim_start();
        let is_name = name.contains('.') && name.chars().any(|c| c.is_ascii_alphabetic());
        if is_name
            && after.starts_with('[')
            && let Some(close) = after.find(']')
        {
            let consumed = t.len() - at - (after.len() - close - 1);
            t.replace_range(at..at + consumed, " ");
            continue;
        }
        from = at + 5;
    }
    t
}

fn parse_ip(w: &str) -> Option<IpAddr> {
    let w = w.trim_matches(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'));
    let w = w.trim_end_matches('.');
    let ip: IpAddr = w.parse().ok()?;
    // `4.16.55.1` in Yahoo's texts is a version, not an address: accept
    // only what a marker or brackets introduced (see listed_ip).
    Some(ip)
}

/// The IP the reply says is blocked.
fn listed_ip(text: &str) -> Option<IpAddr> {
    let t = without_receiver(text);
    let lower = t.to_ascii_lowercase();
    // URL parameters first.
    for key in ["ip=", "?q=", "&q=", "query/ip/", "/ip/", ".shtml?", "ipr="] {
        if let Some(i) = lower.find(key)
            && let Some(ip) = t[i + key.len()..]
                .split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
                .next()
                .and_then(parse_ip)
        {
            return Some(ip);
        }
    }
    const MARKERS: &[&str] = &[
        "banned sending ip",
        "messages from",
        "client host",
        "client",
        "connections will not be accepted from",
        "from ip",
        "sending ip",
        "your ip",
        "ip address",
        "ip:",
        "ip",
        "from",
        "host",
    ];
    for m in MARKERS {
        let mut from = 0;
        while let Some(i) = lower[from..].find(m) {
            let at = from + i + m.len();
            let after = t[at..].trim_start_matches([' ', '[', '(', ':', '=']);
            if let Some(ip) = after
                .split(|c: char| c.is_whitespace() || c == ']' || c == ')' || c == ',' || c == ';')
                .next()
                .and_then(parse_ip)
            {
                return Some(ip);
            }
            from = at;
        }
    }
    // Any bracketed address left.
    let mut rest = t.as_str();
    while let Some(i) = rest.find('[') {
        let inner = rest[i + 1..].split(']').next().unwrap_or("");
        if let Some(ip) = parse_ip(inner) {
            return Some(ip);
        }
        rest = &rest[i + 1..];
    }
    // Last, a bare address anywhere (`rejected because 192.0.2.1 is in a
    // black list`): whole tokens only, so `4.16.55.1-ish` versions inside
    // longer tokens are not taken.
    t.split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '(' || c == ')')
        .find_map(|w| w.trim_end_matches(['.', ':']).parse::<IpAddr>().ok())
}

/// Blocklists named by URL or text but not by zone: (pattern, catalog id,
/// name).
const LIST_MARKERS: &[(&str, &str, &str)] = &[
    ("spamhaus.org/sbl", "spamhaus-sbl", "Spamhaus SBL"),
    ("spamhaus.org/query/dbl", "spamhaus-dbl", "Spamhaus DBL"),
    ("spamhaus.org/query/domain", "spamhaus-dbl", "Spamhaus DBL"),
    (
        "domain is listed in spamhaus",
        "spamhaus-dbl",
        "Spamhaus DBL",
    ),
    ("spamhaus.org/query", "spamhaus-zen", "Spamhaus"),
    ("check.spamhaus.org", "spamhaus-zen", "Spamhaus"),
    ("spamhaus", "spamhaus-zen", "Spamhaus"),
    (
        "barracudacentral.org",
        "barracuda",
        "Barracuda Reputation Block List",
    ),
    (
        "barracudanetworks.com/reputation",
        "barracuda",
        "Barracuda Reputation Block List",
    ),
    (
        "barracuda reputation",
        "barracuda",
        "Barracuda Reputation Block List",
    ),
    ("spamcop.net", "spamcop", "SpamCop"),
    ("uceprotect", "uceprotect-1", "UCEPROTECT"),
    (
        "lookup.abusix.com",
        "abusix-combined",
        "Abusix Mail Intelligence",
    ),
    ("abusix", "abusix-combined", "Abusix Mail Intelligence"),
    ("sorbs", "sorbs", "SORBS"),
    ("mailspike", "mailspike-bl", "Mailspike"),
    ("psbl", "psbl", "PSBL"),
    ("senderscore", "senderscore", "Validity Sender Score"),
    ("backscatterer", "backscatterer", "Backscatterer"),
    ("abuseat.org", "cbl", "CBL"),
];

/// Providers by reply text or receiving host: (pattern, provider).
const PROVIDERS: &[(&str, &str)] = &[
    ("outlook.com", "microsoft"),
    ("hotmail", "microsoft"),
    ("sender.office.com", "microsoft"),
    ("protection.outlook", "microsoft"),
    ("s3140", "microsoft"),
    ("s3150", "microsoft"),
    ("banned sending ip", "microsoft"),
    (
        "weren't sent. please contact your internet service provider",
        "microsoft",
    ),
    ("gmail", "google"),
    ("google.com", "google"),
    ("4.7.28", "google"),
    ("yahoo", "yahoo"),
    ("yahoodns", "yahoo"),
    ("verizonmedia", "yahoo"),
    ("tss04", "yahoo"),
    ("tss09", "yahoo"),
    ("tss11", "yahoo"),
    ("[bl21]", "yahoo"),
    ("[bl23]", "yahoo"),
    ("aol.com", "yahoo"),
    ("proofpoint", "proofpoint"),
    ("pphosted", "proofpoint"),
    ("cloudmark", "cloudmark"),
    ("mimecast", "mimecast"),
    ("icloud", "apple"),
    ("me.com", "apple"),
    ("comcast", "comcast"),
    ("t-online", "t-online"),
    ("gmx", "gmx"),
    ("web.de", "webde"),
    ("orange.fr", "orange"),
    ("mail.ru", "mailru"),
    ("yandex", "yandex"),
];

fn has(l: &str, words: &[&str]) -> bool {
    words.iter().any(|w| l.contains(w))
}

/// The list a reply names: a catalog zone (longest match), else a known
/// URL or name.
fn find_list(lower: &str, catalog: &Catalog) -> Option<ListRef> {
    let mut best: Option<(&blocklists::catalog::List, usize)> = None;
    for l in catalog.lists() {
        let zone = l.zone.to_ascii_lowercase();
        let needle = zone.strip_prefix("{key}.").unwrap_or(&zone);
        if needle.len() > 4 && lower.contains(needle) && best.is_none_or(|(_, n)| needle.len() > n)
        {
            best = Some((l, needle.len()));
        }
    }
    if let Some((l, _)) = best {
        return Some(ListRef {
            id: Some(l.id.clone()),
            name: l.name.clone(),
            zone: Some(l.zone.clone()),
        });
    }
    // `blocked using some.zone` naming a list the catalog does not know.
    for marker in [
        "blocked using ",
        "listed in ",
        "listed at ",
        "listed on ",
        "black list at ",
    ] {
        if let Some(i) = lower.find(marker) {
            let z: String = lower[i + marker.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
            let z = z.trim_end_matches('.');
            if z.contains('.') && z.split('.').all(|p| !p.is_empty()) {
                if let Some((_, id, name)) = LIST_MARKERS.iter().find(|(m, _, _)| z.contains(m)) {
                    return Some(list_ref(catalog, id, name));
                }
                return Some(ListRef {
                    id: None,
                    name: z.to_string(),
                    zone: Some(z.to_string()),
                });
            }
        }
    }
    LIST_MARKERS
        .iter()
        .find(|(m, _, _)| lower.contains(m))
        .map(|(_, id, name)| list_ref(catalog, id, name))
}

fn list_ref(catalog: &Catalog, id: &str, name: &str) -> ListRef {
    match catalog.get(id) {
        Some(l) => ListRef {
            id: Some(l.id.clone()),
            name: l.name.clone(),
            zone: Some(l.zone.clone()),
        },
        None => ListRef {
            id: None,
            name: name.to_string(),
            zone: None,
        },
    }
}

/// A domain the reply says is listed (Spamhaus DBL, URIBL, SURBL).
fn listed_domain(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    for marker in [
        "mailfrom domain is listed",
        "domain is listed",
        "dbl",
        "uribl",
        "surbl",
    ] {
        if lower.contains(marker) {
            // The first domain-looking token after `domain`, or in the text.
            let start = lower.find("domain").map(|i| i + 6).unwrap_or(0);
            return text[start..]
                .split(|c: char| {
                    c.is_whitespace()
                        || c == '<'
                        || c == '>'
                        || c == ','
                        || c == ';'
                        || c == '('
                        || c == ')'
                })
                .map(|w| w.trim_matches(|c: char| c == '.' || c == ':' || c == '"'))
                .find(|w| {
                    w.contains('.')
                        && !w.contains('/')
                        && w.parse::<IpAddr>().is_err()
                        && w.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '@')
                        && !w.chars().next().is_some_and(|c| c.is_ascii_digit())
                        && w.rsplit('.').next().is_some_and(|tld| {
                            tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
                        })
                        && !w.ends_with("spamhaus.org")
                        && !w.ends_with("uribl.com")
                        && !w.ends_with("surbl.org")
                })
                .map(|w| w.rsplit('@').next().unwrap_or(w).to_ascii_lowercase());
        }
    }
    None
}

/// Classifies one remote reply. `remote_mta` (the receiving host) helps
/// name the provider; it is never taken as the listed IP.
pub fn classify(reply: &str, remote_mta: Option<&str>, catalog: &Catalog) -> Explanation {
    let reply_n = normalise(reply);
    let l = reply_n.to_ascii_lowercase();
    let (code, enhanced) = codes(&reply_n);
    let enh = enhanced.as_deref().unwrap_or("");
    let host = remote_mta.unwrap_or("").to_ascii_lowercase();
    let provider = PROVIDERS
        .iter()
        .find(|(m, _)| l.contains(m) || host.contains(m))
        .map(|(_, p)| (*p).to_string());
    let list = find_list(&l, catalog);
    let domain_listing = list.as_ref().is_some_and(|r| {
        r.id.as_deref()
            .is_some_and(|i| i.contains("dbl") || i == "surbl" || i == "uribl")
            || r.zone
                .as_deref()
                .is_some_and(|z| z.contains("dbl") || z.contains("uribl") || z.contains("surbl"))
    }) || l.contains("domain is listed");
    let blocklist_words = has(
        &l,
        &[
            "blocked using",
            "blacklist",
            "black list",
            "blocklist",
            "block list",
            "listed in",
            "listed at",
            "rbl",
            "dnsbl",
            "banned sending ip",
            "s3140",
            "s3150",
            "[bl21]",
            "[bl23]",
            "tss09",
            "tss11",
        ],
    );
    let microsoft_block = provider.as_deref() == Some("microsoft")
        && (has(
            &l,
            &[
                "s3140",
                "s3150",
                "banned sending ip",
                "weren't sent",
                "block list",
            ],
        ) || (enh.starts_with("5.7.")
            && enh.len() == 7
            && ("5.7.606".."5.7.650").contains(&enh)));
    let category = if list.is_some() || blocklist_words || microsoft_block {
        Category::Blocklisted
    } else if has(
        &l,
        &[
            "spf",
            "dkim",
            "dmarc",
            "unauthenticated",
            "not authenticated",
            "reverse dns",
            "ptr record",
            "no ptr",
            "rdns",
        ],
    ) || matches!(
        enh,
        "5.7.23" | "5.7.24" | "5.7.25" | "5.7.26" | "5.7.27" | "5.7.20" | "5.7.21" | "5.7.22"
    ) {
        Category::Authentication
    } else if has(
        &l,
        &[
            "reputation",
            "tss04",
            "complaints",
            "poor sender",
            "bulk mail",
            "temporarily deferred due to unexpected volume",
            "not accepted due to policy",
        ],
    ) {
        Category::Reputation
    } else if has(
        &l,
        &[
            "4.7.28",
            "rate limit",
            "ratelimit",
            "too many messages",
            "too many connections",
            "too many recipients",
            "throttl",
            "unusual rate",
            "slow down",
            "try again later",
            "exceeded the rate",
            "sending limit",
        ],
    ) || enh == "4.7.28"
    {
        Category::RateLimited
    } else if has(
        &l,
        &[
            "spam",
            "unsolicited",
            "content",
            "virus",
            "malware",
            "phish",
            "suspicious",
            "ube",
            "junk",
        ],
    ) {
        Category::SpamContent
    } else if has(
        &l,
        &[
            "sender address rejected",
            "sender rejected",
            "sender not allowed",
        ],
    ) {
        Category::Policy
    } else if has(
        &l,
        &[
            "user unknown",
            "unknown user",
            "no such user",
            "does not exist",
            "doesn't exist",
            "mailbox unavailable",
            "mailbox not found",
            "invalid recipient",
            "unknown recipient",
            "recipient address rejected",
            "recipientnotfound",
            "recipient not found",
            "no mailbox",
            "user not found",
            "account disabled",
            "account has been disabled",
            "inactive",
        ],
    ) || matches!(enh, "5.1.1" | "5.1.10" | "5.1.6" | "5.2.1")
    {
        Category::RecipientUnknown
    } else if has(
        &l,
        &[
            "mailbox full",
            "mailbox is full",
            "quota",
            "insufficient storage",
            "over quota",
            "exceeded storage",
        ],
    ) || matches!(enh, "4.2.2" | "5.2.2")
    {
        Category::MailboxFull
    } else if has(
        &l,
        &[
            "timed out",
            "timeout",
            "connection refused",
            "host not found",
            "no route",
            "network is unreachable",
            "name service error",
            "dns",
            "no mx",
            "lost connection",
            "connection reset",
            "tls",
        ],
    ) || enh.starts_with("4.4.")
        || enh.starts_with("5.4.")
    {
        Category::Network
    } else if has(
        &l,
        &[
            "relay",
            "too large",
            "size",
            "not permitted",
            "policy",
            "not allowed",
            "sender address rejected",
            "administrative prohibition",
            "access denied",
            "refused",
        ],
    ) || enh.starts_with("5.7.")
        || enh.starts_with("5.3.")
        || enh.starts_with("4.7.")
    {
        Category::Policy
    } else {
        Category::Other
    };
    let permanent = match (code, enhanced.as_deref()) {
        (Some(c), _) => c >= 500,
        (None, Some(e)) => e.starts_with('5'),
        _ => false,
    };
    let (listed_ip, listed_domain) = if category == Category::Blocklisted
        || category == Category::Reputation
        || category == Category::RateLimited
    {
        if domain_listing {
            (None, listed_domain(&reply_n))
        } else {
            (listed_ip(&reply_n), None)
        }
    } else {
        (None, None)
    };
    let explanation = explain(
        category,
        permanent,
        list.as_ref(),
        provider.as_deref(),
        listed_ip,
        listed_domain.as_deref(),
    );
    Explanation {
        recipient: None,
        category,
        permanent,
        list,
        provider,
        listed_ip,
        listed_domain,
        code,
        enhanced,
        remote_mta: remote_mta.map(str::to_string),
        reply: reply_n,
        explanation,
    }
}

fn explain(
    c: Category,
    permanent: bool,
    list: Option<&ListRef>,
    provider: Option<&str>,
    ip: Option<IpAddr>,
    domain: Option<&str>,
) -> String {
    let what = match (ip, domain) {
        (_, Some(d)) => format!("the domain {d}"),
        (Some(ip), None) => format!("our sending IP {ip}"),
        (None, None) => "our sending server".to_string(),
    };
    let when = if permanent {
        "The message was not delivered."
    } else {
        "The receiving server will accept it later if the cause goes away; we keep retrying for a while."
    };
    let who = match (list, provider) {
        (Some(l), _) => match &l.zone {
            Some(z) if *z != l.name => format!("{} ({z})", l.name),
            _ => l.name.clone(),
        },
        (None, Some(p)) => format!("{}'s own filters", provider_name(p)),
        (None, None) => "the receiving server".to_string(),
    };
    let text = match c {
        Category::Blocklisted => match (list, provider) {
            (None, Some(p)) => format!(
                "{} has put {what} on its own block list, so it refused the mail.",
                provider_name(p)
            ),
            _ => format!("{who} lists {what}, so the receiving server refused the mail."),
        },
        Category::Reputation => format!(
            "{} distrusts {what} because of its recent volume or recipients' complaints.",
            match (list, provider) {
                (None, Some(p)) => provider_name(p).to_string(),
                _ => who.clone(),
            }
        ),
        Category::SpamContent => "The receiving server judged the message's content to be spam.".to_string(),
        Category::Authentication => "The message failed the receiver's sender checks (SPF, DKIM, DMARC or reverse DNS) for the sending domain.".to_string(),
        Category::RecipientUnknown => "The recipient's address does not exist (or no longer does) at the receiving server.".to_string(),
        Category::MailboxFull => "The recipient's mailbox is full.".to_string(),
        Category::RateLimited => format!(
            "{} is limiting how fast it accepts mail from {what}.",
            match (list, provider) {
                (None, Some(p)) => provider_name(p).to_string(),
                _ => who.clone(),
            }
        ),
        Category::Policy => "The receiving server's rules refused this message (for example its size or the sender's address).".to_string(),
        Category::Network => "The receiving server could not be reached or did not answer properly.".to_string(),
        Category::Other => "The receiving server refused the message without saying why in terms we recognise.".to_string(),
    };
    format!("{text} {when}")
}

fn provider_name(p: &str) -> &str {
    match p {
        "microsoft" => "Microsoft (Outlook.com / Microsoft 365)",
        "google" => "Google (Gmail)",
        "yahoo" => "Yahoo (and AOL)",
        "proofpoint" => "Proofpoint",
        "cloudmark" => "Cloudmark",
        "mimecast" => "Mimecast",
        "apple" => "Apple (iCloud)",
        other => other,
    }
}

/// Why a bounce could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotBounce {
    #[error("empty input")]
    Empty,
    #[error("input of {0} bytes is larger than the limit")]
    TooLarge(usize),
    #[error("no remote reply found: not a DSN, not an Exim or Postfix bounce, not an SMTP reply")]
    NoReply,
    #[error("the message could not be read: its parser failed ({0})")]
    Unreadable(String),
}

fn fields(block: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            out.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

fn get<'a>(f: &'a [(String, String)], n: &str) -> Option<&'a str> {
    f.iter()
        .find(|(k, _)| k == n)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `rfc822; a@b` → `a@b`; `dns; mx.example` → `mx.example`.
fn typed(v: &str) -> String {
    v.split_once(';')
        .map(|(_, x)| x)
        .unwrap_or(v)
        .trim()
        .trim_matches(['<', '>'])
        .to_string()
}

/// Reads what a bounce says about each recipient.
pub fn read(raw: &[u8]) -> Result<Vec<Bounced>, NotBounce> {
    crate::guarded(|| read_unguarded(raw), NotBounce::Unreadable)
}

fn read_unguarded(raw: &[u8]) -> Result<Vec<Bounced>, NotBounce> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(NotBounce::Empty);
    }
    if raw.len() > crate::complaint::MAX_SIZE {
        return Err(NotBounce::TooLarge(raw.len()));
    }
    let text = String::from_utf8_lossy(raw);
    // Just a reply line (or a few): `550 5.7.1 …`.
    let first = text.trim_start();
    let b = first.as_bytes();
    if b.len() >= 3 && b[..3].iter().all(u8::is_ascii_digit) && text.lines().count() <= 20 {
        return Ok(vec![Bounced {
            reply: normalise(first),
            ..Bounced::default()
        }]);
    }
    let mut out = Vec::new();
    let mut body_texts: Vec<String> = Vec::new();
    if let Some(msg) = MessageParser::default().parse(raw)
        && !msg.headers().is_empty()
    {
        for p in msg.parts.iter() {
            let (t, s) = p
                .content_type()
                .map(|c| {
                    (
                        c.ctype().to_ascii_lowercase(),
                        c.subtype().unwrap_or("").to_ascii_lowercase(),
                    )
                })
                .unwrap_or_default();
            let body = match &p.body {
                PartType::Text(x) | PartType::Html(x) => x.to_string(),
                PartType::Binary(x) | PartType::InlineBinary(x) => {
                    String::from_utf8_lossy(x).into_owned()
                }
                _ => continue,
            };
            if t == "message" && (s == "delivery-status" || s == "global-delivery-status") {
                let blocks: Vec<&str> = body.split("\n\n").collect();
                let per_msg = fields(blocks.first().copied().unwrap_or(""));
                for block in blocks.iter().skip(1) {
                    let f = fields(block);
                    let Some(rcpt) =
                        get(&f, "final-recipient").or_else(|| get(&f, "original-recipient"))
                    else {
                        continue;
                    };
                    let diag = get(&f, "diagnostic-code").map(typed).unwrap_or_default();
                    let status = get(&f, "status").map(str::to_string);
                    out.push(Bounced {
                        recipient: Some(typed(rcpt)),
                        action: get(&f, "action").map(str::to_string),
                        remote_mta: get(&f, "remote-mta").map(typed),
                        reply: if diag.is_empty() {
                            status.clone().unwrap_or_default()
                        } else {
                            normalise(&diag)
                        },
                        status,
                    });
                }
                let _ = per_msg;
            } else if t == "text" || t.is_empty() {
                body_texts.push(body);
            }
        }
    } else {
        body_texts.push(text.to_string());
    }
    if !out.is_empty() {
        return Ok(out);
    }
    for body in &body_texts {
        out.extend(exim_text(body));
        out.extend(postfix_text(body));
    }
    if out.is_empty() {
        return Err(NotBounce::NoReply);
    }
    Ok(out)
}

/// Exim's bounce text: the recipient, `host NAME [IP]`, `SMTP error from
/// remote mail server after …:`, then the indented reply.
fn exim_text(body: &str) -> Vec<Bounced> {
    let lines: Vec<&str> = body.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if !t.starts_with("SMTP error from remote mail server after") {
            continue;
        }
        let mut reply = Vec::new();
        for r in &lines[i + 1..] {
            if r.trim().is_empty() || !r.starts_with([' ', '\t']) {
                break;
            }
            reply.push(r.trim());
        }
        // Backwards: `host NAME [IP]` and the recipient line above it.
        let mut host = None;
        let mut rcpt = None;
        for back in lines[..i].iter().rev().take(4) {
            let b = back.trim();
            if let Some(h) = b.strip_prefix("host ") {
                host = Some(h.split_whitespace().next().unwrap_or(h).to_string());
            } else if b.contains('@') && !b.contains(' ') {
                rcpt = Some(b.trim_matches(['<', '>']).to_string());
                break;
            }
        }
        if !reply.is_empty() {
            out.push(Bounced {
                recipient: rcpt,
                remote_mta: host,
                reply: normalise(&reply.join("\n")),
                ..Bounced::default()
            });
        }
    }
    out
}

/// Postfix's bounce text: `<rcpt>: host NAME[IP] said: REPLY (in reply to
/// … command)`, possibly folded.
fn postfix_text(body: &str) -> Vec<Bounced> {
    let joined = body.replace("\n    ", " ").replace("\n\t", " ");
    let mut out = Vec::new();
    for l in joined.lines() {
        let t = l.trim();
        let Some((rcpt, rest)) = t.split_once(">: host ") else {
            continue;
        };
        let Some((host, reply)) = rest.split_once(" said: ") else {
            continue;
        };
        let reply = reply.split(" (in reply to ").next().unwrap_or(reply);
        out.push(Bounced {
            recipient: Some(rcpt.trim_start_matches('<').to_string()),
            remote_mta: Some(host.split('[').next().unwrap_or(host).to_string()),
            reply: normalise(reply),
            ..Bounced::default()
        });
    }
    out
}

/// Reads a bounce and explains each recipient.
pub fn explain_bounce(raw: &[u8], catalog: &Catalog) -> Result<Vec<Explanation>, NotBounce> {
    Ok(read(raw)?
        .into_iter()
        .map(|b| {
            let mut e = classify(&b.reply, b.remote_mta.as_deref(), catalog);
            e.recipient = b.recipient;
            if b.action.as_deref() == Some("delayed") {
                e.permanent = false;
            }
            if let Some(s) = &b.status
                && e.enhanced.is_none()
            {
                e.enhanced = enhanced_code(s);
            }
            e
        })
        .collect())
}

#[cfg(test)]
mod tests;
