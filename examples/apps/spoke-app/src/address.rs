//! Socket addresses as the command line writes them, for both bindings
//! crates (`spoke-app-p3` includes this file by path): the WASI socket
//! address types, the same in 0.2 and 0.3, are the ones the including
//! `net` module imports.

use std::net::{IpAddr, SocketAddr};

use super::{IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress};

/// `ip` (an IPv4 or IPv6 literal) and `port` as a WASI socket address.
pub fn socket_address(ip: &str, port: u16) -> Result<IpSocketAddress, String> {
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("{ip:?} is not an IP address"))?;
    Ok(match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port,
                address: (a, b, c, d),
            })
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port,
                flow_info: 0,
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: 0,
            })
        }
    })
}

/// A WASI socket address in the usual notation (`127.0.0.1:80`, `[::1]:80`).
pub fn display(addr: &IpSocketAddress) -> String {
    let std: SocketAddr = match *addr {
        IpSocketAddress::Ipv4(a) => {
            let (w, x, y, z) = a.address;
            SocketAddr::from(([w, x, y, z], a.port))
        }
        IpSocketAddress::Ipv6(a) => {
            let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
            SocketAddr::from(([s0, s1, s2, s3, s4, s5, s6, s7], a.port))
        }
    };
    std.to_string()
}

/// A port number from the command line.
pub fn port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a port number"))
}
