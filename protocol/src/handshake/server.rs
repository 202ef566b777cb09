//! The server side: send public, read X, send Y || cv, read sv (§4).
//!
//! Owns: the offer (version, ciphers, count, a fresh OS salt), the scalar
//! y, and the check of the client's validator. Must never yield a session
//! before sv matched, and never lose bytes pipelined after sv.

use core::fmt;

use super::schedule::{PasswordKeys, PendingKeys, TranscriptInput, check_identities};
use super::{Entropy, Handshake, Inbox, Step};
use crate::primitives::ed25519::{Rejected, add, base_noclamp, mult_noclamp, sub};
use crate::session::{Role, Session};
use crate::wire::{PUBLIC_LEN, PublicPacket, VALIDATOR_LEN, X_LEN};
use crate::{Cipher, Config, HandshakeError, Identities, Version};
use zeroize::Zeroizing;

enum State {
    Start,
    AwaitX(Box<AwaitX>),
    AwaitValidator(Box<PendingKeys>),
    Over(HandshakeError),
}

struct AwaitX {
    public: [u8; PUBLIC_LEN],
    keys: PasswordKeys,
}

/// The server's handshake: send what it says, feed it the client's bytes.
pub struct ServerHandshake {
    version: Version,
    ciphers: (Cipher, Cipher),
    iterations: u32,
    ids: Identities,
    password: Zeroizing<Vec<u8>>,
    entropy: Entropy,
    inbox: Inbox,
    state: State,
}

impl fmt::Debug for ServerHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Start => "start",
            State::AwaitX(_) => "await-x",
            State::AwaitValidator(_) => "await-validator",
            State::Over(_) => "over",
        };
        f.debug_struct("ServerHandshake")
            .field("version", &self.version)
            .field("ciphers", &self.ciphers)
            .field("iterations", &self.iterations)
            .field("state", &state)
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

fn point_error(_: Rejected) -> HandshakeError {
    HandshakeError::PointNotOnPrimeOrderSubgroup
}

impl ServerHandshake {
    /// A server for `ids` and `password`, offering `config.version`,
    /// `config.server_to_client` (cipher0), `config.client_to_server`
    /// (cipher1) and `config.iterations` (1 to 2^32-1).
    pub fn new(config: &Config, ids: Identities, password: &[u8]) -> Result<Self, HandshakeError> {
        check_identities(config.version, &ids)?;
        let iterations = u32::try_from(config.iterations)
            .ok()
            .filter(|&n| n > 0)
            .ok_or(HandshakeError::InvalidConfig(
                "iterations must be between 1 and 2^32-1",
            ))?;
        Ok(ServerHandshake {
            version: config.version,
            ciphers: (config.server_to_client, config.client_to_server),
            iterations,
            ids,
            password: Zeroizing::new(password.to_vec()),
            entropy: Entropy::Os,
            inbox: Inbox::default(),
            state: State::Start,
        })
    }

    /// Test hook: use this salt and draw y from these raw bytes.
    #[cfg(test)]
    pub(crate) fn with_fixed_randomness(mut self, salt: [u8; 16], y_raw: [u8; 32]) -> Self {
        self.entropy = Entropy::Fixed {
            salt,
            scalar: y_raw,
        };
        self
    }

    /// Bytes received from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.inbox.feed(bytes);
    }

    /// The client's stream ended.
    pub fn feed_eof(&mut self) {
        self.inbox.feed_eof();
    }

    /// Advances the handshake; call until `NeedInput`, `Done` or `Failed`.
    pub fn step(&mut self) -> Step {
        let state = core::mem::replace(&mut self.state, State::Over(HandshakeError::Finished));
        match self.advance(state) {
            Ok((next, step)) => {
                self.state = next;
                step
            }
            Err(e) => {
                self.state = State::Over(e.clone());
                self.password = Zeroizing::new(Vec::new());
                Step::Failed(e)
            }
        }
    }

    fn advance(&mut self, state: State) -> Result<(State, Step), HandshakeError> {
        match state {
            State::Start => {
                let packet = PublicPacket {
                    version: self.version.wire(),
                    iterations: u64::from(self.iterations),
                    cipher0: self.ciphers.0,
                    cipher1: self.ciphers.1,
                    salt: self.entropy.salt()?,
                };
                let keys = PasswordKeys::derive(&self.password, &packet.salt, self.iterations);
                self.password = Zeroizing::new(Vec::new());
                let public = packet.emit();
                Ok((
                    State::AwaitX(Box::new(AwaitX { public, keys })),
                    Step::Send(public.to_vec()),
                ))
            }
            State::AwaitX(wait) => match self.inbox.take::<X_LEN>()? {
                None => Ok((State::AwaitX(wait), Step::NeedInput)),
                Some(x) => {
                    let (pending, reply) = self.on_x(&wait, &x)?;
                    Ok((State::AwaitValidator(pending), Step::Send(reply)))
                }
            },
            State::AwaitValidator(pending) => match self.inbox.take::<VALIDATOR_LEN>()? {
                None => Ok((State::AwaitValidator(pending), Step::NeedInput)),
                Some(sv) => {
                    let keys = pending.confirm_as_server(&sv)?;
                    let session = Session::new(
                        self.version,
                        Role::Server,
                        self.ciphers,
                        keys,
                        self.inbox.rest(),
                    );
                    Ok((
                        State::Over(HandshakeError::Finished),
                        Step::Done(Box::new(session)),
                    ))
                }
            },
            State::Over(e) => Err(e),
        }
    }

    fn on_x(
        &self,
        wait: &AwaitX,
        x: &[u8; X_LEN],
    ) -> Result<(Box<PendingKeys>, Vec<u8>), HandshakeError> {
        let x_minus_m = sub(x, &wait.keys.m).map_err(point_error)?;
        let y = self.entropy.scalar()?;
        let big_y = add(&base_noclamp(&y), &wait.keys.n).map_err(point_error)?;
        let z = Zeroizing::new(mult_noclamp(&y, &x_minus_m).map_err(point_error)?);
        let v = Zeroizing::new(mult_noclamp(&y, &wait.keys.l).map_err(point_error)?);
        let pending = PendingKeys::schedule(&TranscriptInput {
            version: self.version,
            ids: &self.ids,
            public: &wait.public,
            x,
            y: &big_y,
            z: &z,
            h_k: &wait.keys.h_k,
            v: &v,
        });
        let mut reply = Vec::with_capacity(96);
        reply.extend_from_slice(&big_y);
        reply.extend_from_slice(pending.client_validator());
        Ok((Box::new(pending), reply))
    }
}

impl Handshake for ServerHandshake {
    fn feed(&mut self, bytes: &[u8]) {
        ServerHandshake::feed(self, bytes)
    }
    fn feed_eof(&mut self) {
        ServerHandshake::feed_eof(self)
    }
    fn step(&mut self) -> Step {
        ServerHandshake::step(self)
    }
}
