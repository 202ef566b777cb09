//! Test support: two handshakes talking in memory (quinn's `Pair` style)
//! and small helpers shared by the unit tests and the vector replays.

use super::{
    ClientHandshake, Handshake, HandshakeError, Opened, Opener, Randomness, RandomnessError,
    ServerHandshake, Session, Step,
};

/// A [`Randomness`] source that hands out the given bytes in order, then
/// fails: replays a recorded handshake (the server draws its salt, then
/// its scalar; the client its scalar).
#[derive(Clone, Debug, Default)]
pub(crate) struct Scripted {
    bytes: Vec<u8>,
}

impl Scripted {
    /// A source of exactly these bytes.
    pub(crate) fn new(parts: &[&[u8]]) -> Self {
        Scripted {
            bytes: parts.concat(),
        }
    }

    /// The bytes not handed out yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }
}

impl Randomness for Scripted {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomnessError> {
        if buf.len() > self.bytes.len() {
            return Err(RandomnessError);
        }
        buf.copy_from_slice(&self.bytes[..buf.len()]);
        self.bytes.drain(..buf.len());
        Ok(())
    }
}

/// Who sent a handshake message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    ServerToClient,
    ClientToServer,
}

/// A rewrite of the bytes in flight: gets the direction, the message index
/// (0-based over the whole handshake) and the bytes, may change them.
pub(crate) type Tamper<'a> = &'a mut dyn FnMut(Dir, usize, &mut Vec<u8>);

/// The outcome of running two handshakes against each other.
pub(crate) struct PairOutcome {
    pub(crate) client: Result<Box<Session>, HandshakeError>,
    pub(crate) server: Result<Box<Session>, HandshakeError>,
    pub(crate) wire: Vec<(Dir, Vec<u8>)>,
}

/// Runs both machines until neither makes progress. A side that fails
/// closes its stream (the peer gets EOF), as a real flow would.
pub(crate) fn run_pair(
    client: &mut ClientHandshake,
    server: &mut ServerHandshake,
    tamper: Option<Tamper<'_>>,
) -> PairOutcome {
    let mut tamper = tamper;
    let mut wire = Vec::new();
    let mut outcome: [Option<Result<Box<Session>, HandshakeError>>; 2] = [None, None];
    loop {
        let mut progress = false;
        #[allow(clippy::needless_range_loop)] // side picks both the machine and its slot
        for side in 0..2 {
            if outcome[side].is_some() {
                continue;
            }
            let (me, other, dir): (&mut dyn Handshake, &mut dyn Handshake, Dir) = if side == 0 {
                (&mut *server, &mut *client, Dir::ServerToClient)
            } else {
                (&mut *client, &mut *server, Dir::ClientToServer)
            };
            match me.step() {
                Step::Send(mut bytes) => {
                    if let Some(t) = tamper.as_mut() {
                        t(dir, wire.len(), &mut bytes);
                    }
                    other.feed(&bytes);
                    wire.push((dir, bytes));
                    progress = true;
                }
                Step::NeedInput => {}
                Step::Done(s) => {
                    outcome[side] = Some(Ok(s));
                    progress = true;
                }
                Step::Failed(e) => {
                    other.feed_eof();
                    outcome[side] = Some(Err(e));
                    progress = true;
                }
            }
        }
        if !progress {
            break;
        }
    }
    let [server_result, client_result] = outcome;
    PairOutcome {
        client: client_result.unwrap_or(Err(HandshakeError::EndOfInput)),
        server: server_result.unwrap_or(Err(HandshakeError::EndOfInput)),
        wire,
    }
}

/// Everything an opener yields until it needs input: data, then the final
/// `End`/`NeedInput`/error as a string for easy comparison.
pub(crate) fn drain(opener: &mut Opener) -> (Vec<Vec<u8>>, String) {
    let mut data = Vec::new();
    loop {
        match opener.open() {
            Ok(Opened::Data(d)) => {
                assert!(!d.is_empty(), "Data is never empty");
                data.push(d.to_vec());
            }
            Ok(Opened::NeedInput) => return (data, "NeedInput".into()),
            Ok(Opened::End) => return (data, "End".into()),
            Err(e) => return (data, format!("{e:?}")),
        }
    }
}

pub(crate) fn hex(s: &str) -> Vec<u8> {
    ::hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s:.40}: {e}"))
}

pub(crate) fn arr<const N: usize>(s: &str) -> [u8; N] {
    hex(s)
        .try_into()
        .unwrap_or_else(|v: Vec<u8>| panic!("expected {N} bytes, got {}", v.len()))
}
