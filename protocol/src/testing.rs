//! Test and fuzzing support (feature `testing`; this crate's own tests
//! and `fuzz/` enable it). **Not for production**: it builds record ends
//! from raw keys, reads a session's keys and replays chosen "random" bytes,
//! and it may change in any release.
//!
//! Owns: the helpers the unit tests, the vector replays
//! (`tests/vectors.rs`) and the fuzz targets share, written once:
//! deterministic [`Randomness`] sources ([`Scripted`], [`Seeded`]), two
//! handshakes talking in memory ([`run_pair`], quinn's `Pair` style), record
//! ends and the record AEAD from raw keys, the password-derived values of
//! §3, and the reference's vector files. Must never be enabled by a
//! production build, and nothing outside it may depend on it: the crate
//! behaves the same with the feature on or off.

use std::path::PathBuf;

use blake2::{Blake2b512, Digest};
use zeroize::ZeroizeOnDrop;

use crate::handshake::PasswordKeys;
use crate::record::aead::Protection;
use crate::wire::TAG_LEN;
use crate::{
    Cipher, ClientHandshake, Handshake, HandshakeError, Opened, Opener, Randomness,
    RandomnessError, Sealer, ServerHandshake, Session, Step, Version,
};

// ---------------------------------------------------------------- randomness

/// A [`Randomness`] source that hands out the given bytes in order, then
/// fails: replays a recorded handshake (the server draws its 16-byte salt,
/// then 32 bytes for y; the client 32 bytes for x).
#[derive(Clone, Debug, Default)]
pub struct Scripted {
    bytes: Vec<u8>,
}

impl Scripted {
    /// A source of exactly these bytes, in this order.
    pub fn new(parts: &[&[u8]]) -> Self {
        Scripted {
            bytes: parts.concat(),
        }
    }

    /// How many bytes were not handed out yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }
}

impl Randomness for Scripted {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomnessError> {
        if buf.len() > self.bytes.len() {
            return Err(RandomnessError);
        }
        buf.copy_from_slice(&self.bytes[..buf.len()]);
        self.bytes.drain(..buf.len());
        Ok(())
    }
}

/// A deterministic, endless [`Randomness`] source: block `i` is
/// `BLAKE2b-512(BLAKE2b-512(seed) || u64le(i))`. The same seed gives the
/// same bytes, so a fuzzer's input replays its handshakes exactly. Anyone
/// who knows the seed knows every byte: never a production source.
#[derive(Clone, Debug)]
pub struct Seeded {
    key: [u8; 64],
    counter: u64,
    block: [u8; 64],
    used: usize,
}

impl Seeded {
    /// The source for this seed (any length, empty included).
    pub fn new(seed: &[u8]) -> Self {
        Seeded {
            key: Blake2b512::digest(seed).into(),
            counter: 0,
            block: [0; 64],
            used: 64,
        }
    }
}

impl Randomness for Seeded {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomnessError> {
        for b in buf {
            if self.used == self.block.len() {
                let mut h = Blake2b512::new();
                h.update(self.key);
                h.update(self.counter.to_le_bytes());
                self.block = h.finalize().into();
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *b = self.block[self.used];
            self.used += 1;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- handshakes

/// Who sent a handshake message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the server to the client.
    ServerToClient,
    /// From the client to the server.
    ClientToServer,
}

/// A rewrite of the bytes in flight: gets the direction, the message index
/// (0-based over the whole handshake) and the bytes, may change them.
pub type Tamper<'a> = &'a mut dyn FnMut(Dir, usize, &mut Vec<u8>);

/// The outcome of running two handshakes against each other.
pub struct PairOutcome {
    /// The client's session, or why it failed (`EndOfInput` if it stalled).
    pub client: Result<Box<Session>, HandshakeError>,
    /// The server's session, or why it failed (`EndOfInput` if it stalled).
    pub server: Result<Box<Session>, HandshakeError>,
    /// Every message, in the order sent, as delivered (after any tamper).
    pub wire: Vec<(Dir, Vec<u8>)>,
}

/// Runs both machines until neither makes progress. A side that fails
/// closes its stream (the peer gets EOF), as a real flow would.
pub fn run_pair(
    client: &mut ClientHandshake,
    server: &mut ServerHandshake,
    tamper: Option<Tamper<'_>>,
) -> PairOutcome {
    let mut tamper = tamper;
    let mut wire = Vec::new();
    let mut outcome: [Option<Result<Box<Session>, HandshakeError>>; 2] = [None, None];
    loop {
        let mut progress = false;
        #[allow(clippy::needless_range_loop)] // side picks both the machine and its slot
        for side in 0..2 {
            if outcome[side].is_some() {
                continue;
            }
            let (me, other, dir): (&mut dyn Handshake, &mut dyn Handshake, Dir) = if side == 0 {
                (&mut *server, &mut *client, Dir::ServerToClient)
            } else {
                (&mut *client, &mut *server, Dir::ClientToServer)
            };
            match me.step() {
                Step::Send(mut bytes) => {
                    if let Some(t) = tamper.as_mut() {
                        t(dir, wire.len(), &mut bytes);
                    }
                    other.feed(&bytes);
                    wire.push((dir, bytes));
                    progress = true;
                }
                Step::NeedInput => {}
                Step::Done(s) => {
                    outcome[side] = Some(Ok(s));
                    progress = true;
                }
                Step::Failed(e) => {
                    other.feed_eof();
                    outcome[side] = Some(Err(e));
                    progress = true;
                }
            }
        }
        if !progress {
            break;
        }
    }
    let [server_result, client_result] = outcome;
    PairOutcome {
        client: client_result.unwrap_or(Err(HandshakeError::EndOfInput)),
        server: server_result.unwrap_or(Err(HandshakeError::EndOfInput)),
        wire,
    }
}

/// Everything an opener yields until it needs input: data, then the final
/// `End`/`NeedInput`/error as a string for easy comparison.
pub fn drain(opener: &mut Opener) -> (Vec<Vec<u8>>, String) {
    let mut data = Vec::new();
    loop {
        match opener.open() {
            Ok(Opened::Data(d)) => {
                assert!(!d.is_empty(), "Data is never empty");
                data.push(d.to_vec());
            }
            Ok(Opened::NeedInput) => return (data, "NeedInput".into()),
            Ok(Opened::End) => return (data, "End".into()),
            Err(e) => return (data, format!("{e:?}")),
        }
    }
}

// ---------------------------------------------------------------- records

/// A sealer for `key` (as `k0`/`k1` of a session, no handshake) whose next
/// record has sequence number `next`.
pub fn sealer(version: Version, cipher: Cipher, key: &[u8; 64], next: u64) -> Sealer {
    let mut sealer = Sealer::new(version, cipher, key);
    sealer.skip_to(next);
    sealer
}

/// An opener for `key` (as `k0`/`k1` of a session, no handshake) that
/// expects sequence number `next` first.
pub fn opener(version: Version, cipher: Cipher, key: &[u8; 64], next: u64) -> Opener {
    let mut opener = Opener::new(version, cipher, key, Vec::new());
    opener.skip_to(next);
    opener
}

/// One direction's record AEAD on its own (§6: key `k[0..32)`, nonce base
/// `k[32..44)`), for records Spoke's framing never builds or accepts.
pub struct RecordAead(Protection);

impl RecordAead {
    /// The AEAD of `cipher` keyed by the 64-byte `key`.
    pub fn new(cipher: Cipher, key: &[u8; 64]) -> Self {
        RecordAead(Protection::new(cipher, key))
    }

    /// The nonce of record `seq`.
    pub fn nonce(&self, seq: u64) -> [u8; 12] {
        self.0.nonce(seq)
    }

    /// Encrypts `buf` in place as record `seq`; the tag, or `None` if the
    /// AEAD refuses the length.
    pub fn seal(&self, seq: u64, adata: &[u8], buf: &mut [u8]) -> Option<[u8; TAG_LEN]> {
        self.0.seal(seq, adata, buf).ok()
    }

    /// Decrypts `buf` in place as record `seq`; whether `tag` verified.
    pub fn open(&self, seq: u64, adata: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
        self.0.open(seq, adata, buf, tag).is_ok()
    }
}

// ---------------------------------------------------------------- secrets

/// Compiles only if `T` wipes itself when dropped: call it in a test as
/// `wiped_on_drop::<SecretHolder>()`.
pub fn wiped_on_drop<T: ZeroizeOnDrop>() {}

/// A session's shared keys `(k0, k1)`.
pub fn session_keys(session: &Session) -> (&[u8; 64], &[u8; 64]) {
    session.keys()
}

/// The bytes a session read past the handshake.
pub fn session_pending(session: &Session) -> &[u8] {
    session.pending()
}

/// `Spoke.keys` (§3): the values both sides derive from the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordValues {
    /// M, the client's blinding point.
    pub m: [u8; 32],
    /// N, the server's blinding point.
    pub n: [u8; 32],
    /// h_K, hashed into the transcript.
    pub h_k: [u8; 32],
    /// h_L, the client's scalar for V.
    pub h_l: [u8; 32],
    /// L = h_L·B (clamped), the server's point for V.
    pub l: [u8; 32],
}

impl PasswordValues {
    /// Each value under its name in the vector files (`M_hex`, `N_hex`,
    /// `h_K_hex`, `h_L_hex`, `L_hex`).
    pub fn by_vector_field(&self) -> [(&'static str, &[u8; 32]); 5] {
        [
            ("M_hex", &self.m),
            ("N_hex", &self.n),
            ("h_K_hex", &self.h_k),
            ("h_L_hex", &self.h_l),
            ("L_hex", &self.l),
        ]
    }
}

/// The password-derived values for this salt and iteration count.
pub fn password_values(password: &[u8], salt: &[u8; 16], count: u32) -> PasswordValues {
    let k = PasswordKeys::derive(password, salt, count);
    PasswordValues {
        m: k.m,
        n: k.n,
        h_k: k.h_k,
        h_l: k.h_l,
        l: k.l,
    }
}

// ---------------------------------------------------------------- vectors

/// The vector files: every `*.json` in `$SPOKE_VECTORS`, by default in this
/// crate's `tests/vectors/`, as (file name, text), sorted by name.
///
/// # Panics
///
/// When the directory cannot be read or holds no vector file.
pub fn vector_files() -> Vec<(String, String)> {
    let dir = std::env::var_os("SPOKE_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors")));
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            out.push((name.into_owned(), text));
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no vector files in {}", dir.display());
    out
}

// ---------------------------------------------------------------- hex

/// The bytes of a hex string.
///
/// # Panics
///
/// On anything but pairs of hex digits (it checks test data).
pub fn hex(s: &str) -> Vec<u8> {
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .unwrap_or_else(|| panic!("bad hex {s:.40}"))
    };
    assert!(s.len().is_multiple_of(2), "odd hex length: {s:.40}");
    s.as_bytes()
        .chunks(2)
        .map(|pair| (digit(pair[0]) * 16 + digit(pair[1])) as u8)
        .collect()
}

/// The `N` bytes of a hex string.
///
/// # Panics
///
/// As [`hex`], and when the string is not `N` bytes long.
pub fn arr<const N: usize>(s: &str) -> [u8; N] {
    hex(s)
        .try_into()
        .unwrap_or_else(|v: Vec<u8>| panic!("expected {N} bytes, got {}", v.len()))
}
