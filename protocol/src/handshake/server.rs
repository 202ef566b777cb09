//! The server side: send public, read X, send Y || cv, read sv (§4).
//!
//! Owns: the offer (version, ciphers, count, a fresh salt), the scalar
//! y, and the check of the client's validator. Must never yield a session
//! before sv matched, and never lose bytes pipelined after sv.

use core::fmt;

use super::schedule::{PasswordKeys, PendingKeys, TranscriptInput};
use super::{Context, Handshake, Machine, Over, Step, point_error};
use crate::primitives::ed25519::{add, base_noclamp, mult_noclamp, sub};
use crate::randomness::{self, OsRandomness, Randomness};
use crate::session::{Role, Session};
use crate::wire::{PUBLIC_LEN, PublicPacket, VALIDATOR_LEN, X_LEN};
use crate::{Cipher, Config, HandshakeError, Identities};
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
    offer: Offer,
    machine: Machine<State>,
}

/// What the server offers in its public packet, besides the version and salt.
#[derive(Clone, Copy, Debug)]
struct Offer {
    ciphers: (Cipher, Cipher),
    iterations: u32,
}

impl Over for State {
    fn over(e: HandshakeError) -> Self {
        State::Over(e)
    }
}

impl fmt::Debug for ServerHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.machine.state {
            State::Start => "start",
            State::AwaitX(_) => "await-x",
            State::AwaitValidator(_) => "await-validator",
            State::Over(_) => "over",
        };
        f.debug_struct("ServerHandshake")
            .field("version", &self.machine.cx.version)
            .field("ciphers", &self.offer.ciphers)
            .field("iterations", &self.offer.iterations)
            .field("state", &state)
            .field("inbox", &self.machine.cx.inbox)
            .finish_non_exhaustive()
    }
}

impl ServerHandshake {
    /// A server for `ids` and `password`, offering `config.version`,
    /// `config.server_to_client` (cipher0), `config.client_to_server`
    /// (cipher1) and `config.iterations` (1 to 2^32-1). Its salt and scalar
    /// come from the operating system ([`OsRandomness`]).
    pub fn new(config: &Config, ids: Identities, password: &[u8]) -> Result<Self, HandshakeError> {
        Self::with_randomness(config, ids, password, OsRandomness)
    }

    /// Like [`ServerHandshake::new`], drawing its salt, then its scalar,
    /// from `randomness`, which in production must be a CSPRNG (see
    /// [`Randomness`]).
    pub fn with_randomness<R: Randomness + Send + Sync + 'static>(
        config: &Config,
        ids: Identities,
        password: &[u8],
        randomness: R,
    ) -> Result<Self, HandshakeError> {
        let machine = Machine::new(config.version, ids, password, randomness, State::Start)?;
        let iterations = u32::try_from(config.iterations)
            .ok()
            .filter(|&n| n > 0)
            .ok_or(HandshakeError::InvalidConfig(
                "iterations must be between 1 and 2^32-1",
            ))?;
        Ok(ServerHandshake {
            offer: Offer {
                ciphers: (config.server_to_client, config.client_to_server),
                iterations,
            },
            machine,
        })
    }

    /// Bytes received from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.machine.feed(bytes);
    }

    /// The client's stream ended.
    pub fn feed_eof(&mut self) {
        self.machine.feed_eof();
    }

    /// Advances the handshake; call until `NeedInput`, `Done` or `Failed`.
    pub fn step(&mut self) -> Step {
        let offer = self.offer;
        self.machine.step(|cx, state| advance(cx, offer, state))
    }
}

fn advance(cx: &mut Context, offer: Offer, state: State) -> Result<(State, Step), HandshakeError> {
    match state {
        State::Start => {
            let packet = PublicPacket {
                version: cx.version.wire(),
                iterations: u64::from(offer.iterations),
                cipher0: offer.ciphers.0,
                cipher1: offer.ciphers.1,
                salt: randomness::salt(&mut *cx.randomness)?,
            };
            let keys = PasswordKeys::derive(&cx.password, &packet.salt, offer.iterations);
            cx.wipe_password();
            let public = packet.emit();
            Ok((
                State::AwaitX(Box::new(AwaitX { public, keys })),
                Step::Send(public.to_vec()),
            ))
        }
        State::AwaitX(wait) => match cx.inbox.take::<X_LEN>()? {
            None => Ok((State::AwaitX(wait), Step::NeedInput)),
            Some(x) => {
                let (pending, reply) = on_x(cx, &wait, &x)?;
                Ok((State::AwaitValidator(pending), Step::Send(reply)))
            }
        },
        State::AwaitValidator(pending) => match cx.inbox.take::<VALIDATOR_LEN>()? {
            None => Ok((State::AwaitValidator(pending), Step::NeedInput)),
            Some(sv) => {
                let keys = pending.confirm_as_server(&sv)?;
                let session = Session::new(
                    cx.version,
                    Role::Server,
                    offer.ciphers,
                    keys,
                    cx.inbox.rest(),
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
    cx: &mut Context,
    wait: &AwaitX,
    x: &[u8; X_LEN],
) -> Result<(Box<PendingKeys>, Vec<u8>), HandshakeError> {
    let x_minus_m = sub(x, &wait.keys.m).map_err(point_error)?;
    let y = randomness::scalar(&mut *cx.randomness)?;
    let big_y = add(&base_noclamp(&y), &wait.keys.n).map_err(point_error)?;
    let z = Zeroizing::new(mult_noclamp(&y, &x_minus_m).map_err(point_error)?);
    let v = Zeroizing::new(mult_noclamp(&y, &wait.keys.l).map_err(point_error)?);
    let pending = PendingKeys::schedule(&TranscriptInput {
        version: cx.version,
        ids: &cx.ids,
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
