//! The 128-bit vector type the AES and GHASH kernels are written in.
//!
//! Owns: one `V128` type with exactly the lane operations the kernels use,
//! backed by `core::arch::wasm32` simd128 intrinsics on
//! `wasm32` + `simd128`, and by plain lane arrays everywhere else, so the
//! same kernel code runs (and is tested) natively. Bitwise operators
//! (`^ & | !`) work on whole vectors.
//! Must never: branch on or index by lane contents (every operation is
//! data-independent; byte permutations take their indices as constants), or
//! offer an operation only one backend implements.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    /// A 128-bit vector, viewed as bytes or as `u64x2` by each operation.
    #[derive(Clone, Copy)]
    pub struct V128(v128);

    impl V128 {
        /// Loads 16 bytes (byte `i` is lane `i` of `u8x16`).
        #[inline(always)]
        pub fn load(bytes: &[u8; 16]) -> Self {
            // SAFETY: `bytes` is 16 readable bytes; `v128_load` has no
            // alignment requirement.
            Self(unsafe { v128_load(bytes.as_ptr().cast::<v128>()) })
        }

        /// Stores 16 bytes (byte `i` is lane `i` of `u8x16`).
        #[inline(always)]
        pub fn store(self, bytes: &mut [u8; 16]) {
            // SAFETY: `bytes` is 16 writable bytes; `v128_store` has no
            // alignment requirement.
            unsafe { v128_store(bytes.as_mut_ptr().cast::<v128>(), self.0) }
        }

        /// `x` in every byte.
        #[inline(always)]
        pub fn splat8(x: u8) -> Self {
            Self(u8x16_splat(x))
        }

        /// `[x, x]` as `u64x2`.
        #[inline(always)]
        pub fn splat64(x: u64) -> Self {
            Self(u64x2_splat(x))
        }

        /// `[a, b]` as `u64x2`.
        #[inline(always)]
        pub fn from_u64(a: u64, b: u64) -> Self {
            Self(u64x2(a, b))
        }

        /// The two `u64` lanes.
        #[inline(always)]
        pub fn to_u64(self) -> [u64; 2] {
            [
                u64x2_extract_lane::<0>(self.0),
                u64x2_extract_lane::<1>(self.0),
            ]
        }

        /// Bytes `I0..I15` of `self`: byte `k` of the result is byte `Ik`
        /// (each below 16) of `self`.
        #[allow(clippy::too_many_arguments)]
        #[inline(always)]
        pub fn permute<
            const I0: usize,
            const I1: usize,
            const I2: usize,
            const I3: usize,
            const I4: usize,
            const I5: usize,
            const I6: usize,
            const I7: usize,
            const I8: usize,
            const I9: usize,
            const I10: usize,
            const I11: usize,
            const I12: usize,
            const I13: usize,
            const I14: usize,
            const I15: usize,
        >(
            self,
        ) -> Self {
            Self(i8x16_shuffle::<
                I0,
                I1,
                I2,
                I3,
                I4,
                I5,
                I6,
                I7,
                I8,
                I9,
                I10,
                I11,
                I12,
                I13,
                I14,
                I15,
            >(self.0, self.0))
        }

        /// `[self.0, b.1]` (`u64` lanes).
        #[inline(always)]
        pub fn blend64(self, b: Self) -> Self {
            Self(i64x2_shuffle::<0, 3>(self.0, b.0))
        }

        /// `[self.1, b.0]` (`u64` lanes).
        #[inline(always)]
        pub fn cross64(self, b: Self) -> Self {
            Self(i64x2_shuffle::<1, 2>(self.0, b.0))
        }

        /// `u64` lanes shifted left by `N`.
        #[inline(always)]
        pub fn shl64<const N: u32>(self) -> Self {
            Self(i64x2_shl(self.0, N))
        }

        /// `u64` lanes shifted right (logically) by `N`.
        #[inline(always)]
        pub fn shr64<const N: u32>(self) -> Self {
            Self(u64x2_shr(self.0, N))
        }

        /// Lane-wise wrapping `u64` product (the low 64 bits).
        #[inline(always)]
        pub fn mul64(self, o: Self) -> Self {
            Self(i64x2_mul(self.0, o.0))
        }

        /// `0xff` in each byte equal to the same byte of `o`, else `0`.
        #[inline(always)]
        pub fn eq8(self, o: Self) -> Self {
            Self(i8x16_eq(self.0, o.0))
        }

        /// The bits of every byte in reverse order. Two 16-entry table
        /// lookups of the nibbles (`u8x16_swizzle`, a register shuffle, not
        /// a memory access).
        #[inline(always)]
        pub fn bitrev8(self) -> Self {
            // rev(n) << 4 and rev(n) for every nibble n.
            let hi_of_lo = u8x16(
                0x00, 0x80, 0x40, 0xc0, 0x20, 0xa0, 0x60, 0xe0, 0x10, 0x90, 0x50, 0xd0, 0x30, 0xb0,
                0x70, 0xf0,
            );
            let lo_of_hi = u8x16(
                0x0, 0x8, 0x4, 0xc, 0x2, 0xa, 0x6, 0xe, 0x1, 0x9, 0x5, 0xd, 0x3, 0xb, 0x7, 0xf,
            );
            let m = u8x16_splat(0x0f);
            let lo = v128_and(self.0, m);
            let hi = v128_and(u16x8_shr(self.0, 4), m);
            Self(v128_or(
                u8x16_swizzle(hi_of_lo, lo),
                u8x16_swizzle(lo_of_hi, hi),
            ))
        }
    }

    impl core::ops::BitXor for V128 {
        type Output = Self;
        #[inline(always)]
        fn bitxor(self, o: Self) -> Self {
            Self(v128_xor(self.0, o.0))
        }
    }

    impl core::ops::BitAnd for V128 {
        type Output = Self;
        #[inline(always)]
        fn bitand(self, o: Self) -> Self {
            Self(v128_and(self.0, o.0))
        }
    }

    impl core::ops::BitOr for V128 {
        type Output = Self;
        #[inline(always)]
        fn bitor(self, o: Self) -> Self {
            Self(v128_or(self.0, o.0))
        }
    }

    impl core::ops::Not for V128 {
        type Output = Self;
        #[inline(always)]
        fn not(self) -> Self {
            Self(v128_not(self.0))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    /// A 128-bit vector, viewed as bytes or as `u64x2` by each operation
    /// (portable lane arrays; same semantics as the simd128 backend).
    #[derive(Clone, Copy)]
    pub struct V128([u8; 16]);

    impl V128 {
        #[inline(always)]
        fn map8(self, o: Self, f: impl Fn(u8, u8) -> u8) -> Self {
            Self(core::array::from_fn(|i| f(self.0[i], o.0[i])))
        }

        #[inline(always)]
        fn map64(self, o: Self, f: impl Fn(u64, u64) -> u64) -> Self {
            let (a, b) = (self.to_u64(), o.to_u64());
            Self::from_u64(f(a[0], b[0]), f(a[1], b[1]))
        }

        /// Loads 16 bytes (byte `i` is lane `i` of `u8x16`).
        #[inline(always)]
        pub fn load(bytes: &[u8; 16]) -> Self {
            Self(*bytes)
        }

        /// Stores 16 bytes (byte `i` is lane `i` of `u8x16`).
        #[inline(always)]
        pub fn store(self, bytes: &mut [u8; 16]) {
            *bytes = self.0;
        }

        /// `x` in every byte.
        #[inline(always)]
        pub fn splat8(x: u8) -> Self {
            Self([x; 16])
        }

        /// `[x, x]` as `u64x2`.
        #[inline(always)]
        pub fn splat64(x: u64) -> Self {
            Self::from_u64(x, x)
        }

        /// `[a, b]` as `u64x2`.
        #[inline(always)]
        pub fn from_u64(a: u64, b: u64) -> Self {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&a.to_le_bytes());
            bytes[8..].copy_from_slice(&b.to_le_bytes());
            Self(bytes)
        }

        /// The two `u64` lanes.
        #[inline(always)]
        pub fn to_u64(self) -> [u64; 2] {
            let (lo, hi) = self.0.split_at(8);
            [
                u64::from_le_bytes(lo.try_into().expect("8 bytes")),
                u64::from_le_bytes(hi.try_into().expect("8 bytes")),
            ]
        }

        /// Bytes `I0..I15` of `self`: byte `k` of the result is byte `Ik`
        /// (each below 16) of `self`.
        #[allow(clippy::too_many_arguments)]
        #[inline(always)]
        pub fn permute<
            const I0: usize,
            const I1: usize,
            const I2: usize,
            const I3: usize,
            const I4: usize,
            const I5: usize,
            const I6: usize,
            const I7: usize,
            const I8: usize,
            const I9: usize,
            const I10: usize,
            const I11: usize,
            const I12: usize,
            const I13: usize,
            const I14: usize,
            const I15: usize,
        >(
            self,
        ) -> Self {
            let idx = [
                I0, I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13, I14, I15,
            ];
            Self(idx.map(|i| self.0[i]))
        }

        /// `[self.0, b.1]` (`u64` lanes).
        #[inline(always)]
        pub fn blend64(self, b: Self) -> Self {
            Self::from_u64(self.to_u64()[0], b.to_u64()[1])
        }

        /// `[self.1, b.0]` (`u64` lanes).
        #[inline(always)]
        pub fn cross64(self, b: Self) -> Self {
            Self::from_u64(self.to_u64()[1], b.to_u64()[0])
        }

        /// `u64` lanes shifted left by `N`.
        #[inline(always)]
        pub fn shl64<const N: u32>(self) -> Self {
            let a = self.to_u64();
            Self::from_u64(a[0] << N, a[1] << N)
        }

        /// `u64` lanes shifted right (logically) by `N`.
        #[inline(always)]
        pub fn shr64<const N: u32>(self) -> Self {
            let a = self.to_u64();
            Self::from_u64(a[0] >> N, a[1] >> N)
        }

        /// Lane-wise wrapping `u64` product (the low 64 bits).
        #[inline(always)]
        pub fn mul64(self, o: Self) -> Self {
            self.map64(o, u64::wrapping_mul)
        }

        /// `0xff` in each byte equal to the same byte of `o`, else `0`.
        #[inline(always)]
        pub fn eq8(self, o: Self) -> Self {
            // 0 - (1 if equal): no comparison branch on the data.
            self.map8(o, |a, b| {
                let d = u16::from(a ^ b);
                (d.wrapping_sub(1) >> 8) as u8
            })
        }

        /// The bits of every byte in reverse order.
        #[inline(always)]
        pub fn bitrev8(self) -> Self {
            Self(self.0.map(u8::reverse_bits))
        }
    }

    impl core::ops::BitXor for V128 {
        type Output = Self;
        #[inline(always)]
        fn bitxor(self, o: Self) -> Self {
            self.map8(o, |a, b| a ^ b)
        }
    }

    impl core::ops::BitAnd for V128 {
        type Output = Self;
        #[inline(always)]
        fn bitand(self, o: Self) -> Self {
            self.map8(o, |a, b| a & b)
        }
    }

    impl core::ops::BitOr for V128 {
        type Output = Self;
        #[inline(always)]
        fn bitor(self, o: Self) -> Self {
            self.map8(o, |a, b| a | b)
        }
    }

    impl core::ops::Not for V128 {
        type Output = Self;
        #[inline(always)]
        fn not(self) -> Self {
            Self(self.0.map(|a| !a))
        }
    }
}

pub(crate) use imp::V128;

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
