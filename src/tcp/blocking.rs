//! The blocking side of a TCP flow: writing every byte in pieces no
//! larger than each permit, draining before a half-close, and what a write
//! does while it waits (it takes in what the peer sends, so that two ends
//! that both write before they read never wait on each other forever).
//! Also the read a readiness check makes ahead of the caller.
//!
//! Owns: nothing of its own; it fills the flow's read-ahead and keeps its
//! read state. Never writes past a `check-write` permit (that traps the
//! host), and a waiting write stops taking in once [`READ_AHEAD_LIMIT`] is
//! held or the instance's buffer budget (`budget.rs`) has no more room.

use wasip2::io::poll::poll;

use super::super::bindings::exports::spoke::flow::types::WriteError;
use super::super::layer::ReadSide;
use super::super::stream_errors;
use super::{READ_AHEAD_LIMIT, TcpFlow};

impl TcpFlow {
    /// Writes all of `data`, in pieces no larger than each permit.
    pub(super) fn write_all(&mut self, mut data: &[u8]) -> Result<(), WriteError> {
        while !data.is_empty() {
            let Some(h) = &self.handles else {
                return Err(WriteError::Closed);
            };
            let permit = h.output.check_write().map_err(stream_errors::from_write)?;
            if permit == 0 {
                self.wait_writable();
                continue;
            }
            let n = usize::try_from(permit)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let (now, rest) = data.split_at(n);
            h.output.write(now).map_err(stream_errors::from_write)?;
            data = rest;
        }
        Ok(())
    }

    /// Flushes and waits until the stream has handed every byte to the host.
    pub(super) fn drain(&mut self) -> Result<(), WriteError> {
        let Some(h) = &self.handles else {
            return Err(WriteError::Closed);
        };
        h.output.flush().map_err(stream_errors::from_write)?;
        loop {
            let Some(h) = &self.handles else {
                return Err(WriteError::Closed);
            };
            if h.output.check_write().map_err(stream_errors::from_write)? != 0 {
                return Ok(());
            }
            self.wait_writable();
        }
    }

    /// Blocks until the output stream is writable (or failed), taking in
    /// what arrives on the input stream meanwhile while the inbox has room
    /// and the read side is open.
    fn wait_writable(&mut self) {
        // What may come in: up to the flow's own limit, and only what the
        // instance's buffer budget still has room for.
        let take = READ_AHEAD_LIMIT
            .saturating_sub(self.ahead.len())
            .min(self.ahead.room())
            .min(crate::CHUNK);
        let drain = matches!(self.read, ReadSide::Open) && take > 0;
        let Some(h) = &mut self.handles else { return };
        if h.writable.is_none() {
            h.writable = Some(h.output.subscribe());
        }
        if drain && h.readable.is_none() {
            h.readable = Some(h.input.subscribe());
        }
        let (Some(writable), readable) = (&h.writable, &h.readable) else {
            return;
        };
        let readable = match readable {
            Some(r) if drain => r,
            _ => return writable.block(),
        };
        if !poll(&[writable, readable]).contains(&1) {
            return;
        }
        // Ready may be stale: a read that finds nothing clears it.
        match h.input.read(take as u64) {
            Ok(data) => self.ahead.push(data),
            Err(e) => self.read = ReadSide::after(stream_errors::from_read(e)),
        }
    }

    /// Clears a stale readiness of the input stream before a pollable is
    /// lent: wasmtime reports a stream as readable until a read finds it
    /// empty (a freshly accepted socket's stream, or one whose last read
    /// took everything there was), so a pollable made then would be ready
    /// with nothing to read. One non-blocking read clears it; what it
    /// returns (data, end-of-stream or an error) is kept for the next
    /// `read`, and the pollable lent is then ready at once.
    pub(super) fn settle(&mut self) {
        if self.read_settled() {
            return;
        }
        let Some(h) = &self.handles else { return };
        // The read-ahead is empty here, so the flow's own allowance is
        // room for at least one read.
        let take = self.ahead.room().clamp(1, crate::CHUNK);
        match h.input.read(take as u64) {
            Ok(data) => self.ahead.push(data),
            Err(e) => self.read = ReadSide::after(stream_errors::from_read(e)),
        }
    }
}
