//! Writes the seed corpus: inputs for every target built from real
//! protocol bytes (handshakes between a real client and server, records
//! of both versions and all three ciphers sealed by a real sealer, headers
//! and verdicts encoded by the transfer code), in each target's input
//! format (`spoke_fuzz::input`).
//!
//! `cargo run --example seeds` (in `fuzz/`) writes them as
//! `corpus/<target>/seed-<name>`, replacing files of the same name.

#[allow(dead_code)]
#[path = "../../cli/src/header.rs"]
mod header;

use std::path::{Path, PathBuf};

use header::{DIGEST_LEN, DigestAt, Header, MAX_NAME, Verdict};
use spoke_fuzz::input::{close, handshake, record};
use spoke_protocol::testing::{Dir, run_pair, sealer};
use spoke_protocol::{Cipher, Version};

const CIPHERS: [Cipher; 3] = [
    Cipher::Aes256Gcm,
    Cipher::Aes256Ccm,
    Cipher::ChaCha20Poly1305,
];

/// The mode bits of a version and a cipher, as the record targets read
/// them.
fn mode(version: Version, cipher: Cipher) -> u8 {
    u8::from(version == Version::V2) | (cipher.id() as u8) << 1
}

struct Corpus {
    dir: PathBuf,
    written: usize,
}

impl Corpus {
    fn new(root: &Path, target: &str) -> Self {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("creating the corpus directory");
        Corpus { dir, written: 0 }
    }

    fn seed(&mut self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.join(format!("seed-{name}")), bytes).expect("writing a seed");
        self.written += 1;
    }
}

/// A length byte and the bytes (at most 255).
fn counted(bytes: &[u8]) -> Vec<u8> {
    assert!(
        bytes.len() <= 255,
        "{} bytes do not fit a length byte",
        bytes.len()
    );
    [&[bytes.len() as u8][..], bytes].concat()
}

fn record_seeds(corpus: &mut Corpus) {
    use record::{BIG, CLOSE, EOF, FLIPPED, PREFIX, RAW, RECORD, REPLAY, op};
    // The key the record target uses.
    let key = [0x42; 64];
    for version in [Version::V1, Version::V2] {
        for cipher in CIPHERS {
            let m = mode(version, cipher);
            let tag = format!("v{}-{cipher:?}", version.wire());
            // Real records as raw bytes: data, then the close marker.
            let mut real = sealer(version, cipher, &key, 0);
            let mut data = Vec::new();
            real.seal(b"real record bytes", &mut data).expect("sealing");
            let mut marker = Vec::new();
            real.seal_close(&mut marker).expect("closing");
            let mut seed = vec![m, op(RAW, 8, false)];
            seed.extend(counted(&data));
            seed.push(op(RAW, 0, true));
            seed.extend(counted(&marker));
            seed.push(op(EOF, 0, false));
            corpus.seed(&format!("{tag}-raw-real"), &seed);
            // Records sealed by the target: small, big (two records), the
            // close marker, the end.
            let mut seed = vec![m, op(RECORD, 5, false)];
            seed.extend(counted(b"hello, record"));
            seed.extend([op(BIG, 3, true), 0xff, 0xff, 0xff, b'x']);
            seed.extend([op(CLOSE, 0, false), op(EOF, 0, false)]);
            corpus.seed(&format!("{tag}-sealed"), &seed);
            // A flipped, a cut and a replayed record.
            let mut seed = vec![m, op(RECORD, 0, false)];
            seed.extend(counted(b"first"));
            seed.push(op(REPLAY, 4, false));
            corpus.seed(&format!("{tag}-replayed"), &seed);
            let mut seed = vec![m, op(FLIPPED, 7, false)];
            seed.extend(counted(b"flipped"));
            seed.extend([0, 9, 0x20]);
            corpus.seed(&format!("{tag}-flipped"), &seed);
            let mut seed = vec![m, op(PREFIX, 2, false)];
            seed.extend(counted(b"cut short"));
            seed.extend([12, op(EOF, 0, false)]);
            corpus.seed(&format!("{tag}-prefix"), &seed);
            // The last sequence numbers.
            let mut seed = vec![m | 8 | 1 << 4];
            for _ in 0..3 {
                seed.push(op(RECORD, 8, false));
                seed.extend(counted(b"late"));
            }
            seed.push(op(CLOSE, 0, false));
            corpus.seed(&format!("{tag}-last-sequence-numbers"), &seed);
        }
    }
}

fn close_seeds(corpus: &mut Corpus) {
    use close::{
        CUT, DROP, EOF, FLIP, FLUSH, RAW, SEAL, SEAL_BIG, SEAL_CLOSE, SEND, SEND_ANY, SHUTDOWN,
        WRITE, op,
    };
    for version in [Version::V1, Version::V2] {
        for cipher in CIPHERS {
            let m = mode(version, cipher);
            let tag = format!("v{}-{cipher:?}", version.wire());
            let head = |mode: u8, seq: u8| vec![mode, 7, seq];
            let write = |bytes: &[u8]| [&[op(WRITE, 3, false)][..], &counted(bytes)].concat();
            // A clean session: writes, a big one, the close marker.
            let mut seed = head(m, 0);
            seed.extend(write(b"hello"));
            seed.extend([op(SEAL_BIG, 0, false), 0xff, 0xe0, 0x40, b'b']);
            seed.extend(write(b"bye"));
            seed.extend([op(SHUTDOWN, 5, true), op(EOF, 0, false)]);
            corpus.seed(&format!("{tag}-clean"), &seed);
            // Truncated before the close marker.
            let mut seed = head(m, 0);
            seed.push(op(SEAL, 0, false));
            seed.extend(counted(b"data"));
            seed.extend([
                op(SEAL_CLOSE, 0, false),
                op(SEND, 4, false),
                op(EOF, 0, false),
            ]);
            corpus.seed(&format!("{tag}-truncated"), &seed);
            // Bytes after the close marker; a write after it.
            let mut seed = head(m, 1);
            seed.extend(write(b"data"));
            seed.push(op(SHUTDOWN, 0, false));
            seed.push(op(RAW, 2, false));
            seed.extend(counted(b"more"));
            seed.extend(write(b"refused"));
            corpus.seed(&format!("{tag}-after-close"), &seed);
            // Replayed, reordered, lost, flipped and cut records.
            let mut seed = head(m, 2);
            seed.extend(write(b"once"));
            seed.extend([op(SEND_ANY, 0, false), 0]);
            corpus.seed(&format!("{tag}-replayed"), &seed);
            let mut seed = head(m, 3);
            for text in [&b"first"[..], b"second"] {
                seed.push(op(SEAL, 0, false));
                seed.extend(counted(text));
            }
            seed.extend([op(SEND_ANY, 0, false), 1, op(SEND_ANY, 0, false), 0]);
            corpus.seed(&format!("{tag}-reordered"), &seed);
            let mut seed = head(m, 4);
            for text in [&b"lost"[..], b"kept"] {
                seed.push(op(SEAL, 0, false));
                seed.extend(counted(text));
            }
            seed.extend([op(DROP, 0, false), op(FLUSH, 2, false)]);
            corpus.seed(&format!("{tag}-dropped"), &seed);
            let mut seed = head(m, 5);
            seed.push(op(SEAL, 0, false));
            seed.extend(counted(b"flipped"));
            seed.extend([op(FLIP, 6, false), 0, 4, 0x80]);
            corpus.seed(&format!("{tag}-flipped"), &seed);
            let mut seed = head(m, 6);
            seed.push(op(SEAL_CLOSE, 0, false));
            seed.extend([op(CUT, 3, false), 0, 17, op(EOF, 0, false)]);
            corpus.seed(&format!("{tag}-cut-marker"), &seed);
            // Another key, another nonce base, the unused key bytes.
            for (i, what) in ["other-key", "other-nonce", "unused-key-bytes"]
                .iter()
                .enumerate()
            {
                let mut seed = head(m | ((i as u8 + 1) << 3), 0);
                seed.extend(write(b"keyed"));
                seed.push(op(SHUTDOWN, 0, false));
                corpus.seed(&format!("{tag}-{what}"), &seed);
            }
            // The last sequence numbers run out.
            let mut seed = head(m, 0xfe);
            for _ in 0..3 {
                seed.extend(write(b"late"));
            }
            seed.push(op(SHUTDOWN, 0, false));
            corpus.seed(&format!("{tag}-last-sequence-numbers"), &seed);
            // Bytes nobody sealed, between records.
            let mut seed = head(m, 0);
            seed.extend(write(b"before"));
            seed.push(op(RAW, 4, false));
            seed.extend(counted(&[0, 20, 1, 2, 3]));
            seed.extend(write(b"after"));
            corpus.seed(&format!("{tag}-raw-between"), &seed);
        }
    }
}

fn handshake_seeds(corpus: &mut Corpus) {
    use handshake::{MITM, PASSWORD, SERVER, TOO_MANY_ITERATIONS, ciphers, client, config, server};
    let seed = *b"spokeseed";
    let seed: &[u8; 8] = seed.first_chunk().expect("8 bytes");
    for version in [0u8, 1] {
        for c0 in 0..3 {
            for c1 in 0..3 {
                let mode = version | ciphers(c0, c1);
                let tag = format!("v{}-{c0}{c1}", version + 1);
                // Untouched: a real handshake, both succeed.
                corpus.seed(
                    &format!("{tag}-mitm-untouched"),
                    &[&[mode | MITM][..], seed].concat(),
                );
                // What a real peer sent, its validator flipped: the fuzzed
                // side runs the whole handshake and refuses at the end.
                let config = config(mode);
                let mut c = client(&config, PASSWORD, seed);
                let mut s = server(&config, PASSWORD, seed);
                let outcome = run_pair(&mut c, &mut s, None);
                assert!(outcome.client.is_ok() && outcome.server.is_ok());
                for (side, dir) in [(0, Dir::ServerToClient), (SERVER, Dir::ClientToServer)] {
                    let mut sent: Vec<u8> = outcome
                        .wire
                        .iter()
                        .filter(|(d, _)| *d == dir)
                        .flat_map(|(_, m)| m.iter().copied())
                        .collect();
                    *sent.last_mut().expect("a message") ^= 1;
                    let cuts = [34, sent.len() as u8 / 2];
                    let name = if side == 0 { "client" } else { "server" };
                    corpus.seed(
                        &format!("{tag}-{name}-real-peer"),
                        &[&[mode | side][..], seed, &cuts, &sent].concat(),
                    );
                }
            }
        }
        // A man in the middle flipping one bit of each message.
        let mut mask = vec![0u8; 34 + 32 + 96 + 64];
        for at in [3, 34 + 5, 34 + 32 + 40, 34 + 32 + 96 + 1] {
            mask[at] = 4;
        }
        corpus.seed(
            &format!("v{}-mitm-flips", version + 1),
            &[&[version | MITM][..], seed, &mask].concat(),
        );
        corpus.seed(
            &format!("v{}-mitm-too-many-iterations", version + 1),
            &[&[version | MITM | TOO_MANY_ITERATIONS][..], seed].concat(),
        );
    }
}

fn transfer_header_seeds(corpus: &mut Corpus) {
    let long_ascii = "n".repeat(MAX_NAME);
    let long_cut = format!("{}\u{20ac}", "a".repeat(MAX_NAME - 1));
    let names = [
        ("empty", ""),
        ("plain", "report.pdf"),
        ("unicode", "r\u{e9}sum\u{e9} \u{20ac} \u{1f600}.txt"),
        ("longest", long_ascii.as_str()),
        ("cut-between-characters", long_cut.as_str()),
    ];
    for (what, name) in names {
        for (format, digest) in [
            ("1", DigestAt::Header([0x5a; DIGEST_LEN])),
            ("2", DigestAt::Trailer),
        ] {
            let header = Header {
                size: 1 << 33 | 5,
                name: name.to_owned(),
                digest,
            };
            let mut bytes = header.encode();
            corpus.seed(&format!("format{format}-{what}"), &bytes);
            bytes.extend_from_slice(b"the content follows");
            corpus.seed(&format!("format{format}-{what}-content"), &bytes);
        }
    }
    let verdicts = [
        ("stored", Verdict::Stored),
        (
            "rejected",
            Verdict::Rejected("digest mismatch: SHA-256".into()),
        ),
        (
            "rejected-unicode",
            Verdict::Rejected("\u{fffd} nope".into()),
        ),
    ];
    for (what, verdict) in verdicts {
        corpus.seed(&format!("verdict-{what}"), &verdict.encode());
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut written = Vec::new();
    for (target, seeds) in [
        ("record", record_seeds as fn(&mut Corpus)),
        ("close", close_seeds),
        ("handshake", handshake_seeds),
        ("transfer_header", transfer_header_seeds),
    ] {
        let mut corpus = Corpus::new(&root, target);
        seeds(&mut corpus);
        written.push(format!("{target}: {}", corpus.written));
    }
    println!(
        "seeds written to {}: {}",
        root.display(),
        written.join(", ")
    );
}
