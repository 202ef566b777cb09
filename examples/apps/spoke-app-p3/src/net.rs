//! Socket addresses as the command line writes them, and Spoke's errors as
//! one line of text.

use crate::bindings::spoke::flow::{spoke, types};
use crate::bindings::wasi::sockets::types::{
    IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};

#[path = "../../spoke-app/src/address.rs"]
mod address;

pub use address::{display, port, socket_address};

/// An error of a connection or a session as one line.
pub fn error(e: &types::Error) -> String {
    types::error_message(e)
}

/// A handshake error as one line.
pub fn handshake_error(e: &spoke::HandshakeError) -> String {
    spoke::handshake_error_message(e)
}
