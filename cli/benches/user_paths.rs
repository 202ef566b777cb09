//! The paths users run, against what they would pick instead. Not a test:
//! it prints times and ratios measured in one run, on this machine.
//!
//! `cargo bench -p spoke-cli --bench user_paths` runs the real `spoke`
//! binary as a user does, each end its own process, a file on standard
//! input and the output in a file, compared byte for byte afterwards, and
//! in the same rounds, taking turns, the anchors:
//!
//! - plain netcat echo: `socat` against `spoke connect` + `spoke listen --echo`;
//! - encrypted echo: the OCaml `spoke` reference (client and server) against
//!   `spoke connect --secure` + `spoke listen --echo --secure` (version 2,
//!   ChaCha20-Poly1305 both ways), and mixed: Spoke `--compat` as the
//!   server of the OCaml client and as the client of the OCaml server;
//! - tunnel: a `stunnel4` pair (TLS 1.3, pre-shared key) against a `spoke
//!   tunnel` pair, a native echo behind both and `socat` as the client;
//! - the composed `spoke-cat` under the stock `wasmtime run` and under
//!   `spoke run`, and `spoke connect`, all off `spoke listen --echo`;
//! - a file sent with `spoke send` to `spoke recv` against a `socat` copy.
//!
//! `SPOKE_USER_MB` sets the echo size (100 by default), `SPOKE_USER_SEND_MB`
//! the file sent (1000), `SPOKE_USER_ROUNDS` the rounds (3),
//! `SPOKE_USER_ONLY` a comma-separated subset of `netcat`, `secure`,
//! `mixed`, `tunnel`, `composed`, `send`, and `SPOKE_USER_BIN` another
//! `spoke` binary to run instead of this build's. The OCaml peer is found at
//! `$SPOKE_REF_PEER` or `../shared/ref-peer/spoke-ref-peer` beside the
//! project; `wasmtime` on the PATH or where `.ci/run` keeps it. An anchor
//! that is not installed is skipped with a line that says how to get it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `spoke` binary under test: this build's, or `$SPOKE_USER_BIN` (another
/// build of it, to compare two versions against the same anchors).
fn spoke_bin() -> PathBuf {
    std::env::var_os("SPOKE_USER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_spoke")))
}
const PASSWORD: &str = "correct horse battery staple";
/// How long one transfer may take before the bench calls it stalled.
const DEADLINE: Duration = Duration::from_secs(120);

/// One path: it runs a transfer, leaves its output in the file given, and
/// returns the time it took (`None` if it failed or stalled).
type Run<'a> = Box<dyn Fn(&Path) -> Option<Duration> + 'a>;

/// What to run, from the environment.
struct Settings {
    /// MB echoed by every echo path.
    mb: usize,
    /// MB copied by the send paths.
    send_mb: usize,
    rounds: usize,
    /// The groups to run (`SPOKE_USER_ONLY`, comma-separated); all if `None`.
    only: Option<String>,
}

impl Settings {
    fn from_env() -> Self {
        let env_num = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Settings {
            mb: env_num("SPOKE_USER_MB", 100),
            send_mb: env_num("SPOKE_USER_SEND_MB", 1000),
            rounds: env_num("SPOKE_USER_ROUNDS", 3).max(1),
            only: std::env::var("SPOKE_USER_ONLY").ok(),
        }
    }

    fn wanted(&self, group: &str) -> bool {
        self.only
            .as_deref()
            .is_none_or(|o| o.split(',').any(|g| g == group))
    }
}

/// One path of a group: its label and how to run it.
struct UserPath<'a> {
    group: &'static str,
    label: &'static str,
    run: Run<'a>,
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test` builds benches and runs them without --bench
    }
    let settings = Settings::from_env();
    let (mb, send_mb, rounds) = (settings.mb, settings.send_mb, settings.rounds);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("user_paths");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in");
    write_payload(&input, mb * 1_000_000);
    let big = dir.join("big.bin");
    if settings.wanted("send") {
        write_payload(&big, send_mb * 1_000_000);
    }
    std::fs::write(dir.join("pw"), format!("{PASSWORD}\n")).unwrap();
    let tools = Tools::find(&dir);
    let ctx = Ctx {
        dir: &dir,
        input: &input,
        tools: &tools,
    };

    println!(
        "== the paths users run: {mb} MB echoed ({send_mb} MB sent), {rounds} rounds taking turns"
    );
    println!("each end its own process, a file on stdin, the output in a file and compared;");
    println!("ms of wall time and CPU ms of the path's processes (medians over the rounds);");
    println!("ratio = the anchor's time / this path's, so above 1 means Spoke is faster.\n");

    let paths = user_paths(&ctx, &settings, &big);
    let times = take_turns(&paths, rounds, &dir, &input, &big);
    print_table(&paths, &times);
    println!();
    tools.report_skipped();
    println!(
        "mixed-server: the OCaml client against Spoke --compat's echo (ChaCha20-Poly1305 both ways);"
    );
    println!(
        "mixed-client: Spoke --compat's client against the OCaml echo (which answers in AES-256-GCM);"
    );
    println!(
        "composed: spoke-cat under `wasmtime run` (the anchor) and `spoke run`, and `spoke connect`."
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The paths to run, in the order they take turns within a round; the first
/// path of a group is its anchor.
fn user_paths<'a>(ctx: &'a Ctx<'a>, settings: &Settings, big: &'a Path) -> Vec<UserPath<'a>> {
    const SECURE: &[&str] = &["--secure", "--password-file", "pw"];
    const COMPAT: &[&str] = &[
        "--compat",
        "--identity",
        "client,server",
        "--password-file",
        "pw",
    ];
    let tools = ctx.tools;
    let mut paths = Vec::new();
    let mut add = |group, label, run: Run<'a>| paths.push(UserPath { group, label, run });
    if settings.wanted("netcat") {
        if tools.socat {
            add("netcat", "socat", Box::new(|out| ctx.socat_echo(out)));
        }
        add("netcat", "spoke", Box::new(|out| ctx.spoke_echo(out, &[])));
    }
    if settings.wanted("secure") {
        if tools.ref_peer.is_some() {
            add("secure", "ocaml", Box::new(|out| ctx.ocaml_to_ocaml(out)));
        }
        add(
            "secure",
            "spoke",
            Box::new(|out| ctx.spoke_echo(out, SECURE)),
        );
    }
    if settings.wanted("mixed") && tools.ref_peer.is_some() {
        add(
            "mixed-server",
            "ocaml",
            Box::new(|out| ctx.ocaml_to_ocaml(out)),
        );
        add(
            "mixed-server",
            "spoke",
            Box::new(|out| ctx.ocaml_to_spoke(out, COMPAT)),
        );
        add(
            "mixed-client",
            "ocaml",
            Box::new(|out| ctx.ocaml_to_ocaml(out)),
        );
        add(
            "mixed-client",
            "spoke",
            Box::new(|out| ctx.spoke_to_ocaml(out, COMPAT)),
        );
    }
    if settings.wanted("tunnel") && tools.socat {
        if tools.stunnel {
            add("tunnel", "stunnel", Box::new(|out| ctx.stunnel(out)));
        }
        add("tunnel", "spoke", Box::new(|out| ctx.spoke_tunnel(out)));
    }
    if settings.wanted("composed") {
        if let Some(w) = &tools.wasmtime {
            add(
                "composed",
                "wasmtime",
                Box::new(move |out| ctx.spoke_cat(out, Some(w))),
            );
        }
        add(
            "composed",
            "spoke run",
            Box::new(|out| ctx.spoke_cat(out, None)),
        );
        add(
            "composed",
            "connect",
            Box::new(|out| ctx.spoke_echo(out, &[])),
        );
    }
    if settings.wanted("send") {
        if tools.socat {
            add(
                "send",
                "socat",
                Box::new(move |out| ctx.socat_copy(out, big)),
            );
        }
        add(
            "send",
            "spoke",
            Box::new(move |out| ctx.spoke_send(out, big)),
        );
    }
    paths
}

/// Runs every path once a round, in turns, and checks each output against
/// its input; returns every path's (wall ms, CPU ms) per successful round.
fn take_turns(
    paths: &[UserPath],
    rounds: usize,
    dir: &Path,
    input: &Path,
    big: &Path,
) -> Vec<Vec<(f64, f64)>> {
    let mut times: Vec<Vec<(f64, f64)>> = vec![Vec::new(); paths.len()];
    for round in 1..=rounds {
        for (i, path) in paths.iter().enumerate() {
            let (group, label) = (path.group, path.label);
            let out = dir.join(format!("out-{i}"));
            let cpu0 = children_cpu();
            let wall = (path.run)(&out);
            let cpu = children_cpu().saturating_sub(cpu0);
            let expected = if group == "send" { big } else { input };
            match wall {
                Some(w) if same_file(&out, expected) => {
                    times[i].push((w.as_secs_f64() * 1e3, cpu.as_secs_f64() * 1e3))
                }
                Some(_) => {
                    println!("round {round}: {group} / {label}: the output differs from the input")
                }
                None => println!("round {round}: {group} / {label}: failed or stalled"),
            }
            let _ = std::fs::remove_file(&out);
        }
    }
    times
}

/// Prints each group's paths: medians, and the ratio to the group's anchor
/// with every round's.
fn print_table(paths: &[UserPath], times: &[Vec<(f64, f64)>]) {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, path) in paths.iter().enumerate() {
        groups.entry(path.group).or_default().push(i);
    }
    println!(
        "{:<14} {:<10} {:>8} {:>8}  {:>6}  rounds",
        "path", "who", "ms", "CPU ms", "ratio"
    );
    for (group, members) in &groups {
        let anchor = &times[members[0]];
        for (k, &i) in members.iter().enumerate() {
            let label = paths[i].label;
            let t = &times[i];
            if t.is_empty() {
                println!("{group:<14} {label:<10} no successful round");
                continue;
            }
            let wall = median(t.iter().map(|x| x.0).collect());
            let cpu = median(t.iter().map(|x| x.1).collect());
            if k == 0 || anchor.is_empty() {
                println!("{group:<14} {label:<10} {wall:>8.0} {cpu:>8.0}");
                continue;
            }
            let ratio = median(anchor.iter().map(|x| x.0).collect()) / wall;
            let per_round: Vec<String> = anchor
                .iter()
                .zip(t)
                .map(|(a, s)| format!("{:.2}", a.0 / s.0))
                .collect();
            println!(
                "{group:<14} {label:<10} {wall:>8.0} {cpu:>8.0}  {ratio:>6.2}  {}",
                per_round.join(" ")
            );
        }
    }
}

/// What the anchors need, found on this machine.
struct Tools {
    socat: bool,
    stunnel: bool,
    ref_peer: Option<PathBuf>,
    wasmtime: Option<PathBuf>,
    spoke_cat: PathBuf,
}

impl Tools {
    fn find(dir: &Path) -> Self {
        let runs = |cmd: &Path, arg: &str| {
            Command::new(cmd)
                .arg(arg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        };
        let ref_peer = std::env::var_os("SPOKE_REF_PEER")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/ref-peer/spoke-ref-peer")
            });
        let cached = std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/spoke-tools/wasmtime-cli-50.0.1/bin/wasmtime"));
        let wasmtime = [Some(PathBuf::from("wasmtime")), cached]
            .into_iter()
            .flatten()
            .find(|w| runs(w, "--version"));
        let spoke_cat = dir.join("spoke-cat.wasm");
        std::fs::write(&spoke_cat, spoke_examples::SPOKE_CAT).unwrap();
        Tools {
            socat: runs(Path::new("socat"), "-V"),
            stunnel: runs(Path::new("stunnel4"), "-version"),
            ref_peer: ref_peer.exists().then_some(ref_peer),
            wasmtime,
            spoke_cat,
        }
    }

    fn report_skipped(&self) {
        if !self.socat || !self.stunnel {
            println!("skipped: the socat and stunnel anchors (apt-get install socat stunnel4)");
        }
        if self.ref_peer.is_none() {
            println!("skipped: the OCaml reference (set SPOKE_REF_PEER to spoke-ref-peer)");
        }
        if self.wasmtime.is_none() {
            println!(
                "skipped: `wasmtime run` (cargo install wasmtime-cli --version 50.0.1 --locked)"
            );
        }
    }
}

/// The files and tools every path uses.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    dir: &'a Path,
    input: &'a Path,
    tools: &'a Tools,
}

impl Ctx<'_> {
    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn spoke(&self, args: &[&str]) -> Command {
        let mut c = self.cmd(&spoke_bin());
        c.args(args).env_remove("SPOKE_PASSWORD");
        c
    }

    /// `client` with the input on stdin and `out` on stdout, timed to its end.
    fn timed(&self, mut client: Command, out: &Path) -> Option<Duration> {
        client
            .stdin(File::open(self.input).ok()?)
            .stdout(File::create(out).ok()?);
        let start = Instant::now();
        Guard(client.spawn().ok()?).wait_ok()?;
        Some(start.elapsed())
    }

    /// `spoke connect` off `spoke listen --echo`, both with `extra`.
    fn spoke_echo(&self, out: &Path, extra: &[&str]) -> Option<Duration> {
        let listen = [&["listen", "127.0.0.1:0", "--echo"][..], extra].concat();
        let (mut server, address) = spoke_listening(&mut self.spoke(&listen))?;
        let connect = [&["connect", address.as_str()][..], extra].concat();
        let t = self.timed(self.spoke(&connect), out);
        server.wait_ok()?;
        t
    }

    /// A `socat` echo (`PIPE`), and `socat` as the client.
    fn socat_echo(&self, out: &Path) -> Option<Duration> {
        let port = free_port();
        let mut server = Guard(
            self.cmd(Path::new("socat"))
                .args([
                    &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
                    "PIPE",
                ])
                .spawn()
                .ok()?,
        );
        wait_listening(port)?;
        let t = self.timed(self.socat_client(port), out);
        server.wait_ok()?;
        t
    }

    fn socat_client(&self, port: u16) -> Command {
        let mut c = self.cmd(Path::new("socat"));
        // -t: after standard input's end, wait for the whole echo (socat
        // gives the other direction half a second by default).
        c.args([
            "-b",
            "262144",
            "-t",
            "60",
            "-",
            &format!("TCP:127.0.0.1:{port}"),
        ]);
        c
    }

    /// The OCaml reference's client and server.
    fn ocaml_to_ocaml(&self, out: &Path) -> Option<Duration> {
        let port = free_port();
        let mut server = Guard(self.ocaml_server(port).spawn().ok()?);
        wait_listening(port)?;
        let t = self.ocaml_client(port, out);
        server.wait_ok()?;
        t
    }

    /// The OCaml client against a Spoke `--compat` echo.
    fn ocaml_to_spoke(&self, out: &Path, compat: &[&str]) -> Option<Duration> {
        let listen = [&["listen", "127.0.0.1:0", "--echo"][..], compat].concat();
        let (mut server, address) = spoke_listening(&mut self.spoke(&listen))?;
        let port: u16 = address.rsplit(':').next()?.parse().ok()?;
        let t = self.ocaml_client(port, out);
        server.wait_ok()?;
        t
    }

    /// Spoke's `--compat` client against the OCaml echo.
    fn spoke_to_ocaml(&self, out: &Path, compat: &[&str]) -> Option<Duration> {
        let port = free_port();
        let mut server = Guard(self.ocaml_server(port).spawn().ok()?);
        wait_listening(port)?;
        let address = format!("127.0.0.1:{port}");
        let connect = [&["connect", address.as_str()][..], compat].concat();
        let t = self.timed(self.spoke(&connect), out);
        server.wait_ok()?;
        t
    }

    fn ocaml_server(&self, port: u16) -> Command {
        let mut c = self.cmd(self.tools.ref_peer.as_deref().unwrap_or(Path::new("false")));
        c.args(["server", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--password", PASSWORD, "--identity", "client,server"]);
        c
    }

    /// The OCaml client sends the input and checks the echo itself (it exits
    /// 0 only on a match); the input then stands for its output.
    fn ocaml_client(&self, port: u16, out: &Path) -> Option<Duration> {
        let mut c = self.cmd(self.tools.ref_peer.as_deref()?);
        c.args(["client", "--connect", &format!("127.0.0.1:{port}")])
            .args([
                "--password",
                PASSWORD,
                "--identity",
                "client,server",
                "--file",
            ])
            .arg(self.input);
        let start = Instant::now();
        Guard(c.spawn().ok()?).wait_ok()?;
        let t = start.elapsed();
        std::fs::copy(self.input, out).ok()?;
        Some(t)
    }

    /// A `stunnel4` entrance and exit (TLS 1.3, pre-shared key) before a
    /// native echo, `socat` as the client.
    fn stunnel(&self, out: &Path) -> Option<Duration> {
        let (echo, exit, entrance) = (free_port(), free_port(), free_port());
        let psk = self.dir.join("psk.txt");
        std::fs::write(&psk, format!("bench:{}\n", "0123456789abcdef".repeat(4))).ok()?;
        let conf = |name: &str, body: String| {
            let path = self.dir.join(name);
            std::fs::write(&path, format!("foreground = yes\npid =\n{body}")).map(|_| path)
        };
        let psk = psk.display();
        let exit_conf = format!(
            "[exit]\naccept = 127.0.0.1:{exit}\nconnect = 127.0.0.1:{echo}\n\
             PSKsecrets = {psk}\nsslVersionMin = TLSv1.3\n"
        );
        let entrance_conf = format!(
            "[entrance]\nclient = yes\naccept = 127.0.0.1:{entrance}\n\
             connect = 127.0.0.1:{exit}\nPSKsecrets = {psk}\nPSKidentity = bench\n\
             sslVersionMin = TLSv1.3\n"
        );
        let exit_conf = conf("exit.conf", exit_conf).ok()?;
        let entrance_conf = conf("entrance.conf", entrance_conf).ok()?;
        let _echo = EchoServer::start(echo)?;
        let stunnel = |conf: &Path| self.cmd(Path::new("stunnel4")).arg(conf).spawn().ok();
        let _exit = Guard(stunnel(&exit_conf)?);
        let _entrance = Guard(stunnel(&entrance_conf)?);
        wait_listening(exit)?;
        wait_listening(entrance)?;
        self.timed(self.socat_client(entrance), out)
    }

    /// A `spoke tunnel` entrance and exit before a native echo, `socat` as
    /// the client.
    fn spoke_tunnel(&self, out: &Path) -> Option<Duration> {
        let (echo, exit, entrance) = (free_port(), free_port(), free_port());
        let _echo = EchoServer::start(echo)?;
        let (exit_at, echo_at) = (format!("127.0.0.1:{exit}"), format!("127.0.0.1:{echo}"));
        let entrance_at = format!("127.0.0.1:{entrance}");
        let tunnel = |args: [&str; 5]| {
            self.spoke(&[&args[..], &["--password-file", "pw"][..]].concat())
                .spawn()
                .ok()
        };
        let _exit = Guard(tunnel([
            "tunnel", "--serve", &exit_at, "--target", &echo_at,
        ])?);
        let _entrance = Guard(tunnel([
            "tunnel",
            "--listen",
            &entrance_at,
            "--to",
            &exit_at,
        ])?);
        wait_listening(exit)?;
        wait_listening(entrance)?;
        self.timed(self.socat_client(entrance), out)
    }

    /// The composed `spoke-cat` under `wasmtime run` (given) or `spoke run`,
    /// off `spoke listen --echo`.
    fn spoke_cat(&self, out: &Path, wasmtime: Option<&PathBuf>) -> Option<Duration> {
        let mut listen = self.spoke(&["listen", "127.0.0.1:0", "--echo"]);
        let (mut server, address) = spoke_listening(&mut listen)?;
        let (host, port) = address.rsplit_once(':')?;
        let cat = self.tools.spoke_cat.to_str()?;
        let client = match wasmtime {
            Some(w) => {
                let mut c = self.cmd(w);
                c.args(["run", "-S", "inherit-network", cat, host, port]);
                c
            }
            None => self.spoke(&["run", "--allow-connect", &address, cat, host, port]),
        };
        let t = self.timed(client, out);
        server.wait_ok()?;
        t
    }

    /// `socat` sending `file` to a `socat` that writes it to `out`.
    fn socat_copy(&self, out: &Path, file: &Path) -> Option<Duration> {
        let port = free_port();
        let mut server = Guard(
            self.cmd(Path::new("socat"))
                .args(["-u", &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr")])
                .arg(format!("CREATE:{}", out.display()))
                .spawn()
                .ok()?,
        );
        wait_listening(port)?;
        let start = Instant::now();
        let mut sender = self.cmd(Path::new("socat"));
        sender
            .args([
                "-u",
                "-b",
                "262144",
                "STDIN",
                &format!("TCP:127.0.0.1:{port}"),
            ])
            .stdin(File::open(file).ok()?);
        Guard(sender.spawn().ok()?).wait_ok()?;
        server.wait_ok()?;
        Some(start.elapsed())
    }

    /// `spoke send` to `spoke recv`, which stores the file as `out`.
    fn spoke_send(&self, out: &Path, file: &Path) -> Option<Duration> {
        let (out, file) = (out.to_str()?, file.to_str()?);
        let pw = ["--password-file", "pw"];
        let recv = [
            &["recv", "--listen", "127.0.0.1:0", "--output", out][..],
            &pw,
        ]
        .concat();
        let (mut server, address) = spoke_listening(&mut self.spoke(&recv))?;
        let start = Instant::now();
        let send = [&["send", file, "--to", address.as_str()][..], &pw].concat();
        Guard(self.spoke(&send).spawn().ok()?).wait_ok()?;
        server.wait_ok()?;
        Some(start.elapsed())
    }
}

/// The service behind both tunnels: a native echo on its own threads, one
/// per connection, each reading up to 256 KiB and writing it back. (socat's
/// own `PIPE` echo can wedge itself once its pipe is full while its peer
/// waits, which a tunnel in front of it makes likely.) It stops accepting
/// when dropped.
struct EchoServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl EchoServer {
    fn start(port: u16) -> Option<EchoServer> {
        use std::io::Write;
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind(("127.0.0.1", port)).ok()?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 256 * 1024];
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 || conn.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = conn.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Some(EchoServer { port, stop })
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A child killed if it is still running when dropped.
struct Guard(Child);

impl Guard {
    /// Waits until the child ends (at most [`DEADLINE`]); `Some` if it
    /// exited with success.
    fn wait_ok(&mut self) -> Option<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.0.try_wait().ok()? {
                return status.success().then_some(());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a `spoke` server on port 0 and returns it with the address it
/// reports on stderr.
fn spoke_listening(cmd: &mut Command) -> Option<(Guard, String)> {
    let mut child = Guard(cmd.stderr(Stdio::piped()).spawn().ok()?);
    let mut stderr = BufReader::new(child.0.stderr.take()?);
    let mut line = String::new();
    stderr.read_line(&mut line).ok()?;
    let address = line.trim().strip_prefix("spoke: listening on ")?.to_owned();
    // Keep reading stderr, so that the server never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Some((child, address))
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something listens on 127.0.0.1:`port`, without connecting
/// (a one-shot server would take the probe for its client).
fn wait_listening(port: u16) -> Option<()> {
    let needle = format!("0100007F:{port:04X} 00000000:0000 0A");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::fs::read_to_string("/proc/net/tcp")
            .ok()?
            .contains(&needle)
        {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// The CPU time of every child process waited for so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given, which is plain
    // data for which all zeroes is a valid value.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A non-repeating payload of `size` bytes in `path`.
fn write_payload(path: &Path, size: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(File::create(path).unwrap());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let n = left.min(block.len());
        f.write_all(&block[..n]).unwrap();
        left -= n;
    }
}

/// Whether two files hold the same bytes.
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(fa), Ok(fb)) = (File::open(a), File::open(b)) else {
        return false;
    };
    let len = |f: &File| f.metadata().map(|m| m.len()).ok();
    if len(&fa).is_none() || len(&fa) != len(&fb) {
        return false;
    }
    let (mut ra, mut rb) = (BufReader::new(fa), BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = ra.read(&mut ba).unwrap_or(0);
        if n == 0 {
            return true;
        }
        if rb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
