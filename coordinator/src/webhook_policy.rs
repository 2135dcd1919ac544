//! Where webhooks may go. A webhook URL comes from a client, and the
//! coordinator POSTs to it from inside the cluster: without a check, a job
//! could make it reach loopback services, the cloud metadata endpoint
//! (169.254.169.254) or anything on the private network. Destinations are
//! refused when they are, or resolve to, loopback, link-local, private,
//! shared (CGNAT), multicast or reserved addresses, unless the operator
//! allows the host or network (`--webhook-allow`). The check runs when a job
//! is submitted and again when the coordinator connects: the HTTP client
//! resolves names through [`PolicyResolver`], so a name that resolved to a
//! public address at submission cannot point inside later (DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use url::{Host, Url};

/// How long a submission waits for a webhook host's name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which webhook destinations are allowed (see the module comment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// Host names allowed whatever they resolve to (lower case).
    pub hosts: Vec<String>,
    /// Networks allowed although internal.
    pub networks: Vec<IpNet>,
}

impl WebhookPolicy {
    /// A policy from `--webhook-allow` entries: networks (`10.1.0.0/16`),
    /// addresses (`10.1.2.3`, `::1`) or host names (`hooks.internal.example`).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut policy = Self::default();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if let Ok(network) = entry.parse::<IpNet>() {
                policy.networks.push(network);
            } else if let Ok(address) = entry.parse::<IpAddr>() {
                policy.networks.push(IpNet::from(address));
            } else if Host::parse(entry).is_ok_and(|h| matches!(h, Host::Domain(_))) && !entry.contains('/') {
                policy.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(format!("'{entry}' is not a host name, an IP address or a network (a.b.c.d/n)"));
            }
        }
        Ok(policy)
    }

    /// What `tessera dev` allows: loopback, where developers run receivers.
    pub fn loopback() -> Self {
        Self {
            hosts: vec!["localhost".into()],
            networks: ["127.0.0.0/8", "::1/128"].iter().filter_map(|n| n.parse().ok()).collect(),
        }
    }

    /// Whether the coordinator may connect to `address`.
    pub fn allows_address(&self, address: IpAddr) -> bool {
        !internal(address) || self.networks.iter().any(|n| n.contains(&address))
    }

    /// Whether `host` is allowed by name, whatever it resolves to.
    fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Checks a webhook URL: its scheme, and its host (an address, or a name
    /// resolved now). The error says why, for the client.
    pub async fn check(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err("webhook_url must be http or https".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("webhook_url must not carry credentials (the request is signed instead)".into());
        }
        let port = url.port_or_known_default().unwrap_or(443);
        match url.host() {
            None => Err("webhook_url has no host".into()),
            Some(Host::Ipv4(v4)) => self.check_address(IpAddr::V4(v4), "webhook_url"),
            Some(Host::Ipv6(v6)) => self.check_address(IpAddr::V6(v6), "webhook_url"),
            Some(Host::Domain(name)) => {
                if self.allows_host(name) {
                    return Ok(());
                }
                let name = name.trim_end_matches('.');
                if name.eq_ignore_ascii_case("localhost") || name.to_ascii_lowercase().ends_with(".localhost") {
                    return Err(format!("webhook_url's host '{name}' is loopback"));
                }
                let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)));
                let addresses: Vec<SocketAddr> = match lookup.await {
                    Ok(Ok(found)) => found.collect(),
                    Ok(Err(e)) => return Err(format!("webhook_url's host '{name}' does not resolve: {e}")),
                    Err(_) => return Err(format!("webhook_url's host '{name}' did not resolve within 5 s")),
                };
                for address in &addresses {
                    self.check_address(address.ip(), &format!("webhook_url's host '{name}'"))?;
                }
                Ok(())
            }
        }
    }

    fn check_address(&self, address: IpAddr, what: &str) -> Result<(), String> {
        if self.allows_address(address) {
            Ok(())
        } else {
            Err(format!(
                "{what} is an internal address ({address}): loopback, private, link-local and metadata \
                 addresses are refused unless the coordinator allows them (--webhook-allow)"
            ))
        }
    }
}

/// Whether an address is loopback, private, link-local, shared, multicast,
/// unspecified or reserved: anything but the public internet.
pub fn internal(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) reach IPv4 addresses.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                return internal_v4(Ipv4Addr::from(((u32::from(s[6])) << 16) | u32::from(s[7])));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is AWS's metadata)
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        }
    }
}

fn internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

/// The webhook client's name resolution: the system resolver, keeping only
/// the addresses the policy allows (none left: the delivery fails).
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: Arc<WebhookPolicy>,
}

impl PolicyResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<WebhookPolicy>) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if policy.allows_host(&host) {
                return Ok(Box::new(resolved.into_iter()) as reqwest::dns::Addrs);
            }
            let allowed: Vec<SocketAddr> = resolved.into_iter().filter(|a| policy.allows_address(a.ip())).collect();
            if allowed.is_empty() {
                return Err(
                    format!("'{host}' resolves only to internal addresses, which webhooks may not reach").into()
                );
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_destinations_are_refused_unless_allowed() {
        let policy = WebhookPolicy::default();
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hook",
            "http://0x7f000001/hook",
            "http://2130706433/hook",
            "http://localhost:8080/hook",
            "http://api.localhost/hook",
            "http://10.0.0.1/hook",
            "http://172.16.5.4/hook",
            "http://192.168.1.1/hook",
            "http://100.64.0.1/hook",
            "http://0.0.0.0/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[64:ff9b::a9fe:a9fe]/hook",
            "http://[fd00:ec2::254]/hook",
            "http://[fe80::1]/hook",
            "ftp://example.com/hook",
            "http://user:pw@example.com/hook",
        ] {
            let parsed = Url::parse(url).unwrap();
            assert!(policy.check(&parsed).await.is_err(), "{url} must be refused");
        }
        // A name that does not resolve is refused too (metadata.google.internal off GCP).
        let metadata = Url::parse("http://metadata.google.internal.invalid/").unwrap();
        assert!(policy.check(&metadata).await.is_err());
        // Public addresses pass.
        for url in ["https://93.184.215.14/hook", "http://[2606:4700::1111]/hook"] {
            assert_eq!(policy.check(&Url::parse(url).unwrap()).await, Ok(()), "{url}");
        }
        // Allowed networks and hosts.
        let allowed =
            WebhookPolicy::parse(&["10.0.0.0/8".into(), "127.0.0.1".into(), "hooks.internal.example".into()]).unwrap();
        for url in ["http://10.0.0.1/hook", "http://127.0.0.1:9000/hook", "http://hooks.internal.example/"] {
            assert_eq!(allowed.check(&Url::parse(url).unwrap()).await, Ok(()), "{url}");
        }
        assert!(allowed.check(&Url::parse("http://169.254.169.254/").unwrap()).await.is_err());
        assert!(WebhookPolicy::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(WebhookPolicy::parse(&["http://x".into()]).is_err());
        // Dev: loopback only.
        let dev = WebhookPolicy::loopback();
        for url in ["http://127.0.0.1:9000/hook", "http://localhost:9000/hook", "http://[::1]:9000/"] {
            assert_eq!(dev.check(&Url::parse(url).unwrap()).await, Ok(()), "{url}");
        }
        assert!(dev.check(&Url::parse("http://169.254.169.254/").unwrap()).await.is_err());
    }

    #[tokio::test]
    async fn the_resolver_drops_internal_addresses() {
        use reqwest::dns::Resolve;
        let resolver = PolicyResolver::new(Arc::new(WebhookPolicy::default()));
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(resolver.resolve(name).await.is_err(), "localhost resolves only to loopback");
        let dev = PolicyResolver::new(Arc::new(WebhookPolicy::loopback()));
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(dev.resolve(name).await.is_ok());
    }
}
