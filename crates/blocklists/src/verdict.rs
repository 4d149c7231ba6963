//! From a DNS outcome to what it means for one list: exactly one of
//! `listed`, `clean`, `error` or `unknown`.
//!
//! Pure code over values, so every rule is tested without a network. The
//! rules follow RFC 5782 §2.3 (NXDOMAIN = not listed, an A record in
//! 127.0.0.0/8 = listed) tightened by each list's own codes: operator error
//! codes are errors, and answers a list never gives are `unknown` (a
//! resolver that rewrites NXDOMAIN, a parked domain), never listings.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde::Serialize;

use crate::catalog::{CodeKind, List};

/// What the DNS said, reduced to what classification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// NOERROR with at least one A record.
    Answer(Vec<Ipv4Addr>),
    /// NXDOMAIN, or NOERROR without an A record.
    NotFound,
    /// No usable answer.
    Failed(DnsFailure),
}

/// Why a query produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsFailure {
    Timeout { after: Duration, tries: u32 },
    ServFail,
    Refused,
    Rcode(String),
    Io(String),
}

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsFailure::Timeout { after, tries } => write!(
                f,
                "no answer within {} ({tries} {}): the nameserver or the list's servers are down or unreachable; this is not a clean result",
                humantime::format_duration(*after),
                if *tries == 1 { "try" } else { "tries" }
            ),
            DnsFailure::ServFail => f.write_str(
                "SERVFAIL: the resolver could not get an answer from the list's servers; retry later or check the resolver",
            ),
            DnsFailure::Refused => f.write_str(
                "REFUSED: the server will not answer this client; the list may need a key or a registered resolver, or the nameserver does not recurse for you — use your own recursive resolver",
            ),
            DnsFailure::Rcode(code) => write!(f, "the server answered {code}"),
            DnsFailure::Io(e) => write!(f, "network error: {e}"),
        }
    }
}

/// The one status a result has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Listed,
    Clean,
    Error,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Listed => "listed",
            Status::Clean => "clean",
            Status::Error => "error",
            Status::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The meaning of one lookup for one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub codes: Vec<Ipv4Addr>,
    pub meanings: Vec<String>,
    /// For `error` and `unknown`: what went wrong and what to do.
    pub error: Option<String>,
}

impl Verdict {
    pub fn error(message: impl Into<String>) -> Self {
        Verdict {
            status: Status::Error,
            codes: Vec::new(),
            meanings: Vec::new(),
            error: Some(message.into()),
        }
    }
}

enum CodeClass {
    Listed(Vec<String>),
    Clean(String),
    Error(String),
    Unknown,
}

fn classify_code(list: &List, ip: Ipv4Addr) -> CodeClass {
    if let Some(code) = list.codes.iter().find(|c| c.answer.contains(ip)) {
        return match code.kind {
            CodeKind::Listed => CodeClass::Listed(vec![code.meaning.clone()]),
            CodeKind::Clean => CodeClass::Clean(code.meaning.clone()),
            CodeKind::Error => CodeClass::Error(match &code.action {
                Some(action) => format!("{} ({ip}); {action}", code.meaning),
                None => format!("{} ({ip})", code.meaning),
            }),
        };
    }
    if !list.listed.iter().any(|r| r.contains(ip)) {
        return CodeClass::Unknown;
    }
    let last = ip.octets()[3];
    let bits: Vec<String> = list
        .bits
        .iter()
        .filter(|b| last & b.bit != 0)
        .map(|b| b.meaning.clone())
        .collect();
    if bits.is_empty() {
        CodeClass::Listed(vec![format!(
            "listed (code {ip} is not described in the catalog)"
        )])
    } else {
        CodeClass::Listed(bits)
    }
}

/// Classifies one A lookup against `list`.
pub fn classify(list: &List, lookup: &Lookup) -> Verdict {
    let ips = match lookup {
        Lookup::NotFound => {
            return Verdict {
                status: Status::Clean,
                codes: Vec::new(),
                meanings: Vec::new(),
                error: None,
            };
        }
        Lookup::Failed(f) => return Verdict::error(f.to_string()),
        Lookup::Answer(ips) => ips,
    };
    let mut codes = ips.clone();
    codes.sort();
    codes.dedup();
    let (mut listed, mut clean, mut errors, mut unknown) = (vec![], vec![], vec![], vec![]);
    for &ip in &codes {
        match classify_code(list, ip) {
            CodeClass::Listed(m) => listed.extend(m),
            CodeClass::Clean(m) => clean.push(m),
            CodeClass::Error(m) => errors.push(m),
            CodeClass::Unknown => unknown.push(ip),
        }
    }
    // An error code anywhere means the operator did not judge the target;
    // a code the list never uses means something rewrote the answer.
    if !errors.is_empty() {
        return Verdict {
            status: Status::Error,
            codes,
            error: Some(errors.join("; ")),
            meanings: errors,
        };
    }
    if !unknown.is_empty() {
        let shown: Vec<String> = unknown.iter().map(Ipv4Addr::to_string).collect();
        return Verdict {
            status: Status::Unknown,
            codes,
            meanings: listed,
            error: Some(format!(
                "answer {} is not one {} gives; a resolver that rewrites answers (NXDOMAIN redirection, a filter) or a parked zone may be in the way",
                shown.join(", "),
                list.id
            )),
        };
    }
    if !listed.is_empty() {
        listed.dedup();
        return Verdict {
            status: Status::Listed,
            codes,
            meanings: listed,
            error: None,
        };
    }
    Verdict {
        status: Status::Clean,
        codes,
        meanings: clean,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn list(id: &str) -> List {
        Catalog::builtin().unwrap().get(id).unwrap().clone()
    }

    fn answer(ips: &[[u8; 4]]) -> Lookup {
        Lookup::Answer(ips.iter().map(|o| Ipv4Addr::from(*o)).collect())
    }

    #[test]
    fn nxdomain_is_clean_and_failures_are_errors() {
        let zen = list("spamhaus-zen");
        assert_eq!(classify(&zen, &Lookup::NotFound).status, Status::Clean);
        for f in [
            DnsFailure::ServFail,
            DnsFailure::Refused,
            DnsFailure::Timeout {
                after: Duration::from_secs(2),
                tries: 2,
            },
        ] {
            let v = classify(&zen, &Lookup::Failed(f));
            assert_eq!(v.status, Status::Error);
            assert!(v.error.is_some());
        }
    }

    #[test]
    fn spamhaus_public_resolver_answer_is_an_error_not_a_listing() {
        let v = classify(&list("spamhaus-zen"), &answer(&[[127, 255, 255, 254]]));
        assert_eq!(v.status, Status::Error);
        assert!(v.error.unwrap().contains("own recursive resolver"));
    }

    #[test]
    fn zen_multi_code_answer_lists_each_meaning() {
        let v = classify(
            &list("spamhaus-zen"),
            &answer(&[[127, 0, 0, 4], [127, 0, 0, 2], [127, 0, 0, 10]]),
        );
        assert_eq!(v.status, Status::Listed);
        assert_eq!(v.codes.len(), 3);
        assert!(v.meanings[0].starts_with("SBL"));
        assert!(v.meanings.iter().any(|m| m.starts_with("PBL")));
    }

    #[test]
    fn rewriting_resolver_answer_is_unknown() {
        let v = classify(&list("spamcop"), &answer(&[[92, 242, 132, 24]]));
        assert_eq!(v.status, Status::Unknown);
        let v = classify(&list("spamcop"), &answer(&[[127, 0, 0, 1]]));
        assert_eq!(
            v.status,
            Status::Unknown,
            "127.0.0.1 means nothing on spamcop"
        );
    }

    #[test]
    fn uribl_refusal_is_an_error_and_bits_decode() {
        let uribl = list("uribl");
        assert_eq!(
            classify(&uribl, &answer(&[[127, 0, 0, 1]])).status,
            Status::Error
        );
        let v = classify(&uribl, &answer(&[[127, 0, 0, 6]]));
        assert_eq!(v.status, Status::Listed);
        assert_eq!(v.meanings.len(), 2);
        let v = classify(&list("surbl"), &answer(&[[127, 0, 0, 24]]));
        assert!(v.meanings[0].contains("PH") && v.meanings[1].contains("MW"));
    }

    #[test]
    fn good_reputation_codes_are_clean() {
        let v = classify(&list("hostkarma"), &answer(&[[127, 0, 0, 1]]));
        assert_eq!(v.status, Status::Clean);
        assert!(v.meanings[0].contains("white"));
    }

    #[test]
    fn dbl_ip_query_error() {
        let v = classify(&list("spamhaus-dbl"), &answer(&[[127, 0, 1, 255]]));
        assert_eq!(v.status, Status::Error);
        let v = classify(&list("spamhaus-dbl"), &answer(&[[127, 0, 1, 2]]));
        assert_eq!(v.status, Status::Listed);
    }
}
