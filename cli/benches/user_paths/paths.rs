//! Each path users run, as processes: the `spoke` commands and the anchors
//! (socat, stunnel, the OCaml reference, `wasmtime run`), and what they need.

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::PASSWORD;
use crate::processes::{Guard, free_port, spoke_listening, wait_listening};

/// What the anchors need, found on this machine.
pub(crate) struct Tools {
    pub(crate) socat: bool,
    pub(crate) stunnel: bool,
    pub(crate) ref_peer: Option<PathBuf>,
    pub(crate) wasmtime: Option<PathBuf>,
    pub(crate) spoke_cat: PathBuf,
}

impl Tools {
    pub(crate) fn find(dir: &Path) -> Self {
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

    pub(crate) fn report_skipped(&self) {
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
pub(crate) struct Ctx<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) input: &'a Path,
    pub(crate) tools: &'a Tools,
    /// The `spoke` binary the Spoke paths run.
    pub(crate) spoke: &'a Path,
}

impl Ctx<'_> {
    pub(crate) fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    pub(crate) fn spoke(&self, args: &[&str]) -> Command {
        let mut c = self.cmd(self.spoke);
        c.args(args).env_remove("SPOKE_PASSWORD");
        c
    }

    /// `client` with the input on stdin and `out` on stdout, timed to its end.
    pub(crate) fn timed(&self, mut client: Command, out: &Path) -> Option<Duration> {
        client
            .stdin(File::open(self.input).ok()?)
            .stdout(File::create(out).ok()?);
        let start = Instant::now();
        Guard(client.spawn().ok()?).wait_ok()?;
        Some(start.elapsed())
    }

    /// `spoke connect` off `spoke listen --echo`, both with `extra`.
    pub(crate) fn spoke_echo(&self, out: &Path, extra: &[&str]) -> Option<Duration> {
        let listen = [&["listen", "127.0.0.1:0", "--echo"][..], extra].concat();
        let (mut server, address) = spoke_listening(&mut self.spoke(&listen))?;
        let connect = [&["connect", address.as_str()][..], extra].concat();
        let t = self.timed(self.spoke(&connect), out);
        server.wait_ok()?;
        t
    }

    /// A `socat` echo (`PIPE`), and `socat` as the client.
    pub(crate) fn socat_echo(&self, out: &Path) -> Option<Duration> {
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

    pub(crate) fn socat_client(&self, port: u16) -> Command {
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
    pub(crate) fn ocaml_to_ocaml(&self, out: &Path) -> Option<Duration> {
        let port = free_port();
        let mut server = Guard(self.ocaml_server(port).spawn().ok()?);
        wait_listening(port)?;
        let t = self.ocaml_client(port, out);
        server.wait_ok()?;
        t
    }

    /// The OCaml client against a Spoke `--compat` echo.
    pub(crate) fn ocaml_to_spoke(&self, out: &Path, compat: &[&str]) -> Option<Duration> {
        let listen = [&["listen", "127.0.0.1:0", "--echo"][..], compat].concat();
        let (mut server, address) = spoke_listening(&mut self.spoke(&listen))?;
        let port: u16 = address.rsplit(':').next()?.parse().ok()?;
        let t = self.ocaml_client(port, out);
        server.wait_ok()?;
        t
    }

    /// Spoke's `--compat` client against the OCaml echo.
    pub(crate) fn spoke_to_ocaml(&self, out: &Path, compat: &[&str]) -> Option<Duration> {
        let port = free_port();
        let mut server = Guard(self.ocaml_server(port).spawn().ok()?);
        wait_listening(port)?;
        let address = format!("127.0.0.1:{port}");
        let connect = [&["connect", address.as_str()][..], compat].concat();
        let t = self.timed(self.spoke(&connect), out);
        server.wait_ok()?;
        t
    }

    pub(crate) fn ocaml_server(&self, port: u16) -> Command {
        let mut c = self.cmd(self.tools.ref_peer.as_deref().unwrap_or(Path::new("false")));
        c.args(["server", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--password", PASSWORD, "--identity", "client,server"]);
        c
    }

    /// The OCaml client sends the input and checks the echo itself (it exits
    /// 0 only on a match); the input then stands for its output.
    pub(crate) fn ocaml_client(&self, port: u16, out: &Path) -> Option<Duration> {
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
    pub(crate) fn stunnel(&self, out: &Path) -> Option<Duration> {
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
    pub(crate) fn spoke_tunnel(&self, out: &Path) -> Option<Duration> {
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
    pub(crate) fn spoke_cat(&self, out: &Path, wasmtime: Option<&PathBuf>) -> Option<Duration> {
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
    pub(crate) fn socat_copy(&self, out: &Path, file: &Path) -> Option<Duration> {
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
    pub(crate) fn spoke_send(&self, out: &Path, file: &Path) -> Option<Duration> {
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
pub(crate) struct EchoServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl EchoServer {
    pub(crate) fn start(port: u16) -> Option<EchoServer> {
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
