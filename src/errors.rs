//! Turning `wasi` failures into the WIT `error` / `write-error` cases, and
//! rendering any of them as one log line (the `pp_error` role).
//!
//! Owns: the mapping from `wasi:sockets` error codes and `wasi:io` stream
//! errors to the contract's variants, and the human-readable messages.
//! Never: performs I/O, panics, or puts secrets in a message.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use wasip2::io::error::Error as IoError;
use wasip2::io::streams::StreamError;
use wasip2::sockets::network::{ErrorCode, IpAddress, IpSocketAddress};

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

/// Maps a stream error on a read to the WIT error; `None` is end-of-stream.
pub fn from_read(err: StreamError) -> Option<Error> {
    match err {
        StreamError::Closed => None,
        StreamError::LastOperationFailed(e) => Some(match classify(&e) {
            Failure::Code(code) => from_code(code, "reading from the connection"),
            Failure::Broken => Error::ConnectionReset,
            Failure::Unknown(text) => {
                Error::Other(format!("reading from the connection failed: {text}"))
            }
        }),
    }
}

/// Maps a stream error on a write to the WIT write error.
pub fn from_write(err: StreamError) -> WriteError {
    match err {
        StreamError::Closed => WriteError::Closed,
        StreamError::LastOperationFailed(e) => match classify(&e) {
            // The peer is gone: from the writer's side the flow is closed.
            Failure::Broken => WriteError::Closed,
            Failure::Code(code) => WriteError::Error(from_code(code, "writing to the connection")),
            Failure::Unknown(text) => WriteError::Error(Error::Other(format!(
                "writing to the connection failed: {text}"
            ))),
        },
    }
}

/// What a `wasi:io/error` says happened.
enum Failure {
    /// A socket error code.
    Code(ErrorCode),
    /// The peer is gone (a broken pipe).
    Broken,
    /// Anything else, with the host's first line of text.
    Unknown(String),
}

/// Classifies a `wasi:io/error`. Hosts (wasmtime-wasi 48 among them) report
/// TCP stream failures as the name of the socket error code, which is what
/// the debug string starts with. (`network-error-code` is an unstable import
/// that wasmtime-wasi 48 answers with `none` for these errors, and linking it
/// needs an opt-in on the host, so it is not used.)
fn classify(e: &IoError) -> Failure {
    let text = e.to_debug_string();
    let first = text.lines().next().unwrap_or("").trim();
    failure_named(first)
}

/// Classifies a host's error text by the code name it starts with, in
/// either spelling hosts use: `ConnectionReset` (wasmtime-wasi's socket
/// error) or `connection-reset (error 15)` (the WIT `error-code`).
fn failure_named(first: &str) -> Failure {
    let head = first.split(['(', ':']).next().unwrap_or("");
    let name: String = head
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match name.as_str() {
        "connectionreset" => Failure::Code(ErrorCode::ConnectionReset),
        "connectionaborted" => Failure::Code(ErrorCode::ConnectionAborted),
        "connectionrefused" => Failure::Code(ErrorCode::ConnectionRefused),
        "timeout" | "timedout" => Failure::Code(ErrorCode::Timeout),
        "accessdenied" => Failure::Code(ErrorCode::AccessDenied),
        "connectionbroken" | "brokenpipe" => Failure::Broken,
        _ => Failure::Unknown(first.to_owned()),
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

/// Renders an error as one line (`pp_error`), in the protocol core's
/// wording, which the host library's messages share.
pub fn error_message(e: &Error) -> String {
    use spoke_protocol::flow_error::FlowError as Core;
    match e {
        Error::ConnectionRefused => Core::ConnectionRefused,
        Error::ConnectionReset => Core::ConnectionReset,
        Error::TimedOut => Core::TimedOut,
        Error::NameUnresolvable(name) => Core::NameUnresolvable(name),
        Error::PermissionDenied(m) => Core::PermissionDenied(m),
        Error::Corrupted => Core::Corrupted,
        Error::Truncated => Core::Truncated,
        Error::InvalidState(m) => Core::InvalidState(m),
        Error::Other(m) => Core::Other(m),
    }
    .to_string()
}

/// Renders a write error as one line (`pp_write_error`), in the protocol
/// core's wording.
pub fn write_error_message(e: &WriteError) -> String {
    match e {
        WriteError::Closed => spoke_protocol::flow_error::WriteError::Closed.to_string(),
        WriteError::Error(e) => error_message(e),
    }
}

/// Converts a `wasi` socket address to the standard library's.
pub fn to_std(addr: &IpSocketAddress) -> SocketAddr {
    match *addr {
        IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(x, y, z, w), a.port))
        }
        IpSocketAddress::Ipv6(a) => {
            let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7),
                a.port,
                a.flow_info,
                a.scope_id,
            ))
        }
    }
}

/// Converts an IP address and port to a `wasi` socket address.
pub fn from_std(ip: IpAddr, port: u16) -> IpSocketAddress {
    use wasip2::sockets::network::{Ipv4SocketAddress, Ipv6SocketAddress};
    match ip {
        IpAddr::V4(v4) => {
            let [x, y, z, w] = v4.octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port,
                address: (x, y, z, w),
            })
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port,
                flow_info: 0,
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: 0,
            })
        }
    }
}

/// Converts a resolved `wasi` IP address to the standard library's.
pub fn ip_to_std(ip: IpAddress) -> IpAddr {
    match ip {
        IpAddress::Ipv4((x, y, z, w)) => IpAddr::V4(Ipv4Addr::new(x, y, z, w)),
        IpAddress::Ipv6((s0, s1, s2, s3, s4, s5, s6, s7)) => {
            IpAddr::V6(Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_convert_both_ways() {
        for text in ["127.0.0.1:4433", "[::1]:80", "10.1.2.3:0"] {
            let std: SocketAddr = text.parse().expect("a valid address");
            assert_eq!(to_std(&from_std(std.ip(), std.port())), std);
        }
    }

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
    fn host_error_texts_are_recognised_in_both_spellings() {
        for text in ["ConnectionReset", "connection-reset (error 15)"] {
            assert!(
                matches!(
                    failure_named(text),
                    Failure::Code(ErrorCode::ConnectionReset)
                ),
                "{text}"
            );
        }
        for text in ["ConnectionBroken", "broken-pipe"] {
            assert!(matches!(failure_named(text), Failure::Broken), "{text}");
        }
        assert!(matches!(
            failure_named("timeout (error 5)"),
            Failure::Code(ErrorCode::Timeout)
        ));
        assert!(
            matches!(failure_named("something else"), Failure::Unknown(t) if t == "something else")
        );
    }

    #[test]
    fn messages_are_single_lines() {
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
        assert_eq!(write_error_message(&WriteError::Closed), "Flow closed");
    }
}
