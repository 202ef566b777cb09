//! `spoke connect` and `spoke listen`: standard input to the flow and the
//! flow to standard output, both at once inside the component
//! ([`Instance::pipe`]), half-closing the flow when standard input ends.
//! Neither direction ever waits on the other, so a peer that echoes is
//! read however much is still to be sent.

use anyhow::{Result, anyhow};
use spoke_host::{CopyError, Flow, Instance};

use crate::stdio;

/// Pipes standard input into `flow` and `flow` into standard output until
/// both have ended: the peer's end-of-stream does not cut short what
/// standard input still has to send.
pub async fn run(instance: &mut Instance, flow: &Flow) -> Result<()> {
    let (sent, received) = instance.pipe(flow, stdio::stdin(), stdio::stdout()).await;
    match received.error {
        Some(CopyError::Read(e)) => return Err(anyhow!("receiving: {e}")),
        Some(CopyError::Write(e)) => return Err(anyhow!("writing standard output: {e}")),
        _ => {}
    }
    match sent.error {
        Some(CopyError::Read(e)) => Err(anyhow!("reading standard input: {e}")),
        Some(CopyError::Write(e)) => Err(anyhow!("sending: {e}")),
        _ => Ok(()),
    }
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
