//! Embed the Spoke component in a Rust program.
//!
//! The component (built from this workspace's root package and embedded in
//! this library) provides *flows*: reliable byte streams over TCP, optionally
//! secured by a shared password. This library runs it under wasmtime on
//! tokio and offers it as an ordinary async Rust API:
//!
//! ```no_run
//! use spoke_host::{NetworkPolicy, Spoke};
//! # async fn demo() -> anyhow::Result<()> {
//! let spoke = Spoke::new()?; // compile once, share everywhere
//! let policy = NetworkPolicy::deny_all().allow_connect("127.0.0.1:7000".parse()?);
//! let mut instance = spoke.instantiate(policy).await?;
//! let flow = instance.connect("127.0.0.1", 7000).await?;
//! instance.write(&flow, b"hello").await?;
//! let reply = instance.read(&flow, 4096).await?;
//! instance.close(flow).await;
//! # Ok(()) }
//! ```
//!
//! # WASI 0.3
//!
//! [`SpokeP3`] runs the component for WASI 0.3 ([`COMPONENT_P3`], contract
//! `wit/p3/flow.wit`) with the same [`NetworkPolicy`] and [`Limits`], and
//! gives its connections as tokio byte streams: [`p3::Instance::connect`] and
//! [`p3::Instance::listen`] give [`p3::Connection`]s, which are read and
//! written plainly ([`p3::Connection::into_stream`]) or secured
//! ([`p3::Connection::secure_client`], [`p3::Connection::secure_server`]);
//! [`p3::Instance::secure_client_over`] runs the spoke layer over any
//! `AsyncRead + AsyncWrite` of the host's, such as a `tokio::io::duplex`
//! pair. A [`p3::Stream`] is `AsyncRead + AsyncWrite`: `shutdown` is the
//! half-close, and errors are `std::io::Error`s carrying the [`FlowError`].
//! Each instance runs on a task of its own, so its methods take `&self`
//! and may run at once. See the [`p3`] module.
//!
//! ```no_run
//! use spoke_host::{NetworkPolicy, SpokeP3};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! # async fn demo() -> anyhow::Result<()> {
//! let spoke = SpokeP3::new()?;
//! let instance = spoke.instantiate(NetworkPolicy::deny_all()).await?;
//! // Two sessions over an in-memory pipe: no socket at all.
//! let (a, b) = tokio::io::duplex(1 << 16);
//! let config = Default::default();
//! let (server, client) = tokio::join!(
//!     instance.secure_server_over(a, ("client", "server"), b"password", &config),
//!     instance.secure_client_over(b, ("client", "server"), b"password", &config),
//! );
//! let (mut server, mut client) = (server?, client?);
//! client.write_all(b"hello").await?;
//! client.shutdown().await?;
//! let mut got = Vec::new();
//! server.read_to_end(&mut got).await?;
//! # Ok(()) }
//! ```
//!
//! # The network policy
//!
//! An instance can reach the network only as far as its [`NetworkPolicy`]
//! allows, and the default allows nothing:
//!
//! - **connect**: [`NetworkPolicy::allow_connect`] allows one IP address and
//!   port, [`NetworkPolicy::allow_connect_range`] an address and a port range.
//!   (Connecting implicitly binds the socket to the unspecified address with
//!   port 0 first; that is allowed exactly when some connect rule exists.)
//! - **listen**: [`NetworkPolicy::allow_listen`] allows binding and listening
//!   on a local address; port 0 in the rule allows any port, as an ephemeral
//!   listener needs. Peers connecting to an allowed listener are accepted.
//! - **name lookup**: [`NetworkPolicy::allow_name_lookup`]; off by default, so
//!   `connect("localhost", ..)` is denied while `connect("127.0.0.1", ..)` is
//!   governed by the connect rules alone.
//! - UDP is never available.
//!
//! The rules are enforced by wasmtime-wasi beneath the guest, so nothing the
//! guest does can get around them. A denied operation fails with
//! [`FlowError::PermissionDenied`], whose message names the address and the
//! rule that would allow it.
//!
//! # Limits and failures
//!
//! Each instance has its own [`Limits`] (memory, and a watchdog against a
//! guest that computes forever). A trap, a limit, or any host-side failure
//! becomes a [`FlowError::Trap`] (or the `Trap` inside the other error types)
//! and leaves that instance unusable; the host process and other instances
//! carry on. A misbehaving peer is an ordinary error.
//!
//! # Concurrency
//!
//! An [`Instance`] is one `Store`: its methods take `&mut self` and run one
//! at a time. Use one instance per task for independent flows, or wait on
//! several flows of one instance with [`Instance::readable`], which is
//! cancel-safe (it can lose a `tokio::select!`). The other methods must be
//! awaited to completion: cancelling one in the middle of a guest call makes
//! the instance unusable.
//!
//! # Throughput
//!
//! Bulk bytes move fastest when they never cross the component boundary:
//! [`Instance::copy`] and [`Instance::proxy`] between two TCP flows,
//! [`Instance::pipe`], [`Instance::copy_to`] and [`Instance::copy_from`]
//! between a flow and the host's readers and writers, and `pipe` in a
//! composed application, have the host move them from socket to socket or
//! stream. Reading and writing a flow from the host copies every byte in and
//! out of the guest's memory, and a caller busy writing is not reading.
//!
//! The sockets the guest reads come from wasmtime-wasi, which this workspace
//! builds with a small patch (`vendor/wasmtime-wasi/PATCH.md`): a TCP read
//! fills memory without zeroing it first, and a read and a write permit may
//! be 256 KiB, not 64 KiB. A program that depends on this library gets the stock crate
//! unless its own workspace's `Cargo.toml` points `[patch.crates-io]
//! wasmtime-wasi` at that directory (by path, or at this repository by git).
//! Everything works the same with the stock crate, only slower; `PATCH.md`
//! has the throughput bench's figures with and without it.
//!
//! An instance runs on one thread at a time. On a current-thread runtime
//! (one per core, each with its own instances, as a thread-per-core server
//! does) the instance and the socket readiness it waits on share a thread
//! and no wake-up crosses threads; the throughput bench measures this at
//! 5 to 10% less CPU than instances on a shared multi-thread runtime.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod bindings;
mod command;
mod error;
pub mod guard;
mod handle;
mod instance;
mod limits;
pub mod p3;
mod policy;
mod reader;
mod runtime;
pub mod tunnel;
mod writer;

pub use bindings::exports::spoke::flow::combinators::Stats;
pub use bindings::exports::spoke::flow::spoke::{Cipher, Config as SpokeConfig, Identities};
pub use bindings::exports::spoke::flow::types::ShutdownMode;
pub use command::{CommandComponent, CommandExit, Invocation, run_command};
pub use error::{CopyError, FlowError, HandshakeError, WriteError};
pub use handle::{Flow, Listener};
pub use instance::{Direction, Instance};
pub use limits::{BUFFER_BUDGET_VARIABLE, EPOCH_TICK, Limits, MIN_MEMORY_BYTES};
pub use p3::SpokeP3;
pub use policy::{LOOPBACK, NetworkPolicy};
pub use runtime::{COMPONENT, COMPONENT_P3, Options, Spoke};
/// A side of a Spoke handshake (the protocol core's).
pub use spoke_protocol::Role;
