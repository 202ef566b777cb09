//! Turning `wasi:sockets` error codes into the WIT `error` cases, and
//! rendering any of them as one log line (the `pp_error` role). Stream
//! errors, which carry no code, are read in `stream_errors.rs`.
//!
//! Owns: the mapping from `wasi:sockets` error codes to the contract's
//! variants, and the human-readable messages.
//! Never: performs I/O, panics, or puts secrets in a message.

use wasip2::sockets::network::ErrorCode;

use super::bindings::exports::spoke::flow::types::{Error, WriteError};

/// The error a read (or another operation) returns once the flow is closed.
pub fn closed_flow() -> Error {
    Error::InvalidState("the flow is closed".into())
}

/// The error for a flow handed to a combinator while already in use (for
/// example the same flow passed as both ends of a copy).
pub fn busy_flow() -> Error {
    Error::InvalidState(
        "the flow is already in use by this call (the same flow passed twice?)".into(),
    )
}

/// Maps a `wasi:sockets` error code from operation `op` (a phrase such as
/// "connecting to 127.0.0.1:80") to the WIT error.
pub fn from_code(code: ErrorCode, op: &str) -> Error {
    match code {
        ErrorCode::ConnectionRefused => Error::ConnectionRefused,
        ErrorCode::ConnectionReset | ErrorCode::ConnectionAborted => Error::ConnectionReset,
        ErrorCode::Timeout => Error::TimedOut,
        ErrorCode::AccessDenied => Error::PermissionDenied(format!(
            "{op} is denied: the host's network policy must allow it"
        )),
        other => Error::Other(format!("{op} failed: {}", code_text(other))),
    }
}

/// Maps a failed name lookup of `name` to the WIT error.
pub fn from_lookup(code: ErrorCode, name: &str) -> Error {
    match code {
        ErrorCode::NameUnresolvable | ErrorCode::InvalidArgument => {
            Error::NameUnresolvable(name.into())
        }
        ErrorCode::AccessDenied | ErrorCode::PermanentResolverFailure => {
            Error::PermissionDenied(format!(
                "resolving the name {name:?} is denied: the host's network policy must allow \
                 name lookups (or connect to an IP address)"
            ))
        }
        other => from_code(other, &format!("resolving the name {name:?}")),
    }
}

/// A short phrase for a `wasi:sockets` error code.
fn code_text(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Unknown => "unknown error",
        ErrorCode::AccessDenied => "access denied",
        ErrorCode::NotSupported => "operation not supported",
        ErrorCode::InvalidArgument => "invalid argument",
        ErrorCode::OutOfMemory => "out of memory",
        ErrorCode::Timeout => "timed out",
        ErrorCode::ConcurrencyConflict => "another operation is in progress",
        ErrorCode::NotInProgress => "operation not in progress",
        ErrorCode::WouldBlock => "would block",
        ErrorCode::InvalidState => "invalid socket state",
        ErrorCode::NewSocketLimit => "too many sockets",
        ErrorCode::AddressNotBindable => "address not bindable",
        ErrorCode::AddressInUse => "address in use",
        ErrorCode::RemoteUnreachable => "remote unreachable",
        ErrorCode::ConnectionRefused => "connection refused",
        ErrorCode::ConnectionReset => "connection reset",
        ErrorCode::ConnectionAborted => "connection aborted",
        ErrorCode::DatagramTooLarge => "datagram too large",
        ErrorCode::NameUnresolvable => "name unresolvable",
        ErrorCode::TemporaryResolverFailure => "temporary name resolution failure",
        ErrorCode::PermanentResolverFailure => "permanent name resolution failure",
    }
}

pub use super::contract::error_message;

/// Renders a write error as one line (`pp_write_error`), in the protocol
/// core's wording.
pub fn write_error_message(e: &WriteError) -> String {
    match e {
        WriteError::Closed => spoke_protocol::flow_error::WriteError::Closed.to_string(),
        WriteError::Error(e) => error_message(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_reset_and_timeout_keep_their_cases() {
        assert!(matches!(
            from_code(ErrorCode::ConnectionRefused, "x"),
            Error::ConnectionRefused
        ));
        assert!(matches!(
            from_code(ErrorCode::ConnectionAborted, "x"),
            Error::ConnectionReset
        ));
        assert!(matches!(
            from_code(ErrorCode::Timeout, "x"),
            Error::TimedOut
        ));
    }

    #[test]
    fn a_denied_operation_names_itself_and_the_policy() {
        let Error::PermissionDenied(m) =
            from_code(ErrorCode::AccessDenied, "connecting to 127.0.0.1:9")
        else {
            panic!("not permission-denied");
        };
        assert!(m.contains("127.0.0.1:9") && m.contains("policy"), "{m}");
        assert!(
            matches!(from_lookup(ErrorCode::NameUnresolvable, "nowhere"), Error::NameUnresolvable(n) if n == "nowhere")
        );
    }

    #[test]
    fn a_closed_write_reads_as_the_contract_words_it() {
        assert_eq!(write_error_message(&WriteError::Closed), "Flow closed");
        let e = WriteError::Error(Error::Corrupted);
        assert_eq!(write_error_message(&e), "Communication corrupted");
    }
}
