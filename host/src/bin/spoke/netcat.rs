//! `spoke connect` and `spoke listen`: stdin to the flow and the flow to
//! stdout, both at once on one instance, half-closing the flow when stdin
//! ends. Waiting uses [`Instance::readable`], which is cancel-safe, so
//! stdin's data and the flow's data are served as they come.

use anyhow::{Result, anyhow};
use spoke_host::{Flow, Instance, ShutdownMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// How much one read takes from stdin or from the flow.
const CHUNK: usize = 64 * 1024;

/// Pumps stdin into `flow` and `flow` into stdout until both have ended:
/// the peer's end-of-stream does not cut short what stdin still has to send.
pub async fn run(instance: &mut Instance, flow: &Flow) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(4);
    tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        loop {
            let mut buf = vec![0; CHUNK];
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(buf).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut stdout = tokio::io::stdout();
    let (mut stdin_open, mut flow_open) = (true, true);
    while stdin_open || flow_open {
        tokio::select! {
            chunk = rx.recv(), if stdin_open => match chunk {
                Some(data) => instance.write(flow, &data).await.map_err(|e| anyhow!("sending: {e}"))?,
                None => {
                    stdin_open = false;
                    instance.shutdown(flow, ShutdownMode::Write).await.map_err(|e| anyhow!("closing the send side: {e}"))?;
                }
            },
            ready = instance.readable(flow), if flow_open => {
                ready.map_err(|e| anyhow!("waiting for the peer: {e}"))?;
                match instance.read(flow, CHUNK as u32).await.map_err(|e| anyhow!("receiving: {e}"))? {
                    Some(data) => {
                        stdout.write_all(&data).await?;
                        stdout.flush().await?;
                    }
                    None => flow_open = false,
                }
            }
        }
    }
    Ok(())
}

/// Echoes everything `flow` sends back to it, inside the component, until
/// the peer ends its side; returns the number of bytes echoed.
pub async fn echo(instance: &mut Instance, flow: &Flow) -> Result<u64> {
    let stats = instance
        .copy(flow, flow)
        .await
        .map_err(|e| anyhow!("echo: {e}"))?;
    Ok(stats.write_bytes)
}
