//! The handles of a running 0.3 instance: [`Instance`] (connect, listen,
//! the spoke layer over a host transport), [`Listener`] and [`Connection`].
//!
//! Owns what each operation asks the instance to do (as a job for its task,
//! see `actor.rs`), the guest resources behind the handles (released when a
//! handle is dropped), and attaching the network policy's explanation to a
//! denied operation. Never enforces the policy (wasmtime-wasi does, beneath
//! the guest) and never touches the store outside a job.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use wasmtime::component::{Accessor, ResourceAny};
use zeroize::Zeroizing;

use super::actor::{Link, WeakLink};
use super::bindings::exports::spoke::flow::spoke as ws;
use super::bindings::{Component, flow_error_to_wit, handshake_error_to_wit};
use super::pipe::Pipe;
use super::stream::{self, HostTransport, Pipes, SessionArgs, Stream};
use crate::error::{FlowError, HandshakeError};
use crate::policy::{Denial, DenialLog, NetworkPolicy};
use crate::runtime::State;
use crate::{Role, SpokeConfig};

/// A running instance of the 0.3 component, with its own memory, sockets,
/// limits and network policy.
///
/// Its methods take `&self` and may run at once (an `accept` waiting does
/// not hold up a `connect`); clones are handles on the same instance. The
/// instance runs until every handle on it (this, its listeners, its
/// connections and their streams) is dropped, or until it fails: then
/// every operation and stream of it fails with
/// [`FlowError::Trap`](crate::FlowError::Trap), and other instances carry
/// on.
#[derive(Clone)]
pub struct Instance {
    link: Link,
    policy: NetworkPolicy,
    denial: DenialLog,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("policy", &self.policy)
            .field("failure", &self.failure())
            .finish()
    }
}

/// A listening TCP socket of an [`Instance`]. Dropping it stops listening.
pub struct Listener {
    link: Link,
    resource: ResourceAny,
    local: SocketAddr,
}

/// An open TCP connection of an [`Instance`], not used yet: read and write
/// it plainly with [`Connection::into_stream`], or run the spoke layer over
/// it with [`Connection::secure_client`] or [`Connection::secure_server`].
/// Dropping it closes the connection.
pub struct Connection {
    link: Link,
    resource: Option<ResourceAny>,
    local: SocketAddr,
    peer: SocketAddr,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Listener({})", self.local)
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection({} -> {})", self.local, self.peer)
    }
}

impl Instance {
    pub(crate) fn new(link: Link, policy: NetworkPolicy, denial: DenialLog) -> Self {
        Self {
            link,
            policy,
            denial,
        }
    }

    /// The network policy this instance runs under.
    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// Why this instance stopped, if it failed (a trap or a limit).
    pub fn failure(&self) -> Option<String> {
        self.link.failure()
    }

    /// Replaces the guest's generic permission message with the policy's
    /// explanation of what was denied.
    fn explain(&self, e: FlowError, denial: Option<Denial>) -> FlowError {
        match e {
            FlowError::PermissionDenied(m) => {
                let denial = denial.or_else(|| self.denial.lock().ok().and_then(|d| d.clone()));
                FlowError::PermissionDenied(denial.map(|d| self.policy.explain(&d)).unwrap_or(m))
            }
            other => other,
        }
    }

    /// Connects to `host` and `port`. An IP literal is used as is; a name is
    /// resolved first, which the policy must allow.
    pub async fn connect(&self, host: &str, port: u16) -> Result<Connection, FlowError> {
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let denial = match literal.parse::<IpAddr>() {
            Ok(ip) => Some(self.policy.connect_denial(SocketAddr::new(ip, port))),
            Err(_) if !self.policy.name_lookup_allowed() => Some(Denial::NameLookup(host.into())),
            Err(_) => None,
        };
        let host = host.to_string();
        let weak = self.link.downgrade();
        let made = self
            .link
            .call(move |accessor, component| {
                Box::pin(async move {
                    let tcp = component.spoke_flow_tcp();
                    match tcp.call_connect(accessor, host, port).await? {
                        Ok(r) => connection(accessor, component, r, &weak).await,
                        Err(e) => Ok(Err(e.into())),
                    }
                })
            })
            .await?;
        made.map_err(|e| self.explain(e, denial))
    }

    /// Connects to one socket address, without any name lookup.
    pub async fn connect_address(&self, addr: SocketAddr) -> Result<Connection, FlowError> {
        let weak = self.link.downgrade();
        let made = self
            .link
            .call(move |accessor, component| {
                Box::pin(async move {
                    let tcp = component.spoke_flow_tcp();
                    match tcp.call_connect_address(accessor, addr.into()).await? {
                        Ok(r) => connection(accessor, component, r, &weak).await,
                        Err(e) => Ok(Err(e.into())),
                    }
                })
            })
            .await?;
        made.map_err(|e| self.explain(e, Some(self.policy.connect_denial(addr))))
    }

    /// Binds to `addr` (port 0 picks a free port; see
    /// [`Listener::local_addr`]) and listens.
    pub async fn listen(&self, addr: SocketAddr) -> Result<Listener, FlowError> {
        let made = self
            .link
            .call(move |accessor, component| {
                Box::pin(async move {
                    let api = component.spoke_flow_tcp().listener();
                    let r = match api.call_bind(accessor, addr.into()).await? {
                        Ok(r) => r,
                        Err(e) => return Ok(Err(FlowError::from(e))),
                    };
                    match api.call_local_address(accessor, r).await? {
                        Ok(local) => Ok(Ok((r, SocketAddr::from(local)))),
                        Err(e) => {
                            r.resource_drop_concurrent(accessor).await?;
                            Ok(Err(e.into()))
                        }
                    }
                })
            })
            .await?;
        match made {
            Ok((resource, local)) => Ok(Listener {
                link: self.link.clone(),
                resource,
                local,
            }),
            Err(e) => Err(self.explain(e, Some(Denial::Listen(addr)))),
        }
    }

    /// Runs the client side of the spoke layer over `transport`, any tokio
    /// byte stream of the host's (a socket, a pipe, `tokio::io::duplex`),
    /// and gives the plaintext as a [`Stream`]. `ids` is `(client, server)`.
    ///
    /// The transport's bytes go into the instance and the records it makes
    /// come back out to the transport: the host moves them, with two small
    /// tasks, until both directions end. The end of the stream's writing
    /// half half-closes the transport after the close marker (version 2);
    /// a failure reading the transport reaches the session as its error.
    pub async fn secure_client_over<T>(
        &self,
        transport: T,
        ids: (&str, &str),
        password: &[u8],
        config: &SpokeConfig,
    ) -> Result<Stream, HandshakeError>
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        self.secure_over(Role::Client, transport, ids, password, config)
            .await
    }

    /// The server side of [`Instance::secure_client_over`].
    pub async fn secure_server_over<T>(
        &self,
        transport: T,
        ids: (&str, &str),
        password: &[u8],
        config: &SpokeConfig,
    ) -> Result<Stream, HandshakeError>
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        self.secure_over(Role::Server, transport, ids, password, config)
            .await
    }

    async fn secure_over<T>(
        &self,
        role: Role,
        transport: T,
        ids: (&str, &str),
        password: &[u8],
        config: &SpokeConfig,
    ) -> Result<Stream, HandshakeError>
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (from_peer, for_peer) = (Pipe::without_outcome(), Pipe::without_outcome());
        self.link.register(&from_peer);
        self.link.register(&for_peer);
        let (end_tx, end_rx) = oneshot::channel();
        stream::pump(
            transport,
            from_peer.writer(self.link.clone()),
            end_tx,
            for_peer.reader(self.link.clone()),
        );
        let host = HostTransport {
            from_peer: from_peer.clone(),
            from_peer_end: end_rx,
            for_peer: for_peer.clone(),
        };
        let args = session_args(role, ids, password, config);
        let secured = secure(&self.link, args, Beneath::Host(host)).await;
        if let Err(e) = &secured {
            // Stop the pumps: the transport is done with.
            let e = FlowError::Other(e.to_string());
            from_peer.fail(e.clone());
            for_peer.fail(e);
        }
        secured
    }

    /// The component's own one-line rendering of `e` (the WIT
    /// `error-message`); `FlowError`'s `Display` gives the same text.
    pub async fn error_message(&self, e: &FlowError) -> Result<String, FlowError> {
        let Some(wit) = flow_error_to_wit(e) else {
            return Ok(e.to_string());
        };
        self.link
            .call(move |accessor, component| {
                Box::pin(async move {
                    component
                        .spoke_flow_types()
                        .call_error_message(accessor, wit)
                        .await
                })
            })
            .await
    }

    /// The component's rendering of a handshake error
    /// (`handshake-error-message`).
    pub async fn handshake_error_message(&self, e: &HandshakeError) -> Result<String, FlowError> {
        let Some(wit) = handshake_error_to_wit(e) else {
            return Ok(e.to_string());
        };
        self.link
            .call(move |accessor, component| {
                Box::pin(async move {
                    component
                        .spoke_flow_spoke()
                        .call_handshake_error_message(accessor, wit)
                        .await
                })
            })
            .await
    }

    /// The component's default handshake configuration.
    pub async fn default_config(&self) -> Result<SpokeConfig, FlowError> {
        let config = self
            .link
            .call(move |accessor, component| {
                Box::pin(async move {
                    component
                        .spoke_flow_spoke()
                        .call_default_config(accessor)
                        .await
                })
            })
            .await?;
        Ok(config.into())
    }
}

impl Listener {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Waits for the next connection. An error concerns that one attempt
    /// only: the listener keeps listening. One `accept` at a time: a second
    /// while one waits gets `invalid-state`.
    pub async fn accept(&self) -> Result<Connection, FlowError> {
        let r = self.resource;
        let weak = self.link.downgrade();
        self.link
            .call(move |accessor, component| {
                Box::pin(async move {
                    let api = component.spoke_flow_tcp().listener();
                    match api.call_accept(accessor, r).await? {
                        Ok(c) => connection(accessor, component, c, &weak).await,
                        Err(e) => Ok(Err(e.into())),
                    }
                })
            })
            .await?
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.link.release(self.resource);
    }
}

/// A [`Connection`] handle for the guest's connection `r`, with its
/// addresses; or the error that stopped it (then `r` is released).
async fn connection(
    accessor: &Accessor<State>,
    component: &Component,
    r: ResourceAny,
    link: &WeakLink,
) -> wasmtime::Result<Result<Connection, FlowError>> {
    let api = component.spoke_flow_tcp().connection();
    let local = api.call_local_address(accessor, r).await?;
    let peer = api.call_remote_address(accessor, r).await?;
    let link = link.upgrade();
    match (local, peer, link) {
        (Ok(local), Ok(peer), Some(link)) => Ok(Ok(Connection {
            link,
            resource: Some(r),
            local: local.into(),
            peer: peer.into(),
        })),
        (local, peer, _) => {
            r.resource_drop_concurrent(accessor).await?;
            Ok(Err(match (local, peer) {
                (Err(e), _) | (_, Err(e)) => e.into(),
                _ => FlowError::Other("every handle on the instance was dropped".into()),
            }))
        }
    }
}

impl Connection {
    /// The local address of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The connection's bytes as a plain [`Stream`]. They never enter the
    /// guest: the instance hands the socket's streams to the host's pipes.
    pub fn into_stream(mut self) -> Stream {
        let pipes = Pipes::new();
        let stream = self.stream_of(&pipes, None);
        let Some(r) = self.resource.take() else {
            pipes.fail(FlowError::InvalidState("the connection was used".into()));
            return stream;
        };
        let job_pipes = Pipes {
            incoming: pipes.incoming.clone(),
            outgoing: pipes.outgoing.clone(),
        };
        let sent = self.link.spawn(move |accessor, component| {
            Box::pin(async move { stream::open_tcp(accessor, component, r, &job_pipes).await })
        });
        if let Err(e) = sent {
            pipes.fail(e);
        }
        stream
    }

    /// Runs the client side of the spoke layer over this connection and
    /// gives the plaintext as a [`Stream`]. `ids` is `(client, server)`.
    /// The records go between the socket and the session inside the
    /// instance; only plaintext crosses to the host. On failure the
    /// connection is closed.
    pub async fn secure_client(
        self,
        ids: (&str, &str),
        password: &[u8],
        config: &SpokeConfig,
    ) -> Result<Stream, HandshakeError> {
        self.secure(Role::Client, ids, password, config).await
    }

    /// The server side of [`Connection::secure_client`].
    pub async fn secure_server(
        self,
        ids: (&str, &str),
        password: &[u8],
        config: &SpokeConfig,
    ) -> Result<Stream, HandshakeError> {
        self.secure(Role::Server, ids, password, config).await
    }

    async fn secure(
        mut self,
        role: Role,
        ids: (&str, &str),
        password: &[u8],
        config: &SpokeConfig,
    ) -> Result<Stream, HandshakeError> {
        let r = self.resource.take().ok_or_else(|| {
            HandshakeError::Flow(FlowError::InvalidState("the connection was used".into()))
        })?;
        let args = session_args(role, ids, password, config);
        secure(&self.link, args, Beneath::Tcp(r)).await
    }

    fn stream_of(&self, pipes: &Pipes, established: Option<stream::Established>) -> Stream {
        self.link.register(&pipes.incoming);
        self.link.register(&pipes.outgoing);
        Stream::new(
            pipes.incoming.reader(self.link.clone()),
            pipes.outgoing.writer(self.link.clone()),
            established,
        )
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(r) = self.resource.take() {
            self.link.release(r);
        }
    }
}

/// The arguments of a session, the password in a copy that is wiped.
fn session_args(
    role: Role,
    ids: (&str, &str),
    password: &[u8],
    config: &SpokeConfig,
) -> (Role, ws::Identities, Zeroizing<Vec<u8>>, ws::Config) {
    let ids = ws::Identities {
        client: ids.0.to_string(),
        server: ids.1.to_string(),
    };
    (
        role,
        ids,
        Zeroizing::new(password.to_vec()),
        (*config).into(),
    )
}

/// The transport beneath a session.
enum Beneath {
    /// A TCP connection of the instance.
    Tcp(ResourceAny),
    /// A transport of the host's.
    Host(HostTransport),
}

/// Sets a session up over `beneath` in `link`'s instance and wires it to
/// new pipes; gives the plaintext stream once the handshake succeeded.
async fn secure(
    link: &Link,
    (role, ids, password, config): (Role, ws::Identities, Zeroizing<Vec<u8>>, ws::Config),
    beneath: Beneath,
) -> Result<Stream, HandshakeError> {
    let pipes = Pipes::new();
    link.register(&pipes.incoming);
    link.register(&pipes.outgoing);
    let job_pipes = Pipes {
        incoming: pipes.incoming.clone(),
        outgoing: pipes.outgoing.clone(),
    };
    let outcome = link
        .call(move |accessor, component| {
            Box::pin(async move {
                let args = SessionArgs {
                    role,
                    ids,
                    password: password.to_vec(),
                    config,
                };
                match beneath {
                    Beneath::Tcp(r) => {
                        stream::secure_tcp(accessor, component, r, args, &job_pipes).await
                    }
                    Beneath::Host(host) => {
                        stream::secure_host(accessor, component, host, args, &job_pipes).await
                    }
                }
            })
        })
        .await;
    match outcome {
        Ok(Ok(established)) => Ok(Stream::new(
            pipes.incoming.reader(link.clone()),
            pipes.outgoing.writer(link.clone()),
            Some(established),
        )),
        Ok(Err(e)) => Err(e),
        Err(e) => {
            pipes.fail(e.clone());
            Err(HandshakeError::Flow(e))
        }
    }
}
