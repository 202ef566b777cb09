//! Opening TCP connections: `connect` to a host name or an IP literal
//! (resolving names through `ip-name-lookup`), `connect-address` to one
//! socket address, and the socket set-up the listener shares.
//!
//! Owns: the resolver stream and the sockets until they are connected (or
//! listening). Never leaves a pollable alive past the socket or stream it
//! watches, and never blocks except while an operation would block.

use std::net::IpAddr;

use wasip2::io::poll::Pollable;
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::ip_name_lookup::resolve_addresses;
use wasip2::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Network};
use wasip2::sockets::tcp::TcpSocket;
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

use super::address;
use super::bindings::exports::spoke::flow::types::Error;
use super::errors;
use super::tcp::TcpFlow;

/// Connects to `host:port`: an IP literal directly, a name through
/// `ip-name-lookup`, trying each address in order (the error is the last's).
pub fn connect(host: &str, port: u16) -> Result<TcpFlow, Error> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return connect_address(address::from_std(ip, port));
    }
    let mut last = Error::NameUnresolvable(host.into());
    for ip in resolve(host)? {
        match connect_address(address::from_std(ip, port)) {
            Ok(flow) => return Ok(flow),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Every address `name` resolves to, in the resolver's order.
fn resolve(name: &str) -> Result<Vec<IpAddr>, Error> {
    let network = instance_network();
    let stream = resolve_addresses(&network, name).map_err(|c| errors::from_lookup(c, name))?;
    let mut found = Vec::new();
    let mut waiter: Option<Pollable> = None;
    loop {
        match stream.resolve_next_address() {
            Ok(Some(ip)) => found.push(address::ip_to_std(ip)),
            Ok(None) => break,
            Err(ErrorCode::WouldBlock) => waiter.get_or_insert_with(|| stream.subscribe()).block(),
            Err(c) => return Err(errors::from_lookup(c, name)),
        }
    }
    drop(waiter);
    if found.is_empty() {
        return Err(Error::NameUnresolvable(name.into()));
    }
    Ok(found)
}

/// Connects to one socket address, without any name lookup.
pub fn connect_address(address: IpSocketAddress) -> Result<TcpFlow, Error> {
    // Before any socket: a flow the budget cannot afford is not opened.
    let reserved = TcpFlow::reserve()?;
    let op = format!("connecting to {}", address::to_std(&address));
    let (socket, network) = open_socket(&address, &op)?;
    socket
        .start_connect(&network, address)
        .map_err(|c| errors::from_code(c, &op))?;
    let (input, output) =
        finish(&socket, TcpSocket::finish_connect).map_err(|c| errors::from_code(c, &op))?;
    Ok(TcpFlow::new(socket, input, output, reserved))
}

/// A new socket for `address`'s family, and the network to use it on;
/// `op` names the operation in an error.
pub fn open_socket(address: &IpSocketAddress, op: &str) -> Result<(TcpSocket, Network), Error> {
    let family = match address {
        IpSocketAddress::Ipv4(_) => IpAddressFamily::Ipv4,
        IpSocketAddress::Ipv6(_) => IpAddressFamily::Ipv6,
    };
    let socket = create_tcp_socket(family).map_err(|c| errors::from_code(c, op))?;
    Ok((socket, instance_network()))
}

/// Finishes an asynchronous socket operation, waiting while it would block.
pub fn finish<T>(
    socket: &TcpSocket,
    op: fn(&TcpSocket) -> Result<T, ErrorCode>,
) -> Result<T, ErrorCode> {
    let mut waiter: Option<Pollable> = None;
    loop {
        match op(socket) {
            Err(ErrorCode::WouldBlock) => waiter.get_or_insert_with(|| socket.subscribe()).block(),
            other => return other,
        }
    }
}
