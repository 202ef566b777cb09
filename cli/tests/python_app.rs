//! The Python example application, `secure-lines`
//! (`examples/python/secure-lines`): built with componentize-py when the
//! tests start, composed with the Spoke component for WASI 0.3
//! (`spoke_host::COMPONENT_P3`), and run under the stock `wasmtime run` and
//! under `spoke run` against `spoke listen --secure` on loopback, as a user
//! would run them.
//!
//! Every test skips, saying why, where componentize-py is missing (neither
//! `$SPOKE_COMPONENTIZE_PY` nor `componentize-py` on the PATH) or where no
//! `wasmtime` is on the PATH; `.ci/run` installs both.

#[path = "../../examples/compose.rs"]
mod compose;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SPOKE: &str = env!("CARGO_BIN_EXE_spoke");

/// Names the componentize-py executable; else it is looked up on the PATH.
const COMPONENTIZE_PY_ENV: &str = "SPOKE_COMPONENTIZE_PY";

/// Long enough for a slow, shared machine; short enough to fail a hang.
const DEADLINE: Duration = Duration::from_secs(60);

/// The composed application, and the same compiled ahead for the
/// `wasmtime` that runs it (so that the tests do not each compile 20 MB of
/// Python runtime).
struct Built {
    wasmtime: PathBuf,
    wasm: PathBuf,
    cwasm: PathBuf,
    /// `spoke run`'s compilation cache (`XDG_CACHE_HOME`), filled once.
    cache: PathBuf,
}

/// What runs the application.
#[derive(Clone, Copy, Debug)]
enum Runner {
    /// The stock `wasmtime run -S p3 -S inherit-network`.
    Wasmtime,
    /// `spoke run`, allowed to connect to the peer only.
    Spoke,
}

/// Why there is no [`Built`]: a tool is missing (the test skips) or the
/// build failed (the test fails).
enum Unavailable {
    Skipped(String),
    Failed(String),
}

/// The application, built once per test run; `None` after saying that
/// `test` is skipped.
fn secure_lines(test: &str) -> Option<&'static Built> {
    static BUILT: OnceLock<Result<Built, Unavailable>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(built) => Some(built),
        Err(Unavailable::Skipped(why)) => {
            println!("{test}: skipped: {why}");
            None
        }
        Err(Unavailable::Failed(why)) => panic!("building secure-lines: {why}"),
    }
}

/// `name` in a directory of the PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// componentize-py (the app alone), the shared composition helper (with
/// the Spoke component), then `wasmtime compile`, all under the target
/// directory's scratch space.
fn build() -> Result<Built, Unavailable> {
    let componentize_py = match std::env::var_os(COMPONENTIZE_PY_ENV) {
        Some(path) => PathBuf::from(path),
        None => on_path("componentize-py").ok_or_else(|| {
            Unavailable::Skipped(format!(
                "no componentize-py on PATH (or set {COMPONENTIZE_PY_ENV})"
            ))
        })?,
    };
    let wasmtime =
        on_path("wasmtime").ok_or_else(|| Unavailable::Skipped("no wasmtime on PATH".into()))?;
    let failed = Unavailable::Failed;

    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python/secure-lines");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("secure-lines");
    let _ = std::fs::remove_dir_all(&dir);
    // The app's module is copied out: componentize-py leaves a __pycache__
    // beside it, which belongs in the scratch directory, not the sources.
    let python_path = dir.join("python");
    std::fs::create_dir_all(&python_path).map_err(|e| failed(e.to_string()))?;
    std::fs::copy(source.join("app.py"), python_path.join("app.py"))
        .map_err(|e| failed(format!("copying app.py: {e}")))?;

    let app_path = dir.join("secure-lines.app.wasm");
    let output = Command::new(&componentize_py)
        .arg("-d")
        .arg(source.join("wit"))
        .args(["-w", "secure-lines", "componentize", "app", "-p"])
        .arg(&python_path)
        .arg("-o")
        .arg(&app_path)
        .current_dir(&dir)
        .output()
        .map_err(|e| failed(format!("running {}: {e}", componentize_py.display())))?;
    if !output.status.success() {
        return Err(failed(format!(
            "componentize-py: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }

    let app = std::fs::read(&app_path).map_err(|e| failed(e.to_string()))?;
    compose::validate(&app).map_err(|e| failed(format!("the application: {e}")))?;
    let composed = compose::compose(spoke_host::COMPONENT_P3, &app)
        .map_err(|e| failed(format!("composing with the Spoke component: {e:#}")))?;
    compose::validate(&composed).map_err(|e| failed(format!("the composition: {e}")))?;
    let wasm = dir.join("secure-lines.wasm");
    std::fs::write(&wasm, composed).map_err(|e| failed(e.to_string()))?;

    let cwasm = dir.join("secure-lines.cwasm");
    let output = Command::new(&wasmtime)
        .arg("compile")
        .arg(&wasm)
        .arg("-o")
        .arg(&cwasm)
        .output()
        .map_err(|e| failed(format!("running wasmtime: {e}")))?;
    if !output.status.success() {
        return Err(failed(format!(
            "wasmtime compile: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    // `spoke run` compiles the composition into its cache once, here
    // (the application, without arguments, only prints its usage), rather
    // than in every test at once.
    let cache = dir.join("cache");
    let output = Command::new(SPOKE)
        .env("XDG_CACHE_HOME", &cache)
        .arg("run")
        .arg(&wasm)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("running spoke: {e}")))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.starts_with("secure-lines: usage:") {
        return Err(failed(format!("spoke run: {}: {stderr}", output.status)));
    }
    Ok(Built {
        wasmtime,
        wasm,
        cwasm,
        cache,
    })
}

/// A child process that is killed if the test fails before it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// Its exit status, or a failed test if it has not exited by the
    /// deadline.
    fn wait(&mut self, what: &str) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "{what} did not end in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Everything `r` yields, read on a thread of its own.
fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = r.read_to_end(&mut out);
        out
    })
}

/// `spoke listen 127.0.0.1:0 --secure` and `extra`, with `password` in its
/// environment; returns it with the address it listens on and its standard
/// error (read past the line that gave the address).
fn spoke_listen(extra: &[&str], password: &str) -> (Process, SocketAddr, JoinHandle<Vec<u8>>) {
    let mut child = Process(
        Command::new(SPOKE)
            .args(["listen", "127.0.0.1:0", "--secure"])
            .args(extra)
            .env("SPOKE_PASSWORD", password)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spoke starts"),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("spoke: listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, addr, drain(stderr))
}

/// How a run of `secure-lines` ended.
struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

/// Starts `secure-lines HOST PORT` under `runner`, with `password` (if
/// any) in `SPOKE_PASSWORD`; its standard streams are piped.
fn start(built: &Built, runner: Runner, addr: SocketAddr, password: Option<&str>) -> Process {
    let mut cmd = match runner {
        Runner::Wasmtime => {
            let mut cmd = Command::new(&built.wasmtime);
            cmd.args([
                "run",
                "--allow-precompiled",
                "-S",
                "p3",
                "-S",
                "inherit-network",
            ]);
            cmd
        }
        Runner::Spoke => {
            let mut cmd = Command::new(SPOKE);
            cmd.env("XDG_CACHE_HOME", &built.cache).args([
                "run",
                "--allow-connect",
                &addr.to_string(),
            ]);
            cmd
        }
    };
    cmd.env_remove("SPOKE_PASSWORD");
    if let Some(password) = password {
        // Passed through by name, so that it is never on a command line.
        cmd.args(["--env", "SPOKE_PASSWORD"])
            .env("SPOKE_PASSWORD", password);
    }
    let component = match runner {
        Runner::Wasmtime => &built.cwasm,
        Runner::Spoke => &built.wasm,
    };
    Process(
        cmd.arg(component)
            .args([addr.ip().to_string(), addr.port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{runner:?} starts: {e}")),
    )
}

/// Runs `secure-lines` under `runner` against `addr` with `input` on its
/// standard input.
fn run(
    built: &Built,
    runner: Runner,
    addr: SocketAddr,
    password: Option<&str>,
    input: &[u8],
) -> Run {
    let mut app = start(built, runner, addr, password);
    let mut stdin = app.0.stdin.take().unwrap();
    let input = input.to_vec();
    // A thread of its own: the app answers while it is still being fed.
    let feed = std::thread::spawn(move || stdin.write_all(&input));
    let stdout = drain(app.0.stdout.take().unwrap());
    let stderr = drain(app.0.stderr.take().unwrap());
    let status = app.wait("secure-lines");
    let _ = feed.join();
    Run {
        status,
        stdout: stdout.join().unwrap(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
    }
}

/// `n` numbered lines of varying length.
fn lines(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| format!("line {i}: {}\n", "spoke ".repeat(i % 17)).into_bytes())
        .collect()
}

/// `secure-lines` under `runner` against `spoke listen --secure --echo`:
/// everything comes back, byte for byte, and both end cleanly.
fn echoes_every_line(built: &Built, runner: Runner) {
    let (mut listener, addr, listener_err) = spoke_listen(&["--echo"], "correct horse");
    let input = lines(5_000);
    let run = run(built, runner, addr, Some("correct horse"), &input);
    assert!(
        run.status.success(),
        "{runner:?}: {}: {}",
        run.status,
        run.stderr
    );
    assert_eq!(run.stderr, "", "{runner:?}");
    assert_eq!(run.stdout.len(), input.len(), "{runner:?}");
    assert!(
        run.stdout == input,
        "{runner:?}: the echo differs from the input"
    );
    let status = listener.wait("spoke listen");
    let log = String::from_utf8_lossy(&listener_err.join().unwrap()).into_owned();
    assert!(
        status.success(),
        "{runner:?}: spoke listen: {status}: {log}"
    );
}

#[test]
fn secure_lines_sends_each_line_and_prints_what_the_echo_peer_sends_back() {
    let Some(built) =
        secure_lines("secure_lines_sends_each_line_and_prints_what_the_echo_peer_sends_back")
    else {
        return;
    };
    echoes_every_line(built, Runner::Wasmtime);
}

#[test]
fn under_spoke_run_secure_lines_sends_each_line_and_prints_the_echo() {
    let Some(built) =
        secure_lines("under_spoke_run_secure_lines_sends_each_line_and_prints_the_echo")
    else {
        return;
    };
    echoes_every_line(built, Runner::Spoke);
}

/// A secure peer in this process, through the Spoke component under the
/// host library: on 127.0.0.1, it runs the server handshake with
/// `password`, reads everything up to the client's end of stream (its
/// authenticated close), and only then answers, saying how many bytes it
/// got, and ends. Returns its address and what it received.
fn answering_peer(password: &'static str) -> (SocketAddr, JoinHandle<Result<Vec<u8>, String>>) {
    use spoke_host::{NetworkPolicy, ShutdownMode, Spoke, SpokeConfig};

    let (tx, rx) = std::sync::mpsc::channel();
    let peer = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
            let spoke = Spoke::new().map_err(|e| format!("{e:#}"))?;
            let mut peer = spoke
                .instantiate(NetworkPolicy::deny_all().allow_listen(local))
                .await
                .map_err(|e| format!("{e:#}"))?;
            let listener = peer.listen(local).await.map_err(|e| e.to_string())?;
            let addr = peer
                .listener_address(&listener)
                .await
                .map_err(|e| e.to_string())?;
            let _ = tx.send(addr);
            let plain = peer.accept(&listener).await.map_err(|e| e.to_string())?;
            let ids = ("spoke-client", "spoke-server");
            let flow = peer
                .spoke_server(plain, ids, password.as_bytes(), &SpokeConfig::default())
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            let mut got = Vec::new();
            while let Some(chunk) = peer.read(&flow, 65536).await.map_err(|e| e.to_string())? {
                got.extend_from_slice(&chunk);
            }
            let answer = format!("you sent {} bytes\n", got.len());
            peer.write(&flow, answer.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            peer.shutdown(&flow, ShutdownMode::Write)
                .await
                .map_err(|e| e.to_string())?;
            Ok(got)
        })
    });
    let addr = rx.recv_timeout(DEADLINE).expect("the peer listens");
    (addr, peer)
}

#[test]
fn at_the_end_of_input_secure_lines_half_closes_and_prints_the_rest_until_the_peer_ends() {
    let Some(built) = secure_lines(
        "at_the_end_of_input_secure_lines_half_closes_and_prints_the_rest_until_the_peer_ends",
    ) else {
        return;
    };
    // The peer answers only after the app's end of stream: the app must
    // half-close at the end of its input, then keep printing.
    let (addr, peer) = answering_peer("correct horse");
    let input = b"first\nsecond, without a newline";
    let run = run(built, Runner::Wasmtime, addr, Some("correct horse"), input);
    assert!(run.status.success(), "{}: {}", run.status, run.stderr);
    assert_eq!(run.stderr, "");
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        format!("you sent {} bytes\n", input.len())
    );
    let received = peer.join().unwrap().expect("the peer's side succeeds");
    assert_eq!(received, input);
}

/// `secure-lines` under `runner` with the wrong password: one line naming
/// the handshake and the validator, status 1, and the listener sees the
/// client hang up mid-handshake.
fn fails_on_a_wrong_password(built: &Built, runner: Runner) {
    // A listener that stops at its first failed handshake.
    let (mut listener, addr, listener_err) =
        spoke_listen(&["--echo", "--max-failures", "1"], "correct horse");
    let run = run(built, runner, addr, Some("battery staple"), b"never sent\n");
    assert_eq!(run.status.code(), Some(1), "{runner:?}: {}", run.stderr);
    assert!(run.stdout.is_empty(), "{runner:?}");
    let expected = format!("secure-lines: handshake with {addr}: ");
    assert!(
        run.stderr.starts_with(&expected) && run.stderr.lines().count() == 1,
        "{runner:?}: one line naming the handshake: {:?}",
        run.stderr
    );
    assert!(
        run.stderr.to_lowercase().contains("validator"),
        "{runner:?}: the validator did not match: {:?}",
        run.stderr
    );
    let status = listener.wait("spoke listen");
    let log = String::from_utf8_lossy(&listener_err.join().unwrap()).into_owned();
    assert!(!status.success(), "{runner:?}: {log}");
    assert!(log.contains("handshake failed"), "{runner:?}: {log}");
}

#[test]
fn a_wrong_password_fails_the_handshake_with_one_line_and_status_1() {
    let Some(built) =
        secure_lines("a_wrong_password_fails_the_handshake_with_one_line_and_status_1")
    else {
        return;
    };
    fails_on_a_wrong_password(built, Runner::Wasmtime);
}

#[test]
fn under_spoke_run_a_wrong_password_fails_the_handshake_with_one_line_and_status_1() {
    let Some(built) = secure_lines(
        "under_spoke_run_a_wrong_password_fails_the_handshake_with_one_line_and_status_1",
    ) else {
        return;
    };
    fails_on_a_wrong_password(built, Runner::Spoke);
}

#[test]
fn a_port_nothing_listens_on_is_one_line_saying_the_connection_was_refused() {
    let Some(built) =
        secure_lines("a_port_nothing_listens_on_is_one_line_saying_the_connection_was_refused")
    else {
        return;
    };
    // A port nothing listens on: bind one, then free it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = run(built, Runner::Wasmtime, addr, Some("correct horse"), b"");
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .starts_with(&format!("secure-lines: connecting to {addr}: "))
            && run.stderr.lines().count() == 1,
        "{:?}",
        run.stderr
    );
    assert!(
        run.stderr.to_lowercase().contains("refused"),
        "{:?}",
        run.stderr
    );
}

#[test]
fn without_a_password_secure_lines_says_where_to_put_one_and_connects_nowhere() {
    let Some(built) =
        secure_lines("without_a_password_secure_lines_says_where_to_put_one_and_connects_nowhere")
    else {
        return;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let run = run(
        built,
        Runner::Wasmtime,
        listener.local_addr().unwrap(),
        None,
        b"",
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("SPOKE_PASSWORD"), "{:?}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{:?}", run.stderr);
    assert!(listener.accept().is_err(), "no connection was made");
}
