//! The spoke layer: runs a handshake from `spoke_protocol` over an
//! underlying flow, then carries the flow's bytes as AEAD records. The
//! handshake is in `handshake.rs`, opening records for a read in
//! `reads.rs`; this file holds the flow and its writes.
//!
//! Owns: the underlying flow (closing this closes it), the sealer and
//! opener, the plaintext left over from a record larger than a read asked
//! for, and the sticky states. It is I/O glue only: every cryptographic
//! decision is the core's. Never logs or prints the password or keys (the
//! password is wiped after the handshake; the core wipes the keys), and
//! never sends anything after a `corrupted` or `truncated` read.

use wasip2::io::poll::Pollable;
use wasip2::sockets::network::IpSocketAddress;

use super::bindings::exports::spoke::flow::spoke::Cipher as WitCipher;
use super::bindings::exports::spoke::flow::types::{Error, ShutdownMode, WriteError};
use super::budget::{self, Reservation};
use super::contract::to_wit;
use super::layer::{Conn, Layer, ReadSide, WriteSide};
use super::tcp::ready_now;
use spoke_protocol::{Cipher, Opener, RecordError, Sealer};

mod handshake;
mod reads;

pub use handshake::handshake;

/// An encrypted flow over another flow.
pub struct SecureFlow {
    under: Conn,
    sealer: Sealer,
    opener: Opener,
    ciphers: (Cipher, Cipher),
    /// Plaintext of the last record not yet returned, from `taken` on.
    leftover: Vec<u8>,
    taken: usize,
    /// Sealed records not yet accepted by the underlying flow (`write_some`
    /// leaves them here), from `sent` on; reused between writes, never
    /// more than one [`SEAL_STEP`] sealed.
    out: Vec<u8>,
    sent: usize,
    /// The opener holds only part of a record and the flow beneath had
    /// nothing more when last asked.
    starved: bool,
    read: ReadSide,
    write: WriteSide,
    closed: bool,
    /// This layer's share of the instance's buffer budget: what its
    /// buffers above may hold at most (`budget::SECURE_FLOW`).
    reserved: Reservation,
}

/// The most plaintext sealed into `out` at a time: four whole records, so
/// a large write is sealed and written in steps of about a `CHUNK` (the
/// most the flow beneath takes per call anyway) and `out`, kept between
/// writes, never grows with the largest write. Record boundaries are the
/// same as sealing the whole write at once.
const SEAL_STEP: usize = 4 * Sealer::MAX_PLAINTEXT;

impl SecureFlow {
    /// The reservation a new spoke layer needs, or the error that the
    /// instance's buffer budget cannot afford one.
    pub fn reserve() -> Result<Reservation, Error> {
        Reservation::take(budget::SECURE_FLOW, "an encrypted flow")
    }

    /// A flow over `under` with the keys of a finished handshake.
    fn new(
        under: Conn,
        sealer: Sealer,
        opener: Opener,
        ciphers: (Cipher, Cipher),
        reserved: Reservation,
    ) -> Self {
        SecureFlow {
            under,
            sealer,
            opener,
            ciphers,
            leftover: Vec::new(),
            taken: 0,
            out: Vec::new(),
            sent: 0,
            starved: false,
            read: ReadSide::Open,
            write: WriteSide::Open,
            closed: false,
            reserved,
        }
    }

    /// Whether a read would return without touching the underlying flow.
    fn read_settled(&self) -> bool {
        self.closed || self.taken < self.leftover.len() || !matches!(self.read, ReadSide::Open)
    }

    /// Fails if writes are no longer possible.
    fn writable(&self) -> Result<(), WriteError> {
        if self.closed {
            return Err(WriteError::Closed);
        }
        self.write.check()
    }

    /// Makes a write failure sticky.
    fn note<T>(&mut self, r: Result<T, WriteError>) -> Result<T, WriteError> {
        if let Err(e) = &r {
            self.write = WriteSide::Failed(e.clone());
        }
        r
    }

    /// Writes sealed bytes still held by `write_some`, blocking.
    fn flush_out(&mut self) -> Result<(), WriteError> {
        if self.sent < self.out.len() {
            let r = self.under.write(&self.out[self.sent..]);
            self.note(r)?;
        }
        self.out.clear();
        self.sent = 0;
        Ok(())
    }

    /// Seals `parts` (any number of records each) and writes them, at
    /// most [`SEAL_STEP`] of plaintext sealed at a time.
    fn seal_and_write(&mut self, parts: &[&[u8]]) -> Result<(), WriteError> {
        self.writable()?;
        self.flush_out()?;
        for step in parts.iter().flat_map(|part| part.chunks(SEAL_STEP)) {
            if let Err(e) = self.sealer.seal(step, &mut self.out) {
                self.out.clear();
                return self.note(Err(seal_error(e)));
            }
            let r = self.under.write(&self.out);
            self.out.clear();
            self.note(r)?;
        }
        Ok(())
    }

    fn shutdown_write(&mut self) -> Result<(), WriteError> {
        match &self.write {
            WriteSide::Open => {}
            WriteSide::Shut => return Ok(()),
            WriteSide::Failed(e) => {
                let e = e.clone();
                self.write = WriteSide::Shut;
                let _ = self.under.shutdown(ShutdownMode::Write);
                return if matches!(e, WriteError::Closed) {
                    Ok(())
                } else {
                    Err(e)
                };
            }
        }
        let marked = self.flush_out().and_then(|()| {
            self.sealer.seal_close(&mut self.out).map_err(seal_error)?;
            let r = if self.out.is_empty() {
                Ok(())
            } else {
                self.under.write(&self.out)
            };
            self.out.clear();
            r
        });
        self.write = WriteSide::Shut;
        let under = self.under.shutdown(ShutdownMode::Write);
        marked.and(under)
    }
}

impl Layer for SecureFlow {
    /// Reads between 1 and `max` bytes of plaintext, `None` at the end.
    fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, Error> {
        loop {
            if let Some(r) = self.read_inner(max, true)? {
                return Ok(r);
            }
        }
    }

    /// Reads without blocking: `Ok(None)` when a read would block.
    fn try_read(&mut self, max: u32) -> Result<Option<Option<Vec<u8>>>, Error> {
        self.read_inner(max, false)
    }

    /// Writes every byte of `data`.
    fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        self.seal_and_write(&[data])
    }

    /// Writes each buffer in order, as one write of their concatenation
    /// (each buffer becomes its own records).
    fn writev(&mut self, data: &[Vec<u8>]) -> Result<(), WriteError> {
        let parts: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        self.seal_and_write(&parts)
    }

    /// Takes up to one record of `data` without blocking on the peer;
    /// returns how many plaintext bytes it took (possibly 0).
    fn write_some(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        self.writable()?;
        if self.sent < self.out.len() {
            let r = self.under.write_some(&self.out[self.sent..]);
            self.sent += self.note(r)?;
            if self.sent < self.out.len() {
                return Ok(0);
            }
        }
        self.out.clear();
        self.sent = 0;
        let take = data.len().min(Sealer::MAX_PLAINTEXT);
        if take == 0 {
            // Nothing new: push along what a layer beneath still holds.
            let r = self.under.write_some(&[]);
            self.note(r)?;
            return Ok(0);
        }
        if let Err(e) = self.sealer.seal(&data[..take], &mut self.out) {
            self.out.clear();
            return self.note(Err(seal_error(e)));
        }
        let r = self.under.write_some(&self.out);
        self.sent = self.note(r)?;
        Ok(take)
    }

    /// Whether `write_some` left sealed bytes here or beneath.
    fn has_pending_output(&self) -> bool {
        self.sent < self.out.len() || self.under.has_pending_output()
    }

    /// Sends what was already taken, then ends the flow beneath without
    /// the close marker; a later shutdown or close sends none either.
    fn abort_write(&mut self) {
        if self.closed {
            return;
        }
        if matches!(self.write, WriteSide::Open) {
            let _ = self.flush_out();
            self.write = WriteSide::Shut;
        }
        self.under.abort_write();
    }

    /// Shuts one or both directions; a write-side shutdown sends the close
    /// marker (version 2) before the underlying flow's end of stream.
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), WriteError> {
        if self.closed {
            return Ok(());
        }
        let r = match mode {
            ShutdownMode::Read => Ok(()),
            ShutdownMode::Write | ShutdownMode::ReadWrite => self.shutdown_write(),
        };
        if !matches!(mode, ShutdownMode::Write) {
            if let ReadSide::Open = self.read {
                self.read = ReadSide::Ended;
            }
            self.leftover = Vec::new();
            self.taken = 0;
            let _ = self.under.shutdown(ShutdownMode::Read);
        }
        r
    }

    /// Shuts both directions and closes the underlying flow. Idempotent.
    fn close(&mut self) {
        if self.closed {
            return;
        }
        let _ = self.shutdown(ShutdownMode::ReadWrite);
        self.under.close();
        self.closed = true;
        self.leftover = Vec::new();
        self.out = Vec::new();
        self.reserved.release();
    }

    /// A pollable for the caller, ready when a read would not block: it
    /// opens what has arrived (keeping the plaintext for the next read) and
    /// waits on the flow beneath only when a record is still incomplete.
    fn subscribe(&mut self) -> Pollable {
        if !self.read_settled() {
            match self.read_inner(crate::CHUNK as u32, false) {
                Ok(None) => return self.under.subscribe(),
                Ok(Some(Some(mut data))) => {
                    // Anything the read left over comes after it (grown
                    // exactly: this is kept until read).
                    let rest = &self.leftover[self.taken..];
                    data.reserve_exact(rest.len());
                    data.extend_from_slice(rest);
                    self.leftover = data;
                    self.taken = 0;
                }
                // The end or the error is now sticky in `self.read`.
                Ok(Some(None)) | Err(_) => {}
            }
        }
        ready_now()
    }

    /// See [`Layer::prepare_waits`].
    fn prepare_waits(&mut self) {
        self.under.prepare_waits();
    }

    /// See [`Layer::read_wait`]. Bytes already buffered count as readable.
    fn read_wait(&self) -> Option<&Pollable> {
        if self.read_settled() || (self.opener.buffered() > 0 && !self.starved) {
            None
        } else {
            self.under.read_wait()
        }
    }

    /// See [`Layer::write_wait`].
    fn write_wait(&self) -> Option<&Pollable> {
        if self.has_pending_output() && matches!(self.write, WriteSide::Open) && !self.closed {
            self.under.write_wait()
        } else {
            None
        }
    }

    /// The local address of the connection beneath.
    fn local_address(&self) -> Result<IpSocketAddress, Error> {
        self.under.local_address()
    }

    /// The peer's address of the connection beneath.
    fn remote_address(&self) -> Result<IpSocketAddress, Error> {
        self.under.remote_address()
    }

    /// The ciphers, server-to-client first.
    fn ciphers(&self) -> Option<(WitCipher, WitCipher)> {
        Some((to_wit(self.ciphers.0), to_wit(self.ciphers.1)))
    }
}

impl Drop for SecureFlow {
    fn drop(&mut self) {
        self.close();
    }
}

/// The write error for a sealing failure.
fn seal_error(e: RecordError) -> WriteError {
    match e {
        RecordError::Closed => WriteError::Closed,
        other => WriteError::Error(Error::Other(other.to_string())),
    }
}
