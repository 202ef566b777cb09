//! The `spoke` command as a user runs it: real processes, real loopback
//! sockets, the password from a file or the environment.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const SPOKE: &str = env!("CARGO_BIN_EXE_spoke");

/// A fresh directory under the target directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[path = "support/payload.rs"]
mod payload_bytes;
use payload_bytes::payload;

/// `spoke` with `args`, run in `dir` with no password in its environment
/// and nothing on its standard input.
fn spoke(dir: &Path, args: &[&str]) -> Command {
    in_dir(Command::new(SPOKE), dir, args)
}

/// `cmd` followed by `args`, run in `dir` with no password in its
/// environment and nothing on its standard input.
fn in_dir(mut cmd: Command, dir: &Path, args: &[&str]) -> Command {
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SPOKE_PASSWORD")
        .stdin(Stdio::null());
    cmd
}

/// `spoke recv` into `inbox` with the password in the file `password`,
/// started as [`start_listening`] does.
fn start_recv(
    inbox: &Path,
    password: &str,
) -> (Child, String, BufReader<std::process::ChildStderr>) {
    start_listening(spoke(
        inbox,
        &[
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--password-file",
            password,
        ],
    ))
}

/// How many entries `dir` holds.
fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

/// Starts a listening subcommand on port 0 and returns it with the address
/// it reports, its stderr reader kept for the rest of its output.
fn start_listening(mut cmd: Command) -> (Child, String, BufReader<std::process::ChildStderr>) {
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let address = line
        .trim()
        .strip_prefix("spoke: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, address, stderr)
}

fn rest(mut r: impl Read) -> String {
    let mut s = String::new();
    r.read_to_string(&mut s).unwrap();
    s
}

fn write_password(dir: &Path, name: &str, pw: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{pw}\n")).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_file_sent_arrives_intact_under_the_senders_name() {
    let dir = scratch("send_recv");
    let (outbox, inbox) = (dir.join("out"), dir.join("in"));
    std::fs::create_dir_all(&outbox).unwrap();
    std::fs::create_dir_all(&inbox).unwrap();
    let content = payload(3 << 20, 7);
    std::fs::write(outbox.join("report.bin"), &content).unwrap();
    let pw = write_password(&dir, "pw", "correct horse");

    let (mut recv, address, stderr) = start_recv(&inbox, &pw);
    let sent = spoke(&outbox, &["send", "report.bin", "--to", &address])
        .env("SPOKE_PASSWORD", "correct horse")
        .output()
        .unwrap();
    let recv_status = recv.wait().unwrap();
    let recv_log = rest(stderr);

    assert!(
        sent.status.success(),
        "send failed: {}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(recv_status.success(), "recv failed: {recv_log}");
    assert!(String::from_utf8_lossy(&sent.stderr).contains("the receiver verified it"));
    assert!(
        recv_log.contains("size and BLAKE3 digest verified"),
        "{recv_log}"
    );
    assert_eq!(std::fs::read(inbox.join("report.bin")).unwrap(), content);
    assert_eq!(entries(&inbox), 1, "only the file itself is left");
}

#[test]
fn a_wrong_password_fails_the_sender_and_stores_nothing() {
    let dir = scratch("wrong_password");
    std::fs::write(dir.join("secret.txt"), b"attack at dawn").unwrap();
    let inbox = dir.join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    let (right, wrong) = (
        write_password(&dir, "right", "right"),
        write_password(&dir, "wrong", "wrong"),
    );

    // The receiver outlives a failed handshake until its --max-failures.
    let (mut recv, address, stderr) = start_listening(spoke(
        &inbox,
        &[
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--password-file",
            &right,
            "--max-failures",
            "1",
        ],
    ));
    let sent = spoke(
        &dir,
        &[
            "send",
            "secret.txt",
            "--to",
            &address,
            "--password-file",
            &wrong,
        ],
    )
    .output()
    .unwrap();
    let recv_status = recv.wait().unwrap();
    let recv_log = rest(stderr);

    assert!(!sent.status.success());
    assert!(!recv_status.success());
    let send_log = String::from_utf8_lossy(&sent.stderr);
    assert!(send_log.contains("different passwords"), "{send_log}");
    assert_eq!(send_log.trim().lines().count(), 1, "one line: {send_log}");
    assert!(recv_log.contains("handshake failed"), "{recv_log}");
    assert!(
        recv_log.contains("stopping: the limit of 1 failed handshake is reached"),
        "{recv_log}"
    );
    assert_eq!(entries(&inbox), 0, "nothing stored");
}

#[test]
fn an_interrupted_transfer_leaves_no_file() {
    let dir = scratch("interrupted");
    let inbox = dir.join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    // Larger than the sockets and the receiver can take in before the kill.
    std::fs::write(dir.join("big.bin"), payload(256 << 20, 3)).unwrap();
    let pw = write_password(&dir, "pw", "pw");

    let (mut recv, address, stderr) = start_recv(&inbox, &pw);
    let mut send = spoke(
        &dir,
        &["send", "big.bin", "--to", &address, "--password-file", &pw],
    )
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Kill the sender once the transfer has started: when the receiver has
    // created its hidden partial file.
    let started = std::time::Instant::now();
    while entries(&inbox) == 0 && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    send.kill().unwrap();
    send.wait().unwrap();
    let recv_status = recv.wait().unwrap();
    let recv_log = rest(stderr);

    assert!(!recv_status.success(), "{recv_log}");
    assert!(recv_log.contains("nothing was stored"), "{recv_log}");
    assert_eq!(
        entries(&inbox),
        0,
        "neither the file nor its partial copy remains"
    );
}

#[test]
fn secure_netcat_carries_both_directions_and_half_closes() {
    let dir = scratch("netcat");
    let pw = write_password(&dir, "pw", "netcat");
    // 50 MB each way, both ends writing at once: far more than the sockets
    // buffer, so each end must take in the other's bytes while its own
    // write waits, or both wait forever.
    let from_listener = payload(50_000_000, 11);
    let from_connector = payload(50_000_000, 13);
    std::fs::write(dir.join("a"), &from_listener).unwrap();

    let mut listen = spoke(
        &dir,
        &["listen", "127.0.0.1:0", "--secure", "--password-file", &pw],
    );
    listen
        .stdin(std::fs::File::open(dir.join("a")).unwrap())
        .stdout(Stdio::piped());
    let (mut listener, address, stderr) = start_listening(listen);
    let mut listener_out = listener.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        listener_out.read_to_end(&mut got).unwrap();
        got
    });

    let mut connect = spoke(
        &dir,
        &["connect", &address, "--secure", "--password-file", &pw],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut input = connect.stdin.take().unwrap();
    let to_send = from_connector.clone();
    let writer = std::thread::spawn(move || {
        input.write_all(&to_send).unwrap();
    });
    let out = connect.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "connect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listener.wait().unwrap().success(),
        "listen: {}",
        rest(stderr)
    );
    assert!(
        out.stdout == from_listener,
        "the connector got the listener's stdin"
    );
    assert!(
        reader.join().unwrap() == from_connector,
        "the listener got the connector's stdin"
    );
}

/// `spoke` pinned to one CPU where `taskset` exists: both ends of an echo
/// then take turns on one core, the schedule under which a netcat that
/// stopped reading while it wrote used to stall about every second run.
fn spoke_on_one_cpu(dir: &Path, args: &[&str]) -> Command {
    let pinned = Command::new("taskset")
        .args(["-c", "0", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !pinned {
        return spoke(dir, args);
    }
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0", SPOKE]);
    in_dir(cmd, dir, args)
}

/// Waits for `child` until `deadline`; kills it and returns `None` past it.
fn wait_until(child: &mut Child, deadline: std::time::Instant) -> Option<std::process::ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Echoes a 100 MB file from `spoke connect` off `spoke listen --echo`,
/// `rounds` times, with `extra` arguments on both ends; every round must
/// end within a minute with the file back byte for byte.
fn echo_100mb_rounds(name: &str, extra: &[&str], rounds: usize) {
    let dir = scratch(name);
    let data = payload(100_000_000, 17);
    std::fs::write(dir.join("in"), &data).unwrap();
    for round in 1..=rounds {
        echo_once(&dir, &data, extra, extra, &format!("round {round}"));
    }
}

/// `spoke connect` (with `connect_extra`) off `spoke listen --echo` (with
/// `listen_extra`), the file `in` of `dir` (which holds `data`) on its
/// standard input: both must end well within a minute, with `data` back
/// byte for byte. `what` names the case in a failure.
fn echo_once(dir: &Path, data: &[u8], listen_extra: &[&str], connect_extra: &[&str], what: &str) {
    let mut listen_args = vec!["listen", "127.0.0.1:0", "--echo"];
    listen_args.extend_from_slice(listen_extra);
    let (mut listener, address, stderr) = start_listening(spoke_on_one_cpu(dir, &listen_args));
    let mut connect_args = vec!["connect", address.as_str()];
    connect_args.extend_from_slice(connect_extra);
    let mut connect = spoke_on_one_cpu(dir, &connect_args)
        .stdin(std::fs::File::open(dir.join("in")).unwrap())
        .stdout(std::fs::File::create(dir.join("out")).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let connected = wait_until(&mut connect, deadline);
    let listened = wait_until(&mut listener, deadline);
    let (Some(connected), Some(listened)) = (connected, listened) else {
        panic!("{what}: the echo stalled (not done within a minute)");
    };
    assert!(
        connected.success(),
        "{what}: connect: {}",
        rest(connect.stderr.take().unwrap())
    );
    assert!(listened.success(), "{what}: listen: {}", rest(stderr));
    assert!(
        std::fs::read(dir.join("out")).unwrap() == data,
        "{what}: the echo differs from what was sent"
    );
}

#[test]
fn connect_and_listen_through_the_wasi_0_3_component_talk_to_the_wasi_0_2_ones() {
    let dir = scratch("echo-wasi-0.3");
    let pw = write_password(&dir, "pw", "both components");
    let data = payload(5_000_000, 3);
    std::fs::write(dir.join("in"), &data).unwrap();
    let plain: &[&str] = &[];
    let secure: &[&str] = &["--secure", "--password-file", &pw];
    let compat: &[&str] = &["--compat", "--password-file", &pw];
    for (mode, args) in [("plain", plain), ("secure", secure), ("compat", compat)] {
        for (server, client) in [("0.3", "0.2"), ("0.2", "0.3"), ("0.3", "0.3")] {
            let listen = [args, &["--wasi", server]].concat();
            let connect = [args, &["--wasi", client]].concat();
            let what = format!("{mode}: a WASI {client} client off a WASI {server} echo");
            echo_once(&dir, &data, &listen, &connect, &what);
        }
    }
}

#[test]
fn a_100mb_echo_between_two_spoke_ends_never_stalls() {
    echo_100mb_rounds("echo-plain", &[], 6);
}

#[test]
fn a_100mb_encrypted_echo_between_two_spoke_ends_never_stalls() {
    let dir = scratch("echo-secure-pw");
    let pw = write_password(&dir, "pw", "echo");
    echo_100mb_rounds("echo-secure", &["--secure", "--password-file", &pw], 6);
}

#[test]
fn simulate_echoes_a_file_and_checks_it() {
    let dir = scratch("simulate");
    std::fs::write(dir.join("f"), payload(2 << 20, 5)).unwrap();
    for extra in [&[][..], &["--compat"][..]] {
        let mut args = vec!["simulate", "f", "127.0.0.1:0", "pw"];
        args.extend_from_slice(extra);
        let out = spoke(&dir, &args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout);
        assert!(line.contains("2097152 bytes echoed and checked"), "{line}");
    }
}

#[test]
fn errors_are_one_line_and_a_failure_status() {
    let dir = scratch("errors");
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = spoke(&dir, &["connect", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("refused"), "{err}");

    let out = spoke(
        &dir,
        &[
            "send",
            "missing-file",
            "--to",
            "127.0.0.1:9",
            "--password-file",
            "/nonexistent",
        ],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("spoke: cannot read the password file")
    );
}

/// The composed `spoke-cat` example written to `dir`, for `spoke run`.
fn spoke_cat_file(dir: &Path) -> PathBuf {
    let path = dir.join("spoke-cat.wasm");
    std::fs::write(&path, spoke_examples::SPOKE_CAT).unwrap();
    path
}

/// A native echo server for one connection, on a std thread.
fn native_echo_once() -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut r = s.try_clone().unwrap();
        std::io::copy(&mut r, &mut s).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
    });
    (addr, t)
}

#[test]
fn run_runs_a_composed_component_with_exactly_the_connect_it_allows() {
    let dir = scratch("run-allowed");
    let cat = spoke_cat_file(&dir);
    let (addr, echo) = native_echo_once();
    let data = payload(2 << 20, 17);
    let mut child = spoke(
        &dir,
        &[
            "run",
            "--allow-connect",
            &addr.to_string(),
            cat.to_str().unwrap(),
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let sent = data.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&sent).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    echo.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(out.stdout.len(), data.len(), "{stderr}");
    assert!(out.stdout == data, "the echo differs from what was sent");
}

#[test]
fn run_denies_what_its_command_line_does_not_allow_and_says_how_to_allow_it() {
    let dir = scratch("run-denied");
    let cat = spoke_cat_file(&dir);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Allowed: another port on the same address, not this one.
    let other = std::net::SocketAddr::new(addr.ip(), addr.port().wrapping_add(1).max(1));
    let out = spoke(
        &dir,
        &[
            "run",
            "--allow-connect",
            &other.to_string(),
            cat.to_str().unwrap(),
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "spoke-cat's exit code: {stderr}"
    );
    assert!(
        stderr.contains(&format!("does not allow connecting to {addr}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("allow it with --allow-connect {addr}")),
        "{stderr}"
    );
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "no connection was made");
}

#[test]
fn run_reports_a_missing_component_file_in_one_line() {
    let dir = scratch("run-missing");
    let out = spoke(&dir, &["run", "no-such.wasm"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.starts_with("spoke: reading no-such.wasm"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

/// The files in a directory: name and content.
type Files = Vec<(String, Vec<u8>)>;

/// What `spoke recv` answers a transfer written by hand and sent with
/// `spoke connect --secure`: its verdict (status byte, then a message), its
/// log, and the files it left in an inbox of its own.
fn hand_written_transfer(name: &str, stream: &[u8]) -> (Vec<u8>, String, Files) {
    let dir = scratch(name);
    let inbox = dir.join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(dir.join("transfer"), stream).unwrap();
    let pw = write_password(&dir, "pw", "by hand");
    let (mut recv, address, stderr) = start_recv(&inbox, &pw);
    let sent = spoke(
        &dir,
        &["connect", &address, "--secure", "--password-file", &pw],
    )
    .stdin(std::fs::File::open(dir.join("transfer")).unwrap())
    .output()
    .unwrap();
    assert!(
        sent.status.success(),
        "connect: {}",
        String::from_utf8_lossy(&sent.stderr)
    );
    recv.wait().unwrap();
    let mut stored: Files = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    stored.sort();
    (sent.stdout, rest(stderr), stored)
}

/// A transfer header: magic, size, name, and in format 1 the digest.
fn transfer_header(magic: &[u8; 8], size: u64, name: &str, digest: Option<[u8; 32]>) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&(name.len() as u16).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(digest.as_ref().map_or(&[][..], |d| &d[..]));
    out
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

fn blake3(data: &[u8]) -> [u8; 32] {
    blake3::hash(data).into()
}

#[test]
fn recv_still_stores_a_format_1_transfer_whose_digest_leads() {
    let content = payload(1 << 20, 21);
    let mut stream = transfer_header(b"SPOKEFT1", 1 << 20, "old.bin", Some(sha256(&content)));
    stream.extend_from_slice(&content);
    let (verdict, log, stored) = hand_written_transfer("format_1", &stream);
    assert_eq!(verdict, [0, 0, 0], "stored: {log}");
    assert!(log.contains("size and SHA-256 digest verified"), "{log}");
    assert!(stored == [("old.bin".to_owned(), content)], "{log}");
}

#[test]
fn recv_stores_a_format_2_transfer_whose_blake3_digest_follows_the_content() {
    let content = payload(1 << 20, 24);
    let mut stream = transfer_header(b"SPOKEFT2", 1 << 20, "new.bin", None);
    stream.extend_from_slice(&content);
    stream.extend_from_slice(&blake3(&content));
    let (verdict, log, stored) = hand_written_transfer("format_2", &stream);
    assert_eq!(verdict, [0, 0, 0], "stored: {log}");
    assert!(log.contains("size and BLAKE3 digest verified"), "{log}");
    assert!(stored == [("new.bin".to_owned(), content)], "{log}");
}

#[test]
fn recv_stores_nothing_when_a_format_2_digest_is_wrong_or_missing() {
    let content = payload(1 << 20, 22);
    let mut wrong = blake3(&content);
    wrong[31] ^= 1;
    let sha = sha256(&content);
    let header = transfer_header(b"SPOKEFT2", 1 << 20, "new.bin", None);
    let cases: [(&str, &[u8], &str); 4] = [
        ("wrong_digest", &wrong, "does not match its BLAKE3 digest"),
        ("sha_256_digest", &sha, "does not match its BLAKE3 digest"),
        (
            "half_a_digest",
            &wrong[..16],
            "ended before its BLAKE3 digest",
        ),
        ("no_digest", &[], "ended before its BLAKE3 digest"),
    ];
    for (name, trailer, why) in cases {
        let mut stream = [&header[..], &content].concat();
        stream.extend_from_slice(trailer);
        let (verdict, log, stored) = hand_written_transfer(name, &stream);
        assert_eq!(verdict.first(), Some(&1), "{name}: rejected");
        assert!(
            String::from_utf8_lossy(&verdict).contains(why),
            "{name}: {log}"
        );
        assert!(log.contains("nothing was stored"), "{name}: {log}");
        assert!(stored.is_empty(), "{name}: {} files left", stored.len());
    }
}

#[test]
fn recv_refuses_bytes_after_the_digest() {
    let content = payload(4096, 23);
    let mut stream = transfer_header(b"SPOKEFT2", 4096, "new.bin", None);
    stream.extend_from_slice(&content);
    stream.extend_from_slice(&blake3(&content));
    stream.push(0);
    let (verdict, log, stored) = hand_written_transfer("after_digest", &stream);
    assert_eq!(verdict.first(), Some(&1), "rejected: {log}");
    assert!(
        log.contains("more than the 4096 bytes it announced"),
        "{log}"
    );
    assert!(stored.is_empty(), "{} files left", stored.len());
}
