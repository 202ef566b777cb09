//! The errors of the handshake and of the record layer.
//!
//! Owns: what a failure is called and how it reads in a log line (the
//! reference's pp strings where it has one). Must never carry secret
//! material or say which secret check failed beyond what the peer knows.

use core::fmt;

/// Why a handshake failed.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// The public packet has an unknown algorithm, cipher, hash or version.
    InvalidPublicPacket,
    /// The client found the server's validator wrong (wrong password,
    /// identities or tampering).
    InvalidClientValidator,
    /// The server found the client's validator wrong.
    InvalidServerValidator,
    /// A received point does not decode, is of small order, is outside the
    /// prime-order subgroup, or gives the identity.
    PointNotOnPrimeOrderSubgroup,
    /// The peer's stream ended before the handshake did.
    EndOfInput,
    /// The peer speaks the other protocol version.
    VersionMismatch {
        /// Our protocol version.
        ours: u16,
        /// The version in the peer's public packet.
        theirs: u16,
    },
    /// The server asked for an iteration count of 0 or above our maximum;
    /// refused before running PBKDF2.
    IterationCountRefused {
        /// The count the server asked for.
        requested: u64,
        /// Our configured maximum.
        maximum: u64,
    },
    /// Our own configuration or identities cannot be used.
    InvalidConfig(&'static str),
    /// The handshake's [`Randomness`](crate::Randomness) source failed (by
    /// default the operating system's random number generator).
    Randomness,
    /// `step` was called after the handshake had already succeeded.
    Finished,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPublicPacket => f.write_str("Invalid public packet"),
            Self::InvalidClientValidator => f.write_str("Invalid client validator"),
            Self::InvalidServerValidator => f.write_str("Invalid server validator"),
            Self::PointNotOnPrimeOrderSubgroup => {
                f.write_str("Point is not on prime-order subgroup")
            }
            Self::EndOfInput => f.write_str("End of input"),
            Self::VersionMismatch { ours, theirs } => write!(
                f,
                "Protocol version mismatch: the peer speaks spoke version {theirs}, this side \
                 version {ours}; set the compatibility (v1) setting on both sides to talk to \
                 the OCaml reference (version 1)"
            ),
            Self::IterationCountRefused { requested, maximum } => write!(
                f,
                "Iteration count refused: the server asked for {requested} PBKDF2 iterations, \
                 allowed are 1 to {maximum}"
            ),
            Self::InvalidConfig(why) => write!(f, "Invalid configuration: {why}"),
            Self::Randomness => f.write_str("The system's random number generator failed"),
            Self::Finished => f.write_str("The handshake is already over"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Why the record layer stopped.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// A record failed to decrypt, had an impossible length, came after the
    /// close marker, or the stream ended inside a version-1 record. Sticky.
    Corrupted,
    /// Version 2: the stream ended without the peer's close marker. Sticky.
    Truncated,
    /// `seal` after `seal_close`.
    Closed,
    /// The sequence number would wrap: no more records can be sent, or
    /// the peer sent one after its last (2^64-1). Sticky.
    SequenceExhausted,
    /// The AEAD refused to seal a record; nothing was sent, and nothing
    /// more will be. Sticky.
    SealFailed,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Corrupted => "Communication corrupted",
            Self::Truncated => "Communication truncated (end of stream without close marker)",
            Self::Closed => "Closed",
            Self::SequenceExhausted => "Sequence numbers exhausted",
            Self::SealFailed => "Sealing a record failed",
        })
    }
}

impl std::error::Error for RecordError {}
