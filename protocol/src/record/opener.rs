//! The peer's direction of the record layer.
//!
//! Owns: buffering the peer's bytes, reassembling records, decrypting them
//! in place, the receive sequence number and the sticky end states. Must
//! never return unauthenticated or empty data, and never panic on any
//! input.

use core::fmt;

use super::aead::Protection;
use crate::wire::{HEADER_LEN, TAG_LEN, record_adata, record_len};
use crate::{Cipher, RecordError, Version};

/// What [`Opener::open`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened<'a> {
    /// The next record's plaintext (never empty), decrypted in place in the
    /// opener's buffer; valid until the next call on the opener.
    Data(&'a mut [u8]),
    /// A whole record is not buffered yet: feed more bytes.
    NeedInput,
    /// The peer's stream ended cleanly: the version-2 close marker, or a
    /// version-1 end of stream at a record boundary.
    End,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Ended,
    Failed(RecordError),
}

/// Opens the peer's records.
pub struct Opener {
    protection: Protection,
    version: Version,
    cipher: Cipher,
    /// The sequence number the next record must have; `None` once the
    /// peer has used the last one (2^64-1), after which no record can be
    /// authentic.
    next: Option<u64>,
    buf: Vec<u8>,
    /// Bytes of `buf` before this were consumed.
    start: usize,
    eof: bool,
    state: State,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("version", &self.version)
            .field("cipher", &self.cipher)
            .field("next_sequence", &self.next)
            .field("buffered", &self.buffered())
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl Opener {
    pub(crate) fn new(version: Version, cipher: Cipher, key: &[u8; 64], pending: Vec<u8>) -> Self {
        Opener {
            protection: Protection::new(cipher, key),
            version,
            cipher,
            next: Some(0),
            buf: pending,
            start: 0,
            eof: false,
            state: State::Open,
        }
    }

    /// The cipher of the peer's records.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// Buffers bytes received from the underlying flow. Ignored once the
    /// opener has failed.
    pub fn feed(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::Failed(_)) || bytes.is_empty() {
            return;
        }
        let live = self.buf.len() - self.start;
        if self.start > 0 && live <= self.start {
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(live);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Like [`Opener::feed`], taking the bytes' buffer: when nothing is
    /// buffered (records usually arrive whole in one read), it becomes the
    /// opener's buffer and the bytes are not copied.
    pub fn feed_owned(&mut self, bytes: Vec<u8>) {
        if self.start == self.buf.len() && !matches!(self.state, State::Failed(_)) {
            self.buf = bytes;
            self.start = 0;
        } else {
            self.feed(&bytes);
        }
    }

    /// The underlying flow ended: no more bytes will be fed.
    pub fn feed_eof(&mut self) {
        self.eof = true;
    }

    /// Bytes held that were not decrypted yet.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    fn fail(&mut self, e: RecordError) -> Result<Opened<'_>, RecordError> {
        self.state = State::Failed(e);
        self.buf = Vec::new();
        self.start = 0;
        Err(e)
    }

    /// The next record's plaintext, or why there is none. Errors are
    /// sticky: once one is returned, every later call returns it.
    pub fn open(&mut self) -> Result<Opened<'_>, RecordError> {
        loop {
            let avail = self.buf.len() - self.start;
            match self.state {
                State::Failed(e) => return Err(e),
                // A record after the close marker.
                State::Ended if avail > 0 => return self.fail(RecordError::Corrupted),
                State::Ended => return Ok(Opened::End),
                State::Open => {}
            }
            if avail < HEADER_LEN {
                return match (self.eof, avail, self.version) {
                    (false, _, _) => Ok(Opened::NeedInput),
                    (true, 0, Version::V1) => {
                        self.state = State::Ended;
                        Ok(Opened::End)
                    }
                    (true, _, Version::V1) => self.fail(RecordError::Corrupted),
                    (true, _, Version::V2) => self.fail(RecordError::Truncated),
                };
            }
            let len = record_len([self.buf[self.start], self.buf[self.start + 1]]);
            if len < HEADER_LEN + TAG_LEN {
                return self.fail(RecordError::Corrupted);
            }
            if avail < len {
                return match (self.eof, self.version) {
                    (false, _) => Ok(Opened::NeedInput),
                    (true, Version::V1) => self.fail(RecordError::Corrupted),
                    (true, Version::V2) => self.fail(RecordError::Truncated),
                };
            }
            let body = self.start + HEADER_LEN;
            let end = self.start + len;
            self.start = end;
            let plain_len = len - HEADER_LEN - TAG_LEN;
            let adata = record_adata(self.version.wire(), plain_len);
            let (text, tag) = self.buf[body..end].split_at_mut(plain_len);
            let Some(seq) = self.next else {
                return self.fail(RecordError::SequenceExhausted);
            };
            if self.protection.open(seq, &adata, text, tag).is_err() {
                return self.fail(RecordError::Corrupted);
            }
            self.next = seq.checked_add(1);
            if plain_len == 0 {
                if self.version == Version::V2 {
                    self.state = State::Ended;
                }
                // Version 1: an empty record is consumed and skipped.
                continue;
            }
            return Ok(Opened::Data(&mut self.buf[body..body + plain_len]));
        }
    }

    /// Test hook: expect the peer's record `seq` next.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn skip_to(&mut self, seq: u64) {
        self.next = Some(seq);
    }
}
