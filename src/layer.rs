//! The one trait every kind of flow implements: a TCP connection, the spoke
//! encryption over another flow, and any later transport or cipher layer.
//! A new layer is one `impl Layer`; the `flow` resource, the combinators and
//! the layers above it reach it only through this trait.
//!
//! Owns: the operations a flow offers (blocking and non-blocking), the
//! readiness it lends to the combinators' wait loop, and the sticky
//! read/write states layers share. Never holds a flow itself, and never
//! costs more than one dynamic call per operation.

use wasip2::io::poll::Pollable;
use wasip2::io::streams::OutputStream;
use wasip2::sockets::network::IpSocketAddress;

use super::bindings::exports::spoke::flow::spoke::Cipher;
use super::bindings::exports::spoke::flow::types::{Error, ShutdownMode, WriteError};
use super::ends::Fill;
use super::splice::{SpliceError, Spliced};

/// A flow of any kind, as the `flow` resource and the layers above it hold it.
pub type Conn = Box<dyn Layer>;

/// What a flow does. Reads return between 1 and `max` bytes; writes take
/// every byte unless they say otherwise.
pub trait Layer {
    /// Reads between 1 and `max` bytes, `None` at end-of-stream; blocks
    /// until there is something to return.
    fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, Error>;

    /// Reads without blocking: `Ok(None)` when a read would block,
    /// `Ok(Some(None))` at end-of-stream.
    fn try_read(&mut self, max: u32) -> Result<Option<Option<Vec<u8>>>, Error>;

    /// Writes every byte of `data`.
    fn write(&mut self, data: &[u8]) -> Result<(), WriteError>;

    /// Writes each buffer in order.
    fn writev(&mut self, data: &[Vec<u8>]) -> Result<(), WriteError>;

    /// Writes what can be written without blocking; returns how much of
    /// `data` it took. With empty `data` it pushes along bytes a layer still
    /// holds (see [`Layer::has_pending_output`]).
    fn write_some(&mut self, data: &[u8]) -> Result<usize, WriteError>;

    /// Whether bytes taken by `write_some` are still held back by a layer.
    fn has_pending_output(&self) -> bool {
        false
    }

    /// Shuts one or both directions.
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), WriteError>;

    /// Ends the writing because what was being written failed upstream:
    /// the peer must not take this end for a clean one. An encrypting
    /// layer sends what it already took but not its close marker (so a
    /// version-2 peer reads `truncated`), and ends the flow beneath the
    /// same way; a TCP flow can only shut its write side.
    fn abort_write(&mut self) {
        let _ = self.shutdown(ShutdownMode::Write);
    }

    /// Shuts everything and frees the connection (and any flow beneath).
    /// Idempotent.
    fn close(&mut self);

    /// A pollable for the caller, ready when a read would not block.
    fn subscribe(&mut self) -> Pollable;

    /// Makes the pollables that `read_wait` and `write_wait` lend.
    fn prepare_waits(&mut self);

    /// What to wait on before a read, or `None` if a read would not block.
    /// Call `prepare_waits` first.
    fn read_wait(&self) -> Option<&Pollable>;

    /// What to wait on before `write_some` can make progress, or `None` if
    /// it can now. Call `prepare_waits` first.
    fn write_wait(&self) -> Option<&Pollable>;

    /// The local address of the connection beneath.
    fn local_address(&self) -> Result<IpSocketAddress, Error>;

    /// The peer's address of the connection beneath.
    fn remote_address(&self) -> Result<IpSocketAddress, Error>;

    /// The ciphers (server-to-client first) of an encrypting layer.
    fn ciphers(&self) -> Option<(Cipher, Cipher)> {
        None
    }

    /// Whether this flow's bytes can move inside the host, never entering
    /// the guest: then the `splice_*` methods below act (they return `None`
    /// otherwise, and the combinators read and write instead).
    fn splices(&self) -> bool {
        false
    }

    /// Moves what has arrived into `out` without blocking, inside the host
    /// (`wasi:io/streams.splice`; bytes already taken in are written first).
    fn splice_out(&mut self, out: &OutputStream) -> Option<Result<Spliced, SpliceError>> {
        let _ = out;
        None
    }

    /// Lends this flow's output stream to `fill`, which splices into it
    /// without blocking, and keeps a write failure `fill` reports.
    fn splice_in(&mut self, fill: &mut Fill<'_>) -> Option<Result<Spliced, SpliceError>> {
        let _ = fill;
        None
    }

    /// [`Layer::splice_out`] into this flow's own output: one step of an
    /// echo of the peer, inside the host.
    fn splice_back(&mut self) -> Option<Result<Spliced, SpliceError>> {
        None
    }
}

/// What a later read of a layer returns.
pub enum ReadSide {
    /// Reads go to the connection.
    Open,
    /// End-of-stream was seen, or the read side was shut.
    Ended,
    /// A read failed; every later read fails the same way.
    Failed(Error),
}

impl ReadSide {
    /// The sticky state after a read that ended (`None`) or failed.
    pub fn after(failure: Option<Error>) -> ReadSide {
        match failure {
            None => ReadSide::Ended,
            Some(e) => ReadSide::Failed(e),
        }
    }
}

/// What a later write to a layer does.
pub enum WriteSide {
    /// Writes go to the connection.
    Open,
    /// The write side was shut (or the flow closed): writes fail with `closed`.
    Shut,
    /// A write failed; every later write fails the same way.
    Failed(WriteError),
}

impl WriteSide {
    /// `Ok` while writes are possible, else the error every write returns.
    pub fn check(&self) -> Result<(), WriteError> {
        match self {
            WriteSide::Open => Ok(()),
            WriteSide::Shut => Err(WriteError::Closed),
            WriteSide::Failed(e) => Err(e.clone()),
        }
    }
}
