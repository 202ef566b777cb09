//! The client side: read public, send X, read Y || cv, send sv (§4).
//!
//! Owns: the client's version check and iteration-count bound (before
//! PBKDF2), its scalar x, and the check of the server's validator. Must
//! never send sv unless cv matched.

use core::fmt;

use zeroize::Zeroizing;

use super::schedule::{
    ConfirmedKeys, PasswordKeys, PendingKeys, TranscriptInput, check_identities,
};
use super::{Entropy, Handshake, Inbox, Step};
use crate::primitives::ed25519::{Point, add, base_noclamp, mult_clamp, mult_noclamp, sub};
use crate::session::{Role, Session};
use crate::wire::{PUBLIC_LEN, PublicPacket, REPLY_LEN};
use crate::{Cipher, Config, HandshakeError, Identities, Version};

enum State {
    AwaitPublic,
    AwaitReply(Box<AwaitReply>),
    Confirmed((Cipher, Cipher), ConfirmedKeys),
    Over(HandshakeError),
}

struct AwaitReply {
    public: [u8; PUBLIC_LEN],
    ciphers: (Cipher, Cipher),
    keys: PasswordKeys,
    x: Zeroizing<[u8; 32]>,
    big_x: Point,
}

/// The client's handshake: feed it the server's bytes, send what it says.
///
/// Against an OCaml reference server (version 1), write the final `sv`
/// message on its own before any record: a reference server that reads
/// `sv` and 64 or more further bytes at once fails (§7, `Not_enough_space`).
pub struct ClientHandshake {
    version: Version,
    max_iterations: u64,
    ids: Identities,
    password: Zeroizing<Vec<u8>>,
    entropy: Entropy,
    inbox: Inbox,
    state: State,
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::AwaitPublic => "await-public",
            State::AwaitReply(_) => "await-reply",
            State::Confirmed(..) => "confirmed",
            State::Over(_) => "over",
        };
        f.debug_struct("ClientHandshake")
            .field("version", &self.version)
            .field("state", &state)
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

fn point_error(_: crate::primitives::ed25519::Rejected) -> HandshakeError {
    HandshakeError::PointNotOnPrimeOrderSubgroup
}

impl ClientHandshake {
    /// A client for `ids` and `password`. Uses `config.version` and
    /// `config.max_iterations`; the ciphers and count come from the server.
    pub fn new(config: &Config, ids: Identities, password: &[u8]) -> Result<Self, HandshakeError> {
        check_identities(config.version, &ids)?;
        if config.max_iterations == 0 {
            return Err(HandshakeError::InvalidConfig(
                "max_iterations must be at least 1",
            ));
        }
        Ok(ClientHandshake {
            version: config.version,
            max_iterations: config.max_iterations,
            ids,
            password: Zeroizing::new(password.to_vec()),
            entropy: Entropy::Os,
            inbox: Inbox::default(),
            state: State::AwaitPublic,
        })
    }

    /// Test hook: draw x from these raw bytes instead of the OS.
    #[cfg(test)]
    pub(crate) fn with_fixed_scalar(mut self, x_raw: [u8; 32]) -> Self {
        self.entropy = Entropy::Fixed {
            salt: [0; 16],
            scalar: x_raw,
        };
        self
    }

    /// Bytes received from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.inbox.feed(bytes);
    }

    /// The server's stream ended.
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
            State::AwaitPublic => match self.inbox.take::<PUBLIC_LEN>()? {
                None => Ok((State::AwaitPublic, Step::NeedInput)),
                Some(public) => {
                    let reply = self.on_public(public)?;
                    let big_x = reply.big_x;
                    Ok((State::AwaitReply(reply), Step::Send(big_x.to_vec())))
                }
            },
            State::AwaitReply(wait) => match self.inbox.take::<REPLY_LEN>()? {
                None => Ok((State::AwaitReply(wait), Step::NeedInput)),
                Some(reply) => {
                    let (keys, sv) = self.on_reply(&wait, &reply)?;
                    Ok((
                        State::Confirmed(wait.ciphers, keys),
                        Step::Send(sv.to_vec()),
                    ))
                }
            },
            State::Confirmed(ciphers, keys) => {
                let session =
                    Session::new(self.version, Role::Client, ciphers, keys, self.inbox.rest());
                Ok((
                    State::Over(HandshakeError::Finished),
                    Step::Done(Box::new(session)),
                ))
            }
            State::Over(e) => Err(e),
        }
    }

    fn on_public(&mut self, public: [u8; PUBLIC_LEN]) -> Result<Box<AwaitReply>, HandshakeError> {
        let packet = PublicPacket::parse(&public)?;
        if packet.version != self.version.wire() {
            return Err(match Version::from_wire(packet.version) {
                Some(_) => HandshakeError::VersionMismatch {
                    ours: self.version.wire(),
                    theirs: packet.version,
                },
                None => HandshakeError::InvalidPublicPacket,
            });
        }
        let refused = HandshakeError::IterationCountRefused {
            requested: packet.iterations,
            maximum: self.max_iterations,
        };
        if packet.iterations == 0 || packet.iterations > self.max_iterations {
            return Err(refused);
        }
        let count = u32::try_from(packet.iterations).map_err(|_| refused)?;
        let keys = PasswordKeys::derive(&self.password, &packet.salt, count);
        self.password = Zeroizing::new(Vec::new());
        let x = self.entropy.scalar()?;
        let big_x = add(&base_noclamp(&x), &keys.m).map_err(point_error)?;
        Ok(Box::new(AwaitReply {
            public,
            ciphers: (packet.cipher0, packet.cipher1),
            keys,
            x,
            big_x,
        }))
    }

    fn on_reply(
        &self,
        wait: &AwaitReply,
        reply: &[u8; REPLY_LEN],
    ) -> Result<(ConfirmedKeys, [u8; 64]), HandshakeError> {
        let mut y = [0u8; 32];
        y.copy_from_slice(&reply[..32]);
        let y_minus_n = sub(&y, &wait.keys.n).map_err(point_error)?;
        let z = Zeroizing::new(mult_noclamp(&wait.x, &y_minus_n).map_err(point_error)?);
        let v = Zeroizing::new(mult_clamp(&wait.keys.h_l, &y_minus_n).map_err(point_error)?);
        let pending = PendingKeys::schedule(&TranscriptInput {
            version: self.version,
            ids: &self.ids,
            public: &wait.public,
            x: &wait.big_x,
            y: &y,
            z: &z,
            h_k: &wait.keys.h_k,
            v: &v,
        });
        pending.confirm_as_client(&reply[32..])
    }
}

impl Handshake for ClientHandshake {
    fn feed(&mut self, bytes: &[u8]) {
        ClientHandshake::feed(self, bytes)
    }
    fn feed_eof(&mut self) {
        ClientHandshake::feed_eof(self)
    }
    fn step(&mut self) -> Step {
        ClientHandshake::step(self)
    }
}
