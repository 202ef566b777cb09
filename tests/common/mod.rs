//! What the integration tests share: one compiled component, native peers
//! on loopback, and a non-repeating byte pattern.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;

use spoke_host::{Flow, Instance, Listener, NetworkPolicy, Spoke};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The component, compiled once per test binary.
pub fn spoke() -> Spoke {
    static SPOKE: OnceLock<Spoke> = OnceLock::new();
    SPOKE
        .get_or_init(|| Spoke::new().expect("the Spoke component compiles"))
        .clone()
}

/// An instance allowed to listen on `local` (port 0: any), listening there,
/// with the address it got.
pub async fn listening(local: &str) -> (Instance, Listener, SocketAddr) {
    let local: SocketAddr = local.parse().unwrap();
    let mut inst = spoke()
        .instantiate(NetworkPolicy::deny_all().allow_listen(local))
        .await
        .unwrap();
    let listener = inst.listen(local).await.unwrap();
    let addr = inst.listener_address(&listener).await.unwrap();
    (inst, listener, addr)
}

/// A server instance listening on loopback and a client instance allowed to
/// reach it (and nothing else), each with the plain flow of one connection.
pub async fn connected_pair() -> ((Instance, Flow), (Instance, Flow)) {
    let (mut server, listener, addr) = listening("127.0.0.1:0").await;
    let mut client = spoke().instantiate(connect_to(addr)).await.unwrap();
    let (accepted, connected) =
        tokio::join!(server.accept(&listener), client.connect_address(addr));
    ((server, accepted.unwrap()), (client, connected.unwrap()))
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

/// A native server on 127.0.0.1 that runs `handle` on every connection it
/// accepts, concurrently, for as long as the test runs.
pub async fn serve<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(handle(sock));
        }
    });
    addr
}

/// Reads from `sock` up to and including `end`; `None` if the stream ends
/// (or fails) first. One byte at a time, so nothing past `end` is taken.
pub async fn read_until(sock: &mut TcpStream, end: &[u8]) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(end) {
        if sock.read(&mut byte).await.unwrap_or(0) == 0 {
            return None;
        }
        got.push(byte[0]);
    }
    Some(got)
}

/// A native echo server on 127.0.0.1: echoes each connection until EOF,
/// then half-closes. Serves connections concurrently.
pub async fn echo_server() -> SocketAddr {
    serve(echo).await
}

/// Echoes `sock` until its end-of-stream, then half-closes it.
pub async fn echo(mut sock: TcpStream) {
    let (mut r, mut w) = sock.split();
    let _ = tokio::io::copy(&mut r, &mut w).await;
    let _ = w.shutdown().await;
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
    serve(|mut sock| async move {
        let mut all = Vec::new();
        if sock.read_to_end(&mut all).await.is_ok() {
            let _ = sock.write_all(&all).await;
            let _ = sock.shutdown().await;
        }
    })
    .await
}

/// Fails the test instead of hanging forever if `fut` never finishes.
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(std::time::Duration::from_secs(120), fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish"),
    }
}
