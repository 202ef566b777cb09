//! The Spoke component for WASI 0.3 ([`COMPONENT_P3`],
//! contract `wit/p3/flow.wit`, `spoke:flow@0.2.0`) for Rust programs: TCP
//! connections and the spoke layer as tokio byte streams.
//!
//! ```no_run
//! use spoke_host::{NetworkPolicy, SpokeP3};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! # async fn demo() -> anyhow::Result<()> {
//! let spoke = SpokeP3::new()?; // compile once, share everywhere
//! let policy = NetworkPolicy::deny_all().allow_connect("127.0.0.1:7000".parse()?);
//! let instance = spoke.instantiate(policy).await?;
//! let connection = instance.connect("127.0.0.1", 7000).await?;
//! let mut secure = connection
//!     .secure_client(("client", "server"), b"password", &Default::default())
//!     .await?;
//! secure.write_all(b"hello").await?;
//! secure.shutdown().await?; // a half-close: the close marker, then a FIN
//! let mut reply = Vec::new();
//! secure.read_to_end(&mut reply).await?;
//! # Ok(()) }
//! ```
//!
//! # The shape of it
//!
//! - [`SpokeP3`] is the compiled component, like [`Spoke`](crate::Spoke)
//!   for the 0.2 one: cheap to clone, `Send + Sync`.
//! - An [`Instance`] is one instance with its own store, network policy and
//!   [`Limits`]. Its methods take `&self` and may run at the
//!   same time: [`Instance::connect`], [`Instance::listen`] (then
//!   [`Listener::accept`]), and the spoke layer over any transport of the
//!   host's ([`Instance::secure_client_over`],
//!   [`Instance::secure_server_over`]: a socket, a pipe, a
//!   `tokio::io::duplex` pair).
//! - A [`Connection`] is an open TCP connection: read and write it plainly
//!   ([`Connection::into_stream`]) or run the spoke layer over it
//!   ([`Connection::secure_client`], [`Connection::secure_server`]); then
//!   its records go between the socket and the session inside the instance.
//! - A [`Stream`] is tokio's `AsyncRead + AsyncWrite`, and splits into a
//!   [`Reader`] and a [`Writer`]. Shutting the writer down is a half-close
//!   (on an encrypted version-2 stream, after its authenticated close
//!   marker); it returns once the instance has handed every byte on. The
//!   reader's end-of-stream is the peer's end. An error is a
//!   `std::io::Error` whose message is the contract's one line and whose
//!   `get_ref()` downcasts to the [`FlowError`](crate::FlowError) (kind
//!   `ConnectionReset` for a reset, `InvalidData` for `corrupted`,
//!   `UnexpectedEof` for `truncated`, ...). Handshake failures are
//!   [`HandshakeError`](crate::HandshakeError)s; connecting and listening
//!   fail with `FlowError`s, a denied one with the policy's explanation.
//!
//! # How it runs
//!
//! The 0.3 component's directions keep running after the calls that set
//! them up have returned: they are guest tasks of the store's event loop.
//! So each instance's store is driven by one tokio task (spawned on the
//! runtime that instantiates it) which runs `Store::run_concurrent` for the
//! instance's whole life and takes requests over a channel. Bytes cross
//! between that task and the host through bounded pipes: the guest's
//! `stream<u8>`s are piped into a wasmtime `StreamConsumer` the host reads
//! from, and the host's bytes reach the guest through a `StreamProducer`
//! (`StreamReader::pipe` and `StreamReader::new`). On a plain connection
//! the socket's bytes never enter the guest at all.
//!
//! The instance runs until every handle on it (the [`Instance`], its
//! listeners, connections and streams) is dropped; then it gives streams
//! ended by the host a few seconds to hand their last bytes on, and frees
//! its sockets.
//!
//! # Limits and failures
//!
//! The memory limit and the watchdog of [`Limits`] apply as
//! for the 0.2 component. A trap, a limit or a host failure stops the whole
//! instance: every call waiting on it and every stream of it fails with
//! [`FlowError::Trap`](crate::FlowError::Trap) (inside the `std::io::Error`
//! for streams), later calls fail at once, and other instances carry on.
//! Nothing panics.

mod actor;
mod bindings;
mod connection;
mod halves;
mod instance;
mod pipe;
mod stream;

use std::sync::Arc;

use wasmtime::error::Context as _;
use wasmtime_wasi::WasiCtxBuilder;

pub use connection::{Connection, Listener};
pub use halves::{Reader, Writer};
pub use instance::Instance;
pub use stream::{Established, Stream};

use crate::limits::Limits;
use crate::policy::{DenialLog, NetworkPolicy};
use crate::runtime::{COMPONENT_P3, Loaded, Options, State};
use bindings::ComponentPre;

/// The compiled Spoke component for WASI 0.3, ready to instantiate. Cloning
/// is cheap (shared); it is `Send + Sync`, so one value can serve a whole
/// server.
#[derive(Clone)]
pub struct SpokeP3 {
    inner: Arc<Inner>,
}

struct Inner {
    loaded: Loaded<ComponentPre<State>>,
    limits: Limits,
}

impl std::fmt::Debug for SpokeP3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpokeP3")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl SpokeP3 {
    /// Compiles the embedded 0.3 component with the default [`Options`].
    pub fn new() -> anyhow::Result<Self> {
        Self::with_options(Options::default())
    }

    /// Compiles the embedded 0.3 component with `options`. Fails if
    /// `options.limits` are too small to run it ([`Limits::check`]).
    pub fn with_options(options: Options) -> anyhow::Result<Self> {
        options.limits.check()?;
        let loaded = Loaded::new(
            COMPONENT_P3,
            "Spoke component for WASI 0.3",
            &options,
            "spoke-p3-epoch",
            |pre| {
                ComponentPre::new(pre)
                    .context("checking the exports of the Spoke component for WASI 0.3")
            },
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                loaded,
                limits: options.limits,
            }),
        })
    }

    /// A new instance restricted by `policy`, with the default limits. Its
    /// task runs on the current tokio runtime.
    pub async fn instantiate(&self, policy: NetworkPolicy) -> anyhow::Result<Instance> {
        self.instantiate_with(policy, self.inner.limits.clone())
            .await
    }

    /// A new instance restricted by `policy` and `limits`. Fails if
    /// `limits` are too small to run it ([`Limits::check`]).
    pub async fn instantiate_with(
        &self,
        policy: NetworkPolicy,
        limits: Limits,
    ) -> anyhow::Result<Instance> {
        limits.check()?;
        let denial: DenialLog = Default::default();
        // No files, no environment, no stdio: only the policy's TCP.
        let loaded = &self.inner.loaded;
        let mut store = loaded.store(WasiCtxBuilder::new(), &policy, &denial, &limits);
        let component = loaded
            .pre
            .instantiate_async(&mut store)
            .await
            .context("instantiating the Spoke component for WASI 0.3")?;
        let link = actor::start(store, component, self.clone());
        Ok(Instance::new(link, policy, denial))
    }

    /// The limits instances get by default.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_and_sync<T: Send + Sync>() {}

    #[test]
    fn every_handle_can_move_between_tasks_and_threads() {
        send_and_sync::<SpokeP3>();
        send_and_sync::<Instance>();
        send_and_sync::<Listener>();
        send_and_sync::<Connection>();
        send_and_sync::<Stream>();
        send_and_sync::<Reader>();
        send_and_sync::<Writer>();
    }
}
