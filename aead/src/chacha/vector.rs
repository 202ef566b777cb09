//! The 128-bit vector type the ChaCha20 and Poly1305 kernels are written in.
//!
//! Owns: one `V128` type with exactly the lane operations the kernels use,
//! backed by `core::arch::wasm32` simd128 intrinsics on
//! `wasm32` + `simd128`, and by plain lane arrays everywhere else, so the
//! same kernel code runs (and is tested) natively.
//! Must never: branch on or index by lane contents (every operation is
//! data-independent), or offer an operation only one backend implements.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    /// A 128-bit vector, viewed as `u32x4` or `u64x2` by each operation.
    #[derive(Clone, Copy)]
    pub struct V128(v128);

    impl V128 {
        /// Loads 16 bytes (little-endian lanes).
        #[inline(always)]
        pub fn load(bytes: &[u8; 16]) -> Self {
            // SAFETY: `bytes` is 16 readable bytes; `v128_load` has no
            // alignment requirement.
            Self(unsafe { v128_load(bytes.as_ptr().cast::<v128>()) })
        }

        /// Stores 16 bytes (little-endian lanes).
        #[inline(always)]
        pub fn store(self, bytes: &mut [u8; 16]) {
            // SAFETY: `bytes` is 16 writable bytes; `v128_store` has no
            // alignment requirement.
            unsafe { v128_store(bytes.as_mut_ptr().cast::<v128>(), self.0) }
        }

        /// `[x, x, x, x]` as `u32x4`.
        #[inline(always)]
        pub fn splat32(x: u32) -> Self {
            Self(u32x4_splat(x))
        }

        /// `[a, b, c, d]` as `u32x4`.
        #[inline(always)]
        pub fn from_u32(a: u32, b: u32, c: u32, d: u32) -> Self {
            Self(u32x4(a, b, c, d))
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

        /// Lane-wise wrapping `u32` addition.
        #[inline(always)]
        pub fn add32(self, o: Self) -> Self {
            Self(i32x4_add(self.0, o.0))
        }

        /// Lane-wise wrapping `u64` addition.
        #[inline(always)]
        pub fn add64(self, o: Self) -> Self {
            Self(i64x2_add(self.0, o.0))
        }

        /// Bitwise xor.
        #[inline(always)]
        pub fn xor(self, o: Self) -> Self {
            Self(v128_xor(self.0, o.0))
        }

        /// Bitwise and.
        #[inline(always)]
        pub fn and(self, o: Self) -> Self {
            Self(v128_and(self.0, o.0))
        }

        /// Bitwise or.
        #[inline(always)]
        pub fn or(self, o: Self) -> Self {
            Self(v128_or(self.0, o.0))
        }

        /// `u32` lanes rotated left by `N`: two shifts and an or. (Byte
        /// shuffles for 8 and 16 measured slower under wasmtime: LLVM drops the
        /// repeated operand, so cranelift emits a two-input shuffle.)
        #[inline(always)]
        pub fn rotl32<const N: u32>(self) -> Self {
            Self(v128_or(u32x4_shl(self.0, N), u32x4_shr(self.0, 32 - N)))
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

        /// `[a0, b0, a1, b1]` (`u32` lanes).
        #[inline(always)]
        pub fn zip_lo32(self, b: Self) -> Self {
            Self(i32x4_shuffle::<0, 4, 1, 5>(self.0, b.0))
        }

        /// `[a2, b2, a3, b3]` (`u32` lanes).
        #[inline(always)]
        pub fn zip_hi32(self, b: Self) -> Self {
            Self(i32x4_shuffle::<2, 6, 3, 7>(self.0, b.0))
        }

        /// `[a0, b0]` (`u64` lanes).
        #[inline(always)]
        pub fn zip_lo64(self, b: Self) -> Self {
            Self(i64x2_shuffle::<0, 2>(self.0, b.0))
        }

        /// `[a1, b1]` (`u64` lanes).
        #[inline(always)]
        pub fn zip_hi64(self, b: Self) -> Self {
            Self(i64x2_shuffle::<1, 3>(self.0, b.0))
        }

        /// The low `u32` halves of both `u64` lanes, packed into `u32` lanes
        /// 0 and 1 (and repeated in 2 and 3): `[a.lo, b.lo, a.lo, b.lo]`.
        #[inline(always)]
        pub fn pack_lo32(self) -> Self {
            Self(i32x4_shuffle::<0, 2, 0, 2>(self.0, self.0))
        }

        /// `u32` lanes 0 and 1 of each operand multiplied into two `u64`
        /// lanes: `[a0 * b0, a1 * b1]`.
        #[inline(always)]
        pub fn mul_lo32(self, b: Self) -> Self {
            Self(u64x2_extmul_low_u32x4(self.0, b.0))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    /// A 128-bit vector, viewed as `u32x4` or `u64x2` by each operation
    /// (portable lane arrays; same semantics as the simd128 backend).
    #[derive(Clone, Copy)]
    pub struct V128([u32; 4]);

    impl V128 {
        #[inline(always)]
        fn u64s(self) -> [u64; 2] {
            let w = self.0;
            [
                u64::from(w[0]) | (u64::from(w[1]) << 32),
                u64::from(w[2]) | (u64::from(w[3]) << 32),
            ]
        }

        #[inline(always)]
        fn map64(self, o: Self, f: impl Fn(u64, u64) -> u64) -> Self {
            let (a, b) = (self.u64s(), o.u64s());
            Self::from_u64(f(a[0], b[0]), f(a[1], b[1]))
        }

        #[inline(always)]
        fn map32(self, o: Self, f: impl Fn(u32, u32) -> u32) -> Self {
            let (a, b) = (self.0, o.0);
            Self([f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])])
        }

        /// Loads 16 bytes (little-endian lanes).
        #[inline(always)]
        pub fn load(bytes: &[u8; 16]) -> Self {
            let w =
                |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
            Self([w(0), w(4), w(8), w(12)])
        }

        /// Stores 16 bytes (little-endian lanes).
        #[inline(always)]
        pub fn store(self, bytes: &mut [u8; 16]) {
            for (chunk, w) in bytes.as_chunks_mut::<4>().0.iter_mut().zip(self.0) {
                *chunk = w.to_le_bytes();
            }
        }

        /// `[x, x, x, x]` as `u32x4`.
        #[inline(always)]
        pub fn splat32(x: u32) -> Self {
            Self([x; 4])
        }

        /// `[a, b, c, d]` as `u32x4`.
        #[inline(always)]
        pub fn from_u32(a: u32, b: u32, c: u32, d: u32) -> Self {
            Self([a, b, c, d])
        }

        /// `[x, x]` as `u64x2`.
        #[inline(always)]
        pub fn splat64(x: u64) -> Self {
            Self::from_u64(x, x)
        }

        /// `[a, b]` as `u64x2`.
        #[inline(always)]
        pub fn from_u64(a: u64, b: u64) -> Self {
            Self([a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32])
        }

        /// The two `u64` lanes.
        #[inline(always)]
        pub fn to_u64(self) -> [u64; 2] {
            self.u64s()
        }

        /// Lane-wise wrapping `u32` addition.
        #[inline(always)]
        pub fn add32(self, o: Self) -> Self {
            self.map32(o, u32::wrapping_add)
        }

        /// Lane-wise wrapping `u64` addition.
        #[inline(always)]
        pub fn add64(self, o: Self) -> Self {
            self.map64(o, u64::wrapping_add)
        }

        /// Bitwise xor.
        #[inline(always)]
        pub fn xor(self, o: Self) -> Self {
            self.map32(o, |a, b| a ^ b)
        }

        /// Bitwise and.
        #[inline(always)]
        pub fn and(self, o: Self) -> Self {
            self.map32(o, |a, b| a & b)
        }

        /// Bitwise or.
        #[inline(always)]
        pub fn or(self, o: Self) -> Self {
            self.map32(o, |a, b| a | b)
        }

        /// `u32` lanes rotated left by `N`.
        #[inline(always)]
        pub fn rotl32<const N: u32>(self) -> Self {
            Self(self.0.map(|w| w.rotate_left(N)))
        }

        /// `u64` lanes shifted left by `N`.
        #[inline(always)]
        pub fn shl64<const N: u32>(self) -> Self {
            let a = self.u64s();
            Self::from_u64(a[0] << N, a[1] << N)
        }

        /// `u64` lanes shifted right (logically) by `N`.
        #[inline(always)]
        pub fn shr64<const N: u32>(self) -> Self {
            let a = self.u64s();
            Self::from_u64(a[0] >> N, a[1] >> N)
        }

        /// `[a0, b0, a1, b1]` (`u32` lanes).
        #[inline(always)]
        pub fn zip_lo32(self, b: Self) -> Self {
            Self([self.0[0], b.0[0], self.0[1], b.0[1]])
        }

        /// `[a2, b2, a3, b3]` (`u32` lanes).
        #[inline(always)]
        pub fn zip_hi32(self, b: Self) -> Self {
            Self([self.0[2], b.0[2], self.0[3], b.0[3]])
        }

        /// `[a0, b0]` (`u64` lanes).
        #[inline(always)]
        pub fn zip_lo64(self, b: Self) -> Self {
            Self([self.0[0], self.0[1], b.0[0], b.0[1]])
        }

        /// `[a1, b1]` (`u64` lanes).
        #[inline(always)]
        pub fn zip_hi64(self, b: Self) -> Self {
            Self([self.0[2], self.0[3], b.0[2], b.0[3]])
        }

        /// The low `u32` halves of both `u64` lanes, packed into `u32` lanes
        /// 0 and 1 (and repeated in 2 and 3): `[a.lo, b.lo, a.lo, b.lo]`.
        #[inline(always)]
        pub fn pack_lo32(self) -> Self {
            Self([self.0[0], self.0[2], self.0[0], self.0[2]])
        }

        /// `u32` lanes 0 and 1 of each operand multiplied into two `u64`
        /// lanes: `[a0 * b0, a1 * b1]`.
        #[inline(always)]
        pub fn mul_lo32(self, b: Self) -> Self {
            Self::from_u64(
                u64::from(self.0[0]) * u64::from(b.0[0]),
                u64::from(self.0[1]) * u64::from(b.0[1]),
            )
        }
    }
}

pub(crate) use imp::V128;
