//! The Rust types and call stubs generated from `wit/flow.wit`.
//!
//! Owns only the `bindgen!` invocation (async exports, WASI types taken from
//! wasmtime-wasi) and the defaults of the generated records. Nothing here
//! performs a call.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "spoke:flow/component",
    exports: { default: async },
    with: {
        "wasi": wasmtime_wasi::p2::bindings,
    },
});

use exports::spoke::flow::spoke::{Cipher, Config};

/// The component's `default-config`: version 2, ChaCha20-Poly1305 both
/// ways, 16 iterations asked by servers, at most 100000 accepted by clients.
impl Default for Config {
    fn default() -> Self {
        Self {
            version: 2,
            server_to_client: Cipher::Chacha20Poly1305,
            client_to_server: Cipher::Chacha20Poly1305,
            iterations: 16,
            max_iterations: 100_000,
        }
    }
}
