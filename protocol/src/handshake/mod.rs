//! The SPAKE2+EE handshake (§4, §7, §9) as two sans-IO state machines.
//!
//! Owns: what each side sends and when, buffering of the peer's bytes (any
//! split or coalescing, unlike the reference's 128-byte context), the
//! version and iteration-count policy. Must never run PBKDF2 on an
//! unbounded count, never accept a validator without a constant-time
//! comparison, and never drop bytes received past the last message.

mod client;
mod schedule;
mod server;

use core::fmt;

use zeroize::Zeroizing;

pub use client::ClientHandshake;
pub(crate) use schedule::ConfirmedKeys;
#[cfg(test)]
pub(crate) use schedule::password_keys_for_tests;
pub use server::ServerHandshake;

use super::primitives::{os_random, shape_scalar};
use super::{HandshakeError, Session};

/// What a handshake wants next.
#[derive(Debug)]
pub enum Step {
    /// Write all of these bytes to the peer, then call `step` again.
    Send(Vec<u8>),
    /// Feed more bytes from the peer (or its end of stream), then call `step`.
    NeedInput,
    /// The handshake succeeded.
    Done(Box<Session>),
    /// The handshake failed; the flow should be closed.
    Failed(HandshakeError),
}

/// What [`ClientHandshake`] and [`ServerHandshake`] have in common, for code
/// that drives either. Both also have these as inherent methods.
pub trait Handshake {
    /// Bytes received from the peer.
    fn feed(&mut self, bytes: &[u8]);
    /// The peer's stream ended.
    fn feed_eof(&mut self);
    /// Advances; call until `NeedInput`, `Done` or `Failed`. After `Done` or
    /// `Failed`, it keeps returning `Failed`.
    fn step(&mut self) -> Step;
}

/// The peer's bytes, cut into handshake messages of fixed sizes.
#[derive(Default)]
pub(crate) struct Inbox {
    buf: Vec<u8>,
    eof: bool,
}

impl Inbox {
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn feed_eof(&mut self) {
        self.eof = true;
    }

    /// The next `N`-byte message; `Ok(None)` to wait, `EndOfInput` if it
    /// can never come.
    pub(crate) fn take<const N: usize>(&mut self) -> Result<Option<[u8; N]>, HandshakeError> {
        if self.buf.len() < N {
            return if self.eof {
                Err(HandshakeError::EndOfInput)
            } else {
                Ok(None)
            };
        }
        let mut msg = [0u8; N];
        msg.copy_from_slice(&self.buf[..N]);
        self.buf.drain(..N);
        Ok(Some(msg))
    }

    /// Everything received past the last message.
    pub(crate) fn rest(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.buf)
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("buffered", &self.buf.len())
            .field("eof", &self.eof)
            .finish()
    }
}

/// Where salts and scalars come from: always the OS, except in this
/// crate's own tests, which replay the reference's vectors.
pub(crate) enum Entropy {
    Os,
    #[cfg(test)]
    Fixed {
        salt: [u8; 16],
        scalar: [u8; 32],
    },
}

impl Entropy {
    pub(crate) fn salt(&self) -> Result<[u8; 16], HandshakeError> {
        match self {
            Entropy::Os => {
                let mut salt = [0u8; 16];
                os_random(&mut salt).map_err(|_| HandshakeError::Randomness)?;
                Ok(salt)
            }
            #[cfg(test)]
            Entropy::Fixed { salt, .. } => Ok(*salt),
        }
    }

    /// `Spoke.random_scalar`: shaped random bytes, never all zero.
    pub(crate) fn scalar(&self) -> Result<Zeroizing<[u8; 32]>, HandshakeError> {
        match self {
            Entropy::Os => {
                for _ in 0..8 {
                    let mut raw = Zeroizing::new([0u8; 32]);
                    os_random(&mut raw[..]).map_err(|_| HandshakeError::Randomness)?;
                    if let Some(s) = shape_scalar(&raw) {
                        return Ok(s);
                    }
                }
                Err(HandshakeError::Randomness)
            }
            #[cfg(test)]
            Entropy::Fixed { scalar, .. } => shape_scalar(scalar).ok_or(HandshakeError::Randomness),
        }
    }
}
