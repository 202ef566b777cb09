//! The network policy: which addresses an instance may connect to, which it
//! may listen on, and whether it may resolve host names.
//!
//! This module owns the rules and their matching, and turns a denial into
//! the message a user sees. It never touches a socket: wasmtime-wasi asks
//! [`NetworkPolicy::permits`] before every bind, listen, connect and accept.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

use wasmtime_wasi::sockets::SocketAddrUse;

/// Which network operations an instance may perform. Everything is denied
/// unless a rule allows it.
///
/// - [`allow_connect`](Self::allow_connect) /
///   [`allow_connect_range`](Self::allow_connect_range): outgoing TCP
///   connections to an IP address and port (or port range).
/// - [`allow_listen`](Self::allow_listen): binding and listening on a local
///   address; port 0 in the rule means "any port", which is what a listener
///   on an ephemeral port needs. Connections accepted on an allowed listener
///   are accepted from any peer.
/// - [`allow_name_lookup`](Self::allow_name_lookup): resolving host names
///   (off by default; connecting by IP address needs no lookup).
///
/// UDP is never allowed. A TCP connect first binds the socket implicitly to
/// the unspecified address with port 0; that implicit bind is allowed exactly
/// when at least one connect rule exists.
///
/// ```
/// use spoke_host::NetworkPolicy;
/// let policy = NetworkPolicy::deny_all()
///     .allow_connect("127.0.0.1:7000".parse().unwrap())
///     .allow_listen("127.0.0.1:0".parse().unwrap());
/// assert!(policy.to_string().contains("127.0.0.1:7000"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    connect: Vec<ConnectRule>,
    listen: Vec<SocketAddr>,
    name_lookup: bool,
}

/// One connect rule: an IP address and an inclusive port range.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ConnectRule {
    ip: IpAddr,
    ports: RangeInclusive<u16>,
}

impl NetworkPolicy {
    /// The default policy: no connect, no listen, no name lookup.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Allows connecting to exactly `addr` (IP and port).
    pub fn allow_connect(self, addr: SocketAddr) -> Self {
        self.allow_connect_range(addr.ip(), addr.port()..=addr.port())
    }

    /// Allows connecting to `ip` on any port in `ports`
    /// (`0..=u16::MAX` for every port).
    pub fn allow_connect_range(mut self, ip: IpAddr, ports: RangeInclusive<u16>) -> Self {
        self.connect.push(ConnectRule {
            ip: canonical(ip),
            ports,
        });
        self
    }

    /// Allows binding and listening on `addr`. A port of 0 allows any port,
    /// including the ephemeral one the system picks for a bind to port 0.
    pub fn allow_listen(mut self, addr: SocketAddr) -> Self {
        self.listen
            .push(SocketAddr::new(canonical(addr.ip()), addr.port()));
        self
    }

    /// Allows (or forbids, the default) resolving host names.
    pub fn allow_name_lookup(mut self, allow: bool) -> Self {
        self.name_lookup = allow;
        self
    }

    /// Whether host names may be resolved.
    pub fn name_lookup_allowed(&self) -> bool {
        self.name_lookup
    }

    /// Whether connecting to `addr` is allowed.
    pub fn connect_allowed(&self, addr: SocketAddr) -> bool {
        let ip = canonical(addr.ip());
        self.connect
            .iter()
            .any(|r| r.ip == ip && r.ports.contains(&addr.port()))
    }

    /// Whether binding or listening on `addr` is allowed.
    pub fn listen_allowed(&self, addr: SocketAddr) -> bool {
        let ip = canonical(addr.ip());
        self.listen
            .iter()
            .any(|r| r.ip() == ip && (r.port() == 0 || r.port() == addr.port()))
    }

    /// The decision for one check made by wasmtime-wasi.
    pub(crate) fn permits(&self, addr: SocketAddr, usage: SocketAddrUse) -> bool {
        match usage {
            SocketAddrUse::TcpBind => {
                self.listen_allowed(addr) || (is_implicit_bind(addr) && !self.connect.is_empty())
            }
            SocketAddrUse::TcpListen => self.listen_allowed(addr),
            // Only reached on a listener the policy allowed.
            SocketAddrUse::TcpAccept => true,
            SocketAddrUse::TcpConnect => self.connect_allowed(addr),
            SocketAddrUse::UdpBind | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => false,
        }
    }

    /// What a denied connect to `addr` was denied for: the implicit bind
    /// when no connect is allowed at all, else the connect itself.
    pub(crate) fn connect_denial(&self, addr: SocketAddr) -> Denial {
        match self.connect.is_empty() {
            true => Denial::ImplicitBind,
            false => Denial::Connect(addr),
        }
    }

    /// Explains why `denial` happened and how to allow it, in one line.
    pub(crate) fn explain(&self, denial: &Denial) -> String {
        match denial {
            Denial::Connect(addr) => format!(
                "the network policy does not allow connecting to {addr} \
                 (allowed: {}); allow it with NetworkPolicy::allow_connect({addr})",
                self.connect_summary()
            ),
            Denial::ImplicitBind => "the network policy allows no outgoing connection; \
                 allow one with NetworkPolicy::allow_connect(address)"
                .to_string(),
            Denial::Listen(addr) => format!(
                "the network policy does not allow listening on {addr} \
                 (allowed: {}); allow it with NetworkPolicy::allow_listen({addr})",
                self.listen_summary()
            ),
            Denial::NameLookup(name) => format!(
                "the network policy does not allow resolving host names (looking up {name:?}); \
                 connect to an IP address or allow it with NetworkPolicy::allow_name_lookup(true)"
            ),
        }
    }

    fn connect_summary(&self) -> String {
        summary(&self.connect, "no connection", |r| {
            let ip = SocketAddr::new(r.ip, 0).to_string();
            let ip = ip.strip_suffix(":0").unwrap_or(&ip).to_string();
            match (*r.ports.start(), *r.ports.end()) {
                (a, b) if a == b => format!("{ip}:{a}"),
                (0, u16::MAX) => format!("{ip}:any port"),
                (a, b) => format!("{ip}:{a}-{b}"),
            }
        })
    }

    fn listen_summary(&self) -> String {
        summary(&self.listen, "no listening", |a| match a.port() {
            0 => format!("{} any port", a.ip()),
            _ => a.to_string(),
        })
    }
}

/// `rules` shown one by one with `show` and separated by commas, or `none`
/// when there are none.
fn summary<T>(rules: &[T], none: &str, show: impl Fn(&T) -> String) -> String {
    if rules.is_empty() {
        return none.to_string();
    }
    rules.iter().map(show).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for NetworkPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connect: {}; listen: {}; name lookup: {}",
            self.connect_summary(),
            self.listen_summary(),
            if self.name_lookup {
                "allowed"
            } else {
                "denied"
            }
        )
    }
}

impl fmt::Debug for NetworkPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkPolicy({self})")
    }
}

/// A denied operation, remembered so that the error the caller gets can say
/// what was denied even though the guest only learns "access denied".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Denial {
    /// A connect to this address.
    Connect(SocketAddr),
    /// The implicit bind before any connect, when no connect is allowed.
    ImplicitBind,
    /// A bind or listen on this address.
    Listen(SocketAddr),
    /// A name lookup of this host name.
    NameLookup(String),
}

/// The most recent denial of one instance, shared with its policy check.
pub(crate) type DenialLog = Arc<Mutex<Option<Denial>>>;

/// Classifies a denied check for the error message.
pub(crate) fn denial_of(addr: SocketAddr, usage: SocketAddrUse) -> Denial {
    match usage {
        SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend => Denial::Connect(addr),
        SocketAddrUse::TcpBind if is_implicit_bind(addr) => Denial::ImplicitBind,
        _ => Denial::Listen(addr),
    }
}

/// The address wasmtime-wasi checks for the implicit bind of a connect.
fn is_implicit_bind(addr: SocketAddr) -> bool {
    addr.port() == 0 && addr.ip().is_unspecified()
}

/// IPv4-mapped IPv6 addresses match their IPv4 rules and vice versa.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The IPv4 and IPv6 loopback addresses, for policies that allow a port on
/// "localhost" whichever family the peer uses.
pub const LOOPBACK: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_policy_denies_everything() {
        let p = NetworkPolicy::default();
        for usage in [
            SocketAddrUse::TcpBind,
            SocketAddrUse::TcpListen,
            SocketAddrUse::TcpConnect,
            SocketAddrUse::UdpBind,
            SocketAddrUse::UdpSend,
            SocketAddrUse::UdpReceive,
        ] {
            assert!(!p.permits(sa("127.0.0.1:80"), usage), "{usage:?}");
            assert!(!p.permits(sa("0.0.0.0:0"), usage), "{usage:?}");
        }
        assert!(!p.name_lookup_allowed());
    }

    #[test]
    fn a_connect_rule_allows_exactly_its_address_and_the_implicit_bind() {
        let p = NetworkPolicy::deny_all().allow_connect(sa("127.0.0.1:7000"));
        assert!(p.permits(sa("127.0.0.1:7000"), SocketAddrUse::TcpConnect));
        assert!(!p.permits(sa("127.0.0.1:7001"), SocketAddrUse::TcpConnect));
        assert!(!p.permits(sa("127.0.0.2:7000"), SocketAddrUse::TcpConnect));
        assert!(!p.permits(sa("[::1]:7000"), SocketAddrUse::TcpConnect));
        assert!(p.permits(sa("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(p.permits(sa("[::]:0"), SocketAddrUse::TcpBind));
        // Connecting does not make listening possible.
        assert!(!p.permits(sa("0.0.0.0:0"), SocketAddrUse::TcpListen));
        assert!(!p.permits(sa("127.0.0.1:7000"), SocketAddrUse::TcpBind));
        assert!(!p.permits(sa("0.0.0.0:7000"), SocketAddrUse::TcpBind));
    }

    #[test]
    fn a_port_range_is_inclusive() {
        let p = NetworkPolicy::deny_all().allow_connect_range(LOOPBACK[1], 1000..=2000);
        assert!(p.connect_allowed(sa("[::1]:1000")));
        assert!(p.connect_allowed(sa("[::1]:2000")));
        assert!(!p.connect_allowed(sa("[::1]:999")));
        assert!(!p.connect_allowed(sa("[::1]:2001")));
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_rules() {
        let p = NetworkPolicy::deny_all().allow_connect(sa("127.0.0.1:7000"));
        assert!(p.connect_allowed(sa("[::ffff:127.0.0.1]:7000")));
        let p = NetworkPolicy::deny_all().allow_connect(sa("[::ffff:127.0.0.1]:7000"));
        assert!(p.connect_allowed(sa("127.0.0.1:7000")));
    }

    #[test]
    fn a_listen_rule_with_port_zero_allows_any_port_on_that_address() {
        let p = NetworkPolicy::deny_all().allow_listen(sa("127.0.0.1:0"));
        assert!(p.permits(sa("127.0.0.1:0"), SocketAddrUse::TcpBind));
        assert!(p.permits(sa("127.0.0.1:45678"), SocketAddrUse::TcpListen));
        assert!(p.permits(sa("127.0.0.9:1"), SocketAddrUse::TcpAccept));
        assert!(
            !p.permits(sa("0.0.0.0:0"), SocketAddrUse::TcpBind),
            "no connect rule, so no implicit bind"
        );
        assert!(!p.permits(sa("127.0.0.2:45678"), SocketAddrUse::TcpListen));
        assert!(!p.permits(sa("127.0.0.1:45678"), SocketAddrUse::TcpConnect));
    }

    #[test]
    fn a_listen_rule_with_a_port_allows_only_that_port() {
        let p = NetworkPolicy::deny_all().allow_listen(sa("[::1]:8080"));
        assert!(p.listen_allowed(sa("[::1]:8080")));
        assert!(!p.listen_allowed(sa("[::1]:8081")));
        assert!(!p.listen_allowed(sa("[::1]:0")));
    }

    #[test]
    fn udp_is_never_allowed() {
        let p = NetworkPolicy::deny_all()
            .allow_connect_range(LOOPBACK[0], 0..=u16::MAX)
            .allow_listen(sa("127.0.0.1:0"))
            .allow_name_lookup(true);
        for usage in [
            SocketAddrUse::UdpBind,
            SocketAddrUse::UdpSend,
            SocketAddrUse::UdpReceive,
        ] {
            assert!(!p.permits(sa("127.0.0.1:53"), usage));
        }
    }

    #[test]
    fn display_lists_every_rule() {
        let p = NetworkPolicy::deny_all()
            .allow_connect(sa("127.0.0.1:7000"))
            .allow_connect_range(LOOPBACK[1], 1..=9)
            .allow_listen(sa("127.0.0.1:0"))
            .allow_name_lookup(true);
        assert_eq!(
            p.to_string(),
            "connect: 127.0.0.1:7000, [::1]:1-9; listen: 127.0.0.1 any port; name lookup: allowed"
        );
        assert_eq!(
            NetworkPolicy::default().to_string(),
            "connect: no connection; listen: no listening; name lookup: denied"
        );
        assert!(format!("{p:?}").starts_with("NetworkPolicy(connect: "));
    }

    #[test]
    fn denials_name_the_address_and_the_way_to_allow_it() {
        let p = NetworkPolicy::deny_all().allow_connect(sa("127.0.0.1:1"));
        let connect = p.explain(&denial_of(sa("127.0.0.1:9"), SocketAddrUse::TcpConnect));
        assert!(
            connect.contains("127.0.0.1:9") && connect.contains("allow_connect"),
            "{connect}"
        );
        let listen = p.explain(&denial_of(sa("127.0.0.1:0"), SocketAddrUse::TcpBind));
        assert!(
            listen.contains("127.0.0.1:0") && listen.contains("allow_listen"),
            "{listen}"
        );
        let bind = p.explain(&denial_of(sa("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(bind.contains("allow_connect"), "{bind}");
        let lookup = p.explain(&Denial::NameLookup("example.org".into()));
        assert!(
            lookup.contains("example.org") && lookup.contains("allow_name_lookup"),
            "{lookup}"
        );
    }
}
