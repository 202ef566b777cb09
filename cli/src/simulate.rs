//! `spoke simulate`: the reference's demonstration. A server and a client
//! run in one process, each in its own instance; the client sends a file
//! over an encrypted flow, the server echoes it back from inside the
//! component, and the client checks every byte and reports the rate.

use std::fs::File;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::stdio::Direct;
use anyhow::{Context, Result, anyhow, bail};
use spoke_host::{CopyError, Flow, Instance, NetworkPolicy, Spoke, SpokeConfig};

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
    let (mut server, listener, bound) = crate::session::listen_on(spoke, address).await?;
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

/// Sends `file` over `flow` and checks the echo against it, byte for byte,
/// inside the component ([`Instance::pipe`]): the file is read directly
/// and the echo compared as it arrives, both on this thread.
async fn echo_file(client: &mut Instance, flow: &Flow, file: &Path) -> Result<(u64, Duration)> {
    let open = || File::open(file).with_context(|| format!("cannot open {}", file.display()));
    let source = open()?;
    let size = source.metadata()?.len();
    let checker = Checker {
        expected: open()?,
        buf: Vec::new(),
        checked: Arc::new(Mutex::new(Checked::default())),
    };
    let checked = checker.checked.clone();
    let start = Instant::now();
    let (sent, echoed) = client.pipe(flow, Direct(source), Direct(checker)).await;
    let elapsed = start.elapsed();
    let checked = std::mem::take(&mut *checked.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some(why) = checked.mismatch {
        bail!("{why}");
    }
    match (sent.error, echoed.error) {
        (_, Some(e)) => bail!("receiving the echo: {e}"),
        (Some(CopyError::Read(e)), None) => bail!("cannot read {}: {e}", file.display()),
        (Some(e), None) => bail!("sending: {e}"),
        (None, None) => {}
    }
    if sent.stats.read_bytes != size {
        bail!("{} changed size while it was being sent", file.display());
    }
    if checked.bytes != size {
        bail!("the echo stopped after {} of {size} bytes", checked.bytes);
    }
    Ok((size, elapsed))
}

/// What the echo checker has seen.
#[derive(Default)]
struct Checked {
    /// Bytes that matched the file.
    bytes: u64,
    /// Where the echo first went wrong.
    mismatch: Option<String>,
}

/// A writer that compares what it is given with the file, in order.
struct Checker {
    expected: File,
    buf: Vec<u8>,
    checked: Arc<Mutex<Checked>>,
}

impl Checker {
    fn check(&mut self, data: &[u8]) -> std::io::Result<()> {
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        self.buf.resize(data.len(), 0);
        let why = match self.expected.read_exact(&mut self.buf) {
            Err(_) => "the echo is longer than the file".to_string(),
            Ok(()) => match data.iter().zip(&self.buf).position(|(a, b)| a != b) {
                None => {
                    checked.bytes += data.len() as u64;
                    return Ok(());
                }
                Some(at) => format!(
                    "the echo differs from the file at byte {}",
                    checked.bytes + at as u64
                ),
            },
        };
        checked.mismatch = Some(why.clone());
        Err(std::io::Error::other(why))
    }
}

impl Write for Checker {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.check(buf).map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
