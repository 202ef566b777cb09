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
//! once. At the end of standard input it shuts the flow's write side; it
//! exits once that is done and the peer has ended the flow. The copying is
//! Spoke's `pipe`: this component hands its standard streams to the Spoke
//! component, and the bytes never pass through this one. `--read-size` is
//! accepted for compatibility and has no effect (the host hands over at
//! most 64 KiB at a time anyway).
//! Exit status: 0 when both directions ended cleanly, 1 on any error
//! (reported on standard error in one line).

use spoke_app::io::{self, Output};
use spoke_app::net;
use spoke_app::secure::{Role, Secure};
use spoke_app::{Flow, combinators, tcp};

struct SpokeCat;

wasip2::cli::command::export!(SpokeCat);

impl wasip2::exports::cli::run::Guest for SpokeCat {
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
}

const USAGE: &str = "usage: spoke-cat HOST PORT [--secure PASSWORD_ENV] [--identity CLIENT,SERVER] [--compat] [--read-size BYTES]";

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut secure = Secure::new();
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        if secure.parse(&arg, &mut rest)? {
            continue;
        }
        match arg.as_str() {
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
        port: net::port(&port)?,
        host,
        secure,
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
    let result = pump(&flow);
    flow.close();
    result
}

/// Standard input to `flow` and `flow` to standard output until both have
/// ended, by Spoke's `pipe`: the streams are handed to the Spoke component,
/// which moves the bytes between them and the flow itself, so they never
/// enter this component's memory (nor cross between the two).
fn pump(flow: &Flow) -> Result<(), String> {
    let stdin = wasip2::cli::stdin::get_stdin();
    let stdout = wasip2::cli::stdout::get_stdout();
    let (sent, received) = combinators::pipe(flow, &stdin, &stdout);
    if let Some(e) = received.error {
        return Err(copy_error("receiving", &e));
    }
    if let Some(e) = sent.error {
        return Err(copy_error("sending", &e));
    }
    Ok(())
}

/// One direction's failure as one line.
fn copy_error(what: &str, e: &combinators::CopyError) -> String {
    match e {
        combinators::CopyError::Read(e) => format!("{what}: reading: {}", net::error(e)),
        combinators::CopyError::Write(e) => format!("{what}: writing: {}", net::write_error(e)),
    }
}
