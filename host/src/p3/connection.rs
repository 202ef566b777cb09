//! The TCP handles of a 0.3 instance: [`Listener`] and [`Connection`],
//! and setting a session up over a connection or a host transport.
//!
//! Owns the guest resources behind the handles (released when a handle is
//! dropped), the connections an `accept` got after its caller stopped
//! waiting (kept for the next `accept`), and the password's copy for a
//! handshake (wiped). Never touches the store outside a job.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use wasmtime::component::{Accessor, ResourceAny};
use zeroize::Zeroizing;

use super::actor::{Link, WeakLink};
use super::bindings::Component;
use super::bindings::exports::spoke::flow::spoke as ws;
use super::stream::{self, HostTransport, Pipes, SessionArgs, Stream};
use crate::error::{FlowError, HandshakeError};
use crate::runtime::State;
use crate::{Role, SpokeConfig};

/// A listening TCP socket of an [`Instance`](super::Instance). Dropping it stops listening.
pub struct Listener {
    link: Link,
    resource: ResourceAny,
    local: SocketAddr,
    accepted: Arc<Accepted>,
}

/// What the listener's `accept` calls into the guest got, for the callers
/// of [`Listener::accept`]: one guest call waits at a time, and what it gets
/// waits here if its caller is gone.
#[derive(Default)]
struct Accepted {
    state: Mutex<AcceptState>,
    ready: Notify,
}

#[derive(Default)]
struct AcceptState {
    got: VecDeque<Result<Connection, FlowError>>,
    /// A guest `accept` is running.
    waiting: bool,
}

/// An open TCP connection of an [`Instance`](super::Instance), not used yet: read and write
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

impl Listener {
    /// A handle on the guest's listener `resource`, bound to `local`.
    pub(crate) fn new(link: Link, resource: ResourceAny, local: SocketAddr) -> Self {
        Self {
            link,
            resource,
            local,
            accepted: Default::default(),
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Waits for the next connection. An error concerns that one attempt
    /// only: the listener keeps listening. Cancel-safe: a connection that
    /// arrives after the caller stopped waiting goes to the next `accept`.
    pub async fn accept(&self) -> Result<Connection, FlowError> {
        loop {
            let ready = self.accepted.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            {
                let mut state = self.accepted.lock();
                if let Some(got) = state.got.pop_front() {
                    return got;
                }
                if !state.waiting {
                    state.waiting = true;
                    self.start_accept()?;
                }
            }
            ready.await;
        }
    }

    /// Starts one guest `accept`, whose outcome goes to `accepted`.
    fn start_accept(&self) -> Result<(), FlowError> {
        let r = self.resource;
        let weak = self.link.downgrade();
        let delivery = Delivery(Some(self.accepted.clone()), self.link.downgrade());
        self.link
            .spawn(move |accessor, component| {
                Box::pin(async move {
                    let mut delivery = delivery;
                    let api = component.spoke_flow_tcp().listener();
                    let got = match api.call_accept(accessor, r).await {
                        Ok(Ok(c)) => connection(accessor, component, c, &weak).await,
                        Ok(Err(e)) => Ok(Err(e.into())),
                        Err(trap) => Err(trap),
                    };
                    match got {
                        Ok(got) => {
                            delivery.deliver(got);
                            Ok(())
                        }
                        Err(trap) => {
                            delivery.deliver(Err(FlowError::Trap(format!("{trap:#}"))));
                            Err(trap)
                        }
                    }
                })
            })
            .inspect_err(|_| self.accepted.lock().waiting = false)
    }
}

impl Accepted {
    fn lock(&self) -> std::sync::MutexGuard<'_, AcceptState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Delivers a guest `accept`'s outcome to its listener; if the job is
/// dropped first (the instance stopped), delivers the instance's failure.
struct Delivery(Option<Arc<Accepted>>, WeakLink);

impl Delivery {
    fn deliver(&mut self, got: Result<Connection, FlowError>) {
        if let Some(accepted) = self.0.take() {
            let mut state = accepted.lock();
            state.got.push_back(got);
            state.waiting = false;
            drop(state);
            accepted.ready.notify_waiters();
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        let gone = self.1.gone();
        self.deliver(Err(gone));
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.link.release(self.resource);
    }
}

/// A [`Connection`] handle for the guest's connection `r`, with its
/// addresses; or the error that stopped it (then `r` is released).
pub(crate) async fn connection(
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
        let pipes = Pipes::new_in(&self.link);
        let stream = pipes.stream(&self.link, None);
        let Some(r) = self.resource.take() else {
            pipes.fail(FlowError::InvalidState("the connection was used".into()));
            return stream;
        };
        let job_pipes = pipes.clone();
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
        self.secure(Role::Client, ids, password, config, None).await
    }

    /// The server side of [`Connection::secure_client`].
    pub async fn secure_server(
        self,
        ids: (&str, &str),
        password: &[u8],
        config: &SpokeConfig,
    ) -> Result<Stream, HandshakeError> {
        self.secure(Role::Server, ids, password, config, None).await
    }

    /// [`Connection::secure_client`] within `timeout`: a peer that has not
    /// completed its part by then fails the handshake with
    /// [`FlowError::TimedOut`]. The instance keeps the deadline, so it
    /// stays usable (its listener, its other connections) either way.
    pub async fn secure_client_within(
        self,
        ids: (&str, &str),
        password: &[u8],
        config: &SpokeConfig,
        timeout: Duration,
    ) -> Result<Stream, HandshakeError> {
        let timeout = Some(nanoseconds(timeout));
        self.secure(Role::Client, ids, password, config, timeout)
            .await
    }

    /// [`Connection::secure_server`] within `timeout`, as
    /// [`Connection::secure_client_within`]: what a server facing the
    /// network uses, so that a silent peer cannot hold it up.
    pub async fn secure_server_within(
        self,
        ids: (&str, &str),
        password: &[u8],
        config: &SpokeConfig,
        timeout: Duration,
    ) -> Result<Stream, HandshakeError> {
        let timeout = Some(nanoseconds(timeout));
        self.secure(Role::Server, ids, password, config, timeout)
            .await
    }

    async fn secure(
        mut self,
        role: Role,
        ids: (&str, &str),
        password: &[u8],
        config: &SpokeConfig,
        timeout: Option<u64>,
    ) -> Result<Stream, HandshakeError> {
        let r = self.resource.take().ok_or_else(|| {
            HandshakeError::Flow(FlowError::InvalidState("the connection was used".into()))
        })?;
        let args = session_args(role, ids, password, config);
        secure(&self.link, args, timeout, Beneath::Tcp(r)).await
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
pub(crate) fn session_args(
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
pub(crate) enum Beneath {
    /// A TCP connection of the instance.
    Tcp(ResourceAny),
    /// A transport of the host's.
    Host(HostTransport),
}

/// Sets a session up over `beneath` in `link`'s instance and wires it to
/// new pipes; gives the plaintext stream once the handshake succeeded.
pub(crate) async fn secure(
    link: &Link,
    (role, ids, password, config): (Role, ws::Identities, Zeroizing<Vec<u8>>, ws::Config),
    timeout: Option<u64>,
    beneath: Beneath,
) -> Result<Stream, HandshakeError> {
    let pipes = Pipes::new_in(link);
    let job_pipes = pipes.clone();
    let outcome = link
        .call(move |accessor, component| {
            Box::pin(async move {
                let args = SessionArgs {
                    role,
                    ids,
                    password: password.to_vec(),
                    config,
                    timeout,
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
        Ok(Ok(established)) => Ok(pipes.stream(link, Some(established))),
        Ok(Err(e)) => Err(e),
        Err(e) => {
            pipes.fail(e.clone());
            Err(HandshakeError::Flow(e))
        }
    }
}

/// `d` in nanoseconds, as WASI clocks count, saturating.
fn nanoseconds(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
