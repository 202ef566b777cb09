//! The Rust types and call stubs generated from `wit/p3/flow.wit`
//! (`spoke:flow@0.2.0`), and their conversions to and from the types the
//! rest of the library shares between both flavours ([`FlowError`],
//! [`HandshakeError`], [`SpokeConfig`](crate::SpokeConfig), [`Cipher`]).
//!
//! Owns only the `bindgen!` invocation and the conversions. Nothing here
//! performs a call. Every export is called through its `call_*` function
//! with an `Accessor` (the `async | store` flags), because every call runs
//! inside the instance's `run_concurrent` event loop (see `actor.rs`).

wasmtime::component::bindgen!({
    path: "../wit/p3",
    world: "spoke:flow/component@0.2.0",
    exports: { default: async | store },
    with: {
        "wasi": wasmtime_wasi::p3::bindings,
    },
});

use exports::spoke::flow::spoke as ws;
use exports::spoke::flow::types as wt;

use crate::bindings::exports::spoke::flow::spoke as v2;
use crate::error::{FlowError, HandshakeError};

impl From<wt::Error> for FlowError {
    fn from(e: wt::Error) -> Self {
        match e {
            wt::Error::ConnectionRefused => Self::ConnectionRefused,
            wt::Error::ConnectionReset => Self::ConnectionReset,
            wt::Error::TimedOut => Self::TimedOut,
            wt::Error::NameUnresolvable(n) => Self::NameUnresolvable(n),
            wt::Error::PermissionDenied(m) => Self::PermissionDenied(m),
            wt::Error::Corrupted => Self::Corrupted,
            wt::Error::Truncated => Self::Truncated,
            wt::Error::InvalidState(m) => Self::InvalidState(m),
            wt::Error::Other(m) => Self::Other(m),
        }
    }
}

/// The WIT value of `e`, or `None` for [`FlowError::Trap`], which has none.
pub(crate) fn flow_error_to_wit(e: &FlowError) -> Option<wt::Error> {
    Some(match e.clone() {
        FlowError::ConnectionRefused => wt::Error::ConnectionRefused,
        FlowError::ConnectionReset => wt::Error::ConnectionReset,
        FlowError::TimedOut => wt::Error::TimedOut,
        FlowError::NameUnresolvable(n) => wt::Error::NameUnresolvable(n),
        FlowError::PermissionDenied(m) => wt::Error::PermissionDenied(m),
        FlowError::Corrupted => wt::Error::Corrupted,
        FlowError::Truncated => wt::Error::Truncated,
        FlowError::InvalidState(m) => wt::Error::InvalidState(m),
        FlowError::Other(m) => wt::Error::Other(m),
        FlowError::Trap(_) => return None,
    })
}

impl From<ws::HandshakeError> for HandshakeError {
    fn from(e: ws::HandshakeError) -> Self {
        use ws::HandshakeError as H;
        match e {
            H::InvalidPublicPacket => Self::InvalidPublicPacket,
            H::InvalidClientValidator => Self::InvalidClientValidator,
            H::InvalidServerValidator => Self::InvalidServerValidator,
            H::PointNotOnPrimeOrderSubgroup => Self::PointNotOnPrimeOrderSubgroup,
            H::EndOfInput => Self::EndOfInput,
            H::VersionMismatch(v) => Self::VersionMismatch {
                ours: v.ours,
                theirs: v.theirs,
            },
            H::IterationCountRefused(r) => Self::IterationCountRefused {
                requested: r.requested,
                maximum: r.maximum,
            },
            H::InvalidConfig(m) => Self::InvalidConfig(m),
            H::Flow(e) => Self::Flow(e.into()),
            H::Closed => Self::Closed,
        }
    }
}

/// The WIT value of `e`, or `None` for a trap, which has none.
pub(crate) fn handshake_error_to_wit(e: &HandshakeError) -> Option<ws::HandshakeError> {
    use ws::HandshakeError as H;
    Some(match e.clone() {
        HandshakeError::InvalidPublicPacket => H::InvalidPublicPacket,
        HandshakeError::InvalidClientValidator => H::InvalidClientValidator,
        HandshakeError::InvalidServerValidator => H::InvalidServerValidator,
        HandshakeError::PointNotOnPrimeOrderSubgroup => H::PointNotOnPrimeOrderSubgroup,
        HandshakeError::EndOfInput => H::EndOfInput,
        HandshakeError::VersionMismatch { ours, theirs } => {
            H::VersionMismatch(ws::VersionMismatch { ours, theirs })
        }
        HandshakeError::IterationCountRefused { requested, maximum } => {
            H::IterationCountRefused(ws::IterationCountRefused { requested, maximum })
        }
        HandshakeError::InvalidConfig(m) => H::InvalidConfig(m),
        HandshakeError::Flow(e) => H::Flow(flow_error_to_wit(&e)?),
        HandshakeError::Closed => H::Closed,
    })
}

impl From<v2::Cipher> for ws::Cipher {
    fn from(c: v2::Cipher) -> Self {
        match c {
            v2::Cipher::Aes256Gcm => Self::Aes256Gcm,
            v2::Cipher::Aes256Ccm => Self::Aes256Ccm,
            v2::Cipher::Chacha20Poly1305 => Self::Chacha20Poly1305,
        }
    }
}

impl From<ws::Cipher> for v2::Cipher {
    fn from(c: ws::Cipher) -> Self {
        match c {
            ws::Cipher::Aes256Gcm => Self::Aes256Gcm,
            ws::Cipher::Aes256Ccm => Self::Aes256Ccm,
            ws::Cipher::Chacha20Poly1305 => Self::Chacha20Poly1305,
        }
    }
}

impl From<v2::Config> for ws::Config {
    fn from(c: v2::Config) -> Self {
        Self {
            version: c.version,
            server_to_client: c.server_to_client.into(),
            client_to_server: c.client_to_server.into(),
            iterations: c.iterations,
            max_iterations: c.max_iterations,
        }
    }
}

impl From<ws::Config> for v2::Config {
    fn from(c: ws::Config) -> Self {
        Self {
            version: c.version,
            server_to_client: c.server_to_client.into(),
            client_to_server: c.client_to_server.into(),
            iterations: c.iterations,
            max_iterations: c.max_iterations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_convert_both_ways_unchanged() {
        let c = v2::Config {
            version: 1,
            server_to_client: v2::Cipher::Aes256Gcm,
            client_to_server: v2::Cipher::Aes256Ccm,
            iterations: 7,
            max_iterations: 9,
        };
        let back = v2::Config::from(ws::Config::from(c));
        assert_eq!(back.version, 1);
        assert_eq!(back.server_to_client, v2::Cipher::Aes256Gcm);
        assert_eq!(back.client_to_server, v2::Cipher::Aes256Ccm);
        assert_eq!((back.iterations, back.max_iterations), (7, 9));
    }

    #[test]
    fn errors_convert_both_ways_and_traps_have_no_wit_value() {
        let e = FlowError::NameUnresolvable("nowhere.invalid".into());
        assert_eq!(FlowError::from(flow_error_to_wit(&e).unwrap()), e);
        let h = HandshakeError::Flow(FlowError::ConnectionReset);
        assert_eq!(HandshakeError::from(handshake_error_to_wit(&h).unwrap()), h);
        assert!(flow_error_to_wit(&FlowError::Trap("x".into())).is_none());
        assert!(
            handshake_error_to_wit(&HandshakeError::Flow(FlowError::Trap("x".into()))).is_none()
        );
    }
}
