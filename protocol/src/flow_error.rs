//! The one-line wording of the flow and write errors of the `spoke:flow`
//! contract (the WIT `error` and `write-error`), the `pp_error` and
//! `pp_write_error` of the reference.
//!
//! Owns: the text of each case, so that the component's `error-message` and
//! `write-error-message` and the host library's `Display` read the same.
//! The types borrow the messages they carry: each side converts its own
//! error into them to render it. Must never do anything but format, nor
//! add anything to the carried messages beyond the case's wording.

use core::fmt;

/// A flow operation's failure, as it reads (the WIT `error`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowError<'a> {
    /// Nothing accepted the connection.
    ConnectionRefused,
    /// The peer reset the connection.
    ConnectionReset,
    /// The operation did not complete in time.
    TimedOut,
    /// This host name could not be resolved.
    NameUnresolvable(&'a str),
    /// The network policy denies the operation; says what and how to allow it.
    PermissionDenied(&'a str),
    /// An encrypted flow received a record that failed authentication.
    Corrupted,
    /// An encrypted version-2 flow ended without the peer's close marker.
    Truncated,
    /// The operation is not valid now; says why.
    InvalidState(&'a str),
    /// Any other failure, already worded.
    Other(&'a str),
}

impl fmt::Display for FlowError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConnectionRefused => f.write_str("Connection refused"),
            Self::ConnectionReset => f.write_str("Connection reset by peer"),
            Self::TimedOut => f.write_str("Operation timed out"),
            Self::NameUnresolvable(name) => write!(f, "Cannot resolve the host name {name:?}"),
            Self::PermissionDenied(m) => write!(f, "Permission denied: {m}"),
            Self::Corrupted => f.write_str("Communication corrupted"),
            Self::Truncated => f.write_str(
                "Communication truncated: the peer's stream ended without its close marker",
            ),
            Self::InvalidState(m) => write!(f, "Invalid state: {m}"),
            Self::Other(m) => f.write_str(m),
        }
    }
}

/// A write's or a write-side shutdown's failure, as it reads (the WIT
/// `write-error`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError<'a> {
    /// The write side is shut, the flow is closed, or the peer is gone.
    Closed,
    /// Any other failure.
    Error(FlowError<'a>),
}

impl fmt::Display for WriteError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("Flow closed"),
            Self::Error(e) => e.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_case_reads_as_the_contract_words_it() {
        let cases = [
            (FlowError::ConnectionRefused, "Connection refused"),
            (FlowError::ConnectionReset, "Connection reset by peer"),
            (FlowError::TimedOut, "Operation timed out"),
            (
                FlowError::NameUnresolvable("nowhere.invalid"),
                "Cannot resolve the host name \"nowhere.invalid\"",
            ),
            (
                FlowError::PermissionDenied("connecting to 10.0.0.1:80 is denied"),
                "Permission denied: connecting to 10.0.0.1:80 is denied",
            ),
            (FlowError::Corrupted, "Communication corrupted"),
            (
                FlowError::Truncated,
                "Communication truncated: the peer's stream ended without its close marker",
            ),
            (
                FlowError::InvalidState("the flow is closed"),
                "Invalid state: the flow is closed",
            ),
            (FlowError::Other("as it is"), "as it is"),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
            assert_eq!(WriteError::Error(e).to_string(), text);
        }
        assert_eq!(WriteError::Closed.to_string(), "Flow closed");
    }
}
