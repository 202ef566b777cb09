//! `spoke send` and `spoke recv`: one file over an encrypted flow, framed by
//! [`crate::header`]. The receiver writes into a hidden temporary file
//! beside the destination and renames it into place only after the sender's
//! authenticated end of stream, with the announced size and SHA-256 digest:
//! an interrupted or tampered transfer leaves no file that looks complete.

//!
//! The content moves inside the component ([`Instance::copy_from`] and
//! [`Instance::copy_to`]) between the flow and the file, which is read or
//! written directly on the runtime's thread; the receiver hashes each piece
//! as it writes it.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use spoke_host::{CopyError, Flow, Instance, ShutdownMode};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use crate::header::{Header, Verdict};
use crate::stdio::Direct;

/// How much one read of the file takes while it is hashed before sending.
const CHUNK: usize = 1 << 20;
/// The most a read asks of the flow while the header comes in.
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
fn digest_file(path: &Path) -> Result<([u8; 32], u64)> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; CHUNK];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hasher.finalize().into(), size))
}

/// A reader that moves a progress bar by what it reads.
struct Progress<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: AsyncRead + Unpin> AsyncRead for Progress<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.bar.inc((buf.filled().len() - before) as u64);
        r
    }
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
    let (digest, size) = digest_file(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let header = Header { size, name, digest };
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let start = Instant::now();
    instance
        .write(flow, &header.encode())
        .await
        .map_err(|e| anyhow!("sending the header: {e}"))?;
    let bar = progress(size);
    // The content, at most the size announced; the end of the copy shuts
    // the flow's write side (the close marker).
    let content = Progress {
        inner: Direct(file).take(size),
        bar: bar.clone(),
    };
    let sent = match instance.copy_from(content, flow).await {
        Ok(stats) => stats.read_bytes,
        Err(CopyError::Read(e)) => bail!("cannot read {}: {e}", path.display()),
        Err(e) => bail!("sending: {e}"),
    };
    if sent < size {
        bail!("{} shrank while it was being sent", path.display());
    }
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
    file: File,
}

impl Partial {
    fn create(destination: &Path) -> Result<Partial> {
        let dir = destination
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = destination
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = dir.join(format!(".{name}.spoke-partial-{}", std::process::id()));
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Partial { path, file })
    }

    fn commit(mut self, destination: &Path) -> Result<()> {
        self.file
            .sync_all()
            .context("cannot flush the received file to disk")?;
        std::fs::rename(&self.path, destination).with_context(|| {
            format!("cannot move the received file to {}", destination.display())
        })?;
        self.path = PathBuf::new();
        Ok(())
    }
}

/// What the receiving writer has taken so far.
struct Tally {
    hasher: Sha256,
    size: u64,
}

/// The content's way into the partial file: each piece is counted, hashed
/// and written; more than the announced size is an error.
struct Receiving {
    file: File,
    path: PathBuf,
    announced: u64,
    tally: Arc<Mutex<Tally>>,
    bar: ProgressBar,
}

impl Receiving {
    fn take(&mut self, data: &[u8]) -> std::io::Result<()> {
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        if tally.size + data.len() as u64 > self.announced {
            return Err(std::io::Error::other(format!(
                "the sender sent more than the {} bytes it announced",
                self.announced
            )));
        }
        self.file.write_all(data).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot write {}: {e}", self.path.display()),
            )
        })?;
        tally.hasher.update(data);
        tally.size += data.len() as u64;
        self.bar.set_position(tally.size);
        Ok(())
    }
}

impl Write for Receiving {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.take(buf).map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
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
    let partial = Partial::create(&destination)?;
    let bar = progress(header.size);
    let tally = Arc::new(Mutex::new(Tally {
        hasher: Sha256::new(),
        size: 0,
    }));
    let mut receiving = Receiving {
        file: partial
            .file
            .try_clone()
            .with_context(|| format!("cannot write {}", partial.path.display()))?,
        path: partial.path.clone(),
        announced: header.size,
        tally: tally.clone(),
        bar: bar.clone(),
    };
    // What came in behind the header, then the rest inside the component.
    let mut outcome = receiving.take(&buf[used..]).map_err(|e| anyhow!("{e}"));
    if outcome.is_ok() {
        outcome = match instance.copy_to(flow, Direct(receiving)).await {
            Ok(_) => Ok(()),
            Err(CopyError::Read(e)) => {
                let size = tally.lock().map(|t| t.size).unwrap_or_default();
                Err(anyhow!("the transfer broke off after {size} bytes: {e}"))
            }
            Err(CopyError::Write(e)) => Err(anyhow!("{e}")),
            Err(e) => Err(anyhow!("{e}")),
        };
    }
    bar.finish_and_clear();
    let (digest, size): ([u8; 32], u64) = {
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        (std::mem::take(&mut t.hasher).finalize().into(), t.size)
    };
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
        partial.commit(&destination)?;
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
