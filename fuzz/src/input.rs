//! The targets' input formats, written once so that the seed generator
//! builds exactly what the targets read.

/// The `record` target: byte 0 is the mode, then operations.
///
/// Mode: bit 0 the version (1 = version 2), bits 1-2 the cipher
/// ([`crate::cipher_of`]), bit 3 set starts both ends at sequence number
/// `2^64 - 1 - (bits 4-5)`, so that the sequence numbers run out.
///
/// An operation is one byte: its low 3 bits say what
/// ([`record::RAW`]...), its high 5 bits where its bytes are cut in two
/// feeds (bits 3-6, in sixteenths) and whether the second piece is handed
/// over owned (bit 7).
pub mod record {
    /// Feed raw bytes: a length byte, then the bytes.
    pub const RAW: u8 = 0;
    /// Seal and feed a record: a length byte, then the plaintext.
    pub const RECORD: u8 = 1;
    /// Seal and feed a big write: u16be `n`, a byte `m`, a fill byte;
    /// `n + m` bytes of plaintext (one record or two), while the input's
    /// budget lasts ([`BIG_BUDGET`]; past it, `(n + m) % 256`).
    pub const BIG: u8 = 2;
    /// Seal and feed the close marker.
    pub const CLOSE: u8 = 3;
    /// Feed the end of the stream (feeding goes on after it).
    pub const EOF: u8 = 4;
    /// Seal a record (a length byte, the plaintext), XOR a byte into it
    /// (u16be position, the mask) and feed it.
    pub const FLIPPED: u8 = 5;
    /// Seal a record (a length byte, the plaintext) and feed only a
    /// prefix (a length byte).
    pub const PREFIX: u8 = 6;
    /// Feed the previous operation's bytes again.
    pub const REPLAY: u8 = 7;

    /// Plaintext bytes the big writes of one input may seal: one of the
    /// largest.
    pub const BIG_BUDGET: usize = 65_535 + 255;

    /// The operation byte for `op` with its bytes cut at `sixteenths` of
    /// their length, the second piece owned when `owned`.
    pub fn op(op: u8, sixteenths: u8, owned: bool) -> u8 {
        op | (sixteenths & 15) << 3 | u8::from(owned) << 7
    }

    /// Where an operation byte cuts `len` bytes, and whether the second
    /// piece is owned.
    pub fn cut(op: u8, len: usize) -> (usize, bool) {
        (len * usize::from((op >> 3) & 15) / 16, op & 0x80 != 0)
    }
}

/// The `close` target: 3 header bytes, then operations.
///
/// Header: the mode (bit 0 the version, bits 1-2 the cipher, bits 3-4
/// the opener's key: 0 the sealer's, 1 another AEAD key, 2 another nonce
/// base, 3 the sealer's but for the 20 unused bytes), the key byte
/// ([`crate::key_of`]) and the first sequence number
/// ([`crate::first_sequence`]).
///
/// Sealed records wait in an outbox until an operation puts them on the
/// wire. An operation is one byte: its low 4 bits say what, its high 4
/// bits where its bytes are cut in two feeds (bits 4-6, in eighths) and
/// whether the second piece is handed over owned (bit 7). At the end of
/// the input, the records not sent yet are sent in order, then the end of
/// the stream.
pub mod close {
    /// Seal a write: a length byte, then the plaintext.
    pub const SEAL: u8 = 0;
    /// Seal a big write: u16be `n`, a byte `m`, a fill byte; `n + m`
    /// bytes of plaintext (one record or two), while the input's budget
    /// lasts ([`BIG_BUDGET`]; past it, `(n + m) % 256`).
    pub const SEAL_BIG: u8 = 1;
    /// Seal the close marker.
    pub const SEAL_CLOSE: u8 = 2;
    /// Send the next record of the outbox.
    pub const SEND: u8 = 3;
    /// Send any record sealed so far (a byte picks it): replay or reorder.
    pub const SEND_ANY: u8 = 4;
    /// Lose the next record of the outbox.
    pub const DROP: u8 = 5;
    /// Send the next record with a byte XORed in: u16be position, mask.
    pub const FLIP: u8 = 6;
    /// Send only a prefix of the next record: u16be length.
    pub const CUT: u8 = 7;
    /// Send raw bytes: a length byte, then the bytes.
    pub const RAW: u8 = 8;
    /// Send every record left in the outbox, in order.
    pub const FLUSH: u8 = 9;
    /// End the stream; the operations after it are not read.
    pub const EOF: u8 = 10;
    /// Seal a write (a length byte, the plaintext) and send what is in the
    /// outbox.
    pub const WRITE: u8 = 11;
    /// Seal the close marker and send what is in the outbox.
    pub const SHUTDOWN: u8 = 12;

    /// Plaintext bytes the big writes of one input may seal: one of the
    /// largest.
    pub const BIG_BUDGET: usize = 65_535 + 255;

    /// The operation byte for `op` with its bytes cut at `eighths` of their
    /// length, the second piece owned when `owned`.
    pub fn op(op: u8, eighths: u8, owned: bool) -> u8 {
        op | (eighths & 7) << 4 | u8::from(owned) << 7
    }

    /// Where an operation byte cuts `len` bytes, and whether the second
    /// piece is owned.
    pub fn cut(op: u8, len: usize) -> (usize, bool) {
        (len * usize::from((op >> 4) & 7) / 8, op & 0x80 != 0)
    }
}

/// The `handshake` target: the mode byte, 8 seed bytes, then the rest.
///
/// Mode: bit 0 the version, bit 1 the fuzzed side when alone (0 the
/// client, 1 the server), bit 2 a real client and server with a man in
/// the middle, bits 3-4 and 5-6 the server's two ciphers, bit 7 the
/// server asking one iteration more than the client allows.
///
/// Alone, the rest is two cut bytes and what the peer "sent", fed in
/// three pieces, then the end of the stream. With the man in the middle,
/// the rest is XORed onto their messages in order.
pub mod handshake {
    use spoke_protocol::testing::Seeded;
    use spoke_protocol::{ClientHandshake, Config, Identities, ServerHandshake};

    use crate::{cipher_of, version_of};

    /// Bytes of the randomness seed after the mode byte.
    pub const SEED_LEN: usize = 8;
    /// Mode bit: the fuzzed side is the server.
    pub const SERVER: u8 = 2;
    /// Mode bit: a real client and server with a man in the middle.
    pub const MITM: u8 = 4;
    /// Mode bit: the server asks for more iterations than the client allows.
    pub const TOO_MANY_ITERATIONS: u8 = 0x80;

    /// The mode bits of the server's ciphers.
    pub fn ciphers(server_to_client: u8, client_to_server: u8) -> u8 {
        (server_to_client & 3) << 3 | (client_to_server & 3) << 5
    }

    /// The password both sides use.
    pub const PASSWORD: &[u8] = b"password";

    /// The configuration a mode byte picks (both sides use it). Small
    /// iteration counts keep the fuzzer fast; the bound is what is under
    /// test.
    pub fn config(mode: u8) -> Config {
        Config {
            version: version_of(mode),
            server_to_client: cipher_of(mode >> 3),
            client_to_server: cipher_of(mode >> 5),
            iterations: if mode & TOO_MANY_ITERATIONS != 0 {
                65
            } else {
                1
            },
            max_iterations: 64,
        }
    }

    /// The identities both sides use.
    pub fn identities() -> Identities {
        Identities {
            client: b"client".to_vec(),
            server: b"server".to_vec(),
        }
    }

    /// A side's randomness: a deterministic stream of the input's seed, one
    /// per side so the client's and the server's scalars differ.
    fn randomness(seed: &[u8; SEED_LEN], side: &[u8]) -> Seeded {
        Seeded::new(&[seed.as_slice(), side].concat())
    }

    /// The client of an input with this seed.
    pub fn client(config: &Config, password: &[u8], seed: &[u8; SEED_LEN]) -> ClientHandshake {
        ClientHandshake::with_randomness(
            config,
            identities(),
            password,
            randomness(seed, b"client"),
        )
        .expect("a valid configuration")
    }

    /// The server of an input with this seed.
    pub fn server(config: &Config, password: &[u8], seed: &[u8; SEED_LEN]) -> ServerHandshake {
        ServerHandshake::with_randomness(
            config,
            identities(),
            password,
            randomness(seed, b"server"),
        )
        .expect("a valid configuration")
    }
}
