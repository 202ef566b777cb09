//! One running instance of the Spoke component, and the operations on the
//! flows and listeners it owns (their handles are [`crate::handle`]'s).
//!
//! This module owns the `Store`: every call into the guest (all through
//! `Instance::call` and its variants), turning traps into errors (and the
//! instance into a dead one), attaching the network policy's explanation to
//! permission errors, releasing dropped handles, and waiting on a flow's
//! pollable in the host. It never enforces the policy itself (wasmtime-wasi
//! does, beneath the guest).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use wasmtime::Store;
use wasmtime::component::{Resource, ResourceAny, ResourceTable};
use wasmtime_wasi::p2::bindings::io::poll::HostPollable;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable};

use crate::bindings::Component;
use crate::bindings::exports::spoke::flow::combinators::Stats;
use crate::bindings::exports::spoke::flow::spoke::{Cipher, Config as SpokeConfig, Identities};
use crate::bindings::exports::spoke::flow::types::{GuestFlow, ShutdownMode};
use crate::error::{CopyError, FlowError, HandshakeError, WriteError};
use crate::handle::{Flow, Graveyard, Handle, Listener};
use crate::policy::{Denial, DenialLog, NetworkPolicy};
use crate::reader::ReaderStream;
use crate::runtime::{Spoke, State};
use crate::writer::WriterStream;

/// An epoch deadline that is never reached while a short call runs.
const NO_YIELD: u64 = 1 << 40;

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// A running Spoke component with its own memory, sockets, limits and
/// network policy. All methods are async and take `&mut self`.
///
/// Flows and listeners are handles into this instance: pass them only to
/// the instance that created them (others answer `invalid-state`). Dropping
/// a handle releases it at the instance's next call; dropping the instance
/// releases everything.
pub struct Instance {
    store: Store<State>,
    bindings: Component,
    id: u64,
    policy: NetworkPolicy,
    denial: DenialLog,
    graveyard: Graveyard,
    /// A pollable `readable` left behind when its caller stopped waiting.
    pending_pollable: Option<Resource<DynPollable>>,
    /// Set while a guest call runs; still set at the next call if the
    /// previous one was cancelled half-way.
    in_call: bool,
    /// Why the instance can no longer be used.
    dead: Option<String>,
    _spoke: Spoke,
}

/// The outcome of one direction of [`Instance::proxy`].
#[derive(Clone, Debug)]
pub struct Direction {
    /// What was moved before it ended.
    pub stats: Stats,
    /// `None` if it ended with the source's end-of-stream.
    pub error: Option<CopyError>,
}

impl Instance {
    pub(crate) fn new(
        store: Store<State>,
        bindings: Component,
        policy: NetworkPolicy,
        denial: DenialLog,
        spoke: Spoke,
    ) -> Self {
        Self {
            store,
            bindings,
            id: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            policy,
            denial,
            graveyard: Default::default(),
            pending_pollable: None,
            in_call: false,
            dead: None,
            _spoke: spoke,
        }
    }

    /// The network policy this instance runs under.
    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// Why this instance is no longer usable, if it is not.
    pub fn failure(&self) -> Option<&str> {
        self.dead.as_deref()
    }

    // ---- plumbing -------------------------------------------------------

    fn handle(&self, resource: ResourceAny) -> Handle {
        Handle::new(resource, self.id, &self.graveyard)
    }

    fn flow(&self, resource: ResourceAny) -> Flow {
        Flow(self.handle(resource))
    }

    /// The resource of `h` if it belongs here.
    fn own(&self, h: &Handle) -> Result<ResourceAny, FlowError> {
        h.resource_in(self.id)
    }

    /// One call into the guest: [`Instance::enter`], `call` with the
    /// bindings and the store, [`Instance::leave`]. Every guest call but
    /// those of [`Instance::call_at_once`] goes through here.
    async fn call<T>(
        &mut self,
        call: impl AsyncFnOnce(&Component, &mut Store<State>) -> wasmtime::Result<T>,
    ) -> Result<T, FlowError> {
        self.enter(true).await?;
        let out = call(&self.bindings, &mut self.store).await;
        self.leave(out)
    }

    /// A call of one of `f`'s methods whose WIT result is a `result`, with
    /// `f`'s resource: a foreign handle, a trap and the method's own error
    /// all come back as `E`.
    async fn on_flow<T, W, E: From<FlowError> + From<W>>(
        &mut self,
        f: &Flow,
        call: impl AsyncFnOnce(
            GuestFlow<'_>,
            &mut Store<State>,
            ResourceAny,
        ) -> wasmtime::Result<Result<T, W>>,
    ) -> Result<T, E> {
        let r = self.own(&f.0)?;
        Ok(self
            .call(async |c, store| call(c.spoke_flow_types().flow(), store, r).await)
            .await??)
    }

    /// A call that must complete in one poll, so that the future running it
    /// can never be dropped half-way: `call` may use only non-blocking host
    /// functions, it gets no epoch yield, and dropped handles (whose guest
    /// destructors may block) are left for the next call to release.
    async fn call_at_once<T>(
        &mut self,
        call: impl AsyncFnOnce(&Component, &mut Store<State>) -> wasmtime::Result<T>,
    ) -> Result<T, FlowError> {
        self.enter(false).await?;
        self.store.set_epoch_deadline(NO_YIELD);
        let out = call(&self.bindings, &mut self.store).await;
        self.store.set_epoch_deadline(1);
        self.leave(out)
    }

    /// Prepares a guest call: refuses if the instance is dead, releases
    /// leftovers (dropped handles only if `release`: releasing runs guest
    /// destructors, which may block), and forgets older policy denials.
    async fn enter(&mut self, release: bool) -> Result<(), FlowError> {
        if let Some(why) = &self.dead {
            return Err(FlowError::Trap(format!("the instance is unusable: {why}")));
        }
        if self.in_call {
            self.dead = Some("a call into the component was cancelled before it finished".into());
            return Err(FlowError::Trap(self.dead.clone().unwrap_or_default()));
        }
        if let Some(p) = self.pending_pollable.take() {
            let _ = HostPollable::drop(&mut self.store.data_mut().table, p);
        }
        let graves = match release {
            true => self.graveyard.take_all(),
            false => Vec::new(),
        };
        for r in graves {
            self.in_call = true;
            let dropped = r.resource_drop_async(&mut self.store).await;
            self.leave(dropped)?;
        }
        if let Ok(mut d) = self.denial.lock() {
            *d = None;
        }
        self.in_call = true;
        Ok(())
    }

    /// Ends a guest call; a trap kills the instance.
    fn leave<T>(&mut self, r: wasmtime::Result<T>) -> Result<T, FlowError> {
        self.in_call = false;
        r.map_err(|e| {
            let why = format!("{e:#}");
            self.dead = Some(why.clone());
            // Nothing will run in this instance again: free its sockets now,
            // so that peers see the connections end.
            self.pending_pollable = None;
            drop(std::mem::replace(
                &mut self.store.data_mut().table,
                ResourceTable::new(),
            ));
            FlowError::Trap(why)
        })
    }

    /// Replaces the guest's generic permission message with the policy's
    /// explanation of what was denied.
    fn explain(&self, e: FlowError, fallback: Option<Denial>) -> FlowError {
        match e {
            FlowError::PermissionDenied(m) => {
                let denial = self.denial.lock().ok().and_then(|d| d.clone()).or(fallback);
                FlowError::PermissionDenied(denial.map(|d| self.policy.explain(&d)).unwrap_or(m))
            }
            other => other,
        }
    }

    // ---- connecting -----------------------------------------------------

    /// Connects to `host` and `port`. An IP literal is used as is; a name is
    /// resolved first, which the policy must allow.
    pub async fn connect(&mut self, host: &str, port: u16) -> Result<Flow, FlowError> {
        let is_name = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_err();
        let fallback = (is_name && !self.policy.name_lookup_allowed())
            .then(|| Denial::NameLookup(host.into()));
        match self
            .call(async |c, store| c.spoke_flow_tcp().call_connect(store, host, port).await)
            .await?
        {
            Ok(f) => Ok(self.flow(f)),
            Err(e) => Err(self.explain(e.into(), fallback)),
        }
    }

    /// Connects to one socket address, without any name lookup.
    pub async fn connect_address(&mut self, addr: SocketAddr) -> Result<Flow, FlowError> {
        match self
            .call(async |c, store| {
                c.spoke_flow_tcp()
                    .call_connect_address(store, addr.into())
                    .await
            })
            .await?
        {
            Ok(f) => Ok(self.flow(f)),
            Err(e) => Err(self.explain(e.into(), Some(Denial::Connect(addr)))),
        }
    }

    /// Binds to `addr` (port 0 picks an ephemeral port) and listens.
    pub async fn listen(&mut self, addr: SocketAddr) -> Result<Listener, FlowError> {
        match self
            .call(async |c, store| {
                c.spoke_flow_tcp()
                    .listener()
                    .call_bind(store, addr.into())
                    .await
            })
            .await?
        {
            Ok(l) => Ok(Listener(self.handle(l))),
            Err(e) => {
                // Whatever check failed, what was asked for is a listen on `addr`.
                if let Ok(mut d) = self.denial.lock() {
                    *d = None;
                }
                Err(self.explain(e.into(), Some(Denial::Listen(addr))))
            }
        }
    }

    /// The address a listener is bound to, with the chosen port.
    pub async fn listener_address(&mut self, l: &Listener) -> Result<SocketAddr, FlowError> {
        let r = self.own(&l.0)?;
        Ok(self
            .call(async |c, store| {
                c.spoke_flow_tcp()
                    .listener()
                    .call_local_address(store, r)
                    .await
            })
            .await?
            .map_err(FlowError::from)?
            .into())
    }

    /// Waits for the next incoming connection.
    pub async fn accept(&mut self, l: &Listener) -> Result<Flow, FlowError> {
        let r = self.own(&l.0)?;
        let f = self
            .call(async |c, store| c.spoke_flow_tcp().listener().call_accept(store, r).await)
            .await?
            .map_err(FlowError::from)?;
        Ok(self.flow(f))
    }

    /// Closes a listener.
    pub async fn close_listener(&mut self, l: Listener) {
        if let Some(r) = l.0.take() {
            self.drop_resource(r).await;
        }
    }

    // ---- flow operations ------------------------------------------------

    /// Waits for data and returns between 1 and `max` bytes, or `None` at
    /// end-of-stream.
    pub async fn read(&mut self, f: &Flow, max: u32) -> Result<Option<Vec<u8>>, FlowError> {
        self.on_flow(f, async |flow, store, r| {
            flow.call_read(store, r, max).await
        })
        .await
    }

    /// Writes every byte of `data`.
    ///
    /// While the write waits for the peer to take bytes, the flow keeps
    /// reading what the peer sends (up to 64 MiB held for later reads), so
    /// two ends that write before they read do not wait on each other. A
    /// caller that keeps writing far ahead of its reads against a peer that
    /// echoes still fills that and then waits forever, as a native program
    /// would: to send and receive at once, use [`Instance::pipe`].
    pub async fn write(&mut self, f: &Flow, data: &[u8]) -> Result<(), WriteError> {
        self.on_flow(f, async |flow, store, r| {
            flow.call_write(store, r, data).await
        })
        .await
    }

    /// Writes each buffer in order, as one write of their concatenation.
    pub async fn writev(&mut self, f: &Flow, bufs: &[&[u8]]) -> Result<(), WriteError> {
        let bufs: Vec<Vec<u8>> = bufs.iter().map(|b| b.to_vec()).collect();
        self.on_flow(f, async |flow, store, r| {
            flow.call_writev(store, r, &bufs).await
        })
        .await
    }

    /// Closes one or both directions (idempotent).
    pub async fn shutdown(&mut self, f: &Flow, mode: ShutdownMode) -> Result<(), WriteError> {
        self.on_flow(f, async |flow, store, r| {
            flow.call_shutdown(store, r, mode).await
        })
        .await
    }

    /// Closes the flow in place: both directions are shut and the connection
    /// freed, but the handle stays valid, so later operations on it return
    /// errors (and closing again is fine). [`Instance::close`] also releases
    /// the handle.
    pub async fn close_in_place(&mut self, f: &Flow) -> Result<(), FlowError> {
        let r = self.own(&f.0)?;
        self.call(async |c, store| c.spoke_flow_types().flow().call_close(store, r).await)
            .await
    }

    /// Closes the flow and releases its handle. Never fails: a closing error
    /// only means there was nothing left to close.
    pub async fn close(&mut self, f: Flow) {
        if let Some(r) = f.0.take() {
            self.drop_resource(r).await;
        }
    }

    /// Drops a guest resource (its destructor closes it).
    async fn drop_resource(&mut self, r: ResourceAny) {
        let _ = self
            .call(async |_, store| r.resource_drop_async(store).await)
            .await;
    }

    /// The local address of the connection beneath `f`.
    pub async fn local_address(&mut self, f: &Flow) -> Result<SocketAddr, FlowError> {
        self.on_flow(f, async |flow, store, r| {
            flow.call_local_address(store, r).await
        })
        .await
        .map(Into::into)
    }

    /// The peer's address of the connection beneath `f`.
    pub async fn remote_address(&mut self, f: &Flow) -> Result<SocketAddr, FlowError> {
        self.on_flow(f, async |flow, store, r| {
            flow.call_remote_address(store, r).await
        })
        .await
        .map(Into::into)
    }

    /// Waits until a `read` of `f` would not block (data, end-of-stream or
    /// an error is waiting).
    ///
    /// The wait happens in the host, on the flow's `subscribe` pollable,
    /// without running guest code, so this future is cancel-safe: it may lose
    /// a `tokio::select!` and the instance stays usable.
    pub async fn readable(&mut self, f: &Flow) -> Result<(), FlowError> {
        let r = self.own(&f.0)?;
        self.subscribe_and_wait(async |c, store| {
            c.spoke_flow_types().flow().call_subscribe(store, r).await
        })
        .await
    }

    /// Waits until an `accept` of `l` would not block. Cancel-safe, like
    /// [`Instance::readable`].
    pub async fn acceptable(&mut self, l: &Listener) -> Result<(), FlowError> {
        let r = self.own(&l.0)?;
        self.subscribe_and_wait(async |c, store| {
            c.spoke_flow_tcp().listener().call_subscribe(store, r).await
        })
        .await
    }

    /// Gets a pollable from the guest with `subscribe`, blocks on it in the
    /// host, then deletes it. If the caller stops waiting, the next call
    /// deletes it. `subscribe` calls only non-blocking host functions and
    /// [`Instance::call_at_once`] gives it no epoch yield, so it completes in
    /// one poll: the only point where this future can be dropped is the
    /// wait, which runs no guest code.
    async fn subscribe_and_wait(
        &mut self,
        subscribe: impl AsyncFnOnce(
            &Component,
            &mut Store<State>,
        ) -> wasmtime::Result<Resource<DynPollable>>,
    ) -> Result<(), FlowError> {
        let pollable = self.call_at_once(subscribe).await?;
        let rep = pollable.rep();
        self.pending_pollable = Some(pollable);
        let table = &mut self.store.data_mut().table;
        let waited = HostPollable::block(table, Resource::new_borrow(rep)).await;
        let deleted = match self.pending_pollable.take() {
            Some(p) => HostPollable::drop(table, p),
            None => Ok(()),
        };
        waited
            .and(deleted)
            .map_err(|e| FlowError::Trap(format!("waiting on a flow: {e:#}")))
    }

    // ---- the spoke layer ------------------------------------------------

    /// Runs the client side of the handshake over `under` (which the new
    /// flow owns; on failure it is closed). `ids` is `(client, server)`.
    pub async fn spoke_client(
        &mut self,
        under: Flow,
        ids: (&str, &str),
        password: &[u8],
        cfg: &SpokeConfig,
    ) -> Result<Flow, HandshakeError> {
        self.handshake(true, under, ids, password, cfg, None).await
    }

    /// Runs the server side of the handshake over `under`; see
    /// [`Instance::spoke_client`].
    pub async fn spoke_server(
        &mut self,
        under: Flow,
        ids: (&str, &str),
        password: &[u8],
        cfg: &SpokeConfig,
    ) -> Result<Flow, HandshakeError> {
        self.handshake(false, under, ids, password, cfg, None).await
    }

    /// [`Instance::spoke_client`] with a deadline: a handshake that has not
    /// finished `timeout` after the call fails with
    /// `HandshakeError::Flow(FlowError::TimedOut)` and `under` is closed.
    /// The component enforces the deadline itself, so the instance stays
    /// usable (dropping a handshake's future half-way would not leave it so).
    pub async fn spoke_client_within(
        &mut self,
        under: Flow,
        ids: (&str, &str),
        password: &[u8],
        cfg: &SpokeConfig,
        timeout: Duration,
    ) -> Result<Flow, HandshakeError> {
        self.handshake(true, under, ids, password, cfg, Some(timeout))
            .await
    }

    /// [`Instance::spoke_server`] with a deadline; see
    /// [`Instance::spoke_client_within`]. A client that connects and says
    /// nothing, or one byte at a time, is dropped at the deadline.
    pub async fn spoke_server_within(
        &mut self,
        under: Flow,
        ids: (&str, &str),
        password: &[u8],
        cfg: &SpokeConfig,
        timeout: Duration,
    ) -> Result<Flow, HandshakeError> {
        self.handshake(false, under, ids, password, cfg, Some(timeout))
            .await
    }

    async fn handshake(
        &mut self,
        client: bool,
        under: Flow,
        ids: (&str, &str),
        password: &[u8],
        cfg: &SpokeConfig,
        timeout: Option<Duration>,
    ) -> Result<Flow, HandshakeError> {
        let r = self.own(&under.0)?;
        let _ = under.0.take();
        let ids = Identities {
            client: ids.0.to_string(),
            server: ids.1.to_string(),
        };
        let f = self
            .call(async |c, store| {
                let api = c.spoke_flow_spoke();
                // The component's deadline is in nanoseconds.
                let within = timeout.map(|t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
                match (client, within) {
                    (true, None) => api.call_client(store, r, &ids, password, *cfg).await,
                    (false, None) => api.call_server(store, r, &ids, password, *cfg).await,
                    (true, Some(t)) => {
                        api.call_client_within(store, r, &ids, password, *cfg, t)
                            .await
                    }
                    (false, Some(t)) => {
                        api.call_server_within(store, r, &ids, password, *cfg, t)
                            .await
                    }
                }
            })
            .await??;
        Ok(self.flow(f))
    }

    /// The ciphers of an encrypted flow (server-to-client first), or `None`
    /// for a plain flow, a foreign handle, or a dead instance.
    pub async fn ciphers(&mut self, f: &Flow) -> Option<(Cipher, Cipher)> {
        let r = self.own(&f.0).ok()?;
        self.call(async |c, store| c.spoke_flow_spoke().call_ciphers(store, r).await)
            .await
            .ok()?
    }

    /// The component's default handshake configuration.
    pub async fn default_config(&mut self) -> Result<SpokeConfig, FlowError> {
        self.call(async |c, store| c.spoke_flow_spoke().call_default_config(store).await)
            .await
    }

    // ---- combinators ----------------------------------------------------

    /// Copies `src` to `dst` inside the component until `src` ends, then
    /// shuts the write side of `dst`.
    pub async fn copy(&mut self, src: &Flow, dst: &Flow) -> Result<Stats, CopyError> {
        let (s, d) = (
            self.own(&src.0).map_err(CopyError::Read)?,
            self.own(&dst.0).map_err(CopyError::Read)?,
        );
        Ok(self
            .call(async |c, store| c.spoke_flow_combinators().call_copy(store, s, d).await)
            .await
            .map_err(CopyError::Read)??)
    }

    /// Copies `a` to `b` and `b` to `a` at once until both directions end.
    /// A direction whose source fails ends the other flow's writing as an
    /// abort (an encrypted version-2 destination sends no close marker, so
    /// its peer reads `truncated`). Returns the `a`-to-`b` direction first.
    /// A trap shows up as `CopyError::Read(FlowError::Trap(_))` in both
    /// directions.
    pub async fn proxy(&mut self, a: &Flow, b: &Flow) -> (Direction, Direction) {
        let (ra, rb) = match (self.own(&a.0), self.own(&b.0)) {
            (Ok(ra), Ok(rb)) => (ra, rb),
            (Err(e), _) | (_, Err(e)) => return failed(e),
        };
        match self
            .call(async |c, store| c.spoke_flow_combinators().call_proxy(store, ra, rb).await)
            .await
        {
            Ok((x, y)) => (direction(x), direction(y)),
            Err(e) => failed(e),
        }
    }

    /// Copies `input` into `f` and `f` into `output` at once, inside the
    /// component, until both directions have ended; returns the
    /// `input`-to-`f` direction first.
    ///
    /// This is how bulk bytes should move between a flow and the host's
    /// files, standard streams or in-memory buffers: they never cross the
    /// component boundary as call arguments. On a plain TCP flow the host
    /// moves them between the socket and `input`/`output` without their
    /// entering the guest; on an encrypted flow they enter it once, to be
    /// sealed or opened. Each direction waits only on its own source and
    /// destination, so a peer that echoes is always read while `input` is
    /// still being sent.
    ///
    /// The end of `input` shuts `f`'s write side (on an encrypted version-2
    /// flow, after the close marker); the end of `f` ends the other
    /// direction with `output` flushed. A direction that fails stops alone
    /// and reports its error. `output` is not shut down: it is dropped once
    /// flushed.
    pub async fn pipe(
        &mut self,
        f: &Flow,
        input: impl AsyncRead + Send + Sync + 'static,
        output: impl AsyncWrite + Send + Sync + 'static,
    ) -> (Direction, Direction) {
        let r = match self.own(&f.0) {
            Ok(r) => r,
            Err(e) => return failed(e),
        };
        let writer = WriterStream::new(output, "the output");
        let input: DynInputStream = Box::new(ReaderStream::new(input, "the input"));
        let output: DynOutputStream = Box::new(writer.clone());
        let i = match self.lend(input) {
            Ok(i) => i,
            Err(e) => return failed(e),
        };
        let bi = Resource::new_borrow(i.rep());
        let result = self
            .call_lending(output, async |c, store, bo| {
                c.spoke_flow_combinators().call_pipe(store, r, bi, bo).await
            })
            .await;
        self.take_back(i);
        let (inbound, mut outbound) = match result {
            Ok((x, y)) => (direction(x), direction(y)),
            Err(e) => return failed(e),
        };
        if let Err(e) = finish_output(&writer).await
            && outbound.error.is_none()
        {
            outbound.error = Some(e);
        }
        (inbound, outbound)
    }

    /// Copies `src` into `output` inside the component until `src` ends,
    /// then flushes `output`; like one direction of [`Instance::pipe`].
    pub async fn copy_to(
        &mut self,
        src: &Flow,
        output: impl AsyncWrite + Send + Sync + 'static,
    ) -> Result<Stats, CopyError> {
        let r = self.own(&src.0).map_err(CopyError::Read)?;
        let writer = WriterStream::new(output, "the output");
        let output: DynOutputStream = Box::new(writer.clone());
        let stats = self
            .call_lending(output, async |c, store, o| {
                c.spoke_flow_combinators()
                    .call_copy_to_stream(store, r, o)
                    .await
            })
            .await
            .map_err(CopyError::Read)??;
        finish_output(&writer).await?;
        Ok(stats)
    }

    /// Copies `input` into `dst` inside the component until `input` ends,
    /// then shuts `dst`'s write side; like one direction of
    /// [`Instance::pipe`].
    pub async fn copy_from(
        &mut self,
        input: impl AsyncRead + Send + Sync + 'static,
        dst: &Flow,
    ) -> Result<Stats, CopyError> {
        let r = self.own(&dst.0).map_err(CopyError::Read)?;
        let input: DynInputStream = Box::new(ReaderStream::new(input, "the input"));
        Ok(self
            .call_lending(input, async |c, store, i| {
                c.spoke_flow_combinators()
                    .call_copy_from_stream(store, i, r)
                    .await
            })
            .await
            .map_err(CopyError::Read)??)
    }

    /// [`Instance::call`] with `stream` lent to the instance for the call
    /// (`call` gets a borrow of it), and taken back after.
    async fn call_lending<S: Send + 'static, T>(
        &mut self,
        stream: S,
        call: impl AsyncFnOnce(&Component, &mut Store<State>, Resource<S>) -> wasmtime::Result<T>,
    ) -> Result<T, FlowError> {
        let lent = self.lend(stream)?;
        let borrow = Resource::new_borrow(lent.rep());
        let out = self
            .call(async |c, store| call(c, store, borrow).await)
            .await;
        self.take_back(lent);
        out
    }

    /// Puts one of the host's streams in the instance's table, for a
    /// combinator to borrow during one call.
    fn lend<T: Send + 'static>(&mut self, stream: T) -> Result<Resource<T>, FlowError> {
        self.store
            .data_mut()
            .table
            .push(stream)
            .map_err(|e| FlowError::Other(format!("lending a stream to the instance: {e}")))
    }

    /// Takes back what [`Instance::lend`] lent.
    fn take_back<T: 'static>(&mut self, lent: Resource<T>) {
        let _ = self.store.data_mut().table.delete(lent);
    }

    // ---- messages ---------------------------------------------------------

    /// The component's own one-line rendering of `e` (the WIT
    /// `error-message`); `FlowError`'s `Display` gives the same text.
    pub async fn error_message(&mut self, e: &FlowError) -> Result<String, FlowError> {
        let Some(wit) = e.to_wit() else {
            return Ok(e.to_string());
        };
        self.call(async |c, store| c.spoke_flow_types().call_error_message(store, &wit).await)
            .await
    }

    /// The component's rendering of a write error (`write-error-message`).
    pub async fn write_error_message(&mut self, e: &WriteError) -> Result<String, FlowError> {
        let Some(wit) = e.to_wit() else {
            return Ok(e.to_string());
        };
        self.call(async |c, store| {
            c.spoke_flow_types()
                .call_write_error_message(store, &wit)
                .await
        })
        .await
    }

    /// The component's rendering of a handshake error
    /// (`handshake-error-message`).
    pub async fn handshake_error_message(
        &mut self,
        e: &HandshakeError,
    ) -> Result<String, FlowError> {
        let Some(wit) = e.to_wit() else {
            return Ok(e.to_string());
        };
        self.call(async |c, store| {
            c.spoke_flow_spoke()
                .call_handshake_error_message(store, &wit)
                .await
        })
        .await
    }
}

/// Writes what `writer` still holds after the guest is done with it: the
/// guest flushed, so this only drains a writer that took its time, or
/// reports one that failed after the guest's last write.
async fn finish_output(writer: &WriterStream) -> Result<(), CopyError> {
    writer.finish().await.map_err(|e| {
        CopyError::Write(WriteError::Error(FlowError::Other(format!(
            "writing the output: {e}"
        ))))
    })
}

/// Both directions of a proxy or a pipe that could not start, failed with `e`.
fn failed(e: FlowError) -> (Direction, Direction) {
    let d = Direction {
        stats: zero_stats(),
        error: Some(CopyError::Read(e)),
    };
    (d.clone(), d)
}

fn zero_stats() -> Stats {
    Stats {
        read_bytes: 0,
        read_ops: 0,
        write_bytes: 0,
        write_ops: 0,
        duration_ns: 0,
    }
}

fn direction(d: crate::bindings::exports::spoke::flow::combinators::Direction) -> Direction {
    Direction {
        stats: d.stats,
        error: d.error.map(CopyError::from),
    }
}
