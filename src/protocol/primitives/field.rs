//! Arithmetic in GF(2^255 - 19), just enough for libsodium's Elligator 2 map
//! (`from_uniform`): curve25519-dalek 4 keeps its field type private.
//!
//! Owns: a five-limb radix-2^51 field element with add, sub, mul, fixed
//! exponentiation and canonical encoding. Every operation runs in time
//! independent of the values (exponents are public constants). Must never
//! branch on a value or be used for anything but the map.

use zeroize::Zeroize;

const MASK: u64 = (1 << 51) - 1;

/// A field element; limbs are kept below 2^52 between operations.
#[derive(Clone, Copy, Zeroize)]
pub(crate) struct Fe([u64; 5]);

impl Fe {
    pub(crate) const ZERO: Fe = Fe([0; 5]);
    pub(crate) const ONE: Fe = Fe([1, 0, 0, 0, 0]);

    pub(crate) const fn from_u64(v: u64) -> Fe {
        Fe([v & MASK, v >> 51, 0, 0, 0])
    }

    /// Loads 255 bits (bit 255 is ignored); values >= p are accepted and
    /// reduced, as libsodium's `fe25519_frombytes` does.
    pub(crate) fn from_bytes(b: &[u8; 32]) -> Fe {
        let load = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        Fe([
            load(0) & MASK,
            (load(6) >> 3) & MASK,
            (load(12) >> 6) & MASK,
            (load(19) >> 1) & MASK,
            (load(24) >> 12) & MASK,
        ])
    }

    /// The canonical (fully reduced) little-endian encoding.
    pub(crate) fn to_bytes(self) -> [u8; 32] {
        let mut l = Self::carry(self.0);
        // l < 2^255 + small; subtract p if l >= p, without branching.
        let mut q = (l[0] + 19) >> 51;
        q = (l[1] + q) >> 51;
        q = (l[2] + q) >> 51;
        q = (l[3] + q) >> 51;
        q = (l[4] + q) >> 51;
        l[0] += 19 * q;
        l[1] += l[0] >> 51;
        l[0] &= MASK;
        l[2] += l[1] >> 51;
        l[1] &= MASK;
        l[3] += l[2] >> 51;
        l[2] &= MASK;
        l[4] += l[3] >> 51;
        l[3] &= MASK;
        l[4] &= MASK;
        let mut out = [0u8; 32];
        let (mut acc, mut bits, mut at) = (0u128, 0u32, 0usize);
        for limb in l {
            acc |= u128::from(limb) << bits;
            bits += 51;
            while bits >= 8 && at < 32 {
                out[at] = acc as u8;
                acc >>= 8;
                bits -= 8;
                at += 1;
            }
        }
        if at < 32 {
            out[at] = acc as u8;
        }
        out
    }

    fn carry(mut l: [u64; 5]) -> [u64; 5] {
        let c0 = l[0] >> 51;
        let c1 = l[1] >> 51;
        let c2 = l[2] >> 51;
        let c3 = l[3] >> 51;
        let c4 = l[4] >> 51;
        l[0] &= MASK;
        l[1] &= MASK;
        l[2] &= MASK;
        l[3] &= MASK;
        l[4] &= MASK;
        l[0] += c4 * 19;
        l[1] += c0;
        l[2] += c1;
        l[3] += c2;
        l[4] += c3;
        l
    }

    pub(crate) fn add(self, o: Fe) -> Fe {
        let mut l = self.0;
        for (a, b) in l.iter_mut().zip(o.0) {
            *a += b;
        }
        Fe(Self::carry(l))
    }

    pub(crate) fn sub(self, o: Fe) -> Fe {
        // Add 16p first so that no limb underflows.
        const P16: [u64; 5] = [
            36028797018963664,
            36028797018963952,
            36028797018963952,
            36028797018963952,
            36028797018963952,
        ];
        let mut l = [0u64; 5];
        for i in 0..5 {
            l[i] = (self.0[i] + P16[i]) - o.0[i];
        }
        Fe(Self::carry(l))
    }

    pub(crate) fn neg(self) -> Fe {
        Fe::ZERO.sub(self)
    }

    pub(crate) fn mul(self, o: Fe) -> Fe {
        let m = |x: u64, y: u64| u128::from(x) * u128::from(y);
        let [a0, a1, a2, a3, a4] = self.0;
        let [b0, b1, b2, b3, b4] = o.0;
        let (b1_19, b2_19, b3_19, b4_19) = (b1 * 19, b2 * 19, b3 * 19, b4 * 19);
        let c0 = m(a0, b0) + m(a4, b1_19) + m(a3, b2_19) + m(a2, b3_19) + m(a1, b4_19);
        let mut c1 = m(a1, b0) + m(a0, b1) + m(a4, b2_19) + m(a3, b3_19) + m(a2, b4_19);
        let mut c2 = m(a2, b0) + m(a1, b1) + m(a0, b2) + m(a4, b3_19) + m(a3, b4_19);
        let mut c3 = m(a3, b0) + m(a2, b1) + m(a1, b2) + m(a0, b3) + m(a4, b4_19);
        let mut c4 = m(a4, b0) + m(a3, b1) + m(a2, b2) + m(a1, b3) + m(a0, b4);
        c1 += c0 >> 51;
        let mut l0 = (c0 as u64) & MASK;
        c2 += c1 >> 51;
        let l1 = (c1 as u64) & MASK;
        c3 += c2 >> 51;
        let l2 = (c2 as u64) & MASK;
        c4 += c3 >> 51;
        let l3 = (c3 as u64) & MASK;
        let carry = (c4 >> 51) as u64;
        let l4 = (c4 as u64) & MASK;
        l0 += carry * 19;
        let l1 = l1 + (l0 >> 51);
        l0 &= MASK;
        Fe([l0, l1, l2, l3, l4])
    }

    pub(crate) fn square(self) -> Fe {
        self.mul(self)
    }

    /// `self^e` for a public exponent `e` (little-endian bytes).
    fn pow(self, e: &[u8; 32]) -> Fe {
        let mut r = Fe::ONE;
        for i in (0..256).rev() {
            r = r.square();
            let bit = (e[i / 8] >> (i % 8)) & 1;
            r = Fe::select(r, r.mul(self), bit);
        }
        r
    }

    /// `1/self`, and 0 for 0 (as libsodium's `fe25519_invert`).
    pub(crate) fn invert(self) -> Fe {
        let mut e = [0xff; 32];
        e[0] = 0xeb;
        e[31] = 0x7f;
        self.pow(&e)
    }

    /// Legendre symbol `self^((p-1)/2)`: 1, p-1 or 0.
    pub(crate) fn chi(self) -> Fe {
        let mut e = [0xff; 32];
        e[0] = 0xf6;
        e[31] = 0x3f;
        self.pow(&e)
    }

    /// `b` if `bit` is 1, else `a`, without branching.
    pub(crate) fn select(a: Fe, b: Fe, bit: u8) -> Fe {
        let mask = 0u64.wrapping_sub(u64::from(bit & 1));
        let mut l = a.0;
        for (x, y) in l.iter_mut().zip(b.0) {
            *x ^= (*x ^ y) & mask;
        }
        Fe(l)
    }
}

#[cfg(test)]
mod tests {
    use super::Fe;

    #[test]
    fn inverse_times_value_is_one() {
        let x = Fe::from_bytes(&[7u8; 32]);
        assert_eq!(x.mul(x.invert()).to_bytes(), Fe::ONE.to_bytes());
        assert_eq!(Fe::ZERO.invert().to_bytes(), [0; 32]);
    }

    #[test]
    fn encoding_is_canonical() {
        // p + 18 = 2^255 - 1 encodes as 18.
        let mut all = [0xffu8; 32];
        all[31] = 0x7f;
        let mut eighteen = [0u8; 32];
        eighteen[0] = 18;
        assert_eq!(Fe::from_bytes(&all).to_bytes(), eighteen);
        assert_eq!(Fe::ONE.neg().add(Fe::ONE).to_bytes(), [0; 32]);
    }

    #[test]
    fn chi_of_minus_one_is_one() {
        // p = 1 mod 4, so -1 is a square.
        assert_eq!(Fe::ONE.neg().chi().to_bytes(), Fe::ONE.to_bytes());
        assert_eq!(Fe::from_u64(2).chi().to_bytes(), Fe::ONE.neg().to_bytes());
    }
}
