//! The errors of the Rust API: the WIT variants as Rust enums, plus a `Trap`
//! case for when the guest or the host machinery fails.
//!
//! This module owns the conversions from the generated WIT types and the
//! one-line messages. The messages are the protocol core's wording
//! (`spoke_protocol::flow_error` and `spoke_protocol::HandshakeError`),
//! which the component's `error-message`, `write-error-message` and
//! `handshake-error-message` render too (a test keeps them in step). It
//! never calls into the guest.

use std::fmt;

use crate::bindings::exports::spoke::flow::{combinators as wc, spoke as ws, types as wt};

/// Why a read, a connect, an accept or another flow operation failed
/// (the WIT `error`, plus [`FlowError::Trap`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowError {
    /// Nothing accepted the connection at that address and port.
    ConnectionRefused,
    /// The peer reset the connection.
    ConnectionReset,
    /// The operation did not complete in time.
    TimedOut,
    /// The host name could not be resolved; carries the name.
    NameUnresolvable(String),
    /// The network policy denies the operation; says what and how to allow it.
    PermissionDenied(String),
    /// An encrypted flow received a record that failed authentication (sticky).
    Corrupted,
    /// An encrypted version-2 flow ended without the peer's close marker (sticky).
    Truncated,
    /// The operation is not valid now (for example the flow was closed).
    InvalidState(String),
    /// Any other failure.
    Other(String),
    /// The guest trapped, exceeded a limit, or the host failed; the instance
    /// cannot be used any more.
    Trap(String),
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The protocol core words the flow errors; the component renders
        // them with the same code. Only a trap is the host's own.
        use spoke_protocol::flow_error::FlowError as Core;
        let core = match self {
            Self::ConnectionRefused => Core::ConnectionRefused,
            Self::ConnectionReset => Core::ConnectionReset,
            Self::TimedOut => Core::TimedOut,
            Self::NameUnresolvable(name) => Core::NameUnresolvable(name),
            Self::PermissionDenied(m) => Core::PermissionDenied(m),
            Self::Corrupted => Core::Corrupted,
            Self::Truncated => Core::Truncated,
            Self::InvalidState(m) => Core::InvalidState(m),
            Self::Other(m) => Core::Other(m),
            Self::Trap(m) => return write!(f, "Spoke component failure: {m}"),
        };
        core.fmt(f)
    }
}

impl std::error::Error for FlowError {}

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

impl FlowError {
    /// The WIT value, or `None` for [`FlowError::Trap`] which has none.
    pub(crate) fn to_wit(&self) -> Option<wt::Error> {
        Some(match self.clone() {
            Self::ConnectionRefused => wt::Error::ConnectionRefused,
            Self::ConnectionReset => wt::Error::ConnectionReset,
            Self::TimedOut => wt::Error::TimedOut,
            Self::NameUnresolvable(n) => wt::Error::NameUnresolvable(n),
            Self::PermissionDenied(m) => wt::Error::PermissionDenied(m),
            Self::Corrupted => wt::Error::Corrupted,
            Self::Truncated => wt::Error::Truncated,
            Self::InvalidState(m) => wt::Error::InvalidState(m),
            Self::Other(m) => wt::Error::Other(m),
            Self::Trap(_) => return None,
        })
    }

    /// Whether this is [`FlowError::Trap`].
    pub fn is_trap(&self) -> bool {
        matches!(self, Self::Trap(_))
    }
}

/// Why a write or a write-side shutdown failed (the WIT `write-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// The write side is shut, the flow is closed, or the peer is gone.
    Closed,
    /// Any other failure; a trap is `Error(FlowError::Trap(_))`.
    Error(FlowError),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => spoke_protocol::flow_error::WriteError::Closed.fmt(f),
            Self::Error(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Closed => None,
            Self::Error(e) => Some(e),
        }
    }
}

impl From<wt::WriteError> for WriteError {
    fn from(e: wt::WriteError) -> Self {
        match e {
            wt::WriteError::Closed => Self::Closed,
            wt::WriteError::Error(e) => Self::Error(e.into()),
        }
    }
}

impl From<FlowError> for WriteError {
    fn from(e: FlowError) -> Self {
        Self::Error(e)
    }
}

impl WriteError {
    pub(crate) fn to_wit(&self) -> Option<wt::WriteError> {
        match self {
            Self::Closed => Some(wt::WriteError::Closed),
            Self::Error(e) => e.to_wit().map(wt::WriteError::Error),
        }
    }
}

/// Why a Spoke handshake failed (the WIT `handshake-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The server's first message is malformed.
    InvalidPublicPacket,
    /// The server's validator does not match (wrong password or identities).
    InvalidClientValidator,
    /// The client's validator does not match (wrong password or identities).
    InvalidServerValidator,
    /// A point from the peer is not canonical or not in the prime-order subgroup.
    PointNotOnPrimeOrderSubgroup,
    /// The peer closed the connection in the middle of the handshake.
    EndOfInput,
    /// The peer speaks another protocol version.
    VersionMismatch {
        /// This side's version.
        ours: u16,
        /// The peer's version.
        theirs: u16,
    },
    /// The server asked for an iteration count this client refuses.
    IterationCountRefused {
        /// What the server asked for.
        requested: u64,
        /// The largest this client accepts.
        maximum: u64,
    },
    /// The configuration or an identity is not usable; says why.
    InvalidConfig(String),
    /// The underlying flow failed (a trap is `Flow(FlowError::Trap(_))`).
    Flow(FlowError),
    /// The underlying flow's write side is closed.
    Closed,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The protocol core words the handshake failures; the component
        // renders them with the same code.
        use spoke_protocol::HandshakeError as Core;
        let core = match self {
            Self::InvalidPublicPacket => Core::InvalidPublicPacket,
            Self::InvalidClientValidator => Core::InvalidClientValidator,
            Self::InvalidServerValidator => Core::InvalidServerValidator,
            Self::PointNotOnPrimeOrderSubgroup => Core::PointNotOnPrimeOrderSubgroup,
            Self::EndOfInput => Core::EndOfInput,
            Self::VersionMismatch { ours, theirs } => Core::VersionMismatch {
                ours: *ours,
                theirs: *theirs,
            },
            Self::IterationCountRefused { requested, maximum } => Core::IterationCountRefused {
                requested: *requested,
                maximum: *maximum,
            },
            Self::InvalidConfig(m) => return write!(f, "Invalid configuration: {m}"),
            Self::Flow(e) => return e.fmt(f),
            Self::Closed => return WriteError::Closed.fmt(f),
        };
        core.fmt(f)
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Flow(e) => Some(e),
            _ => None,
        }
    }
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

impl From<FlowError> for HandshakeError {
    fn from(e: FlowError) -> Self {
        Self::Flow(e)
    }
}

impl HandshakeError {
    pub(crate) fn to_wit(&self) -> Option<ws::HandshakeError> {
        use ws::HandshakeError as H;
        Some(match self.clone() {
            Self::InvalidPublicPacket => H::InvalidPublicPacket,
            Self::InvalidClientValidator => H::InvalidClientValidator,
            Self::InvalidServerValidator => H::InvalidServerValidator,
            Self::PointNotOnPrimeOrderSubgroup => H::PointNotOnPrimeOrderSubgroup,
            Self::EndOfInput => H::EndOfInput,
            Self::VersionMismatch { ours, theirs } => {
                H::VersionMismatch(ws::VersionMismatch { ours, theirs })
            }
            Self::IterationCountRefused { requested, maximum } => {
                H::IterationCountRefused(ws::IterationCountRefused { requested, maximum })
            }
            Self::InvalidConfig(m) => H::InvalidConfig(m),
            Self::Flow(e) => H::Flow(e.to_wit()?),
            Self::Closed => H::Closed,
        })
    }
}

/// Why a copy stopped before the source's end-of-stream (the WIT `copy-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CopyError {
    /// Reading the source failed (a trap is `Read(FlowError::Trap(_))`).
    Read(FlowError),
    /// Writing the destination failed.
    Write(WriteError),
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => write!(f, "reading the source failed: {e}"),
            Self::Write(e) => write!(f, "writing the destination failed: {e}"),
        }
    }
}

impl std::error::Error for CopyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read(e) => Some(e),
            Self::Write(e) => Some(e),
        }
    }
}

impl From<wc::CopyError> for CopyError {
    fn from(e: wc::CopyError) -> Self {
        match e {
            wc::CopyError::Read(e) => Self::Read(e.into()),
            wc::CopyError::Write(e) => Self::Write(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_one_line() {
        let errors: Vec<Box<dyn std::error::Error>> = vec![
            Box::new(FlowError::ConnectionRefused),
            Box::new(FlowError::NameUnresolvable("nowhere.invalid".into())),
            Box::new(FlowError::PermissionDenied("no".into())),
            Box::new(FlowError::Trap("boom".into())),
            Box::new(WriteError::Closed),
            Box::new(HandshakeError::VersionMismatch { ours: 2, theirs: 1 }),
            Box::new(HandshakeError::IterationCountRefused {
                requested: 9,
                maximum: 1,
            }),
            Box::new(CopyError::Write(WriteError::Closed)),
        ];
        for e in errors {
            let text = e.to_string();
            assert!(!text.is_empty() && !text.contains('\n'), "{text:?}");
        }
    }

    #[test]
    fn wit_conversions_round_trip_and_traps_have_no_wit_value() {
        let e = FlowError::InvalidState("closed".into());
        assert_eq!(FlowError::from(e.to_wit().unwrap()), e);
        let w = WriteError::Error(FlowError::ConnectionReset);
        assert_eq!(WriteError::from(w.to_wit().unwrap()), w);
        let h = HandshakeError::IterationCountRefused {
            requested: 5,
            maximum: 4,
        };
        assert_eq!(HandshakeError::from(h.to_wit().unwrap()), h);
        assert!(FlowError::Trap("x".into()).to_wit().is_none());
        assert!(
            HandshakeError::Flow(FlowError::Trap("x".into()))
                .to_wit()
                .is_none()
        );
    }
}
