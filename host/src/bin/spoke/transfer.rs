//! `spoke send` and `spoke recv`: one file over an encrypted flow, framed by
//! [`crate::header`]. The receiver writes into a hidden temporary file
//! beside the destination and renames it into place only after the sender's
//! authenticated end of stream, with the announced size and SHA-256 digest:
//! an interrupted or tampered transfer leaves no file that looks complete.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use spoke_host::{Flow, Instance, ShutdownMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::header::{Header, Verdict};

/// How much one write hands to the component.
const CHUNK: usize = 1 << 20;
/// The most a read asks of the flow.
const READ_MAX: u32 = 1 << 20;

/// A progress bar on stderr when it is a terminal, hidden otherwise.
fn progress(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{bytes:>10}/{total_bytes} {wide_bar} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// MB/s (10^6 bytes a second) for a summary line.
pub fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64().max(1e-9) / 1e6
}

/// The SHA-256 digest and size of a file, read once.
async fn digest_file(path: &Path) -> Result<([u8; 32], u64)> {
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; CHUNK];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hasher.finalize().into(), size))
}

/// What a finished `send` reports.
pub struct Sent {
    /// Bytes of content sent.
    pub size: u64,
    /// Time from the first content byte to the receiver's verdict.
    pub elapsed: Duration,
}

/// Sends `path` over the encrypted `flow`, then waits for the receiver's verdict.
pub async fn send(instance: &mut Instance, flow: &Flow, path: &Path) -> Result<Sent> {
    let (digest, size) = digest_file(path).await?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let header = Header { size, name, digest };
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let start = Instant::now();
    instance
        .write(flow, &header.encode())
        .await
        .map_err(|e| anyhow!("sending the header: {e}"))?;
    let bar = progress(size);
    let mut buf = vec![0; CHUNK];
    let mut sent = 0u64;
    while sent < size {
        let want = (size - sent).min(CHUNK as u64) as usize;
        let n = file
            .read(&mut buf[..want])
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            bail!("{} shrank while it was being sent", path.display());
        }
        instance
            .write(flow, &buf[..n])
            .await
            .map_err(|e| anyhow!("sending: {e}"))?;
        sent += n as u64;
        bar.set_position(sent);
    }
    instance
        .shutdown(flow, ShutdownMode::Write)
        .await
        .map_err(|e| anyhow!("ending the transfer: {e}"))?;
    bar.finish_and_clear();
    let mut reply = Vec::new();
    while let Some(data) = instance
        .read(flow, 4096)
        .await
        .map_err(|e| anyhow!("waiting for the receiver's verdict: {e}"))?
    {
        reply.extend_from_slice(&data);
        if reply.len() > 3 + usize::from(u16::MAX) {
            bail!("the receiver's verdict is malformed");
        }
    }
    match Verdict::decode(&reply) {
        Some(Verdict::Stored) => Ok(Sent {
            size,
            elapsed: start.elapsed(),
        }),
        Some(Verdict::Rejected(why)) => bail!("the receiver rejected the file: {why}"),
        None if reply.is_empty() => {
            bail!("the receiver closed the connection without confirming the file")
        }
        None => bail!("the receiver's verdict is malformed"),
    }
}

/// A file being received: removed on drop unless [`Partial::commit`] ran.
struct Partial {
    path: PathBuf,
    file: Option<tokio::fs::File>,
}

impl Partial {
    async fn create(destination: &Path) -> Result<Partial> {
        let dir = destination
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = destination
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = dir.join(format!(".{name}.spoke-partial-{}", std::process::id()));
        let file = tokio::fs::File::create(&path)
            .await
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Partial {
            path,
            file: Some(file),
        })
    }

    async fn commit(mut self, destination: &Path) -> Result<()> {
        if let Some(mut file) = self.file.take() {
            file.flush().await?;
            file.sync_all()
                .await
                .context("cannot flush the received file to disk")?;
        }
        tokio::fs::rename(&self.path, destination)
            .await
            .with_context(|| {
                format!("cannot move the received file to {}", destination.display())
            })?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What a finished `recv` reports.
pub struct Received {
    /// Where the file now is.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Time from the header to the end of stream.
    pub elapsed: Duration,
}

/// The file name a sender may choose: a plain name, no directories.
fn safe_name(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.starts_with('.');
    if ok {
        Ok(name)
    } else {
        bail!("the sender's file name {name:?} is not a plain file name; use --output")
    }
}

/// Receives one file over the encrypted `flow` into `output` (or the
/// sender's file name), verifying it before it appears there.
pub async fn recv(instance: &mut Instance, flow: &Flow, output: Option<&Path>) -> Result<Received> {
    let mut buf = Vec::new();
    let (header, used) = loop {
        if let Some(found) = Header::decode(&buf)? {
            break found;
        }
        match instance
            .read(flow, READ_MAX)
            .await
            .map_err(|e| anyhow!("receiving the header: {e}"))?
        {
            Some(data) => buf.extend_from_slice(&data),
            None => bail!("the sender closed the connection before its header"),
        }
    };
    let destination = match output {
        Some(path) if path.is_dir() => path.join(safe_name(&header.name)?),
        Some(path) => path.to_path_buf(),
        None => PathBuf::from(safe_name(&header.name)?),
    };
    let start = Instant::now();
    let mut partial = Partial::create(&destination).await?;
    let bar = progress(header.size);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut outcome: Result<()> = Ok(());
    let mut chunk = buf.split_off(used);
    loop {
        if !chunk.is_empty() {
            size += chunk.len() as u64;
            if size > header.size {
                outcome = Err(anyhow!(
                    "the sender sent more than the {} bytes it announced",
                    header.size
                ));
                break;
            }
            hasher.update(&chunk);
            if let Some(file) = partial.file.as_mut() {
                file.write_all(&chunk)
                    .await
                    .with_context(|| format!("cannot write {}", partial.path.display()))?;
            }
            bar.set_position(size);
        }
        match instance.read(flow, READ_MAX).await {
            Ok(Some(data)) => chunk = data,
            Ok(None) => break,
            Err(e) => {
                outcome = Err(anyhow!("the transfer broke off after {size} bytes: {e}"));
                break;
            }
        }
    }
    bar.finish_and_clear();
    let digest: [u8; 32] = hasher.finalize().into();
    let verdict = match &outcome {
        Err(e) => Verdict::Rejected(format!("{e:#}")),
        Ok(()) if size != header.size => {
            Verdict::Rejected(format!("received {size} of {} bytes", header.size))
        }
        Ok(()) if digest != header.digest => {
            Verdict::Rejected("the content does not match its SHA-256 digest".into())
        }
        Ok(()) => Verdict::Stored,
    };
    if verdict == Verdict::Stored {
        partial.commit(&destination).await?;
    }
    // Tell the sender; it may already be gone if the transfer broke off.
    let _ = instance.write(flow, &verdict.encode()).await;
    let _ = instance.shutdown(flow, ShutdownMode::Write).await;
    match verdict {
        Verdict::Stored => Ok(Received {
            path: destination,
            size,
            elapsed: start.elapsed(),
        }),
        Verdict::Rejected(why) => bail!("{why}; nothing was stored"),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn only_plain_names_from_the_sender_are_used_as_file_names() {
        assert_eq!(safe_name("report.pdf").unwrap(), "report.pdf");
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "/etc/passwd",
            "a/b",
            "a\\b",
            ".hidden",
        ] {
            assert!(safe_name(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
