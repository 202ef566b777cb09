//! Throughput of the kernels against the RustCrypto crates, in one run.
//!
//! Ignored by default; run inside wasm with the wasm-run runner and
//! `-- --ignored --nocapture chacha::bench`. Prints MB/s (10^6 B/s) over
//! 64 KiB records: keystream, Poly1305, seal and open, ours and the crates'.

use std::hint::black_box;

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20poly1305::aead::generic_array::GenericArray;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use poly1305::universal_hash::UniversalHash;

use super::ChaCha20Poly1305;
use super::cipher::{apply_keystream, key_words, nonce_words};
use super::poly1305::Poly1305;
use crate::kernel_testing::best_mbps;

const RECORD: usize = 64 * 1024;

/// Best MB/s over 9 runs of `iters` calls of `f` on a `RECORD`-byte buffer.
fn mbps(iters: usize, f: impl FnMut(&mut [u8])) -> f64 {
    best_mbps(RECORD, iters, f)
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_64k_records() {
    let iters = 300;
    let key = [7u8; 32];
    let nonce = [9u8; 12];
    let aad = [1u8; 13];
    let (kw, nw) = (key_words(&key), nonce_words(&nonce));

    // Warm up (clock frequency, caches) before the first figure.
    mbps(iters, |b| apply_keystream(&kw, &nw, 1, b));
    let ks_ours = mbps(iters, |b| apply_keystream(&kw, &nw, 1, b));
    let ks_crate = mbps(iters, |b| {
        let mut c = chacha20::ChaCha20::new(&key.into(), &nonce.into());
        c.apply_keystream(b);
    });

    let poly_ours = mbps(iters, |b| {
        let mut m = Poly1305::new(&key);
        m.update_padded(b);
        black_box(m.finalize());
    });
    let poly_crate = mbps(iters, |b| {
        let mut m = poly1305::Poly1305::new(&key.into());
        m.update_padded(b);
        black_box(m.finalize());
    });

    let ours = ChaCha20Poly1305::new(GenericArray::from_slice(&key));
    let theirs = chacha20poly1305::ChaCha20Poly1305::new(GenericArray::from_slice(&key));
    let n = GenericArray::from_slice(&nonce);
    let seal_ours = mbps(iters, |b| {
        black_box(ours.encrypt_in_place_detached(n, &aad, b).expect("seal"));
    });
    let seal_crate = mbps(iters, |b| {
        black_box(theirs.encrypt_in_place_detached(n, &aad, b).expect("seal"));
    });

    // Each open needs a fresh sealed record: time copy+open, then subtract
    // the copy's own time.
    let mut sealed = vec![0x5au8; RECORD];
    let tag = ours
        .encrypt_in_place_detached(n, &aad, &mut sealed)
        .expect("seal");
    let open_ours = mbps(iters, |b| {
        b.copy_from_slice(&sealed);
        ours.decrypt_in_place_detached(n, &aad, b, &tag)
            .expect("open");
    });
    let open_crate = mbps(iters, |b| {
        b.copy_from_slice(&sealed);
        theirs
            .decrypt_in_place_detached(n, &aad, b, &tag)
            .expect("open");
    });
    let copy = mbps(iters, |b| b.copy_from_slice(&sealed));
    let net = |total: f64| 1.0 / (1.0 / total - 1.0 / copy);

    let simd = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));
    println!("64 KiB records, MB/s (best of 9); simd128 kernels: {simd}");
    println!("  keystream  ours {ks_ours:8.0}   crate chacha20 0.9   {ks_crate:8.0}");
    println!("  poly1305   ours {poly_ours:8.0}   crate poly1305 0.8   {poly_crate:8.0}");
    println!("  seal       ours {seal_ours:8.0}   crate chacha20poly1305 {seal_crate:6.0}");
    println!(
        "  open       ours {:8.0}   crate chacha20poly1305 {:6.0}   (copy {copy:.0} subtracted)",
        net(open_ours),
        net(open_crate)
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_small_records() {
    let key = [7u8; 32];
    let nonce = GenericArray::from_slice(&[9u8; 12]);
    let aad = [1u8; 13];
    let ours = ChaCha20Poly1305::new(GenericArray::from_slice(&key));
    let theirs = chacha20poly1305::ChaCha20Poly1305::new(GenericArray::from_slice(&key));
    println!("seal of small records, MB/s (best of 9):");
    for len in [64, 256, 1024, 4096, 16384] {
        let iters = (8 << 20) / len;
        best_mbps(len, iters, |b| {
            black_box(
                ours.encrypt_in_place_detached(nonce, &aad, b)
                    .expect("seal"),
            );
        });
        let a = best_mbps(len, iters, |b| {
            black_box(
                ours.encrypt_in_place_detached(nonce, &aad, b)
                    .expect("seal"),
            );
        });
        let b = best_mbps(len, iters, |b| {
            black_box(
                theirs
                    .encrypt_in_place_detached(nonce, &aad, b)
                    .expect("seal"),
            );
        });
        println!("  {len:6} B   ours {a:8.0}   crate {b:8.0}");
    }
}
