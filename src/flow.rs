//! The `flow` resource: one type for every kind of flow (plain TCP or a
//! layer such as the spoke encryption over another flow), dispatching each
//! operation to the kind it holds.
//!
//! Owns: the interior mutability of a flow (a `RefCell`, borrowed with
//! `try_borrow_mut` so that misuse, such as the same flow passed twice to a
//! combinator, is an error rather than a panic). Never does protocol work.

use std::cell::{RefCell, RefMut};

use wasip2::io::poll::Pollable;
use wasip2::sockets::network::IpSocketAddress;

use super::bindings::exports::spoke::flow::types::{Error, ShutdownMode, WriteError};
use super::errors;
use super::secure::SecureFlow;
use super::tcp::TcpFlow;

/// What a flow is made of.
pub enum Conn {
    /// A TCP connection.
    Tcp(TcpFlow),
    /// The spoke encryption over another flow, which it owns.
    Secure(Box<SecureFlow>),
}

impl Conn {
    /// Reads between 1 and `max` bytes, `None` at end-of-stream.
    pub fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Conn::Tcp(t) => t.read(max),
            Conn::Secure(s) => s.read(max),
        }
    }

    /// Reads without blocking: `Ok(None)` when a read would block.
    pub fn try_read(&mut self, max: u32) -> Result<Option<Option<Vec<u8>>>, Error> {
        match self {
            Conn::Tcp(t) => t.try_read(max),
            Conn::Secure(s) => s.try_read(max),
        }
    }

    /// Writes every byte.
    pub fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        match self {
            Conn::Tcp(t) => t.write(data),
            Conn::Secure(s) => s.write(data),
        }
    }

    /// Writes each buffer in order.
    pub fn writev(&mut self, data: &[Vec<u8>]) -> Result<(), WriteError> {
        match self {
            Conn::Tcp(t) => t.writev(data),
            Conn::Secure(s) => s.writev(data),
        }
    }

    /// Shuts one or both directions.
    pub fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), WriteError> {
        match self {
            Conn::Tcp(t) => {
                let r = match mode {
                    ShutdownMode::Read => Ok(()),
                    ShutdownMode::Write | ShutdownMode::ReadWrite => t.shutdown_write(),
                };
                if !matches!(mode, ShutdownMode::Write) {
                    t.shutdown_read();
                }
                r
            }
            Conn::Secure(s) => s.shutdown(mode),
        }
    }

    /// Shuts everything and frees the connection (and any flow beneath).
    pub fn close(&mut self) {
        match self {
            Conn::Tcp(t) => t.close(),
            Conn::Secure(s) => s.close(),
        }
    }

    /// A pollable for the caller, ready when a read would not block.
    pub fn subscribe(&mut self) -> Pollable {
        match self {
            Conn::Tcp(t) => t.subscribe(),
            Conn::Secure(s) => s.subscribe(),
        }
    }

    /// Makes the pollables that `read_wait` and `write_wait` lend.
    pub fn prepare_waits(&mut self) {
        match self {
            Conn::Tcp(t) => t.prepare_waits(),
            Conn::Secure(s) => s.prepare_waits(),
        }
    }

    /// What to wait on before a read, or `None` if a read would not block.
    pub fn read_wait(&self) -> Option<&Pollable> {
        match self {
            Conn::Tcp(t) => t.read_wait(),
            Conn::Secure(s) => s.read_wait(),
        }
    }

    /// What to wait on before `write_some` can make progress, or `None` if
    /// it can now.
    pub fn write_wait(&self) -> Option<&Pollable> {
        match self {
            Conn::Tcp(t) => t.write_wait(),
            Conn::Secure(s) => s.write_wait(),
        }
    }

    /// Writes what can be written without blocking; returns how much of
    /// `data` it took. With empty `data` it pushes along bytes a layer still
    /// holds (see `has_pending_output`).
    pub fn write_some(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        match self {
            Conn::Tcp(t) => t.write_some(data),
            Conn::Secure(s) => s.write_some(data),
        }
    }

    /// Whether bytes taken by `write_some` are still held back by a layer.
    pub fn has_pending_output(&self) -> bool {
        match self {
            Conn::Tcp(_) => false,
            Conn::Secure(s) => s.has_pending_output(),
        }
    }

    /// The local address of the connection beneath.
    pub fn local_address(&self) -> Result<IpSocketAddress, Error> {
        match self {
            Conn::Tcp(t) => t.local_address(),
            Conn::Secure(s) => s.local_address(),
        }
    }

    /// The peer's address of the connection beneath.
    pub fn remote_address(&self) -> Result<IpSocketAddress, Error> {
        match self {
            Conn::Tcp(t) => t.remote_address(),
            Conn::Secure(s) => s.remote_address(),
        }
    }
}

/// The Rust value behind a `flow` resource handle.
pub struct FlowResource {
    conn: RefCell<Option<Conn>>,
}

impl FlowResource {
    /// Wraps a connection.
    pub fn new(conn: Conn) -> Self {
        FlowResource {
            conn: RefCell::new(Some(conn)),
        }
    }

    /// Borrows the connection for one operation; an error if it is already
    /// borrowed (re-entrant use) or was moved into a layer.
    pub fn borrow(&self) -> Result<RefMut<'_, Conn>, Error> {
        let guard = self
            .conn
            .try_borrow_mut()
            .map_err(|_| errors::busy_flow())?;
        RefMut::filter_map(guard, Option::as_mut).map_err(|_| errors::closed_flow())
    }

    /// Takes the connection out, for a layer that will own it.
    pub fn take(&self) -> Result<Conn, Error> {
        let mut guard = self
            .conn
            .try_borrow_mut()
            .map_err(|_| errors::busy_flow())?;
        guard.take().ok_or_else(errors::closed_flow)
    }
}
