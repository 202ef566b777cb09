//! The client side: read public, send X, read Y || cv, send sv (§4).
//!
//! Owns: the client's version check and iteration-count bound (before
//! PBKDF2), its scalar x, and the check of the server's validator. Must
//! never send sv unless cv matched.

use core::fmt;

use zeroize::Zeroizing;

use super::schedule::{ConfirmedKeys, PasswordKeys, PendingKeys, TranscriptInput};
use super::{Context, Handshake, Machine, Over, Step, point_error};
use crate::primitives::ed25519::{Point, add, base_noclamp, mult_clamp, mult_noclamp, sub};
use crate::randomness::{self, OsRandomness, Randomness};
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
    max_iterations: u64,
    machine: Machine<State>,
}

impl Over for State {
    fn over(e: HandshakeError) -> Self {
        State::Over(e)
    }
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.machine.state {
            State::AwaitPublic => "await-public",
            State::AwaitReply(_) => "await-reply",
            State::Confirmed(..) => "confirmed",
            State::Over(_) => "over",
        };
        f.debug_struct("ClientHandshake")
            .field("version", &self.machine.cx.version)
            .field("state", &state)
            .field("inbox", &self.machine.cx.inbox)
            .finish_non_exhaustive()
    }
}

impl ClientHandshake {
    /// A client for `ids` and `password`. Uses `config.version` and
    /// `config.max_iterations`; the ciphers and count come from the server.
    /// Its scalar comes from the operating system ([`OsRandomness`]).
    pub fn new(config: &Config, ids: Identities, password: &[u8]) -> Result<Self, HandshakeError> {
        Self::with_randomness(config, ids, password, OsRandomness)
    }

    /// Like [`ClientHandshake::new`], drawing its scalar from `randomness`,
    /// which in production must be a CSPRNG (see [`Randomness`]).
    pub fn with_randomness<R: Randomness + Send + Sync + 'static>(
        config: &Config,
        ids: Identities,
        password: &[u8],
        randomness: R,
    ) -> Result<Self, HandshakeError> {
        let machine = Machine::new(
            config.version,
            ids,
            password,
            randomness,
            State::AwaitPublic,
        )?;
        if config.max_iterations == 0 {
            return Err(HandshakeError::InvalidConfig(
                "max_iterations must be at least 1",
            ));
        }
        Ok(ClientHandshake {
            max_iterations: config.max_iterations,
            machine,
        })
    }

    /// Bytes received from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.machine.feed(bytes);
    }

    /// The server's stream ended.
    pub fn feed_eof(&mut self) {
        self.machine.feed_eof();
    }

    /// Advances the handshake; call until `NeedInput`, `Done` or `Failed`.
    pub fn step(&mut self) -> Step {
        let max_iterations = self.max_iterations;
        self.machine
            .step(|cx, state| advance(cx, max_iterations, state))
    }
}

fn advance(
    cx: &mut Context,
    max_iterations: u64,
    state: State,
) -> Result<(State, Step), HandshakeError> {
    match state {
        State::AwaitPublic => match cx.inbox.take::<PUBLIC_LEN>()? {
            None => Ok((State::AwaitPublic, Step::NeedInput)),
            Some(public) => {
                let reply = on_public(cx, max_iterations, public)?;
                let big_x = reply.big_x;
                Ok((State::AwaitReply(reply), Step::Send(big_x.to_vec())))
            }
        },
        State::AwaitReply(wait) => match cx.inbox.take::<REPLY_LEN>()? {
            None => Ok((State::AwaitReply(wait), Step::NeedInput)),
            Some(reply) => {
                let (keys, sv) = on_reply(cx, &wait, &reply)?;
                Ok((
                    State::Confirmed(wait.ciphers, keys),
                    Step::Send(sv.to_vec()),
                ))
            }
        },
        State::Confirmed(ciphers, keys) => {
            let session = Session::new(cx.version, Role::Client, ciphers, keys, cx.inbox.rest());
            Ok((
                State::Over(HandshakeError::Finished),
                Step::Done(Box::new(session)),
            ))
        }
        State::Over(e) => Err(e),
    }
}

fn on_public(
    cx: &mut Context,
    max_iterations: u64,
    public: [u8; PUBLIC_LEN],
) -> Result<Box<AwaitReply>, HandshakeError> {
    let packet = PublicPacket::parse(&public)?;
    if packet.version != cx.version.wire() {
        return Err(match Version::from_wire(packet.version) {
            Some(_) => HandshakeError::VersionMismatch {
                ours: cx.version.wire(),
                theirs: packet.version,
            },
            None => HandshakeError::InvalidPublicPacket,
        });
    }
    // PBKDF2's count is 32 bits (§3), so no configured maximum lets more
    // than 2^32-1 through, and the refusal names the bound that applies.
    let maximum = max_iterations.min(u64::from(u32::MAX));
    let refused = HandshakeError::IterationCountRefused {
        requested: packet.iterations,
        maximum,
    };
    let count = match u32::try_from(packet.iterations) {
        Ok(count) if count != 0 && u64::from(count) <= maximum => count,
        _ => return Err(refused),
    };
    let keys = PasswordKeys::derive(&cx.password, &packet.salt, count);
    cx.wipe_password();
    let x = randomness::scalar(&mut *cx.randomness)?;
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
    cx: &Context,
    wait: &AwaitReply,
    reply: &[u8; REPLY_LEN],
) -> Result<(ConfirmedKeys, [u8; 64]), HandshakeError> {
    let mut y = [0u8; 32];
    y.copy_from_slice(&reply[..32]);
    let y_minus_n = sub(&y, &wait.keys.n).map_err(point_error)?;
    let z = Zeroizing::new(mult_noclamp(&wait.x, &y_minus_n).map_err(point_error)?);
    let v = Zeroizing::new(mult_clamp(&wait.keys.h_l, &y_minus_n).map_err(point_error)?);
    let pending = PendingKeys::schedule(&TranscriptInput {
        version: cx.version,
        ids: &cx.ids,
        public: &wait.public,
        x: &wait.big_x,
        y: &y,
        z: &z,
        h_k: &wait.keys.h_k,
        v: &v,
    });
    pending.confirm_as_client(&reply[32..])
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
