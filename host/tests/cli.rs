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

/// A non-repeating payload.
fn payload(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn spoke(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(SPOKE);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("SPOKE_PASSWORD")
        .stdin(Stdio::null());
    cmd
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

    let (mut recv, address, stderr) = start_listening(spoke(
        &inbox,
        &["recv", "--listen", "127.0.0.1:0", "--password-file", &pw],
    ));
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
    assert!(recv_log.contains("size and SHA-256 verified"), "{recv_log}");
    assert_eq!(std::fs::read(inbox.join("report.bin")).unwrap(), content);
    assert_eq!(
        std::fs::read_dir(&inbox).unwrap().count(),
        1,
        "only the file itself is left"
    );
}

#[test]
fn a_wrong_password_fails_both_ends_and_stores_nothing() {
    let dir = scratch("wrong_password");
    std::fs::write(dir.join("secret.txt"), b"attack at dawn").unwrap();
    let inbox = dir.join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    let (right, wrong) = (
        write_password(&dir, "right", "right"),
        write_password(&dir, "wrong", "wrong"),
    );

    let (mut recv, address, stderr) = start_listening(spoke(
        &inbox,
        &["recv", "--listen", "127.0.0.1:0", "--password-file", &right],
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
    assert_eq!(
        std::fs::read_dir(&inbox).unwrap().count(),
        0,
        "nothing stored"
    );
}

#[test]
fn an_interrupted_transfer_leaves_no_file() {
    let dir = scratch("interrupted");
    let inbox = dir.join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    // Larger than the sockets and the receiver can take in before the kill.
    std::fs::write(dir.join("big.bin"), payload(256 << 20, 3)).unwrap();
    let pw = write_password(&dir, "pw", "pw");

    let (mut recv, address, stderr) = start_listening(spoke(
        &inbox,
        &["recv", "--listen", "127.0.0.1:0", "--password-file", &pw],
    ));
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
    while std::fs::read_dir(&inbox).unwrap().count() == 0 && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    send.kill().unwrap();
    send.wait().unwrap();
    let recv_status = recv.wait().unwrap();
    let recv_log = rest(stderr);

    assert!(!recv_status.success(), "{recv_log}");
    assert!(recv_log.contains("nothing was stored"), "{recv_log}");
    assert_eq!(
        std::fs::read_dir(&inbox).unwrap().count(),
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
