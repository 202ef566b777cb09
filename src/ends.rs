//! The two ends of a direction the byte mover ([`super::engine`]) drives:
//! [`Source`] and [`Sink`], what it needs of them, implemented once for any
//! flow ([`Conn`]) and for a caller's borrowed `wasi:io` streams
//! ([`InputEnd`], [`OutputEnd`]).
//!
//! Owns: the stream ends and the pollables made from them. Never closes the
//! caller's streams (they are borrowed), and never flushes an output stream
//! after each write (only before the loop waits and at the end).

use std::cell::Cell;

use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use super::bindings::exports::spoke::flow::types::{Error, ShutdownMode, WriteError};
use super::layer::Conn;
use super::splice::{self, SpliceError, Spliced};

/// A splice into a lent output stream; `None` when the source's bytes must
/// pass through the guest.
pub type Fill<'f> = dyn FnMut(&OutputStream) -> Option<Result<Spliced, SpliceError>> + 'f;

/// Where a direction reads from.
pub trait Source {
    /// Reads between 1 and `max` bytes, blocking; `None` at end-of-stream.
    fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, Error>;

    /// Reads without blocking: `Ok(None)` when a read would block,
    /// `Ok(Some(None))` at end-of-stream.
    fn try_read(&mut self, max: u32) -> Result<Option<Option<Vec<u8>>>, Error>;

    /// What to wait on before a read, or `None` if a read would not block.
    fn read_wait(&self) -> Option<&Pollable>;

    /// Gives up reading, after the other end failed.
    fn stop_reading(&mut self);

    /// Whether its bytes can move inside the host ([`Source::splice_out`]).
    fn splices(&self) -> bool;

    /// Moves what has arrived into `out` without blocking, inside the host.
    fn splice_out(&mut self, out: &OutputStream) -> Option<Result<Spliced, SpliceError>>;
}

/// Where a direction writes to.
pub trait Sink {
    /// Writes every byte of `data`, blocking.
    fn write(&mut self, data: &[u8]) -> Result<(), WriteError>;

    /// Writes what can be written without blocking; returns how much of
    /// `data` it took.
    fn write_some(&mut self, data: &[u8]) -> Result<usize, WriteError>;

    /// What to wait on before `write_some` can make progress, or `None` if
    /// it can now.
    fn write_wait(&self) -> Option<&Pollable>;

    /// Whether bytes taken by `write_some` are still held back.
    fn has_pending_output(&self) -> bool;

    /// Ends the writing, after the source's end.
    fn end_writing(&mut self) -> Result<(), WriteError>;

    /// Ends the writing after the source failed, so that the reader
    /// cannot take it for the source's end (see `Layer::abort_write`).
    fn abort_writing(&mut self);

    /// Whether bytes can move into it inside the host ([`Sink::splice_in`]).
    fn splices(&self) -> bool;

    /// Lends its output stream to `fill`, keeping what `fill` reports.
    fn splice_in(&mut self, fill: &mut Fill<'_>) -> Option<Result<Spliced, SpliceError>>;
}

impl Source for Conn {
    fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, Error> {
        (**self).read(max)
    }

    fn try_read(&mut self, max: u32) -> Result<Option<Option<Vec<u8>>>, Error> {
        (**self).try_read(max)
    }

    fn read_wait(&self) -> Option<&Pollable> {
        (**self).read_wait()
    }

    fn stop_reading(&mut self) {
        let _ = (**self).shutdown(ShutdownMode::Read);
    }

    fn splices(&self) -> bool {
        (**self).splices()
    }

    fn splice_out(&mut self, out: &OutputStream) -> Option<Result<Spliced, SpliceError>> {
        (**self).splice_out(out)
    }
}

impl Sink for Conn {
    fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        (**self).write(data)
    }

    fn write_some(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        (**self).write_some(data)
    }

    fn write_wait(&self) -> Option<&Pollable> {
        (**self).write_wait()
    }

    fn has_pending_output(&self) -> bool {
        (**self).has_pending_output()
    }

    fn end_writing(&mut self) -> Result<(), WriteError> {
        (**self).shutdown(ShutdownMode::Write)
    }

    fn abort_writing(&mut self) {
        (**self).abort_write();
    }

    fn splices(&self) -> bool {
        (**self).splices()
    }

    fn splice_in(&mut self, fill: &mut Fill<'_>) -> Option<Result<Spliced, SpliceError>> {
        (**self).splice_in(fill)
    }
}

/// A borrowed input stream as a [`Source`].
pub struct InputEnd<'a> {
    /// Ready when a read would return data, the end or an error. Declared
    /// first: a child of `stream`, dropped before the borrow ends.
    ready: Pollable,
    stream: &'a InputStream,
}

impl<'a> InputEnd<'a> {
    /// Reads `stream` until its end.
    pub fn new(stream: &'a InputStream) -> Self {
        InputEnd {
            ready: stream.subscribe(),
            stream,
        }
    }
}

impl Source for InputEnd<'_> {
    fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, Error> {
        loop {
            match self.stream.blocking_read(u64::from(max.max(1))) {
                Ok(data) if data.is_empty() => continue,
                Ok(data) => return Ok(Some(data)),
                Err(e) => return read_error(e).map(|()| None),
            }
        }
    }

    fn try_read(&mut self, max: u32) -> Result<Option<Option<Vec<u8>>>, Error> {
        match self.stream.read(u64::from(max.max(1))) {
            Ok(data) if data.is_empty() => Ok(None),
            Ok(data) => Ok(Some(Some(data))),
            Err(e) => read_error(e).map(|()| Some(None)),
        }
    }

    fn read_wait(&self) -> Option<&Pollable> {
        Some(&self.ready)
    }

    fn stop_reading(&mut self) {
        // The stream is the caller's: it is simply no longer read.
    }

    fn splices(&self) -> bool {
        true
    }

    fn splice_out(&mut self, out: &OutputStream) -> Option<Result<Spliced, SpliceError>> {
        Some(splice::splice(self.stream, out))
    }
}

/// A failed read of the caller's input stream: `Ok` at its end.
fn read_error(e: StreamError) -> Result<(), Error> {
    match e {
        StreamError::Closed => Ok(()),
        StreamError::LastOperationFailed(e) => Err(Error::Other(format!(
            "reading the input stream: {}",
            e.to_debug_string()
        ))),
    }
}

/// A borrowed output stream as a [`Sink`]. What it takes is flushed before
/// the loop waits and at the end, never after each write (so the host
/// writes one chunk while the next is being read).
pub struct OutputEnd<'a> {
    /// Ready when the stream accepts more (or failed). Declared first: a
    /// child of `stream`, dropped before the borrow ends.
    ready: Pollable,
    stream: &'a OutputStream,
    /// Bytes were written since the last flush.
    dirty: Cell<bool>,
}

impl<'a> OutputEnd<'a> {
    /// Writes to `stream`.
    pub fn new(stream: &'a OutputStream) -> Self {
        OutputEnd {
            ready: stream.subscribe(),
            stream,
            dirty: Cell::new(false),
        }
    }

    /// Starts flushing what was written, without waiting. A failure shows
    /// in the next write or in [`OutputEnd::finish`].
    pub fn start_flush(&self) {
        if self.dirty.take() {
            let _ = self.stream.flush();
        }
    }

    /// Waits until everything written has been flushed.
    pub fn finish(&mut self) -> Result<(), WriteError> {
        self.dirty.set(false);
        self.stream.blocking_flush().map_err(write_error)
    }
}

impl Sink for OutputEnd<'_> {
    fn write(&mut self, mut data: &[u8]) -> Result<(), WriteError> {
        while !data.is_empty() {
            match self.write_some(data)? {
                0 => self.ready.block(),
                n => data = &data[n..],
            }
        }
        Ok(())
    }

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

    fn end_writing(&mut self) -> Result<(), WriteError> {
        // The caller closes the stream; waiting for the flush here would
        // stall the other direction, so `finish` does it at the end.
        self.start_flush();
        Ok(())
    }

    fn abort_writing(&mut self) {
        // A stream has no end of its own to mark: the caller owns it and
        // learns of the failure from the direction's error.
        self.start_flush();
    }

    fn splices(&self) -> bool {
        true
    }

    fn splice_in(&mut self, fill: &mut Fill<'_>) -> Option<Result<Spliced, SpliceError>> {
        let r = fill(self.stream)?;
        if matches!(r, Ok(Spliced::Moved(_))) {
            self.dirty.set(true);
        }
        Some(r)
    }
}

/// A failed operation on the caller's output stream as a flow write error.
fn write_error(e: StreamError) -> WriteError {
    match e {
        StreamError::Closed => WriteError::Closed,
        StreamError::LastOperationFailed(e) => WriteError::Error(Error::Other(format!(
            "writing the output stream: {}",
            e.to_debug_string()
        ))),
    }
}
