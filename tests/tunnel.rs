//! `spoke tunnel` through the library: an entrance and an exit on loopback,
//! real clients in front and a real TCP service behind. Each tunnelled
//! connection is its own pair of instances, so a refused password or a
//! vanished target ends that connection and no other.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::{echo, echo_server, pattern, read_until, serve, spoke, within};
use spoke_host::SpokeConfig;
use spoke_host::tunnel::{self, Failure, Report, Side, TunnelConfig, TunnelHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const PASSWORD: &[u8] = b"correct horse battery staple";

/// Both ends of a tunnel to `target`, with the reports of each end.
struct Tunnel {
    entrance: TunnelHandle,
    exit: TunnelHandle,
    entrance_reports: mpsc::UnboundedReceiver<Report>,
    exit_reports: mpsc::UnboundedReceiver<Report>,
}

/// A tunnel end's configuration: a cheap handshake, reports to a channel.
fn config(
    next_hop: SocketAddr,
    password: &[u8],
) -> (TunnelConfig, mpsc::UnboundedReceiver<Report>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let cfg = TunnelConfig::new([next_hop], password)
        .identities("tunnel-client", "tunnel-server")
        .handshake(SpokeConfig {
            iterations: 2,
            ..SpokeConfig::default()
        })
        .on_report(move |r| {
            let _ = tx.send(r.clone());
        });
    (cfg, rx)
}

async fn start(
    side: Side,
    next_hop: SocketAddr,
    password: &[u8],
) -> (TunnelHandle, mpsc::UnboundedReceiver<Report>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (cfg, reports) = config(next_hop, password);
    (
        tunnel::spawn(side, spoke(), listener, cfg).unwrap(),
        reports,
    )
}

async fn tunnel_to(target: SocketAddr) -> Tunnel {
    let (exit, exit_reports) = start(Side::Exit, target, PASSWORD).await;
    let (entrance, entrance_reports) = start(Side::Entrance, exit.local_addr(), PASSWORD).await;
    Tunnel {
        entrance,
        exit,
        entrance_reports,
        exit_reports,
    }
}

async fn next_report(reports: &mut mpsc::UnboundedReceiver<Report>) -> Report {
    within("a connection report", reports.recv())
        .await
        .expect("the tunnel end is running")
}

/// A tiny HTTP/1.0 server: reads the request head, answers with a body
/// naming the path, and closes.
async fn http_server() -> SocketAddr {
    serve(|mut sock| async move {
        let Some(head) = read_until(&mut sock, b"\r\n\r\n").await else {
            return;
        };
        let head = String::from_utf8_lossy(&head).into_owned();
        let path = head.split(' ').nth(1).unwrap_or("?").to_owned();
        let body = format!("you asked for {path}\n");
        let response = format!(
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(response.as_bytes()).await;
        let _ = sock.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_request_gets_its_response_through_the_tunnel() {
    let mut t = tunnel_to(http_server().await).await;
    let mut client = TcpStream::connect(t.entrance.local_addr()).await.unwrap();
    client
        .write_all(b"GET /hello/tunnel HTTP/1.0\r\nHost: example\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    within("the response", client.read_to_string(&mut response))
        .await
        .unwrap();
    assert_eq!(
        response,
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 28\r\n\r\nyou asked for /hello/tunnel\n"
    );
    drop(client);
    let (entrance, exit) = (
        next_report(&mut t.entrance_reports).await,
        next_report(&mut t.exit_reports).await,
    );
    assert_eq!((entrance.connection, exit.connection), (1, 1));
    assert_eq!(entrance.failure, None, "{entrance}");
    assert_eq!(exit.failure, None, "{exit}");
    assert_eq!(entrance.backward_bytes, response.len() as u64);
    assert_eq!(exit.backward_bytes, response.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_upload_arrives_intact() {
    const SIZE: usize = 64 << 20;
    // The target reads everything, answers with what it counted, and hands
    // the bytes to the test.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let (got_tx, got_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut all = Vec::with_capacity(SIZE);
        sock.read_to_end(&mut all).await.unwrap();
        let received = Instant::now();
        sock.write_all(format!("{}", all.len()).as_bytes())
            .await
            .unwrap();
        sock.shutdown().await.unwrap();
        let _ = got_tx.send((all, received));
    });
    let mut t = tunnel_to(target).await;
    let data = pattern(SIZE);
    let mut client = TcpStream::connect(t.entrance.local_addr()).await.unwrap();
    let started = Instant::now();
    within("the upload", client.write_all(&data)).await.unwrap();
    client.shutdown().await.unwrap();
    let mut answer = String::new();
    within("the answer", client.read_to_string(&mut answer))
        .await
        .unwrap();
    assert_eq!(answer, SIZE.to_string());
    let (got, received) = got_rx.await.unwrap();
    let secs = received.duration_since(started).as_secs_f64();
    eprintln!(
        "64 MiB through the tunnel in {secs:.3} s: {:.1} MB/s",
        SIZE as f64 / secs / 1e6
    );
    assert!(got == data, "the target received exactly what was sent");
    let report = next_report(&mut t.entrance_reports).await;
    assert_eq!(report.failure, None, "{report}");
    assert_eq!(report.forward_bytes, SIZE as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_connections_each_get_their_own_bytes_back() {
    const CONNECTIONS: usize = 50;
    const SIZE: usize = 200_000;
    let mut t = tunnel_to(echo_server().await).await;
    let entrance = t.entrance.local_addr();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            tokio::spawn(async move {
                let data: Vec<u8> = pattern(SIZE).into_iter().map(|b| b ^ i as u8).collect();
                let sock = TcpStream::connect(entrance).await.unwrap();
                let (mut r, mut w) = sock.into_split();
                let sent = data.clone();
                let writer = tokio::spawn(async move {
                    w.write_all(&sent).await.unwrap();
                    w.shutdown().await.unwrap();
                });
                let mut back = Vec::new();
                r.read_to_end(&mut back).await.unwrap();
                writer.await.unwrap();
                back == data
            })
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        assert!(
            within("a client", client).await.unwrap(),
            "connection {i} got its own bytes back"
        );
    }
    let mut numbers = Vec::new();
    for _ in 0..CONNECTIONS {
        let report = next_report(&mut t.exit_reports).await;
        assert_eq!(report.failure, None, "{report}");
        assert_eq!(
            (report.forward_bytes, report.backward_bytes),
            (SIZE as u64, SIZE as u64)
        );
        numbers.push(report.connection);
    }
    numbers.sort();
    assert_eq!(numbers, (1..=CONNECTIONS as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_the_tunnel_keeps_serving() {
    // The target counts the connections that reach it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let reached = Arc::new(AtomicUsize::new(0));
    let count = reached.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (mut r, mut w) = sock.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    let mut t = tunnel_to(target).await;
    let (intruder, mut intruder_reports) =
        start(Side::Entrance, t.exit.local_addr(), b"not the password").await;

    let mut refused = TcpStream::connect(intruder.local_addr()).await.unwrap();
    refused.write_all(b"let me in").await.unwrap();
    let mut got = Vec::new();
    // The entrance closes the client's connection: an end, or a reset if
    // the entrance dropped it with "let me in" unread.
    let ended = within("the refusal", refused.read_to_end(&mut got)).await;
    assert!(
        got.is_empty(),
        "nothing comes back through a refused tunnel: {ended:?}"
    );
    let entrance_side = next_report(&mut intruder_reports).await;
    assert!(
        matches!(entrance_side.failure, Some(Failure::Handshake(_))),
        "{entrance_side}"
    );
    let exit_side = next_report(&mut t.exit_reports).await;
    assert!(
        matches!(exit_side.failure, Some(Failure::Handshake(_))),
        "{exit_side}"
    );
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "a refused connection never reaches the target"
    );

    // The exit still serves the right password.
    let mut client = TcpStream::connect(t.entrance.local_addr()).await.unwrap();
    client.write_all(b"still here").await.unwrap();
    client.shutdown().await.unwrap();
    let mut back = Vec::new();
    within("the echo", client.read_to_end(&mut back))
        .await
        .unwrap();
    assert_eq!(back, b"still here");
    assert_eq!(reached.load(Ordering::SeqCst), 1);
}

/// A target whose behaviour the client picks with its first line:
/// `echo` echoes the rest; `cut N` sends N bytes of a response that should
/// have been longer, then closes cleanly; `reset` reads a little and aborts.
async fn scripted_target() -> SocketAddr {
    serve(|mut sock| async move {
        let Some(line) = read_until(&mut sock, b"\n").await else {
            return;
        };
        let line = String::from_utf8_lossy(&line).trim().to_owned();
        match line.split_once(' ').unwrap_or((&line, "")) {
            ("echo", _) => echo(sock).await,
            ("cut", n) => {
                let n: usize = n.parse().unwrap();
                let _ = sock.write_all(&pattern(n)).await;
                let _ = sock.shutdown().await;
                drop(sock);
            }
            _ => {
                let mut some = vec![0; 4096];
                let _ = sock.read(&mut some).await;
                let _ = sock.set_zero_linger();
                drop(sock);
            }
        }
    })
    .await
}

/// Starts an echo connection through the tunnel and checks one exchange.
async fn echo_connection(entrance: SocketAddr) -> TcpStream {
    let mut sock = TcpStream::connect(entrance).await.unwrap();
    sock.write_all(b"echo\nping").await.unwrap();
    assert_eq!(common::read_exact(&mut sock, 4).await, b"ping");
    sock
}

/// Finishes an echo connection: more data, a half-close, everything back.
async fn finish_echo(mut sock: TcpStream) {
    let more = pattern(300_000);
    let (mut r, mut w) = sock.split();
    let (written, back) = tokio::join!(
        async {
            w.write_all(&more).await.unwrap();
            w.shutdown().await.unwrap();
        },
        async {
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            back
        }
    );
    let () = written;
    assert!(back == more, "the other connection carried on unharmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_going_away_mid_response_ends_that_client_after_what_was_sent() {
    let t = tunnel_to(scripted_target().await).await;
    let bystander = echo_connection(t.entrance.local_addr()).await;

    // The target sends the first 100000 bytes of a longer response and
    // closes while the client still has its write side open.
    let mut client = TcpStream::connect(t.entrance.local_addr()).await.unwrap();
    client.write_all(b"cut 100000\n").await.unwrap();
    let mut got = Vec::new();
    let ended = within("the cut response", client.read_to_end(&mut got)).await;
    assert!(ended.is_ok(), "the client sees an end of stream: {ended:?}");
    assert!(
        got == pattern(100_000),
        "the client gets exactly what the target sent ({} bytes)",
        got.len()
    );
    drop(client);

    within("the bystander", finish_echo(bystander)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_resetting_mid_upload_ends_that_client_and_no_other() {
    let t = tunnel_to(scripted_target().await).await;
    let bystander = echo_connection(t.entrance.local_addr()).await;

    let client = TcpStream::connect(t.entrance.local_addr()).await.unwrap();
    let (mut r, mut w) = client.into_split();
    let uploader = tokio::spawn(async move {
        w.write_all(b"reset\n").await.unwrap();
        let chunk = pattern(64 * 1024);
        // Keeps writing until the tunnel gives up on this connection (it
        // drains a client for a moment before closing, as a lingering
        // close does).
        while w.write_all(&chunk).await.is_ok() {}
    });
    let mut got = Vec::new();
    // An end of stream or a reset: either way the connection ends.
    let _ = within("the end of the reset connection", r.read_to_end(&mut got)).await;
    assert!(got.is_empty(), "the target sent nothing");
    drop(r);
    within("the uploader ending with an error", uploader)
        .await
        .unwrap();

    within("the bystander", finish_echo(bystander)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_exit_closes_the_client_and_is_reported() {
    // A port with nothing listening: bind, note the address, close.
    let gone = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (entrance, mut reports) = start(Side::Entrance, gone, PASSWORD).await;
    let mut client = TcpStream::connect(entrance.local_addr()).await.unwrap();
    let mut got = Vec::new();
    let _ = within("the close", client.read_to_end(&mut got)).await;
    assert!(got.is_empty());
    let report = next_report(&mut reports).await;
    assert!(
        matches!(report.failure, Some(Failure::Connect(_))),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .starts_with("entrance connection 1 from 127.0.0.1:"),
        "{report}"
    );
    entrance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_tunnel_end_drops_its_connections_and_its_listener() {
    let t = tunnel_to(echo_server().await).await;
    let entrance = t.entrance.local_addr();
    let mut client = TcpStream::connect(entrance).await.unwrap();
    client.write_all(b"ping").await.unwrap();
    assert_eq!(common::read_exact(&mut client, 4).await, b"ping");
    within("stopping", t.entrance.stop()).await;
    let mut rest = Vec::new();
    // An end of stream or a reset: the connection is gone either way.
    let _ = within("the dropped connection", client.read_to_end(&mut rest)).await;
    assert!(rest.is_empty());
    assert!(
        TcpStream::connect(entrance).await.is_err(),
        "nothing listens on a stopped entrance"
    );
}

/// A relay in front of `to` whose every connection holds the first bytes
/// it is sent for `delay` before passing them on (what `to` sends passes at
/// once): a slow path, felt once per handshake by the side that answers.
async fn slow_first_answer(to: SocketAddr, delay: std::time::Duration) -> SocketAddr {
    serve(move |inbound| async move {
        let Ok(outbound) = TcpStream::connect(to).await else {
            return;
        };
        let (mut in_read, mut in_write) = inbound.into_split();
        let (mut out_read, mut out_write) = outbound.into_split();
        let back = async {
            let _ = tokio::io::copy(&mut out_read, &mut in_write).await;
            let _ = in_write.shutdown().await;
        };
        let forth = async {
            let mut first = vec![0; 4096];
            let Ok(n) = in_read.read(&mut first).await else {
                return;
            };
            tokio::time::sleep(delay).await;
            if out_write.write_all(&first[..n]).await.is_ok() {
                let _ = tokio::io::copy(&mut in_read, &mut out_write).await;
            }
            let _ = out_write.shutdown().await;
        };
        tokio::join!(back, forth);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_queued_for_the_entrances_handshake_slot_do_not_run_down_the_exits_deadline() {
    // The entrance runs one handshake at a time, each takes 400 ms on the
    // way to the exit, and the exit gives a handshake 1 s. The fourth
    // connection waits 1.2 s for the entrance's slot: it reaches the exit
    // only then, so its handshake is served.
    const CONNECTIONS: usize = 4;
    let target = echo_server().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (cfg, mut exit_reports) = config(target, PASSWORD);
    let exit = tunnel::spawn(
        Side::Exit,
        spoke(),
        listener,
        cfg.handshake_timeout(std::time::Duration::from_secs(1)),
    )
    .unwrap();
    let slow = slow_first_answer(exit.local_addr(), std::time::Duration::from_millis(400)).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (cfg, _entrance_reports) = config(slow, PASSWORD);
    let entrance = tunnel::spawn(Side::Entrance, spoke(), listener, cfg.max_handshakes(1)).unwrap();
    let at = entrance.local_addr();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            tokio::spawn(async move {
                let mut sock = TcpStream::connect(at).await.unwrap();
                let hello = format!("hello {i}");
                sock.write_all(hello.as_bytes()).await.unwrap();
                sock.shutdown().await.unwrap();
                let mut back = Vec::new();
                sock.read_to_end(&mut back).await.unwrap();
                back == hello.as_bytes()
            })
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        assert!(
            within("a client", client).await.unwrap(),
            "connection {i} got its echo"
        );
    }
    for _ in 0..CONNECTIONS {
        let report = next_report(&mut exit_reports).await;
        assert_eq!(report.failure, None, "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resetting_mid_upload_is_a_cut_at_both_ends_never_a_clean_end() {
    let mut t = tunnel_to(scripted_target().await).await;
    let mut client = TcpStream::connect(t.entrance.local_addr()).await.unwrap();
    client.write_all(b"echo\nhalf of it").await.unwrap();
    assert_eq!(common::read_exact(&mut client, 10).await, b"half of it");
    // The client aborts: a reset, not an end of stream.
    client.set_zero_linger().unwrap();
    drop(client);
    let entrance = next_report(&mut t.entrance_reports).await;
    assert_eq!(
        forward_read_error(&entrance),
        Some(&spoke_host::FlowError::ConnectionReset),
        "the entrance saw its client's reset: {entrance}"
    );
    // The exit is told the stream was cut: no close marker came.
    let exit = next_report(&mut t.exit_reports).await;
    assert_eq!(
        forward_read_error(&exit),
        Some(&spoke_host::FlowError::Truncated),
        "the exit took the cut stream for a complete one: {exit}"
    );
}

/// The error that stopped a connection's forward direction reading.
fn forward_read_error(report: &Report) -> Option<&spoke_host::FlowError> {
    match &report.failure {
        Some(Failure::Transfer {
            forward: Some(spoke_host::CopyError::Read(e)),
            ..
        }) => Some(e),
        _ => None,
    }
}
