//! The WIT face of the handshake's configuration and errors: conversions
//! between the `spoke:flow@0.2.0` `config`, `cipher`, `established` and
//! `handshake-error` and the protocol core's.
//!
//! Owns: the conversions only. Never decides anything cryptographic and
//! never sees the password.

use super::bindings::exports::spoke::flow::spoke::{
    Cipher as WitCipher, Config as WitConfig, Established, HandshakeError as WitHandshakeError,
    IterationCountRefused, VersionMismatch,
};
use super::errors;
use spoke_protocol::{Cipher, Config, HandshakeError, Version};

/// The core's configuration for a WIT one.
pub fn config(cfg: &WitConfig) -> Result<Config, WitHandshakeError> {
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

/// What a session agreed on, for `handshake`'s answer.
pub fn established(session: &spoke_protocol::Session) -> Established {
    let (server_to_client, client_to_server) = session.ciphers();
    Established {
        version: session.version().wire(),
        server_to_client: to_wit(server_to_client),
        client_to_server: to_wit(client_to_server),
    }
}

fn from_wit(c: WitCipher) -> Cipher {
    match c {
        WitCipher::Aes256Gcm => Cipher::Aes256Gcm,
        WitCipher::Aes256Ccm => Cipher::Aes256Ccm,
        WitCipher::Chacha20Poly1305 => Cipher::ChaCha20Poly1305,
    }
}

fn to_wit(c: Cipher) -> WitCipher {
    match c {
        Cipher::Aes256Gcm => WitCipher::Aes256Gcm,
        Cipher::Aes256Ccm => WitCipher::Aes256Ccm,
        Cipher::ChaCha20Poly1305 => WitCipher::Chacha20Poly1305,
    }
}

/// The WIT case for a core handshake error.
pub fn handshake_error(e: HandshakeError) -> WitHandshakeError {
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
        other => WitHandshakeError::Transport(errors::other(other.to_string())),
    }
}

/// Renders a handshake error as one line, in the core's wording.
pub fn handshake_error_message(e: &WitHandshakeError) -> String {
    let core = match e {
        WitHandshakeError::InvalidPublicPacket => HandshakeError::InvalidPublicPacket,
        WitHandshakeError::InvalidClientValidator => HandshakeError::InvalidClientValidator,
        WitHandshakeError::InvalidServerValidator => HandshakeError::InvalidServerValidator,
        WitHandshakeError::PointNotOnPrimeOrderSubgroup => {
            HandshakeError::PointNotOnPrimeOrderSubgroup
        }
        WitHandshakeError::EndOfInput => HandshakeError::EndOfInput,
        WitHandshakeError::VersionMismatch(v) => HandshakeError::VersionMismatch {
            ours: v.ours,
            theirs: v.theirs,
        },
        WitHandshakeError::IterationCountRefused(i) => HandshakeError::IterationCountRefused {
            requested: i.requested,
            maximum: i.maximum,
        },
        WitHandshakeError::InvalidConfig(why) => return format!("Invalid configuration: {why}"),
        WitHandshakeError::Transport(e) => return errors::error_message(e),
        WitHandshakeError::Closed => {
            return "The transport stopped taking the bytes for the peer".into();
        }
    };
    core.to_string()
}
