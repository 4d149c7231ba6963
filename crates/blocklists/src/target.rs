//! What can be checked against a list, and the DNS name that asks about it
//! (RFC 5782 §2.1 for IPv4, §2.4 for IPv6 nibbles, §3 for domains).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// The kind of a target, and of what a list accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Ipv4,
    Ipv6,
    Domain,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Ipv4 => "ipv4",
            TargetKind::Ipv6 => "ipv6",
            TargetKind::Domain => "domain",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IP address or a domain name to look up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Ip(IpAddr),
    /// Lower-case ASCII (punycode), no trailing dot.
    Domain(String),
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("empty target")]
    Empty,
    #[error("`{target}` is not a valid IPv4 address")]
    BadIpv4 { target: String },
    #[error("`{target}` is not an IPv4 address, an IPv6 address or a domain name: {why}")]
    Unrecognised { target: String, why: String },
}

impl Target {
    /// Parses what a person typed: an IPv4 or IPv6 address, or a domain
    /// name (IDNA names are converted to punycode).
    pub fn parse(input: &str) -> Result<Self, TargetError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Target::Ip(ip));
        }
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(TargetError::BadIpv4 {
                target: input.to_string(),
            });
        }
        let unrecognised = |why: &str| TargetError::Unrecognised {
            target: input.to_string(),
            why: why.to_string(),
        };
        if s.contains(':') {
            return Err(unrecognised("not a valid IPv6 address"));
        }
        let name = s.strip_suffix('.').unwrap_or(s);
        let ascii = idna::domain_to_ascii(name).map_err(|_| unrecognised("invalid IDNA name"))?;
        check_domain(&ascii).map_err(|why| unrecognised(&why))?;
        Ok(Target::Domain(ascii))
    }

    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Ip(IpAddr::V4(_)) => TargetKind::Ipv4,
            Target::Ip(IpAddr::V6(_)) => TargetKind::Ipv6,
            Target::Domain(_) => TargetKind::Domain,
        }
    }

    /// The name to look up in `zone`.
    pub fn query_name(&self, zone: &str) -> String {
        match self {
            Target::Ip(IpAddr::V4(ip)) => format!("{}.{zone}", reverse_v4(*ip)),
            Target::Ip(IpAddr::V6(ip)) => format!("{}.{zone}", reverse_v6(*ip)),
            Target::Domain(d) => format!("{d}.{zone}"),
        }
    }

    /// Parses an RFC 5782 test point (`127.0.0.2`, `::FFFF:7F00:2`, `TEST`),
    /// which, unlike a user target, may be a single label.
    pub fn test_point(point: &str) -> Option<Self> {
        if let Ok(ip) = point.parse::<IpAddr>() {
            return Some(Target::Ip(ip));
        }
        let ascii = idna::domain_to_ascii(point).ok()?;
        (!ascii.is_empty()).then_some(Target::Domain(ascii))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Ip(ip) => write!(f, "{ip}"),
            Target::Domain(d) => f.write_str(d),
        }
    }
}

fn reverse_v4(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("{d}.{c}.{b}.{a}")
}

/// Exactly 32 nibbles, least significant first (RFC 5782 §2.4).
fn reverse_v6(ip: Ipv6Addr) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(63);
    for byte in ip.octets().iter().rev() {
        out.push(HEX[(byte & 0xf) as usize] as char);
        out.push('.');
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push('.');
    }
    out.pop();
    out
}

fn check_domain(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!(
            "name is {} characters, at most 253 allowed",
            name.len()
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("label `{label}` must be 1-63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with a hyphen"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "label `{label}` holds characters a host name cannot"
            ));
        }
    }
    if labels.len() < 2 {
        return Err("a domain needs at least two labels".into());
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("the top-level label is numeric".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_reverses_octets() {
        let t = Target::parse("192.0.2.99").unwrap();
        assert_eq!(t.kind(), TargetKind::Ipv4);
        assert_eq!(t.query_name("bl.example"), "99.2.0.192.bl.example");
    }

    #[test]
    fn ipv6_is_32_nibbles_without_trailing_dot() {
        let t = Target::parse("2001:db8::1").unwrap();
        let q = t.query_name("bl.example");
        assert_eq!(
            q,
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"
        );
        assert_eq!(q.split('.').count(), 32 + 2);
        let t = Target::test_point("::FFFF:7F00:2").unwrap();
        assert!(
            t.query_name("z")
                .starts_with("2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0")
        );
    }

    #[test]
    fn domains_are_lowercased_and_punycoded() {
        let t = Target::parse("Bücher.Example.").unwrap();
        assert_eq!(t, Target::Domain("xn--bcher-kva.example".into()));
        assert_eq!(
            t.query_name("dbl.example"),
            "xn--bcher-kva.example.dbl.example"
        );
    }

    #[test]
    fn bad_targets_name_themselves() {
        for bad in [
            "999.1.1.1",
            "1.2.3",
            "-x",
            "",
            "  ",
            "exa mple.com",
            "2001:db8:::1",
            "host",
        ] {
            let err = Target::parse(bad).unwrap_err().to_string();
            if !bad.trim().is_empty() {
                assert!(err.contains(bad.trim()), "{bad}: {err}");
            } else {
                assert_eq!(err, "empty target");
            }
        }
        assert_eq!(
            Target::parse("999.1.1.1").unwrap_err(),
            TargetError::BadIpv4 {
                target: "999.1.1.1".into()
            }
        );
    }
}
