//! A password-secured tunnel for any TCP service (a stunnel over Spoke).
//!
//! An *entrance* accepts plain TCP connections and carries each one over an
//! encrypted flow to an *exit*, which decrypts it and connects to a plain
//! target. Every tunnelled connection gets its own [`Instance`] (its own
//! store, memory, sockets and a policy allowing exactly the two addresses it
//! needs), so a failure or trap in one connection never reaches another:
//!
//! ```text
//! client ──plain──▶ entrance ═══encrypted═══▶ exit ──plain──▶ target
//!          (one instance per connection)   (one instance per connection)
//! ```
//!
//! WASI 0.2 cannot hand a socket the host accepted to a guest, and a flow
//! cannot move between instances, so an accepted connection reaches its
//! instance through a one-shot loopback *relay*: the host binds
//! `127.0.0.1:0`, the instance connects to it, the host checks that the
//! connection it accepted is the instance's own (by its source address) and
//! splices the accepted socket to it. The instance then runs the handshake
//! on the encrypted side, connects the other side, and moves the bulk data
//! with the in-guest [`Instance::proxy`], which also passes half-closes on.
//!
//! This module owns the accept loops, the relays, the per-connection
//! lifecycle and its [`Report`]. It never parses or encrypts the tunnelled
//! bytes (the component does) and never prints or logs the password.

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, SemaphorePermit, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use zeroize::Zeroizing;

use crate::bindings::exports::spoke::flow::spoke::Config as SpokeConfig;
use crate::error::{CopyError, FlowError, HandshakeError};
use crate::guard::{Admission, Guard, GuardConfig, Refusal, could_have_guessed};
use crate::handle::Flow;
use crate::instance::Instance;
use crate::policy::NetworkPolicy;
use crate::runtime::Spoke;
use spoke_protocol::wire::X_LEN;

/// How long the host waits for an instance's relay connection to arrive.
const RELAY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the host keeps delivering what an instance sent after the
/// instance has finished, to a client that is slow to read it.
const LINGER: Duration = Duration::from_secs(60);

/// How long an entrance waits for its exit's handshake at least. The
/// exit's own deadline is what protects it from slow peers; the entrance's
/// is a backstop, long enough that an honest but loaded exit is not given
/// up on (an abandoned handshake counts as a password guess there).
const ENTRANCE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The buffer of each host-side splice direction.
const SPLICE_BUFFER: usize = 256 * 1024;

/// How long the host keeps reading (and dropping) what a client still sends
/// after its connection's instance has finished, before closing it.
const DRAIN: Duration = Duration::from_secs(2);

/// Which end of the tunnel a listener is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Accepts plain connections and carries them, encrypted, to an exit
    /// (the handshake's client).
    Entrance,
    /// Accepts encrypted connections from an entrance and carries them,
    /// plain, to the target (the handshake's server).
    Exit,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Entrance => "entrance",
            Side::Exit => "exit",
        })
    }
}

/// Called once per tunnelled connection when it ends.
pub type Reporter = Arc<dyn Fn(&Report) + Send + Sync>;

/// How a tunnel end runs: where connections go next, the shared secret, and
/// its limits. Its `Debug` never shows the password.
///
/// ```
/// use spoke_host::tunnel::TunnelConfig;
/// let config = TunnelConfig::new(["127.0.0.1:9000".parse().unwrap()], b"correct horse")
///     .identities("laptop", "server");
/// assert!(!format!("{config:?}").contains("horse"));
/// ```
#[derive(Clone)]
pub struct TunnelConfig {
    next_hop: Vec<SocketAddr>,
    password: Arc<Zeroizing<Vec<u8>>>,
    identities: (String, String),
    handshake: SpokeConfig,
    handshake_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_connections: usize,
    max_handshakes: usize,
    guard: Option<GuardConfig>,
    reporter: Reporter,
}

impl fmt::Debug for TunnelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunnelConfig")
            .field("next_hop", &self.next_hop)
            .field("password", &"<redacted>")
            .field("identities", &self.identities)
            .field("handshake", &self.handshake)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_handshakes", &self.max_handshakes)
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl TunnelConfig {
    /// A configuration whose connections go to `next_hop` (for an entrance
    /// the exit, for an exit the target; the addresses are tried in order),
    /// secured by `password`. The defaults: identities
    /// `("spoke-client", "spoke-server")`, the component's default handshake
    /// configuration, a 10 s handshake timeout, no idle timeout, at most 1024
    /// connections and 64 handshakes at once, an exit's failed handshakes
    /// limited by [`GuardConfig::service`], and failures reported as one
    /// line on stderr.
    pub fn new(next_hop: impl IntoIterator<Item = SocketAddr>, password: &[u8]) -> Self {
        Self {
            next_hop: next_hop.into_iter().collect(),
            password: Arc::new(Zeroizing::new(password.to_vec())),
            identities: ("spoke-client".into(), "spoke-server".into()),
            handshake: SpokeConfig::default(),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: None,
            max_connections: 1024,
            max_handshakes: 64,
            guard: Some(GuardConfig::service()),
            reporter: Arc::new(|report: &Report| {
                if report.failure.is_some() {
                    eprintln!("spoke tunnel: {report}");
                }
            }),
        }
    }

    /// The client and server identities bound into every handshake; both
    /// ends must use the same pair.
    pub fn identities(mut self, client: &str, server: &str) -> Self {
        self.identities = (client.into(), server.into());
        self
    }

    /// The handshake configuration: the version for both ends, the ciphers
    /// and iteration count for an exit, the largest accepted iteration count
    /// for an entrance.
    pub fn handshake(mut self, config: SpokeConfig) -> Self {
        self.handshake = config;
        self
    }

    /// How long a connection's handshake may take once it has a handshake
    /// slot before the connection is dropped, so that silent or slow peers
    /// cannot hold instances or slots. A source that must wait longer than
    /// this after its failures is refused at once. An entrance waits at
    /// least 30 s for its exit.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Drops a tunnelled connection once no byte has moved either way for
    /// `timeout` (`None`, the default: never).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How many connections may be tunnelled at once; further ones wait in
    /// the listener's backlog. At least 1.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How many handshakes may run at once (each costs a PBKDF2 and a few
    /// scalar multiplications); further connections wait for a slot. At
    /// least 1.
    pub fn max_handshakes(mut self, n: usize) -> Self {
        self.max_handshakes = n.max(1);
        self
    }

    /// How an exit limits failed handshakes (see [`crate::guard`]), or
    /// `None` for no limit. An entrance runs no server handshakes and
    /// ignores it.
    pub fn guard(mut self, guard: Option<GuardConfig>) -> Self {
        self.guard = guard;
        self
    }

    /// Calls `reporter` with every connection's [`Report`] when it ends
    /// (instead of printing failures on stderr).
    pub fn on_report(mut self, reporter: impl Fn(&Report) + Send + Sync + 'static) -> Self {
        self.reporter = Arc::new(reporter);
        self
    }

    /// Where connections go next.
    pub fn next_hop(&self) -> &[SocketAddr] {
        &self.next_hop
    }
}

/// What happened to one tunnelled connection.
#[derive(Clone, Debug)]
pub struct Report {
    /// The connection's number at this tunnel end, from 1.
    pub connection: u64,
    /// The end that accepted it.
    pub side: Side,
    /// Who connected.
    pub peer: SocketAddr,
    /// Bytes carried from the accepted connection to the next hop.
    pub forward_bytes: u64,
    /// Bytes carried from the next hop back to the accepted connection.
    pub backward_bytes: u64,
    /// From accepting the connection to its end.
    pub elapsed: Duration,
    /// Why it failed, or `None` if both directions ended cleanly.
    pub failure: Option<Failure>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connection {} from {}: ",
            self.side, self.connection, self.peer
        )?;
        match &self.failure {
            Some(failure) => write!(f, "{failure}")?,
            None => f.write_str("done")?,
        }
        write!(
            f,
            " ({} bytes forward, {} back, {:.3} s)",
            self.forward_bytes,
            self.backward_bytes,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Why a tunnelled connection failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// Creating the connection's instance or its relay failed.
    Setup(String),
    /// No address of the next hop accepted a connection (the last error).
    Connect(FlowError),
    /// The handshake failed: a wrong password, mismatched identities or
    /// versions, or a peer that is not a Spoke tunnel.
    Handshake(HandshakeError),
    /// The handshake did not finish within the configured timeout.
    HandshakeTimeout,
    /// Refused without a handshake: the exit's limit of failed handshakes
    /// is reached.
    Refused(Refusal),
    /// Refused without a handshake: its source failed handshakes recently
    /// and may start the next one only after this long, longer than the
    /// handshake timeout.
    SourceDelayed(Duration),
    /// No byte moved either way for the configured idle timeout.
    Idle(Duration),
    /// A direction of the transfer ended with an error rather than an
    /// end-of-stream (forward is the accepted connection to the next hop).
    Transfer {
        /// The forward direction's error.
        forward: Option<CopyError>,
        /// The backward direction's error.
        backward: Option<CopyError>,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Setup(why) => write!(f, "setting up: {why}"),
            Failure::Connect(e) => write!(f, "connecting to the next hop: {e}"),
            Failure::Handshake(e) => write!(f, "handshake failed: {e}"),
            Failure::HandshakeTimeout => f.write_str("handshake timed out"),
            Failure::Refused(why) => write!(f, "refused: {why}"),
            Failure::SourceDelayed(wait) => write!(
                f,
                "refused: its address failed handshakes recently and may retry in {} s",
                crate::guard::whole_seconds(*wait)
            ),
            Failure::Idle(after) => write!(f, "idle for {} s, dropped", after.as_secs()),
            Failure::Transfer { forward, backward } => {
                f.write_str("transfer failed:")?;
                if let Some(e) = forward {
                    write!(f, " forward: {e};")?;
                }
                if let Some(e) = backward {
                    write!(f, " backward: {e};")?;
                }
                Ok(())
            }
        }
    }
}

/// Runs a tunnel entrance on `listener` until `stop` completes: each plain
/// connection accepted is carried over its own encrypted flow to the exit
/// at `config`'s next hop. Stopping drops the connections still open.
///
/// Takes the [`Spoke`] by value (clones are cheap) so that the future can be
/// spawned.
pub async fn run_entrance(
    spoke: Spoke,
    listener: TcpListener,
    config: TunnelConfig,
    stop: impl Future<Output = ()>,
) {
    run(Side::Entrance, spoke, listener, config, stop).await
}

/// Runs a tunnel exit on `listener` until `stop` completes: each encrypted
/// connection accepted from an entrance is decrypted and carried to the
/// plain target at `config`'s next hop. Stopping drops the connections
/// still open.
pub async fn run_exit(
    spoke: Spoke,
    listener: TcpListener,
    config: TunnelConfig,
    stop: impl Future<Output = ()>,
) {
    run(Side::Exit, spoke, listener, config, stop).await
}

/// A tunnel end running in a tokio task. Dropping the handle stops it too.
#[derive(Debug)]
pub struct TunnelHandle {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl TunnelHandle {
    /// The address the tunnel end listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, drops the open connections, and waits until done.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for TunnelHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Spawns [`run_entrance`] or [`run_exit`] (by `side`) on the current tokio
/// runtime and returns its handle.
pub fn spawn(
    side: Side,
    spoke: Spoke,
    listener: TcpListener,
    config: TunnelConfig,
) -> std::io::Result<TunnelHandle> {
    let local_addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let stop = async move {
        let _ = rx.await;
    };
    let task = tokio::spawn(run(side, spoke, listener, config, stop));
    Ok(TunnelHandle {
        local_addr,
        stop: Some(tx),
        task,
    })
}

/// The accept loop shared by both sides.
async fn run(
    side: Side,
    spoke: Spoke,
    listener: TcpListener,
    config: TunnelConfig,
    stop: impl Future<Output = ()>,
) {
    let config = Arc::new(config);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let shared = Arc::new(Shared {
        guard: match side {
            Side::Exit => config.guard.clone().map(|g| Mutex::new(Guard::new(g))),
            Side::Entrance => None,
        },
        handshakes: Semaphore::new(config.max_handshakes),
    });
    let mut connections = JoinSet::new();
    let mut number = 0u64;
    tokio::pin!(stop);
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = &mut stop => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(_) => {
                // Per-connection failures (aborted handshakes, descriptor
                // exhaustion): back off briefly and keep serving.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        number += 1;
        let (spoke, config, shared, n) = (spoke.clone(), config.clone(), shared.clone(), number);
        connections.spawn(async move {
            let report = serve(side, &spoke, stream, peer, &config, &shared, n).await;
            (config.reporter)(&report);
            drop(permit);
        });
    }
    connections.shutdown().await;
}

/// What the connections of one tunnel end share: the failed-handshake
/// bookkeeping (an exit's) and the handshake slots.
struct Shared {
    guard: Option<Mutex<Guard>>,
    handshakes: Semaphore,
}

impl Shared {
    /// Waits until a connection from `peer` may start its handshake, by
    /// `deadline` at the latest; or says why it is refused.
    async fn admit(&self, peer: SocketAddr, deadline: Instant) -> Result<(), Failure> {
        let Some(guard) = &self.guard else {
            return Ok(());
        };
        loop {
            let now = Instant::now();
            let admission = guard
                .lock()
                .map_or(Admission::Now, |mut g| g.admit(peer.ip(), now));
            match admission {
                Admission::Now => return Ok(()),
                Admission::After(wait) if now + wait <= deadline => tokio::time::sleep(wait).await,
                Admission::After(wait) => return Err(Failure::SourceDelayed(wait)),
                Admission::Refuse(why) => return Err(Failure::Refused(why)),
            }
        }
    }

    /// Records how a handshake from `peer` ended: `Ok`, or whether the
    /// failure may have tested a password.
    fn handshake_ended(&self, peer: SocketAddr, outcome: Result<(), bool>) {
        if let Some(Ok(mut guard)) = self.guard.as_ref().map(Mutex::lock) {
            let now = Instant::now();
            match outcome {
                Ok(()) => guard.succeeded(peer.ip()),
                Err(true) => drop(guard.failed(peer.ip(), now)),
                Err(false) => guard.misbehaved(peer.ip(), now),
            }
        }
    }
}

/// What the instance side of one connection came to.
struct Carried {
    forward: u64,
    backward: u64,
    failure: Option<Failure>,
}

impl Carried {
    fn failed(failure: Failure) -> Self {
        Self {
            forward: 0,
            backward: 0,
            failure: Some(failure),
        }
    }
}

/// Tunnels one accepted connection, start to end.
async fn serve(
    side: Side,
    spoke: &Spoke,
    inbound: TcpStream,
    peer: SocketAddr,
    config: &TunnelConfig,
    shared: &Shared,
    connection: u64,
) -> Report {
    let start = Instant::now();
    let deadline = start + config.handshake_timeout;
    let admitted = shared.admit(peer, deadline).await;
    // Waiting for a handshake slot is the end's load, not the peer's doing,
    // so the handshake's deadline starts once it has one; slots free up
    // within a deadline each, so the wait is bounded. A connection waiting
    // here holds only its socket: no instance, no buffers. An entrance takes
    // its slot before it connects to the exit, so that the exit's deadline
    // never runs while the entrance queues.
    let slot = match admitted {
        Ok(()) => shared
            .handshakes
            .acquire()
            .await
            .map_err(|_| Failure::Setup("the tunnel end is stopping".into())),
        Err(refused) => Err(refused),
    };
    let carried = match slot {
        Err(failure) => Carried::failed(failure),
        Ok(slot) => match relay_into_instance(spoke, inbound, config).await {
            Ok((instance, relay_flow, relay_stream, inbound)) => {
                let activity = Arc::new(Activity::new());
                let handshake = Handshake {
                    shared,
                    _slot: slot,
                    peer,
                    activity: activity.clone(),
                };
                splice_while(
                    inbound,
                    relay_stream,
                    activity,
                    config.idle_timeout,
                    carry(side, instance, relay_flow, config, handshake),
                )
                .await
            }
            Err(failure) => Carried::failed(failure),
        },
    };
    Report {
        connection,
        side,
        peer,
        forward_bytes: carried.forward,
        backward_bytes: carried.backward,
        elapsed: start.elapsed(),
        failure: carried.failure,
    }
}

/// Creates the connection's instance and connects it to a one-shot relay
/// listener: returns the instance, its end of the relay, and the host's.
async fn relay_into_instance(
    spoke: &Spoke,
    inbound: TcpStream,
    config: &TunnelConfig,
) -> Result<(Instance, Flow, TcpStream, TcpStream), Failure> {
    let setup = |what: &str, e: &dyn fmt::Display| Failure::Setup(format!("{what}: {e}"));
    let _ = inbound.set_nodelay(true);
    let relay = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| setup("binding the relay", &e))?;
    let relay_addr = relay
        .local_addr()
        .map_err(|e| setup("binding the relay", &e))?;
    let policy = config.next_hop.iter().fold(
        NetworkPolicy::deny_all().allow_connect(relay_addr),
        |p, a| p.allow_connect(*a),
    );
    let mut instance = spoke
        .instantiate(policy)
        .await
        .map_err(|e| setup("creating the instance", &format_args!("{e:#}")))?;
    let flow = instance
        .connect_address(relay_addr)
        .await
        .map_err(|e| setup("connecting the instance to its relay", &e))?;
    let own = instance
        .local_address(&flow)
        .await
        .map_err(|e| setup("the relay's address", &e))?;
    // Anything on this machine could connect to the relay; take only the
    // instance's own connection.
    let accepted = tokio::time::timeout(RELAY_TIMEOUT, async {
        loop {
            match relay.accept().await {
                Ok((s, from)) if same_address(from, own) => return Ok(s),
                Ok(_) => continue,
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    let stream = match accepted {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(setup("accepting the relay", &e)),
        Err(_) => return Err(Failure::Setup("the relay connection never arrived".into())),
    };
    let _ = stream.set_nodelay(true);
    Ok((instance, flow, stream, inbound))
}

fn same_address(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

/// Splices `inbound` to `relay` in the host while `work` (the instance
/// side) runs. Once `work` has finished, what the instance already sent is
/// still delivered (for up to [`LINGER`]), and what the client still sends
/// is read and dropped for up to [`DRAIN`], so that closing does not reset
/// a connection whose last bytes are still on their way to the client.
/// With an `idle` timeout, the connection is dropped (instance and all)
/// once no byte has crossed the splice either way for that long: every
/// byte of a tunnelled connection crosses it.
async fn splice_while(
    inbound: TcpStream,
    relay: TcpStream,
    activity: Arc<Activity>,
    idle: Option<Duration>,
    work: impl Future<Output = Carried>,
) -> Carried {
    let (in_read, in_write) = inbound.into_split();
    let (relay_read, relay_write) = relay.into_split();
    // A client's reset is passed on as one: the relay is reset too (its
    // last half, read by `from_instance`, is dropped), so the instance
    // learns its source failed rather than ended.
    let (reset_tx, reset_rx) = oneshot::channel::<()>();
    let in_read = Marking::new(in_read, &activity, true);
    let relay_read = Marking::new(relay_read, &activity, false);
    let to_instance = async move {
        if pipe(in_read, relay_write).await == Ended::Reset {
            let _ = reset_tx.send(());
        }
    };
    let from_instance = async move {
        tokio::select! {
            _ = pipe(relay_read, in_write) => {}
            Ok(()) = reset_rx => {}
        }
    };
    let idle_out = async {
        match idle {
            Some(limit) => activity.until_idle(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(work, to_instance, from_instance, idle_out);
    let (mut to_done, mut from_done) = (false, false);
    let carried = loop {
        tokio::select! {
            carried = &mut work => break carried,
            _ = &mut to_instance, if !to_done => to_done = true,
            _ = &mut from_instance, if !from_done => from_done = true,
            limit = &mut idle_out => return Carried::failed(Failure::Idle(limit)),
        }
    };
    if !from_done {
        let _ = tokio::time::timeout(LINGER, from_instance).await;
    }
    if !to_done {
        let _ = tokio::time::timeout(DRAIN, to_instance).await;
    }
    carried
}

/// When a byte last crossed a connection's splice, either way, and how
/// many went forward (from the accepted connection to the instance).
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last read that returned bytes.
    last_ms: AtomicU64,
    /// Bytes read from the accepted connection.
    forward: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            forward: AtomicU64::new(0),
        }
    }

    fn mark(&self, forward: usize) {
        self.forward.fetch_add(forward as u64, Ordering::Relaxed);
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Completes (with `limit`) once nothing has moved for `limit`.
    async fn until_idle(&self, limit: Duration) -> Duration {
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let due = last + limit;
            if Instant::now() >= due {
                return limit;
            }
            tokio::time::sleep_until(due.into()).await;
        }
    }
}

/// A reader that marks an [`Activity`] whenever it returns bytes.
struct Marking<R> {
    inner: R,
    activity: Arc<Activity>,
    /// Whether its bytes go forward.
    forward: bool,
}

impl<R> Marking<R> {
    fn new(inner: R, activity: &Arc<Activity>, forward: bool) -> Self {
        Self {
            inner,
            activity: activity.clone(),
            forward,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Marking<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.activity.mark(if self.forward { read } else { 0 });
        }
        polled
    }
}

/// How one direction of a splice ended.
#[derive(Debug, PartialEq)]
enum Ended {
    /// `from` ended (or `to` failed and `from` was read to its end): `to`'s
    /// write side was shut.
    Clean,
    /// `from` failed, a reset: `to` is left to be reset as well once its
    /// other half is dropped.
    Reset,
}

/// Copies `from` to `to` until `from` ends, then shuts `to`'s write side so
/// the end is passed on. If `to` fails first, keeps reading `from`
/// (dropping the bytes) until it ends. If `from` fails, `to` gets no end of
/// stream: its socket is set to reset when it closes.
async fn pipe(from: impl AsyncRead + Unpin, mut to: OwnedWriteHalf) -> Ended {
    let mut from = BufReader::with_capacity(SPLICE_BUFFER, from);
    loop {
        let n = match from.fill_buf().await {
            Ok([]) => break,
            Ok(chunk) => {
                if to.write_all(chunk).await.is_err() {
                    let _ = tokio::io::copy_buf(&mut from, &mut tokio::io::sink()).await;
                    break;
                }
                chunk.len()
            }
            Err(_) => {
                let _ = to.as_ref().set_zero_linger();
                to.forget();
                return Ended::Reset;
            }
        };
        from.consume(n);
    }
    let _ = to.shutdown().await;
    Ended::Clean
}

/// What a connection's handshake needs from its tunnel end.
struct Handshake<'a> {
    shared: &'a Shared,
    /// The handshake slot the connection holds until its handshake ends
    /// (held, never read).
    _slot: SemaphorePermit<'a>,
    peer: SocketAddr,
    /// The bytes crossing the connection's splice.
    activity: Arc<Activity>,
}

impl Handshake<'_> {
    /// Runs `role`'s handshake over `under` within the handshake timeout,
    /// records how it ended, and gives up the slot.
    async fn run(
        self,
        instance: &mut Instance,
        under: Flow,
        client: bool,
        config: &TunnelConfig,
    ) -> Result<Flow, Failure> {
        let ids = (config.identities.0.as_str(), config.identities.1.as_str());
        let password: &[u8] = &config.password;
        let cfg = &config.handshake;
        let limit = match client {
            true => ENTRANCE_HANDSHAKE_TIMEOUT.max(config.handshake_timeout),
            false => config.handshake_timeout,
        };
        let secured = match client {
            true => {
                instance
                    .spoke_client_within(under, ids, password, cfg, limit)
                    .await
            }
            false => {
                instance
                    .spoke_server_within(under, ids, password, cfg, limit)
                    .await
            }
        };
        // A password is tested only once the server answered a key share,
        // so a client that sent less than one tested nothing.
        let sent = self.activity.forward.load(Ordering::Relaxed);
        let outcome = match &secured {
            Ok(_) => Ok(()),
            Err(e) => Err(sent >= X_LEN as u64 && could_have_guessed(e)),
        };
        self.shared.handshake_ended(self.peer, outcome);
        secured.map_err(|e| match e {
            HandshakeError::Flow(FlowError::TimedOut) => Failure::HandshakeTimeout,
            e => Failure::Handshake(e),
        })
    }
}

/// The instance side of one connection: the handshake on the encrypted
/// side, the connection to the next hop, and the in-guest proxy between
/// them. Consumes the instance, so its sockets are closed when it returns.
async fn carry(
    side: Side,
    mut instance: Instance,
    relay: Flow,
    config: &TunnelConfig,
    handshake: Handshake<'_>,
) -> Carried {
    let (inner, outer) = match side {
        Side::Entrance => {
            let remote = match connect_any(&mut instance, &config.next_hop).await {
                Ok(f) => f,
                Err(e) => return Carried::failed(Failure::Connect(e)),
            };
            match handshake.run(&mut instance, remote, true, config).await {
                Ok(secure) => (relay, secure),
                Err(failure) => return Carried::failed(failure),
            }
        }
        Side::Exit => {
            let secure = match handshake.run(&mut instance, relay, false, config).await {
                Ok(secure) => secure,
                Err(failure) => return Carried::failed(failure),
            };
            match connect_any(&mut instance, &config.next_hop).await {
                Ok(target) => (secure, target),
                Err(e) => {
                    instance.close(secure).await;
                    return Carried::failed(Failure::Connect(e));
                }
            }
        }
    };
    let (forward, backward) = instance.proxy(&inner, &outer).await;
    instance.close(outer).await;
    instance.close(inner).await;
    let failure =
        (forward.error.is_some() || backward.error.is_some()).then(|| Failure::Transfer {
            forward: forward.error.clone(),
            backward: backward.error.clone(),
        });
    Carried {
        forward: forward.stats.write_bytes,
        backward: backward.stats.write_bytes,
        failure,
    }
}

/// Connects to the first of `addresses` that accepts; the error is the
/// last one's.
async fn connect_any(instance: &mut Instance, addresses: &[SocketAddr]) -> Result<Flow, FlowError> {
    let mut last = FlowError::InvalidState("no address to connect to".into());
    for addr in addresses {
        match instance.connect_address(*addr).await {
            Ok(flow) => return Ok(flow),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_takes_only_the_instances_own_address() {
        let own: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert!(same_address(own, own));
        assert!(same_address(
            "[::ffff:127.0.0.1]:40000".parse().unwrap(),
            own
        ));
        assert!(!same_address("127.0.0.1:40001".parse().unwrap(), own));
        assert!(!same_address("127.0.0.2:40000".parse().unwrap(), own));
    }

    #[test]
    fn a_report_is_one_line_with_the_connection_number() {
        let report = Report {
            connection: 7,
            side: Side::Exit,
            peer: "127.0.0.1:5000".parse().unwrap(),
            forward_bytes: 10,
            backward_bytes: 20,
            elapsed: Duration::from_millis(1500),
            failure: Some(Failure::HandshakeTimeout),
        };
        assert_eq!(
            report.to_string(),
            "exit connection 7 from 127.0.0.1:5000: handshake timed out \
             (10 bytes forward, 20 back, 1.500 s)"
        );
    }

    #[test]
    fn the_configuration_never_shows_the_password() {
        let config = TunnelConfig::new([], b"hunter2");
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.max_connections(0).max_connections, 1);
    }
}
