//! Throughput of the kernels against the RustCrypto crates, in one run.
//!
//! Ignored by default; run inside wasm with the wasm-run runner and
//! `-- --ignored --nocapture gcm::bench`. Prints MB/s (10^6 B/s) over
//! 64 KiB and 1400-byte records: AES-CTR, GHASH, seal and open, ours and
//! the crates' (`aes-gcm` 0.11 and the `ctr` and `ghash` crates inside it).

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use ctr::cipher::{KeyIvInit, StreamCipher};
use ghash::universal_hash::UniversalHash;

use super::Aes256Gcm;
use super::aes::{Aes256, Ctr};
use super::ghash::{Ghash, GhashKey};
use crate::kernel_testing::best_mbps;

/// Best MB/s over 9 runs of `iters` calls of `f` on `len`-byte buffers.
fn mbps(len: usize, iters: usize, f: impl FnMut(&mut [u8])) -> f64 {
    best_mbps(len, iters, f)
}

/// Our counter mode alone over `buf` (the AEAD's loop without GHASH).
fn ctr_ours(aes: &Aes256, nonce: &[u8; 12], buf: &mut [u8]) {
    super::decrypt_rest(&Ctr::new(aes, nonce), buf);
}

/// Prints one size's figures.
fn bench_records(len: usize) {
    let iters = (20 << 20) / len;
    let key = [7u8; 32];
    let nonce = [9u8; 12];
    let aad = [1u8; 13];
    let h = [3u8; 16];

    let aes = Aes256::new(&key);
    // Warm up (clock frequency, caches) before the first figure.
    mbps(len, iters, |b| ctr_ours(&aes, &nonce, b));
    let ctr_o = mbps(len, iters, |b| ctr_ours(&aes, &nonce, b));
    let ctr_c = mbps(len, iters, |b| {
        let mut iv = [0u8; 16];
        iv[..12].copy_from_slice(&nonce);
        iv[15] = 2;
        let mut c = ctr::Ctr32BE::<aes_gcm::aes::Aes256>::new(&key.into(), &iv.into());
        c.apply_keystream(b);
    });

    let hkey = GhashKey::new(&h);
    let ghash_o = mbps(len, iters, |b| {
        let mut g = Ghash::new(&hkey);
        g.update_padded(b);
        black_box(g.finalize());
    });
    let ghash_c = mbps(len, iters, |b| {
        let mut g = ghash::GHash::new(&h.into());
        g.update_padded(b);
        black_box(g.finalize());
    });

    let ours = Aes256Gcm::new(&key.into());
    let theirs = aes_gcm::Aes256Gcm::new(&key.into());
    let n = &nonce.into();
    let seal_o = mbps(len, iters, |b| {
        black_box(
            ours.encrypt_inout_detached(n, &aad, b.into())
                .expect("seal"),
        );
    });
    let seal_c = mbps(len, iters, |b| {
        black_box(
            theirs
                .encrypt_inout_detached(n, &aad, b.into())
                .expect("seal"),
        );
    });

    // Each open needs a fresh sealed record: time copy+open, then subtract
    // the copy's own time.
    let mut sealed = vec![0x5au8; len];
    let tag = ours
        .encrypt_inout_detached(n, &aad, sealed.as_mut_slice().into())
        .expect("seal");
    let open_o = mbps(len, iters, |b| {
        b.copy_from_slice(&sealed);
        ours.decrypt_inout_detached(n, &aad, b.into(), &tag)
            .expect("open");
    });
    let open_c = mbps(len, iters, |b| {
        b.copy_from_slice(&sealed);
        theirs
            .decrypt_inout_detached(n, &aad, b.into(), &tag)
            .expect("open");
    });
    let copy = mbps(len, iters, |b| b.copy_from_slice(&sealed));
    let net = |total: f64| 1.0 / (1.0 / total - 1.0 / copy);

    let simd = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));
    println!("{len}-byte records, MB/s (best of 9); simd128 kernels: {simd}");
    println!("            ours     crate   ratio");
    let row = |what: &str, o: f64, c: f64| println!("  {what:6} {o:8.0}  {c:8.0}   {:5.2}", o / c);
    row("ctr", ctr_o, ctr_c);
    row("ghash", ghash_o, ghash_c);
    row("seal", seal_o, seal_c);
    row("open", net(open_o), net(open_c));
    println!("  (open: copy at {copy:.0} MB/s subtracted)");
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_64k_records() {
    bench_records(64 * 1024);
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_1400_byte_records() {
    bench_records(1400);
}
