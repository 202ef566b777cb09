//! The two Spoke ends of a fault test, as a user runs them: real `spoke`
//! processes, the password in a file (server) or in the environment
//! (client), each waited for until a deadline and killed past it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SPOKE: &str = env!("CARGO_BIN_EXE_spoke");

/// The password both ends use.
pub const PASSWORD: &str = "through the middle";

/// A fresh directory under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("faults")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[path = "../support/payload.rs"]
mod payload_bytes;
pub use payload_bytes::payload;

/// The password file in `dir`, written if missing.
pub fn password_file(dir: &Path) -> String {
    let path = dir.join("password");
    if !path.exists() {
        std::fs::write(&path, format!("{PASSWORD}\n")).unwrap();
    }
    path.to_string_lossy().into_owned()
}

/// `spoke` with `args`, in `dir`, with nothing on its standard input and no
/// password in its environment.
pub fn spoke(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(SPOKE);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SPOKE_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// A running `spoke` whose standard error is being collected.
pub struct Running {
    child: Child,
    stderr: Option<JoinHandle<String>>,
}

/// How a `spoke` process ended.
#[derive(Debug)]
pub struct Ended {
    /// Its exit status, or `None` if it was still running at the deadline
    /// (it was killed then).
    pub status: Option<ExitStatus>,
    /// Its standard error (without the "listening on" line of a server).
    pub stderr: String,
}

impl Ended {
    /// Whether it exited with success.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Whether it exited with a failure (not killed).
    pub fn failed(&self) -> bool {
        self.status.is_some_and(|s| !s.success())
    }
}

fn collect(r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(r).read_to_string(&mut s);
        s
    })
}

impl Running {
    /// Starts `cmd`, collecting its standard error.
    pub fn start(mut cmd: Command) -> Running {
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("spoke starts");
        let stderr = Some(collect(child.stderr.take().unwrap()));
        Running { child, stderr }
    }

    /// Starts a listening `cmd` and returns it with the address its first
    /// line reports.
    pub fn listening(mut cmd: Command) -> (Running, std::net::SocketAddr) {
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("spoke starts");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("spoke: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        let stderr = Some(collect(stderr));
        (Running { child, stderr }, addr)
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process until `deadline`, killing it past that.
    pub fn wait(mut self, deadline: Instant) -> Ended {
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        Ended { status, stderr }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
