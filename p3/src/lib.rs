//! The Spoke guest component for WASI 0.3: the `spoke:flow@0.2.0` exports
//! of `wit/p3/`, a thin edge around the sans-IO protocol core of the
//! `spoke-protocol` crate.
//!
//! TCP connections hand out the sockets' own streams, so plain bytes never
//! enter this component. A spoke session reads the transport's incoming
//! stream into the core's opener and writes what its sealer produces to the
//! stream for the peer; each direction runs as its own task once the call
//! that set it up has returned.
//!
//! It builds only for `wasm32`; elsewhere this crate is empty.

#![cfg(target_arch = "wasm32")]
#![warn(missing_docs)]
// Our own code has no `unsafe`; the only `unsafe` is what wit-bindgen
// generates for the canonical ABI (the bindings and the export glue).
#![deny(unsafe_code)]

#[allow(unsafe_code)]
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit/p3",
        world: "spoke:flow/component@0.2.0",
        generate_all,
    });
}

/// The most one read from a stream asks for: a larger read means fewer
/// calls across the component boundary and several records opened per read.
const CHUNK: usize = 256 * 1024;

#[path = "../../src/contract.rs"]
mod contract;
mod directions;
mod errors;
mod session;
mod tcp;
mod transport;

use bindings::exports::spoke::flow::spoke::{self as spoke_api, Config, HandshakeError};
use bindings::exports::spoke::flow::tcp as tcp_api;
use bindings::exports::spoke::flow::types::{self, Error};
use bindings::wasi::sockets::types::IpSocketAddress;

/// The generated types `contract.rs` (shared with the WASI 0.2 component)
/// converts, under the names it uses.
mod wit {
    pub use super::bindings::exports::spoke::flow::spoke::{
        Cipher, Config, HandshakeError, IterationCountRefused, VersionMismatch,
    };
    pub use super::bindings::exports::spoke::flow::types::Error;
}

/// The component: every export of the `spoke:flow/component@0.2.0` world.
struct Component;

/// The export glue wit-bindgen generates (see `bindings`).
#[allow(unsafe_code)]
mod export {
    use super::{Component, bindings};
    bindings::export!(Component with_types_in super::bindings);
}

impl types::Guest for Component {
    fn error_message(e: Error) -> String {
        contract::error_message(&e)
    }
}

impl tcp_api::Guest for Component {
    type Connection = tcp::Connection;
    type Listener = tcp::Listener;

    async fn connect(host: String, port: u16) -> Result<tcp_api::Connection, Error> {
        Ok(tcp_api::Connection::new(tcp::connect(&host, port).await?))
    }

    async fn connect_address(address: IpSocketAddress) -> Result<tcp_api::Connection, Error> {
        Ok(tcp_api::Connection::new(
            tcp::connect_address(address).await?,
        ))
    }
}

impl spoke_api::Guest for Component {
    type Session = session::Session;

    fn default_config() -> Config {
        contract::default_config()
    }

    fn handshake_error_message(e: HandshakeError) -> String {
        contract::handshake_error_message(&e)
    }
}
