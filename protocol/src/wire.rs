//! Wire formats, parsed and emitted apart from any state (smoltcp style).
//!
//! Owns: the 34-byte public packet, the handshake message sizes and the
//! record header. Must never decide policy (version choice, iteration
//! bounds): that belongs to the handshake.

use super::{Cipher, HandshakeError};

/// Size of the public packet.
pub const PUBLIC_LEN: usize = 34;
/// Size of the client's `X`.
pub const X_LEN: usize = 32;
/// Size of the server's `Y || client_validator`.
pub const REPLY_LEN: usize = 96;
/// Size of the client's `server_validator`.
pub const VALIDATOR_LEN: usize = 64;
/// Size of a record header (`u16be(LEN)`, LEN counting these 2 bytes).
pub const HEADER_LEN: usize = 2;
/// Size of an AEAD tag.
pub const TAG_LEN: usize = 16;
/// The largest plaintext one record can carry (LEN = 65535).
pub const MAX_PLAINTEXT: usize = u16::MAX as usize - HEADER_LEN - TAG_LEN;

const ALGORITHM_PBKDF2: [u8; 2] = [0, 2];
const HASH_SHA256: u16 = 4;

/// The server's first message: version, KDF, iteration count, ciphers, hash, salt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicPacket {
    /// Protocol version field (the reference never checks it).
    pub version: u16,
    /// PBKDF2 iteration count.
    pub iterations: u64,
    /// Cipher of server-to-client records (cipher0).
    pub cipher0: Cipher,
    /// Cipher of client-to-server records (cipher1).
    pub cipher1: Cipher,
    /// PBKDF2 salt.
    pub salt: [u8; 16],
}

impl PublicPacket {
    /// Parses exactly 34 bytes. Unknown algorithm, cipher or hash ids give
    /// `InvalidPublicPacket`; the version is returned unchecked.
    pub fn parse(b: &[u8; PUBLIC_LEN]) -> Result<Self, HandshakeError> {
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        if b[2..4] != ALGORITHM_PBKDF2 || u16_at(16) != HASH_SHA256 {
            return Err(HandshakeError::InvalidPublicPacket);
        }
        let mut count = [0u8; 8];
        count.copy_from_slice(&b[4..12]);
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&b[18..34]);
        Ok(PublicPacket {
            version: u16_at(0),
            iterations: u64::from_be_bytes(count),
            cipher0: Cipher::from_id(u16_at(12)).ok_or(HandshakeError::InvalidPublicPacket)?,
            cipher1: Cipher::from_id(u16_at(14)).ok_or(HandshakeError::InvalidPublicPacket)?,
            salt,
        })
    }

    /// The 34 bytes on the wire.
    pub fn emit(&self) -> [u8; PUBLIC_LEN] {
        let mut b = [0u8; PUBLIC_LEN];
        b[0..2].copy_from_slice(&self.version.to_be_bytes());
        b[2..4].copy_from_slice(&ALGORITHM_PBKDF2);
        b[4..12].copy_from_slice(&self.iterations.to_be_bytes());
        b[12..14].copy_from_slice(&self.cipher0.id().to_be_bytes());
        b[14..16].copy_from_slice(&self.cipher1.id().to_be_bytes());
        b[16..18].copy_from_slice(&HASH_SHA256.to_be_bytes());
        b[18..34].copy_from_slice(&self.salt);
        b
    }
}

/// Reads a record header's LEN (total record size, header included).
pub fn record_len(header: [u8; HEADER_LEN]) -> usize {
    usize::from(u16::from_be_bytes(header))
}

/// The associated data of a record: `u16be(version) || u16be(plaintext_len)`.
pub fn record_adata(version: u16, plaintext_len: usize) -> [u8; 4] {
    let mut a = [0u8; 4];
    a[..2].copy_from_slice(&version.to_be_bytes());
    a[2..].copy_from_slice(&(plaintext_len as u16).to_be_bytes());
    a
}
