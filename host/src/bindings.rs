//! The Rust types and call stubs generated from `wit/flow.wit`.
//!
//! Owns only the `bindgen!` invocation (async exports, WASI types taken from
//! wasmtime-wasi), the defaults of the generated records and their
//! conversions from the protocol core's types. Nothing here performs a
//! call.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "spoke:flow/component",
    exports: { default: async },
    with: {
        "wasi": wasmtime_wasi::p2::bindings,
    },
});

use exports::spoke::flow::spoke::{Cipher, Config};

/// The component's `default-config`, which is the protocol core's default:
/// version 2, ChaCha20-Poly1305 both ways, 16 iterations asked by servers,
/// at most 100000 accepted by clients.
impl Default for Config {
    fn default() -> Self {
        spoke_protocol::Config::default().into()
    }
}

impl From<spoke_protocol::Config> for Config {
    fn from(c: spoke_protocol::Config) -> Self {
        Self {
            version: c.version.wire(),
            server_to_client: c.server_to_client.into(),
            client_to_server: c.client_to_server.into(),
            iterations: c.iterations,
            max_iterations: c.max_iterations,
        }
    }
}

impl From<spoke_protocol::Cipher> for Cipher {
    fn from(c: spoke_protocol::Cipher) -> Self {
        use spoke_protocol::Cipher as Core;
        match c {
            Core::Aes256Gcm => Self::Aes256Gcm,
            Core::Aes256Ccm => Self::Aes256Ccm,
            Core::ChaCha20Poly1305 => Self::Chacha20Poly1305,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_is_the_protocol_cores() {
        let d = Config::default();
        assert_eq!(d.version, 2);
        assert_eq!(d.server_to_client, Cipher::Chacha20Poly1305);
        assert_eq!(d.client_to_server, Cipher::Chacha20Poly1305);
        assert_eq!((d.iterations, d.max_iterations), (16, 100_000));
    }

    #[test]
    fn ciphers_keep_their_wire_ids() {
        use spoke_protocol::Cipher as Core;
        for (core, wit) in [
            (Core::Aes256Gcm, Cipher::Aes256Gcm),
            (Core::Aes256Ccm, Cipher::Aes256Ccm),
            (Core::ChaCha20Poly1305, Cipher::Chacha20Poly1305),
        ] {
            assert_eq!(Cipher::from(core), wit, "wire id {}", core.id());
        }
    }
}
