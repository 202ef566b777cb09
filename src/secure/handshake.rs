//! The spoke handshake over a flow, and the WIT face of its configuration
//! and errors: builds the core's machine (`spoke_protocol`), feeds it from
//! the flow beneath and sends what it asks, then hands its session's keys
//! to a [`SecureFlow`].
//!
//! Owns: the conversions between the WIT `config`, `cipher` and
//! `handshake-error` and the core's. Never keeps the password (the caller
//! wipes it) and never decides anything cryptographic itself.

use zeroize::Zeroizing;

use super::super::bindings::exports::spoke::flow::spoke::{
    Cipher as WitCipher, Config as WitConfig, HandshakeError as WitHandshakeError,
    Identities as WitIdentities, IterationCountRefused, VersionMismatch,
};
use super::super::bindings::exports::spoke::flow::types::{Error, WriteError};
use super::super::errors;
use super::super::layer::Conn;
use super::SecureFlow;
use spoke_protocol::{
    Cipher, ClientHandshake, Config, Handshake, HandshakeError, Identities, Opener, Role, Sealer,
    ServerHandshake, Step, Version,
};

/// Runs the handshake as `role` over `under`; on failure `under` is closed.
pub fn handshake(
    role: Role,
    mut under: Conn,
    ids: WitIdentities,
    password: &Zeroizing<Vec<u8>>,
    cfg: WitConfig,
) -> Result<SecureFlow, WitHandshakeError> {
    let result = run(role, &mut under, ids, password, cfg);
    match result {
        Ok((sealer, opener, ciphers)) => Ok(SecureFlow::new(under, sealer, opener, ciphers)),
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
            ClientHandshake::new(&config, ids, password).map_err(map_handshake_error)?,
        ),
        Role::Server => drive(
            under,
            ServerHandshake::new(&config, ids, password).map_err(map_handshake_error)?,
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
            Step::Failed(e) => return Err(map_handshake_error(e)),
        }
    }
}

/// The core's configuration for a WIT one.
fn config(cfg: &WitConfig) -> Result<Config, WitHandshakeError> {
    let version = Version::from_wire(cfg.version).ok_or_else(|| {
        WitHandshakeError::InvalidConfig(format!(
            "unknown protocol version {} (use 1 or 2)",
            cfg.version
        ))
    })?;
    Ok(Config {
        version,
        server_to_client: from_wit(cfg.server_to_client),
        client_to_server: from_wit(cfg.client_to_server),
        iterations: cfg.iterations,
        max_iterations: cfg.max_iterations,
    })
}

/// The WIT configuration mirroring `protocol::Config::default()`.
pub fn default_config() -> WitConfig {
    let d = Config::default();
    WitConfig {
        version: d.version.wire(),
        server_to_client: to_wit(d.server_to_client),
        client_to_server: to_wit(d.client_to_server),
        iterations: d.iterations,
        max_iterations: d.max_iterations,
    }
}

fn from_wit(c: WitCipher) -> Cipher {
    match c {
        WitCipher::Aes256Gcm => Cipher::Aes256Gcm,
        WitCipher::Aes256Ccm => Cipher::Aes256Ccm,
        WitCipher::Chacha20Poly1305 => Cipher::ChaCha20Poly1305,
    }
}

pub(super) fn to_wit(c: Cipher) -> WitCipher {
    match c {
        Cipher::Aes256Gcm => WitCipher::Aes256Gcm,
        Cipher::Aes256Ccm => WitCipher::Aes256Ccm,
        Cipher::ChaCha20Poly1305 => WitCipher::Chacha20Poly1305,
    }
}

/// The WIT case for a core handshake error.
fn map_handshake_error(e: HandshakeError) -> WitHandshakeError {
    match e {
        HandshakeError::InvalidPublicPacket => WitHandshakeError::InvalidPublicPacket,
        HandshakeError::InvalidClientValidator => WitHandshakeError::InvalidClientValidator,
        HandshakeError::InvalidServerValidator => WitHandshakeError::InvalidServerValidator,
        HandshakeError::PointNotOnPrimeOrderSubgroup => {
            WitHandshakeError::PointNotOnPrimeOrderSubgroup
        }
        HandshakeError::EndOfInput => WitHandshakeError::EndOfInput,
        HandshakeError::VersionMismatch { ours, theirs } => {
            WitHandshakeError::VersionMismatch(VersionMismatch { ours, theirs })
        }
        HandshakeError::IterationCountRefused { requested, maximum } => {
            WitHandshakeError::IterationCountRefused(IterationCountRefused { requested, maximum })
        }
        HandshakeError::InvalidConfig(why) => WitHandshakeError::InvalidConfig(why.into()),
        other => WitHandshakeError::Flow(Error::Other(other.to_string())),
    }
}

/// Renders a handshake error as one line.
pub fn handshake_error_message(e: &WitHandshakeError) -> String {
    match e {
        WitHandshakeError::InvalidPublicPacket => HandshakeError::InvalidPublicPacket.to_string(),
        WitHandshakeError::InvalidClientValidator => {
            HandshakeError::InvalidClientValidator.to_string()
        }
        WitHandshakeError::InvalidServerValidator => {
            HandshakeError::InvalidServerValidator.to_string()
        }
        WitHandshakeError::PointNotOnPrimeOrderSubgroup => {
            HandshakeError::PointNotOnPrimeOrderSubgroup.to_string()
        }
        WitHandshakeError::EndOfInput => HandshakeError::EndOfInput.to_string(),
        WitHandshakeError::VersionMismatch(v) => HandshakeError::VersionMismatch {
            ours: v.ours,
            theirs: v.theirs,
        }
        .to_string(),
        WitHandshakeError::IterationCountRefused(i) => HandshakeError::IterationCountRefused {
            requested: i.requested,
            maximum: i.maximum,
        }
        .to_string(),
        WitHandshakeError::InvalidConfig(why) => format!("Invalid configuration: {why}"),
        WitHandshakeError::Flow(e) => errors::error_message(e),
        WitHandshakeError::Closed => errors::write_error_message(&WriteError::Closed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_the_cores_default() {
        let wit = default_config();
        let Ok(core) = config(&wit) else {
            panic!("the default config does not convert back")
        };
        assert_eq!(core, Config::default());
    }

    #[test]
    fn every_cipher_maps_both_ways() {
        for c in [
            Cipher::Aes256Gcm,
            Cipher::Aes256Ccm,
            Cipher::ChaCha20Poly1305,
        ] {
            assert_eq!(from_wit(to_wit(c)), c);
        }
    }

    #[test]
    fn unknown_versions_are_refused_as_invalid_config() {
        let mut cfg = default_config();
        for v in [0, 3, u16::MAX] {
            cfg.version = v;
            assert!(matches!(
                config(&cfg),
                Err(WitHandshakeError::InvalidConfig(_))
            ));
        }
    }

    #[test]
    fn handshake_errors_keep_their_details_and_render_on_one_line() {
        let mismatch = map_handshake_error(HandshakeError::VersionMismatch { ours: 2, theirs: 1 });
        assert!(matches!(
            mismatch,
            WitHandshakeError::VersionMismatch(VersionMismatch { ours: 2, theirs: 1 })
        ));
        let refused = map_handshake_error(HandshakeError::IterationCountRefused {
            requested: 7,
            maximum: 5,
        });
        assert!(matches!(
            refused,
            WitHandshakeError::IterationCountRefused(IterationCountRefused {
                requested: 7,
                maximum: 5
            })
        ));
        for e in [
            mismatch,
            refused,
            WitHandshakeError::EndOfInput,
            WitHandshakeError::Closed,
        ] {
            let line = handshake_error_message(&e);
            assert!(!line.is_empty() && !line.contains('\n'), "{line:?}");
        }
        assert_eq!(
            handshake_error_message(&WitHandshakeError::InvalidClientValidator),
            "Invalid client validator"
        );
    }
}
