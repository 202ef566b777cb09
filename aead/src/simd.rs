//! The 128-bit vector type both AEAD kernels (ChaCha20, Poly1305, AES,
//! GHASH) are written in, and the crate's only `unsafe` code.
//!
//! Owns: [`V128`], with exactly the lane operations the kernels use, and
//! its two back ends. On `wasm32` + `simd128` each operation is one or a few
//! `core::arch::wasm32` simd128 instructions; everywhere else it is plain
//! integer code on a `u128`, so the same kernels run (and are tested)
//! natively. Each operation states its result once, as lanes (bytes,
//! `u32x4` or `u64x2`, little-endian as in wasm: byte `i` of memory is byte
//! lane `i`, and lane 0 of a wider view is the lowest bytes), and its two
//! bodies sit side by side so that they can be checked against each other;
//! `simd::tests` checks them against scalar references on both back ends.
//! Bitwise operators (`^ & |`) work on whole vectors.
//! Must never: branch on or index by lane contents (every operation is
//! data-independent; shifts and byte permutations take constants), offer an
//! operation only one back end implements, or let the back ends disagree on
//! any input (constant arguments out of range are compile-time errors on
//! both, not wrapped on one and a panic on the other).
//!
//! Safety: the only `unsafe` is the simd128 back end of [`V128::load`] and
//! [`V128::store`] (`v128_load` and `v128_store` take raw pointers). Each
//! reads or writes exactly 16 bytes through a pointer made from a
//! `&[u8; 16]` or `&mut [u8; 16]`, so the access is in bounds and the
//! borrow makes it valid for that long (and exclusive for the store). The
//! intrinsics have no alignment requirement: `core::arch::wasm32` documents
//! that they emit 1-aligned accesses, and wasm's `v128.load`/`v128.store`
//! take their alignment only as a hint, so the byte arrays' alignment of 1
//! is fine. Every other simd128 intrinsic used is a safe function
//! (the target feature is enabled at compile time). The crate root denies
//! `unsafe_code` and allows it for this module only, and only when the
//! simd128 back end is compiled.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use core::arch::wasm32::*;

/// The simd128 body of an operation on `wasm32` + `simd128`, the portable
/// body elsewhere (exactly one of the two is compiled).
macro_rules! backend {
    (simd128: $simd:expr, portable: $portable:expr $(,)?) => {{
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        {
            $simd
        }
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        {
            $portable
        }
    }};
}

/// A 128-bit vector, viewed as 16 bytes, `u32x4` or `u64x2` by each
/// operation.
#[derive(Clone, Copy)]
pub(crate) struct V128(Repr);

/// The simd128 register.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
type Repr = v128;

/// The 16 bytes as a little-endian integer.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
type Repr = u128;

/// Lane views of the portable back end.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
impl V128 {
    #[inline(always)]
    fn bytes(self) -> [u8; 16] {
        self.0.to_le_bytes()
    }

    #[inline(always)]
    fn u32s(self) -> [u32; 4] {
        core::array::from_fn(|i| (self.0 >> (32 * i)) as u32)
    }

    #[inline(always)]
    fn from_u32s(w: [u32; 4]) -> Self {
        Self(
            w.iter()
                .rev()
                .fold(0, |acc, &x| (acc << 32) | u128::from(x)),
        )
    }

    #[inline(always)]
    fn map32(self, o: Self, f: impl Fn(u32, u32) -> u32) -> Self {
        let (a, b) = (self.u32s(), o.u32s());
        Self::from_u32s(core::array::from_fn(|i| f(a[i], b[i])))
    }

    #[inline(always)]
    fn map64(self, o: Self, f: impl Fn(u64, u64) -> u64) -> Self {
        let (a, b) = (self.to_u64(), o.to_u64());
        Self::from_u64(f(a[0], b[0]), f(a[1], b[1]))
    }
}

impl V128 {
    /// Loads 16 bytes (byte `i` is byte lane `i`).
    #[inline(always)]
    pub(crate) fn load(bytes: &[u8; 16]) -> Self {
        backend! {
            simd128: {
                // SAFETY: reads the 16 bytes `bytes` borrows; `v128_load`
                // has no alignment requirement (see the module's safety
                // argument).
                let v = unsafe { v128_load(bytes.as_ptr().cast::<v128>()) };
                Self(v)
            },
            portable: Self(u128::from_le_bytes(*bytes)),
        }
    }

    /// Stores 16 bytes (byte lane `i` to byte `i`).
    #[inline(always)]
    pub(crate) fn store(self, bytes: &mut [u8; 16]) {
        backend! {
            simd128: {
                // SAFETY: writes the 16 bytes `bytes` borrows exclusively;
                // `v128_store` has no alignment requirement (see the
                // module's safety argument).
                unsafe { v128_store(bytes.as_mut_ptr().cast::<v128>(), self.0) }
            },
            portable: *bytes = self.0.to_le_bytes(),
        }
    }

    /// `x` in every byte.
    #[inline(always)]
    pub(crate) fn splat8(x: u8) -> Self {
        backend! {
            simd128: Self(u8x16_splat(x)),
            portable: Self(u128::from_le_bytes([x; 16])),
        }
    }

    /// `[x, x, x, x]` as `u32x4`.
    #[inline(always)]
    pub(crate) fn splat32(x: u32) -> Self {
        backend! {
            simd128: Self(u32x4_splat(x)),
            portable: Self::from_u32s([x; 4]),
        }
    }

    /// `[a, b, c, d]` as `u32x4`.
    #[inline(always)]
    pub(crate) fn from_u32(a: u32, b: u32, c: u32, d: u32) -> Self {
        backend! {
            simd128: Self(u32x4(a, b, c, d)),
            portable: Self::from_u32s([a, b, c, d]),
        }
    }

    /// `[x, x]` as `u64x2`.
    #[inline(always)]
    pub(crate) fn splat64(x: u64) -> Self {
        backend! {
            simd128: Self(u64x2_splat(x)),
            portable: Self::from_u64(x, x),
        }
    }

    /// `[a, b]` as `u64x2`.
    #[inline(always)]
    pub(crate) fn from_u64(a: u64, b: u64) -> Self {
        backend! {
            simd128: Self(u64x2(a, b)),
            portable: Self(u128::from(a) | (u128::from(b) << 64)),
        }
    }

    /// The two `u64` lanes.
    #[inline(always)]
    pub(crate) fn to_u64(self) -> [u64; 2] {
        backend! {
            simd128: [
                u64x2_extract_lane::<0>(self.0),
                u64x2_extract_lane::<1>(self.0),
            ],
            portable: [self.0 as u64, (self.0 >> 64) as u64],
        }
    }

    /// Lane-wise wrapping `u32` addition.
    #[inline(always)]
    pub(crate) fn add32(self, o: Self) -> Self {
        backend! {
            simd128: Self(i32x4_add(self.0, o.0)),
            portable: self.map32(o, u32::wrapping_add),
        }
    }

    /// Lane-wise wrapping `u64` addition.
    #[inline(always)]
    pub(crate) fn add64(self, o: Self) -> Self {
        backend! {
            simd128: Self(i64x2_add(self.0, o.0)),
            portable: self.map64(o, u64::wrapping_add),
        }
    }

    /// Lane-wise wrapping `u64` product (the low 64 bits).
    #[inline(always)]
    pub(crate) fn mul64(self, o: Self) -> Self {
        backend! {
            simd128: Self(i64x2_mul(self.0, o.0)),
            portable: self.map64(o, u64::wrapping_mul),
        }
    }

    /// `u32` lanes 0 and 1 of each operand multiplied into two `u64`
    /// lanes: `[a0 * b0, a1 * b1]`.
    #[inline(always)]
    pub(crate) fn mul_lo32(self, b: Self) -> Self {
        backend! {
            simd128: Self(u64x2_extmul_low_u32x4(self.0, b.0)),
            portable: {
                let (a, b) = (self.u32s(), b.u32s());
                Self::from_u64(
                    u64::from(a[0]) * u64::from(b[0]),
                    u64::from(a[1]) * u64::from(b[1]),
                )
            },
        }
    }

    /// `0xff` in each byte equal to the same byte of `o`, else `0`.
    #[inline(always)]
    pub(crate) fn eq8(self, o: Self) -> Self {
        backend! {
            simd128: Self(i8x16_eq(self.0, o.0)),
            portable: {
                // 0 - (1 if equal): no comparison branch on the data.
                let (a, b) = (self.bytes(), o.bytes());
                Self(u128::from_le_bytes(core::array::from_fn(|i| {
                    let d = u16::from(a[i] ^ b[i]);
                    (d.wrapping_sub(1) >> 8) as u8
                })))
            },
        }
    }

    /// `u32` lanes rotated left by `N` (1..32).
    ///
    /// On simd128, two shifts and an or. (Byte shuffles for 8 and 16
    /// measured slower under wasmtime: LLVM drops the repeated operand, so
    /// cranelift emits a two-input shuffle.)
    #[inline(always)]
    pub(crate) fn rotl32<const N: u32>(self) -> Self {
        const { assert!(0 < N && N < 32) };
        backend! {
            simd128: Self(v128_or(u32x4_shl(self.0, N), u32x4_shr(self.0, 32 - N))),
            portable: Self::from_u32s(self.u32s().map(|w| w.rotate_left(N))),
        }
    }

    /// `u64` lanes shifted left by `N` (below 64).
    #[inline(always)]
    pub(crate) fn shl64<const N: u32>(self) -> Self {
        const { assert!(N < 64) };
        backend! {
            simd128: Self(i64x2_shl(self.0, N)),
            portable: {
                let a = self.to_u64();
                Self::from_u64(a[0] << N, a[1] << N)
            },
        }
    }

    /// `u64` lanes shifted right (logically) by `N` (below 64).
    #[inline(always)]
    pub(crate) fn shr64<const N: u32>(self) -> Self {
        const { assert!(N < 64) };
        backend! {
            simd128: Self(u64x2_shr(self.0, N)),
            portable: {
                let a = self.to_u64();
                Self::from_u64(a[0] >> N, a[1] >> N)
            },
        }
    }

    /// `u32` lanes `[c[A], c[B], c[C], c[D]]` of the concatenation
    /// `c = [a0, a1, a2, a3, b0, b1, b2, b3]` of `self` and `b` (each index
    /// below 8).
    #[inline(always)]
    fn shuffle32<const A: usize, const B: usize, const C: usize, const D: usize>(
        self,
        b: Self,
    ) -> Self {
        const { assert!(A < 8 && B < 8 && C < 8 && D < 8) };
        backend! {
            simd128: Self(i32x4_shuffle::<A, B, C, D>(self.0, b.0)),
            portable: {
                let (a, b) = (self.u32s(), b.u32s());
                let c = |i: usize| if i < 4 { a[i] } else { b[i - 4] };
                Self::from_u32s([c(A), c(B), c(C), c(D)])
            },
        }
    }

    /// `u64` lanes `[c[A], c[B]]` of the concatenation `c = [a0, a1, b0,
    /// b1]` of `self` and `b` (each index below 4).
    #[inline(always)]
    fn shuffle64<const A: usize, const B: usize>(self, b: Self) -> Self {
        const { assert!(A < 4 && B < 4) };
        backend! {
            simd128: Self(i64x2_shuffle::<A, B>(self.0, b.0)),
            portable: {
                let (a, b) = (self.to_u64(), b.to_u64());
                let c = |i: usize| if i < 2 { a[i] } else { b[i - 2] };
                Self::from_u64(c(A), c(B))
            },
        }
    }

    /// `[a0, b0, a1, b1]` (`u32` lanes of `self` and `b`).
    #[inline(always)]
    pub(crate) fn zip_lo32(self, b: Self) -> Self {
        self.shuffle32::<0, 4, 1, 5>(b)
    }

    /// `[a2, b2, a3, b3]` (`u32` lanes of `self` and `b`).
    #[inline(always)]
    pub(crate) fn zip_hi32(self, b: Self) -> Self {
        self.shuffle32::<2, 6, 3, 7>(b)
    }

    /// The low `u32` halves of both `u64` lanes, packed into `u32` lanes
    /// 0 and 1 (and repeated in 2 and 3): `[a0, a2, a0, a2]`.
    #[inline(always)]
    pub(crate) fn pack_lo32(self) -> Self {
        self.shuffle32::<0, 2, 0, 2>(self)
    }

    /// `[a0, b0]` (`u64` lanes of `self` and `b`).
    #[inline(always)]
    pub(crate) fn zip_lo64(self, b: Self) -> Self {
        self.shuffle64::<0, 2>(b)
    }

    /// `[a1, b1]` (`u64` lanes of `self` and `b`).
    #[inline(always)]
    pub(crate) fn zip_hi64(self, b: Self) -> Self {
        self.shuffle64::<1, 3>(b)
    }

    /// `[a0, b1]` (`u64` lanes of `self` and `b`).
    #[inline(always)]
    pub(crate) fn blend64(self, b: Self) -> Self {
        self.shuffle64::<0, 3>(b)
    }

    /// `[a1, b0]` (`u64` lanes of `self` and `b`).
    #[inline(always)]
    pub(crate) fn cross64(self, b: Self) -> Self {
        self.shuffle64::<1, 2>(b)
    }

    /// Bytes `I0..I15` of `self`: byte `k` of the result is byte `Ik`
    /// (each below 16) of `self`. Written through [`permute!`] with an
    /// index table.
    #[allow(clippy::too_many_arguments)]
    #[rustfmt::skip]
    #[inline(always)]
    pub(crate) fn permute<
        const I0: usize, const I1: usize, const I2: usize, const I3: usize,
        const I4: usize, const I5: usize, const I6: usize, const I7: usize,
        const I8: usize, const I9: usize, const I10: usize, const I11: usize,
        const I12: usize, const I13: usize, const I14: usize, const I15: usize,
    >(self) -> Self {
        const {
            let idx = [I0, I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13, I14, I15];
            let mut k = 0;
            while k < 16 {
                assert!(idx[k] < 16, "byte indices are below 16");
                k += 1;
            }
        };
        backend! {
            simd128: Self(i8x16_shuffle::<
                I0, I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13, I14, I15,
            >(self.0, self.0)),
            portable: {
                let b = self.bytes();
                let idx = [I0, I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13, I14, I15];
                Self(u128::from_le_bytes(idx.map(|i| b[i])))
            },
        }
    }

    /// The bits of every byte in reverse order.
    ///
    /// On simd128, two 16-entry table lookups of the nibbles
    /// (`u8x16_swizzle`, a register shuffle, not a memory access).
    #[inline(always)]
    pub(crate) fn bitrev8(self) -> Self {
        backend! {
            simd128: {
                // rev(n) << 4 and rev(n) for every nibble n.
                let hi_of_lo = u8x16(
                    0x00, 0x80, 0x40, 0xc0, 0x20, 0xa0, 0x60, 0xe0, 0x10, 0x90, 0x50, 0xd0,
                    0x30, 0xb0, 0x70, 0xf0,
                );
                let lo_of_hi = u8x16(
                    0x0, 0x8, 0x4, 0xc, 0x2, 0xa, 0x6, 0xe, 0x1, 0x9, 0x5, 0xd, 0x3, 0xb, 0x7,
                    0xf,
                );
                let m = u8x16_splat(0x0f);
                let lo = v128_and(self.0, m);
                let hi = v128_and(u16x8_shr(self.0, 4), m);
                Self(v128_or(
                    u8x16_swizzle(hi_of_lo, lo),
                    u8x16_swizzle(lo_of_hi, hi),
                ))
            },
            portable: Self(u128::from_le_bytes(self.bytes().map(u8::reverse_bits))),
        }
    }
}

impl core::ops::BitXor for V128 {
    type Output = Self;
    #[inline(always)]
    fn bitxor(self, o: Self) -> Self {
        backend! {
            simd128: Self(v128_xor(self.0, o.0)),
            portable: Self(self.0 ^ o.0),
        }
    }
}

impl core::ops::BitAnd for V128 {
    type Output = Self;
    #[inline(always)]
    fn bitand(self, o: Self) -> Self {
        backend! {
            simd128: Self(v128_and(self.0, o.0)),
            portable: Self(self.0 & o.0),
        }
    }
}

impl core::ops::BitOr for V128 {
    type Output = Self;
    #[inline(always)]
    fn bitor(self, o: Self) -> Self {
        backend! {
            simd128: Self(v128_or(self.0, o.0)),
            portable: Self(self.0 | o.0),
        }
    }
}

/// `v.permute::<T[0], .., T[15]>()` for a constant index table `T`
/// (`[usize; 16]`).
#[rustfmt::skip]
macro_rules! permute {
    ($v:expr, $t:expr) => {
        $v.permute::<
            { $t[0] }, { $t[1] }, { $t[2] }, { $t[3] },
            { $t[4] }, { $t[5] }, { $t[6] }, { $t[7] },
            { $t[8] }, { $t[9] }, { $t[10] }, { $t[11] },
            { $t[12] }, { $t[13] }, { $t[14] }, { $t[15] },
        >()
    };
}

pub(crate) use permute;

#[cfg(test)]
mod tests;
