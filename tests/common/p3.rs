//! What the tests of the WASI 0.3 component share: one compiled component,
//! instances that listen or connect on loopback, and moving bytes through a
//! stream in both directions at once.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::OnceLock;

use spoke_host::NetworkPolicy;
use spoke_host::p3::{Instance, Listener, SpokeP3};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The 0.3 component, compiled once per test binary.
pub fn spoke_p3() -> SpokeP3 {
    static SPOKE: OnceLock<SpokeP3> = OnceLock::new();
    SPOKE
        .get_or_init(|| SpokeP3::new().expect("the 0.3 component compiles"))
        .clone()
}

/// An instance allowed to listen on `local` (port 0: any), listening there.
pub async fn listening(local: &str) -> (Instance, Listener, SocketAddr) {
    let local: SocketAddr = local.parse().unwrap();
    let inst = spoke_p3()
        .instantiate(NetworkPolicy::deny_all().allow_listen(local))
        .await
        .unwrap();
    let listener = inst.listen(local).await.unwrap();
    let addr = listener.local_addr();
    (inst, listener, addr)
}

/// An instance allowed to connect to `addr` and nothing else.
pub async fn connecting_to(addr: SocketAddr) -> Instance {
    spoke_p3()
        .instantiate(NetworkPolicy::deny_all().allow_connect(addr))
        .await
        .unwrap()
}

/// Writes `data` to `stream` and shuts its writing half down, while reading
/// everything that comes back until end-of-stream; returns what came back.
/// Writing and reading at once lets a peer that echoes as it reads take any
/// amount.
pub async fn exchange<S>(stream: S, data: &[u8]) -> std::io::Result<Vec<u8>>
where
    S: AsyncRead + AsyncWrite,
{
    let (mut r, mut w) = tokio::io::split(stream);
    let write = async {
        w.write_all(data).await?;
        w.shutdown().await
    };
    let read = async {
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.map(|_| back)
    };
    let (written, back) = tokio::join!(write, read);
    written?;
    back
}

/// Reads `stream` to its end and sends everything back, then shuts down.
pub async fn echo_back<S>(stream: S) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite,
{
    let (mut r, mut w) = tokio::io::split(stream);
    tokio::io::copy(&mut r, &mut w).await?;
    w.shutdown().await
}
