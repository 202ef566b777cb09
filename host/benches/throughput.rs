//! Spoke's throughput and cost benchmark. Not a test: it prints figures and
//! ratios against baselines measured in the same run, on this machine.
//!
//! `cargo bench -p spoke-host --bench throughput` (set `SPOKE_BENCH_MB` to
//! change the echo size, 256 by default; `SPOKE_BENCH_ROUNDS` for the
//! rounds of the plain echo, 7 by default; `SPOKE_BENCH_ONLY` to repeat one
//! path alone, for profiling).
//!
//! - plain echo over loopback: (a) native std sockets, (b) the host driving
//!   the component's `flow` exports, (c) a copy loop inside the guest; (b)
//!   and (c) with the instance on a thread of its own (a current-thread
//!   runtime, as a thread-per-core host runs it) and on a shared 2-worker
//!   runtime; throughput and the process's CPU time, against (a);
//! - instantiation cost and memory per open flow;
//! - the handshake, natively and inside wasm;
//! - an encrypted echo for each cipher, natively and inside wasm.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use spoke_host::{Cipher, Flow, Instance, NetworkPolicy, ShutdownMode, Spoke, SpokeConfig};
use spoke_protocol::stream::SecureStream;
use spoke_protocol::{Cipher as CoreCipher, Config as CoreConfig, Identities};

const CHUNK: usize = 64 * 1024;
/// The buffer of a native relay (echo server, proxy): as large as one read
/// of the guest's copy loop, and as the native client's reads.
const RELAY_BUF: usize = 256 * 1024;
/// Bytes in flight (sent, not yet echoed) for host-driven clients.
const WINDOW: usize = 1 << 20;
const PASSWORD: &[u8] = b"correct horse battery staple";

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

/// A non-repeating payload.
fn payload(size: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind loopback")
}

/// A native echo server for one connection.
fn native_echo_server() -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = loopback();
    let addr = listener.local_addr().unwrap();
    let t = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        relay(&s, &s);
    });
    (addr, t)
}

/// Copies `from` to `to` in reads of up to [`RELAY_BUF`] until `from`
/// ends or either fails, then half-closes `to`.
fn relay(mut from: &TcpStream, mut to: &TcpStream) {
    let mut buf = vec![0; RELAY_BUF];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A native client: one thread writes `data`, this one reads the echo and
/// checks it. Returns the time from the first byte sent to the last echoed.
fn native_client<W: Write + Send + 'static>(
    mut writer: W,
    mut reader: impl Read,
    data: &'static [u8],
    end: impl FnOnce(&mut W) + Send + 'static,
) -> Duration {
    let start = Instant::now();
    let w = thread::spawn(move || {
        for chunk in data.chunks(CHUNK) {
            writer.write_all(chunk).unwrap();
        }
        end(&mut writer);
    });
    let mut got = 0;
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert_eq!(&buf[..n], &data[got..got + n], "echo differs at {got}");
        got += n;
    }
    let elapsed = start.elapsed();
    w.join().unwrap();
    assert_eq!(got, data.len(), "echo incomplete");
    elapsed
}

/// A plain native client of `addr` (see [`native_client`]).
fn plain_client(addr: SocketAddr, data: &'static [u8]) -> Duration {
    let s = TcpStream::connect(addr).unwrap();
    let r = s.try_clone().unwrap();
    native_client(s, r, data, |s| s.shutdown(Shutdown::Write).unwrap())
}

/// (a) native sockets on both ends.
fn native_plain(data: &'static [u8]) -> Duration {
    let (addr, server) = native_echo_server();
    let d = plain_client(addr, data);
    server.join().unwrap();
    d
}

/// The host writes `data` into `flow` and reads the echo back, keeping at
/// most [`WINDOW`] bytes in flight.
async fn host_driven(inst: &mut Instance, flow: &Flow, data: &[u8]) -> Duration {
    let start = Instant::now();
    let (mut sent, mut got) = (0, 0);
    let mut shut = false;
    loop {
        if sent < data.len() && sent - got < WINDOW {
            let end = (sent + CHUNK).min(data.len());
            inst.write(flow, &data[sent..end]).await.unwrap();
            sent = end;
            continue;
        }
        if sent == data.len() && !shut {
            inst.shutdown(flow, ShutdownMode::Write).await.unwrap();
            shut = true;
        }
        match inst.read(flow, 1 << 20).await.unwrap() {
            Some(chunk) => {
                assert_eq!(
                    &chunk[..],
                    &data[got..got + chunk.len()],
                    "echo differs at {got}"
                );
                got += chunk.len();
            }
            None => break,
        }
    }
    assert_eq!(got, data.len(), "echo incomplete");
    start.elapsed()
}

/// Proxies `a` and `b` inside the instance until both directions end,
/// which must be without error, then closes both.
async fn proxy_to_the_end(inst: &mut Instance, a: Flow, b: Flow) {
    let (up, down) = inst.proxy(&a, &b).await;
    assert!(
        up.error.is_none() && down.error.is_none(),
        "proxy failed: {up:?} {down:?}"
    );
    inst.close(a).await;
    inst.close(b).await;
}

/// (b) the host drives the component's flow against a native echo server.
async fn component_driven(spoke: &Spoke, data: &'static [u8]) -> Duration {
    let (addr, server) = native_echo_server();
    let mut inst = spoke
        .instantiate(NetworkPolicy::deny_all().allow_connect(addr))
        .await
        .unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    let d = host_driven(&mut inst, &flow, data).await;
    inst.close(flow).await;
    server.join().unwrap();
    d
}

/// A component instance that accepts one connection and hands the flow
/// to `serve`, on its own task.
async fn component_server<F, Fut>(
    spoke: &Spoke,
    serve: F,
) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    F: FnOnce(Instance, Flow) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut inst = spoke
        .instantiate(NetworkPolicy::deny_all().allow_listen(any))
        .await
        .unwrap();
    let listener = inst.listen(any).await.unwrap();
    let addr = inst.listener_address(&listener).await.unwrap();
    let t = tokio::spawn(async move {
        let flow = inst.accept(&listener).await.unwrap();
        inst.close_listener(listener).await;
        serve(inst, flow).await;
    });
    (addr, t)
}

/// (c) a copy loop inside the guest echoes for a native client.
async fn component_copy(spoke: &Spoke, data: &'static [u8]) -> Duration {
    let (addr, server) = component_server(spoke, |mut inst, flow| async move {
        inst.copy(&flow, &flow).await.unwrap();
        inst.close(flow).await;
    })
    .await;
    let d = tokio::task::spawn_blocking(move || plain_client(addr, data))
        .await
        .unwrap();
    server.await.unwrap();
    d
}

/// Runs `work` on a thread of its own, on a current-thread runtime: the
/// instance and the socket readiness it waits on share one thread, so no
/// wake-up crosses threads (what a thread-per-core host does).
fn on_own_thread<T, F>(work: impl FnOnce() -> F + Send + 'static) -> thread::JoinHandle<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T>,
{
    thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
            .block_on(work())
    })
}

/// (b) with the host and its instance on a thread of their own.
async fn component_driven_own_thread(spoke: &Spoke, data: &'static [u8]) -> Duration {
    let spoke = spoke.clone();
    let t = on_own_thread(move || async move { component_driven(&spoke, data).await });
    tokio::task::spawn_blocking(move || t.join().unwrap())
        .await
        .unwrap()
}

/// (c) with the echoing instance on a thread of its own.
async fn component_copy_own_thread(spoke: &Spoke, data: &'static [u8]) -> Duration {
    let spoke = spoke.clone();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let server = on_own_thread(move || async move {
        let (addr, server) = component_server(&spoke, |mut inst, flow| async move {
            inst.copy(&flow, &flow).await.unwrap();
            inst.close(flow).await;
        })
        .await;
        let _ = addr_tx.send(addr);
        server.await.unwrap();
    });
    let addr = addr_rx.await.expect("the server listens");
    tokio::task::spawn_blocking(move || {
        let d = plain_client(addr, data);
        server.join().unwrap();
        d
    })
    .await
    .unwrap()
}

/// A native proxy for one connection: accepts, connects to `target`, and
/// copies each way on a thread of its own in 64 KiB reads, passing each
/// end-of-stream on as a half-close.
fn native_proxy(target: SocketAddr) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = loopback();
    let addr = listener.local_addr().unwrap();
    let t = thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let server = TcpStream::connect(target).unwrap();
        let one_way = |from: TcpStream, to: TcpStream| thread::spawn(move || relay(&from, &to));
        let up = one_way(client.try_clone().unwrap(), server.try_clone().unwrap());
        let down = one_way(server, client);
        up.join().unwrap();
        down.join().unwrap();
    });
    (addr, t)
}

/// (a') a native client, a native proxy and a native echo server.
fn native_proxied(data: &'static [u8]) -> Duration {
    let (echo, echo_server) = native_echo_server();
    let (addr, proxy) = native_proxy(echo);
    let d = plain_client(addr, data);
    proxy.join().unwrap();
    echo_server.join().unwrap();
    d
}

/// (d) the same with `proxy` inside the guest in place of the native
/// proxy, the instance on a thread of its own.
async fn component_proxied(spoke: &Spoke, data: &'static [u8]) -> Duration {
    let (echo, echo_server) = native_echo_server();
    let spoke = spoke.clone();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let proxy = on_own_thread(move || async move {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let policy = NetworkPolicy::deny_all()
            .allow_listen(any)
            .allow_connect(echo);
        let mut inst = spoke.instantiate(policy).await.unwrap();
        let listener = inst.listen(any).await.unwrap();
        let _ = addr_tx.send(inst.listener_address(&listener).await.unwrap());
        let client = inst.accept(&listener).await.unwrap();
        inst.close_listener(listener).await;
        let server = inst.connect_address(echo).await.unwrap();
        proxy_to_the_end(&mut inst, client, server).await;
    });
    let addr = addr_rx.await.expect("the proxy listens");
    tokio::task::spawn_blocking(move || {
        let d = plain_client(addr, data);
        proxy.join().unwrap();
        echo_server.join().unwrap();
        d
    })
    .await
    .unwrap()
}

fn core_config(c: CoreCipher) -> CoreConfig {
    CoreConfig {
        server_to_client: c,
        client_to_server: c,
        ..CoreConfig::default()
    }
}

fn ids() -> Identities {
    Identities {
        client: b"bench-client".to_vec(),
        server: b"bench-server".to_vec(),
    }
}

/// A native encrypted echo server (the core over std sockets).
fn native_secure_server(c: CoreCipher) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = loopback();
    let addr = listener.local_addr().unwrap();
    let t = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut s = SecureStream::server(s, &core_config(c), ids(), PASSWORD).unwrap();
        let mut buf = vec![0; CHUNK];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => s.write_all(&buf[..n]).unwrap(),
                Err(e) => panic!("native echo: {e}"),
            }
        }
        s.shutdown_write().unwrap();
    });
    (addr, t)
}

/// Both ends native: handshake time and encrypted echo time (the client
/// writes from one thread and reads from another).
fn native_secure(c: CoreCipher, data: &'static [u8]) -> (Duration, Duration) {
    let (addr, server) = native_secure_server(c);
    let start = Instant::now();
    let s = SecureStream::client(
        TcpStream::connect(addr).unwrap(),
        &CoreConfig::default(),
        ids(),
        PASSWORD,
    )
    .unwrap();
    let handshake = start.elapsed();
    let (reader, writer) = s.split();
    let echo = native_client(writer, reader, data, |w| w.shutdown_write().unwrap());
    server.join().unwrap();
    (handshake, echo)
}

fn wit_cipher(c: CoreCipher) -> Cipher {
    match c {
        CoreCipher::Aes256Gcm => Cipher::Aes256Gcm,
        CoreCipher::Aes256Ccm => Cipher::Aes256Ccm,
        _ => Cipher::Chacha20Poly1305,
    }
}

/// A component instance that echoes one encrypted connection inside the guest.
async fn component_secure_echo(
    spoke: &Spoke,
    cfg: SpokeConfig,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    component_server(spoke, move |mut inst, flow| async move {
        let flow = inst
            .spoke_server(flow, ("bench-client", "bench-server"), PASSWORD, &cfg)
            .await
            .unwrap();
        inst.copy(&flow, &flow).await.unwrap();
        inst.close(flow).await;
    })
    .await
}

fn cipher_config(c: CoreCipher) -> SpokeConfig {
    SpokeConfig {
        server_to_client: wit_cipher(c),
        client_to_server: wit_cipher(c),
        ..SpokeConfig::default()
    }
}

/// Both ends in components, the host driving the client as `spoke simulate`
/// does. Returns handshake and echo times.
async fn component_secure(
    spoke: &Spoke,
    c: CoreCipher,
    data: &'static [u8],
) -> (Duration, Duration) {
    let cfg = cipher_config(c);
    let (addr, server) = component_secure_echo(spoke, cfg).await;
    let mut inst = spoke
        .instantiate(NetworkPolicy::deny_all().allow_connect(addr))
        .await
        .unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    let start = Instant::now();
    let flow = inst
        .spoke_client(flow, ("bench-client", "bench-server"), PASSWORD, &cfg)
        .await
        .unwrap();
    let handshake = start.elapsed();
    let echo = host_driven(&mut inst, &flow, data).await;
    inst.close(flow).await;
    server.await.unwrap();
    (handshake, echo)
}

/// Both ends in components with every byte moved inside the guests: a
/// native plain client feeds a component that `proxy`s its plain flow into
/// an encrypted one (a tunnel entrance), and the server echoes inside its
/// guest.
async fn component_secure_proxied(spoke: &Spoke, c: CoreCipher, data: &'static [u8]) -> Duration {
    let cfg = cipher_config(c);
    let (server_addr, server) = component_secure_echo(spoke, cfg).await;
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let policy = NetworkPolicy::deny_all()
        .allow_listen(any)
        .allow_connect(server_addr);
    let mut inst = spoke.instantiate(policy).await.unwrap();
    let listener = inst.listen(any).await.unwrap();
    let entrance = inst.listener_address(&listener).await.unwrap();
    let tunnel = tokio::spawn(async move {
        let plain = inst.accept(&listener).await.unwrap();
        let under = inst.connect_address(server_addr).await.unwrap();
        let secure = inst
            .spoke_client(under, ("bench-client", "bench-server"), PASSWORD, &cfg)
            .await
            .unwrap();
        proxy_to_the_end(&mut inst, plain, secure).await;
    });
    let d = tokio::task::spawn_blocking(move || plain_client(entrance, data))
        .await
        .unwrap();
    tunnel.await.unwrap();
    server.await.unwrap();
    d
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// This process's CPU time (user and system, every thread), read from
/// `/proc/self/stat` in clock ticks.
struct CpuClock(u64);

impl CpuClock {
    fn start() -> Self {
        CpuClock(Self::now())
    }

    /// The ticks used since the last lap (or the start).
    fn lap(&mut self) -> u64 {
        let now = Self::now();
        let used = now.saturating_sub(self.0);
        self.0 = now;
        used
    }

    fn now() -> u64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // utime and stime are the 14th and 15th fields, counted from the
        // pid; the command name before them is in parentheses.
        let after_name = stat.rsplit(')').next().unwrap_or_default();
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        field(11) + field(12)
    }
}

/// The median of `v` (the upper one of an even count).
fn fmedian(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The lowest and highest of `v`, as "low-high".
fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.2}-{hi:.2}")
}

/// Resident memory of this process, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Resident memory per open flow, in KiB: 256 flows in one instance, then
/// 256 instances with one flow each.
async fn memory_per_flow(spoke: &Spoke) -> (f64, f64) {
    const N: usize = 256;
    let listener = loopback();
    let addr = listener.local_addr().unwrap();
    let acceptor = thread::spawn(move || {
        (0..2 * N)
            .map(|_| listener.accept().unwrap().0)
            .collect::<Vec<_>>()
    });
    let policy = NetworkPolicy::deny_all().allow_connect(addr);
    let kib = |before: usize, after: usize| after.saturating_sub(before) as f64 / N as f64 / 1024.0;

    let mut inst = spoke.instantiate(policy.clone()).await.unwrap();
    let before = rss();
    let mut flows = Vec::new();
    for _ in 0..N {
        flows.push(inst.connect_address(addr).await.unwrap());
    }
    let shared = kib(before, rss());

    let before = rss();
    let mut instances = Vec::new();
    for _ in 0..N {
        let mut own = spoke.instantiate(policy.clone()).await.unwrap();
        let flow = own.connect_address(addr).await.unwrap();
        instances.push((own, flow));
    }
    let own = kib(before, rss());

    for f in flows {
        inst.close(f).await;
    }
    for (mut i, f) in instances {
        i.close(f).await;
    }
    drop(acceptor.join().unwrap());
    (shared, own)
}

fn main() {
    let mb: usize = std::env::var("SPOKE_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let data: &'static [u8] = payload(mb << 20).leak();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = Instant::now();
        let spoke = Spoke::new().expect("load the component");
        println!(
            "compile the component: {:.0} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        if let Ok(only) = std::env::var("SPOKE_BENCH_ONLY") {
            return one_path(&spoke, data, &only).await;
        }
        plain_echo(&spoke, data, mb).await;
        cost(&spoke).await;
        handshake(&spoke).await;
        encrypted_echo(&spoke, data, mb).await;
    });
}

/// One path alone, repeated, for profiling: SPOKE_BENCH_ONLY=native,
/// host (b), copy (c), native-proxy (a'), proxy (d), the encrypted
/// proxied or driven, or plain (all the plain paths in turn).
async fn one_path(spoke: &Spoke, data: &'static [u8], only: &str) {
    let c = CoreCipher::ChaCha20Poly1305;
    for _ in 0..5 {
        if only == "plain" {
            let a = mbps(data.len(), native_plain(data));
            let b = mbps(data.len(), component_driven_own_thread(spoke, data).await);
            let c = mbps(data.len(), component_copy_own_thread(spoke, data).await);
            let a2 = mbps(data.len(), native_proxied(data));
            let d = mbps(data.len(), component_proxied(spoke, data).await);
            println!(
                "(a) {a:.0}  (b) {b:.0} {:.2}  (c) {c:.0} {:.2}  (a') {a2:.0}  (d) {d:.0} {:.2}",
                b / a,
                c / a,
                d / a2
            );
            continue;
        }
        let d = match only {
            "proxied" => component_secure_proxied(spoke, c, data).await,
            "driven" => component_secure(spoke, c, data).await.1,
            "copy" => component_copy_own_thread(spoke, data).await,
            "host" => component_driven_own_thread(spoke, data).await,
            "native" => native_plain(data),
            "proxy" => component_proxied(spoke, data).await,
            "native-proxy" => native_proxied(data),
            other => panic!("SPOKE_BENCH_ONLY: unknown path {other}"),
        };
        println!("{only}: {:.0} MB/s", mbps(data.len(), d));
    }
}

/// The plain echo paths (and the proxies), taking turns round after round.
async fn plain_echo(spoke: &Spoke, data: &'static [u8], mb: usize) {
    // Loopback throughput on a shared machine drifts by 10% and more
    // from one run to the next, so the paths take turns, round
    // after round, and each ratio is the median of the rounds' ratios.
    let rounds: usize = std::env::var("SPOKE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
        .max(1);
    println!("\n== plain echo of {mb} MiB over loopback, {rounds} rounds taking turns (medians)");
    println!(
        "own thread: the instance on a current-thread runtime of its own; shared: on the bench's 2-worker runtime."
    );
    println!(
        "CPU: this process's CPU time over all rounds (both ends of the echo), against native's."
    );
    let mut speed: [Vec<f64>; 7] = Default::default();
    let mut cpu = [0u64; 7];
    let mut clock = CpuClock::start();
    for _ in 0..rounds {
        speed[0].push(mbps(data.len(), native_plain(data)));
        cpu[0] += clock.lap();
        speed[1].push(mbps(
            data.len(),
            component_driven_own_thread(spoke, data).await,
        ));
        cpu[1] += clock.lap();
        speed[2].push(mbps(
            data.len(),
            component_copy_own_thread(spoke, data).await,
        ));
        cpu[2] += clock.lap();
        speed[3].push(mbps(data.len(), component_driven(spoke, data).await));
        cpu[3] += clock.lap();
        speed[4].push(mbps(data.len(), component_copy(spoke, data).await));
        cpu[4] += clock.lap();
        speed[5].push(mbps(data.len(), native_proxied(data)));
        cpu[5] += clock.lap();
        speed[6].push(mbps(data.len(), component_proxied(spoke, data).await));
        cpu[6] += clock.lap();
    }
    // (label, path, its baseline, the target printed beside it)
    const ROWS: [(&str, usize, usize, &str); 7] = [
        ("(a) native std sockets                      ", 0, 0, ""),
        (
            "(b) host driving component flows, own thread",
            1,
            0,
            "  (target >= 0.90)",
        ),
        (
            "(c) copy loop inside the guest, own thread  ",
            2,
            0,
            "  (target >= 1.00)",
        ),
        ("    (b) on a shared runtime                 ", 3, 0, ""),
        ("    (c) on a shared runtime                 ", 4, 0, ""),
        ("(a') a native proxy, a thread each way      ", 5, 5, ""),
        ("(d) proxy inside the guest, own thread      ", 6, 5, ""),
    ];
    for (label, i, base, target) in ROWS {
        if i == 5 {
            println!("through a proxy to a native echo server, against (a') as the baseline:");
        }
        let ratios: Vec<f64> = speed[i]
            .iter()
            .zip(&speed[base])
            .map(|(x, a)| x / a)
            .collect();
        println!(
            "{label}  {:6.0} MB/s   {:.2} (rounds {})   CPU {:.2}{target}",
            fmedian(&speed[i]),
            fmedian(&ratios),
            spread(&ratios),
            cpu[i] as f64 / cpu[base].max(1) as f64
        );
    }
}

/// What an instance and an open flow cost.
async fn cost(spoke: &Spoke) {
    println!("\n== cost");
    let n = 200;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let inst = spoke.instantiate(NetworkPolicy::deny_all()).await.unwrap();
        times.push(t.elapsed());
        drop(inst);
    }
    println!(
        "instantiate: median {:.0} us over {n}",
        median(times).as_secs_f64() * 1e6
    );
    let (shared, own) = memory_per_flow(spoke).await;
    println!(
        "memory per open flow: {shared:.1} KiB in a shared instance, {own:.1} KiB with an instance of its own"
    );
    println!(
        "  (growth of this process's resident memory over 256 flows, both socket ends included)"
    );
}

/// The handshake natively and inside wasm.
async fn handshake(spoke: &Spoke) {
    println!("\n== handshake (PBKDF2 16 iterations; median of 15)");
    let mut native = Vec::new();
    let mut wasm = Vec::new();
    for _ in 0..15 {
        native.push(
            tokio::task::spawn_blocking(|| native_secure(CoreCipher::ChaCha20Poly1305, &[]).0)
                .await
                .unwrap(),
        );
        wasm.push(
            component_secure(spoke, CoreCipher::ChaCha20Poly1305, &[])
                .await
                .0,
        );
    }
    let (n, w) = (median(native), median(wasm));
    println!(
        "native {:.2} ms   wasm {:.2} ms   wasm/native {:.2}",
        n.as_secs_f64() * 1e3,
        w.as_secs_f64() * 1e3,
        w.as_secs_f64() / n.as_secs_f64()
    );
}

/// An encrypted echo per cipher, natively and inside wasm.
async fn encrypted_echo(spoke: &Spoke, data: &'static [u8], mb: usize) {
    println!("\n== encrypted echo of {mb} MiB, the same cipher both ways (MB/s of payload)");
    println!("native: the core over std sockets at both ends.");
    println!(
        "wasm: both ends in components, bytes moved inside the guests (a plain flow proxied into an encrypted one)."
    );
    println!(
        "wasm, host-driven: the host writes and reads the client's flow (Instance::write and read)."
    );
    println!(
        "(The OCaml reference is measured, with the rest of the paths users run, by the user_paths bench.)"
    );
    for c in [
        CoreCipher::ChaCha20Poly1305,
        CoreCipher::Aes256Gcm,
        CoreCipher::Aes256Ccm,
    ] {
        let native = tokio::task::spawn_blocking(move || native_secure(c, data).1)
            .await
            .unwrap();
        let wasm = component_secure_proxied(spoke, c, data).await;
        let (_, driven) = component_secure(spoke, c, data).await;
        let (n, w, d) = (
            mbps(data.len(), native),
            mbps(data.len(), wasm),
            mbps(data.len(), driven),
        );
        println!(
            "{:<18} native {n:6.0}   wasm {w:6.0} ({:.2} of native)   wasm host-driven {d:6.0}",
            format!("{c:?}"),
            w / n,
        );
    }
}
