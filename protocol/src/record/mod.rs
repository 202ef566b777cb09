//! The record layer (§6, §9): `u16be(LEN) || AEAD(plaintext) || tag`, LEN
//! counting its own 2 bytes, one sequence number per direction.
//!
//! Owns: framing, sequence numbers, the version-2 close marker and the
//! sticky end states. Must never emit a record over 65517 plaintext bytes,
//! reuse a sequence number, or hand out unauthenticated bytes.

pub(crate) mod aead;
mod opener;
mod sealer;

pub use aead::ChaCha;
pub use opener::{Opened, Opener};
pub use sealer::Sealer;
