//! Spoke's servers under attack, as a user runs them: the real `spoke`
//! binary on loopback, attacked by a client that speaks the real protocol
//! (the core's handshake machine) as far as each attack needs and then
//! misbehaves. Attackers connect from 127.0.0.2, the honest clients from
//! 127.0.0.1, as two hosts would. Every server must close each bad
//! connection within its handshake deadline (never hang on it), report it
//! in one line, and then serve the honest client that comes next.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use spoke_protocol::{ClientHandshake, Config, Identities, Step};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const SPOKE: &str = env!("CARGO_BIN_EXE_spoke");
const PASSWORD: &str = "correct horse battery staple";

/// How an attacking client misbehaves.
#[derive(Clone, Copy, Debug)]
enum Attack {
    /// Connects and sends nothing.
    Silent,
    /// Sends 300 random bytes and ends its side.
    Garbage,
    /// Resets the connection right after connecting.
    ResetAtConnect,
    /// Reads the server's first message, then resets.
    ResetAfterServersFirstMessage,
    /// Sends a real key share, reads the server's answer (one password
    /// guess), then resets.
    ResetAfterKeyShare,
    /// Sends half its key share and ends its side.
    Truncated,
    /// Sends its key share one byte every 300 ms.
    Slowloris,
    /// Runs the whole handshake with a wrong password.
    WrongPassword,
}

const EVERY_ATTACK: [Attack; 8] = [
    Attack::Silent,
    Attack::Garbage,
    Attack::ResetAtConnect,
    Attack::ResetAfterServersFirstMessage,
    Attack::ResetAfterKeyShare,
    Attack::Truncated,
    Attack::Slowloris,
    Attack::WrongPassword,
];

/// A client handshake machine for `password` with the default identities.
fn machine(password: &str) -> ClientHandshake {
    let ids = Identities {
        client: b"spoke-client".to_vec(),
        server: b"spoke-server".to_vec(),
    };
    ClientHandshake::new(&Config::default(), ids, password.as_bytes()).unwrap()
}

/// Feeds `m` from `s` until it has something to send; returns it (`None`
/// when the handshake ended instead).
async fn next_message(m: &mut ClientHandshake, s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4096];
    loop {
        match m.step() {
            Step::Send(bytes) => return Some(bytes),
            Step::NeedInput => match s.read(&mut buf).await {
                Ok(0) | Err(_) => m.feed_eof(),
                Ok(n) => m.feed(&buf[..n]),
            },
            Step::Done(_) | Step::Failed(_) => return None,
        }
    }
}

/// Resets `s` (an RST, not a FIN).
fn reset(s: TcpStream) {
    #[allow(deprecated)] // the zero linger is the point: an abortive close
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
}

/// Waits until the server ends the connection; `false` if it is still
/// open after `limit`.
async fn closed_within(mut s: TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let wait = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, wait).await.is_ok()
}

/// Runs `attack` against `server` from 127.0.0.2. Returns whether the
/// server closed the connection by `limit` (attacks that end the
/// connection themselves count as closed).
async fn attack(server: SocketAddr, attack: Attack, limit: Duration) -> bool {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut s = socket.connect(server).await.unwrap();
    let mut m = machine(PASSWORD);
    match attack {
        Attack::Silent => closed_within(s, limit).await,
        Attack::Garbage => {
            let junk: Vec<u8> = (0..300u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect();
            let _ = s.write_all(&junk).await;
            let _ = s.shutdown().await;
            closed_within(s, limit).await
        }
        Attack::ResetAtConnect => {
            reset(s);
            true
        }
        Attack::ResetAfterServersFirstMessage => {
            assert!(next_message(&mut m, &mut s).await.is_some());
            reset(s);
            true
        }
        Attack::ResetAfterKeyShare => {
            let share = next_message(&mut m, &mut s).await.unwrap();
            s.write_all(&share).await.unwrap();
            assert!(next_message(&mut m, &mut s).await.is_some());
            reset(s);
            true
        }
        Attack::Truncated => {
            let share = next_message(&mut m, &mut s).await.unwrap();
            let _ = s.write_all(&share[..share.len() / 2]).await;
            let _ = s.shutdown().await;
            closed_within(s, limit).await
        }
        Attack::Slowloris => {
            let share = next_message(&mut m, &mut s).await.unwrap();
            let (mut read, mut write) = s.into_split();
            let drip = async {
                for byte in share {
                    if write.write_all(&[byte]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                std::future::pending::<()>().await
            };
            let closed = async {
                let mut buf = [0u8; 256];
                while let Ok(n) = read.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            };
            tokio::time::timeout(limit, async {
                tokio::select! {
                    _ = drip => {}
                    _ = closed => {}
                }
            })
            .await
            .is_ok()
        }
        Attack::WrongPassword => {
            let mut m = machine("wrong password");
            while let Some(message) = next_message(&mut m, &mut s).await {
                if s.write_all(&message).await.is_err() {
                    break;
                }
            }
            closed_within(s, limit).await
        }
    }
}

/// A runtime for the attacking client.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `spoke` with `args` and the password in its environment.
fn spoke(args: &[&str]) -> Command {
    let mut cmd = Command::new(SPOKE);
    cmd.args(args)
        .env("SPOKE_PASSWORD", PASSWORD)
        .stdin(Stdio::null());
    cmd
}

/// Starts a server and returns it with the address from its first line
/// ("... listening on ADDR..."), its stderr kept for the rest.
fn start(mut cmd: Command) -> (Child, SocketAddr, BufReader<ChildStderr>) {
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let address = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split([' ', ',', '\n']).next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, address.parse().unwrap(), stderr)
}

/// Waits for `child` for up to `limit`; kills it and returns `None` past it.
fn wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The rest of a child's stderr.
fn rest(mut r: impl std::io::Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}

/// `spoke connect --secure` to `server` with `input`; its exit status,
/// stdout and stderr, within a minute.
fn honest_client(server: SocketAddr, input: &[u8], password: &str) -> (bool, Vec<u8>, String) {
    let mut child = spoke(&["connect", "--secure", &server.to_string()])
        .env("SPOKE_PASSWORD", password)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn listen_survives_every_kind_of_bad_handshake_then_serves_the_real_client() {
    listen_survives_every_kind_of_bad_handshake(&[]);
}

#[test]
fn listen_through_the_wasi_0_3_component_survives_the_same() {
    listen_survives_every_kind_of_bad_handshake(&["--wasi", "0.3"]);
}

/// `spoke listen --secure --echo` with `extra` options, attacked in every
/// way in turn, then asked by the real client.
fn listen_survives_every_kind_of_bad_handshake(extra: &[&str]) {
    let mut args = vec![
        "listen",
        "127.0.0.1:0",
        "--secure",
        "--echo",
        "--handshake-timeout",
        "1s",
        "--failure-delay",
        "0",
        "--max-failures",
        "100",
    ];
    args.extend_from_slice(extra);
    let (mut server, address, stderr) = start(spoke(&args));
    let rt = runtime();
    for kind in EVERY_ATTACK {
        assert!(
            rt.block_on(attack(address, kind, Duration::from_secs(5))),
            "{kind:?}: the server kept the connection open past its deadline"
        );
    }
    let (ok, echoed, client_err) = honest_client(address, b"still here\n", PASSWORD);
    assert!(ok, "the real client failed: {client_err}");
    assert_eq!(echoed, b"still here\n");
    let status = wait(&mut server, Duration::from_secs(30)).expect("the server did not end");
    let log = rest(stderr);
    assert!(status.success(), "the server failed: {log}");
    let lines = log.lines().filter(|l| l.contains("127.0.0.2")).count();
    assert_eq!(lines, EVERY_ATTACK.len(), "one line per bad peer:\n{log}");
    assert!(log.contains("handshake timed out after 1.0 s"), "{log}");
}

#[test]
fn recv_survives_garbage_and_a_slowloris_then_stores_the_real_file() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("attacks-recv");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("inbox")).unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("report.bin"), &data).unwrap();
    let mut cmd = spoke(&[
        "recv",
        "--listen",
        "127.0.0.1:0",
        "--handshake-timeout",
        "1s",
        "--failure-delay",
        "0",
    ]);
    cmd.current_dir(dir.join("inbox"));
    let (mut recv, address, stderr) = start(cmd);
    let rt = runtime();
    for kind in [
        Attack::Garbage,
        Attack::Slowloris,
        Attack::ResetAfterKeyShare,
    ] {
        assert!(
            rt.block_on(attack(address, kind, Duration::from_secs(5))),
            "{kind:?}"
        );
    }
    let sent = spoke(&["send", "report.bin", "--to", &address.to_string()])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let status = wait(&mut recv, Duration::from_secs(30)).expect("recv did not end");
    assert!(status.success(), "{}", rest(stderr));
    assert_eq!(std::fs::read(dir.join("inbox/report.bin")).unwrap(), data);
}

#[test]
fn listen_stops_with_a_clear_error_after_its_limit_of_failed_handshakes() {
    let (mut server, address, stderr) = start(spoke(&[
        "listen",
        "127.0.0.1:0",
        "--secure",
        "--echo",
        "--max-failures",
        "3",
        "--failure-delay",
        "0",
    ]));
    for _ in 0..3 {
        let (ok, _, _) = honest_client(address, b"guess\n", "a wrong guess");
        assert!(!ok, "a wrong password must fail");
    }
    let status = wait(&mut server, Duration::from_secs(20)).expect("the server did not stop");
    let log = rest(stderr);
    assert!(!status.success());
    let last = log.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        "spoke: stopping: the limit of 3 failed handshakes is reached: no more password guesses \
         are taken",
        "{log}"
    );
}

#[test]
fn an_address_that_just_failed_is_turned_away_while_its_wait_outlasts_the_deadline() {
    let (mut server, address, stderr) = start(spoke(&[
        "listen",
        "127.0.0.1:0",
        "--secure",
        "--echo",
        "--failure-delay",
        "60s",
    ]));
    let (ok, _, _) = honest_client(address, b"x\n", "a wrong guess");
    assert!(!ok);
    // The right password, but from the address that just failed: turned
    // away at once, without a handshake.
    let started = Instant::now();
    let (ok, _, client_err) = honest_client(address, b"x\n", PASSWORD);
    assert!(!ok);
    assert!(client_err.contains("refuses this address"), "{client_err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let _ = server.kill();
    let _ = server.wait();
    let log = rest(stderr);
    assert!(
        log.contains("refused: its address failed handshakes recently and may retry in 60 s"),
        "{log}"
    );
}

/// A plain echo service on loopback for the tunnel to carry.
fn echo_service() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = stream.try_clone().unwrap();
                let mut writer = stream;
                let _ = std::io::copy(&mut reader, &mut writer);
                let _ = writer.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    address
}

#[test]
fn a_tunnel_exit_drops_silent_and_bad_peers_at_its_deadline_and_keeps_serving() {
    let target = echo_service();
    let (mut exit, exit_address, _exit_err) = start(spoke(&[
        "tunnel",
        "--serve",
        "127.0.0.1:0",
        "--target",
        &target.to_string(),
        "--handshake-timeout",
        "1s",
        "--failure-delay",
        "0",
        "--idle-timeout",
        "2s",
    ]));
    let (mut entrance, entrance_address, _entrance_err) = start(spoke(&[
        "tunnel",
        "--listen",
        "127.0.0.1:0",
        "--to",
        &exit_address.to_string(),
    ]));
    let rt = runtime();
    rt.block_on(async {
        // Twenty silent peers and one of each other kind, all at once.
        let mut bad = tokio::task::JoinSet::new();
        for _ in 0..20 {
            bad.spawn(attack(exit_address, Attack::Silent, Duration::from_secs(5)));
        }
        for kind in EVERY_ATTACK {
            bad.spawn(attack(exit_address, kind, Duration::from_secs(5)));
        }
        // Meanwhile a real connection through the tunnel is echoed.
        let mut client = TcpStream::connect(entrance_address).await.unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let (mut read, mut write) = client.split();
        let send = async {
            write.write_all(&data).await.unwrap();
            write.shutdown().await.unwrap();
        };
        let mut echoed = Vec::new();
        let receive = read.read_to_end(&mut echoed);
        let (_, received) = tokio::join!(send, receive);
        received.unwrap();
        assert!(echoed == data, "the tunnelled echo differs");
        while let Some(closed) = bad.join_next().await {
            assert!(
                closed.unwrap(),
                "the exit kept a bad peer past its deadline"
            );
        }
        // A tunnelled connection that goes quiet is dropped after the
        // idle timeout.
        let idle = TcpStream::connect(entrance_address).await.unwrap();
        assert!(
            closed_within(idle, Duration::from_secs(10)).await,
            "an idle connection outlived --idle-timeout"
        );
    });
    for child in [&mut exit, &mut entrance] {
        assert!(child.try_wait().unwrap().is_none(), "a tunnel end died");
        let _ = child.kill();
        let _ = child.wait();
    }
}
