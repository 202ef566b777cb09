//! The example applications composed with the Spoke component
//! (`spoke-examples`), run as commands: under this project's host
//! (`spoke_host::CommandComponent`, with a network policy) against native
//! loopback peers, and under the stock `wasmtime run` when a `wasmtime`
//! binary is on the PATH.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

mod common;

use common::{echo, pattern, serve};
use spoke_host::{CommandComponent, CommandExit, Invocation, NetworkPolicy};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// Long enough for a slow, shared machine; short enough to fail a hang.
const DEADLINE: Duration = Duration::from_secs(60);

fn spoke_cat() -> CommandComponent {
    static CAT: OnceLock<CommandComponent> = OnceLock::new();
    CAT.get_or_init(|| {
        CommandComponent::new(spoke_examples::SPOKE_CAT).expect("spoke-cat compiles")
    })
    .clone()
}

fn echo_server() -> CommandComponent {
    static ECHO: OnceLock<CommandComponent> = OnceLock::new();
    ECHO.get_or_init(|| {
        CommandComponent::new(spoke_examples::ECHO_SERVER).expect("echo-server compiles")
    })
    .clone()
}

/// A native echo server on 127.0.0.1 (the common one) that also counts
/// the connections it accepted.
async fn native_echo() -> (SocketAddr, tokio::sync::watch::Receiver<usize>) {
    let (count_tx, count_rx) = tokio::sync::watch::channel(0usize);
    let addr = serve(move |sock| {
        count_tx.send_modify(|n| *n += 1);
        echo(sock)
    })
    .await;
    (addr, count_rx)
}

/// Everything `reader` yields until its end.
async fn read_all(mut reader: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.unwrap();
    out
}

/// Runs `command` with `invocation`, its standard output and error
/// captured; returns how it ended and both streams.
async fn run_captured(
    command: CommandComponent,
    invocation: Invocation,
) -> (CommandExit, Vec<u8>, String) {
    let (out_w, out_r) = tokio::io::duplex(1 << 16);
    let (err_w, err_r) = tokio::io::duplex(1 << 16);
    let stdout = tokio::spawn(read_all(out_r));
    let stderr = tokio::spawn(read_all(err_r));
    let exit = timeout(
        DEADLINE,
        command.run(invocation.stdout(out_w).stderr(err_w)),
    )
    .await
    .expect("the command ends")
    .expect("the command runs without trapping");
    let stdout = stdout.await.unwrap();
    let stderr = String::from_utf8_lossy(&stderr.await.unwrap()).into_owned();
    (exit, stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoke_cat_sends_standard_input_to_the_peer_and_prints_what_comes_back() {
    let (addr, _) = native_echo().await;
    let input = pattern(3 << 20);
    let args = [
        "spoke-cat".to_string(),
        addr.ip().to_string(),
        addr.port().to_string(),
    ];
    let invocation = Invocation::new(&args)
        .policy(NetworkPolicy::deny_all().allow_connect(addr))
        .stdin(std::io::Cursor::new(input.clone()));
    let (exit, stdout, stderr) = run_captured(spoke_cat(), invocation).await;
    assert_eq!(
        exit,
        CommandExit {
            code: 0,
            denied: None
        },
        "stderr: {stderr}"
    );
    assert_eq!(stdout.len(), input.len(), "stderr: {stderr}");
    assert!(
        stdout == input,
        "the echoed bytes differ from standard input"
    );
    assert!(stderr.is_empty(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoke_cat_waits_for_standard_input_that_arrives_in_bursts() {
    // Standard input that is often empty: spoke-cat must wait for it to
    // become readable, and be woken when it does, until it ends.
    let (addr, _) = native_echo().await;
    let input = pattern(1 << 20);
    let (mut feed, stdin) = tokio::io::duplex(4096);
    let bursts = input.clone();
    tokio::spawn(async move {
        for (i, burst) in bursts.chunks(10_000).enumerate() {
            feed.write_all(burst).await.unwrap();
            if i % 8 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        // Dropping the writer ends standard input.
    });
    let args = [
        "spoke-cat".to_string(),
        addr.ip().to_string(),
        addr.port().to_string(),
    ];
    let invocation = Invocation::new(&args)
        .policy(NetworkPolicy::deny_all().allow_connect(addr))
        .stdin(stdin);
    let (exit, stdout, stderr) = run_captured(spoke_cat(), invocation).await;
    assert!(exit.success(), "{exit:?}: {stderr}");
    assert_eq!(stdout.len(), input.len(), "stderr: {stderr}");
    assert!(
        stdout == input,
        "the echoed bytes differ from standard input"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoke_cat_with_empty_input_still_prints_everything_the_peer_sends() {
    // A peer that greets, waits for the client's end-of-stream, then says
    // goodbye: the client must shut its write side and keep reading.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.write_all(b"hello\n").await.unwrap();
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest).await.unwrap();
        sock.write_all(format!("you sent {} bytes\n", rest.len()).as_bytes())
            .await
            .unwrap();
    });
    let args = [
        "spoke-cat",
        &addr.ip().to_string(),
        &addr.port().to_string(),
    ]
    .map(String::from);
    let invocation = Invocation::new(&args).policy(NetworkPolicy::deny_all().allow_connect(addr));
    let (exit, stdout, stderr) = run_captured(spoke_cat(), invocation).await;
    assert!(exit.success(), "{exit:?} {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        "hello\nyou sent 0 bytes\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoke_cat_is_refused_an_address_the_policy_does_not_allow() {
    let (addr, accepted) = native_echo().await;
    let other = SocketAddr::new(addr.ip(), addr.port().wrapping_add(1).max(1));
    let args = [
        "spoke-cat",
        &addr.ip().to_string(),
        &addr.port().to_string(),
    ]
    .map(String::from);
    let invocation = Invocation::new(&args)
        .policy(NetworkPolicy::deny_all().allow_connect(other))
        .stdin(std::io::Cursor::new(b"must not leave".to_vec()));
    let (exit, stdout, stderr) = run_captured(spoke_cat(), invocation).await;
    assert_eq!(exit.code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.starts_with("spoke-cat: connecting to"), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("denied"),
        "the error says the policy denied it: {stderr}"
    );
    let denied = exit.denied.expect("the host reports the denial");
    assert!(
        denied.contains(&addr.to_string()) && denied.contains("allow_connect"),
        "{denied}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(*accepted.borrow(), 0, "the peer never saw a connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoke_cat_reports_a_bad_command_line() {
    let invocation = Invocation::new(&["spoke-cat", "127.0.0.1"]);
    let (exit, _, stderr) = run_captured(spoke_cat(), invocation).await;
    assert_eq!(exit.code, 1);
    assert!(stderr.contains("usage: spoke-cat HOST PORT"), "{stderr}");
    let invocation = Invocation::new(&["spoke-cat", "127.0.0.1", "http"]);
    let (exit, _, stderr) = run_captured(spoke_cat(), invocation).await;
    assert_eq!(exit.code, 1);
    assert!(stderr.contains("not a port number"), "{stderr}");
}

/// Starts `echo-server` (composed) on 127.0.0.1 port 0 with `extra`
/// arguments; returns the port it announced and its run.
async fn start_echo_server(
    extra: &[&str],
    policy: NetworkPolicy,
) -> (SocketAddr, tokio::task::JoinHandle<(CommandExit, String)>) {
    let mut args = vec!["echo-server", "127.0.0.1", "0"];
    args.extend_from_slice(extra);
    let (out_w, out_r) = tokio::io::duplex(1 << 16);
    let (err_w, err_r) = tokio::io::duplex(1 << 16);
    let invocation = Invocation::new(&args)
        .policy(policy)
        .stdout(out_w)
        .stderr(err_w);
    let run = tokio::spawn(async move {
        let stderr = tokio::spawn(read_all(err_r));
        let exit = timeout(DEADLINE, echo_server().run(invocation))
            .await
            .expect("the server ends")
            .expect("no trap");
        (
            exit,
            String::from_utf8_lossy(&stderr.await.unwrap()).into_owned(),
        )
    });
    let mut line = String::new();
    let mut stdout = BufReader::new(out_r);
    timeout(DEADLINE, stdout.read_line(&mut line))
        .await
        .expect("the server announces its address")
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    tokio::spawn(read_all(stdout));
    (addr, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_server_serves_several_clients_at_once() {
    let policy = NetworkPolicy::deny_all().allow_listen("127.0.0.1:0".parse().unwrap());
    let (addr, run) = start_echo_server(&["--connections", "3"], policy).await;

    // All three connected before any is answered or closed; each is
    // answered while the others stay open and silent.
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(TcpStream::connect(addr).await.unwrap());
    }
    for round in 0..3 {
        for (i, c) in clients.iter_mut().enumerate().rev() {
            let msg = format!("round {round} from client {i}\n");
            c.write_all(msg.as_bytes()).await.unwrap();
            let mut back = vec![0; msg.len()];
            timeout(DEADLINE, c.read_exact(&mut back))
                .await
                .expect("an answer while others are open")
                .unwrap();
            assert_eq!(back, msg.as_bytes());
        }
    }
    // A big message on one client, the others still open.
    let big = pattern(1 << 20);
    let (mut r, mut w) = clients[1].split();
    let (_, echoed) = tokio::join!(w.write_all(&big), async {
        let mut back = vec![0; big.len()];
        r.read_exact(&mut back).await.map(|_| back)
    });
    assert!(echoed.unwrap() == big);

    // Each end-of-stream is answered with one.
    for mut c in clients {
        c.shutdown().await.unwrap();
        let mut rest = Vec::new();
        timeout(DEADLINE, c.read_to_end(&mut rest))
            .await
            .expect("the server half-closes")
            .unwrap();
        assert!(rest.is_empty());
    }
    let (exit, stderr) = run.await.unwrap();
    assert_eq!(
        exit,
        CommandExit {
            code: 0,
            denied: None
        },
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_server_with_max_clients_one_serves_the_next_client_after_the_first_leaves() {
    let policy = NetworkPolicy::deny_all().allow_listen("127.0.0.1:0".parse().unwrap());
    let (addr, run) =
        start_echo_server(&["--max-clients", "1", "--connections", "2"], policy).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(b"one").await.unwrap();
    let mut back = [0; 3];
    first.read_exact(&mut back).await.unwrap();

    // The second connects (the backlog takes it) but is not served yet.
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(b"two").await.unwrap();
    let early = timeout(Duration::from_millis(300), second.read_exact(&mut back)).await;
    assert!(
        early.is_err(),
        "the second client is served only once the first is gone"
    );

    first.shutdown().await.unwrap();
    drop(first);
    timeout(DEADLINE, second.read_exact(&mut back))
        .await
        .expect("served after the first left")
        .unwrap();
    assert_eq!(&back, b"two");
    second.shutdown().await.unwrap();
    let _ = read_all(&mut second).await;
    let (exit, stderr) = run.await.unwrap();
    assert!(exit.success(), "{exit:?} {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_server_is_refused_a_listen_the_policy_does_not_allow() {
    let policy = NetworkPolicy::deny_all().allow_listen("127.0.0.2:0".parse().unwrap());
    let invocation = Invocation::new(&["echo-server", "127.0.0.1", "0"]).policy(policy);
    let (exit, stdout, stderr) = run_captured(echo_server(), invocation).await;
    assert_eq!(exit.code, 1, "{stderr}");
    assert!(stdout.is_empty(), "nothing is announced");
    assert!(
        stderr.starts_with("echo-server: listening on 127.0.0.1"),
        "{stderr}"
    );
    let denied = exit.denied.expect("the host reports the denial");
    assert!(denied.contains("allow_listen"), "{denied}");
}

// ---- the stock wasmtime CLI ---------------------------------------------

/// The `wasmtime` binary on the PATH, or `None` after saying the test is
/// skipped.
fn wasmtime_cli(test: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join("wasmtime"))
        .find(|p| p.is_file());
    if found.is_none() {
        println!("{test}: skipped: no wasmtime on PATH");
    }
    found
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
async fn spoke_cat_runs_under_wasmtime_run() {
    let Some(wasmtime) = wasmtime_cli("spoke_cat_runs_under_wasmtime_run") else {
        return;
    };
    let (addr, _) = native_echo().await;
    let input = pattern(1 << 20);
    let mut child = Child(
        std::process::Command::new(wasmtime)
            .args([
                "run",
                "-S",
                "inherit-network",
                spoke_examples::SPOKE_CAT_PATH,
            ])
            .args([addr.ip().to_string(), addr.port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wasmtime starts"),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    let feed = input.clone();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &feed));
    let mut stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let reader = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).map(|_| out)
    });
    let output = timeout(DEADLINE, reader)
        .await
        .expect("wasmtime run ends")
        .unwrap()
        .unwrap();
    let _ = writer.join();
    let status = child.0.wait().unwrap();
    let mut errors = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut errors);
    assert!(status.success(), "{status:?}: {errors}");
    assert!(
        output == input,
        "the echoed bytes differ ({} of {} bytes)",
        output.len(),
        input.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_server_runs_under_wasmtime_run() {
    let Some(wasmtime) = wasmtime_cli("echo_server_runs_under_wasmtime_run") else {
        return;
    };
    let mut child = Child(
        std::process::Command::new(wasmtime)
            .args([
                "run",
                "-S",
                "inherit-network",
                spoke_examples::ECHO_SERVER_PATH,
            ])
            .args(["127.0.0.1", "0", "--connections", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("wasmtime starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    });
    let line = timeout(DEADLINE, line)
        .await
        .expect("the server announces its address")
        .unwrap()
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .expect("an address");
    let mut a = TcpStream::connect(addr).await.unwrap();
    let mut b = TcpStream::connect(addr).await.unwrap();
    for (c, msg) in [(&mut b, &b"to b"[..]), (&mut a, &b"to a"[..])] {
        c.write_all(msg).await.unwrap();
        let mut back = vec![0; msg.len()];
        timeout(DEADLINE, c.read_exact(&mut back))
            .await
            .expect("an answer")
            .unwrap();
        assert_eq!(back, msg);
    }
    for mut c in [a, b] {
        c.shutdown().await.unwrap();
        let _ = read_all(&mut c).await;
    }
    let status = tokio::task::spawn_blocking(move || child.0.wait());
    let status = timeout(DEADLINE, status)
        .await
        .expect("the server exits after two connections")
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// An event loop such as `echo-server` relies on this: a flow's pollable is
/// ready only when a read would not block, even for a flow just accepted
/// (whose socket wasmtime reports readable before any byte arrives) and
/// right after a read that took everything there was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_is_readable_only_when_a_read_would_not_block() {
    let spoke = spoke_host::Spoke::new().unwrap();
    let policy = NetworkPolicy::deny_all().allow_listen("127.0.0.1:0".parse().unwrap());
    let mut instance = spoke.instantiate(policy).await.unwrap();
    let listener = instance
        .listen("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = instance.listener_address(&listener).await.unwrap();
    let mut peer = TcpStream::connect(addr).await.unwrap();
    let flow = instance.accept(&listener).await.unwrap();
    let quiet = Duration::from_millis(200);

    let early = timeout(quiet, instance.readable(&flow)).await;
    assert!(
        early.is_err(),
        "nothing was sent, yet the accepted flow is readable"
    );

    peer.write_all(b"ping").await.unwrap();
    timeout(DEADLINE, instance.readable(&flow))
        .await
        .expect("readable once data came")
        .unwrap();
    assert_eq!(
        instance.read(&flow, 1024).await.unwrap().as_deref(),
        Some(&b"ping"[..])
    );
    let drained = timeout(quiet, instance.readable(&flow)).await;
    assert!(
        drained.is_err(),
        "everything was read, yet the flow is readable"
    );

    peer.write_all(b"pong").await.unwrap();
    peer.shutdown().await.unwrap();
    timeout(DEADLINE, instance.readable(&flow))
        .await
        .expect("readable again")
        .unwrap();
    assert_eq!(
        instance.read(&flow, 1024).await.unwrap().as_deref(),
        Some(&b"pong"[..])
    );
    assert_eq!(instance.read(&flow, 1024).await.unwrap(), None);
}

// ---- spoke-cat's pipe, plain (spliced by the host) and encrypted --------

/// The password both ends of the encrypted tests share (spoke-cat reads it
/// from this environment variable).
const PASSWORD: &str = "correct horse battery staple";
const PASSWORD_ENV: &str = "SPOKE_TEST_PASSWORD";
/// How much each side sends in the encrypted tests.
const EACH_WAY: usize = 8 << 20;

/// Which side ends its direction first.
#[derive(Clone, Copy, Debug)]
enum First {
    /// The native peer sends everything and half-closes before it reads.
    Peer,
    /// The native peer reads to spoke-cat's end before it sends anything.
    Cat,
}

/// A native peer on 127.0.0.1, a Spoke server (version 2, spoke-cat's
/// default identities) if `secure`, that sends `ours` and receives
/// everything, in the order `first` says, half-closing after sending (close
/// marker if secure, then FIN); returns what it received.
fn native_peer(
    secure: bool,
    first: First,
    ours: Vec<u8>,
) -> (
    SocketAddr,
    std::thread::JoinHandle<std::io::Result<Vec<u8>>>,
) {
    use spoke_protocol::stream::SecureStream;
    use spoke_protocol::{Config, Identities};
    use std::io::{Read, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (sock, _) = listener.accept()?;
        if !secure {
            let (mut r, mut w) = (sock.try_clone()?, sock);
            let mut got = Vec::new();
            if let First::Cat = first {
                r.read_to_end(&mut got)?;
            }
            w.write_all(&ours)?;
            w.shutdown(std::net::Shutdown::Write)?;
            if let First::Peer = first {
                r.read_to_end(&mut got)?;
            }
            return Ok(got);
        }
        let ids = Identities {
            client: b"spoke-client".to_vec(),
            server: b"spoke-server".to_vec(),
        };
        let (mut r, mut w) =
            SecureStream::server(sock, &Config::default(), ids, PASSWORD.as_bytes())
                .map_err(std::io::Error::other)?
                .split();
        let mut got = Vec::new();
        match first {
            First::Peer => {
                w.write_all(&ours)?;
                w.shutdown_write()?;
                r.read_to_end(&mut got)?;
            }
            First::Cat => {
                r.read_to_end(&mut got)?;
                w.write_all(&ours)?;
                w.shutdown_write()?;
            }
        }
        Ok(got)
    });
    (addr, peer)
}

/// spoke-cat (with `--secure` if `secure`) against `native_peer(secure,
/// first, ...)`, 8 MiB each way: both arrive intact and spoke-cat exits
/// cleanly.
async fn spoke_cat_pipes_a_flow(secure: bool, first: First) {
    let (upload, download) = (pattern(EACH_WAY), pattern(EACH_WAY + 7)[7..].to_vec());
    let (addr, peer) = native_peer(secure, first, download.clone());
    let mut args = vec![
        "spoke-cat".to_string(),
        addr.ip().to_string(),
        addr.port().to_string(),
    ];
    if secure {
        args.extend(["--secure".to_string(), PASSWORD_ENV.to_string()]);
    }
    let invocation = Invocation::new(&args)
        .policy(NetworkPolicy::deny_all().allow_connect(addr))
        .env(PASSWORD_ENV, PASSWORD)
        .stdin(std::io::Cursor::new(upload.clone()));
    let (exit, stdout, stderr) = run_captured(spoke_cat(), invocation).await;
    assert_eq!(
        exit,
        CommandExit {
            code: 0,
            denied: None
        },
        "secure {secure}, {first:?} first: {stderr}"
    );
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(
        stdout.len(),
        download.len(),
        "secure {secure}, {first:?} first: bytes printed"
    );
    assert!(
        stdout == download,
        "secure {secure}, {first:?} first: the peer's bytes, in order"
    );
    let received = tokio::task::spawn_blocking(move || peer.join())
        .await
        .unwrap()
        .expect("the peer does not panic")
        .expect("the peer's flow ends with the authenticated close marker");
    assert_eq!(
        received.len(),
        upload.len(),
        "secure {secure}, {first:?} first: bytes sent"
    );
    assert!(
        received == upload,
        "secure {secure}, {first:?} first: standard input, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoke_cat_pipes_an_encrypted_flow_when_the_peer_ends_first() {
    spoke_cat_pipes_a_flow(true, First::Peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoke_cat_pipes_an_encrypted_flow_when_its_input_ends_first() {
    spoke_cat_pipes_a_flow(true, First::Cat).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoke_cat_pipes_a_plain_flow_when_the_peer_ends_first() {
    spoke_cat_pipes_a_flow(false, First::Peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoke_cat_pipes_a_plain_flow_when_its_input_ends_first() {
    spoke_cat_pipes_a_flow(false, First::Cat).await;
}
