//! The host's halves of a stream: [`Reader`] (tokio's `AsyncRead`) and
//! [`Writer`] (tokio's `AsyncWrite`), each the host's end of one pipe.
//!
//! Owns what a half's `Drop` means (a dropped reader shuts the read side, a
//! dropped writer ends the direction), keeping the instance running while a
//! half lives, and the `std::io::Error`s the halves give. The bytes and their wakers are the pipe's
//! (`pipe.rs`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::actor::Link;
use super::pipe::Pipe;
use crate::error::{FlowError, WriteError};

/// Reads the bytes of one guest-to-host direction (an `AsyncRead`).
///
/// End-of-stream means the direction ended well (for a TCP connection the
/// peer's FIN, for an encrypted version-2 session also its close marker);
/// an error carries the contract's [`FlowError`](crate::FlowError) and its
/// one-line message. Dropping the reader shuts the read side: the guest
/// sees its stream's reader dropped at its next write.
pub struct Reader {
    pipe: Pipe,
    _link: Option<Link>,
}

/// Writes the bytes of one host-to-guest direction (an `AsyncWrite`).
///
/// `shutdown` ends the direction (a half-close: on TCP a FIN, on an
/// encrypted version-2 session first its close marker) and returns once the
/// guest says every byte was handed on, or with its error. Dropping the
/// writer ends the direction too, without waiting. `flush` waits until the
/// guest has taken every byte written.
pub struct Writer {
    pipe: Pipe,
    _link: Option<Link>,
}

impl Reader {
    /// The host's reading end of `pipe`, keeping `link`'s instance running.
    pub(crate) fn new(pipe: &Pipe, link: Link) -> Self {
        Self {
            pipe: pipe.clone(),
            _link: Some(link),
        }
    }

    /// The host's reading end of `pipe`, for the library's own copies: it
    /// does not keep the instance running.
    pub(crate) fn detached(pipe: &Pipe) -> Self {
        Self {
            pipe: pipe.clone(),
            _link: None,
        }
    }
}

impl Writer {
    /// The host's writing end of `pipe`, keeping `link`'s instance running.
    pub(crate) fn new(pipe: &Pipe, link: Link) -> Self {
        Self {
            pipe: pipe.clone(),
            _link: Some(link),
        }
    }

    /// The host's writing end of `pipe`, for the library's own copies: it
    /// does not keep the instance running.
    pub(crate) fn detached(pipe: &Pipe) -> Self {
        Self {
            pipe: pipe.clone(),
            _link: None,
        }
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.pipe.poll_read(cx, buf)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.pipe.abandon();
    }
}

impl AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pipe.poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pipe.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pipe.poll_shutdown(cx)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.pipe.finish();
    }
}

/// The `std::io::Error` for a direction's error: its kind follows the case,
/// its message is the one line, and `get_ref` gives the [`FlowError`].
pub(crate) fn io_error(e: &FlowError) -> io::Error {
    let kind = match e {
        FlowError::ConnectionRefused => io::ErrorKind::ConnectionRefused,
        FlowError::ConnectionReset => io::ErrorKind::ConnectionReset,
        FlowError::TimedOut => io::ErrorKind::TimedOut,
        FlowError::NameUnresolvable(_) => io::ErrorKind::NotFound,
        FlowError::PermissionDenied(_) => io::ErrorKind::PermissionDenied,
        FlowError::Corrupted => io::ErrorKind::InvalidData,
        FlowError::Truncated => io::ErrorKind::UnexpectedEof,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.clone())
}

/// The error of a write to a direction whose far end stopped taking bytes
/// although its future said nothing went wrong.
pub(crate) fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, WriteError::Closed)
}
