//! The record layer's opener on arbitrary bytes, interleaved with valid
//! records, close markers and EOF.
//!
//! Input: byte 0 picks the version and the cipher; then ops, each a tag
//! byte and (for feeds) a length byte: feed raw bytes, feed a valid record
//! of raw bytes, feed the close marker, end the stream. After each op the
//! opener is drained. Invariants: no panic, `Data` is never empty, and an
//! error, once returned, is returned forever.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spoke_protocol::testing::{opener, sealer};
use spoke_protocol::{Cipher, Opened, Opener, RecordError, Version};

const KEY: [u8; 64] = [0x42; 64];

fn drain(opener: &mut Opener, failed: &mut Option<RecordError>) {
    for _ in 0..1000 {
        match opener.open() {
            Ok(Opened::Data(d)) => {
                assert!(!d.is_empty());
                assert!(failed.is_none(), "data after an error");
            }
            Ok(Opened::NeedInput) | Ok(Opened::End) => {
                assert!(failed.is_none(), "recovered from an error");
                return;
            }
            Err(e) => {
                if let Some(before) = failed {
                    assert_eq!(*before, e, "errors are sticky");
                }
                *failed = Some(e);
                return;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut ops)) = data.split_first() else {
        return;
    };
    let version = if mode & 1 == 0 {
        Version::V1
    } else {
        Version::V2
    };
    let cipher = match (mode >> 1) % 3 {
        0 => Cipher::Aes256Gcm,
        1 => Cipher::Aes256Ccm,
        _ => Cipher::ChaCha20Poly1305,
    };
    let mut sealer = sealer(version, cipher, &KEY, 0);
    let mut opener = opener(version, cipher, &KEY, 0);
    let mut failed = None;
    let mut wire = Vec::new();
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        let take = |ops: &mut &[u8]| -> Vec<u8> {
            let Some((&n, rest)) = ops.split_first() else {
                return Vec::new();
            };
            let n = usize::from(n).min(rest.len());
            let (bytes, rest) = rest.split_at(n);
            *ops = rest;
            bytes.to_vec()
        };
        wire.clear();
        match op % 5 {
            0 => wire = take(&mut ops),
            1 => {
                let plain = take(&mut ops);
                let _ = sealer.seal(&plain, &mut wire);
            }
            2 => {
                // A big record: the plaintext repeated up to 65517+ bytes.
                let plain = take(&mut ops);
                let big: Vec<u8> = plain.iter().copied().cycle().take(65_600).collect();
                let _ = sealer.seal(&big, &mut wire);
            }
            3 => {
                let _ = sealer.seal_close(&mut wire);
            }
            _ => opener.feed_eof(),
        }
        // Feed in two pieces to exercise reassembly.
        let cut = usize::from(op / 5) % (wire.len() + 1);
        opener.feed(&wire[..cut]);
        drain(&mut opener, &mut failed);
        opener.feed(&wire[cut..]);
        drain(&mut opener, &mut failed);
    }
    opener.feed_eof();
    drain(&mut opener, &mut failed);
});
