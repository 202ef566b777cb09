//! The spoke handshake over a flow: builds the core's machine
//! (`spoke_protocol`), feeds it from the flow beneath and sends what it
//! asks, then hands its session's keys to a [`SecureFlow`]. The WIT values
//! are converted in `contract.rs`.
//!
//! Owns: the drive loop only. Never keeps the password (the caller wipes
//! it) and never decides anything cryptographic itself.

use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::poll;
use zeroize::Zeroizing;

use super::super::bindings::exports::spoke::flow::spoke::{
    Config as WitConfig, HandshakeError as WitHandshakeError, Identities as WitIdentities,
};
use super::super::bindings::exports::spoke::flow::types::{Error, WriteError};
use super::super::budget::Reservation;
use super::super::contract::{config, handshake_error};
use super::super::layer::Conn;
use super::SecureFlow;
use spoke_protocol::{
    Cipher, ClientHandshake, Handshake, Identities, Opener, Role, Sealer, ServerHandshake, Step,
};

/// Runs the handshake as `role` over `under`, giving up with `timed-out`
/// at `deadline` (a monotonic-clock instant) if there is one; on failure
/// `under` is closed. `reserved` is the new flow's share of the buffer
/// budget.
pub fn handshake(
    role: Role,
    mut under: Conn,
    ids: WitIdentities,
    password: &Zeroizing<Vec<u8>>,
    cfg: WitConfig,
    deadline: Option<u64>,
    reserved: Reservation,
) -> Result<SecureFlow, WitHandshakeError> {
    let result = run(role, &mut under, ids, password, cfg, deadline);
    match result {
        Ok((sealer, opener, ciphers)) => {
            Ok(SecureFlow::new(under, sealer, opener, ciphers, reserved))
        }
        Err(e) => {
            under.close();
            Err(e)
        }
    }
}

/// Builds the machine and drives it to a session.
fn run(
    role: Role,
    under: &mut Conn,
    ids: WitIdentities,
    password: &[u8],
    cfg: WitConfig,
    deadline: Option<u64>,
) -> Result<(Sealer, Opener, (Cipher, Cipher)), WitHandshakeError> {
    let config = config(&cfg)?;
    let ids = Identities {
        client: ids.client.into_bytes(),
        server: ids.server.into_bytes(),
    };
    let session = match role {
        Role::Client => drive(
            under,
            ClientHandshake::new(&config, ids, password).map_err(handshake_error)?,
            deadline,
        ),
        Role::Server => drive(
            under,
            ServerHandshake::new(&config, ids, password).map_err(handshake_error)?,
            deadline,
        ),
    }?;
    let ciphers = session.ciphers();
    let (sealer, opener) = session.into_parts();
    Ok((sealer, opener, ciphers))
}

/// Feeds the machine from `under` and sends what it asks, until it is done.
fn drive(
    under: &mut Conn,
    mut machine: impl Handshake,
    deadline: Option<u64>,
) -> Result<Box<spoke_protocol::Session>, WitHandshakeError> {
    loop {
        match machine.step() {
            Step::Send(bytes) => under.write(&bytes).map_err(|e| match e {
                WriteError::Closed => WitHandshakeError::Closed,
                WriteError::Error(e) => WitHandshakeError::Flow(e),
            })?,
            Step::NeedInput => match read_by(under, deadline) {
                Ok(Some(bytes)) => machine.feed(&bytes),
                Ok(None) => machine.feed_eof(),
                Err(e) => return Err(WitHandshakeError::Flow(e)),
            },
            Step::Done(session) => return Ok(session),
            Step::Failed(e) => return Err(handshake_error(e)),
        }
    }
}

/// A read of `under` that gives up with `timed-out` at `deadline`.
fn read_by(under: &mut Conn, deadline: Option<u64>) -> Result<Option<Vec<u8>>, Error> {
    let max = crate::CHUNK as u32;
    let Some(deadline) = deadline else {
        return under.read(max);
    };
    loop {
        if let Some(read) = under.try_read(max)? {
            return Ok(read);
        }
        if monotonic_clock::now() >= deadline {
            return Err(Error::TimedOut);
        }
        under.prepare_waits();
        let timer = monotonic_clock::subscribe_instant(deadline);
        if let Some(readable) = under.read_wait() {
            poll(&[readable, &timer]);
        }
    }
}
