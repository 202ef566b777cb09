//! Where a handshake's salt and scalars come from.
//!
//! Owns: the [`Randomness`] trait, its operating-system implementation
//! ([`OsRandomness`], the default), and the drawing of salts and scalars
//! from any source (§4.2: the server's salt; §2: a random scalar's
//! shaping, drawn again when all zero). Must never invent bytes when a source fails, and never
//! keep drawn scalars after they are handed out.
//!
//! # Security
//!
//! The salt and the scalars x and y are secrets of a handshake: whoever can
//! predict a scalar can recover the session keys and test passwords
//! offline. In production a source must be a cryptographically secure
//! random number generator, fresh for every handshake; [`OsRandomness`]
//! is one. Other sources exist to replay recorded handshakes (test
//! vectors) and fuzzing inputs deterministically.

use core::fmt;

use zeroize::Zeroizing;

use crate::HandshakeError;
use crate::primitives::shape_scalar;

/// A source of random bytes for the handshakes.
///
/// Give one to [`ClientHandshake::with_randomness`](crate::ClientHandshake::with_randomness)
/// or [`ServerHandshake::with_randomness`](crate::ServerHandshake::with_randomness);
/// [`ClientHandshake::new`](crate::ClientHandshake::new) and
/// [`ServerHandshake::new`](crate::ServerHandshake::new) use [`OsRandomness`].
///
/// **In production it must be a cryptographically secure random number
/// generator** (see the [module documentation](self)).
pub trait Randomness {
    /// Fills all of `buf` with random bytes, or fails; the handshake then
    /// fails with [`HandshakeError::Randomness`] and nothing is sent.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomnessError>;
}

/// A [`Randomness`] source could not deliver bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RandomnessError;

impl fmt::Display for RandomnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("The random number generator failed")
    }
}

impl std::error::Error for RandomnessError {}

/// The operating system's CSPRNG (`getrandom`; `wasi:random` inside wasm):
/// the default source, fit for production.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OsRandomness;

impl Randomness for OsRandomness {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomnessError> {
        getrandom::fill(buf).map_err(|_| RandomnessError)
    }
}

impl<R: Randomness + ?Sized> Randomness for Box<R> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomnessError> {
        (**self).fill(buf)
    }
}

/// How many all-zero scalars in a row are taken for a broken source.
const SCALAR_DRAWS: usize = 8;

/// A fresh 16-byte PBKDF2 salt (the server's, §4.2).
pub(crate) fn salt(source: &mut dyn Randomness) -> Result<[u8; 16], HandshakeError> {
    let mut salt = [0u8; 16];
    source
        .fill(&mut salt)
        .map_err(|_| HandshakeError::Randomness)?;
    Ok(salt)
}

/// `Spoke.random_scalar` (§2): 32 bytes shaped by [`shape_scalar`], drawn again
/// while the result is all zero (at most 8 times, then the source is taken
/// for broken).
pub(crate) fn scalar(source: &mut dyn Randomness) -> Result<Zeroizing<[u8; 32]>, HandshakeError> {
    for _ in 0..SCALAR_DRAWS {
        let mut raw = Zeroizing::new([0u8; 32]);
        source
            .fill(&mut raw[..])
            .map_err(|_| HandshakeError::Randomness)?;
        if let Some(s) = shape_scalar(&raw) {
            return Ok(s);
        }
    }
    Err(HandshakeError::Randomness)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Scripted, Seeded};

    #[test]
    fn a_scalar_is_shaped_and_an_all_zero_one_is_drawn_again() {
        // Bits 0-2 and 255 only: all zero once shaped.
        let mut zero_once_shaped = [0u8; 32];
        zero_once_shaped[0] = 7;
        zero_once_shaped[31] = 0x80;
        let mut source = Scripted::new(&[&zero_once_shaped, &[0xff; 32]]);
        let s = scalar(&mut source).expect("the second draw is usable");
        let mut want = [0xff; 32];
        want[0] = 0xf8;
        want[31] = 0x7f;
        assert_eq!(*s, want);
        assert_eq!(source.remaining(), 0, "exactly two draws");
    }

    #[test]
    fn a_source_that_fails_or_only_gives_zeros_is_a_randomness_error() {
        let mut empty = Scripted::default();
        assert_eq!(salt(&mut empty), Err(HandshakeError::Randomness));
        assert_eq!(scalar(&mut empty).err(), Some(HandshakeError::Randomness));
        let mut zeros = Scripted::new(&[&[0; 32 * SCALAR_DRAWS + 1]]);
        assert_eq!(scalar(&mut zeros).err(), Some(HandshakeError::Randomness));
        assert_eq!(zeros.remaining(), 1, "gives up after {SCALAR_DRAWS} draws");
    }

    /// What the fuzz targets rely on to replay a crash.
    #[test]
    fn a_seeded_source_repeats_its_seed_s_bytes_however_they_are_asked_for() {
        let mut whole = [0u8; 200];
        Seeded::new(b"seed").fill(&mut whole).unwrap();
        let mut pieces = [0u8; 200];
        let mut source = Seeded::new(b"seed");
        for chunk in pieces.chunks_mut(7) {
            source.fill(chunk).unwrap();
        }
        assert_eq!(whole, pieces);
        let mut other = [0u8; 200];
        Seeded::new(b"seee").fill(&mut other).unwrap();
        assert_ne!(whole, other);
        assert_ne!(whole[..64], whole[64..128], "blocks differ");
    }

    #[test]
    fn the_os_fills_salts_and_scalars() {
        let mut os = OsRandomness;
        assert_ne!(salt(&mut os), salt(&mut os));
        assert_ne!(*scalar(&mut os).unwrap(), *scalar(&mut os).unwrap());
    }
}
