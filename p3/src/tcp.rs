//! TCP over `wasi:sockets@0.3.0`: `connect` (resolving names), `listener`,
//! and `connection`, whose two directions are the socket's own streams.
//!
//! Owns: the sockets until their directions are taken, and the small tasks
//! that turn the socket's `error-code` futures into the contract's `error`.
//! Never copies a plain byte: the caller's streams go straight to the host.

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, SocketAddr};

use super::bindings::exports::spoke::flow::tcp::{GuestConnection, GuestListener};
use super::bindings::exports::spoke::flow::types::Error;
use super::bindings::wasi::sockets::ip_name_lookup::resolve_addresses;
use super::bindings::wasi::sockets::types::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    TcpSocket,
};
use super::bindings::{wit_future, wit_stream};
use super::errors;
use wit_bindgen::{FutureReader, StreamReader};

/// How one direction of a connection ended, as the contract says it.
pub type Ending = FutureReader<Result<(), Error>>;

/// Connects to `host:port`: an IP literal directly, a name through
/// `ip-name-lookup`, trying each address in order (the error is the last's).
pub async fn connect(host: &str, port: u16) -> Result<Connection, Error> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return connect_address(from_std(SocketAddr::new(ip, port))).await;
    }
    let found = resolve_addresses(host.to_string())
        .await
        .map_err(|c| errors::from_lookup(c, host))?;
    let mut last = Error::NameUnresolvable(host.into());
    for ip in found {
        match connect_address(with_port(ip, port)).await {
            Ok(conn) => return Ok(conn),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Connects to one socket address, without any name lookup.
pub async fn connect_address(address: IpSocketAddress) -> Result<Connection, Error> {
    let op = format!("connecting to {}", to_std(&address));
    let socket = TcpSocket::create(family(&address)).map_err(|c| errors::from_code(c, &op))?;
    socket
        .connect(address)
        .await
        .map_err(|c| errors::from_code(c, &op))?;
    Ok(Connection::new(socket))
}

/// The Rust value behind a `connection` handle: the socket, and which of
/// its directions were taken.
pub struct Connection {
    socket: TcpSocket,
    received: Cell<bool>,
    sent: Cell<bool>,
}

impl Connection {
    fn new(socket: TcpSocket) -> Self {
        Connection {
            socket,
            received: Cell::new(false),
            sent: Cell::new(false),
        }
    }
}

impl Connection {
    /// The socket, for a session that takes both directions; fails if one
    /// was already taken.
    pub fn into_socket(self) -> Result<TcpSocket, Error> {
        if self.received.get() || self.sent.get() {
            return Err(errors::invalid_state(
                "a direction of the connection was already taken",
            ));
        }
        Ok(self.socket)
    }
}

impl GuestConnection for Connection {
    async fn receive(&self) -> (StreamReader<u8>, Ending) {
        if self.received.replace(true) {
            let (writer, reader) = wit_stream::new::<u8>();
            drop(writer);
            return (
                reader,
                failed(errors::invalid_state("receive was already called")),
            );
        }
        let (bytes, ended) = self.socket.receive();
        (bytes, forward(ended, "receiving"))
    }

    async fn send(&self, data: StreamReader<u8>) -> Ending {
        if self.sent.replace(true) {
            return failed(errors::invalid_state("send was already called"));
        }
        forward(self.socket.send(data), "sending")
    }

    fn local_address(&self) -> Result<IpSocketAddress, Error> {
        self.socket
            .get_local_address()
            .map_err(|c| errors::from_code(c, "reading the local address"))
    }

    fn remote_address(&self) -> Result<IpSocketAddress, Error> {
        self.socket
            .get_remote_address()
            .map_err(|c| errors::from_code(c, "reading the peer's address"))
    }
}

/// The Rust value behind a `listener` handle: the listening socket and the
/// stream of the connections it accepts.
pub struct Listener {
    socket: TcpSocket,
    accepted: RefCell<StreamReader<TcpSocket>>,
}

// `accept`'s borrow spans its wait on purpose: a second `accept` meanwhile
// gets `invalid-state` from `try_borrow_mut`, never a panic.
#[allow(clippy::await_holding_refcell_ref)]
impl GuestListener for Listener {
    fn bind(
        address: IpSocketAddress,
    ) -> Result<super::bindings::exports::spoke::flow::tcp::Listener, Error> {
        let op = format!("listening on {}", to_std(&address));
        let socket = TcpSocket::create(family(&address)).map_err(|c| errors::from_code(c, &op))?;
        socket
            .bind(address)
            .map_err(|c| errors::from_code(c, &op))?;
        let accepted = socket.listen().map_err(|c| errors::from_code(c, &op))?;
        Ok(super::bindings::exports::spoke::flow::tcp::Listener::new(
            Listener {
                socket,
                accepted: RefCell::new(accepted),
            },
        ))
    }

    fn local_address(&self) -> Result<IpSocketAddress, Error> {
        self.socket
            .get_local_address()
            .map_err(|c| errors::from_code(c, "reading the listener's address"))
    }

    async fn accept(
        &self,
    ) -> Result<super::bindings::exports::spoke::flow::tcp::Connection, Error> {
        let Ok(mut accepted) = self.accepted.try_borrow_mut() else {
            return Err(errors::invalid_state(
                "another accept on this listener is still waiting",
            ));
        };
        match accepted.next().await {
            Some(socket) => Ok(super::bindings::exports::spoke::flow::tcp::Connection::new(
                Connection::new(socket),
            )),
            None => Err(errors::other("the listener stopped accepting".into())),
        }
    }
}

/// A future that says `error` as soon as it is read. Must be called from
/// an `async` export, whose task writes it.
pub fn failed(error: Error) -> Ending {
    let (writer, reader) = wit_future::new::<Result<(), Error>>(cut_off);
    wit_bindgen::spawn_local(async move {
        let _ = writer.write(Err(error)).await;
    });
    reader
}

/// What a direction's future says if its task is gone before it could
/// say anything else.
pub fn cut_off() -> Result<(), Error> {
    Err(errors::other("the direction was cut off".into()))
}

/// The contract's future for a socket's: the same outcome, its error
/// mapped; `what` names the direction in a message.
fn forward(ended: FutureReader<Result<(), ErrorCode>>, what: &'static str) -> Ending {
    let (writer, reader) = wit_future::new::<Result<(), Error>>(cut_off);
    wit_bindgen::spawn_local(async move {
        let outcome = ended.await.map_err(|c| errors::from_code(c, what));
        let _ = writer.write(outcome).await;
    });
    reader
}

fn family(address: &IpSocketAddress) -> IpAddressFamily {
    match address {
        IpSocketAddress::Ipv4(_) => IpAddressFamily::Ipv4,
        IpSocketAddress::Ipv6(_) => IpAddressFamily::Ipv6,
    }
}

/// Converts a `wasi` socket address to the standard library's.
pub fn to_std(addr: &IpSocketAddress) -> SocketAddr {
    match *addr {
        IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            SocketAddr::from(([x, y, z, w], a.port))
        }
        IpSocketAddress::Ipv6(a) => {
            let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
            SocketAddr::V6(std::net::SocketAddrV6::new(
                [s0, s1, s2, s3, s4, s5, s6, s7].into(),
                a.port,
                a.flow_info,
                a.scope_id,
            ))
        }
    }
}

/// Converts the standard library's socket address to a `wasi` one.
fn from_std(addr: SocketAddr) -> IpSocketAddress {
    match addr {
        SocketAddr::V4(v4) => {
            let [x, y, z, w] = v4.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: v4.port(),
                address: (x, y, z, w),
            })
        }
        SocketAddr::V6(v6) => {
            let [s0, s1, s2, s3, s4, s5, s6, s7] = v6.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: v6.port(),
                flow_info: v6.flowinfo(),
                address: (s0, s1, s2, s3, s4, s5, s6, s7),
                scope_id: v6.scope_id(),
            })
        }
    }
}

/// A resolved address with `port`.
fn with_port(ip: IpAddress, port: u16) -> IpSocketAddress {
    match ip {
        IpAddress::Ipv4(address) => IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address }),
        IpAddress::Ipv6(address) => IpSocketAddress::Ipv6(Ipv6SocketAddress {
            port,
            flow_info: 0,
            address,
            scope_id: 0,
        }),
    }
}
