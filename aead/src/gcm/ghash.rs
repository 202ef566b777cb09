//! GHASH (NIST SP 800-38D section 6.4), computed as POLYVAL (RFC 8452),
//! eight blocks per reduction.
//!
//! Owns: the hash key (H^1..H^8, premasked) and the running hash. GHASH is
//! POLYVAL on byte-reversed blocks under `mulX(reverse(H))` (RFC 8452
//! appendix A), whose little-endian bit order suits integer arithmetic.
//!
//! Products are carry-less, made of integer multiplications "with holes"
//! (BearSSL's `bmul64`): with both operands masked to every fourth bit, an
//! integer product adds at most 16 ones per kept bit position, so no carry
//! reaches the next kept bit below bit 64, and 16 products (4 masks by 4)
//! give the low 64 bits of a 64x64 carry-less product. The high 64 bits are
//! the low bits of the product of the bit-reversed operands, reversed. A
//! 128-bit product is three such 64-bit products (Karatsuba), and each
//! vector computes two (lane-wise `i64x2.mul`): `[x0, rev x0]`,
//! `[x1, rev x1]` and `[x0 ^ x1, rev(x0 ^ x1)]` against the same for a
//! power of H. A run of up to eight blocks is folded as
//! `(y ^ X1)·H^n ^ X2·H^(n-1) ^ .. ^ Xn·H`: the products are summed
//! unreduced, masked, recombined and reduced once.
//! Must never: branch on or index by H or data (no tables, multiplications
//! only), or keep H after drop (zeroized).

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::simd::{V128, permute};

/// Bytes in one GHASH block.
pub(crate) const BLOCK: usize = 16;

/// Powers of H kept, so blocks per reduction.
pub(crate) const POWERS: usize = 8;

/// Every fourth bit, from bit 0, 1, 2 and 3.
const HOLES: [u64; 4] = [
    0x1111_1111_1111_1111,
    0x2222_2222_2222_2222,
    0x4444_4444_4444_4444,
    0x8888_8888_8888_8888,
];

/// Reverses the 16 bytes (GHASH's byte order to POLYVAL's and back).
const REVERSE: [usize; 16] = [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0];

/// The low 64 bits of the carry-less product `x·y`.
#[inline(always)]
fn bmul64(x: u64, y: u64) -> u64 {
    let x: [u64; 4] = HOLES.map(|m| x & m);
    let y: [u64; 4] = HOLES.map(|m| y & m);
    let mut z = 0;
    for (s, m) in HOLES.into_iter().enumerate() {
        let mut sum = 0;
        for (i, xi) in x.iter().enumerate() {
            sum ^= xi.wrapping_mul(y[(4 + s - i) % 4]);
        }
        z |= sum & m;
    }
    z
}

/// The 256-bit carry-less product `a·b` (`u64` limbs, least significant
/// first), three 64-bit products by Karatsuba.
fn clmul(a: [u64; 2], b: [u64; 2]) -> [u64; 4] {
    let lo = bmul64(a[0], b[0]);
    let lo_h = bmul64(a[0].reverse_bits(), b[0].reverse_bits());
    let hi = bmul64(a[1], b[1]);
    let hi_h = bmul64(a[1].reverse_bits(), b[1].reverse_bits());
    let (am, bm) = (a[0] ^ a[1], b[0] ^ b[1]);
    let mid = bmul64(am, bm);
    let mid_h = bmul64(am.reverse_bits(), bm.reverse_bits());
    recombine([lo, lo_h], [hi, hi_h], [mid, mid_h])
}

/// The 256-bit product from its three Karatsuba parts, each given as the
/// low 64 bits of the product and of the product of the bit-reversed
/// operands.
#[inline(always)]
fn recombine(lo: [u64; 2], hi: [u64; 2], mid: [u64; 2]) -> [u64; 4] {
    // rev(a)·rev(b) = rev(a·b) over 127 bits: its low 64 bits, reversed,
    // are bits 63..127 of a·b.
    let high = |r: u64| r.reverse_bits() >> 1;
    let (l0, l1) = (lo[0], high(lo[1]));
    let (h0, h1) = (hi[0], high(hi[1]));
    let (m0, m1) = (mid[0] ^ l0 ^ h0, high(mid[1]) ^ l1 ^ h1);
    [l0, l1 ^ m0, h0 ^ m1, h1]
}

/// `v·x^-128 mod p` for POLYVAL's `p = x^128 + x^127 + x^126 + x^121 + 1`
/// (Montgomery reduction): adds the multiple of `p` that clears the low
/// 128 bits, 64 bits at a time (`p` is 1 modulo `x^64`), then drops them.
#[inline(always)]
fn reduce(v: [u64; 4]) -> [u64; 2] {
    let [v0, mut v1, mut v2, mut v3] = v;
    v1 ^= (v0 << 63) ^ (v0 << 62) ^ (v0 << 57);
    v2 ^= v0 ^ (v0 >> 1) ^ (v0 >> 2) ^ (v0 >> 7);
    v2 ^= (v1 << 63) ^ (v1 << 62) ^ (v1 << 57);
    v3 ^= v1 ^ (v1 >> 1) ^ (v1 >> 2) ^ (v1 >> 7);
    [v2, v3]
}

/// POLYVAL's product `a·b·x^-128`.
fn dot(a: [u64; 2], b: [u64; 2]) -> [u64; 2] {
    reduce(clmul(a, b))
}

/// A 16-byte block as `u64` lanes (little-endian).
#[cfg(test)]
fn lanes(bytes: &[u8; 16]) -> [u64; 2] {
    V128::load(bytes).to_u64()
}

/// `[a, b]` as 16 bytes.
fn bytes(a: u64, b: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    V128::from_u64(a, b).store(&mut out);
    out
}

/// The GHASH key: H^1..H^8 as POLYVAL multipliers, each in the three
/// Karatsuba operand vectors, each masked four ways. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct GhashKey {
    /// `powers[k - 1][part][s]` holds part `part` of `H^k` (`[h0, rev h0]`,
    /// `[h1, rev h1]`, `[h0 ^ h1, rev(h0 ^ h1)]`) masked with `HOLES[s]`.
    powers: [[[[u8; 16]; 4]; 3]; POWERS],
}

impl GhashKey {
    /// The key for GHASH key `h` (the encryption of the zero block).
    pub(crate) fn new(h: &[u8; 16]) -> Self {
        // mulX_POLYVAL(ByteReverse(H)).
        let mut h = u128::from_be_bytes(*h);
        let carry = h >> 127;
        h = (h << 1) ^ (carry.wrapping_neg() & ((0b11 << 126) | (1 << 121) | 1));
        let mut h1 = [h as u64, (h >> 64) as u64];
        let mut key = Self {
            powers: [[[[0; 16]; 4]; 3]; POWERS],
        };
        let mut power = h1;
        for slot in key.powers.iter_mut() {
            let [p0, p1] = power;
            let pm = p0 ^ p1;
            let parts = [
                [p0, p0.reverse_bits()],
                [p1, p1.reverse_bits()],
                [pm, pm.reverse_bits()],
            ];
            for (out, part) in slot.iter_mut().zip(parts) {
                for (masked, m) in out.iter_mut().zip(HOLES) {
                    *masked = bytes(part[0] & m, part[1] & m);
                }
            }
            power = dot(power, h1);
        }
        h.zeroize();
        h1.zeroize();
        power.zeroize();
        key
    }
}

/// Multiplies `x` (a block in GHASH's byte order) by a power of H (its
/// operands `h`), adding the unreduced, unmasked products into `acc`.
#[inline(always)]
fn multiply_add(acc: &mut [[V128; 4]; 3], x: V128, h: &[[[u8; 16]; 4]; 3]) {
    // As a POLYVAL element [x0, x1], and bit-reversed: [rev x1, rev x0].
    let straight = permute!(x, REVERSE);
    let reversed = x.bitrev8();
    let lo = straight.blend64(reversed);
    let hi = straight.cross64(reversed);
    for (part, x) in [lo, hi, lo ^ hi].into_iter().enumerate() {
        for (a, m) in HOLES.into_iter().enumerate() {
            let xa = x & V128::splat64(m);
            for (b, hb) in h[part].iter().enumerate() {
                let s = (a + b) % 4;
                acc[part][s] = acc[part][s] ^ xa.mul64(V128::load(hb));
            }
        }
    }
}

/// The reduced sum of the products in `acc`, in GHASH's byte order.
#[inline(always)]
fn reduce_sums(acc: [[V128; 4]; 3]) -> V128 {
    let [lo, hi, mid] = acc.map(|sums| {
        let mut z = V128::splat64(0);
        for (sum, m) in sums.into_iter().zip(HOLES) {
            z = z | (sum & V128::splat64(m));
        }
        z.to_u64()
    });
    let [y0, y1] = reduce(recombine(lo, hi, mid));
    permute!(V128::from_u64(y0, y1), REVERSE)
}

/// A GHASH computation in progress (the running value in GHASH's byte
/// order, zeroized on drop).
pub(crate) struct Ghash<'a> {
    key: &'a GhashKey,
    y: [u8; 16],
}

impl Drop for Ghash<'_> {
    fn drop(&mut self) {
        self.y.zeroize();
    }
}

impl<'a> Ghash<'a> {
    /// Starts a hash under `key`.
    pub(crate) fn new(key: &'a GhashKey) -> Self {
        Self { key, y: [0; 16] }
    }

    /// Absorbs 1..=8 blocks with one reduction.
    #[inline(always)]
    fn fold(&mut self, blocks: &[[u8; BLOCK]]) {
        let n = blocks.len();
        debug_assert!((1..=POWERS).contains(&n));
        let mut acc = [[V128::splat64(0); 4]; 3];
        for (i, block) in blocks.iter().enumerate() {
            let mut x = V128::load(block);
            if i == 0 {
                x = x ^ V128::load(&self.y);
            }
            multiply_add(&mut acc, x, &self.key.powers[n - 1 - i]);
        }
        reduce_sums(acc).store(&mut self.y);
    }

    /// Absorbs `data` followed by zero padding to a multiple of 16 bytes
    /// (GCM's padded segments).
    pub(crate) fn update_padded(&mut self, data: &[u8]) {
        let (runs, rest) = data.as_chunks::<{ POWERS * BLOCK }>();
        for run in runs {
            let (blocks, _) = run.as_chunks::<BLOCK>();
            self.fold(blocks);
        }
        if !rest.is_empty() {
            let (blocks, tail) = rest.as_chunks::<BLOCK>();
            if tail.is_empty() {
                self.fold(blocks);
            } else {
                let mut padded = [[0u8; BLOCK]; POWERS];
                let n = blocks.len();
                padded[..n].copy_from_slice(blocks);
                padded[n][..tail.len()].copy_from_slice(tail);
                self.fold(&padded[..=n]);
                padded.zeroize();
            }
        }
    }

    /// The hash (GHASH's byte order).
    pub(crate) fn finalize(self) -> [u8; 16] {
        self.y
    }
}

/// The POLYVAL product of two blocks, by the scalar reference code, for
/// tests of the vector kernel.
#[cfg(test)]
pub(crate) fn dot_bytes(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    let [lo, hi] = dot(lanes(a), lanes(b));
    bytes(lo, hi)
}
