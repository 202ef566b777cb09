//! Poly1305 (RFC 8439 section 2.5), in 26-bit limbs.
//!
//! Owns: the one-time authenticator over 16-byte blocks. Long runs of blocks
//! go through a two-lane vector kernel (even blocks in lane 0, odd blocks in
//! lane 1, each lane multiplied by r^2 per step, then by (r^2, r) at the
//! end); short runs and odd leftovers use the scalar 26-bit-limb code. Both
//! compute exactly the same polynomial.
//! Must never: branch on or index by key, data or accumulator values; keep
//! key material after drop (zeroized).

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

/// `h * r mod 2^130 - 5` on 26-bit limbs (partially reduced), scalar.
#[inline(always)]
fn mul_scalar(h: [u32; 5], r: &[u32; 5]) -> [u32; 5] {
    let m = |a: u32, b: u32| u64::from(a) * u64::from(b);
    let s: [u32; 5] = core::array::from_fn(|i| r[i] * 5);
    let d0 = m(h[0], r[0]) + m(h[1], s[4]) + m(h[2], s[3]) + m(h[3], s[2]) + m(h[4], s[1]);
    let d1 = m(h[0], r[1]) + m(h[1], r[0]) + m(h[2], s[4]) + m(h[3], s[3]) + m(h[4], s[2]);
    let d2 = m(h[0], r[2]) + m(h[1], r[1]) + m(h[2], r[0]) + m(h[3], s[4]) + m(h[4], s[3]);
    let d3 = m(h[0], r[3]) + m(h[1], r[2]) + m(h[2], r[1]) + m(h[3], r[0]) + m(h[4], s[4]);
    let d4 = m(h[0], r[4]) + m(h[1], r[3]) + m(h[2], r[2]) + m(h[3], r[1]) + m(h[4], r[0]);
    carry_scalar([d0, d1, d2, d3, d4])
}

/// Carries 64-bit limb sums down to (at most slightly over) 26 bits each.
#[inline(always)]
fn carry_scalar(d: [u64; 5]) -> [u32; 5] {
    let m = u64::from(M26);
    let [mut d0, mut d1, mut d2, mut d3, mut d4] = d;
    d1 += d0 >> 26;
    d0 &= m;
    d2 += d1 >> 26;
    d1 &= m;
    d3 += d2 >> 26;
    d2 &= m;
    d4 += d3 >> 26;
    d3 &= m;
    d0 += (d4 >> 26) * 5;
    d4 &= m;
    d1 += d0 >> 26;
    d0 &= m;
    [d0 as u32, d1 as u32, d2 as u32, d3 as u32, d4 as u32]
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
    let d0 = p[0]
        .mul_lo32(r[0])
        .add64(p[1].mul_lo32(s[4]))
        .add64(p[2].mul_lo32(s[3]))
        .add64(p[3].mul_lo32(s[2]))
        .add64(p[4].mul_lo32(s[1]));
    let d1 = p[0]
        .mul_lo32(r[1])
        .add64(p[1].mul_lo32(r[0]))
        .add64(p[2].mul_lo32(s[4]))
        .add64(p[3].mul_lo32(s[3]))
        .add64(p[4].mul_lo32(s[2]));
    let d2 = p[0]
        .mul_lo32(r[2])
        .add64(p[1].mul_lo32(r[1]))
        .add64(p[2].mul_lo32(r[0]))
        .add64(p[3].mul_lo32(s[4]))
        .add64(p[4].mul_lo32(s[3]));
    let d3 = p[0]
        .mul_lo32(r[3])
        .add64(p[1].mul_lo32(r[2]))
        .add64(p[2].mul_lo32(r[1]))
        .add64(p[3].mul_lo32(r[0]))
        .add64(p[4].mul_lo32(s[4]));
    let d4 = p[0]
        .mul_lo32(r[4])
        .add64(p[1].mul_lo32(r[3]))
        .add64(p[2].mul_lo32(r[2]))
        .add64(p[3].mul_lo32(r[1]))
        .add64(p[4].mul_lo32(r[0]));
    // Two interleaved carry chains (0->1->2->3 and 3->4->0->1) halve the
    // dependent steps; every limb ends at most slightly over 26 bits.
    let m = V128::splat64(u64::from(M26));
    let (mut d0, mut d1, mut d2, mut d3, mut d4) = (d0, d1, d2, d3, d4);
    let c0 = d0.shr64::<26>();
    let c3 = d3.shr64::<26>();
    d0 = d0 & m;
    d3 = d3 & m;
    d1 = d1.add64(c0);
    d4 = d4.add64(c3);
    let c1 = d1.shr64::<26>();
    let c4 = d4.shr64::<26>();
    d1 = d1 & m;
    d4 = d4 & m;
    d2 = d2.add64(c1);
    d0 = d0.add64(c4.add64(c4.shl64::<2>()));
    let c2 = d2.shr64::<26>();
    let c0 = d0.shr64::<26>();
    d2 = d2 & m;
    d0 = d0 & m;
    d3 = d3.add64(c2);
    d1 = d1.add64(c0);
    let c3 = d3.shr64::<26>();
    d3 = d3 & m;
    d4 = d4.add64(c3);
    [d0, d1, d2, d3, d4]
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
        let whole = data.len() / BLOCK * BLOCK;
        let (full, tail) = data.split_at(whole);
        self.blocks(full);
        if !tail.is_empty() {
            let mut b = [0u8; BLOCK];
            b[..tail.len()].copy_from_slice(tail);
            self.block(&b, 1 << 24);
            b.zeroize();
        }
    }

    /// Absorbs a whole final message that may end in a partial block
    /// (plain Poly1305, padded with a 1 byte per RFC 8439).
    #[cfg(test)]
    pub(crate) fn update_final(&mut self, data: &[u8]) {
        let whole = data.len() / BLOCK * BLOCK;
        let (full, tail) = data.split_at(whole);
        self.blocks(full);
        if !tail.is_empty() {
            let mut b = [0u8; BLOCK];
            b[..tail.len()].copy_from_slice(tail);
            b[tail.len()] = 1;
            self.block(&b, 0);
        }
    }

    /// The 16-byte tag.
    pub(crate) fn finalize(mut self) -> [u8; 16] {
        let [mut h0, mut h1, mut h2, mut h3, mut h4] = self.h;
        // Full carry.
        let mut c = h1 >> 26;
        h1 &= M26;
        h2 += c;
        c = h2 >> 26;
        h2 &= M26;
        h3 += c;
        c = h3 >> 26;
        h3 &= M26;
        h4 += c;
        c = h4 >> 26;
        h4 &= M26;
        h0 += c * 5;
        c = h0 >> 26;
        h0 &= M26;
        h1 += c;
        // g = h + 5 - 2^130; take g when it does not borrow.
        let mut g0 = h0.wrapping_add(5);
        c = g0 >> 26;
        g0 &= M26;
        let mut g1 = h1.wrapping_add(c);
        c = g1 >> 26;
        g1 &= M26;
        let mut g2 = h2.wrapping_add(c);
        c = g2 >> 26;
        g2 &= M26;
        let mut g3 = h3.wrapping_add(c);
        c = g3 >> 26;
        g3 &= M26;
        let g4 = h4.wrapping_add(c).wrapping_sub(1 << 26);
        let take_g = (g4 >> 31).wrapping_sub(1);
        let keep_h = !take_g;
        h0 = (h0 & keep_h) | (g0 & take_g);
        h1 = (h1 & keep_h) | (g1 & take_g);
        h2 = (h2 & keep_h) | (g2 & take_g);
        h3 = (h3 & keep_h) | (g3 & take_g);
        h4 = (h4 & keep_h) | (g4 & take_g);
        // h mod 2^128, plus s.
        let w = [
            h0 | (h1 << 26),
            (h1 >> 6) | (h2 << 20),
            (h2 >> 12) | (h3 << 14),
            (h3 >> 18) | (h4 << 8),
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
