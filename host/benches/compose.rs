//! An application composed with the Spoke component against the component
//! used directly by the host: how fast bytes move through a flow either way.
//!
//! Run with `cargo bench -p spoke-host --bench compose` (set
//! `SPOKE_BENCH_MIB` for another amount, `SPOKE_BENCH_RUNS` for more runs,
//! `SPOKE_BENCH_ONLY=direct` or `=composed` to profile one path).
//!
//! - **download**: a native peer sends N MiB and closes. *Direct*: the host
//!   reads the flow with `Instance::read`. *Composed*: `spoke-cat` (composed
//!   with the Spoke component, run by `CommandComponent`) hands its standard
//!   streams to Spoke's `pipe`, which copies the flow to standard output,
//!   which the host counts.
//! - **upload**: the host has N MiB to send and a native peer counts them.
//!   *Direct*: `Instance::write`. *Composed*: `spoke-cat`'s standard input
//!   yields the bytes and `pipe` writes them to the flow.
//!
//! Each figure is timed from the peer's accept to the last byte arriving,
//! so compiling and instantiating are not counted; medians of the runs, in
//! MB/s (10^6 bytes per second).

use std::io::Cursor;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use spoke_host::{CommandComponent, Invocation, NetworkPolicy, Spoke};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;

/// The chunk size the direct path reads and writes with (the largest read
/// wasmtime's sockets do at once is 64 KiB anyway).
const CHUNK: usize = 256 * 1024;

fn main() -> anyhow::Result<()> {
    let mib: usize = std::env::var("SPOKE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let runs: usize = std::env::var("SPOKE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let total = mib << 20;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let spoke = Spoke::new()?;
        let cat = CommandComponent::new(spoke_examples::SPOKE_CAT)?;
        println!("compose: {mib} MiB per run, median of {runs} runs, MB/s of payload");
        for (name, dir) in [
            ("download (peer -> flow -> host)", Dir::Download),
            ("upload (host -> flow -> peer)", Dir::Upload),
        ] {
            let mut direct = Vec::new();
            let mut composed = Vec::new();
            let only = std::env::var("SPOKE_BENCH_ONLY").unwrap_or_default();
            for _ in 0..runs {
                if only != "composed" {
                    direct.push(mbps(total, run_direct(&spoke, dir, total).await?));
                }
                if only != "direct" {
                    composed.push(mbps(total, run_composed(&cat, dir, total).await?));
                }
            }
            if direct.is_empty() || composed.is_empty() {
                let (which, v) = if direct.is_empty() {
                    ("composed", &mut composed)
                } else {
                    ("direct", &mut direct)
                };
                println!("{name}: {which} {:8.0} MB/s", median(v));
                continue;
            }
            let (d, c) = (median(&mut direct), median(&mut composed));
            println!("{name}");
            println!("  direct   (host drives the component)  {d:8.0} MB/s");
            println!("  composed (spoke-cat + Spoke, command) {c:8.0} MB/s");
            println!("  composed / direct                      {:8.2}", c / d);
        }
        anyhow::Ok(())
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Download,
    Upload,
}

fn mbps(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / took.as_secs_f64() / 1e6
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A native peer for one connection: sends `total` bytes then closes
/// (download), or counts bytes to the end (upload). Reports the time from
/// accept to its own end; the download's real end is the receiver's, so
/// the caller takes the later of the two.
async fn peer(
    dir: Dir,
    total: usize,
) -> anyhow::Result<(
    SocketAddr,
    tokio::task::JoinHandle<anyhow::Result<Instant>>,
    Arc<Mutex<Option<Instant>>>,
)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let started = Arc::new(Mutex::new(None));
    let start = started.clone();
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await?;
        *start.lock().unwrap() = Some(Instant::now());
        match dir {
            Dir::Download => {
                let buf = vec![0x5a; 1 << 20];
                let mut left = total;
                while left > 0 {
                    let n = left.min(buf.len());
                    sock.write_all(&buf[..n]).await?;
                    left -= n;
                }
                sock.shutdown().await?;
                // Wait for the client to finish and close, so that the socket
                // is not reset under it.
                let mut rest = Vec::new();
                let _ = sock.read_to_end(&mut rest).await;
            }
            Dir::Upload => {
                let mut buf = vec![0; 1 << 20];
                let mut got = 0;
                loop {
                    let n = sock.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    got += n;
                }
                anyhow::ensure!(got == total, "the peer received {got} of {total} bytes");
            }
        }
        Ok(Instant::now())
    });
    Ok((addr, task, started))
}

fn since(started: &Mutex<Option<Instant>>, end: Instant) -> anyhow::Result<Duration> {
    let start = started
        .lock()
        .unwrap()
        .ok_or_else(|| anyhow::anyhow!("the peer never accepted"))?;
    Ok(end.duration_since(start))
}

async fn run_direct(spoke: &Spoke, dir: Dir, total: usize) -> anyhow::Result<Duration> {
    let (addr, peer, started) = peer(dir, total).await?;
    let mut instance = spoke
        .instantiate(NetworkPolicy::deny_all().allow_connect(addr))
        .await?;
    let flow = instance
        .connect(&addr.ip().to_string(), addr.port())
        .await?;
    let end = match dir {
        Dir::Download => {
            let mut got = 0;
            while let Some(data) = instance.read(&flow, CHUNK as u32).await? {
                got += data.len();
            }
            anyhow::ensure!(got == total, "read {got} of {total} bytes");
            let end = Instant::now();
            instance.close(flow).await;
            peer.await??;
            end
        }
        Dir::Upload => {
            let chunk = vec![0x5a; CHUNK];
            let mut left = total;
            while left > 0 {
                let n = left.min(CHUNK);
                instance.write(&flow, &chunk[..n]).await?;
                left -= n;
            }
            instance.close(flow).await;
            peer.await??
        }
    };
    since(&started, end)
}

async fn run_composed(cat: &CommandComponent, dir: Dir, total: usize) -> anyhow::Result<Duration> {
    let (addr, peer, started) = peer(dir, total).await?;
    let args = [
        "spoke-cat".to_string(),
        addr.ip().to_string(),
        addr.port().to_string(),
    ];
    let invocation = Invocation::new(&args).policy(NetworkPolicy::deny_all().allow_connect(addr));
    let sink = CountingSink::default();
    let counted = sink.0.clone();
    let invocation = match dir {
        Dir::Download => invocation.stdin(Cursor::new(Vec::new())).stdout(sink),
        Dir::Upload => invocation.stdin(Zeros(total)).stdout(sink),
    };
    let exit = cat.run(invocation).await?;
    anyhow::ensure!(exit.success(), "spoke-cat failed: {exit:?}");
    let end = match dir {
        Dir::Download => {
            let (got, end) = *counted.lock().unwrap();
            anyhow::ensure!(got == total, "spoke-cat printed {got} of {total} bytes");
            peer.await??;
            end.ok_or_else(|| anyhow::anyhow!("nothing was printed"))?
        }
        Dir::Upload => peer.await??,
    };
    since(&started, end)
}

/// Standard input that yields `n` bytes of zeros without allocating them.
struct Zeros(usize);

impl AsyncRead for Zeros {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.0.min(buf.remaining());
        buf.put_slice(&ZEROS[..n.min(ZEROS.len())]);
        self.0 -= n.min(ZEROS.len());
        Poll::Ready(Ok(()))
    }
}

static ZEROS: [u8; 1 << 16] = [0; 1 << 16];

/// Standard output that counts bytes and notes when the last one came.
#[derive(Clone, Default)]
struct CountingSink(Arc<Mutex<(usize, Option<Instant>)>>);

impl AsyncWrite for CountingSink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut c = self.0.lock().unwrap();
        c.0 += buf.len();
        c.1 = Some(Instant::now());
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
