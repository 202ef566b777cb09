//! Test support shared by the AEAD kernels' tests and benchmarks
//! (`chacha`, `gcm`): hex input, a replayable generator and a throughput
//! timer. Compiled for tests only.

use std::hint::black_box;
use std::time::Instant;

/// The bytes of a hex string (whitespace ignored).
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    hex::decode(s).expect("valid hex")
}

/// A fixed-size array from a hex string.
pub(crate) fn arr<const N: usize>(s: &str) -> [u8; N] {
    unhex(s).try_into().expect("right length")
}

/// A small deterministic generator (splitmix64), so failures replay.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next 64 pseudo-random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `n` pseudo-random bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// `N` pseudo-random bytes.
    pub(crate) fn array<const N: usize>(&mut self) -> [u8; N] {
        core::array::from_fn(|_| self.next() as u8)
    }
}

/// Best MB/s (10^6 B/s) over 9 runs of `iters` calls of `f` on `len`-byte
/// buffers, after a warm-up (the best run is the one least disturbed by
/// other load on the machine).
pub(crate) fn best_mbps(len: usize, iters: usize, mut f: impl FnMut(&mut [u8])) -> f64 {
    let mut buf = vec![0x5au8; len];
    for _ in 0..iters / 8 + 1 {
        f(&mut buf);
    }
    let mut runs: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f(black_box(&mut buf));
            }
            (iters * len) as f64 / t.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[8]
}
