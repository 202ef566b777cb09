//! What the fuzz targets share: reading an input as a stream of choices,
//! the input formats (so the seed generator writes what the targets read),
//! and a model of the record opener that every byte it reports is checked
//! against.
//!
//! Nothing here draws randomness: every key, seed and size comes from the
//! input, so an input replays its run exactly.

use spoke_protocol::testing::{RecordAead, Seeded};
use spoke_protocol::wire::{HEADER_LEN, TAG_LEN, record_adata, record_len};
use spoke_protocol::{Cipher, Opened, Opener, Randomness, RecordError, Sealer, Version};

pub mod input;

/// An input read front to back; a read past its end gives zeros (or
/// nothing), so every input is a complete run.
#[derive(Clone, Debug)]
pub struct Choices<'a> {
    bytes: &'a [u8],
}

impl<'a> Choices<'a> {
    /// Reads `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Choices { bytes }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next byte, if any.
    pub fn next_byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    /// The next byte, 0 past the end.
    pub fn byte(&mut self) -> u8 {
        self.next_byte().unwrap_or(0)
    }

    /// The next two bytes as a big-endian number, 0 past the end.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// Up to `n` next bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.bytes.split_at(n.min(self.bytes.len()));
        self.bytes = rest;
        taken
    }

    /// A length byte, then up to that many bytes.
    pub fn counted(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte());
        self.take(n)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.bytes.len())
    }
}

/// The version a mode byte's bit 0 picks.
pub fn version_of(bit: u8) -> Version {
    if bit & 1 == 0 {
        Version::V1
    } else {
        Version::V2
    }
}

/// The cipher two bits pick (3 picks ChaCha20-Poly1305 as 2 does).
pub fn cipher_of(bits: u8) -> Cipher {
    match bits & 3 {
        0 => Cipher::Aes256Gcm,
        1 => Cipher::Aes256Ccm,
        _ => Cipher::ChaCha20Poly1305,
    }
}

/// A 64-byte record key block derived from one input byte.
pub fn key_of(byte: u8) -> [u8; 64] {
    let mut key = [0u8; 64];
    Seeded::new(&[byte])
        .fill(&mut key)
        .expect("a seeded source never fails");
    key
}

/// The first sequence number a byte picks: small numbers, or (from 0xf8
/// up) the last eight before the sequence numbers run out.
pub fn first_sequence(byte: u8) -> u64 {
    if byte >= 0xf8 {
        u64::MAX - u64::from(0xff - byte)
    } else {
        u64::from(byte)
    }
}

/// What [`Opener::open`] reports once it has no data left to hand out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `Ok(Opened::NeedInput)`.
    NeedInput,
    /// `Ok(Opened::End)`.
    End,
    /// `Err(_)`.
    Failed(RecordError),
}

/// Decides whether a frame (header, ciphertext and tag) is the authentic
/// record with a sequence number; gives its plaintext if it is.
pub trait Authority {
    /// The plaintext of `frame` as record `seq`, or `None` if the opener
    /// must refuse it.
    fn accept(&mut self, seq: u64, frame: &[u8]) -> Option<Vec<u8>>;
}

/// The record AEAD itself decides, for bytes of any origin; a frame the
/// sealer made (`sealed`) is taken as authentic at its own sequence number
/// without opening it again (the opener under test opens it anyway).
pub struct ByAead<'a> {
    aead: RecordAead,
    version: Version,
    sealed: &'a [Sealed],
}

impl<'a> ByAead<'a> {
    /// The AEAD of `cipher` under `key`, for records of `version`, with
    /// the records the sealer made so far.
    pub fn new(version: Version, cipher: Cipher, key: &[u8; 64], sealed: &'a [Sealed]) -> Self {
        ByAead {
            aead: RecordAead::new(cipher, key),
            version,
            sealed,
        }
    }
}

impl Authority for ByAead<'_> {
    fn accept(&mut self, seq: u64, frame: &[u8]) -> Option<Vec<u8>> {
        if let Some(r) = self
            .sealed
            .iter()
            .find(|r| r.seq == seq && r.frame == frame)
        {
            return Some(r.plain.clone());
        }
        let body = &frame[HEADER_LEN..];
        let plain_len = body.len() - TAG_LEN;
        let mut text = body[..plain_len].to_vec();
        let adata = record_adata(self.version.wire(), plain_len);
        self.aead
            .open(seq, &adata, &mut text, &body[plain_len..])
            .then_some(text)
    }
}

/// A record the sealer produced.
#[derive(Clone, Debug)]
pub struct Sealed {
    /// Its sequence number.
    pub seq: u64,
    /// Its bytes on the wire.
    pub frame: Vec<u8>,
    /// What it carries (empty for the close marker).
    pub plain: Vec<u8>,
}

/// Only what the sealer sealed is authentic: a frame is accepted exactly
/// when it is byte for byte the record the sealer made with that sequence
/// number (and the opener holds the sealer's key).
pub struct ByProvenance<'a> {
    /// Every record sealed so far, in order.
    pub sealed: &'a [Sealed],
    /// Whether the opener's key is the sealer's.
    pub same_key: bool,
}

impl Authority for ByProvenance<'_> {
    fn accept(&mut self, seq: u64, frame: &[u8]) -> Option<Vec<u8>> {
        if !self.same_key {
            return None;
        }
        self.sealed
            .iter()
            .find(|r| r.seq == seq && r.frame == frame)
            .map(|r| r.plain.clone())
    }
}

/// The sealer under test beside what it must do.
pub struct Sending {
    /// The sealer under test.
    pub sealer: Sealer,
    version: Version,
    /// The next sequence number; `None` once the last one was used.
    next: Option<u64>,
    closed: bool,
    /// Every record sealed, in order.
    pub sealed: Vec<Sealed>,
}

impl Sending {
    /// `sealer` (fresh) of `version`, whose first record is `first`.
    pub fn new(sealer: Sealer, version: Version, first: u64) -> Self {
        Sending {
            sealer,
            version,
            next: Some(first),
            closed: false,
            sealed: Vec::new(),
        }
    }

    /// Seals `plain`, checks the result and the bytes, and returns the
    /// bytes (empty when refused).
    pub fn seal(&mut self, plain: &[u8]) -> Vec<u8> {
        let mut out = vec![0xee; 3];
        let result = self.sealer.seal(plain, &mut out);
        let records = plain.len().div_ceil(Sealer::MAX_PLAINTEXT);
        let available = self.next.map_or(0, |n| u128::from(u64::MAX - n) + 1);
        let expected = if self.closed {
            Err(RecordError::Closed)
        } else if records as u128 > available {
            Err(RecordError::SequenceExhausted)
        } else {
            Ok(())
        };
        assert_eq!(result, expected, "sealing {} bytes", plain.len());
        assert_eq!(&out[..3], &[0xee; 3], "the sealer appends, never rewrites");
        if result.is_err() {
            assert_eq!(out.len(), 3, "a refused write appends nothing");
            return Vec::new();
        }
        let mut at = 3;
        for chunk in plain.chunks(Sealer::MAX_PLAINTEXT) {
            self.push(&out, &mut at, chunk);
        }
        assert_eq!(at, out.len(), "bytes past the records of a write");
        out.split_off(3)
    }

    /// Seals the close marker, checks the result and the bytes, and returns
    /// the bytes.
    pub fn seal_close(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let result = self.sealer.seal_close(&mut out);
        let expected = if !self.closed && self.version == Version::V2 && self.next.is_none() {
            Err(RecordError::SequenceExhausted)
        } else {
            Ok(())
        };
        assert_eq!(result, expected, "sealing the close marker");
        let marker = result.is_ok() && !self.closed && self.version == Version::V2;
        if marker {
            let mut at = 0;
            self.push(&out, &mut at, &[]);
        }
        assert_eq!(out.is_empty(), !marker, "one close marker, version 2 only");
        self.closed |= result.is_ok();
        assert_eq!(self.sealer.is_closed(), self.closed);
        out
    }

    /// Takes the record carrying `chunk` off `out` at `at`.
    fn push(&mut self, out: &[u8], at: &mut usize, chunk: &[u8]) {
        let len = HEADER_LEN + chunk.len() + TAG_LEN;
        let frame = &out[*at..*at + len];
        assert_eq!(usize::from(u16::from_be_bytes([frame[0], frame[1]])), len);
        *at += len;
        let seq = self.next.expect("a record past the last sequence number");
        self.sealed.push(Sealed {
            seq,
            frame: frame.to_vec(),
            plain: chunk.to_vec(),
        });
        self.next = seq.checked_add(1);
    }
}

/// The opener as PROTOCOL.md §6 and §9 describe it, written out plainly:
/// frames are cut by their length headers; each must be the authentic
/// record with the next sequence number; an empty record is skipped
/// (version 1) or ends the stream (version 2), after which any byte is
/// corruption; the stream ending between records is a clean end in
/// version 1 and truncation in version 2, inside a record corruption in
/// version 1 and truncation in version 2; every failure is final.
#[derive(Clone, Debug)]
pub struct OpenerModel {
    version: Version,
    first: u64,
    /// Bytes of the wire consumed by accepted frames and the frame that
    /// failed.
    consumed: usize,
    /// How many records were accepted.
    accepted: u64,
    ended: bool,
    failed: Option<RecordError>,
}

impl OpenerModel {
    /// An opener of `version` that expects sequence number `first` first.
    pub fn new(version: Version, first: u64) -> Self {
        OpenerModel {
            version,
            first,
            consumed: 0,
            accepted: 0,
            ended: false,
            failed: None,
        }
    }

    /// How many records were accepted (the close marker and version 1's
    /// empty records included).
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    fn fail(&mut self, e: RecordError) -> Outcome {
        self.failed = Some(e);
        Outcome::Failed(e)
    }

    /// Goes on over `wire` (every byte fed so far, a continuation of what
    /// it saw before), pushing each record's plaintext the opener must hand
    /// out onto `data`; returns what it must report then.
    pub fn advance(
        &mut self,
        wire: &[u8],
        eof: bool,
        authority: &mut dyn Authority,
        data: &mut Vec<Vec<u8>>,
    ) -> Outcome {
        loop {
            if let Some(e) = self.failed {
                return Outcome::Failed(e);
            }
            let avail = wire.len() - self.consumed;
            if self.ended {
                return if avail > 0 {
                    self.fail(RecordError::Corrupted)
                } else {
                    Outcome::End
                };
            }
            if avail < HEADER_LEN {
                return match (eof, avail, self.version) {
                    (false, _, _) => Outcome::NeedInput,
                    (true, 0, Version::V1) => {
                        self.ended = true;
                        Outcome::End
                    }
                    (true, _, Version::V1) => self.fail(RecordError::Corrupted),
                    (true, _, Version::V2) => self.fail(RecordError::Truncated),
                };
            }
            let start = self.consumed;
            let len = record_len([wire[start], wire[start + 1]]);
            if len < HEADER_LEN + TAG_LEN {
                return self.fail(RecordError::Corrupted);
            }
            if avail < len {
                return match (eof, self.version) {
                    (false, _) => Outcome::NeedInput,
                    (true, Version::V1) => self.fail(RecordError::Corrupted),
                    (true, Version::V2) => self.fail(RecordError::Truncated),
                };
            }
            self.consumed += len;
            let Some(seq) = self.first.checked_add(self.accepted) else {
                return self.fail(RecordError::SequenceExhausted);
            };
            let Some(plain) = authority.accept(seq, &wire[start..start + len]) else {
                return self.fail(RecordError::Corrupted);
            };
            self.accepted += 1;
            if plain.is_empty() {
                self.ended = self.version == Version::V2;
            } else {
                data.push(plain);
            }
        }
    }
}

/// The opener under test beside its model, and every byte fed to both.
pub struct Checked {
    /// The opener under test.
    pub opener: Opener,
    /// What it must do.
    pub model: OpenerModel,
    /// Every byte fed so far.
    pub wire: Vec<u8>,
    /// Whether the end of the stream was fed.
    pub eof: bool,
    /// Every byte the opener handed out, in order.
    pub delivered: Vec<u8>,
    /// What the opener reported last.
    pub last: Outcome,
}

impl Checked {
    /// `opener` (fresh) against `model`.
    pub fn new(opener: Opener, model: OpenerModel) -> Self {
        Checked {
            opener,
            model,
            wire: Vec::new(),
            eof: false,
            delivered: Vec::new(),
            last: Outcome::NeedInput,
        }
    }

    /// Feeds `bytes` in two pieces cut at `cut` (the second one handed over
    /// as an owned buffer when `owned`), draining and checking after each.
    pub fn feed(&mut self, bytes: &[u8], cut: usize, owned: bool, authority: &mut dyn Authority) {
        let (a, b) = bytes.split_at(cut.min(bytes.len()));
        self.wire.extend_from_slice(a);
        self.opener.feed(a);
        self.check(authority);
        self.wire.extend_from_slice(b);
        if owned {
            self.opener.feed_owned(b.to_vec());
        } else {
            self.opener.feed(b);
        }
        self.check(authority);
    }

    /// Feeds the end of the stream, then drains and checks.
    pub fn feed_eof(&mut self, authority: &mut dyn Authority) {
        self.eof = true;
        self.opener.feed_eof();
        self.check(authority);
    }

    /// Drains the opener and checks every record and the final report
    /// against the model; then asks once more, which must report the same.
    pub fn check(&mut self, authority: &mut dyn Authority) {
        let mut expected = Vec::new();
        let outcome = self
            .model
            .advance(&self.wire, self.eof, authority, &mut expected);
        let mut expected = expected.into_iter();
        let reported = loop {
            match self.opener.open() {
                Ok(Opened::Data(d)) => {
                    assert!(!d.is_empty(), "Data is never empty");
                    let want = expected.next();
                    assert!(
                        want.as_deref() == Some(&*d),
                        "handed out {} bytes the model does not (it expects {:?} bytes)",
                        d.len(),
                        want.map(|w| w.len())
                    );
                    self.delivered.extend_from_slice(d);
                }
                Ok(Opened::NeedInput) => break Outcome::NeedInput,
                Ok(Opened::End) => break Outcome::End,
                Err(e) => break Outcome::Failed(e),
            }
        };
        assert!(
            expected.next().is_none(),
            "an authentic record was not handed out (then {reported:?})"
        );
        assert_eq!(reported, outcome, "the opener and its model disagree");
        if let Outcome::Failed(before) = self.last {
            assert_eq!(reported, Outcome::Failed(before), "errors are sticky");
        }
        let again = match self.opener.open() {
            Ok(Opened::Data(d)) => panic!("{} bytes after {reported:?}", d.len()),
            Ok(Opened::NeedInput) => Outcome::NeedInput,
            Ok(Opened::End) => Outcome::End,
            Err(e) => Outcome::Failed(e),
        };
        assert_eq!(again, reported, "asking again changed the answer");
        self.last = reported;
    }
}
