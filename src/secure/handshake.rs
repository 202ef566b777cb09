//! The spoke handshake over a flow: builds the core's machine
//! (`spoke_protocol`), feeds it from the flow beneath and sends what it
//! asks, then hands its session's keys to a [`SecureFlow`]. The WIT values
//! are converted in `contract.rs`.
//!
//! Owns: the drive loop only. Never keeps the password (the caller wipes
//! it) and never decides anything cryptographic itself.

use zeroize::Zeroizing;

use super::super::bindings::exports::spoke::flow::spoke::{
    Config as WitConfig, HandshakeError as WitHandshakeError, Identities as WitIdentities,
};
use super::super::bindings::exports::spoke::flow::types::WriteError;
use super::super::budget::Reservation;
use super::super::contract::{config, handshake_error};
use super::super::layer::Conn;
use super::SecureFlow;
use spoke_protocol::{
    Cipher, ClientHandshake, Handshake, Identities, Opener, Role, Sealer, ServerHandshake, Step,
};

/// Runs the handshake as `role` over `under`; on failure `under` is closed.
/// `reserved` is the new flow's share of the buffer budget.
pub fn handshake(
    role: Role,
    mut under: Conn,
    ids: WitIdentities,
    password: &Zeroizing<Vec<u8>>,
    cfg: WitConfig,
    reserved: Reservation,
) -> Result<SecureFlow, WitHandshakeError> {
    let result = run(role, &mut under, ids, password, cfg);
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
        ),
        Role::Server => drive(
            under,
            ServerHandshake::new(&config, ids, password).map_err(handshake_error)?,
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
) -> Result<Box<spoke_protocol::Session>, WitHandshakeError> {
    loop {
        match machine.step() {
            Step::Send(bytes) => under.write(&bytes).map_err(|e| match e {
                WriteError::Closed => WitHandshakeError::Closed,
                WriteError::Error(e) => WitHandshakeError::Flow(e),
            })?,
            Step::NeedInput => match under.read(crate::CHUNK as u32) {
                Ok(Some(bytes)) => machine.feed(&bytes),
                Ok(None) => machine.feed_eof(),
                Err(e) => return Err(WitHandshakeError::Flow(e)),
            },
            Step::Done(session) => return Ok(session),
            Step::Failed(e) => return Err(handshake_error(e)),
        }
    }
}
