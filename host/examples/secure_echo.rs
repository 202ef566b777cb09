//! Embedding Spoke in a Rust program: open a password-secured flow to a
//! peer and exchange data over it.
//!
//! The peer is a native echo server (the protocol core over std sockets,
//! [`spoke_protocol::stream::SecureStream`]) on a loopback port in a thread of
//! this process. The client side runs inside a Spoke component instance
//! whose network policy allows connecting to that one address and nothing
//! else.
//!
//! Run with `cargo run --release -p spoke-host --example secure_echo`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;

use anyhow::{Context, Result, anyhow};
use spoke_host::{NetworkPolicy, ShutdownMode, Spoke, SpokeConfig};
use spoke_protocol::stream::SecureStream;
use spoke_protocol::{Config, Identities};

/// Both ends must agree on the password and on the identity pair.
const PASSWORD: &[u8] = b"correct horse battery staple";
const CLIENT: &str = "example-client";
const SERVER: &str = "example-server";

/// Starts a native echo server for one connection: it runs the server side
/// of the handshake, echoes every byte until the client's end of stream,
/// then ends its own side.
fn spawn_echo_server() -> Result<(SocketAddr, thread::JoinHandle<Result<u64>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = thread::spawn(move || -> Result<u64> {
        let (socket, _) = listener.accept()?;
        let ids = Identities {
            client: CLIENT.into(),
            server: SERVER.into(),
        };
        let mut secure = SecureStream::server(socket, &Config::default(), ids, PASSWORD)
            .map_err(|e| anyhow!("server: {e}"))?;
        let mut buf = vec![0; 64 * 1024];
        let mut echoed = 0;
        loop {
            let n = secure.read(&mut buf)?;
            if n == 0 {
                break;
            }
            secure.write_all(&buf[..n])?;
            echoed += n as u64;
        }
        secure.shutdown_write()?;
        Ok(echoed)
    });
    Ok((addr, server))
}

#[tokio::main]
async fn main() -> Result<()> {
    let (addr, server) = spawn_echo_server()?;

    // Compile the component once; every instance shares it.
    let spoke = Spoke::new()?;
    let policy = NetworkPolicy::deny_all().allow_connect(addr);
    let mut instance = spoke.instantiate(policy).await?;

    // A plain TCP flow, then the handshake over it.
    let plain = instance.connect_address(addr).await?;
    let flow = instance
        .spoke_client(plain, (CLIENT, SERVER), PASSWORD, &SpokeConfig::default())
        .await
        .context("the handshake")?;
    let ciphers = instance.ciphers(&flow).await;

    // Send a message, end our side, and read the echo to its end.
    let message = b"hello over an encrypted Spoke flow";
    instance.write(&flow, message).await?;
    instance.shutdown(&flow, ShutdownMode::Write).await?;
    let mut echo = Vec::new();
    while let Some(chunk) = instance.read(&flow, 64 * 1024).await? {
        echo.extend_from_slice(&chunk);
    }
    instance.close(flow).await;

    let echoed = server
        .join()
        .map_err(|_| anyhow!("the echo server panicked"))??;
    println!("peer:     {addr}");
    println!("ciphers:  {ciphers:?} (server to client, client to server)");
    println!("sent:     {:?}", String::from_utf8_lossy(message));
    println!("received: {:?}", String::from_utf8_lossy(&echo));
    println!("the server echoed {echoed} bytes");
    anyhow::ensure!(echo == message, "the echo differs from what was sent");
    Ok(())
}
