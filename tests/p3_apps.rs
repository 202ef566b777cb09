//! The applications for WASI 0.3 (`p3-cat`, `p3-pair`), composed with the
//! Spoke component for WASI 0.3 (`spoke:flow@0.2.0`), run as commands: under
//! this project's host (`spoke_host::CommandComponent`, what `spoke run`
//! uses) and under the stock `wasmtime run -S p3 -S inherit-network` when a
//! `wasmtime` binary is found (on the PATH, or where the project's tools
//! are cached). Their peers are native loopback servers, the WASI 0.2
//! applications (`echo-server`, `spoke-cat`) composed with the WASI 0.2
//! component, and the OCaml reference (when it is found).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;

use common::{echo, pattern, serve};
use spoke_host::{CommandComponent, Invocation, NetworkPolicy};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::time::timeout;

/// Long enough for a slow, shared machine moving 64 MiB; short enough to
/// fail a hang.
const DEADLINE: Duration = Duration::from_secs(180);

/// The password the secured runs share, and the variable that holds it.
const PASSWORD: &str = "correct horse battery staple";
const PASSWORD_ENV: &str = "SPOKE_TEST_PASSWORD";

// ---- running an application -------------------------------------------

/// The composed applications these tests run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum App {
    P3Cat,
    P3Pair,
    /// The WASI 0.2 netcat, as a peer.
    SpokeCat,
    /// The WASI 0.2 echo server, as a peer.
    EchoServer,
}

impl App {
    fn name(self) -> &'static str {
        match self {
            App::P3Cat => "p3-cat",
            App::P3Pair => "p3-pair",
            App::SpokeCat => "spoke-cat",
            App::EchoServer => "echo-server",
        }
    }

    /// The composed component, compiled once per test binary.
    fn component(self) -> CommandComponent {
        static COMPILED: [OnceLock<CommandComponent>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let (slot, bytes) = match self {
            App::P3Cat => (0, spoke_examples::P3_CAT),
            App::P3Pair => (1, spoke_examples::P3_PAIR),
            App::SpokeCat => (2, spoke_examples::SPOKE_CAT),
            App::EchoServer => (3, spoke_examples::ECHO_SERVER),
        };
        COMPILED[slot]
            .get_or_init(|| CommandComponent::new(bytes).expect("the composed component compiles"))
            .clone()
    }

    fn path(self) -> &'static str {
        match self {
            App::P3Cat => spoke_examples::P3_CAT_PATH,
            App::P3Pair => spoke_examples::P3_PAIR_PATH,
            App::SpokeCat => spoke_examples::SPOKE_CAT_PATH,
            App::EchoServer => spoke_examples::ECHO_SERVER_PATH,
        }
    }
}

/// What runs an application.
#[derive(Clone, Debug)]
enum Host {
    /// `spoke_host::CommandComponent`, under the command's network policy.
    Library,
    /// The stock `wasmtime run -S p3 -S inherit-network` (no policy).
    Wasmtime(PathBuf),
}

/// The `wasmtime` binary on the PATH, or the one the project's tools cache
/// holds (`~/.cache/spoke-tools/wasmtime-cli-50.0.1`).
fn wasmtime_cli() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("wasmtime"))
            .find(|p| p.is_file())
    });
    let cached = std::env::var_os("HOME").map(|home| {
        PathBuf::from(home).join(".cache/spoke-tools/wasmtime-cli-50.0.1/bin/wasmtime")
    });
    on_path.or(cached.filter(|p| p.is_file()))
}

/// The hosts a test runs its application under: the library always, the
/// stock wasmtime when it is found (otherwise the test says it skipped it).
fn hosts(test: &str) -> Vec<Host> {
    let mut hosts = vec![Host::Library];
    match wasmtime_cli() {
        Some(wasmtime) => hosts.push(Host::Wasmtime(wasmtime)),
        None => println!("{test}: `wasmtime run` skipped: no wasmtime found"),
    }
    hosts
}

/// Which standard stream announces the address a listening application
/// got.
#[derive(Clone, Copy, Debug)]
enum Announces {
    Stdout,
    Stderr,
}

/// One run of an application: arguments (without the program name),
/// environment, standard input and, under the library, a network policy.
struct Command {
    app: App,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Vec<u8>,
    policy: NetworkPolicy,
    announces: Announces,
}

/// How a run ended.
#[derive(Debug)]
struct Ended {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

/// A run under way: its first line on the announcing stream can be awaited
/// before its end.
struct Running {
    app: App,
    first_line: oneshot::Receiver<String>,
    ended: tokio::task::JoinHandle<Ended>,
}

impl Command {
    fn new(app: App, args: &[&str]) -> Self {
        Self {
            app,
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            stdin: Vec::new(),
            policy: NetworkPolicy::deny_all(),
            announces: Announces::Stderr,
        }
    }

    /// With `--secure PASSWORD_ENV` (and `--compat` for version 1), and the
    /// variable set to `password`.
    fn secure(mut self, version: u16, password: &str) -> Self {
        self.args.extend(["--secure".into(), PASSWORD_ENV.into()]);
        if version == 1 {
            self.args.push("--compat".into());
        }
        self.env.push((PASSWORD_ENV.into(), password.into()));
        self
    }

    fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = bytes;
        self
    }

    fn policy(mut self, policy: NetworkPolicy) -> Self {
        self.policy = policy;
        self
    }

    fn announces(mut self, on: Announces) -> Self {
        self.announces = on;
        self
    }

    /// Runs to the end under `host`.
    async fn run(self, host: &Host) -> Ended {
        self.start(host).end().await
    }

    /// Starts the run under `host`.
    fn start(self, host: &Host) -> Running {
        let app = self.app;
        let (first_tx, first_line) = oneshot::channel();
        let ended = match host {
            Host::Library => self.start_in_library(first_tx),
            Host::Wasmtime(wasmtime) => self.start_in_wasmtime(wasmtime, first_tx),
        };
        Running {
            app,
            first_line,
            ended,
        }
    }

    fn start_in_library(self, first: oneshot::Sender<String>) -> tokio::task::JoinHandle<Ended> {
        let (out_w, out_r) = tokio::io::duplex(1 << 16);
        let (err_w, err_r) = tokio::io::duplex(1 << 16);
        let (out_first, err_first) = match self.announces {
            Announces::Stdout => (Some(first), None),
            Announces::Stderr => (None, Some(first)),
        };
        let stdout = tokio::spawn(collect(out_r, out_first));
        let stderr = tokio::spawn(collect(err_r, err_first));
        let mut args = vec![self.app.name().to_string()];
        args.extend(self.args);
        let mut invocation = Invocation::new(&args)
            .policy(self.policy)
            .stdin(std::io::Cursor::new(self.stdin))
            .stdout(out_w)
            .stderr(err_w);
        for (k, v) in self.env {
            invocation = invocation.env(k, v);
        }
        let component = self.app.component();
        let app = self.app.name();
        tokio::spawn(async move {
            let exit = timeout(DEADLINE, component.run(invocation))
                .await
                .unwrap_or_else(|_| panic!("{app} ends in time"))
                .unwrap_or_else(|e| panic!("{app} runs without trapping: {e:#}"));
            Ended {
                code: exit.code,
                stdout: stdout.await.unwrap(),
                stderr: String::from_utf8_lossy(&stderr.await.unwrap()).into_owned(),
            }
        })
    }

    fn start_in_wasmtime(
        self,
        wasmtime: &PathBuf,
        first: oneshot::Sender<String>,
    ) -> tokio::task::JoinHandle<Ended> {
        let mut command = std::process::Command::new(wasmtime);
        command.args(["run", "-S", "p3", "-S", "inherit-network"]);
        for (k, v) in &self.env {
            // The value comes from wasmtime's own environment, not its
            // command line.
            command.args(["--env", k]).env(k, v);
        }
        let mut child = command
            .arg(self.app.path())
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wasmtime starts");
        let mut stdin = child.stdin.take().unwrap();
        let input = self.stdin;
        // A failed write means wasmtime stopped reading; its exit says why.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let (out_first, err_first) = match self.announces {
            Announces::Stdout => (Some(first), None),
            Announces::Stderr => (None, Some(first)),
        };
        let stdout = read_in_thread(child.stdout.take().unwrap(), out_first);
        let stderr = read_in_thread(child.stderr.take().unwrap(), err_first);
        let app = self.app.name();
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + DEADLINE;
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{app} under wasmtime did not end in time");
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            Ended {
                code: status.code().unwrap_or(-1),
                stdout: stdout.join().unwrap(),
                stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
            }
        })
    }
}

impl Running {
    /// The address announced in the first line (`... listening on ADDR`).
    async fn announced(&mut self) -> SocketAddr {
        let line = timeout(DEADLINE, &mut self.first_line)
            .await
            .unwrap_or_else(|_| panic!("{} announces its address", self.app.name()))
            .unwrap_or_else(|_| panic!("{} ended before announcing", self.app.name()));
        line.trim()
            .rsplit_once("listening on ")
            .and_then(|(_, a)| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
    }

    async fn end(self) -> Ended {
        self.ended.await.expect("the run does not panic")
    }
}

/// Everything `reader` yields; its first line also goes to `first`.
async fn collect(
    mut reader: impl AsyncRead + Unpin,
    mut first: Option<oneshot::Sender<String>>,
) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = reader.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return all;
        }
        all.extend_from_slice(&buf[..n]);
        send_first_line(&all, &mut first);
    }
}

/// Everything a child's stream yields, read on a thread of its own; its
/// first line also goes to `first`.
fn read_in_thread(
    mut from: impl Read + Send + 'static,
    mut first: Option<oneshot::Sender<String>>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = vec![0; 1 << 16];
        loop {
            let n = from.read(&mut buf).unwrap_or(0);
            if n == 0 {
                return all;
            }
            all.extend_from_slice(&buf[..n]);
            send_first_line(&all, &mut first);
        }
    })
}

fn send_first_line(all: &[u8], first: &mut Option<oneshot::Sender<String>>) {
    if let Some(end) = all.iter().position(|b| *b == b'\n')
        && let Some(tx) = first.take()
    {
        let _ = tx.send(String::from_utf8_lossy(&all[..end]).into_owned());
    }
}

/// Asserts a run succeeded, and said nothing on standard error.
fn assert_clean(what: &str, ended: &Ended) {
    assert_eq!(ended.code, 0, "{what}: stderr: {}", ended.stderr);
    assert!(
        ended.stderr.is_empty() || ended.stderr.lines().all(|l| l.contains("listening on")),
        "{what}: {}",
        ended.stderr
    );
}

/// Asserts a run failed with exit status 1 and one line on standard error
/// that starts with `start`; returns that line.
fn assert_failed_in_one_line<'a>(what: &str, ended: &'a Ended, start: &str) -> &'a str {
    assert_eq!(ended.code, 1, "{what}: stderr: {}", ended.stderr);
    let lines: Vec<&str> = ended
        .stderr
        .lines()
        .filter(|l| !l.contains("listening on"))
        .collect();
    assert_eq!(lines.len(), 1, "{what}: one line: {}", ended.stderr);
    assert!(lines[0].starts_with(start), "{what}: {}", ended.stderr);
    lines[0]
}

/// The policy that lets a command connect to `addr` only.
fn connect_to(addr: SocketAddr) -> NetworkPolicy {
    NetworkPolicy::deny_all().allow_connect(addr)
}

/// The policy that lets a command listen on any loopback port.
fn listen_on_loopback() -> NetworkPolicy {
    NetworkPolicy::deny_all().allow_listen("127.0.0.1:0".parse().unwrap())
}

// ---- p3-cat over a plain connection --------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_cat_echoes_standard_input_through_a_plain_connection_byte_for_byte() {
    let server = serve(echo).await;
    for host in hosts("p3_cat_echoes_standard_input_through_a_plain_connection_byte_for_byte") {
        for size in [0, 1, 65_537, 64 << 20] {
            let input = pattern(size);
            let ended = Command::new(App::P3Cat, &["127.0.0.1", &server.port().to_string()])
                .policy(connect_to(server))
                .stdin(input.clone())
                .run(&host)
                .await;
            let what = format!("{host:?}, {size} bytes");
            assert_clean(&what, &ended);
            assert_eq!(ended.stdout.len(), size, "{what}");
            assert!(ended.stdout == input, "{what}: the echo differs");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_cat_half_closes_at_the_end_of_its_input_and_prints_what_the_peer_sends_after() {
    // The peer greets, waits for the client's end of input, then answers:
    // p3-cat must end its sending direction and keep receiving.
    let server = serve(|mut sock| async move {
        sock.write_all(b"hello\n").await.unwrap();
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest).await.unwrap();
        sock.write_all(format!("you sent {} bytes\n", rest.len()).as_bytes())
            .await
            .unwrap();
    })
    .await;
    for host in
        hosts("p3_cat_half_closes_at_the_end_of_its_input_and_prints_what_the_peer_sends_after")
    {
        let ended = Command::new(App::P3Cat, &["127.0.0.1", &server.port().to_string()])
            .policy(connect_to(server))
            .stdin(b"four".to_vec())
            .run(&host)
            .await;
        assert_clean(&format!("{host:?}"), &ended);
        assert_eq!(
            String::from_utf8_lossy(&ended.stdout),
            "hello\nyou sent 4 bytes\n",
            "{host:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_cat_reports_a_refused_connection_in_one_line_and_fails() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    for host in hosts("p3_cat_reports_a_refused_connection_in_one_line_and_fails") {
        let ended = Command::new(App::P3Cat, &["127.0.0.1", &closed.port().to_string()])
            .policy(connect_to(closed))
            .stdin(b"must not leave".to_vec())
            .run(&host)
            .await;
        let line = assert_failed_in_one_line(
            &format!("{host:?}"),
            &ended,
            &format!("p3-cat: connecting to {closed}: "),
        );
        assert!(line.to_lowercase().contains("refused"), "{host:?}: {line}");
        assert!(ended.stdout.is_empty(), "{host:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_cat_is_refused_an_address_the_library_policy_does_not_allow() {
    let server = serve(echo).await;
    let other = SocketAddr::new(server.ip(), server.port().wrapping_add(1).max(1));
    let ended = Command::new(App::P3Cat, &["127.0.0.1", &server.port().to_string()])
        .policy(connect_to(other))
        .run(&Host::Library)
        .await;
    let line = assert_failed_in_one_line("library", &ended, "p3-cat: connecting to");
    assert!(line.to_lowercase().contains("denied"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_cat_reports_a_bad_command_line() {
    for (args, says) in [
        (&["127.0.0.1"][..], "usage: p3-cat"),
        (&["127.0.0.1", "http"][..], "not a port number"),
        (&["--listen", "localhost", "0"][..], "not an IP address"),
    ] {
        let ended = Command::new(App::P3Cat, args).run(&Host::Library).await;
        assert_eq!(ended.code, 1, "{args:?}: {}", ended.stderr);
        assert!(ended.stderr.contains(says), "{args:?}: {}", ended.stderr);
    }
}

// ---- p3-cat secured, against the WASI 0.2 applications ---------------------

/// p3-cat's secured client against the WASI 0.2 echo server (listening
/// under the library) at `version`: what it sends comes back intact, and
/// both end cleanly.
async fn p3_cat_secured_against_the_wasi_0_2_echo_server(version: u16, host: &Host) {
    let mut server = Command::new(App::EchoServer, &["127.0.0.1", "0", "--connections", "1"])
        .secure(version, PASSWORD)
        .policy(listen_on_loopback())
        .announces(Announces::Stdout)
        .start(&Host::Library);
    let addr = server.announced().await;
    let input = pattern(8 << 20);
    let ended = Command::new(App::P3Cat, &["127.0.0.1", &addr.port().to_string()])
        .secure(version, PASSWORD)
        .policy(connect_to(addr))
        .stdin(input.clone())
        .run(host)
        .await;
    let what = format!("{host:?}, version {version}");
    assert_clean(&what, &ended);
    assert_eq!(ended.stdout.len(), input.len(), "{what}");
    assert!(ended.stdout == input, "{what}: the echo differs");
    let served = server.end().await;
    assert_clean(&format!("echo-server, {what}"), &served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_cat_secured_talks_to_the_wasi_0_2_echo_server_at_version_2() {
    for host in hosts("p3_cat_secured_talks_to_the_wasi_0_2_echo_server_at_version_2") {
        p3_cat_secured_against_the_wasi_0_2_echo_server(2, &host).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_cat_secured_talks_to_the_wasi_0_2_echo_server_at_version_1() {
    for host in hosts("p3_cat_secured_talks_to_the_wasi_0_2_echo_server_at_version_1") {
        p3_cat_secured_against_the_wasi_0_2_echo_server(1, &host).await;
    }
}

/// p3-cat listening (secured, at `version`, under `host`) and the WASI 0.2
/// spoke-cat connecting (under the library): each prints exactly what the
/// other read from its standard input.
async fn spoke_cat_against_p3_cat_listening(version: u16, host: &Host) {
    let (to_listener, to_client) = (pattern(4 << 20), pattern((3 << 20) + 11)[11..].to_vec());
    let mut listener = Command::new(App::P3Cat, &["--listen", "127.0.0.1", "0"])
        .secure(version, PASSWORD)
        .policy(listen_on_loopback())
        .stdin(to_client.clone())
        .start(host);
    let addr = listener.announced().await;
    let client = Command::new(App::SpokeCat, &["127.0.0.1", &addr.port().to_string()])
        .secure(version, PASSWORD)
        .policy(connect_to(addr))
        .stdin(to_listener.clone())
        .run(&Host::Library)
        .await;
    let listened = listener.end().await;
    let what = format!("{host:?}, version {version}");
    assert_clean(&format!("spoke-cat, {what}"), &client);
    assert_clean(&format!("p3-cat, {what}"), &listened);
    assert_eq!(listened.stdout.len(), to_listener.len(), "{what}");
    assert!(
        listened.stdout == to_listener,
        "{what}: p3-cat got spoke-cat's input"
    );
    assert_eq!(client.stdout.len(), to_client.len(), "{what}");
    assert!(
        client.stdout == to_client,
        "{what}: spoke-cat got p3-cat's input"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasi_0_2_spoke_cat_talks_to_p3_cat_listening_at_version_2() {
    for host in hosts("the_wasi_0_2_spoke_cat_talks_to_p3_cat_listening_at_version_2") {
        spoke_cat_against_p3_cat_listening(2, &host).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasi_0_2_spoke_cat_talks_to_p3_cat_listening_at_version_1() {
    for host in hosts("the_wasi_0_2_spoke_cat_talks_to_p3_cat_listening_at_version_1") {
        spoke_cat_against_p3_cat_listening(1, &host).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_cat_with_a_wrong_password_reports_the_handshake_failure_in_one_line() {
    for host in hosts("p3_cat_with_a_wrong_password_reports_the_handshake_failure_in_one_line") {
        let mut server = Command::new(App::EchoServer, &["127.0.0.1", "0", "--connections", "1"])
            .secure(2, PASSWORD)
            .policy(listen_on_loopback())
            .announces(Announces::Stdout)
            .start(&Host::Library);
        let addr = server.announced().await;
        let ended = Command::new(App::P3Cat, &["127.0.0.1", &addr.port().to_string()])
            .secure(2, "not the password")
            .policy(connect_to(addr))
            .stdin(b"must not leave".to_vec())
            .run(&host)
            .await;
        let line = assert_failed_in_one_line(&format!("{host:?}"), &ended, "p3-cat: ");
        assert_eq!(line, "p3-cat: handshake failed: Invalid client validator");
        assert!(ended.stdout.is_empty());
        let served = server.end().await;
        assert!(
            served.stderr.contains("handshake failed: End of input"),
            "{}",
            served.stderr
        );
    }
}

// ---- p3-pair: the spoke layer over in-memory streams ---------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_pair_moves_every_byte_both_ways_at_each_version_with_each_cipher() {
    let ciphers = [
        ("chacha20-poly1305", "aes256-gcm"),
        ("aes256-gcm", "aes256-ccm"),
        ("aes256-ccm", "chacha20-poly1305"),
    ];
    for host in hosts("p3_pair_moves_every_byte_both_ways_at_each_version_with_each_cipher") {
        for version in ["1", "2"] {
            for (s2c, c2s) in ciphers {
                let size = ((1 << 20) + 3).to_string();
                let pair = format!("{s2c},{c2s}");
                let ended = Command::new(
                    App::P3Pair,
                    &["--size", &size, "--version", version, "--ciphers", &pair],
                )
                .run(&host)
                .await;
                let what = format!("{host:?}, version {version}, {pair}");
                assert_clean(&what, &ended);
                assert_eq!(
                    String::from_utf8_lossy(&ended.stdout),
                    format!(
                        "p3-pair: version {version}, {s2c} server-to-client, {c2s} \
                         client-to-server: {size} bytes each way arrived intact and both \
                         directions ended cleanly\n"
                    ),
                    "{what}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_pair_with_a_wrong_password_fails_the_client_on_the_validator_and_the_server_on_end_of_input()
 {
    for host in hosts(
        "p3_pair_with_a_wrong_password_fails_the_client_on_the_validator_and_the_server_on_end_of_input",
    ) {
        for version in ["1", "2"] {
            let ended = Command::new(App::P3Pair, &["--wrong-password", "--version", version])
                .run(&host)
                .await;
            let what = format!("{host:?}, version {version}");
            assert_clean(&what, &ended);
            assert_eq!(
                String::from_utf8_lossy(&ended.stdout),
                "p3-pair: a wrong password fails both sides: client: Invalid client validator; \
                 server: End of input\n",
                "{what}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_pair_reports_a_bad_argument_in_one_line() {
    for (args, says) in [
        (
            &["--version", "3"][..],
            "p3-pair: --version: \"3\" is not 1 or 2",
        ),
        (
            &["--ciphers", "rot13,aes256-gcm"][..],
            "p3-pair: \"rot13\" is not a cipher",
        ),
    ] {
        let ended = Command::new(App::P3Pair, args).run(&Host::Library).await;
        assert_failed_in_one_line(&format!("{args:?}"), &ended, says);
    }
}

// ---- p3-cat at version 1 against the OCaml reference ----------------------

/// The OCaml reference peer (`$SPOKE_REF_PEER`, else `shared/ref-peer`
/// beside the project), if it is there.
fn ref_peer() -> Option<PathBuf> {
    std::env::var_os("SPOKE_REF_PEER")
        .map(PathBuf::from)
        .or_else(|| {
            Some(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../shared/ref-peer/spoke-ref-peer"),
            )
        })
        .filter(|p| p.is_file())
}

/// A child process that is killed if the test fails before it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_cat_at_version_1_talks_to_the_ocaml_reference_server() {
    let test = "p3_cat_at_version_1_talks_to_the_ocaml_reference_server";
    let Some(reference) = ref_peer() else {
        println!("{test}: skipped: no OCaml reference peer (set SPOKE_REF_PEER)");
        return;
    };
    for host in hosts(test) {
        // The reference takes a port, not port 0: one that was free a
        // moment ago.
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        // It accepts one connection, echoes it, and exits.
        let mut server = Child(
            std::process::Command::new(&reference)
                .args(["server", "--listen", &format!("127.0.0.1:{port}")])
                .args(["--password", PASSWORD])
                .args(["--identity", "spoke-client,spoke-server"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the reference starts"),
        );
        let (listening_tx, listening) = oneshot::channel();
        let log = read_in_thread(server.0.stdout.take().unwrap(), None);
        let errors = read_in_thread(server.0.stderr.take().unwrap(), None);
        // It says it listens on standard output; wait for that by trying
        // to bind the port ourselves (no connection, which it would take
        // as its one client).
        std::thread::spawn(move || {
            let start = Instant::now();
            while std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                if start.elapsed() > DEADLINE {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = listening_tx.send(());
        });
        timeout(DEADLINE, listening)
            .await
            .expect("the reference listens")
            .expect("the reference listens");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let input = pattern((3 << 20) + 5);
        let ended = Command::new(App::P3Cat, &["127.0.0.1", &port.to_string()])
            .secure(1, PASSWORD)
            .policy(connect_to(addr))
            .stdin(input.clone())
            .run(&host)
            .await;
        let status = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + DEADLINE;
            loop {
                if let Some(status) = server.0.try_wait().unwrap() {
                    return status;
                }
                assert!(Instant::now() < deadline, "the reference exits");
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .await
        .unwrap();
        let log = String::from_utf8_lossy(&log.join().unwrap()).into_owned();
        let errors = String::from_utf8_lossy(&errors.join().unwrap()).into_owned();
        let what = format!("{host:?}");
        assert_clean(&what, &ended);
        assert!(status.success(), "{what}: the reference: {log}{errors}");
        assert_eq!(ended.stdout.len(), input.len(), "{what}: {log}");
        assert!(ended.stdout == input, "{what}: the echo differs");
    }
}
