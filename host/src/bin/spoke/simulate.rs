//! `spoke simulate`: the reference's demonstration. A server and a client
//! run in one process, each in its own instance; the client sends a file
//! over an encrypted flow, the server echoes it back from inside the
//! component, and the client checks every byte and reports the rate.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use spoke_host::{Flow, Instance, NetworkPolicy, ShutdownMode, Spoke, SpokeConfig};
use tokio::io::AsyncReadExt;

/// How much one write hands to the component.
const CHUNK: usize = 256 * 1024;
/// The most bytes sent but not yet echoed back, so neither side ever waits
/// on a full socket buffer while the other waits on it.
const WINDOW: u64 = 1 << 20;

/// What a finished simulation reports.
pub struct Outcome {
    /// Bytes sent and echoed back intact.
    pub size: u64,
    /// From the first byte sent to the last byte checked (handshake excluded).
    pub elapsed: Duration,
    /// The handshake's duration on the client.
    pub handshake: Duration,
    /// The ciphers the server chose.
    pub ciphers: String,
}

/// Runs the demonstration on `address` (which must be loopback).
pub async fn run(
    spoke: &Spoke,
    file: &Path,
    address: SocketAddr,
    password: &[u8],
    cfg: SpokeConfig,
) -> Result<Outcome> {
    if !address.ip().is_loopback() {
        bail!(
            "simulate runs both ends in this process: give a loopback address such as 127.0.0.1:{}",
            address.port()
        );
    }
    let ids = ("spoke-client", "spoke-server");
    let mut server = spoke
        .instantiate(NetworkPolicy::deny_all().allow_listen(address))
        .await?;
    let listener = server
        .listen(address)
        .await
        .map_err(|e| anyhow!("listening on {address}: {e}"))?;
    let bound = server
        .listener_address(&listener)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let server_password = password.to_vec();
    let server_cfg = cfg;
    let server_task = tokio::spawn(async move {
        let flow = server
            .accept(&listener)
            .await
            .map_err(|e| anyhow!("accepting: {e}"))?;
        let flow = server
            .spoke_server(flow, ids, &server_password, &server_cfg)
            .await
            .map_err(|e| anyhow!("server handshake: {e}"))?;
        let echoed = server
            .copy(&flow, &flow)
            .await
            .map_err(|e| anyhow!("server echo: {e}"));
        server.close(flow).await;
        echoed.map(|stats| stats.write_bytes)
    });

    let mut client = spoke
        .instantiate(NetworkPolicy::deny_all().allow_connect(bound))
        .await?;
    let flow = client
        .connect_address(bound)
        .await
        .map_err(|e| anyhow!("connecting to {bound}: {e}"))?;
    let started = Instant::now();
    let flow = client
        .spoke_client(flow, ids, password, &cfg)
        .await
        .map_err(|e| anyhow!("client handshake: {e}"))?;
    let handshake = started.elapsed();
    let ciphers = crate::session::describe_ciphers(&mut client, &flow).await;
    let (size, elapsed) = echo_file(&mut client, &flow, file).await?;
    client.close(flow).await;
    let echoed = server_task.await.context("the server task failed")??;
    if echoed != size {
        bail!("the server echoed {echoed} bytes of {size}");
    }
    Ok(Outcome {
        size,
        elapsed,
        handshake,
        ciphers,
    })
}

/// Sends `file` and checks that the same bytes come back, in order.
async fn echo_file(client: &mut Instance, flow: &Flow, file: &Path) -> Result<(u64, Duration)> {
    let open = || async {
        tokio::fs::File::open(file)
            .await
            .with_context(|| format!("cannot open {}", file.display()))
    };
    let (mut source, mut expected) = (open().await?, open().await?);
    let size = source.metadata().await?.len();
    let start = Instant::now();
    let (mut sent, mut checked) = (0u64, 0u64);
    let mut out = vec![0; CHUNK];
    let mut want = Vec::new();
    let mut shut = false;
    loop {
        if sent < size && sent - checked < WINDOW {
            let n = source.read(&mut out).await?;
            if n == 0 {
                bail!("{} shrank while it was being sent", file.display());
            }
            client
                .write(flow, &out[..n])
                .await
                .map_err(|e| anyhow!("sending: {e}"))?;
            sent += n as u64;
            continue;
        }
        if sent == size && !shut {
            client
                .shutdown(flow, ShutdownMode::Write)
                .await
                .map_err(|e| anyhow!("ending the send side: {e}"))?;
            shut = true;
        }
        let Some(data) = client
            .read(flow, 1 << 20)
            .await
            .map_err(|e| anyhow!("receiving the echo: {e}"))?
        else {
            break;
        };
        want.resize(data.len(), 0);
        expected
            .read_exact(&mut want)
            .await
            .map_err(|_| anyhow!("the echo is longer than the file"))?;
        if data != want {
            let at = data
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(0) as u64;
            bail!("the echo differs from the file at byte {}", checked + at);
        }
        checked += data.len() as u64;
    }
    if checked != size {
        bail!("the echo stopped after {checked} of {size} bytes");
    }
    Ok((size, start.elapsed()))
}
