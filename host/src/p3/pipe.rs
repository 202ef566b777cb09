//! One direction of bytes between an instance's store and the host's tokio
//! code: a bounded buffer with a store-side end and a host-side end.
//!
//! - Guest to host: the guest's `stream<u8>` is piped into [`Feed`] (a
//!   wasmtime `StreamConsumer`), and the host reads with a `Reader` (a
//!   tokio `AsyncRead`, `halves.rs`).
//! - Host to guest: the host writes with a `Writer` (a tokio
//!   `AsyncWrite`), and [`Drain`] (a wasmtime `StreamProducer`) gives the
//!   bytes to the stream the guest reads.
//!
//! A direction's `future<result<_, error>>` is piped into [`Outcome`], which
//! records how it ended: a reader reports end-of-stream only once both the
//! stream and its future have ended well, and a writer's `shutdown` returns
//! once the future says every byte was handed on. A pipe whose direction has
//! no future ([`Pipe::without_outcome`]) ends well when its stream ends.
//!
//! Owns the buffer, its wakers and the translation of the contract's errors
//! into `std::io::Error`s (which carry the [`FlowError`] and render as its
//! one line). Never calls into the guest and never blocks: the store-side
//! ends run inside the store's event loop, the host-side ends in the
//! caller's task.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use tokio::io::ReadBuf;
use wasmtime::component::{
    Destination, FutureConsumer, Source, StreamConsumer, StreamProducer, StreamResult,
};
use wasmtime::{AsContextMut, StoreContextMut};

use super::bindings::exports::spoke::flow::types::Error as WitError;
use super::halves::{closed, io_error};
use crate::error::FlowError;

/// The most bytes a pipe holds; a writer waits while it is full.
const CAPACITY: usize = 256 * 1024;

/// The shared state of one direction.
#[derive(Clone)]
pub(crate) struct Pipe(Arc<Mutex<State>>);

/// A pipe that does not keep its direction alive, for failing it when the
/// instance stops.
pub(crate) struct WeakPipe(Weak<Mutex<State>>);

#[derive(Default)]
struct State {
    buf: VecDeque<u8>,
    /// The producing end is done: nothing more will be added.
    finished: bool,
    /// How the direction ended, as its future (or the instance's failure)
    /// said.
    outcome: Option<Result<(), FlowError>>,
    /// The consuming end is gone.
    abandoned: bool,
    /// The consuming end waits for bytes, the end or the outcome.
    taker: Option<Waker>,
    /// The producing end waits for room, the outcome, or the consuming end.
    putter: Option<Waker>,
}

impl State {
    fn wake_taker(&mut self) {
        if let Some(w) = self.taker.take() {
            w.wake();
        }
    }

    fn wake_putter(&mut self) {
        if let Some(w) = self.putter.take() {
            w.wake();
        }
    }

    /// The error that stops a host-to-guest direction, if any; `None` while
    /// it can still take bytes or may yet say why it cannot.
    fn stopped(&self) -> Option<io::Error> {
        match &self.outcome {
            Some(Err(e)) => Some(io_error(e)),
            Some(Ok(())) if self.abandoned => Some(closed()),
            _ => None,
        }
    }

    /// Moves up to `out.len()` buffered bytes into `out`; returns how many.
    fn take_into(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.buf.len());
        let (a, b) = self.buf.as_slices();
        let from_a = n.min(a.len());
        out[..from_a].copy_from_slice(&a[..from_a]);
        out[from_a..n].copy_from_slice(&b[..n - from_a]);
        self.buf.drain(..n);
        if n > 0 {
            self.wake_putter();
        }
        n
    }
}

impl Pipe {
    /// A pipe whose outcome comes from its direction's future.
    pub(crate) fn new() -> Self {
        Self(Default::default())
    }

    /// A pipe for a direction without a future: it ends well when its
    /// stream ends.
    pub(crate) fn without_outcome() -> Self {
        let pipe = Self::new();
        pipe.lock().outcome = Some(Ok(()));
        pipe
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic elsewhere: every update
        // is a few assignments.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn downgrade(&self) -> WeakPipe {
        WeakPipe(Arc::downgrade(&self.0))
    }

    /// Records how the direction ended, unless that is already known.
    pub(crate) fn set_outcome(&self, outcome: Result<(), FlowError>) {
        let mut st = self.lock();
        if st.outcome.is_none() {
            st.outcome = Some(outcome);
        }
        st.wake_taker();
        st.wake_putter();
    }

    /// Ends a direction that has not ended well with `error` (the instance
    /// stopped, or the call that was to set it up failed).
    pub(crate) fn fail(&self, error: FlowError) {
        let mut st = self.lock();
        let ended_well = st.finished && matches!(st.outcome, Some(Ok(())));
        if !ended_well && !matches!(st.outcome, Some(Err(_))) {
            st.outcome = Some(Err(error));
        }
        st.wake_taker();
        st.wake_putter();
    }

    /// The host's reading end: moves buffered bytes into `buf`; at the end,
    /// gives end-of-stream once the direction ended well, else its error.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut st = self.lock();
        if !st.buf.is_empty() {
            let n = st.take_into(buf.initialize_unfilled());
            buf.advance(n);
            return Poll::Ready(Ok(()));
        }
        match &st.outcome {
            Some(Err(e)) => Poll::Ready(Err(io_error(e))),
            Some(Ok(())) if st.finished => Poll::Ready(Ok(())),
            _ => {
                st.taker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// The host's reading end is gone: the guest's next write learns it.
    pub(crate) fn abandon(&self) {
        let mut st = self.lock();
        st.abandoned = true;
        st.buf.clear();
        st.wake_putter();
    }

    /// The host's writing end: takes what fits of `data`.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut st = self.lock();
        if st.finished {
            return Poll::Ready(Err(closed()));
        }
        if let Some(e) = st.stopped() {
            return Poll::Ready(Err(e));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = CAPACITY.saturating_sub(st.buf.len());
        if st.abandoned || room == 0 {
            // Wait for room, or for the outcome that says why there is none.
            st.putter = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        st.buf.extend(&data[..n]);
        st.wake_taker();
        Poll::Ready(Ok(n))
    }

    /// Ready once the guest has taken every byte written.
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.lock();
        if st.buf.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = st.stopped() {
            return Poll::Ready(Err(e));
        }
        st.putter = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Ends the direction; ready once its outcome is known.
    pub(crate) fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.lock();
        if !st.finished {
            st.finished = true;
            st.wake_taker();
        }
        match &st.outcome {
            Some(Ok(())) => Poll::Ready(Ok(())),
            Some(Err(e)) => Poll::Ready(Err(io_error(e))),
            None => {
                st.putter = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Resolves once a host-to-guest direction takes no more bytes: the
    /// guest dropped its stream, or the direction failed.
    pub(crate) async fn stopped(&self) {
        std::future::poll_fn(|cx| self.poll_stopped(cx)).await
    }

    fn poll_stopped(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.lock();
        if st.abandoned || matches!(st.outcome, Some(Err(_))) {
            return Poll::Ready(());
        }
        st.putter = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The host's writing end is done, without waiting for the outcome.
    pub(crate) fn finish(&self) {
        let mut st = self.lock();
        st.finished = true;
        st.wake_taker();
    }
}

impl WeakPipe {
    /// [`Pipe::fail`], if the pipe is still there.
    pub(crate) fn fail(&self, error: FlowError) {
        if let Some(state) = self.0.upgrade() {
            Pipe(state).fail(error);
        }
    }

    /// Whether nothing uses the pipe any more.
    pub(crate) fn is_gone(&self) -> bool {
        self.0.strong_count() == 0
    }

    /// Whether the direction needs the instance no more: it is gone, its
    /// outcome is known, or its consuming end is.
    pub(crate) fn is_settled(&self) -> bool {
        self.0.upgrade().is_none_or(|state| {
            let st = Pipe(state);
            let st = st.lock();
            st.outcome.is_some() || st.abandoned
        })
    }
}

/// The store-side end of a guest-to-host pipe: takes the bytes of the
/// guest's stream into the pipe. Dropped when the stream ends.
pub(crate) struct Feed(pub(crate) Pipe);

impl<D> StreamConsumer<D> for Feed {
    type Item = u8;

    fn poll_consume(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        source: Source<'_, u8>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let mut st = self.0.lock();
        if st.abandoned {
            return Poll::Ready(Ok(StreamResult::Dropped));
        }
        let mut source = source.as_direct(store);
        let available = source.remaining();
        let room = CAPACITY.saturating_sub(st.buf.len());
        if room == 0 || available.is_empty() {
            // Full, or a zero-length write asking whether there is room.
            return if room > 0 {
                Poll::Ready(Ok(StreamResult::Completed))
            } else if finish {
                Poll::Ready(Ok(StreamResult::Cancelled))
            } else {
                st.putter = Some(cx.waker().clone());
                Poll::Pending
            };
        }
        let n = room.min(available.len());
        st.buf.extend(&available[..n]);
        source.mark_read(n);
        st.wake_taker();
        Poll::Ready(Ok(StreamResult::Completed))
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.finished = true;
        st.wake_taker();
    }
}

/// The store-side end of a host-to-guest pipe: gives the pipe's bytes to
/// the stream the guest reads, and ends that stream when the writer is
/// done. Dropped when the guest drops the stream.
pub(crate) struct Drain(pub(crate) Pipe);

impl<D> StreamProducer<D> for Drain {
    type Item = u8;
    type Buffer = Option<u8>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, D>,
        destination: Destination<'a, u8, Option<u8>>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let mut st = self.0.lock();
        let ready = !st.buf.is_empty() || st.finished;
        // A zero-length read asks whether a read would complete at once.
        let readiness = destination.remaining(store.as_context_mut()) == Some(0);
        if readiness || st.buf.is_empty() {
            return if readiness && ready {
                Poll::Ready(Ok(StreamResult::Completed))
            } else if ready {
                // Finished, and every byte was given.
                Poll::Ready(Ok(StreamResult::Dropped))
            } else if finish {
                Poll::Ready(Ok(StreamResult::Cancelled))
            } else {
                st.taker = Some(cx.waker().clone());
                Poll::Pending
            };
        }
        let mut destination = destination.as_direct(store, st.buf.len());
        let n = st.take_into(destination.remaining());
        destination.mark_written(n);
        Poll::Ready(Ok(StreamResult::Completed))
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.abandoned = true;
        st.buf.clear();
        st.wake_putter();
    }
}

/// Takes the value of a direction's `future<result<_, error>>` into the
/// pipe as its outcome.
pub(crate) struct Outcome(pub(crate) Pipe);

impl<D> FutureConsumer<D> for Outcome {
    type Item = Result<(), WitError>;

    fn poll_consume(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        mut store: StoreContextMut<D>,
        mut source: Source<'_, Self::Item>,
        _: bool,
    ) -> Poll<wasmtime::Result<()>> {
        let mut value = None;
        source.read(store.as_context_mut(), &mut value)?;
        if let Some(outcome) = value {
            self.0.set_outcome(outcome.map_err(FlowError::from));
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        // Only if the future ended without a value (the instance is going).
        self.0.set_outcome(Err(FlowError::Other(
            "the direction ended without saying how".into(),
        )));
    }
}
