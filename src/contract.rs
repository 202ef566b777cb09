//! What the two guest components' contracts have in common: the
//! `spoke:flow` `config`, `cipher`, `error` and `handshake-error` have the
//! same cases in 0.1.0 (WASI 0.2, this crate) and 0.2.0 (WASI 0.3, `p3/`,
//! which includes this file by path). Each crate names its generated types
//! in a `wit` module beside this one.
//!
//! Owns: the conversions between those values and the protocol core's, and
//! the one-line wording of every error (the core's, which the host library
//! shares). Never performs I/O, never sees the password, and decides
//! nothing cryptographic.

use super::wit::{
    Cipher as WitCipher, Config as WitConfig, Error, HandshakeError as WitHandshakeError,
    IterationCountRefused, VersionMismatch,
};
use spoke_protocol::flow_error::{FlowError, WriteError};
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

fn from_wit(c: WitCipher) -> Cipher {
    match c {
        WitCipher::Aes256Gcm => Cipher::Aes256Gcm,
        WitCipher::Aes256Ccm => Cipher::Aes256Ccm,
        WitCipher::Chacha20Poly1305 => Cipher::ChaCha20Poly1305,
    }
}

/// The WIT name of a core cipher.
pub fn to_wit(c: Cipher) -> WitCipher {
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
        other => WitHandshakeError::Flow(Error::Other(other.to_string())),
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
        WitHandshakeError::Flow(e) => return error_message(e),
        WitHandshakeError::Closed => return WriteError::Closed.to_string(),
    };
    core.to_string()
}

/// Renders an error as one line (`pp_error`).
pub fn error_message(e: &Error) -> String {
    match e {
        Error::ConnectionRefused => FlowError::ConnectionRefused,
        Error::ConnectionReset => FlowError::ConnectionReset,
        Error::TimedOut => FlowError::TimedOut,
        Error::NameUnresolvable(name) => FlowError::NameUnresolvable(name),
        Error::PermissionDenied(m) => FlowError::PermissionDenied(m),
        Error::Corrupted => FlowError::Corrupted,
        Error::Truncated => FlowError::Truncated,
        Error::InvalidState(m) => FlowError::InvalidState(m),
        Error::Other(m) => FlowError::Other(m),
    }
    .to_string()
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
        let mismatch = handshake_error(HandshakeError::VersionMismatch { ours: 2, theirs: 1 });
        assert!(matches!(
            mismatch,
            WitHandshakeError::VersionMismatch(VersionMismatch { ours: 2, theirs: 1 })
        ));
        let refused = handshake_error(HandshakeError::IterationCountRefused {
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

    #[test]
    fn error_messages_are_single_lines_in_the_cores_words() {
        let all = [
            Error::ConnectionRefused,
            Error::ConnectionReset,
            Error::TimedOut,
            Error::NameUnresolvable("h".into()),
            Error::PermissionDenied("p".into()),
            Error::Corrupted,
            Error::Truncated,
            Error::InvalidState("s".into()),
            Error::Other("o".into()),
        ];
        for e in all {
            let line = error_message(&e);
            assert!(!line.is_empty() && !line.contains('\n'), "{line:?}");
        }
        assert_eq!(error_message(&Error::Corrupted), "Communication corrupted");
    }
}
