//! A listening TCP socket that hands out accepted connections as flows.
//!
//! Owns: the listening socket and the pollable it waits on. Never drops the
//! socket before that pollable, and never blocks except in `accept`.

use wasip2::io::poll::Pollable;
use wasip2::sockets::network::{ErrorCode, IpSocketAddress};
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};

use super::address;
use super::bindings::exports::spoke::flow::types::Error;
use super::connect::{finish, open_socket};
use super::errors;
use super::tcp::TcpFlow;

/// A bound, listening TCP socket.
pub struct Listener {
    /// Ready when an accept would not block (made lazily; dropped first).
    acceptable: Option<Pollable>,
    socket: TcpSocket,
}

impl Listener {
    /// Binds to `address` (port 0 picks an ephemeral port) and listens.
    pub fn bind(address: IpSocketAddress) -> Result<Listener, Error> {
        let op = format!("listening on {}", address::to_std(&address));
        let (socket, network) = open_socket(&address, &op)?;
        socket
            .start_bind(&network, address)
            .map_err(|c| errors::from_code(c, &op))?;
        finish(&socket, TcpSocket::finish_bind).map_err(|c| errors::from_code(c, &op))?;
        socket
            .start_listen()
            .map_err(|c| errors::from_code(c, &op))?;
        finish(&socket, TcpSocket::finish_listen).map_err(|c| errors::from_code(c, &op))?;
        Ok(Listener {
            acceptable: None,
            socket,
        })
    }

    /// The address actually bound.
    pub fn local_address(&self) -> Result<IpSocketAddress, Error> {
        self.socket
            .local_address()
            .map_err(|c| errors::from_code(c, "reading the listener's address"))
    }

    /// Waits for the next connection. One that the instance's buffer
    /// budget cannot afford is closed at once (its peer sees the
    /// connection end) and the error says why, so that a server at its
    /// limit still drains its backlog instead of leaving peers waiting.
    pub fn accept(&mut self) -> Result<TcpFlow, Error> {
        loop {
            match self.socket.accept() {
                Ok((socket, input, output)) => {
                    let reserved = match TcpFlow::reserve() {
                        Ok(r) => r,
                        Err(e) => {
                            let _ = socket.shutdown(ShutdownType::Both);
                            drop((input, output));
                            return Err(e);
                        }
                    };
                    return Ok(TcpFlow::new(socket, input, output, reserved));
                }
                Err(ErrorCode::WouldBlock) => {
                    let socket = &self.socket;
                    self.acceptable
                        .get_or_insert_with(|| socket.subscribe())
                        .block();
                }
                Err(c) => return Err(errors::from_code(c, "accepting a connection")),
            }
        }
    }

    /// A pollable for the caller, ready when `accept` would not block.
    pub fn subscribe(&self) -> Pollable {
        self.socket.subscribe()
    }
}
