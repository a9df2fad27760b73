//! Outbound HTTP. Requests to URLs a user supplied (the "with URL" auth types) go through a client
//! whose DNS resolver drops forbidden addresses, so the guard holds after resolution (no DNS
//! rebinding) and not only when the URL is typed in; literal IPs, which skip the resolver, are
//! checked before sending. No client follows redirects, which could otherwise lead a request, and
//! the credentials injected into it, somewhere the guard never looked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Which upstream addresses are acceptable for user-supplied URLs.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressPolicy {
    /// Allow 127.0.0.0/8 and ::1 (tests and the demo run their upstreams there).
    pub allow_loopback: bool,
}

/// A URL refused by the guard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} resolves to an address the broker does not call (private, loopback, link-local or reserved)")]
pub struct BlockedAddress {
    /// The host as written.
    pub host: String,
}

impl AddressPolicy {
    /// Whether the broker may connect to `ip` on a user's behalf.
    pub fn allows(self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.allows_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.allows_v4(v4),
                None => self.allows_v6(v6),
            },
        }
    }

    fn allows_v4(self, ip: Ipv4Addr) -> bool {
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        let [a, b, c, _] = ip.octets();
        !(ip.is_unspecified()
            || ip.is_private()
            || ip.is_link_local() // includes 169.254.169.254, the cloud metadata address
            || ip.is_broadcast()
            || ip.is_multicast()
            || ip.is_documentation()
            || a == 0
            || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
            || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
            || (a == 198 && (18..20).contains(&b)) // benchmarking
            || a >= 240) // reserved
    }

    fn allows_v6(self, ip: Ipv6Addr) -> bool {
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        let seg = ip.segments();
        if seg[0] == 0x64 && seg[1] == 0xff9b {
            // NAT64: judge the embedded IPv4 address.
            let [.., hi, lo] = seg;
            return self.allows_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
        }
        !(ip.is_unspecified()
            || ip.is_multicast()
            || (seg[0] & 0xfe00) == 0xfc00 // unique local (includes fd00:ec2::254, AWS metadata)
            || (seg[0] & 0xffc0) == 0xfe80 // link-local
            || (seg[0] == 0x2001 && seg[1] == 0x0db8)) // documentation
    }

    /// Checks what can be checked without DNS: a literal IP host. Names are checked by the guarded
    /// client's resolver at connection time.
    pub fn check_url(self, url: &Url) -> Result<(), BlockedAddress> {
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        if self.allows(ip) {
            Ok(())
        } else {
            Err(BlockedAddress { host: url.host_str().unwrap_or_default().to_owned() })
        }
    }
}

struct GuardedResolver {
    policy: AddressPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let allowed: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| policy.allows(addr.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(BlockedAddress { host }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The broker's outbound clients (connection pools shared by every request).
#[derive(Clone)]
pub struct Upstreams {
    /// For URLs from the operator's catalog.
    pub trusted: reqwest::Client,
    /// For URLs users supplied.
    pub guarded: reqwest::Client,
    /// The policy the guarded client enforces.
    pub policy: AddressPolicy,
}

impl Upstreams {
    /// Builds both clients with `timeout` per request.
    pub fn new(policy: AddressPolicy, timeout: Duration) -> reqwest::Result<Upstreams> {
        let base = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .pool_idle_timeout(Duration::from_secs(60))
                .user_agent(concat!("patchbay-broker/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Upstreams {
            trusted: base().build()?,
            guarded: base().dns_resolver(Arc::new(GuardedResolver { policy })).build()?,
            policy,
        })
    }
}

/// True when `err` (a reqwest error) was caused by the guard refusing an address.
pub fn is_blocked(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<BlockedAddress>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_ranges_are_refused_and_public_ones_allowed() {
        let strict = AddressPolicy::default();
        for blocked in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "240.0.0.1",
        ] {
            let ip: IpAddr = blocked.parse().expect("ip");
            assert!(!strict.allows(ip), "{blocked} must be refused");
        }
        for allowed in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::5db8:d822"] {
            let ip: IpAddr = allowed.parse().expect("ip");
            assert!(strict.allows(ip), "{allowed} must be allowed");
        }
    }

    #[test]
    fn the_loopback_switch_opens_loopback_only() {
        let demo = AddressPolicy { allow_loopback: true };
        assert!(demo.allows("127.0.0.1".parse().expect("ip")));
        assert!(demo.allows("::1".parse().expect("ip")));
        assert!(!demo.allows("10.0.0.1".parse().expect("ip")));
        assert!(!demo.allows("169.254.169.254".parse().expect("ip")));
    }

    #[test]
    fn literal_ip_urls_are_checked_before_any_request() {
        let strict = AddressPolicy::default();
        let url = |s: &str| Url::parse(s).expect("url");
        assert!(strict.check_url(&url("http://169.254.169.254/latest/meta-data")).is_err());
        assert!(strict.check_url(&url("http://[::1]:8080/")).is_err());
        assert!(
            strict.check_url(&url("http://0x7f000001/")).is_err(),
            "hex IPv4 is normalised by the URL parser"
        );
        assert!(strict.check_url(&url("https://example.com/")).is_ok(), "names are checked at resolution");
    }

    #[tokio::test]
    async fn the_guarded_client_refuses_names_that_resolve_to_loopback() {
        let upstreams = Upstreams::new(AddressPolicy::default(), Duration::from_secs(2)).expect("clients");
        let err = upstreams.guarded.get("http://localhost:9/").send().await.expect_err("must be refused");
        assert!(is_blocked(&err), "refused by the guard, not by a connection error: {err:?}");
    }
}
