//! AEADs written for wasm simd128, as drop-ins for the RustCrypto types.
//!
//! - [`chacha::ChaCha20Poly1305`] implements the `aead` 0.5 traits of the
//!   `chacha20poly1305` crate, with the same bytes;
//! - [`gcm::Aes256Gcm`] implements the `aead` 0.6 traits of the `aes-gcm`
//!   0.11 crate, with the same bytes.
//!
//! Both kernels are written in one 128-bit vector type (`simd::V128`).
//! Inside wasm (`wasm32` with the `simd128` target feature) its operations
//! are `core::arch::wasm32` simd128 instructions, and both AEADs are about
//! three times the speed of the RustCrypto crates there. Elsewhere the very
//! same kernels run on its portable integer back end, so that the tests and
//! benchmarks run natively too; native programs should keep the RustCrypto
//! crates, whose AES-NI, VAES and AVX2 backends are faster.
//! `spoke-protocol` uses this crate for its records inside wasm only.
//!
//! The only `unsafe` code is in `simd` (its unaligned 16-byte loads and
//! stores in wasm), with its safety argument; natively there is none.
//!
//! Both must never branch on or index by secrets, release plaintext before
//! its tag is verified, touch a buffer whose tag is wrong, or print a key.

#![warn(missing_docs)]
// All `unsafe` lives in `simd` (two unaligned vector loads and stores of
// 16-byte arrays; see its safety argument), which allows it only where its
// simd128 back end is compiled: elsewhere the crate has none at all. `deny`
// rather than `forbid`, because a `forbid` cannot be lifted for one module.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

/// `impl Debug` that prints the AEAD type's name and `{ .. }` only: its
/// fields are key material (round keys, powers of H, the key itself).
macro_rules! debug_without_key {
    ($t:ident) => {
        impl core::fmt::Debug for $t {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    };
}

pub mod chacha;
pub mod gcm;
#[cfg(test)]
mod kernel_testing;
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(unsafe_code)
)]
mod simd;
