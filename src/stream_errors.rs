//! What a failed `wasi:io` stream operation on a connection means. WASI 0.2
//! stream errors carry no code, only a `wasi:io/error` whose debug text the
//! host writes; this module is the one place that reads that text
//! ([`failure_named`]) and turns it into the WIT `error` / `write-error`.
//!
//! Owns: the classification of stream errors. Never performs I/O beyond
//! asking the error for its text, and never panics on any text.

use wasip2::io::error::Error as IoError;
use wasip2::io::streams::StreamError;
use wasip2::sockets::network::ErrorCode;

use super::bindings::exports::spoke::flow::types::{Error, WriteError};
use super::errors::from_code;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
