//! The process's standard input and output as the byte streams
//! `Instance::pipe` takes, without a thread hop per chunk where none is
//! needed.
//!
//! A regular file (`< file`, `> file`) is read and written directly: such a
//! read or write never waits on anything but the disk, so doing it on the
//! runtime's thread costs less than handing it to another thread. Pipes,
//! terminals and sockets go through tokio's standard streams, which do the
//! waiting on a thread of their own.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Standard input, read directly when it is a regular file.
pub fn stdin() -> Box<dyn AsyncRead + Send + Sync + Unpin> {
    match regular_file(std::io::stdin().as_fd()) {
        Some(file) => Box::new(Direct(file)),
        None => Box::new(tokio::io::stdin()),
    }
}

/// Standard output, written directly when it is a regular file.
pub fn stdout() -> Box<dyn AsyncWrite + Send + Sync + Unpin> {
    match regular_file(std::io::stdout().as_fd()) {
        Some(file) => Box::new(Direct(file)),
        None => Box::new(tokio::io::stdout()),
    }
}

/// A file of its own on `fd` if `fd` is a regular file.
fn regular_file(fd: std::os::fd::BorrowedFd<'_>) -> Option<File> {
    let file = File::from(fd.try_clone_to_owned().ok()?);
    file.metadata()
        .ok()
        .filter(|m| m.file_type().is_file())
        .map(|_| file)
}

/// A blocking reader or writer that never waits on anything but the disk
/// (a regular file, or a writer that checks or hashes what it is given),
/// used as an async one in the calling thread: never pending.
pub struct Direct<T>(pub T);

impl<T: Read + Unpin> AsyncRead for Direct<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.0.read(buf.initialize_unfilled())?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: Write + Unpin> AsyncWrite for Direct<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.0.write(buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.0.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush(cx)
    }
}
