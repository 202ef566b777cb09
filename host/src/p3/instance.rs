//! A running 0.3 instance: [`Instance`] (connect, listen, the spoke layer
//! over a host transport, the component's messages).
//!
//! Owns what each of these operations asks the instance to do (as a job
//! for its task, see `actor.rs`), and attaching the network policy's
//! explanation to a denied operation. Never enforces the policy
//! (wasmtime-wasi does, beneath the guest) and never touches the store
//! outside a job.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

use super::actor::Link;
use super::bindings::{flow_error_to_wit, handshake_error_to_wit};
use super::connection::{Beneath, Connection, Listener, connection, secure, session_args};
use super::pipe::Pipe;
use super::stream::{self, HostTransport, Stream};
use crate::error::{FlowError, HandshakeError};
use crate::policy::{Denial, DenialLog, NetworkPolicy};
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
            Ok((resource, local)) => Ok(Listener::new(self.link.clone(), resource, local)),
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
        stream::pump(transport, &from_peer, end_tx, &for_peer);
        let host = HostTransport {
            from_peer: from_peer.clone(),
            from_peer_end: end_rx,
            for_peer: for_peer.clone(),
        };
        let args = session_args(role, ids, password, config);
        let secured = secure(&self.link, args, None, Beneath::Host(host)).await;
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
