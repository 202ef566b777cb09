//! What the integration tests share: one compiled component, native peers
//! on loopback, and a non-repeating byte pattern.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::OnceLock;

use spoke_host::{NetworkPolicy, Spoke};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The component, compiled once per test binary.
pub fn spoke() -> Spoke {
    static SPOKE: OnceLock<Spoke> = OnceLock::new();
    SPOKE
        .get_or_init(|| Spoke::new().expect("the Spoke component compiles"))
        .clone()
}

/// A policy allowing exactly one connect.
pub fn connect_to(addr: SocketAddr) -> NetworkPolicy {
    NetworkPolicy::deny_all().allow_connect(addr)
}

/// `len` bytes that never repeat with a short period: byte i is a hash of
/// i, so a dropped, duplicated or reordered chunk changes the content.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            (x ^ (x >> 29) ^ (x >> 47)) as u8
        })
        .collect()
}

/// A native echo server on 127.0.0.1: echoes each connection until EOF,
/// then half-closes. Serves connections concurrently.
pub async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (mut r, mut w) = sock.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

/// Reads everything from `flow` until end-of-stream.
pub async fn read_to_end(inst: &mut spoke_host::Instance, flow: &spoke_host::Flow) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = inst.read(flow, 1 << 16).await.expect("read") {
        assert!(
            !chunk.is_empty(),
            "a read returns at least one byte or end-of-stream"
        );
        out.extend_from_slice(&chunk);
    }
    out
}

/// Reads exactly `n` bytes from a native stream.
pub async fn read_exact(sock: &mut tokio::net::TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    sock.read_exact(&mut buf).await.unwrap();
    buf
}

/// A native echo server that reads each connection to its end, then sends
/// everything back and closes: one flow can write any amount before reading
/// without both sides blocking on full socket buffers.
pub async fn store_and_forward_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut all = Vec::new();
                if sock.read_to_end(&mut all).await.is_ok() {
                    let _ = sock.write_all(&all).await;
                    let _ = sock.shutdown().await;
                }
            });
        }
    });
    addr
}

/// Fails the test instead of hanging forever if `fut` never finishes.
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(std::time::Duration::from_secs(120), fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish"),
    }
}
