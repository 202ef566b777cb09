//! Faults on the wire between two real `spoke` processes: a relay in the
//! middle ([`proxy`]) flips one byte, or cuts the connection with a FIN or
//! a reset, at a chosen place of the handshake or of the records, between
//! `spoke send` and `spoke recv` and between `spoke connect --secure` and
//! `spoke listen --secure`, in protocol version 2 (the default) and
//! version 1 (`--compat`).
//!
//! Whatever the fault, both processes end (none waits forever), a process
//! that fails says why in one line and exits with a failure, and no process
//! reports success for bytes that are not exactly the ones sent: `spoke
//! recv` stores a file only when it is the file sent, and a netcat end that
//! exits with success has written exactly what its peer sent.
//!
//! The one exception is version 1, which has no authenticated end of stream
//! (PROTOCOL.md §6, §8 item 8): a connection cut at a record boundary, or
//! closed by a peer that has just failed, looks to the reader exactly like
//! the writer's end, so a version-1 netcat may end with success having
//! written only a prefix of what was sent. Even then it writes nothing but
//! a prefix, and the reader of a damaged record or of a cut inside a record
//! still fails. A version-1 file transfer is fully protected all the same,
//! by its size and digest.
//!
//! Each test first relays one clean conversation to learn how its records
//! fall, then runs the faults at the handshake messages and at the records
//! it saw. `FAULTS_VERBOSE=1` prints every conversation.

#[path = "faults/ends.rs"]
mod ends;
#[path = "faults/proxy.rs"]
mod proxy;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ends::{Ended, PASSWORD, Running, password_file, payload, scratch, spoke};
use proxy::{At, Cut, Dir, Fault, Outcome, Proxy, Spot};

/// How long one conversation may take, fault and all, before it counts as
/// a hang. A clean one takes well under a second.
const DEADLINE: Duration = Duration::from_secs(30);

/// The content each end sends: a few records' worth.
const SIZE: usize = 300_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    /// The default, with the authenticated close marker.
    V2,
    /// `--compat`: the OCaml reference's format.
    V1,
}

/// What runs on both sides of the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pair {
    /// `spoke send` to `spoke recv`.
    Transfer,
    /// `spoke connect --secure` with `spoke listen --secure`, each sending
    /// its own file and writing what it receives to another.
    Netcat,
    /// `spoke connect --secure` off `spoke listen --secure --echo`.
    Echo,
}

/// One test's directory, files and settings.
struct Setup {
    dir: PathBuf,
    pair: Pair,
    version: Version,
    /// What the client sends.
    from_client: Vec<u8>,
    /// What the server sends (the netcat listener's standard input).
    from_server: Vec<u8>,
}

impl Setup {
    fn new(name: &str, pair: Pair, version: Version) -> Setup {
        let dir = scratch(name);
        let from_client = payload(SIZE, 41);
        let from_server = payload(SIZE, 43);
        std::fs::write(dir.join("client.in"), &from_client).unwrap();
        std::fs::write(dir.join("server.in"), &from_server).unwrap();
        password_file(&dir);
        Setup {
            dir,
            pair,
            version,
            from_client,
            from_server,
        }
    }

    fn inbox(&self) -> PathBuf {
        self.dir.join("inbox")
    }

    /// The options that choose the version (and, for netcat, encryption).
    fn secure(&self) -> &'static [&'static str] {
        match (self.pair, self.version) {
            (Pair::Transfer, Version::V2) => &[],
            (Pair::Transfer, Version::V1) => &["--compat"],
            (_, Version::V2) => &["--secure"],
            (_, Version::V1) => &["--compat"],
        }
    }

    /// The server, listening.
    fn server(&self) -> (Running, std::net::SocketAddr) {
        let pw = password_file(&self.dir);
        let mut args = match self.pair {
            Pair::Transfer => vec!["recv", "--listen", "127.0.0.1:0"],
            Pair::Netcat => vec!["listen", "127.0.0.1:0"],
            Pair::Echo => vec!["listen", "127.0.0.1:0", "--echo"],
        };
        args.extend_from_slice(self.secure());
        // One conversation per server: a handshake the fault broke ends it
        // (a server otherwise waits for the next peer).
        args.extend_from_slice(&["--password-file", &pw, "--max-failures", "1"]);
        let mut cmd = match self.pair {
            Pair::Transfer => spoke(&self.inbox(), &args),
            _ => spoke(&self.dir, &args),
        };
        if self.pair == Pair::Netcat {
            cmd.stdin(std::fs::File::open(self.dir.join("server.in")).unwrap())
                .stdout(std::fs::File::create(self.dir.join("server.out")).unwrap());
        }
        Running::listening(cmd)
    }

    /// The client, connecting to `to`.
    fn client(&self, to: std::net::SocketAddr) -> Running {
        let to = to.to_string();
        let mut args = match self.pair {
            Pair::Transfer => vec!["send", "client.in", "--to", &to],
            _ => vec!["connect", &to],
        };
        args.extend_from_slice(self.secure());
        let mut cmd = spoke(&self.dir, &args);
        cmd.env("SPOKE_PASSWORD", PASSWORD);
        if self.pair != Pair::Transfer {
            cmd.stdin(std::fs::File::open(self.dir.join("client.in")).unwrap())
                .stdout(std::fs::File::create(self.dir.join("client.out")).unwrap());
        }
        Running::start(cmd)
    }

    /// One conversation through a relay with `fault`.
    fn run(&self, fault: Fault) -> Run {
        let _ = std::fs::remove_dir_all(self.inbox());
        std::fs::create_dir_all(self.inbox()).unwrap();
        let deadline = Instant::now() + DEADLINE;
        let (server, addr) = self.server();
        let proxy = Proxy::start(addr, fault, deadline);
        let client = self.client(proxy.addr);
        let client = client.wait(deadline);
        let mut server = server;
        let grace = Instant::now() + Duration::from_secs(2);
        while server.running() && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(10));
        }
        if server.running() {
            // A handshake the fault broke before it could test a password
            // does not count against --max-failures, so the server waits
            // for the next peer: a peer that hangs up at once is one that
            // counts, and the server stops.
            drop(std::net::TcpStream::connect(addr));
        }
        let server = server.wait(deadline);
        let relay = proxy.finish();
        let read = |name: &str| std::fs::read(self.dir.join(name)).unwrap_or_default();
        let (client_out, server_out) = match self.pair {
            Pair::Transfer => (Vec::new(), Vec::new()),
            Pair::Netcat => (read("client.out"), read("server.out")),
            Pair::Echo => (read("client.out"), Vec::new()),
        };
        Run {
            fault,
            client,
            server,
            relay,
            client_out,
            server_out,
            stored: stored(&self.inbox()),
        }
    }

    /// Relays one clean conversation, checks it, and returns the lengths
    /// of the records seen in each direction.
    fn learn(&self) -> [Vec<usize>; 2] {
        let run = self.run(Fault::None);
        let problems = self.check(&run);
        assert!(
            problems.is_empty(),
            "a clean conversation through the relay: {problems:#?}"
        );
        assert!(
            run.client.succeeded() && run.server.succeeded(),
            "a clean conversation succeeds: {run:#?}"
        );
        for dir in Dir::BOTH {
            assert!(
                !run.relay.records[dir.index()].is_empty(),
                "records seen {dir:?}"
            );
        }
        run.relay.records
    }

    /// What went wrong in `run`, by the rules in the module's documentation.
    fn check(&self, run: &Run) -> Vec<String> {
        let mut problems = Vec::new();
        let mut problem = |p: String| problems.push(p);
        for (who, end) in [("client", &run.client), ("server", &run.server)] {
            if end.status.is_none() {
                problem(format!(
                    "{who} hung: still running after {DEADLINE:?}, killed"
                ));
            }
            if end.failed() {
                // A server logs the peer whose handshake failed, then stops
                // (--max-failures 1) with its own one-line error.
                let lines: Vec<&str> = end
                    .stderr
                    .lines()
                    .filter(|l| !(who == "server" && l.starts_with("spoke: 127.0.0.1:")))
                    .collect();
                if lines.len() != 1 || !lines[0].starts_with("spoke: ") {
                    problem(format!(
                        "{who} failed without a one-line error: {:?}",
                        end.stderr
                    ));
                }
            }
        }
        if !run.relay.connected {
            problem("the client never reached the relay".into());
        } else if run.fault != Fault::None && !run.relay.triggered {
            problem("the fault's byte never came by".into());
        }
        let damaged = self.damaged(run);
        let strict = self.strict(run);
        // What each reader must do: the server reads what the client sends,
        // the client what the server sends.
        match self.pair {
            Pair::Transfer => {
                let content = &self.from_client;
                match run.stored.as_slice() {
                    [] => {}
                    [(name, data)] if name == "client.in" && data == content => {}
                    other => problem(format!(
                        "recv left {:?} in its inbox",
                        other.iter().map(|(n, d)| (n, d.len())).collect::<Vec<_>>()
                    )),
                }
                if run.server.succeeded() != (run.stored.len() == 1) {
                    problem(format!(
                        "recv's status ({:?}) and its inbox ({} files) disagree",
                        run.server.status,
                        run.stored.len()
                    ));
                }
                if damaged[0] && !run.server.failed() {
                    problem("recv did not fail, though the file was damaged on its way".into());
                }
                if run.client.succeeded() && !run.server.succeeded() {
                    problem("send succeeded, though recv did not store the file".into());
                }
                if damaged[1] && strict[1] && !run.client.failed() {
                    problem("send did not fail, though the verdict was damaged on its way".into());
                }
            }
            Pair::Netcat | Pair::Echo => {
                let readers = [
                    ("server", &run.server, &run.server_out, &self.from_client),
                    ("client", &run.client, &run.client_out, &self.from_server),
                ];
                for (d, (who, end, out, sent)) in readers.into_iter().enumerate() {
                    let sent = if self.pair == Pair::Echo {
                        if d == 0 {
                            // The echo server writes nowhere.
                            if damaged[0] && strict[0] && !end.failed() {
                                problem(format!(
                                    "{who} did not fail, though its input was damaged"
                                ));
                            }
                            continue;
                        }
                        &self.from_client
                    } else {
                        sent
                    };
                    if !sent.starts_with(out) {
                        problem(format!(
                            "{who} wrote bytes that were not sent ({} bytes written)",
                            out.len()
                        ));
                    }
                    // In version 1 a peer that fails hangs up, which ends
                    // the other direction as cleanly as finishing would.
                    let whole = self.version == Version::V2 || run.fault == Fault::None;
                    if end.succeeded() && whole && out != sent {
                        problem(format!(
                            "{who} succeeded with {} of the {} bytes sent",
                            out.len(),
                            sent.len()
                        ));
                    }
                    // The echo comes back through both directions.
                    let hit = damaged[d] || (self.pair == Pair::Echo && damaged[0]);
                    // A cut can race the last bytes: a reader that still got
                    // every byte (in version 2, the close marker too) and
                    // says so is right.
                    let got_all = out.as_slice() == sent.as_slice() && self.version == Version::V2;
                    if hit && strict[d] && !end.failed() && !got_all {
                        problem(format!("{who} did not fail, though its input was damaged"));
                    }
                }
            }
        }
        problems
    }

    /// Per direction ([`Dir::index`]): whether the fault took bytes from
    /// it or changed one, so that its reader cannot have what was sent.
    fn damaged(&self, run: &Run) -> [bool; 2] {
        let to_server = [true, false];
        match (run.fault, self.version) {
            (Fault::None, _) => [false, false],
            (Fault::Flip { spot, .. }, Version::V2) if spot.in_handshake() => [true, true],
            // Version 1 does not notice the changed cipher id until the
            // records sealed with it fail; version 2 refuses it.
            (Fault::Flip { spot, .. }, Version::V1) if spot == client_cipher_id() => to_server,
            // The client is done with the handshake when the server refuses
            // its last message, and the server's hang-up is a clean end in
            // version 1.
            (Fault::Flip { spot, .. }, Version::V1) if spot == Spot::message(4, spot.at) => {
                to_server
            }
            (Fault::Flip { spot, .. }, _) if spot.in_handshake() => [true, true],
            (Fault::Flip { spot, .. }, _) => {
                let mut d = [false, false];
                d[spot.dir.index()] = true;
                d
            }
            (Fault::Cut { .. }, _) => run.relay.complete_at_cut.map(|complete| !complete),
        }
    }

    /// Per direction: whether its reader can know it was damaged. Always in
    /// version 2; in version 1, unless the loss may have ended at a record
    /// boundary, which version 1 cannot tell from the writer's end.
    fn strict(&self, run: &Run) -> [bool; 2] {
        match (self.version, run.fault) {
            (Version::V2, _) | (_, Fault::None | Fault::Flip { .. }) => [true, true],
            (Version::V1, Fault::Cut { spot, .. }) => {
                let mut s = [false, false];
                s[spot.dir.index()] = spot.in_handshake() || spot.at != At::Start;
                s
            }
        }
    }
}

/// The public packet's byte that holds the client-to-server cipher's id
/// (PROTOCOL.md §4.1).
fn client_cipher_id() -> Spot {
    Spot::message(1, At::Byte(15))
}

/// The files in `dir`: name and content.
fn stored(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read(e.path()).unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// One conversation with a fault, and what became of it.
struct Run {
    fault: Fault,
    client: Ended,
    server: Ended,
    relay: Outcome,
    client_out: Vec<u8>,
    server_out: Vec<u8>,
    stored: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("fault", &self.fault)
            .field("client", &self.client)
            .field("server", &self.server)
            .field("relay", &self.relay)
            .field("client_out", &self.client_out.len())
            .field("server_out", &self.server_out.len())
            .field("stored", &self.stored.len())
            .finish()
    }
}

/// Byte flips: in each handshake message (the version, a salt byte, a
/// cipher id, `X`, `Y`, the client validator, the server validator) and in
/// both header bytes, the first ciphertext byte, the middle and the last tag
/// byte of every record of both directions.
fn flips(records: &[Vec<usize>; 2]) -> Vec<Fault> {
    let flip = |spot, mask| Fault::Flip { spot, mask };
    let mut faults = vec![
        flip(Spot::message(1, At::Byte(1)), 0x01),
        flip(Spot::message(1, At::Byte(20)), 0x01),
        flip(client_cipher_id(), 0x02),
        flip(Spot::message(2, At::Byte(7)), 0x01),
        flip(Spot::message(2, At::FromEnd(1)), 0x80),
        flip(Spot::message(3, At::Byte(3)), 0x01),
        flip(Spot::message(3, At::Byte(40)), 0x01),
        flip(Spot::message(4, At::Start), 0x01),
        flip(Spot::message(4, At::FromEnd(1)), 0x01),
    ];
    for dir in Dir::BOTH {
        for k in 0..records[dir.index()].len() {
            for at in [
                At::Byte(0),
                At::Byte(1),
                At::Byte(2),
                At::Middle,
                At::FromEnd(1),
            ] {
                faults.push(flip(Spot::record(dir, k, at), 0x01));
            }
        }
    }
    faults
}

/// Cuts: at the start, after the first byte, halfway and before the last
/// byte of each handshake message, and at the start, inside the header, in the
/// middle and inside the tag of every record of both directions.
fn cuts(records: &[Vec<usize>; 2], how: Cut) -> Vec<Fault> {
    let mut spots = Vec::new();
    for n in 1..=4 {
        for at in [At::Start, At::Byte(1), At::Middle, At::FromEnd(1)] {
            spots.push(Spot::message(n, at));
        }
    }
    for dir in Dir::BOTH {
        for k in 0..records[dir.index()].len() {
            for at in [At::Start, At::Byte(1), At::Middle, At::FromEnd(1)] {
                spots.push(Spot::record(dir, k, at));
            }
        }
    }
    spots
        .into_iter()
        .map(|spot| Fault::Cut { spot, how })
        .collect()
}

/// Runs `faults` one after the other and fails with every problem found.
fn survive(setup: &Setup, faults: impl Fn(&[Vec<usize>; 2]) -> Vec<Fault>) {
    let records = setup.learn();
    let faults = faults(&records);
    let mut report = Vec::new();
    for fault in &faults {
        let run = setup.run(*fault);
        let problems = setup.check(&run);
        if std::env::var_os("FAULTS_VERBOSE").is_some() {
            eprintln!("{}: {problems:?}\n  {run:?}", describe(fault));
        }
        if !problems.is_empty() {
            report.push(format!("{}: {problems:?}\n  {run:?}", describe(fault)));
        }
    }
    assert!(
        report.is_empty(),
        "{:?} {:?}, records {records:?}: {} of {} faults went wrong:\n{}",
        setup.pair,
        setup.version,
        report.len(),
        faults.len(),
        report.join("\n")
    );
}

fn describe(fault: &Fault) -> String {
    match fault {
        Fault::None => "no fault".into(),
        Fault::Flip { spot, mask } => format!("flip {mask:#04x} at {spot}"),
        Fault::Cut { spot, how } => format!("{how:?} cut before {spot}"),
    }
}

#[test]
fn a_transfer_with_a_flipped_byte_fails_and_stores_nothing() {
    survive(
        &Setup::new("transfer-flip-v2", Pair::Transfer, Version::V2),
        flips,
    );
}

#[test]
fn a_version_1_transfer_with_a_flipped_byte_fails_and_stores_nothing() {
    survive(
        &Setup::new("transfer-flip-v1", Pair::Transfer, Version::V1),
        flips,
    );
}

#[test]
fn a_transfer_cut_by_a_fin_anywhere_fails_and_stores_nothing() {
    survive(
        &Setup::new("transfer-fin-v2", Pair::Transfer, Version::V2),
        |r| cuts(r, Cut::Fin),
    );
}

#[test]
fn a_version_1_transfer_cut_by_a_fin_anywhere_fails_and_stores_nothing() {
    survive(
        &Setup::new("transfer-fin-v1", Pair::Transfer, Version::V1),
        |r| cuts(r, Cut::Fin),
    );
}

#[test]
fn a_transfer_cut_by_a_reset_anywhere_fails_and_stores_nothing() {
    survive(
        &Setup::new("transfer-rst-v2", Pair::Transfer, Version::V2),
        |r| cuts(r, Cut::Rst),
    );
}

#[test]
fn a_version_1_transfer_cut_by_a_reset_anywhere_fails_and_stores_nothing() {
    survive(
        &Setup::new("transfer-rst-v1", Pair::Transfer, Version::V1),
        |r| cuts(r, Cut::Rst),
    );
}

#[test]
fn secure_netcat_with_a_flipped_byte_fails_where_it_lands_and_writes_only_what_was_sent() {
    survive(
        &Setup::new("netcat-flip-v2", Pair::Netcat, Version::V2),
        flips,
    );
}

#[test]
fn version_1_netcat_with_a_flipped_byte_fails_where_it_lands_and_writes_only_what_was_sent() {
    survive(
        &Setup::new("netcat-flip-v1", Pair::Netcat, Version::V1),
        flips,
    );
}

#[test]
fn secure_netcat_cut_by_a_fin_anywhere_fails_on_every_side_it_cut_short() {
    survive(
        &Setup::new("netcat-fin-v2", Pair::Netcat, Version::V2),
        |r| cuts(r, Cut::Fin),
    );
}

#[test]
fn version_1_netcat_cut_by_a_fin_writes_only_a_prefix_and_fails_when_cut_inside_a_record() {
    survive(
        &Setup::new("netcat-fin-v1", Pair::Netcat, Version::V1),
        |r| cuts(r, Cut::Fin),
    );
}

#[test]
fn secure_netcat_cut_by_a_reset_anywhere_fails_on_every_side_it_cut_short() {
    survive(
        &Setup::new("netcat-rst-v2", Pair::Netcat, Version::V2),
        |r| cuts(r, Cut::Rst),
    );
}

#[test]
fn version_1_netcat_cut_by_a_reset_writes_only_a_prefix_and_fails_when_cut_inside_a_record() {
    survive(
        &Setup::new("netcat-rst-v1", Pair::Netcat, Version::V1),
        |r| cuts(r, Cut::Rst),
    );
}

/// Cuts in the middle of the echo: inside a record halfway through each
/// direction, by FIN and by reset.
fn mid_stream(records: &[Vec<usize>; 2]) -> Vec<Fault> {
    let mut faults = Vec::new();
    for dir in Dir::BOTH {
        // The echo's records depend on how its reads fall: take one that
        // every run has.
        let k = records[dir.index()].len().min(4) / 2;
        for how in [Cut::Fin, Cut::Rst] {
            faults.push(Fault::Cut {
                spot: Spot::record(dir, k, At::Middle),
                how,
            });
        }
    }
    faults
}

#[test]
fn an_echo_reset_or_cut_mid_stream_fails_both_ends_in_version_2() {
    survive(&Setup::new("echo-v2", Pair::Echo, Version::V2), mid_stream);
}

#[test]
fn a_version_1_echo_reset_or_cut_mid_stream_fails_where_it_was_cut_and_echoes_only_a_prefix() {
    survive(&Setup::new("echo-v1", Pair::Echo, Version::V1), mid_stream);
}
