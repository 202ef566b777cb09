//! An output stream for the guest over any [`AsyncWrite`], written on the
//! guest's own thread.
//!
//! wasmtime's `AsyncWriteStream` hands every write to a task of its own
//! through a channel, so each chunk the guest writes costs a wake-up across
//! threads, and a flush waits for that task. Here the guest's `write` hands
//! its bytes to the writer at once (a file, a pipe with room, an in-memory
//! sink takes them in the same call); what the writer cannot take yet is
//! kept, and the guest's pollable is woken when the writer can take more.
//!
//! Owns: the writer, the bytes accepted but not yet taken by it (at most one
//! permit's worth per handle), whether a flush is under way, and the first
//! failure, which sticks. Every handle the guest opens on the stream shares
//! them, so bytes leave in the order they were written.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// The most `check-write` lets the guest write at once: as much as one TCP
/// read takes, so bytes spliced from a flow go out in one write.
pub(crate) const PERMIT: usize = 256 * 1024;

/// An output stream writing to an [`AsyncWrite`], shared by every handle the
/// guest opens on it.
#[derive(Clone)]
pub(crate) struct WriterStream(Arc<Mutex<Shared>>);

struct Shared {
    /// What the bytes go to.
    writer: Pin<Box<dyn AsyncWrite + Send + Sync>>,
    /// Accepted by `write`, not yet taken by the writer, in order.
    pending: VecDeque<Bytes>,
    /// A flush was asked for and has not completed.
    flushing: bool,
    /// The first failure, reported by every later operation.
    failed: Option<String>,
    /// What the stream is called in error messages ("standard output").
    name: &'static str,
}

impl WriterStream {
    /// A stream whose bytes go to `writer`; `name` says what it is in
    /// error messages.
    pub(crate) fn new(writer: impl AsyncWrite + Send + Sync + 'static, name: &'static str) -> Self {
        Self(Arc::new(Mutex::new(Shared {
            writer: Box::pin(writer),
            pending: VecDeque::new(),
            flushing: false,
            failed: None,
            name,
        })))
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A poisoned lock only means a panic elsewhere; the state is whole.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands every byte written so far to the writer and flushes it, waiting
    /// as long as that takes; the first failure is the error.
    pub(crate) async fn finish(&self) -> std::io::Result<()> {
        std::future::poll_fn(|cx| {
            let mut shared = self.shared();
            shared.flushing = true;
            shared.progress(cx)
        })
        .await;
        match &self.shared().failed {
            None => Ok(()),
            Some(e) => Err(std::io::Error::other(e.clone())),
        }
    }
}

impl Shared {
    /// Moves pending bytes into the writer, then completes a flush asked
    /// for, as far as the writer allows now. Ready when nothing is left
    /// to do (or the writer failed).
    fn progress(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.failed.is_some() {
            return Poll::Ready(());
        }
        while let Some(front) = self.pending.front_mut() {
            match self.writer.as_mut().poll_write(cx, front) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    self.fail("the writer accepts no more bytes".into());
                    return Poll::Ready(());
                }
                Poll::Ready(Ok(n)) => {
                    front.advance(n);
                    if front.is_empty() {
                        self.pending.pop_front();
                    }
                }
                Poll::Ready(Err(e)) => {
                    self.fail(e.to_string());
                    return Poll::Ready(());
                }
            }
        }
        if self.flushing {
            match self.writer.as_mut().poll_flush(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => self.flushing = false,
                Poll::Ready(Err(e)) => self.fail(e.to_string()),
            }
        }
        Poll::Ready(())
    }

    /// Makes `why` the stream's failure; what was pending is dropped.
    fn fail(&mut self, why: String) {
        self.failed = Some(why);
        self.pending.clear();
        self.flushing = false;
    }

    /// Makes what progress is possible without waiting.
    fn progress_now(&mut self) {
        let _ = self.progress(&mut Context::from_waker(Waker::noop()));
    }

    /// The sticky failure as a stream error.
    fn error(&self) -> Option<StreamError> {
        self.failed.as_ref().map(|e| {
            StreamError::LastOperationFailed(wasmtime::format_err!("writing {}: {e}", self.name))
        })
    }
}

impl IsTerminal for WriterStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for WriterStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for WriterStream {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        let mut shared = self.shared();
        if let Some(e) = shared.error() {
            return Err(e);
        }
        if !bytes.is_empty() {
            // Every handle may hold a permit: what one writes after another
            // is queued behind it, never refused.
            shared.pending.push_back(bytes);
            shared.progress_now();
        }
        shared.error().map_or(Ok(()), Err)
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        let mut shared = self.shared();
        if let Some(e) = shared.error() {
            return Err(e);
        }
        shared.flushing = true;
        shared.progress_now();
        shared.error().map_or(Ok(()), Err)
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        let mut shared = self.shared();
        shared.progress_now();
        if let Some(e) = shared.error() {
            return Err(e);
        }
        Ok(match shared.pending.is_empty() && !shared.flushing {
            true => PERMIT,
            false => 0,
        })
    }
}

#[async_trait::async_trait]
impl Pollable for WriterStream {
    async fn ready(&mut self) {
        std::future::poll_fn(|cx| self.shared().progress(cx)).await
    }
}

impl AsyncWrite for WriterStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut shared = self.shared();
        std::task::ready!(shared.progress(cx));
        if let Some(e) = &shared.failed {
            return Poll::Ready(Err(std::io::Error::other(e.clone())));
        }
        shared.pending.push_back(Bytes::copy_from_slice(buf));
        shared.progress_now();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut shared = self.shared();
        shared.flushing = true;
        std::task::ready!(shared.progress(cx));
        match &shared.failed {
            None => Poll::Ready(Ok(())),
            Some(e) => Poll::Ready(Err(std::io::Error::other(e.clone()))),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `step` bytes a call and is pending
    /// every other call, waking the waker it was given.
    struct Slow {
        got: Arc<Mutex<Vec<u8>>>,
        step: usize,
        ready: bool,
        flushes: Arc<Mutex<usize>>,
    }

    impl AsyncWrite for Slow {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            if !self.ready {
                self.ready = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.ready = false;
            let n = buf.len().min(self.step);
            self.got.lock().unwrap().extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            *self.flushes.lock().unwrap() += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn bytes_reach_a_slow_writer_in_order_and_permits_wait_for_room() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let flushes = Arc::new(Mutex::new(0));
        let mut out = WriterStream::new(
            Slow {
                got: got.clone(),
                step: 3,
                ready: false,
                flushes: flushes.clone(),
            },
            "the test sink",
        );
        let mut other = out.p2_stream();
        assert_eq!(OutputStream::check_write(&mut out).unwrap(), PERMIT);
        OutputStream::write(&mut out, Bytes::from_static(b"hello ")).unwrap();
        // The writer could not take it all: no permit until it has.
        assert_eq!(OutputStream::check_write(&mut out).unwrap(), 0);
        // A second handle's write is queued behind the first, never refused.
        other.write(Bytes::from_static(b"world")).unwrap();
        while OutputStream::check_write(&mut out).unwrap() == 0 {
            out.ready().await;
        }
        assert_eq!(&got.lock().unwrap()[..], b"hello world");
        OutputStream::flush(&mut out).unwrap();
        out.ready().await;
        assert!(*flushes.lock().unwrap() >= 1);
        out.finish().await.unwrap();
    }

    #[tokio::test]
    async fn a_failing_writer_is_an_error_that_names_the_stream_and_sticks() {
        struct Broken;
        impl AsyncWrite for Broken {
            fn poll_write(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &[u8],
            ) -> Poll<std::io::Result<usize>> {
                Poll::Ready(Err(std::io::Error::other("disk full")))
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        let mut out = WriterStream::new(Broken, "standard output");
        match OutputStream::write(&mut out, Bytes::from_static(b"x")) {
            Err(StreamError::LastOperationFailed(e)) => {
                assert_eq!(e.to_string(), "writing standard output: disk full")
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert!(OutputStream::check_write(&mut out).is_err());
        assert!(OutputStream::flush(&mut out).is_err());
        assert!(out.finish().await.is_err());
    }

    #[tokio::test]
    async fn the_async_view_writes_the_same_bytes() {
        use tokio::io::AsyncWriteExt;
        let got = Arc::new(Mutex::new(Vec::new()));
        let out = WriterStream::new(
            Slow {
                got: got.clone(),
                step: 4,
                ready: false,
                flushes: Default::default(),
            },
            "the test sink",
        );
        let mut w = Pin::from(out.async_stream());
        w.write_all(b"0123456789").await.unwrap();
        w.flush().await.unwrap();
        assert_eq!(&got.lock().unwrap()[..], b"0123456789");
    }
}
