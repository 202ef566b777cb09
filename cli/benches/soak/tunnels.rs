//! The tunnel processes: real `spoke tunnel` ends, their addresses, their
//! per-connection report lines and their memory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `spoke tunnel` end, killed when dropped.
pub struct Tunnel {
    /// What it is, for the figures ("exit", "entrance", ...).
    pub name: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    /// Its standard error, line by line, from the second line on.
    lines: Arc<Mutex<Vec<String>>>,
    /// How many of `lines` were already summarised.
    seen: usize,
    /// Its open sockets once it was listening.
    idle_sockets: usize,
}

impl Tunnel {
    /// Starts `spoke` with `args` and waits for its "listening on" line.
    pub fn start(name: &'static str, spoke: &Path, args: &[String], pw: &Path) -> Tunnel {
        let mut child = Command::new(spoke)
            .args(args)
            .arg("--password-file")
            .arg(pw)
            .env_remove("SPOKE_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", spoke.display()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .split_once("listening on ")
            .and_then(|(_, rest)| rest.split([',', ' ', '\n']).next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("{name}: unexpected first line {line:?}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        // Give it a moment to settle before counting its sockets.
        std::thread::sleep(Duration::from_millis(200));
        let mut tunnel = Tunnel {
            name,
            addr,
            child,
            lines,
            seen: 0,
            idle_sockets: 0,
        };
        tunnel.idle_sockets = tunnel.open_sockets();
        tunnel
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its open sockets now.
    pub fn open_sockets(&self) -> usize {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", self.pid())) else {
            return 0;
        };
        fds.filter_map(Result::ok)
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    }

    /// A memory figure of /proc/PID/status, in MB (`VmHWM`, `VmRSS`).
    pub fn memory_mb(&self, field: &str) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// Waits (until `deadline`) for the process to hold no more sockets
    /// than when it was idle: its connections have all ended. Returns when
    /// that happened, or `Err` with the sockets still open.
    pub fn wait_idle(&self, deadline: Instant) -> Result<Instant, usize> {
        loop {
            let open = self.open_sockets();
            if open <= self.idle_sockets {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                return Err(open - self.idle_sockets);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The report lines printed since the last call, counted by the
    /// peer's address and what the line says happened.
    pub fn new_reports(&mut self) -> BTreeMap<String, usize> {
        let lines = self.lines.lock().unwrap();
        let mut counts = BTreeMap::new();
        for line in &lines[self.seen..] {
            *counts.entry(summarise(line)).or_insert(0) += 1;
        }
        self.seen = lines.len();
        counts
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// "IP: what happened" for a report line such as `spoke tunnel: exit
/// connection 12 from 127.0.0.1:5000: handshake timed out (0 bytes forward,
/// 0 back, 30.0 s)`; other lines as they are.
fn summarise(line: &str) -> String {
    let Some((_, rest)) = line.split_once(" from ") else {
        return line.to_owned();
    };
    let Some((peer, what)) = rest.split_once(": ") else {
        return line.to_owned();
    };
    let ip = peer
        .parse::<SocketAddr>()
        .map_or(peer.to_owned(), |a| a.ip().to_string());
    let what = match what.rfind(" (") {
        Some(i) if what.ends_with(')') => &what[..i],
        _ => what,
    };
    // Keep the kind of failure, not its varying numbers.
    let what: String = what
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    format!("from {ip}: {what}")
}
