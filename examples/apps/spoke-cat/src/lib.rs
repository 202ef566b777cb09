//! `spoke-cat`: a netcat over a Spoke flow.
//!
//! ```text
//! spoke-cat HOST PORT [--secure PASSWORD_ENV] [--identity CLIENT,SERVER] [--compat]
//!           [--read-size BYTES]
//! ```
//!
//! Connects to HOST:PORT (through the Spoke component, so under the host's
//! network policy), optionally runs the client side of the Spoke handshake
//! with the password held by the environment variable PASSWORD_ENV, then
//! copies standard input to the flow and the flow to standard output at
//! once, waiting on both with `wasi:io/poll`. At the end of standard input
//! it shuts the flow's write side; it exits when the peer ends the flow.
//! Exit status: 0 after the peer's end-of-stream, 1 on any error (reported
//! on standard error in one line).

use spoke_app::io::{self, Input, Output};
use spoke_app::net;
use spoke_app::secure::{Role, Secure};
use spoke_app::{Flow, ShutdownMode, tcp};

/// The largest read asked of the flow and of standard input by default.
const DEFAULT_READ: u32 = 256 * 1024;

struct SpokeCat;

wasi::cli::command::export!(SpokeCat);

impl wasi::exports::cli::run::Guest for SpokeCat {
    fn run() -> Result<(), ()> {
        match main() {
            Ok(()) => Ok(()),
            Err(message) => {
                Output::stderr().line(&format!("spoke-cat: {message}"));
                Err(())
            }
        }
    }
}

struct Options {
    host: String,
    port: u16,
    secure: Secure,
    read_size: u32,
}

const USAGE: &str = "usage: spoke-cat HOST PORT [--secure PASSWORD_ENV] [--identity CLIENT,SERVER] [--compat] [--read-size BYTES]";

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut secure = Secure::new();
    let mut read_size = DEFAULT_READ;
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        if secure.parse(&arg, &mut rest)? {
            continue;
        }
        match arg.as_str() {
            "--read-size" => {
                let v = rest.next().ok_or("--read-size takes a number of bytes")?;
                read_size = v
                    .parse()
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
        port: net::port(&port)?,
        host,
        secure,
        read_size,
    })
}

fn main() -> Result<(), String> {
    let options = parse(io::args())?;
    let flow = tcp::connect(&options.host, options.port).map_err(|e| {
        format!(
            "connecting to {}:{}: {}",
            options.host,
            options.port,
            net::error(&e)
        )
    })?;
    let flow = options.secure.wrap(flow, Role::Client)?;
    let result = pump(&flow, options.read_size);
    flow.close();
    result
}

/// Standard input to `flow` and `flow` to standard output until the peer
/// ends the flow.
fn pump(flow: &Flow, read_size: u32) -> Result<(), String> {
    let stdin = Input::stdin();
    let stdout = Output::stdout();
    let mut stdin_open = true;
    loop {
        // Subscribed afresh each round: a flow's pollable tells whether a
        // read would block at the time it was made.
        let readable = flow.subscribe();
        if !readable.ready() {
            // About to wait: let what was printed go out first.
            stdout
                .start_flush()
                .map_err(|e| format!("writing standard output: {e}"))?;
        }
        let ready = if stdin_open {
            io::wait(&[&readable, stdin.pollable()])
        } else {
            vec![0]
        };
        drop(readable);
        if ready.contains(&0) {
            match flow
                .read(read_size)
                .map_err(|e| format!("reading: {}", net::error(&e)))?
            {
                Some(data) => stdout
                    .write_all(&data)
                    .map_err(|e| format!("writing standard output: {e}"))?,
                None => break,
            }
        }
        if stdin_open && ready.contains(&1) {
            match stdin
                .read(u64::from(read_size))
                .map_err(|e| format!("reading standard input: {e}"))?
            {
                Some(data) if data.is_empty() => {}
                Some(data) => flow
                    .write(&data)
                    .map_err(|e| format!("writing: {}", net::write_error(&e)))?,
                None => {
                    stdin_open = false;
                    flow.shutdown(ShutdownMode::Write)
                        .map_err(|e| format!("shutting down: {}", net::write_error(&e)))?;
                }
            }
        }
    }
    stdout
        .flush()
        .map_err(|e| format!("writing standard output: {e}"))
}
