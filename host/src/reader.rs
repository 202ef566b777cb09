//! An input stream for the guest over any [`AsyncRead`] (a command's
//! standard input, the input of [`Instance::pipe`](crate::Instance::pipe)),
//! read on the guest's own thread.
//!
//! wasmtime's `AsyncStdinStream` reads on a task of its own and hands each
//! chunk over through a channel that holds one, so every read by the guest
//! waits for a wake-up across threads. Here a guest's `read` polls the
//! reader itself: a reader that has bytes (a file, a pipe with data, an
//! in-memory source) answers at once, and one that has none registers the
//! guest's pollable to be woken when it does.
//!
//! Owns: the reader, at most one chunk that was read while the guest only
//! waited for readiness, and the stream's end. Every handle the guest opens
//! on the stream shares them, so they advance together.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use wasmtime_wasi::cli::{IsTerminal, StdinStream};
use wasmtime_wasi::p2::{InputStream, Pollable, StreamError};

/// The most one read takes from the reader: as much as the guest's bulk
/// reads ask for, so a spliced byte stream moves in large pieces.
const CHUNK: usize = 256 * 1024;

/// An input stream from any [`AsyncRead`], shared by every handle the guest
/// opens on it.
#[derive(Clone)]
pub(crate) struct ReaderStream(Arc<Mutex<Shared>>);

struct Shared {
    reader: Pin<Box<dyn AsyncRead + Send + Sync>>,
    /// Bytes read while waiting for readiness, not yet returned.
    held: Bytes,
    /// How the stream ended, once it has: `None` inside is end-of-stream.
    ended: Option<Option<String>>,
    /// What the stream is called in error messages ("standard input").
    name: &'static str,
}

impl ReaderStream {
    /// A stream that yields what `reader` yields, then end-of-stream;
    /// `name` says what it is in error messages.
    pub(crate) fn new(reader: impl AsyncRead + Send + Sync + 'static, name: &'static str) -> Self {
        Self(Arc::new(Mutex::new(Shared {
            reader: Box::pin(reader),
            held: Bytes::new(),
            ended: None,
            name,
        })))
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A poisoned lock only means a panic elsewhere; the state is whole.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Shared {
    /// Reads up to `max` bytes from the reader into `held` if it has any
    /// now; notes the end. Ready once there is something to report.
    fn fill(&mut self, max: usize, cx: &mut Context<'_>) -> Poll<()> {
        if !self.held.is_empty() || self.ended.is_some() {
            return Poll::Ready(());
        }
        let mut buf = BytesMut::with_capacity(max.clamp(1, CHUNK));
        // A read future that is pending holds no bytes: dropping it loses
        // nothing, and the reader keeps the waker it was given.
        let read = pin!(self.reader.read_buf(&mut buf)).poll(cx);
        match read {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(0)) => self.ended = Some(None),
            Poll::Ready(Ok(_)) => self.held = buf.freeze(),
            Poll::Ready(Err(e)) => self.ended = Some(Some(e.to_string())),
        }
        Poll::Ready(())
    }

    /// Takes up to `size` held bytes, or reports the end.
    fn take(&mut self, size: usize) -> Result<Bytes, StreamError> {
        if !self.held.is_empty() {
            let n = size.min(self.held.len());
            return Ok(self.held.split_to(n));
        }
        match &self.ended {
            None => Ok(Bytes::new()),
            Some(None) => Err(StreamError::Closed),
            Some(Some(e)) => Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                "reading {}: {e}",
                self.name
            ))),
        }
    }
}

impl IsTerminal for ReaderStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdinStream for ReaderStream {
    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncRead + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl InputStream for ReaderStream {
    fn read(&mut self, size: usize) -> Result<Bytes, StreamError> {
        if size == 0 {
            return Ok(Bytes::new());
        }
        let mut shared = self.shared();
        // Without a waker: whoever waits on readiness registers their own.
        let _ = shared.fill(size, &mut Context::from_waker(Waker::noop()));
        shared.take(size)
    }
}

#[async_trait::async_trait]
impl Pollable for ReaderStream {
    async fn ready(&mut self) {
        std::future::poll_fn(|cx| self.shared().fill(CHUNK, cx)).await
    }
}

impl AsyncRead for ReaderStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let mut shared = self.shared();
        std::task::ready!(shared.fill(buf.remaining(), cx));
        match shared.take(buf.remaining()) {
            Ok(bytes) => {
                buf.put_slice(&bytes);
                Poll::Ready(Ok(()))
            }
            Err(StreamError::Closed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(std::io::Error::other(e.to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that is pending once before each chunk it yields, waking
    /// the last waker it was given when it becomes ready.
    struct Slow {
        chunks: Vec<&'static [u8]>,
        ready: bool,
    }

    impl AsyncRead for Slow {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if !self.ready {
                self.ready = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.ready = false;
            if !self.chunks.is_empty() {
                let c = self.chunks.remove(0);
                buf.put_slice(c);
            }
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_read_with_nothing_there_is_empty_and_readiness_brings_the_bytes() {
        let mut stdin = ReaderStream::new(
            Slow {
                chunks: vec![b"hello ", b"world"],
                ready: false,
            },
            "standard input",
        );
        assert!(InputStream::read(&mut stdin, 100).unwrap().is_empty());
        let mut got = Vec::new();
        loop {
            stdin.ready().await;
            match InputStream::read(&mut stdin, 4) {
                Ok(b) => got.extend_from_slice(&b),
                Err(StreamError::Closed) => break,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(got, b"hello world");
    }

    #[tokio::test]
    async fn handles_on_the_same_input_advance_together() {
        let stdin = ReaderStream::new(&b"abcdef"[..], "standard input");
        let mut one = stdin.p2_stream();
        let mut two = stdin.p2_stream();
        assert_eq!(&one.as_mut().read(2).unwrap()[..], b"ab");
        assert_eq!(&two.as_mut().read(2).unwrap()[..], b"cd");
        assert_eq!(&one.as_mut().read(10).unwrap()[..], b"ef");
        assert!(matches!(two.as_mut().read(1), Err(StreamError::Closed)));
        assert!(matches!(one.as_mut().read(1), Err(StreamError::Closed)));
    }

    #[tokio::test]
    async fn a_failing_reader_is_an_error_that_names_standard_input() {
        struct Broken;
        impl AsyncRead for Broken {
            fn poll_read(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &mut ReadBuf<'_>,
            ) -> Poll<std::io::Result<()>> {
                Poll::Ready(Err(std::io::Error::other("disk on fire")))
            }
        }
        let mut stdin = ReaderStream::new(Broken, "standard input");
        match InputStream::read(&mut stdin, 10) {
            Err(StreamError::LastOperationFailed(e)) => {
                assert_eq!(e.to_string(), "reading standard input: disk on fire")
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        // The failure stays.
        assert!(InputStream::read(&mut stdin, 10).is_err());
    }

    #[tokio::test]
    async fn the_async_view_reads_the_same_bytes() {
        let stdin = ReaderStream::new(&b"0123456789"[..], "standard input");
        let mut s = Pin::from(stdin.async_stream());
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"0123456789");
    }
}
