//! Turning `wasi:sockets@0.3.0` error codes into the WIT `error` cases, and
//! and the errors of calls made out of turn.
//!
//! Owns: the mapping from error codes to the contract's variants (their
//! wording is in `contract.rs`, shared with the WASI 0.2 component). Never
//! performs I/O, panics, or puts secrets in a message.

use super::bindings::exports::spoke::flow::types::Error;
use super::bindings::wasi::sockets::ip_name_lookup::ErrorCode as LookupCode;
use super::bindings::wasi::sockets::types::ErrorCode;

/// Maps a `wasi:sockets` error code from operation `op` (a phrase such as
/// "connecting to 127.0.0.1:80") to the WIT error.
pub fn from_code(code: ErrorCode, op: &str) -> Error {
    match code {
        ErrorCode::ConnectionRefused => Error::ConnectionRefused,
        ErrorCode::ConnectionReset | ErrorCode::ConnectionAborted | ErrorCode::ConnectionBroken => {
            Error::ConnectionReset
        }
        ErrorCode::Timeout => Error::TimedOut,
        ErrorCode::AccessDenied => Error::PermissionDenied(format!(
            "{op} is denied: the host's network policy must allow it"
        )),
        other => Error::Other(format!("{op} failed: {}", code_text(&other))),
    }
}

/// Maps a failed name lookup of `name` to the WIT error.
pub fn from_lookup(code: LookupCode, name: &str) -> Error {
    match code {
        LookupCode::NameUnresolvable | LookupCode::InvalidArgument => {
            Error::NameUnresolvable(name.into())
        }
        LookupCode::AccessDenied | LookupCode::PermanentResolverFailure => {
            Error::PermissionDenied(format!(
                "resolving the name {name:?} is denied: the host's network policy must allow \
                 name lookups (or connect to an IP address)"
            ))
        }
        LookupCode::TemporaryResolverFailure => Error::Other(format!(
            "resolving the name {name:?} failed: temporary name resolution failure"
        )),
        LookupCode::Other(Some(m)) => {
            Error::Other(format!("resolving the name {name:?} failed: {m}"))
        }
        LookupCode::Other(None) => Error::Other(format!("resolving the name {name:?} failed")),
    }
}

/// A short phrase for a `wasi:sockets` error code.
fn code_text(code: &ErrorCode) -> String {
    match code {
        ErrorCode::AccessDenied => "access denied",
        ErrorCode::NotSupported => "operation not supported",
        ErrorCode::InvalidArgument => "invalid argument",
        ErrorCode::OutOfMemory => "out of memory",
        ErrorCode::Timeout => "timed out",
        ErrorCode::InvalidState => "invalid socket state",
        ErrorCode::AddressNotBindable => "address not bindable",
        ErrorCode::AddressInUse => "address in use",
        ErrorCode::RemoteUnreachable => "remote unreachable",
        ErrorCode::ConnectionRefused => "connection refused",
        ErrorCode::ConnectionBroken => "connection broken",
        ErrorCode::ConnectionReset => "connection reset",
        ErrorCode::ConnectionAborted => "connection aborted",
        ErrorCode::DatagramTooLarge => "datagram too large",
        ErrorCode::Other(Some(m)) => return m.clone(),
        ErrorCode::Other(None) => "unknown error",
    }
    .into()
}

/// The error for a direction asked for a second time, or before it exists.
pub fn invalid_state(why: &str) -> Error {
    Error::InvalidState(why.into())
}

/// Any other failure, already worded.
pub fn other(message: String) -> Error {
    Error::Other(message)
}
