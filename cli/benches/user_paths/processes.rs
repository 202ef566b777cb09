//! Child processes, ports, payloads and medians: what every path's
//! measurement stands on.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::DEADLINE;

/// A child killed if it is still running when dropped.
pub(crate) struct Guard(pub(crate) Child);

impl Guard {
    /// Waits until the child ends (at most [`DEADLINE`]); `Some` if it
    /// exited with success.
    pub(crate) fn wait_ok(&mut self) -> Option<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.0.try_wait().ok()? {
                return status.success().then_some(());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a `spoke` server on port 0 and returns it with the address it
/// reports on stderr.
pub(crate) fn spoke_listening(cmd: &mut Command) -> Option<(Guard, String)> {
    let mut child = Guard(cmd.stderr(Stdio::piped()).spawn().ok()?);
    let mut stderr = BufReader::new(child.0.stderr.take()?);
    let mut line = String::new();
    stderr.read_line(&mut line).ok()?;
    let address = line.trim().strip_prefix("spoke: listening on ")?.to_owned();
    // Keep reading stderr, so that the server never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Some((child, address))
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something listens on 127.0.0.1:`port`, without connecting
/// (a one-shot server would take the probe for its client).
pub(crate) fn wait_listening(port: u16) -> Option<()> {
    let needle = format!("0100007F:{port:04X} 00000000:0000 0A");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::fs::read_to_string("/proc/net/tcp")
            .ok()?
            .contains(&needle)
        {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// The CPU time of every child process waited for so far.
pub(crate) fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given, which is plain
    // data for which all zeroes is a valid value.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A non-repeating payload of `size` bytes in `path`.
pub(crate) fn write_payload(path: &Path, size: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(File::create(path).unwrap());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let n = left.min(block.len());
        f.write_all(&block[..n]).unwrap();
        left -= n;
    }
}

/// Whether two files hold the same bytes.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(fa), Ok(fb)) = (File::open(a), File::open(b)) else {
        return false;
    };
    let len = |f: &File| f.metadata().map(|m| m.len()).ok();
    if len(&fa).is_none() || len(&fa) != len(&fb) {
        return false;
    }
    let (mut ra, mut rb) = (BufReader::new(fa), BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = ra.read(&mut ba).unwrap_or(0);
        if n == 0 {
            return true;
        }
        if rb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
