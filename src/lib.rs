//! The Spoke guest component (`wasm32-wasip2`): the `spoke:flow` exports of
//! `wit/` over `wasi:sockets`, a thin edge around the sans-IO protocol core
//! of the `spoke-protocol` crate.
//!
//! It builds only for `wasm32`; elsewhere this crate is empty.

#![cfg(target_arch = "wasm32")]
#![warn(missing_docs)]
// Our own code has no `unsafe`; the only `unsafe` is what wit-bindgen
// generates for the canonical ABI (the bindings and the export glue), so
// the lint is denied everywhere and allowed for exactly those two.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "spoke:flow/component",
        with: {
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
            "wasi:random/random@0.2.12": wasip2::random::random,
            "wasi:sockets/network@0.2.12": wasip2::sockets::network,
            "wasi:sockets/instance-network@0.2.12": wasip2::sockets::instance_network,
            "wasi:sockets/tcp@0.2.12": wasip2::sockets::tcp,
            "wasi:sockets/tcp-create-socket@0.2.12": wasip2::sockets::tcp_create_socket,
            "wasi:sockets/ip-name-lookup@0.2.12": wasip2::sockets::ip_name_lookup,
        },
    });
}

/// The most one read, splice or copy step asks for, everywhere in the
/// guest: the cap on a read and on a `check-write` permit of the
/// wasmtime-wasi this workspace builds (stock wasmtime-wasi caps both at
/// 64 KiB and simply moves less per call). Larger steps mean fewer calls
/// across the component boundary and, on an encrypted flow, several records
/// opened per read.
pub(crate) const CHUNK: usize = 256 * 1024;

mod address;
mod budget;
mod combinators;
mod connect;
mod contract;
mod ends;
mod engine;
mod errors;
mod flow;
mod layer;
mod listener;
mod secure;
mod splice;
mod stream_errors;
mod tcp;

use bindings::exports::spoke::flow::combinators::{
    self as combinators_api, CopyError, Direction, Stats,
};
use bindings::exports::spoke::flow::spoke::{
    self as spoke_api, Cipher, Config, HandshakeError, Identities,
};
use bindings::exports::spoke::flow::tcp as tcp_api;
use bindings::exports::spoke::flow::types::{
    self, Error, Flow, FlowBorrow, ShutdownMode, WriteError,
};
use spoke_protocol::Role;
use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, OutputStream};
use wasip2::sockets::network::IpSocketAddress;

use flow::FlowResource;

/// The generated types `contract.rs` converts, under the names it uses.
mod wit {
    pub use super::bindings::exports::spoke::flow::spoke::{
        Cipher, Config, HandshakeError, IterationCountRefused, VersionMismatch,
    };
    pub use super::bindings::exports::spoke::flow::types::Error;
}

/// The component: every export of the `spoke:flow/component` world.
struct Component;

/// The export glue wit-bindgen generates (see `bindings`).
#[allow(unsafe_code)]
mod export {
    use super::{Component, bindings};
    bindings::export!(Component with_types_in super::bindings);
}

impl types::Guest for Component {
    type Flow = FlowResource;

    fn error_message(e: Error) -> String {
        errors::error_message(&e)
    }

    fn write_error_message(e: WriteError) -> String {
        errors::write_error_message(&e)
    }
}

impl types::GuestFlow for FlowResource {
    fn read(&self, max: u32) -> Result<Option<Vec<u8>>, Error> {
        self.borrow()?.read(max)
    }

    fn write(&self, data: Vec<u8>) -> Result<(), WriteError> {
        self.borrow().map_err(WriteError::Error)?.write(&data)
    }

    fn writev(&self, data: Vec<Vec<u8>>) -> Result<(), WriteError> {
        self.borrow().map_err(WriteError::Error)?.writev(&data)
    }

    fn shutdown(&self, mode: ShutdownMode) -> Result<(), WriteError> {
        self.borrow().map_err(WriteError::Error)?.shutdown(mode)
    }

    fn close(&self) {
        if let Ok(mut conn) = self.borrow() {
            conn.close();
        }
    }

    fn subscribe(&self) -> Pollable {
        match self.borrow() {
            Ok(mut conn) => conn.subscribe(),
            Err(_) => tcp::ready_now(),
        }
    }

    fn local_address(&self) -> Result<IpSocketAddress, Error> {
        self.borrow()?.local_address()
    }

    fn remote_address(&self) -> Result<IpSocketAddress, Error> {
        self.borrow()?.remote_address()
    }
}

impl tcp_api::Guest for Component {
    type Listener = ListenerResource;

    fn connect(host: String, port: u16) -> Result<Flow, Error> {
        let t = connect::connect(&host, port)?;
        Ok(Flow::new(FlowResource::new(t)))
    }

    fn connect_address(address: IpSocketAddress) -> Result<Flow, Error> {
        let t = connect::connect_address(address)?;
        Ok(Flow::new(FlowResource::new(t)))
    }
}

/// The Rust value behind a `listener` resource handle.
struct ListenerResource(std::cell::RefCell<listener::Listener>);

impl tcp_api::GuestListener for ListenerResource {
    fn bind(address: IpSocketAddress) -> Result<tcp_api::Listener, Error> {
        let l = listener::Listener::bind(address)?;
        Ok(tcp_api::Listener::new(ListenerResource(
            std::cell::RefCell::new(l),
        )))
    }

    fn local_address(&self) -> Result<IpSocketAddress, Error> {
        self.0
            .try_borrow()
            .map_err(|_| errors::busy_flow())?
            .local_address()
    }

    fn accept(&self) -> Result<Flow, Error> {
        let t = self
            .0
            .try_borrow_mut()
            .map_err(|_| errors::busy_flow())?
            .accept()?;
        Ok(Flow::new(FlowResource::new(t)))
    }

    fn subscribe(&self) -> Pollable {
        match self.0.try_borrow() {
            Ok(l) => l.subscribe(),
            Err(_) => tcp::ready_now(),
        }
    }
}

impl spoke_api::Guest for Component {
    fn default_config() -> Config {
        contract::default_config()
    }

    fn client(
        underlying: Flow,
        ids: Identities,
        password: Vec<u8>,
        cfg: Config,
    ) -> Result<Flow, HandshakeError> {
        layer(Role::Client, underlying, ids, password, cfg)
    }

    fn server(
        underlying: Flow,
        ids: Identities,
        password: Vec<u8>,
        cfg: Config,
    ) -> Result<Flow, HandshakeError> {
        layer(Role::Server, underlying, ids, password, cfg)
    }

    fn client_within(
        underlying: Flow,
        ids: Identities,
        password: Vec<u8>,
        cfg: Config,
        timeout: u64,
    ) -> Result<Flow, HandshakeError> {
        layer_by(Role::Client, underlying, ids, password, cfg, after(timeout))
    }

    fn server_within(
        underlying: Flow,
        ids: Identities,
        password: Vec<u8>,
        cfg: Config,
        timeout: u64,
    ) -> Result<Flow, HandshakeError> {
        layer_by(Role::Server, underlying, ids, password, cfg, after(timeout))
    }

    fn handshake_error_message(e: HandshakeError) -> String {
        contract::handshake_error_message(&e)
    }

    fn ciphers(f: FlowBorrow<'_>) -> Option<(Cipher, Cipher)> {
        f.get::<FlowResource>().borrow().ok()?.ciphers()
    }
}

/// Runs a handshake over `underlying` and wraps the result in a new flow.
fn layer(
    role: Role,
    underlying: Flow,
    ids: Identities,
    password: Vec<u8>,
    cfg: Config,
) -> Result<Flow, HandshakeError> {
    layer_by(role, underlying, ids, password, cfg, None)
}

/// The monotonic-clock instant `timeout` nanoseconds from now.
fn after(timeout: u64) -> Option<u64> {
    Some(monotonic_clock::now().saturating_add(timeout))
}

/// [`layer`], failing with `timed-out` if the handshake is not done by
/// `deadline` (a monotonic-clock instant).
fn layer_by(
    role: Role,
    underlying: Flow,
    ids: Identities,
    password: Vec<u8>,
    cfg: Config,
    deadline: Option<u64>,
) -> Result<Flow, HandshakeError> {
    let password = zeroize::Zeroizing::new(password);
    // Before the handshake: a layer the budget cannot afford is refused
    // (and `underlying`, dropped, is closed, as after a failed handshake).
    let reserved = secure::SecureFlow::reserve().map_err(HandshakeError::Flow)?;
    let conn = underlying
        .get::<FlowResource>()
        .take()
        .map_err(HandshakeError::Flow)?;
    drop(underlying);
    let flow = secure::handshake(role, conn, ids, &password, cfg, deadline, reserved)?;
    Ok(Flow::new(FlowResource::new(flow)))
}

impl combinators_api::Guest for Component {
    fn copy(src: FlowBorrow<'_>, dst: FlowBorrow<'_>) -> Result<Stats, CopyError> {
        let (src, dst) = (src.get::<FlowResource>(), dst.get::<FlowResource>());
        if std::ptr::eq(src, dst) {
            // One flow as both ends: an echo of the peer.
            let mut conn = src.borrow().map_err(CopyError::Read)?;
            return combinators::echo(&mut conn);
        }
        let mut s = src.borrow().map_err(CopyError::Read)?;
        let mut d = dst
            .borrow()
            .map_err(|e| CopyError::Write(WriteError::Error(e)))?;
        combinators::copy(&mut s, &mut d)
    }

    fn proxy(a: FlowBorrow<'_>, b: FlowBorrow<'_>) -> (Direction, Direction) {
        let fa = a.get::<FlowResource>();
        let fb = b.get::<FlowResource>();
        let failed = |e: &Error| Direction {
            stats: engine::no_stats(),
            error: Some(CopyError::Read(e.clone())),
        };
        match (fa.borrow(), fb.borrow()) {
            (Ok(mut ca), Ok(mut cb)) => combinators::proxy(&mut ca, &mut cb),
            (Err(e), _) | (_, Err(e)) => (failed(&e), failed(&e)),
        }
    }

    fn pipe(
        f: FlowBorrow<'_>,
        input: &InputStream,
        output: &OutputStream,
    ) -> (Direction, Direction) {
        match f.get::<FlowResource>().borrow() {
            Ok(mut conn) => combinators::pipe(&mut conn, input, output),
            Err(e) => {
                let failed = || Direction {
                    stats: engine::no_stats(),
                    error: Some(CopyError::Read(e.clone())),
                };
                (failed(), failed())
            }
        }
    }

    fn copy_to_stream(src: FlowBorrow<'_>, dst: &OutputStream) -> Result<Stats, CopyError> {
        let mut conn = src
            .get::<FlowResource>()
            .borrow()
            .map_err(CopyError::Read)?;
        combinators::copy_to_stream(&mut conn, dst)
    }

    fn copy_from_stream(src: &InputStream, dst: FlowBorrow<'_>) -> Result<Stats, CopyError> {
        let mut conn = dst
            .get::<FlowResource>()
            .borrow()
            .map_err(|e| CopyError::Write(WriteError::Error(e)))?;
        combinators::copy_from_stream(src, &mut conn)
    }
}
