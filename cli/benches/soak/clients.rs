//! The clients: honest ones that echo a stream through the tunnel and
//! check it byte for byte, and misbehaving ones that accept whatever the
//! tunnel does to them and only say what that was.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Where honest clients come from.
pub const HONEST_FROM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
/// Where misbehaving clients that go straight to the exit come from.
pub const DIRECT_FROM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// Where misbehaving clients of an entrance come from.
pub const ENTRANCE_FROM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A reproducible stream of varied bytes, one per client.
pub struct Bytes {
    x: u64,
    word: [u8; 8],
    used: usize,
}

impl Bytes {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Bytes {
        Bytes {
            x: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            word: [0; 8],
            used: 8,
        }
    }

    /// Fills `buf` with the stream's next bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            if self.used == 8 {
                self.x ^= self.x << 13;
                self.x ^= self.x >> 7;
                self.x ^= self.x << 17;
                self.word = self.x.to_le_bytes();
                self.used = 0;
            }
            *b = self.word[self.used];
            self.used += 1;
        }
    }
}

/// Connects to `to` from `from` (port chosen by the system).
pub async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
    socket.connect(to).await
}

/// Why an honest connection did not complete.
pub type Failure = String;

/// One honest client: `bytes` varied bytes through the entrance `to`, a
/// half-close, and the whole echo read back and compared byte for byte,
/// within `timeout`. Returns how long it took.
pub async fn honest(
    to: SocketAddr,
    seed: u64,
    bytes: u64,
    timeout: Duration,
) -> Result<Duration, Failure> {
    let start = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let echoed = Arc::new(AtomicU64::new(0));
    let work = echo_and_check(to, seed, bytes, sent.clone(), echoed.clone());
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(())) => Ok(start.elapsed()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!(
            "timed out after {:.0} s: {} of {bytes} bytes sent, {} echoed",
            timeout.as_secs_f64(),
            sent.load(Ordering::Relaxed),
            echoed.load(Ordering::Relaxed)
        )),
    }
}

async fn echo_and_check(
    to: SocketAddr,
    seed: u64,
    bytes: u64,
    sent: Arc<AtomicU64>,
    echoed: Arc<AtomicU64>,
) -> Result<(), Failure> {
    let stream = connect_from(HONEST_FROM, to)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let (mut r, mut w) = stream.into_split();
    let write = async {
        let mut data = Bytes::new(seed);
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            data.fill(&mut buf[..n]);
            w.write_all(&buf[..n])
                .await
                .map_err(|e| format!("sending, after {} bytes: {e}", bytes - left))?;
            left -= n as u64;
            sent.store(bytes - left, Ordering::Relaxed);
        }
        w.shutdown().await.map_err(|e| format!("half-closing: {e}"))
    };
    let read = async {
        let mut expected = Bytes::new(seed);
        let mut buf = vec![0u8; 64 * 1024];
        let mut want = vec![0u8; 64 * 1024];
        let mut got = 0u64;
        loop {
            let n = r
                .read(&mut buf)
                .await
                .map_err(|e| format!("receiving the echo, after {got} bytes: {e}"))?;
            if n == 0 {
                break;
            }
            if got + n as u64 > bytes {
                return Err(format!("the echo is longer than the {bytes} bytes sent"));
            }
            expected.fill(&mut want[..n]);
            if let Some(i) = (0..n).find(|&i| buf[i] != want[i]) {
                return Err(format!("the echo differs at byte {}", got + i as u64));
            }
            got += n as u64;
            echoed.store(got, Ordering::Relaxed);
        }
        if got == bytes {
            Ok(())
        } else {
            Err(format!("the echo ended after {got} of {bytes} bytes"))
        }
    };
    let (wrote, read) = tokio::join!(write, read);
    // A failed read explains a failed write better than the other way round.
    read.and(wrote)
}

/// The ways a client misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Straight to the exit: random bytes instead of a handshake.
    Garbage,
    /// Straight to the exit: half of message 2, then a FIN.
    TruncatedHandshake,
    /// Straight to the exit: a reset at one of four handshake steps.
    ResetInHandshake,
    /// Straight to the exit: message 2, one byte a second.
    Slowloris,
    /// Through an entrance with the wrong password.
    WrongPassword,
    /// At the entrance: half the stream, then a reset.
    ResetMidStream,
    /// At the entrance: the whole stream, never reading the echo, then
    /// giving up.
    NeverReads,
}

impl Kind {
    /// Every kind, in the order they take turns.
    pub const ALL: [Kind; 7] = [
        Kind::Garbage,
        Kind::TruncatedHandshake,
        Kind::ResetInHandshake,
        Kind::Slowloris,
        Kind::WrongPassword,
        Kind::ResetMidStream,
        Kind::NeverReads,
    ];

    /// Its name in the figures.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Garbage => "garbage to the exit",
            Kind::TruncatedHandshake => "truncated handshake to the exit",
            Kind::ResetInHandshake => "reset in the handshake with the exit",
            Kind::Slowloris => "slowloris to the exit (1 byte/s)",
            Kind::WrongPassword => "through an entrance with a wrong password",
            Kind::ResetMidStream => "reset mid-stream at the entrance",
            Kind::NeverReads => "never reads its echo, at the entrance",
        }
    }
}

/// Where a misbehaving client goes.
#[derive(Clone, Copy)]
pub struct Targets {
    /// The exit.
    pub exit: SocketAddr,
    /// The honest entrance.
    pub entrance: SocketAddr,
    /// The entrance with the wrong password.
    pub wrong_entrance: SocketAddr,
}

/// How long misbehaving clients wait for the tunnel.
#[derive(Clone, Copy)]
pub struct Patience {
    /// The most a misbehaving client waits for the tunnel to act.
    pub give_up: Duration,
    /// How long the client that never reads keeps its connection open.
    pub stall: Duration,
}

/// What the tunnel did to a misbehaving client, as the client saw it.
pub enum Seen {
    /// The connection was refused (or could not be made).
    Refused(String),
    /// The tunnel ended the connection (FIN) after this long, having sent
    /// this many bytes.
    Closed(Duration, usize),
    /// The tunnel reset the connection after this long, having sent this
    /// many bytes.
    Reset(Duration, usize),
    /// The client ended it itself, as planned, after this long; the text
    /// says how.
    Ended(Duration, String),
    /// Nothing happened before the client gave up, after this long.
    GaveUp(Duration),
}

impl Seen {
    /// The outcome's kind, for counting.
    pub fn label(&self) -> String {
        match self {
            Seen::Refused(e) => format!("refused ({e})"),
            Seen::Closed(_, 0) => "closed by the tunnel".into(),
            Seen::Closed(_, n) => format!("closed by the tunnel after sending {}", bytes_label(*n)),
            Seen::Reset(_, 0) => "reset by the tunnel".into(),
            Seen::Reset(_, n) => format!("reset by the tunnel after sending {}", bytes_label(*n)),
            Seen::Ended(_, how) => how.clone(),
            Seen::GaveUp(_) => "still open when the client gave up".into(),
        }
    }

    /// How long it took, if it is known.
    pub fn elapsed(&self) -> Option<Duration> {
        match self {
            Seen::Refused(_) => None,
            Seen::Closed(d, _) | Seen::Reset(d, _) | Seen::Ended(d, _) | Seen::GaveUp(d) => {
                Some(*d)
            }
        }
    }
}

/// Byte counts that vary little, grouped so that they count together.
fn bytes_label(n: usize) -> String {
    match n {
        34 => "34 bytes (message 1)".into(),
        130 => "130 bytes (messages 1 and 3)".into(),
        n if n < 1024 => format!("{n} bytes"),
        _ => "over 1 KiB".into(),
    }
}

/// Reads until the end of the connection, an error, or `limit`; returns
/// what the tunnel did and how many bytes it sent.
async fn read_to_end(s: &mut (impl AsyncReadExt + Unpin), start: Instant, limit: Duration) -> Seen {
    let mut got = 0usize;
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::from_std(start + limit);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return Seen::GaveUp(start.elapsed()),
            Ok(Ok(0)) => return Seen::Closed(start.elapsed(), got),
            Ok(Ok(n)) => got += n,
            Ok(Err(_)) => return Seen::Reset(start.elapsed(), got),
        }
    }
}

/// Whether `io` succeeded within `limit`.
async fn within<T>(limit: Duration, io: impl Future<Output = std::io::Result<T>>) -> bool {
    matches!(tokio::time::timeout(limit, io).await, Ok(Ok(_)))
}

/// Closes `s` with a reset.
fn reset(s: TcpStream) {
    let _ = s.set_zero_linger();
    drop(s);
}

/// Random-looking bytes for a misbehaving client.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut v = vec![0; n];
    Bytes::new(seed ^ 0xBAD).fill(&mut v);
    v
}

/// Runs one misbehaving client of `kind`, the `nth` of its kind in the
/// round, its bytes drawn from `i`.
pub async fn misbehave(
    kind: Kind,
    nth: usize,
    i: u64,
    to: Targets,
    bytes: u64,
    patience: Patience,
) -> Seen {
    let start = Instant::now();
    let limit = patience.give_up;
    let (from, addr) = match kind {
        Kind::WrongPassword => (ENTRANCE_FROM, to.wrong_entrance),
        Kind::ResetMidStream | Kind::NeverReads => (ENTRANCE_FROM, to.entrance),
        _ => (DIRECT_FROM, to.exit),
    };
    let mut s = match tokio::time::timeout(limit, connect_from(from, addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Seen::Refused(e.kind().to_string()),
        Err(_) => return Seen::Refused("the connection was never accepted".into()),
    };
    match kind {
        Kind::Garbage => {
            let _ = s.write_all(&noise(i, 4096)).await;
            read_to_end(&mut s, start, limit).await
        }
        Kind::TruncatedHandshake => {
            let mut public = [0u8; 34];
            if !within(limit, s.read_exact(&mut public)).await {
                return read_to_end(&mut s, start, limit).await;
            }
            let _ = s.write_all(&noise(i, 16)).await;
            let _ = s.shutdown().await;
            read_to_end(&mut s, start, limit).await
        }
        Kind::ResetInHandshake => {
            let step = nth % 4;
            let mut public = [0u8; 34];
            let mut third = [0u8; 96];
            if step >= 1 && !within(limit, s.read_exact(&mut public)).await {
                return read_to_end(&mut s, start, limit).await;
            }
            // A valid `X` (the base point: `X - M` is then in the
            // prime-order subgroup), so that the exit answers with message 3.
            let mut x = [0x66u8; 32];
            x[0] = 0x58;
            if step >= 2 && !within(limit, s.write_all(&x)).await {
                return read_to_end(&mut s, start, limit).await;
            }
            if step >= 3 && !within(limit, s.read_exact(&mut third)).await {
                return read_to_end(&mut s, start, limit).await;
            }
            reset(s);
            let when = [
                "after connecting",
                "after message 1",
                "after sending message 2",
                "after message 3",
            ];
            Seen::Ended(
                start.elapsed(),
                format!("reset by the client {}", when[step]),
            )
        }
        Kind::Slowloris => {
            let (mut r, mut w) = s.into_split();
            let reader = tokio::spawn(async move { read_to_end(&mut r, start, limit).await });
            let drip = async {
                for b in noise(i, 96) {
                    if w.write_all(&[b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            };
            tokio::select! {
                seen = reader => seen.unwrap_or(Seen::GaveUp(start.elapsed())),
                _ = drip => Seen::Ended(start.elapsed(), "dripped 96 bytes, never cut off".into()),
            }
        }
        Kind::WrongPassword => {
            let (mut r, mut w) = s.into_split();
            let write = async {
                let _ = w.write_all(&noise(i, 64 * 1024)).await;
                let _ = w.shutdown().await;
            };
            let (_, seen) = tokio::join!(write, read_to_end(&mut r, start, limit));
            match seen {
                Seen::Closed(d, n) | Seen::Reset(d, n) if n > 0 => Seen::Ended(
                    d,
                    format!("GOT {n} BYTES BACK through a wrong password (must never happen)"),
                ),
                other => other,
            }
        }
        Kind::ResetMidStream => {
            let mut data = Bytes::new(i);
            let mut buf = vec![0u8; 64 * 1024];
            let mut left = bytes / 2;
            while left > 0 {
                let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                data.fill(&mut buf[..n]);
                match tokio::time::timeout(limit, s.write_all(&buf[..n])).await {
                    Ok(Ok(())) => left -= n as u64,
                    _ => return Seen::Ended(start.elapsed(), "could not send half".into()),
                }
            }
            // Let some of it travel and some echo come back.
            tokio::time::sleep(Duration::from_millis(100)).await;
            reset(s);
            Seen::Ended(start.elapsed(), "reset by the client halfway".into())
        }
        Kind::NeverReads => {
            let mut data = Bytes::new(i);
            let mut buf = vec![0u8; 64 * 1024];
            let mut sent = 0u64;
            let deadline = tokio::time::Instant::from_std(start + patience.stall);
            while sent < bytes {
                let n = buf
                    .len()
                    .min(usize::try_from(bytes - sent).unwrap_or(usize::MAX));
                data.fill(&mut buf[..n]);
                match tokio::time::timeout_at(deadline, s.write_all(&buf[..n])).await {
                    Ok(Ok(())) => sent += n as u64,
                    Ok(Err(_)) => {
                        return Seen::Ended(start.elapsed(), "cut off while sending".into());
                    }
                    Err(_) => break,
                }
            }
            tokio::time::sleep_until(deadline).await;
            let how = if sent == bytes {
                "sent everything, read nothing, gave up"
            } else {
                "stalled sending (echo unread), gave up"
            };
            reset(s);
            Seen::Ended(start.elapsed(), how.into())
        }
    }
}
