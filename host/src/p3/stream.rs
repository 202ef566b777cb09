//! Byte streams over the 0.3 component: [`Stream`] (a reader and a writer
//! half), and the jobs that wire a guest's directions to the host's pipes:
//! a plain TCP connection, the spoke layer over a TCP connection, and the
//! spoke layer over a host transport (the functor).
//!
//! Owns the order of the guest calls that set a connection or a session up
//! (take the transport's directions, start the session, hand its bytes for
//! the peer to the transport, run the handshake, then take the plaintext
//! directions) and releasing the guest resources once their directions run
//! on their own. Never moves a byte itself: the pipes (`pipe.rs`) do.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::oneshot;
use wasmtime::component::{Accessor, FutureReader, ResourceAny, StreamReader};

use super::actor::Link;
use super::bindings::Component;
use super::bindings::exports::spoke::flow::spoke as ws;
use super::bindings::exports::spoke::flow::types::Error as WitError;
use super::halves::{Reader, Writer};
use super::pipe::{Drain, Feed, Outcome, Pipe};
use crate::error::{FlowError, HandshakeError};
use crate::runtime::State;
use crate::{Cipher, Role};

/// A connection's bytes as a tokio stream: what the peer sent, and what to
/// send it. Split it with [`Stream::into_split`] to read and write from
/// different tasks.
///
/// `shutdown` half-closes (the peer reads end-of-stream, on an encrypted
/// version-2 session after the close marker) and reading goes on until the
/// peer's end. Errors are `std::io::Error`s whose message is the contract's
/// one line and whose [`get_ref`](std::io::Error::get_ref) is the
/// [`FlowError`](crate::FlowError).
#[derive(Debug)]
pub struct Stream {
    reader: Reader,
    writer: Writer,
    established: Option<Established>,
}

/// What the handshake of an encrypted [`Stream`] agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Established {
    /// The protocol version.
    pub version: u16,
    /// The cipher of server-to-client records.
    pub server_to_client: Cipher,
    /// The cipher of client-to-server records.
    pub client_to_server: Cipher,
}

impl From<ws::Established> for Established {
    fn from(e: ws::Established) -> Self {
        Self {
            version: e.version,
            server_to_client: e.server_to_client.into(),
            client_to_server: e.client_to_server.into(),
        }
    }
}

impl Stream {
    pub(crate) fn new(reader: Reader, writer: Writer, established: Option<Established>) -> Self {
        Self {
            reader,
            writer,
            established,
        }
    }

    /// The reading and the writing half, to use from different tasks.
    pub fn into_split(self) -> (Reader, Writer) {
        (self.reader, self.writer)
    }

    /// What the handshake agreed on, for an encrypted stream; `None` for a
    /// plain one.
    pub fn established(&self) -> Option<Established> {
        self.established
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}

/// The pipes of a stream being set up: guest-to-host and host-to-guest.
pub(crate) struct Pipes {
    pub(crate) incoming: Pipe,
    pub(crate) outgoing: Pipe,
}

impl Pipes {
    /// New pipes, made `link`'s instance's (to fail if it stops).
    pub(crate) fn new_in(link: &Link) -> Self {
        let pipes = Self {
            incoming: Pipe::new(),
            outgoing: Pipe::new(),
        };
        link.register(&pipes.incoming);
        link.register(&pipes.outgoing);
        pipes
    }

    /// The host's stream over these pipes, keeping `link`'s instance
    /// running.
    pub(crate) fn stream(&self, link: &Link, established: Option<Established>) -> Stream {
        Stream::new(
            Reader::new(&self.incoming, link.clone()),
            Writer::new(&self.outgoing, link.clone()),
            established,
        )
    }

    /// Fails both directions with `e` (their setup failed).
    pub(crate) fn fail(&self, e: FlowError) {
        self.incoming.fail(e.clone());
        self.outgoing.fail(e);
    }
}

impl Clone for Pipes {
    fn clone(&self) -> Self {
        Self {
            incoming: self.incoming.clone(),
            outgoing: self.outgoing.clone(),
        }
    }
}

/// Pipes the guest's `bytes` (and how they end, if said) into `pipe`.
fn take_in(
    accessor: &Accessor<State>,
    bytes: StreamReader<u8>,
    end: Option<FutureReader<Result<(), WitError>>>,
    pipe: &Pipe,
) -> wasmtime::Result<()> {
    accessor.with(|mut access| {
        bytes.pipe(&mut access, Feed(pipe.clone()))?;
        if let Some(end) = end {
            end.pipe(&mut access, Outcome(pipe.clone()))?;
        }
        Ok(())
    })
}

/// A stream for the guest that yields what is written into `pipe`.
fn give_out(accessor: &Accessor<State>, pipe: &Pipe) -> wasmtime::Result<StreamReader<u8>> {
    accessor.with(|mut access| StreamReader::new(&mut access, Drain(pipe.clone())))
}

/// Takes how a direction the host gave ended into `pipe`.
fn take_outcome(
    accessor: &Accessor<State>,
    end: FutureReader<Result<(), WitError>>,
    pipe: &Pipe,
) -> wasmtime::Result<()> {
    accessor.with(|mut access| end.pipe(&mut access, Outcome(pipe.clone())))
}

/// Wires a plain TCP connection's directions to `pipes` and releases the
/// connection (its directions keep it open).
pub(crate) async fn open_tcp(
    accessor: &Accessor<State>,
    component: &Component,
    connection: ResourceAny,
    pipes: &Pipes,
) -> wasmtime::Result<()> {
    let tcp = component.spoke_flow_tcp().connection();
    let (bytes, end) = tcp.call_receive(accessor, connection).await?;
    take_in(accessor, bytes, Some(end), &pipes.incoming)?;
    let data = give_out(accessor, &pipes.outgoing)?;
    let sent = tcp.call_send(accessor, connection, data).await?;
    take_outcome(accessor, sent, &pipes.outgoing)?;
    connection.resource_drop_concurrent(accessor).await
}

/// What a session needs besides its transport.
pub(crate) struct SessionArgs {
    pub(crate) role: Role,
    pub(crate) ids: ws::Identities,
    pub(crate) password: Vec<u8>,
    pub(crate) config: ws::Config,
    /// The handshake's deadline, in nanoseconds from its start (`None`:
    /// none).
    pub(crate) timeout: Option<u64>,
}

impl SessionArgs {
    /// Starts the session over `incoming`; returns it and its bytes for the
    /// peer.
    async fn start(
        self,
        accessor: &Accessor<State>,
        component: &Component,
        incoming: StreamReader<u8>,
        end: Option<FutureReader<Result<(), WitError>>>,
    ) -> wasmtime::Result<(ResourceAny, StreamReader<u8>)> {
        let api = component.spoke_flow_spoke().session();
        let Self {
            role,
            ids,
            password,
            config,
            timeout: _,
        } = self;
        match role {
            Role::Client => {
                api.call_client(accessor, incoming, end, ids, password, config)
                    .await
            }
            Role::Server => {
                api.call_server(accessor, incoming, end, ids, password, config)
                    .await
            }
        }
    }
}

/// Runs the spoke layer over a TCP connection of the instance, which the
/// session takes whole: its records go between the socket and the session
/// without leaving the instance.
pub(crate) async fn secure_tcp(
    accessor: &Accessor<State>,
    component: &Component,
    connection: ResourceAny,
    args: SessionArgs,
    pipes: &Pipes,
) -> wasmtime::Result<Result<Established, HandshakeError>> {
    let api = component.spoke_flow_spoke().session();
    let SessionArgs {
        role,
        ids,
        password,
        config,
        timeout,
    } = args;
    let session = match role {
        Role::Client => {
            api.call_client_over_tcp(accessor, connection, ids, password, config)
                .await?
        }
        Role::Server => {
            api.call_server_over_tcp(accessor, connection, ids, password, config)
                .await?
        }
    };
    establish(accessor, component, session, timeout, pipes).await
}

/// The host side of a transport given to the spoke layer: its bytes from
/// the peer, how they ended, and its bytes for the peer.
pub(crate) struct HostTransport {
    pub(crate) from_peer: Pipe,
    pub(crate) from_peer_end: oneshot::Receiver<Result<(), FlowError>>,
    pub(crate) for_peer: Pipe,
}

/// Runs the spoke layer over a transport of the host's (the functor).
pub(crate) async fn secure_host(
    accessor: &Accessor<State>,
    component: &Component,
    transport: HostTransport,
    args: SessionArgs,
    pipes: &Pipes,
) -> wasmtime::Result<Result<Established, HandshakeError>> {
    let HostTransport {
        from_peer,
        from_peer_end,
        for_peer,
    } = transport;
    let timeout = args.timeout;
    let bytes = give_out(accessor, &from_peer)?;
    let end = accessor.with(|mut access| {
        FutureReader::new(&mut access, async move {
            let end = from_peer_end.await.unwrap_or(Ok(()));
            wasmtime::error::Ok(end.map_err(|e| {
                super::bindings::flow_error_to_wit(&e)
                    .unwrap_or_else(|| WitError::Other(e.to_string()))
            }))
        })
    })?;
    let (session, to_peer) = args.start(accessor, component, bytes, Some(end)).await?;
    take_in(accessor, to_peer, None, &for_peer)?;
    establish(accessor, component, session, timeout, pipes).await
}

/// Runs the session's handshake (within `timeout` nanoseconds if there is
/// one, a deadline the instance keeps); then wires its plaintext
/// directions to `pipes` and releases it (its directions run on their own).
async fn establish(
    accessor: &Accessor<State>,
    component: &Component,
    session: ResourceAny,
    timeout: Option<u64>,
    pipes: &Pipes,
) -> wasmtime::Result<Result<Established, HandshakeError>> {
    let api = component.spoke_flow_spoke().session();
    let outcome = match timeout {
        None => api.call_handshake(accessor, session).await?,
        Some(ns) => api.call_handshake_within(accessor, session, ns).await?,
    };
    let established = match outcome {
        Ok(e) => e,
        Err(e) => {
            session.resource_drop_concurrent(accessor).await?;
            return Ok(Err(e.into()));
        }
    };
    let (bytes, end) = api.call_receive(accessor, session).await?;
    take_in(accessor, bytes, Some(end), &pipes.incoming)?;
    let data = give_out(accessor, &pipes.outgoing)?;
    let sent = api.call_send(accessor, session, data).await?;
    take_outcome(accessor, sent, &pipes.outgoing)?;
    session.resource_drop_concurrent(accessor).await?;
    Ok(Ok(established.into()))
}

/// Copies a host transport's reading half into `from_peer` until its end,
/// then says how it ended; and `for_peer` into its writing half, then
/// half-closes it. Runs as two tokio tasks, which end with the transport or
/// when the session stops taking its bytes; they do not keep the instance
/// running.
pub(crate) fn pump<T>(
    transport: T,
    from_peer: &Pipe,
    end: oneshot::Sender<Result<(), FlowError>>,
    for_peer: &Pipe,
) where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut read, mut write) = tokio::io::split(transport);
    let stop = from_peer.clone();
    let mut from_peer = Writer::detached(from_peer);
    tokio::spawn(async move {
        let ended = tokio::select! {
            ended = tokio::io::copy(&mut read, &mut from_peer) => ended,
            () = stop.stopped() => return,
        };
        let _ = end.send(ended.map(drop).map_err(transport_error));
        // Dropping the writer ends the guest's stream after its last byte.
        drop(from_peer);
    });
    let mut for_peer = tokio::io::BufReader::with_capacity(1 << 16, Reader::detached(for_peer));
    tokio::spawn(async move {
        let _ = tokio::io::copy_buf(&mut for_peer, &mut write).await;
        let _ = write.shutdown().await;
    });
}

/// The contract's error for a host transport's failure.
fn transport_error(e: io::Error) -> FlowError {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            FlowError::ConnectionReset
        }
        io::ErrorKind::TimedOut => FlowError::TimedOut,
        _ => FlowError::Other(format!("the transport failed: {e}")),
    }
}
