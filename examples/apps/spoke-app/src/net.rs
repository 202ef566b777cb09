//! Socket addresses as the command line writes them, and Spoke's errors as
//! one line of text.

use wasip2::sockets::network::{IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress};

use crate::bindings::spoke::flow::{spoke, types};

#[path = "address.rs"]
mod address;

pub use address::{display, port, socket_address};

/// A flow error as one line.
pub fn error(e: &types::Error) -> String {
    types::error_message(e)
}

/// A write error as one line.
pub fn write_error(e: &types::WriteError) -> String {
    types::write_error_message(e)
}

/// A handshake error as one line.
pub fn handshake_error(e: &spoke::HandshakeError) -> String {
    spoke::handshake_error_message(e)
}
