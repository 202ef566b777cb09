//! `p3-cat`: a netcat over Spoke for WASI 0.3.
//!
//! ```text
//! p3-cat HOST PORT [--secure PASSWORD_ENV] [--identity CLIENT,SERVER] [--compat]
//!        [--read-size BYTES]
//! p3-cat --listen ADDR PORT [the same options]
//! ```
//!
//! Connects to HOST:PORT, or with `--listen` listens on ADDR:PORT (an IP
//! literal; port 0 picks a free port), says `p3-cat: listening on
//! ADDR:PORT` on standard error and accepts one connection. With
//! `--secure` it then hands the connection whole to a session
//! (`client-over-tcp`, or, listening, `server-over-tcp`) and runs the Spoke
//! handshake with the password held by the environment variable
//! PASSWORD_ENV; `--compat` speaks version 1, the OCaml library's.
//!
//! Its whole data path is wiring streams: standard input's stream
//! (`wasi:cli/stdin@0.3.0`) is handed to the connection's or the session's
//! `send`, and the stream `receive` returns is handed to standard output
//! (`wasi:cli/stdout@0.3.0`), so no byte passes through this component. The
//! end of standard input half-closes the connection (on a version-2
//! session, after the authenticated close marker); it exits once both
//! directions are done. `--read-size` is accepted for compatibility with
//! `spoke-cat` and has no effect.
//!
//! Exit status: 0 when both directions ended cleanly, 1 on any error
//! (reported on standard error in one line). A failure to read standard
//! input ends the stream given to `send` as its end would (the component
//! never sees the bytes, so it cannot tell); the error is still reported
//! and the exit status is 1.

use futures::try_join;
use spoke_app_p3::Ending;
use spoke_app_p3::io::{self, StdioEnding};
use spoke_app_p3::net;
use spoke_app_p3::secure::{Role, Secure};
use spoke_app_p3::tcp::{self, Connection, Listener};

const USAGE: &str = "usage: p3-cat [--listen] HOST PORT [--secure PASSWORD_ENV] [--identity CLIENT,SERVER] [--compat] [--read-size BYTES]";

struct P3Cat;

spoke_app_p3::export!(P3Cat with_types_in spoke_app_p3::bindings);

impl spoke_app_p3::Run for P3Cat {
    async fn run() -> Result<(), ()> {
        io::run("p3-cat", p3_cat()).await
    }
}

struct Options {
    listen: bool,
    host: String,
    port: u16,
    secure: Secure,
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut secure = Secure::new();
    let mut listen = false;
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        if secure.parse(&arg, &mut rest)? {
            continue;
        }
        match arg.as_str() {
            "--listen" => listen = true,
            "--read-size" => {
                let v = rest.next().ok_or("--read-size takes a number of bytes")?;
                v.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("--read-size: {v:?} is not a positive number"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{USAGE}"));
            }
            _ => positional.push(arg),
        }
    }
    let [host, port] = <[String; 2]>::try_from(positional).map_err(|_| USAGE.to_string())?;
    Ok(Options {
        listen,
        port: net::port(&port)?,
        host,
        secure,
    })
}

async fn p3_cat() -> Result<(), String> {
    let options = parse(io::args())?;
    let (connection, role) = if options.listen {
        (accept_one(&options).await?, Role::Server)
    } else {
        let connection = tcp::connect(options.host.clone(), options.port)
            .await
            .map_err(|e| {
                format!(
                    "connecting to {}:{}: {}",
                    options.host,
                    options.port,
                    net::error(&e)
                )
            })?;
        (connection, Role::Client)
    };
    if options.secure.enabled() {
        secure(connection, &options.secure, role).await
    } else {
        plain(&connection).await
    }
}

/// Listens where the options say, announces the address on standard
/// error, and accepts one connection.
async fn accept_one(options: &Options) -> Result<Connection, String> {
    let address = net::socket_address(&options.host, options.port)?;
    let listening = format!("listening on {}", net::display(&address));
    let listener =
        Listener::bind(address).map_err(|e| format!("{listening}: {}", net::error(&e)))?;
    let local = listener
        .local_address()
        .map_err(|e| format!("{listening}: {}", net::error(&e)))?;
    io::eprint_line(&format!("p3-cat: listening on {}", net::display(&local))).await;
    listener
        .accept()
        .await
        .map_err(|e| format!("accepting a connection: {}", net::error(&e)))
}

/// Standard input to the socket and the socket to standard output: the
/// streams are the socket's own, so the bytes go from host to host.
async fn plain(connection: &Connection) -> Result<(), String> {
    let (received, received_end) = connection.receive().await;
    let printed = io::stdout(received);
    let (input, input_end) = io::stdin();
    let sent = connection.send(input).await;
    try_join!(
        direction("sending", sent),
        direction("receiving", received_end),
        stdio("writing standard output", printed),
        stdio("reading standard input", input_end),
    )
    .map(drop)
}

/// The handshake over the connection, which the session takes whole,
/// then standard input to the session's `send` and its `receive` to
/// standard output.
async fn secure(connection: Connection, secure: &Secure, role: Role) -> Result<(), String> {
    let session = secure.session_over_tcp(role, connection)?;
    session
        .handshake()
        .await
        .map_err(|e| format!("handshake failed: {}", net::handshake_error(&e)))?;
    let (received, received_end) = session.receive().await;
    let printed = io::stdout(received);
    let (input, input_end) = io::stdin();
    // Resolves once every record has reached the operating system.
    let sent = session.send(input).await;
    try_join!(
        direction("sending", sent),
        direction("receiving", received_end),
        stdio("writing standard output", printed),
        stdio("reading standard input", input_end),
    )
    .map(drop)
}

/// How a direction of the connection or the session ended, as one line.
async fn direction(what: &str, ending: Ending) -> Result<(), String> {
    ending
        .await
        .map_err(|e| format!("{what}: {}", net::error(&e)))
}

/// How a standard stream ended, as one line.
async fn stdio(what: &str, ending: StdioEnding) -> Result<(), String> {
    ending
        .await
        .map_err(|e| format!("{what}: {}", io::stdio_error(e)))
}
