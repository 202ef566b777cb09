//! `pipe`, `copy-to-stream` and `copy-from-stream`: a flow joined to a pair
//! of `wasi:io` streams (a program's standard input and output, say), run
//! inside the component so that a composed application never handles the
//! bytes itself.
//!
//! Owns: the two stream ends ([`InputEnd`], [`OutputEnd`]) and the pollables
//! made from them, and the loop that drives a proxy leg
//! ([`combinators::Leg`]) in each direction, or for a plain TCP flow a
//! [`SpliceLeg`], whose bytes the host moves between the socket's stream
//! and the caller's (`splice`) without their entering this component. The
//! [`Source`] and [`Sink`] traits are what a leg needs of its ends; flows
//! implement both. Never
//! closes the caller's streams (they are borrowed) and never blocks one
//! direction on the other, except for the brief drain of a flow's write
//! side at the input's end (as `proxy` does).

use std::cell::Cell;

use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use super::bindings::exports::spoke::flow::combinators::{CopyError, Direction, Stats};
use super::bindings::exports::spoke::flow::types::{Error, ShutdownMode, WriteError};
use super::combinators::{self, Leg};
use super::layer::{Conn, Layer};
use super::tcp::{SpliceError, Spliced, TcpFlow};

/// Where a leg reads from.
pub(crate) trait Source {
    /// Reads without blocking: `Ok(None)` when a read would block,
    /// `Ok(Some(None))` at end-of-stream.
    fn try_read(&mut self, max: u32) -> Result<Option<Option<Vec<u8>>>, Error>;

    /// What to wait on before a read, or `None` if a read would not block.
    fn read_wait(&self) -> Option<&Pollable>;

    /// Gives up reading (`ShutdownMode::Read`), after the other end failed.
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), WriteError>;
}

/// Where a leg writes to.
pub(crate) trait Sink {
    /// Writes what can be written without blocking; returns how much of
    /// `data` it took.
    fn write_some(&mut self, data: &[u8]) -> Result<usize, WriteError>;

    /// What to wait on before `write_some` can make progress, or `None` if
    /// it can now.
    fn write_wait(&self) -> Option<&Pollable>;

    /// Whether bytes taken by `write_some` are still held back.
    fn has_pending_output(&self) -> bool;

    /// Ends the writing (`ShutdownMode::Write`), after the source's end.
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), WriteError>;
}

impl Source for Conn {
    fn try_read(&mut self, max: u32) -> Result<Option<Option<Vec<u8>>>, Error> {
        Layer::try_read(&mut **self, max)
    }

    fn read_wait(&self) -> Option<&Pollable> {
        Layer::read_wait(&**self)
    }

    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), WriteError> {
        Layer::shutdown(&mut **self, mode)
    }
}

impl Sink for Conn {
    fn write_some(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        Layer::write_some(&mut **self, data)
    }

    fn write_wait(&self) -> Option<&Pollable> {
        Layer::write_wait(&**self)
    }

    fn has_pending_output(&self) -> bool {
        Layer::has_pending_output(&**self)
    }

    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), WriteError> {
        Layer::shutdown(&mut **self, mode)
    }
}

/// A borrowed input stream as a [`Source`].
pub(crate) struct InputEnd<'a> {
    /// Ready when a read would return data, the end or an error. Declared
    /// first: a child of `stream`, dropped before the borrow ends.
    ready: Pollable,
    stream: &'a InputStream,
}

impl<'a> InputEnd<'a> {
    /// Reads `stream` until its end.
    pub(crate) fn new(stream: &'a InputStream) -> Self {
        InputEnd {
            ready: stream.subscribe(),
            stream,
        }
    }
}

impl Source for InputEnd<'_> {
    fn try_read(&mut self, max: u32) -> Result<Option<Option<Vec<u8>>>, Error> {
        match self.stream.read(u64::from(max.max(1))) {
            Ok(data) if data.is_empty() => Ok(None),
            Ok(data) => Ok(Some(Some(data))),
            Err(StreamError::Closed) => Ok(Some(None)),
            Err(StreamError::LastOperationFailed(e)) => Err(Error::Other(format!(
                "reading the input stream: {}",
                e.to_debug_string()
            ))),
        }
    }

    fn read_wait(&self) -> Option<&Pollable> {
        Some(&self.ready)
    }

    fn shutdown(&mut self, _: ShutdownMode) -> Result<(), WriteError> {
        // The stream is the caller's: it is simply no longer read.
        Ok(())
    }
}

/// A borrowed output stream as a [`Sink`]. What it takes is flushed before
/// the loop waits and at the end, never after each write (so the host
/// writes one chunk while the next is being read).
pub(crate) struct OutputEnd<'a> {
    /// Ready when the stream accepts more (or failed). Declared first: a
    /// child of `stream`, dropped before the borrow ends.
    ready: Pollable,
    stream: &'a OutputStream,
    /// Bytes were written since the last flush.
    dirty: Cell<bool>,
}

impl<'a> OutputEnd<'a> {
    /// Writes to `stream`.
    pub(crate) fn new(stream: &'a OutputStream) -> Self {
        OutputEnd {
            ready: stream.subscribe(),
            stream,
            dirty: Cell::new(false),
        }
    }

    /// Starts flushing what was written, without waiting. A failure shows
    /// in the next write or in [`OutputEnd::finish`].
    fn start_flush(&self) {
        if self.dirty.take() {
            let _ = self.stream.flush();
        }
    }

    /// Waits until everything written has been flushed.
    fn finish(&mut self) -> Result<(), WriteError> {
        self.dirty.set(false);
        self.stream.blocking_flush().map_err(write_error)
    }
}

impl Sink for OutputEnd<'_> {
    fn write_some(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        let permit = self.stream.check_write().map_err(write_error)?;
        let n = usize::try_from(permit)
            .unwrap_or(usize::MAX)
            .min(data.len());
        if n > 0 {
            self.stream.write(&data[..n]).map_err(write_error)?;
            self.dirty.set(true);
        }
        Ok(n)
    }

    fn write_wait(&self) -> Option<&Pollable> {
        Some(&self.ready)
    }

    fn has_pending_output(&self) -> bool {
        false
    }

    fn shutdown(&mut self, _: ShutdownMode) -> Result<(), WriteError> {
        // The caller closes the stream; waiting for the flush here would
        // stall the other direction, so `finish` does it at the end.
        self.start_flush();
        Ok(())
    }
}

/// A failed stream operation as a flow write error.
fn write_error(e: StreamError) -> WriteError {
    match e {
        StreamError::Closed => WriteError::Closed,
        StreamError::LastOperationFailed(e) => WriteError::Error(Error::Other(format!(
            "writing the output stream: {}",
            e.to_debug_string()
        ))),
    }
}

/// Runs `input` to `flow` and `flow` to `output` at once (either may be
/// absent) until every direction present has ended; returns them in that
/// order.
fn drive(
    flow: &mut Conn,
    mut input: Option<InputEnd<'_>>,
    mut output: Option<OutputEnd<'_>>,
) -> (Option<Direction>, Option<Direction>) {
    if let Some(t) = flow.as_tcp() {
        return drive_spliced(t, input, output);
    }
    let start = monotonic_clock::now();
    let mut inbound = input.as_ref().map(|_| Leg::new());
    let mut outbound = output.as_ref().map(|_| Leg::new());
    loop {
        flow.prepare_waits();
        let w_in = match (&inbound, &input) {
            (Some(leg), Some(i)) => leg.wait(i, &*flow),
            _ => None,
        };
        let w_out = match (&outbound, &output) {
            (Some(leg), Some(o)) => leg.wait(&*flow, o),
            _ => None,
        };
        let Some((go_in, go_out)) = choose(w_in, w_out, output.as_ref()) else {
            break;
        };
        if let (true, Some(leg), Some(i)) = (go_in, inbound.as_mut(), input.as_mut()) {
            leg.step(i, flow, start);
        }
        if let (true, Some(leg), Some(o)) = (go_out, outbound.as_mut(), output.as_mut()) {
            leg.step(flow, o, start);
        }
    }
    let mut outbound = outbound.map(Leg::into_direction);
    if let Some(o) = output.as_mut() {
        let flushed = o.finish();
        if let (Err(e), Some(d)) = (flushed, outbound.as_mut())
            && d.error.is_none()
        {
            d.error = Some(CopyError::Write(e));
        }
    }
    (inbound.map(Leg::into_direction), outbound)
}

/// Which of two directions to step next, given what each waits on
/// (`None`: it is done; `Some(None)`: it can act now): waits only if
/// neither can act, and flushes `output` first if it must wait. `None`
/// when both are done.
fn choose(
    w_in: Option<Option<&Pollable>>,
    w_out: Option<Option<&Pollable>>,
    output: Option<&OutputEnd<'_>>,
) -> Option<(bool, bool)> {
    if w_in.is_none() && w_out.is_none() {
        return None;
    }
    if matches!(w_in, Some(None)) || matches!(w_out, Some(None)) {
        return Some((matches!(w_in, Some(None)), matches!(w_out, Some(None))));
    }
    let mut list: Vec<&Pollable> = Vec::with_capacity(2);
    let i_in = w_in.flatten().map(|p| {
        list.push(p);
        list.len() - 1
    });
    let i_out = w_out.flatten().map(|p| {
        list.push(p);
        list.len() - 1
    });
    // Only when nothing is ready: a flush makes the stream take nothing
    // more until it is done, so flushing while data keeps coming would
    // serialise the reads and the writes.
    let mut ready: Vec<u32> = (0u32..)
        .zip(&list)
        .filter_map(|(i, p)| p.ready().then_some(i))
        .collect();
    if ready.is_empty() {
        // About to wait: let what was written go out first.
        if let Some(o) = output {
            o.start_flush();
        }
        ready = poll(&list);
    }
    let hit = |i: Option<usize>| i.is_some_and(|i| ready.contains(&(i as u32)));
    Some((hit(i_in), hit(i_out)))
}

/// What a [`SpliceLeg`] waits for before its next splice.
enum Next {
    /// Nothing: splice now.
    Go,
    /// The source to be readable.
    Read,
    /// The destination to take more.
    Write,
}

/// One direction between a plain TCP flow and a stream, its bytes moved by
/// the host (`splice`), never entering this component.
struct SpliceLeg {
    /// `None` once the direction has ended.
    next: Option<Next>,
    stats: Stats,
    error: Option<CopyError>,
}

impl SpliceLeg {
    fn new() -> Self {
        SpliceLeg {
            next: Some(Next::Go),
            stats: combinators::no_stats(),
            error: None,
        }
    }

    /// Notes one splice; `true` once the direction has ended.
    fn note(&mut self, r: Result<Spliced, SpliceError>) -> bool {
        match r {
            Ok(Spliced::Moved(n)) => {
                self.stats.read_bytes += n;
                self.stats.read_ops += 1;
                self.stats.write_bytes += n;
                self.stats.write_ops += 1;
                self.next = Some(Next::Go);
            }
            Ok(Spliced::WaitRead) => self.next = Some(Next::Read),
            Ok(Spliced::WaitWrite) => self.next = Some(Next::Write),
            Ok(Spliced::Ended) => return true,
            Err(SpliceError::Read(e)) => {
                self.error = Some(CopyError::Read(e));
                return true;
            }
            Err(SpliceError::Write(e)) => {
                self.error = Some(CopyError::Write(e));
                return true;
            }
        }
        false
    }

    fn finish(&mut self, start: u64) {
        self.next = None;
        self.stats.duration_ns = monotonic_clock::now().saturating_sub(start);
    }

    fn into_direction(self) -> Direction {
        Direction {
            stats: self.stats,
            error: self.error,
        }
    }
}

/// [`drive`] for a plain TCP flow: the host moves the bytes between the
/// socket's streams and the caller's.
fn drive_spliced(
    flow: &mut TcpFlow,
    input: Option<InputEnd<'_>>,
    output: Option<OutputEnd<'_>>,
) -> (Option<Direction>, Option<Direction>) {
    let start = monotonic_clock::now();
    let mut inbound = input.as_ref().map(|_| SpliceLeg::new());
    let mut outbound = output.as_ref().map(|_| SpliceLeg::new());
    loop {
        flow.prepare_waits();
        let w_in = match (&inbound, &input) {
            (Some(leg), Some(i)) => leg.next.as_ref().map(|n| match n {
                Next::Go => None,
                Next::Read => Some(&i.ready),
                Next::Write => flow.write_wait(),
            }),
            _ => None,
        };
        let w_out = match (&outbound, &output) {
            (Some(leg), Some(o)) => leg.next.as_ref().map(|n| match n {
                Next::Go => None,
                Next::Read => flow.read_wait(),
                Next::Write => Some(&o.ready),
            }),
            _ => None,
        };
        let Some((go_in, go_out)) = choose(w_in, w_out, output.as_ref()) else {
            break;
        };
        if let (true, Some(leg), Some(i)) = (go_in, inbound.as_mut(), input.as_ref())
            && leg.note(flow.try_splice_in(i.stream))
        {
            // The input's end (or a failure) ends the flow's direction,
            // as in `proxy`.
            if let Err(e) = flow.shutdown_write()
                && leg.error.is_none()
            {
                leg.error = Some(CopyError::Write(e));
            }
            leg.finish(start);
        }
        if let (true, Some(leg), Some(o)) = (go_out, outbound.as_mut(), output.as_ref()) {
            let r = flow.try_splice_out(o.stream);
            if matches!(r, Ok(Spliced::Moved(_))) {
                o.dirty.set(true);
            }
            if leg.note(r) {
                if matches!(leg.error, Some(CopyError::Write(_))) {
                    flow.shutdown_read();
                }
                o.start_flush();
                leg.finish(start);
            }
        }
    }
    let mut outbound = outbound.map(SpliceLeg::into_direction);
    if let Some(mut o) = output {
        let flushed = o.finish();
        if let (Err(e), Some(d)) = (flushed, outbound.as_mut())
            && d.error.is_none()
        {
            d.error = Some(CopyError::Write(e));
        }
    }
    (inbound.map(SpliceLeg::into_direction), outbound)
}

/// `pipe`: `input` to `flow` and `flow` to `output` at once, until both
/// have ended; the input's direction first.
pub fn pipe(flow: &mut Conn, input: &InputStream, output: &OutputStream) -> (Direction, Direction) {
    match drive(
        flow,
        Some(InputEnd::new(input)),
        Some(OutputEnd::new(output)),
    ) {
        (Some(a), Some(b)) => (a, b),
        // Both legs were given, so both come back.
        (a, b) => (a.unwrap_or_else(unfinished), b.unwrap_or_else(unfinished)),
    }
}

/// `copy-to-stream`: `src` to `dst` until `src` ends, then flush `dst`.
pub fn copy_to_stream(src: &mut Conn, dst: &OutputStream) -> Result<Stats, CopyError> {
    outcome(drive(src, None, Some(OutputEnd::new(dst))).1)
}

/// `copy-from-stream`: `src` to `dst` until `src` ends, then shut `dst`'s
/// write side.
pub fn copy_from_stream(src: &InputStream, dst: &mut Conn) -> Result<Stats, CopyError> {
    outcome(drive(dst, Some(InputEnd::new(src)), None).0)
}

/// One direction as the result of a one-way copy.
fn outcome(d: Option<Direction>) -> Result<Stats, CopyError> {
    let d = d.unwrap_or_else(unfinished);
    match d.error {
        None => Ok(d.stats),
        Some(e) => Err(e),
    }
}

/// A direction that never ran (unreachable in practice; never a trap).
fn unfinished() -> Direction {
    Direction {
        stats: combinators::no_stats(),
        error: Some(CopyError::Read(Error::InvalidState(
            "the direction did not run".into(),
        ))),
    }
}
