//! Well-known public resolvers. Blocklist operators refuse or mislead them
//! (Spamhaus answers 127.255.255.254 or NXDOMAIN, URIBL 127.0.0.1), so a
//! check through one of them is not to be trusted.

use std::net::IpAddr;

const PUBLIC: &[(&str, &str)] = &[
    ("8.8.8.8", "Google Public DNS"),
    ("8.8.4.4", "Google Public DNS"),
    ("2001:4860:4860::8888", "Google Public DNS"),
    ("2001:4860:4860::8844", "Google Public DNS"),
    ("1.1.1.1", "Cloudflare"),
    ("1.0.0.1", "Cloudflare"),
    ("2606:4700:4700::1111", "Cloudflare"),
    ("2606:4700:4700::1001", "Cloudflare"),
    ("9.9.9.9", "Quad9"),
    ("149.112.112.112", "Quad9"),
    ("2620:fe::fe", "Quad9"),
    ("2620:fe::9", "Quad9"),
    ("208.67.222.222", "OpenDNS"),
    ("208.67.220.220", "OpenDNS"),
    ("94.140.14.14", "AdGuard DNS"),
    ("94.140.15.15", "AdGuard DNS"),
    ("185.228.168.9", "CleanBrowsing"),
    ("76.76.2.0", "Control D"),
    ("64.6.64.6", "Verisign Public DNS"),
    ("64.6.65.6", "Verisign Public DNS"),
    ("4.2.2.1", "Level3"),
    ("4.2.2.2", "Level3"),
    ("4.2.2.3", "Level3"),
    ("4.2.2.4", "Level3"),
    ("77.88.8.8", "Yandex DNS"),
    ("8.26.56.26", "Comodo Secure DNS"),
    ("156.154.70.1", "Neustar UltraDNS Public"),
    ("169.254.169.253", "Amazon VPC resolver"),
];

/// The operator of `ip` when it is a well-known public resolver.
pub fn public_resolver(ip: IpAddr) -> Option<&'static str> {
    PUBLIC
        .iter()
        .find(|(addr, _)| addr.parse::<IpAddr>().is_ok_and(|a| a == ip))
        .map(|(_, who)| *who)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_big_ones_and_not_loopback() {
        assert_eq!(
            public_resolver("8.8.8.8".parse().unwrap()),
            Some("Google Public DNS")
        );
        assert_eq!(
            public_resolver("2606:4700:4700::1111".parse().unwrap()),
            Some("Cloudflare")
        );
        assert_eq!(public_resolver("127.0.0.1".parse().unwrap()), None);
        for (addr, _) in PUBLIC {
            assert!(addr.parse::<IpAddr>().is_ok(), "{addr}");
        }
    }
}
