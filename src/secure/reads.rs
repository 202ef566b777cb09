//! Reading a spoke flow: opening the records that arrive into plaintext,
//! as much as one read may return, and keeping what does not fit for the
//! next read.
//!
//! Owns: nothing of its own; it fills the flow's leftover plaintext and
//! keeps its read state (and, after tampering, its write state). Never
//! returns bytes of a record that failed to open, and never copies a
//! record's plaintext more than once into a read's result.

use super::super::bindings::exports::spoke::flow::types::{Error, WriteError};
use super::super::errors;
use super::super::layer::{ReadSide, WriteSide};
use super::SecureFlow;
use spoke_protocol::{Opened, RecordError, Sealer};

impl SecureFlow {
    /// `read` when `blocking`, else `try_read`.
    pub(super) fn read_inner(
        &mut self,
        max: u32,
        blocking: bool,
    ) -> Result<Option<Option<Vec<u8>>>, Error> {
        if self.closed {
            return Err(errors::closed_flow());
        }
        let max = (max.max(1)) as usize;
        if self.taken < self.leftover.len() {
            let end = self.leftover.len().min(self.taken + max);
            let out = self.leftover[self.taken..end].to_vec();
            self.taken = end;
            return Ok(Some(Some(out)));
        }
        match &self.read {
            ReadSide::Open => {}
            ReadSide::Ended => return Ok(Some(None)),
            ReadSide::Failed(e) => return Err(e.clone()),
        }
        // Every complete record already received goes out in this one read,
        // up to `max`: fewer calls, and an echo writes back whole chunks
        // instead of one small trailing record at a time. Once a quarter of
        // `max` is there, a record that might not fit whole is left for the
        // next read: splitting it would copy its rest twice more.
        let mut out: Vec<u8> = Vec::new();
        loop {
            if !out.is_empty() && out.len() >= max / 4 && max - out.len() < Sealer::MAX_PLAINTEXT {
                return Ok(Some(Some(out)));
            }
            match self.opener.open() {
                Ok(Opened::Data(plain)) => {
                    gather(&mut out, plain, max, &mut self.leftover, &mut self.taken);
                    if out.len() == max {
                        return Ok(Some(Some(out)));
                    }
                }
                // The end, an error (both sticky in the opener) or a record
                // still incomplete waits for the next read when data came
                // first.
                Ok(Opened::End | Opened::NeedInput) | Err(_) if !out.is_empty() => {
                    return Ok(Some(Some(out)));
                }
                Ok(Opened::End) => {
                    self.read = ReadSide::Ended;
                    return Ok(Some(None));
                }
                Ok(Opened::NeedInput) => {
                    if !self.refill(blocking)? {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(self.tampered(e)),
            }
        }
    }

    /// Feeds the opener one read of the flow beneath (its end too); `false`
    /// when, not `blocking`, that read would block.
    fn refill(&mut self, blocking: bool) -> Result<bool, Error> {
        let got = if blocking {
            self.under.read(crate::CHUNK as u32).map(Some)
        } else {
            self.under.try_read(crate::CHUNK as u32)
        };
        self.starved = matches!(got, Ok(None));
        match got {
            Ok(None) => Ok(false),
            Ok(Some(Some(bytes))) => {
                self.opener.feed_owned(bytes);
                Ok(true)
            }
            Ok(Some(None)) => {
                self.opener.feed_eof();
                Ok(true)
            }
            Err(e) => {
                self.read = ReadSide::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// Makes a record failure sticky, and stops sending: nothing more is
    /// sent on a stream that was tampered with.
    fn tampered(&mut self, e: RecordError) -> Error {
        let e = match e {
            RecordError::Corrupted => Error::Corrupted,
            RecordError::Truncated => Error::Truncated,
            other => Error::Other(other.to_string()),
        };
        self.read = ReadSide::Failed(e.clone());
        if let WriteSide::Open = self.write {
            self.write = WriteSide::Failed(WriteError::Error(e.clone()));
        }
        e
    }
}

/// Appends a record's plaintext to `out` (at most `max` in all); what does
/// not fit becomes the `leftover` for the next read, from `taken` = 0.
fn gather(out: &mut Vec<u8>, plain: &[u8], max: usize, leftover: &mut Vec<u8>, taken: &mut usize) {
    let room = max - out.len();
    if out.is_empty() && plain.len() >= max {
        *out = plain[..max].to_vec();
    } else {
        let take = room.min(plain.len());
        if out.is_empty() {
            out.reserve(max.min(plain.len() * 2));
        } else if out.capacity() - out.len() < take {
            // Straight to `max`, not doubling past it: a read's result may
            // be kept (by `subscribe`) and counts in the buffer budget.
            out.reserve_exact(max - out.len());
        }
        out.extend_from_slice(&plain[..take]);
    }
    if plain.len() > room {
        leftover.clear();
        leftover.extend_from_slice(&plain[room..]);
        *taken = 0;
    }
}
