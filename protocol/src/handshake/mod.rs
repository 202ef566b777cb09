//! The SPAKE2+EE handshake (§4, §7, §9) as two sans-IO state machines.
//!
//! Owns: what each side sends and when, buffering of the peer's bytes (any
//! split or coalescing, unlike the reference's 128-byte context), the
//! version and iteration-count policy, and the step plumbing both sides
//! share ([`Machine`]). Must never run PBKDF2 on an
//! unbounded count, never accept a validator without a constant-time
//! comparison, and never drop bytes received past the last message.

mod client;
mod schedule;
mod server;

use core::fmt;

use zeroize::Zeroizing;

pub use client::ClientHandshake;
pub(crate) use schedule::ConfirmedKeys;
#[cfg(any(test, feature = "testing"))]
pub(crate) use schedule::PasswordKeys;
use schedule::check_identities;
pub use server::ServerHandshake;

use crate::primitives::ed25519::Rejected;
use crate::randomness::Randomness;
use crate::{HandshakeError, Identities, Session, Version};

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

/// What a side's transitions read and change besides its state: set up by
/// the constructor, the same for both sides.
pub(crate) struct Context {
    pub(crate) version: Version,
    pub(crate) ids: Identities,
    /// Wiped once PBKDF2 ran, and when the handshake fails.
    pub(crate) password: Zeroizing<Vec<u8>>,
    pub(crate) randomness: Box<dyn Randomness + Send + Sync>,
    pub(crate) inbox: Inbox,
}

impl Context {
    pub(crate) fn wipe_password(&mut self) {
        self.password = Zeroizing::new(Vec::new());
    }
}

/// A side's states: the final one, which keeps the error `step` returns.
pub(crate) trait Over {
    fn over(e: HandshakeError) -> Self;
}

/// The plumbing both sides share: a state taken out for each transition
/// and put back, and any error made final (the password is wiped with it).
pub(crate) struct Machine<S> {
    pub(crate) cx: Context,
    pub(crate) state: S,
}

impl<S: Over> Machine<S> {
    /// A side in its first state, once its identities are usable with
    /// `version` (§9.1).
    pub(crate) fn new<R: Randomness + Send + Sync + 'static>(
        version: Version,
        ids: Identities,
        password: &[u8],
        randomness: R,
        first: S,
    ) -> Result<Self, HandshakeError> {
        check_identities(version, &ids)?;
        let cx = Context {
            version,
            ids,
            password: Zeroizing::new(password.to_vec()),
            randomness: Box::new(randomness),
            inbox: Inbox::default(),
        };
        Ok(Machine { cx, state: first })
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.cx.inbox.feed(bytes);
    }

    pub(crate) fn feed_eof(&mut self) {
        self.cx.inbox.feed_eof();
    }

    /// Runs `advance` on the current state; an error ends the handshake.
    pub(crate) fn step(
        &mut self,
        advance: impl FnOnce(&mut Context, S) -> Result<(S, Step), HandshakeError>,
    ) -> Step {
        let state = core::mem::replace(&mut self.state, S::over(HandshakeError::Finished));
        match advance(&mut self.cx, state) {
            Ok((next, step)) => {
                self.state = next;
                step
            }
            Err(e) => {
                self.state = S::over(e.clone());
                self.cx.wipe_password();
                Step::Failed(e)
            }
        }
    }
}

/// A received point the multiplication checks of §2 reject (§10).
pub(crate) fn point_error(_: Rejected) -> HandshakeError {
    HandshakeError::PointNotOnPrimeOrderSubgroup
}
