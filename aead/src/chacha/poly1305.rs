//! Poly1305 (RFC 8439 section 2.5), in 26-bit limbs.
//!
//! Owns: the one-time authenticator over 16-byte blocks. Long runs of blocks
//! go through a two-lane vector kernel (even blocks in lane 0, odd blocks in
//! lane 1, each lane multiplied by r^2 per step, then by (r^2, r) at the
//! end); short runs and odd leftovers use the scalar 26-bit-limb code. Both
//! compute exactly the same polynomial.
//! Must never: branch on or index by key, data or accumulator values; keep
//! key material after drop (zeroized).

use core::ops::{Add, BitAnd, Mul, Shr};

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::simd::V128;

/// Bytes in one Poly1305 block.
pub(crate) const BLOCK: usize = 16;

const M26: u32 = 0x3ff_ffff;

/// Runs of at least this many blocks use the vector kernel.
const VECTOR_MIN_BLOCKS: usize = 4;

#[inline(always)]
fn le32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// The multiplier of `h[j]` in limb `k` of `h * r mod 2^130 - 5`: `r[k - j]`
/// where `j <= k`, else `5 * r[k + 5 - j]` (from `s`), as limb products
/// past 2^130 wrap around times 5. Both kernels sum
/// `h[j] * factor(r, s, k, j)` over `j`; with `k` and `j` constants once
/// unrolled, this picks a register, never by data.
#[inline(always)]
fn factor<T: Copy>(r: &[T; 5], s: &[T; 5], k: usize, j: usize) -> T {
    if j <= k { r[k - j] } else { s[k + 5 - j] }
}

/// `h * r mod 2^130 - 5` on 26-bit limbs (partially reduced), scalar.
#[inline(always)]
fn mul_scalar(h: [u32; 5], r: &[u32; 5]) -> [u32; 5] {
    let s: [u32; 5] = core::array::from_fn(|i| r[i] * 5);
    let d: [u64; 5] = core::array::from_fn(|k| {
        (0..5).fold(0, |d, j| {
            d + u64::from(h[j]) * u64::from(factor(r, &s, k, j))
        })
    });
    carry_scalar(d)
}

/// Moves the bits of limb `i` above 26 into limb `i + 1` (for limb 4,
/// into limb 0 times 5: past limb 4 is 2^130, which is 5 modulo the prime).
/// The scalar limbs are `u64` sums of products or `u32` limbs.
#[inline(always)]
fn carry<T>(d: &mut [T; 5], i: usize)
where
    T: Copy
        + From<u32>
        + Shr<u32, Output = T>
        + BitAnd<Output = T>
        + Add<Output = T>
        + Mul<Output = T>,
{
    let c = d[i] >> 26;
    d[i] = d[i] & T::from(M26);
    let c = if i == 4 { c * T::from(5) } else { c };
    d[(i + 1) % 5] = d[(i + 1) % 5] + c;
}

/// Carries 64-bit limb sums down to (at most slightly over) 26 bits each.
#[inline(always)]
fn carry_scalar(mut d: [u64; 5]) -> [u32; 5] {
    for i in [0, 1, 2, 3, 4, 0] {
        carry(&mut d, i);
    }
    d.map(|x| x as u32)
}

/// The five 26-bit limbs of a 16-byte block, plus `hibit` at bit 128.
#[inline(always)]
fn limbs(b: &[u8; 16], hibit: u32) -> [u32; 5] {
    [
        le32(b, 0) & M26,
        (le32(b, 3) >> 2) & M26,
        (le32(b, 6) >> 4) & M26,
        (le32(b, 9) >> 6) & M26,
        (le32(b, 12) >> 8) | hibit,
    ]
}

/// `h * r` for both lanes, in 64-bit lanes holding 26-bit limbs; `r` and
/// `s = 5 * r` are per-lane multipliers in `u32` lanes 0 and 1.
#[inline(always)]
fn mul_vector(h: &[V128; 5], r: &[V128; 5], s: &[V128; 5]) -> [V128; 5] {
    let p: [V128; 5] = core::array::from_fn(|i| h[i].pack_lo32());
    let mut d: [V128; 5] = core::array::from_fn(|k| {
        (1..5).fold(p[0].mul_lo32(r[k]), |d, j| {
            d.add64(p[j].mul_lo32(factor(r, s, k, j)))
        })
    });
    // Two interleaved carry chains (0->1->2->3 and 3->4->0->1) halve the
    // dependent steps; every limb ends at most slightly over 26 bits.
    for i in [0, 3, 1, 4, 2, 0, 3] {
        carry_vector(&mut d, i);
    }
    d
}

/// Moves the bits of limb `i` above 26 into limb `i + 1` (limb 0, times 5,
/// for limb 4), in both lanes.
#[inline(always)]
fn carry_vector(d: &mut [V128; 5], i: usize) {
    let c = d[i].shr64::<26>();
    d[i] = d[i] & V128::splat64(u64::from(M26));
    let c = if i == 4 { c.add64(c.shl64::<2>()) } else { c };
    d[(i + 1) % 5] = d[(i + 1) % 5].add64(c);
}

/// Two consecutive blocks as limbs, block 0 in lane 0 and block 1 in lane 1.
#[inline(always)]
fn limbs_pair(pair: &[u8; 32]) -> [V128; 5] {
    let (a, b) = pair.split_at(16);
    let a = V128::load(a.try_into().expect("16 bytes"));
    let b = V128::load(b.try_into().expect("16 bytes"));
    let lo = a.zip_lo64(b);
    let hi = a.zip_hi64(b);
    let m = V128::splat64(u64::from(M26));
    [
        lo & m,
        lo.shr64::<26>() & m,
        (lo.shr64::<52>() | hi.shl64::<12>()) & m,
        hi.shr64::<14>() & m,
        hi.shr64::<40>() | V128::splat64(1 << 24),
    ]
}

/// Per-lane multiplier vectors `(r, 5 * r)` with `lane0` in lane 0 and
/// `lane1` in lane 1.
#[inline(always)]
fn multiplier(lane0: &[u32; 5], lane1: &[u32; 5]) -> ([V128; 5], [V128; 5]) {
    let r = core::array::from_fn(|i| V128::from_u32(lane0[i], lane1[i], lane0[i], lane1[i]));
    let s = core::array::from_fn(|i| {
        V128::from_u32(lane0[i] * 5, lane1[i] * 5, lane0[i] * 5, lane1[i] * 5)
    });
    (r, s)
}

/// How a partial last block is padded.
enum Tail {
    /// With zeros, as a whole block (the AEAD's padded segments).
    ZeroPadded,
    /// With a 1 byte and zeros, as a shorter block (plain Poly1305).
    #[cfg(test)]
    OnePadded,
}

/// A Poly1305 computation in progress.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct Poly1305 {
    r: [u32; 5],
    r2: [u32; 5],
    pad: [u32; 4],
    h: [u32; 5],
}

impl Poly1305 {
    /// Starts a MAC under the one-time `key` (r || s).
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let r = [
            le32(key, 0) & 0x3ff_ffff,
            (le32(key, 3) >> 2) & 0x3ff_ff03,
            (le32(key, 6) >> 4) & 0x3ff_c0ff,
            (le32(key, 9) >> 6) & 0x3f0_3fff,
            (le32(key, 12) >> 8) & 0x00f_ffff,
        ];
        let r2 = mul_scalar(r, &r);
        let pad = [le32(key, 16), le32(key, 20), le32(key, 24), le32(key, 28)];
        Self {
            r,
            r2,
            pad,
            h: [0; 5],
        }
    }

    /// Absorbs one block; `hibit` is `1 << 24` for a full block and 0 for a
    /// final partial block that the caller already padded with `0x01 0...`.
    #[inline(always)]
    fn block(&mut self, b: &[u8; 16], hibit: u32) {
        let m = limbs(b, hibit);
        let h: [u32; 5] = core::array::from_fn(|i| self.h[i] + m[i]);
        self.h = mul_scalar(h, &self.r);
    }

    /// Absorbs whole 16-byte blocks (`data.len()` a multiple of 16).
    fn blocks(&mut self, data: &[u8]) {
        debug_assert_eq!(data.len() % BLOCK, 0);
        let n = data.len() / BLOCK;
        let (vectored, rest) = if n >= VECTOR_MIN_BLOCKS {
            data.split_at(n / 2 * 2 * BLOCK)
        } else {
            data.split_at(0)
        };
        if !vectored.is_empty() {
            self.blocks_vector(vectored);
        }
        for b in rest.as_chunks::<BLOCK>().0 {
            self.block(b, 1 << 24);
        }
    }

    /// The two-lane kernel over an even number (at least 2) of blocks.
    fn blocks_vector(&mut self, data: &[u8]) {
        let (r22, s22) = multiplier(&self.r2, &self.r2);
        let (r21, s21) = multiplier(&self.r2, &self.r);
        let mut pairs = data.as_chunks::<{ 2 * BLOCK }>().0.iter();
        let first = pairs.next().expect("at least one pair");
        let m = limbs_pair(first);
        let h0 = self.h;
        let mut h: [V128; 5] =
            core::array::from_fn(|i| m[i].add64(V128::from_u64(u64::from(h0[i]), 0)));
        for pair in pairs {
            let m = limbs_pair(pair);
            let p = mul_vector(&h, &r22, &s22);
            h = core::array::from_fn(|i| p[i].add64(m[i]));
        }
        let p = mul_vector(&h, &r21, &s21);
        let sum = p.map(|v| {
            let [a, b] = v.to_u64();
            a + b
        });
        self.h = carry_scalar(sum);
    }

    /// Absorbs `data` followed by zero padding to a multiple of 16 bytes
    /// (the RFC 8439 AEAD construction's padded segments).
    pub(crate) fn update_padded(&mut self, data: &[u8]) {
        self.update(data, Tail::ZeroPadded);
    }

    /// Absorbs a whole final message that may end in a partial block
    /// (plain Poly1305, padded with a 1 byte per RFC 8439).
    #[cfg(test)]
    pub(crate) fn update_final(&mut self, data: &[u8]) {
        self.update(data, Tail::OnePadded);
    }

    /// Absorbs the whole blocks of `data`, then its partial last block, if
    /// any, padded as `tail` says.
    fn update(&mut self, data: &[u8], tail: Tail) {
        let (blocks, rest) = data.as_chunks::<BLOCK>();
        self.blocks(blocks.as_flattened());
        if !rest.is_empty() {
            let mut b = [0u8; BLOCK];
            b[..rest.len()].copy_from_slice(rest);
            let hibit = match tail {
                Tail::ZeroPadded => 1 << 24,
                #[cfg(test)]
                Tail::OnePadded => {
                    b[rest.len()] = 1;
                    0
                }
            };
            self.block(&b, hibit);
            b.zeroize();
        }
    }

    /// The 16-byte tag.
    pub(crate) fn finalize(mut self) -> [u8; 16] {
        // Full carry.
        let mut h = self.h;
        for i in [1, 2, 3, 4, 0] {
            carry(&mut h, i);
        }
        // g = h + 5 - 2^130; take g when it does not borrow.
        let mut c = 5;
        let g: [u32; 5] = core::array::from_fn(|i| {
            let t = h[i].wrapping_add(c);
            if i == 4 {
                t.wrapping_sub(1 << 26)
            } else {
                c = t >> 26;
                t & M26
            }
        });
        let take_g = (g[4] >> 31).wrapping_sub(1);
        let h: [u32; 5] = core::array::from_fn(|i| (h[i] & !take_g) | (g[i] & take_g));
        // h mod 2^128, plus s.
        let w = [
            h[0] | (h[1] << 26),
            (h[1] >> 6) | (h[2] << 20),
            (h[2] >> 12) | (h[3] << 14),
            (h[3] >> 18) | (h[4] << 8),
        ];
        let mut out = [0u8; 16];
        let mut f = 0u64;
        for i in 0..4 {
            f = u64::from(w[i]) + u64::from(self.pad[i]) + (f >> 32);
            out[4 * i..4 * i + 4].copy_from_slice(&(f as u32).to_le_bytes());
        }
        self.h.zeroize();
        out
    }
}
