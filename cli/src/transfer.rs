//! `spoke send` and `spoke recv`: one file over an encrypted flow, framed by
//! [`crate::header`]. The receiver writes into a hidden temporary file
//! beside the destination and renames it into place only after the sender's
//! authenticated end of stream, with the announced size and the right
//! digest: an interrupted or tampered transfer leaves no file that looks
//! complete.
//!
//! The content moves inside the component ([`Instance::copy_from`] and
//! [`Instance::copy_to`]) between the flow and the file, which is read or
//! written directly on the runtime's thread. Each end hashes on a thread of
//! its own ([`Hashing`]), so the digest overlaps the transfer: the sender
//! sends format 2, whose digest follows the content, and reads the file
//! once. The receiver starts the file's writeback as the content comes in,
//! so that making it durable before the rename waits for little.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use spoke_host::{CopyError, Flow, Instance, ShutdownMode};

use crate::header::{DIGEST_LEN, DigestAlgorithm, DigestAt, Header, Verdict};
use crate::stdio::Direct;
use crate::writeback::start_writeback;

/// The most a read asks of the flow while the header comes in.
const READ_MAX: u32 = 1 << 20;
/// How many pieces may wait for the hashing thread before the transfer
/// waits for it (each is at most one read of the flow or of the file).
const HASH_QUEUE: usize = 16;

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

/// The digest of the bytes fed to it, computed on a thread of its own from
/// copies of them, so that hashing overlaps the transfer instead of adding
/// to its time. Feeding waits only when [`HASH_QUEUE`] pieces are queued.
struct Hashing {
    pieces: SyncSender<Vec<u8>>,
    thread: JoinHandle<[u8; DIGEST_LEN]>,
}

impl Hashing {
    fn start(algorithm: DigestAlgorithm) -> Result<Hashing> {
        let (pieces, queue) = sync_channel::<Vec<u8>>(HASH_QUEUE);
        let thread = std::thread::Builder::new()
            .name("digest".into())
            .spawn(move || match algorithm {
                DigestAlgorithm::Sha256 => {
                    let mut hasher = Sha256::new();
                    queue.iter().for_each(|piece| hasher.update(&piece));
                    hasher.finalize().into()
                }
                DigestAlgorithm::Blake3 => {
                    let mut hasher = blake3::Hasher::new();
                    queue.iter().for_each(|piece| {
                        hasher.update(&piece);
                    });
                    hasher.finalize().into()
                }
            })
            .context("cannot start the hashing thread")?;
        Ok(Hashing { pieces, thread })
    }

    fn feed(&self, data: &[u8]) {
        if !data.is_empty() {
            // The thread only stops when `pieces` is dropped.
            let _ = self.pieces.send(data.to_vec());
        }
    }

    /// The digest of everything fed, once the thread has hashed it all.
    fn finish(self) -> Result<[u8; DIGEST_LEN]> {
        drop(self.pieces);
        self.thread
            .join()
            .map_err(|_| anyhow!("the hashing thread failed"))
    }
}

/// What `send` gives the flow: the header, exactly `left` bytes of the
/// file (hashed as they are read), then the digest.
struct Outgoing {
    header: std::io::Cursor<Vec<u8>>,
    file: File,
    path: PathBuf,
    left: u64,
    hashing: Option<Hashing>,
    trailer: std::io::Cursor<Vec<u8>>,
    bar: ProgressBar,
}

impl Read for Outgoing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            // Not the end: there was no room to say anything.
            return Ok(0);
        }
        let n = self.header.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        if self.left > 0 {
            let want = buf
                .len()
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            let n = self.file.read(&mut buf[..want])?;
            if n == 0 {
                return Err(std::io::Error::other(format!(
                    "{} shrank while it was being sent",
                    self.path.display()
                )));
            }
            if let Some(hashing) = &self.hashing {
                hashing.feed(&buf[..n]);
            }
            self.left -= n as u64;
            self.bar.inc(n as u64);
            return Ok(n);
        }
        if let Some(hashing) = self.hashing.take() {
            let digest = hashing.finish().map_err(std::io::Error::other)?;
            self.trailer = std::io::Cursor::new(digest.to_vec());
        }
        self.trailer.read(buf)
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
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let metadata = file
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?;
    if !metadata.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    let size = metadata.len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let header = Header {
        size,
        name,
        digest: DigestAt::Trailer,
    };
    let bar = progress(size);
    let outgoing = Outgoing {
        header: std::io::Cursor::new(header.encode()),
        file,
        path: path.to_path_buf(),
        left: size,
        hashing: Some(Hashing::start(header.digest.algorithm())?),
        trailer: std::io::Cursor::new(Vec::new()),
        bar: bar.clone(),
    };
    let start = Instant::now();
    // The end of the copy shuts the flow's write side (the close marker).
    match instance.copy_from(Direct(outgoing), flow).await {
        Ok(_) => {}
        Err(CopyError::Read(e)) => bail!("cannot read {}: {e}", path.display()),
        Err(e) => bail!("sending: {e}"),
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

/// How much received content is written between two starts of writeback.
const WRITEBACK: u64 = 8 << 20;

/// What the receiving writer has taken so far.
struct Tally {
    /// Content bytes taken.
    size: u64,
    /// Content bytes whose writeback has been started.
    flushing: u64,
    /// The format-2 digest, as far as it has come in.
    trailer: Vec<u8>,
    /// The content's digest, being computed.
    hashing: Option<Hashing>,
}

/// The content's way into the partial file: each piece is counted, written
/// and handed to the hashing thread; in format 2 the digest that follows
/// the content is kept aside. More than that is an error.
struct Receiving {
    file: File,
    path: PathBuf,
    announced: u64,
    /// How many bytes may follow the content: the digest in format 2.
    trailer_len: usize,
    tally: Arc<Mutex<Tally>>,
    bar: ProgressBar,
}

impl Receiving {
    /// The way into `partial` for the content `header` announces, counting
    /// it on `bar`.
    fn new(partial: &Partial, header: &Header, bar: ProgressBar) -> Result<Receiving> {
        let tally = Tally {
            size: 0,
            flushing: 0,
            trailer: Vec::with_capacity(DIGEST_LEN),
            hashing: Some(Hashing::start(header.digest.algorithm())?),
        };
        Ok(Receiving {
            file: partial
                .file
                .try_clone()
                .with_context(|| format!("cannot write {}", partial.path.display()))?,
            path: partial.path.clone(),
            announced: header.size,
            trailer_len: match header.digest {
                DigestAt::Header(_) => 0,
                DigestAt::Trailer => DIGEST_LEN,
            },
            tally: Arc::new(Mutex::new(tally)),
            bar,
        })
    }

    fn take(&mut self, data: &[u8]) -> std::io::Result<()> {
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        let content_left = usize::try_from(self.announced - tally.size).unwrap_or(usize::MAX);
        let (content, after) = data.split_at(data.len().min(content_left));
        if tally.trailer.len() + after.len() > self.trailer_len {
            return Err(std::io::Error::other(format!(
                "the sender sent more than the {} bytes it announced",
                self.announced
            )));
        }
        self.file.write_all(content).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot write {}: {e}", self.path.display()),
            )
        })?;
        if let Some(hashing) = &tally.hashing {
            hashing.feed(content);
        }
        tally.size += content.len() as u64;
        tally.trailer.extend_from_slice(after);
        if tally.size - tally.flushing >= WRITEBACK {
            start_writeback(&self.file, tally.flushing, tally.size - tally.flushing);
            tally.flushing = tally.size;
        }
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
    /// The digest it was checked against.
    pub digest: DigestAlgorithm,
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
    let (header, rest) = read_header(instance, flow).await?;
    let destination = match output {
        Some(path) if path.is_dir() => path.join(safe_name(&header.name)?),
        Some(path) => path.to_path_buf(),
        None => PathBuf::from(safe_name(&header.name)?),
    };
    let start = Instant::now();
    let partial = Partial::create(&destination)?;
    let bar = progress(header.size);
    let receiving = Receiving::new(&partial, &header, bar.clone())?;
    let tally = receiving.tally.clone();
    let outcome = receive_content(instance, flow, receiving, &rest).await;
    bar.finish_and_clear();
    let (size, trailer, hashing) = {
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        (t.size, std::mem::take(&mut t.trailer), t.hashing.take())
    };
    let digest = match hashing {
        Some(hashing) => hashing.finish()?,
        None => bail!("the received content was hashed twice"),
    };
    let verdict = judge(&header, outcome, size, trailer, digest);
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
            digest: header.digest.algorithm(),
            elapsed: start.elapsed(),
        }),
        Verdict::Rejected(why) => bail!("{why}; nothing was stored"),
    }
}

/// Reads the sender's header; returns it with what came in behind it.
async fn read_header(instance: &mut Instance, flow: &Flow) -> Result<(Header, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        if let Some((header, used)) = Header::decode(&buf)? {
            buf.drain(..used);
            return Ok((header, buf));
        }
        match instance
            .read(flow, READ_MAX)
            .await
            .map_err(|e| anyhow!("receiving the header: {e}"))?
        {
            Some(data) => buf.extend_from_slice(&data),
            None => bail!("the sender closed the connection before its header"),
        }
    }
}

/// Writes `first` (what came in behind the header), then the rest of the
/// flow inside the component, into `receiving`.
async fn receive_content(
    instance: &mut Instance,
    flow: &Flow,
    mut receiving: Receiving,
    first: &[u8],
) -> Result<()> {
    receiving.take(first).map_err(|e| anyhow!("{e}"))?;
    let tally = receiving.tally.clone();
    match instance.copy_to(flow, Direct(receiving)).await {
        Ok(_) => Ok(()),
        Err(CopyError::Read(e)) => {
            let size = tally.lock().map(|t| t.size).unwrap_or_default();
            Err(anyhow!("the transfer broke off after {size} bytes: {e}"))
        }
        Err(CopyError::Write(e)) => Err(anyhow!("{e}")),
        Err(e) => Err(anyhow!("{e}")),
    }
}

/// Whether a transfer that ended with `outcome`, `size` content bytes
/// whose digest is `digest`, and `trailer` behind them, delivered what
/// `header` announced.
fn judge(
    header: &Header,
    outcome: Result<()>,
    size: u64,
    trailer: Vec<u8>,
    digest: [u8; DIGEST_LEN],
) -> Verdict {
    let expected = match header.digest {
        DigestAt::Header(expected) => Some(expected),
        DigestAt::Trailer => <[u8; DIGEST_LEN]>::try_from(trailer).ok(),
    };
    match (outcome, expected) {
        (Err(e), _) => Verdict::Rejected(format!("{e:#}")),
        (Ok(()), _) if size != header.size => {
            Verdict::Rejected(format!("received {size} of {} bytes", header.size))
        }
        (Ok(()), None) => Verdict::Rejected(format!(
            "the transfer ended before its {} digest",
            header.digest.algorithm().name()
        )),
        (Ok(()), Some(expected)) if digest != expected => Verdict::Rejected(format!(
            "the content does not match its {} digest",
            header.digest.algorithm().name()
        )),
        (Ok(()), Some(_)) => Verdict::Stored,
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
