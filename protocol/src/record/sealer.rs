//! Our direction of the record layer.
//!
//! Owns: cutting writes into records, the send sequence number, the close
//! marker. Must never send after the close marker, past the last sequence
//! number, or a record whose tag the AEAD refused to compute.

use core::fmt;

use super::aead::Protection;
use crate::wire::{HEADER_LEN, MAX_PLAINTEXT, TAG_LEN, record_adata};
use crate::{Cipher, RecordError, Version};

/// Seals our plaintext into records for the peer.
pub struct Sealer {
    protection: Protection,
    version: Version,
    cipher: Cipher,
    /// The sequence number of the next record.
    next: u64,
    /// Records that may still be sent (2^64 at first).
    remaining: u128,
    closed: bool,
    /// The AEAD refused a record: nothing more is sealed.
    failed: bool,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("version", &self.version)
            .field("cipher", &self.cipher)
            .field("next_sequence", &self.next)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// The largest plaintext one record carries.
    pub const MAX_PLAINTEXT: usize = MAX_PLAINTEXT;

    pub(crate) fn new(version: Version, cipher: Cipher, key: &[u8; 64]) -> Self {
        Sealer {
            protection: Protection::new(cipher, key),
            version,
            cipher,
            next: 0,
            remaining: 1 << 64,
            closed: false,
            failed: false,
        }
    }

    /// The cipher of our records.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// Appends to `out` the records carrying `plaintext`, cut at
    /// [`Self::MAX_PLAINTEXT`] bytes. Empty input appends nothing. Either
    /// every record is appended or none (when the sequence numbers would not
    /// suffice, or after [`Self::seal_close`]).
    pub fn seal(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), RecordError> {
        if self.failed {
            return Err(RecordError::SealFailed);
        }
        if self.closed {
            return Err(RecordError::Closed);
        }
        if plaintext.is_empty() {
            return Ok(());
        }
        let records = plaintext.len().div_ceil(MAX_PLAINTEXT);
        if records as u128 > self.remaining {
            return Err(RecordError::SequenceExhausted);
        }
        out.reserve(plaintext.len() + records * (HEADER_LEN + TAG_LEN));
        let before = out.len();
        for chunk in plaintext.chunks(MAX_PLAINTEXT) {
            if let Err(e) = self.push_record(chunk, out) {
                out.truncate(before);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Version 2: appends the close marker (an empty record) once; version 1
    /// has none and appends nothing. Afterwards `seal` fails with `Closed`.
    /// Calling it again appends nothing.
    pub fn seal_close(&mut self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        if self.failed {
            return Err(RecordError::SealFailed);
        }
        if self.closed {
            return Ok(());
        }
        if self.version == Version::V2 {
            if self.remaining == 0 {
                return Err(RecordError::SequenceExhausted);
            }
            let before = out.len();
            if let Err(e) = self.push_record(&[], out) {
                out.truncate(before);
                return Err(e);
            }
        }
        self.closed = true;
        Ok(())
    }

    /// Whether `seal_close` was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Appends one record. When the AEAD refuses it, the sealer fails for
    /// good (the caller drops what this appended) and no tag is invented.
    fn push_record(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), RecordError> {
        let len = HEADER_LEN + chunk.len() + TAG_LEN;
        out.extend_from_slice(&(len as u16).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(chunk);
        let adata = record_adata(self.version.wire(), chunk.len());
        let Ok(tag) = self.protection.seal(self.next, &adata, &mut out[start..]) else {
            self.failed = true;
            return Err(RecordError::SealFailed);
        };
        out.extend_from_slice(&tag);
        self.next = self.next.wrapping_add(1);
        self.remaining -= 1;
        Ok(())
    }

    /// Test hook: pretend `seq` records were already sent.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn skip_to(&mut self, seq: u64) {
        self.next = seq;
        self.remaining = (1u128 << 64) - u128::from(seq);
    }
}
