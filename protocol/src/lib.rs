//! The sans-IO spoke protocol core: SPAKE2+EE handshakes and AEAD records,
//! wire-compatible with the OCaml `spoke` library (version 1) and hardened
//! as version 2 (the default).
//!
//! `§N` in this crate's comments refers to section N of `PROTOCOL.md`, the
//! wire specification at the repository's top level.
//!
//! Needs no wasm and no wasmtime: a native Rust program speaks Spoke with
//! this crate alone ([`stream::SecureStream`] runs it over a TCP stream),
//! and the guest component runs the very same state machines inside wasm.
//!
//! Owns: every byte Spoke puts on or takes off the wire once a flow is
//! secured. It is fed bytes and says what to send, like rustls'
//! `Connection` or quinn-proto. Its state machines must never do I/O (only
//! [`stream`], an edge, does), block, read clocks, log
//! secrets or panic on any input; the only thing it asks the OS for is
//! randomness, and only through the default [`OsRandomness`] (a handshake
//! takes any [`Randomness`] source).
//!
//! - [`ClientHandshake`] / [`ServerHandshake`] run the four-message
//!   handshake and yield a [`Session`];
//! - [`Session::into_parts`] gives the [`Sealer`] (our records) and the
//!   [`Opener`] (the peer's records);
//! - [`wire`] parses and emits the public packet and record framing;
//! - [`Randomness`] is where a handshake's salt and scalars come from:
//!   [`OsRandomness`] by default, any source through `with_randomness`
//!   (a CSPRNG in production);
//! - the `testing` module (feature `testing`, never for production) holds
//!   what this crate's tests and fuzz targets share.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod flow_error;
mod handshake;
pub(crate) mod primitives;
pub mod randomness;
mod record;
mod session;
#[cfg(not(target_arch = "wasm32"))]
pub mod stream;
pub mod wire;

pub use error::{HandshakeError, RecordError};
pub use handshake::{ClientHandshake, Handshake, ServerHandshake, Step};
pub use randomness::{OsRandomness, Randomness, RandomnessError};
pub use record::{ChaCha, Opened, Opener, Sealer};
pub use session::{Role, Session};

/// The protocol version spoken on a flow. Never negotiated: both sides must
/// be configured alike, and a mismatch is an error, never a fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Version 1: byte for byte the OCaml reference (compatibility setting).
    V1,
    /// Version 2 (default): authenticated negotiation, length-prefixed
    /// identities, an authenticated close marker.
    V2,
}

impl Version {
    /// The number on the wire (public packet, record associated data).
    pub fn wire(self) -> u16 {
        match self {
            Version::V1 => 1,
            Version::V2 => 2,
        }
    }

    /// The version with this wire number, if Spoke speaks it.
    pub fn from_wire(v: u16) -> Option<Self> {
        match v {
            1 => Some(Version::V1),
            2 => Some(Version::V2),
            _ => None,
        }
    }
}

/// A record AEAD (all with 32-byte keys, 12-byte nonces, 16-byte tags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// AES-256-GCM, wire id 0.
    Aes256Gcm,
    /// AES-256-CCM with a 16-byte tag, wire id 1.
    Aes256Ccm,
    /// ChaCha20-Poly1305 (RFC 8439), wire id 2.
    ChaCha20Poly1305,
}

impl Cipher {
    /// The wire id.
    pub fn id(self) -> u16 {
        match self {
            Cipher::Aes256Gcm => 0,
            Cipher::Aes256Ccm => 1,
            Cipher::ChaCha20Poly1305 => 2,
        }
    }

    /// The cipher with this wire id, if any.
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            0 => Some(Cipher::Aes256Gcm),
            1 => Some(Cipher::Aes256Ccm),
            2 => Some(Cipher::ChaCha20Poly1305),
            _ => None,
        }
    }
}

/// Handshake settings. The server's ciphers and iteration count are what it
/// offers; the client takes the server's ciphers and bounds its count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The protocol version (both sides must agree).
    pub version: Version,
    /// Server: cipher of server-to-client records (cipher0).
    pub server_to_client: Cipher,
    /// Server: cipher of client-to-server records (cipher1).
    pub client_to_server: Cipher,
    /// Server: PBKDF2 iteration count to ask for (at least 1).
    pub iterations: u64,
    /// Client: the largest iteration count it will run PBKDF2 with.
    pub max_iterations: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: Version::V2,
            server_to_client: Cipher::ChaCha20Poly1305,
            client_to_server: Cipher::ChaCha20Poly1305,
            iterations: 16,
            max_iterations: 100_000,
        }
    }
}

/// The identities both sides hash, in the same order on both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identities {
    /// The client's identity (hashed first).
    pub client: Vec<u8>,
    /// The server's identity.
    pub server: Vec<u8>,
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;
