//! Where a BIFIT connector may send the merchant's tokens: `https://` URLs of public
//! hosts. A merchant sets the URLs, so without these rules rabat would fetch loopback,
//! the cloud metadata address or internal services on the merchant's behalf (SSRF).
//!
//! Two checks, because either alone leaves a gap: the URL when it is set and again before
//! every request (scheme, no userinfo, query or fragment, no IP literal in a non-public
//! range — the `url` crate has already turned `2130706433` or `0x7f.1` into `127.0.0.1`),
//! and every address a host name resolves to, at connection time ([`PublicResolver`]), so
//! an internal DNS name or a name rebound to `127.0.0.1` after the check fails too. The
//! operator can allow private addresses and plain `http://` (`[bifit]
//! allow-private-addresses`, `allow-http`): a BIFIT on the operator's own network, or tests.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What the operator allows beyond public `https://` hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Egress {
    pub allow_private_addresses: bool,
    pub allow_http: bool,
}

/// Why a URL or an address is refused; the text completes "… must …" style messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl Egress {
    /// Checks a connector URL: `https://` (or `http://` when allowed), no credentials,
    /// query or fragment, and no IP literal outside the public ranges.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Err(Refused(
                    "must be an https:// URL: plain http:// would send the tokens in clear text"
                        .into(),
                ));
            }
            _ => return Err(Refused("must be an https:// URL".into())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused("must not hold credentials (user:password@)".into()));
        }
        if url.query().is_some() {
            return Err(Refused("must not hold a ?query".into()));
        }
        if url.fragment().is_some() {
            return Err(Refused("must not hold a #fragment".into()));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(Refused("must name a host".into())),
        };
        self.check_ip(ip)
    }

    /// Checks one address rabat is about to connect to.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refused> {
        if self.allow_private_addresses {
            return Ok(());
        }
        match non_public(ip) {
            None => Ok(()),
            Some(range) => Err(Refused(format!(
                "must not point at {ip}, a {range} address: rabat connects only to public addresses"
            ))),
        }
    }
}

/// The non-public range `ip` falls in, or `None` for a public (globally routed) address.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => non_public_v4(ip),
        IpAddr::V6(ip) => non_public_v6(ip),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified (0.0.0.0/8)",
        (127, _, _) => "loopback",
        (10, _, _) => "private (10/8)",
        (172, 16..=31, _) => "private (172.16/12)",
        (192, 168, _) => "private (192.168/16)",
        (169, 254, _) => "link-local (incl. cloud metadata)",
        (100, 64..=127, _) => "shared CGNAT (100.64/10)",
        (192, 0, 0) => "IETF protocol (192.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking (198.18/15)",
        (192, 88, 99) => "6to4 relay anycast",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved or broadcast",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified (::)");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let s = ip.segments();
    Some(match s[0] {
        _ if ip.to_ipv4_mapped().is_some() => "IPv4-mapped IPv6",
        0 if s[1..6] == [0; 5] => "IPv4-compatible IPv6",
        0x64 if s[1] == 0xff9b => "NAT64 (64:ff9b::/96)",
        0x100 if s[1..4] == [0; 3] => "discard-only (100::/64)",
        0x2001 if s[1] < 0x200 => "IETF special purpose (2001::/23)",
        0x2001 if s[1] == 0xdb8 => "documentation (2001:db8::/32)",
        0x2002 => "6to4 (2002::/16)",
        0xfc00..=0xfdff => "unique local (fc00::/7)",
        0xfe80..=0xfebf => "link-local (fe80::/10)",
        0xfec0..=0xfeff => "site-local (fec0::/10)",
        0xff00..=0xffff => "multicast",
        _ => return None,
    })
}

/// The system resolver, keeping only the addresses [`Egress`] allows: a name that
/// resolves to nothing else fails to connect, naming why.
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver(pub Egress);

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let egress = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| match egress.check_ip(address.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refused.get_or_insert(why);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = refused.map_or_else(
                    || format!("{host} resolves to no address"),
                    |why| format!("{host} {why}"),
                );
                return Err(Box::new(Refused(why)) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn check(url: &str) -> Result<(), Refused> {
        Egress::default().check_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn only_public_https_urls_pass() {
        assert_eq!(check("https://kassa.bifit.com"), Ok(()));
        assert_eq!(check("https://8.8.8.8/x"), Ok(()));
        assert_eq!(check("https://[2a00:1450::1]/"), Ok(()));
        for (url, word) in [
            ("http://kassa.bifit.com", "clear text"),
            ("ftp://kassa.bifit.com", "https://"),
            ("https://u:p@kassa.bifit.com", "credentials"),
            ("https://kassa.bifit.com/?x=1", "query"),
            ("https://kassa.bifit.com/#x", "fragment"),
            ("https://127.0.0.1", "loopback"),
            ("https://2130706433", "loopback"),
            ("https://0x7f.1", "loopback"),
            ("https://017700000001", "loopback"),
            ("https://[::1]", "loopback"),
            ("https://0.0.0.0", "unspecified"),
            ("https://10.1.2.3", "private"),
            ("https://172.20.0.1", "private"),
            ("https://192.168.1.1", "private"),
            ("https://169.254.169.254", "link-local"),
            ("https://100.100.100.200", "CGNAT"),
            ("https://224.0.0.1", "multicast"),
            ("https://255.255.255.255", "broadcast"),
            ("https://[fd00::1]", "unique local"),
            ("https://[fe80::1]", "link-local"),
            ("https://[::ffff:127.0.0.1]", "IPv4-mapped"),
            ("https://[::ffff:8.8.8.8]", "IPv4-mapped"),
            ("https://[::127.0.0.1]", "IPv4-compatible"),
            ("https://[64:ff9b::a9fe:a9fe]", "NAT64"),
            ("https://[2002:7f00:1::]", "6to4"),
            ("https://[ff02::1]", "multicast"),
        ] {
            let why = check(url).unwrap_err().0;
            assert!(why.contains(word), "{url}: {why}");
        }
        let lenient = Egress {
            allow_private_addresses: true,
            allow_http: true,
        };
        assert_eq!(
            lenient.check_url(&Url::parse("http://127.0.0.1:8080").unwrap()),
            Ok(())
        );
        assert!(
            lenient
                .check_url(&Url::parse("http://127.0.0.1/?x").unwrap())
                .is_err()
        );
    }
}
