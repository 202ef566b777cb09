//! Spoke: reliable byte streams ("flows") for WebAssembly components, plain
//! over TCP or secured by a shared password (SPAKE2+EE, then AEAD records).
//!
//! - [`protocol`] is the pure, sans-IO core: the handshake and record-layer
//!   state machines and their primitives. It builds natively and for
//!   `wasm32-wasip2`, and never does I/O.
//! - `component` (only on `wasm32`) is the guest component: the
//!   `spoke:flow` exports over `wasi:sockets`, a thin edge around the core.

#![warn(missing_docs)]

pub mod chacha;
pub mod gcm;
#[cfg(test)]
mod kernel_testing;
pub mod protocol;

#[cfg(target_arch = "wasm32")]
mod component;
