//! What a remote reply, a recipient failure or a script path says, as
//! plain predicates over text.

use aho_corasick::AhoCorasick;
use std::net::IpAddr;
use std::sync::LazyLock;

/// Remote replies that cite spam, a blocklist or a rate limit: Gmail
/// 4.7.28, Yahoo TSS04, Microsoft S3140/S3150, "blocked using …".
const SPAM_MARKERS: &[&str] = &[
    "4.7.28",
    "tss04",
    "ts01",
    "ts02",
    "ts03",
    "s3140",
    "s3150",
    "blocked using",
    "blacklist",
    "blocklist",
    "spamhaus",
    "spamcop",
    "barracuda",
    "unsolicited",
    "spam",
    "rate limit",
    "ratelimit",
    "unusual rate",
    "too many messages",
    "reputation",
    "rbl",
    // Microsoft 365's 5.7.606-649 "Access denied, banned sending IP",
    // 5.7.511 "banned sender"; Outlook.com's S3140 family when the code
    // is left out; 5.7.708 "traffic not accepted from this IP".
    "banned sending",
    "banned sender",
    "weren't sent",
    "traffic not accepted",
    // Yahoo's permanent deferrals.
    "[tss09]",
    "[tss11]",
];

/// One case-insensitive automaton per marker list, built on first use:
/// replies are checked on every failed recipient, so this is a hot path.
fn matcher(markers: &'static [&'static str]) -> AhoCorasick {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(markers)
        .expect("marker lists are static and valid")
}

/// Replies that refuse this server's IP because it is listed: a
/// blocklist, or a provider's own ban (Microsoft's "banned sending IP",
/// Outlook's S3140 family). Every sender on the server gets them while the
/// listing lasts, which may be days after the spam stopped, so they are no
/// evidence against one sender by themselves. Rate and reputation replies
/// (Gmail's 4.7.28, Yahoo's TSS04) answer the mail being sent now and
/// stay evidence ([`SPAM_MARKERS`]).
const LISTING_MARKERS: &[&str] = &[
    "blocked using",
    "client host",
    "blacklist",
    "blocklist",
    "block list",
    "spamhaus",
    "spamcop",
    "barracuda",
    "rbl",
    "banned sending",
    "weren't sent",
    "s3140",
    "s3150",
    "traffic not accepted",
];

static SPAM: LazyLock<AhoCorasick> = LazyLock::new(|| matcher(SPAM_MARKERS));
static LISTING: LazyLock<AhoCorasick> = LazyLock::new(|| matcher(LISTING_MARKERS));

/// A refusal of this server's IP for a listing, not of the message: see
/// [`LISTING_MARKERS`].
pub fn cites_a_listing(reply: &str) -> bool {
    LISTING.is_match(reply)
}
static INVALID: LazyLock<AhoCorasick> = LazyLock::new(|| matcher(INVALID_MARKERS));

pub fn cites_spam(reply: &str) -> bool {
    SPAM.is_match(reply)
}

/// The server's own sending limits, as cPanel's Exim words them when it
/// holds back or discards mail (`Domain x has exceeded the max emails per
/// hour (500/500 (100%)) allowed.`, `… the max defers and failures per
/// hour …`).
pub fn held_by_limits(reply: &str) -> bool {
    LIMITS.is_match(reply)
}

/// Built once: `str::contains` builds a searcher for its needle at each
/// call, which cost more than the rest of the message's observation.
static LIMITS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::new([
        "has exceeded the max emails per hour",
        "has exceeded the max defers and failures per hour",
    ])
    .expect("two fixed words make a matcher")
});

/// Replies that say the recipient does not exist (the mark of a scraped
/// or bought list).
const INVALID_MARKERS: &[&str] = &[
    "5.1.1",
    "5.1.10",
    "user unknown",
    "unknown user",
    "does not exist",
    "no such user",
    "mailbox unavailable",
    "mailbox not found",
    "recipient address rejected",
    "unknown recipient",
    "invalid recipient",
    "no mailbox",
    "address rejected",
];

pub fn invalid_recipient(reply: &str) -> bool {
    INVALID.is_match(reply)
}

/// Why a script's location is odd, if it is: writable upload and cache
/// directories, hidden directories, names that look generated.
pub fn odd_script_place(path: &str) -> Option<&'static str> {
    let l = path.to_ascii_lowercase();
    if l.contains("/wp-content/uploads") || l.contains("/uploads/") || l.ends_with("/uploads") {
        return Some("in an uploads directory");
    }
    if l.contains("/tmp/")
        || l.starts_with("/tmp")
        || l.contains("/cache/")
        || l.contains("/.cache")
    {
        return Some("in a temporary or cache directory");
    }
    if path
        .split('/')
        .any(|c| c.starts_with('.') && c.len() > 1 && c != "..")
    {
        return Some("in a hidden directory");
    }
    if path
        .split('/')
        .filter(|c| !c.is_empty())
        .any(looks_generated)
    {
        return Some("under a generated-looking name");
    }
    None
}

/// `9P7tiqGfhvd.php`, `fabklhqici`, `aBcDeFgHi`: digits woven through
/// mixed-case letters, a word without vowels or with a long consonant run,
/// or case flipping every letter or two. Names made of words
/// (`AbuseFilterRightsLogFormatter`, `HTMLReCaptchaField`, `utf8_general`)
/// are not generated.
fn looks_generated(component: &str) -> bool {
    let stem = component.split('.').next().unwrap_or(component);
    if stem.len() < 8 {
        return false;
    }
    let b = stem.as_bytes();
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let lower = b.iter().any(u8::is_ascii_lowercase);
    let switches = b
        .windows(2)
        .filter(|w| {
            w[0].is_ascii_alphanumeric()
                && w[1].is_ascii_alphanumeric()
                && w[0].is_ascii_digit() != w[1].is_ascii_digit()
        })
        .count();
    if switches >= 4 || (switches >= 3 && upper && lower) {
        return true;
    }
    let words = camel_words(stem);
    let short_mixed = words
        .iter()
        .filter(|w| w.len() <= 2 && w.bytes().any(|c| c.is_ascii_lowercase()))
        .count();
    if short_mixed >= 3 {
        return true;
    }
    words.iter().any(|w| !wordlike(w))
}

/// `HTMLReCaptchaField2x` → `HTML`, `Re`, `Captcha`, `Field`, `x`: letters
/// split at separators, digits and camel-case boundaries.
fn camel_words(stem: &str) -> Vec<&str> {
    let b = stem.as_bytes();
    let mut out = Vec::new();
    let mut start = None;
    for i in 0..=b.len() {
        let boundary = i == b.len()
            || !b[i].is_ascii_alphabetic()
            || (i > 0 && b[i].is_ascii_uppercase() && b[i - 1].is_ascii_lowercase())
            || (i > 0
                && i + 1 < b.len()
                && b[i].is_ascii_uppercase()
                && b[i - 1].is_ascii_uppercase()
                && b[i + 1].is_ascii_lowercase());
        if boundary && let Some(s) = start.take() {
            out.push(&stem[s..i]);
        }
        if i < b.len() && b[i].is_ascii_alphabetic() && start.is_none() {
            start = Some(i);
        }
    }
    out
}

/// Vowel-less pieces of programmers' names (`htmlform`, `xmlrpc`,
/// `washtml`), read as one vowel when counting consonant runs.
const TECH_TOKENS: [&str; 24] = [
    "html", "xml", "https", "http", "rpc", "sql", "json", "php", "css", "pdf", "png", "svg",
    "smtp", "ftp", "dns", "ssl", "tls", "rss", "csv", "url", "www", "src", "cfg", "msg",
];

/// A word people would write: an acronym, or letters with vowels and no
/// run of five consonants.
fn wordlike(w: &str) -> bool {
    if w.len() <= 4 && w.bytes().all(|c| c.is_ascii_uppercase()) || w.len() < 5 {
        return true;
    }
    // Reading a token as the vowel `a` only adds a vowel and cuts a
    // consonant run, so a word that passes as written passes with its
    // tokens read: they need replacing only for a word that fails (site
    // scans and new senders ask this of every path's every word).
    if passes_as_word(w.bytes().map(|c| c.to_ascii_lowercase())) {
        return true;
    }
    let mut w = w.to_ascii_lowercase();
    for t in TECH_TOKENS {
        w = w.replace(t, "a");
    }
    passes_as_word(w.bytes())
}

/// Lower-case letters with a vowel (or fewer than five of them) and no
/// run of five consonants.
fn passes_as_word(letters: impl Iterator<Item = u8>) -> bool {
    let (mut len, mut vowels, mut run) = (0, 0, 0);
    for c in letters {
        len += 1;
        if b"aeiouy".contains(&c) {
            vowels += 1;
            run = 0;
        } else {
            run += 1;
            if run >= 5 {
                return false;
            }
        }
    }
    len < 5 || vowels > 0
}

/// The network of an address, for counting where a login comes from:
/// the /24 of IPv4, the /48 of IPv6, as its first address (cheap to hash;
/// [`network_name`] writes it for people).
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v) => IpAddr::V4((u32::from(v) & 0xffff_ff00).into()),
        IpAddr::V6(v) => IpAddr::V6((u128::from(v) & !((1u128 << 80) - 1)).into()),
    }
}

/// A [`network`] as a small key: IPv4 as an IPv4-mapped IPv6 address
/// (a /48 of IPv6 never is one). Saved as its address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Net(u128);

impl Net {
    /// The network of `ip`.
    pub(crate) fn of(ip: IpAddr) -> Net {
        match network(ip) {
            IpAddr::V4(v) => Net(u128::from(v.to_ipv6_mapped())),
            IpAddr::V6(v) => Net(u128::from(v)),
        }
    }

    pub(crate) fn ip(self) -> IpAddr {
        let v6 = std::net::Ipv6Addr::from(self.0);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    }
}

impl serde::Serialize for Net {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.ip().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Net {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IpAddr::deserialize(d).map(Net::of)
    }
}

/// `198.51.100.0/24`, `2001:db8:1::/48`.
pub fn network_name(net: IpAddr) -> String {
    match net {
        IpAddr::V4(_) => format!("{net}/24"),
        IpAddr::V6(_) => format!("{net}/48"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spam_replies() {
        assert!(cites_spam(
            "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail"
        ));
        assert!(cites_spam(
            "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred"
        ));
        assert!(cites_spam(
            "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. (S3140)"
        ));
        assert!(cites_spam(
            "554 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org"
        ));
        // The reference's provider lines (complaints-bounces-delisting.md).
        assert!(cites_spam(
            "550 5.7.606 Access denied, banned sending IP [198.51.100.222]. To request removal from this list please visit https://sender.office.com/ (AS16012609)"
        ));
        assert!(cites_spam(
            "550 5.7.1 Unfortunately, messages from 203.0.113.2 weren't sent. Please contact your Internet service provider since part of their network is on our block list."
        ));
        assert!(cites_spam(
            "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP."
        ));
        assert!(cites_spam(
            "421 4.7.0 [TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed."
        ));
        assert!(!cites_spam("250 2.0.0 OK"));
        assert!(!cites_spam("550 5.1.1 User unknown"));
        // A listing of the server's IP, or the mail being sent now.
        for listing in [
            "554 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org",
            "550 5.7.606 Access denied, banned sending IP [198.51.100.222]",
            "550 5.7.1 Unfortunately, messages from 203.0.113.2 weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140).",
        ] {
            assert!(cites_spam(listing) && cites_a_listing(listing), "{listing}");
        }
        for now in [
            "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address",
            "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints",
            "550-5.7.1 [192.0.2.1 12] Gmail has detected that this message is likely unsolicited mail",
            "554 5.7.1 Message content rejected as spam",
            "rejected after DATA: SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (16.3)",
        ] {
            assert!(cites_spam(now) && !cites_a_listing(now), "{now}");
        }
        assert!(!cites_spam(
            "452 4.2.2 The email account that you tried to reach is over quota"
        ));
    }

    #[test]
    fn invalid_recipients() {
        assert!(invalid_recipient(
            "550 5.1.1 <x@y>: Recipient address rejected: User unknown"
        ));
        assert!(invalid_recipient(
            "550-5.1.1 The email account that you tried to reach does not exist"
        ));
        assert!(!invalid_recipient("421 4.7.0 try again later"));
    }

    #[test]
    fn odd_places() {
        assert!(odd_script_place("/home/a/public_html/wp-content/uploads/2024/x.php").is_some());
        assert!(odd_script_place("/home/a/public_html/.well/x.php").is_some());
        assert!(
            odd_script_place("/home/dsblocks/public_html/wp-content/9P7tiqGfhvd.php").is_some()
        );
        assert!(odd_script_place("/home/m/public_html/wp-content/plugins/fabklhqici").is_some());
        assert!(odd_script_place("/home/shop/public_html/contact").is_none());
        assert!(odd_script_place("/home/a/public_html/aBcDeFgHi.php").is_some());
        for named in [
            "/usr/share/mediawiki/includes/AbuseFilterRightsLogFormatter.php",
            "/usr/share/mediawiki/includes/HTMLReCaptchaNoCaptchaField.php",
            "/usr/share/mediawiki/includes/MathMLRdfBuilder.php",
            "/home/a/public_html/lib/utf8_general_ci.php",
            "/home/a/public_html/lib/Base64Url.php",
        ] {
            assert!(odd_script_place(named).is_none(), "{named}");
        }
        assert!(
            odd_script_place("/home/shop/public_html/wp-content/plugins/contact-form-7").is_none()
        );
    }

    #[test]
    fn a_network_key_gives_its_network_back() {
        for ip in [
            "198.51.100.7",
            "2001:db8:1:2::1",
            "::ffff:198.51.100.7",
            "::1",
            "0.0.0.0",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(Net::of(ip).ip(), network(ip), "{ip}");
            let bytes = postcard::to_allocvec(&Net::of(ip)).unwrap();
            assert_eq!(bytes, postcard::to_allocvec(&network(ip)).unwrap());
            let back: Net = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, Net::of(ip));
        }
    }

    #[test]
    fn networks() {
        assert_eq!(
            network_name(network("198.51.100.7".parse().unwrap())),
            "198.51.100.0/24"
        );
        assert_eq!(
            network_name(network("2001:db8:1:2::1".parse().unwrap())),
            "2001:db8:1::/48"
        );
    }
}
