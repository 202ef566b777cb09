//! Conversions between `wasi:sockets` addresses and the standard
//! library's, for parsing IP literals and for naming an address in a
//! message.
//!
//! Owns: nothing but the conversions. Never performs I/O and never fails.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use wasip2::sockets::network::{IpAddress, IpSocketAddress};

/// Converts a `wasi` socket address to the standard library's.
pub fn to_std(addr: &IpSocketAddress) -> SocketAddr {
    match *addr {
        IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(x, y, z, w), a.port))
        }
        IpSocketAddress::Ipv6(a) => {
            let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7),
                a.port,
                a.flow_info,
                a.scope_id,
            ))
        }
    }
}

/// Converts an IP address and port to a `wasi` socket address.
pub fn from_std(ip: IpAddr, port: u16) -> IpSocketAddress {
    use wasip2::sockets::network::{Ipv4SocketAddress, Ipv6SocketAddress};
    match ip {
        IpAddr::V4(v4) => {
            let [x, y, z, w] = v4.octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port,
                address: (x, y, z, w),
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
    }
}

/// Converts a resolved `wasi` IP address to the standard library's.
pub fn ip_to_std(ip: IpAddress) -> IpAddr {
    match ip {
        IpAddress::Ipv4((x, y, z, w)) => IpAddr::V4(Ipv4Addr::new(x, y, z, w)),
        IpAddress::Ipv6((s0, s1, s2, s3, s4, s5, s6, s7)) => {
            IpAddr::V6(Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_convert_both_ways() {
        for text in ["127.0.0.1:4433", "[::1]:80", "10.1.2.3:0"] {
            let std: SocketAddr = text.parse().expect("a valid address");
            assert_eq!(to_std(&from_std(std.ip(), std.port())), std);
        }
    }
}
