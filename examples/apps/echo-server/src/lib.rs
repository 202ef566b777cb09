//! `echo-server`: sends back whatever each client sends, to several
//! clients at once.
//!
//! ```text
//! echo-server ADDR PORT [--max-clients N] [--connections N]
//!             [--secure PASSWORD_ENV] [--identity CLIENT,SERVER] [--compat]
//! ```
//!
//! Listens on ADDR:PORT (an IP literal; port 0 picks a free port) and
//! prints `listening on ADDR:PORT` with the real port on standard output.
//! One thread serves every client: it waits with `wasi:io/poll` on the
//! listener's pollable and every flow's, accepts while fewer than
//! `--max-clients` (default 64) are connected, and echoes what each flow
//! has. A client's end-of-stream is answered with one (a write-side
//! shutdown). With `--connections N` it exits after serving N clients.
//!
//! A flow's `write` returns once the data is accepted, so a client that
//! never reads can hold the others up once the socket buffers are full;
//! and with `--secure` each handshake runs before the next poll.

use spoke_app::io::{self, Output};
use spoke_app::net;
use spoke_app::secure::{Role, Secure};
use spoke_app::{Flow, ShutdownMode, tcp};
use wasip2::io::poll::Pollable;

/// The most bytes echoed per read.
const READ_SIZE: u32 = 256 * 1024;

struct EchoServer;

wasip2::cli::command::export!(EchoServer);

impl wasip2::exports::cli::run::Guest for EchoServer {
    fn run() -> Result<(), ()> {
        match main() {
            Ok(()) => Ok(()),
            Err(message) => {
                Output::stderr().line(&format!("echo-server: {message}"));
                Err(())
            }
        }
    }
}

struct Options {
    addr: String,
    port: u16,
    max_clients: usize,
    connections: Option<u64>,
    secure: Secure,
}

const USAGE: &str = "usage: echo-server ADDR PORT [--max-clients N] [--connections N] [--secure PASSWORD_ENV] [--identity CLIENT,SERVER] [--compat]";

fn number(flag: &str, value: Option<String>) -> Result<u64, String> {
    let v = value.ok_or(format!("{flag} takes a number"))?;
    v.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(format!("{flag}: {v:?} is not a positive number"))
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut secure = Secure::new();
    let mut max_clients = 64;
    let mut connections = None;
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        if secure.parse(&arg, &mut rest)? {
            continue;
        }
        match arg.as_str() {
            "--max-clients" => {
                max_clients = usize::try_from(number("--max-clients", rest.next())?)
                    .map_err(|_| "--max-clients: too large")?
            }
            "--connections" => connections = Some(number("--connections", rest.next())?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{USAGE}"));
            }
            _ => positional.push(arg),
        }
    }
    let [addr, port] = <[String; 2]>::try_from(positional).map_err(|_| USAGE.to_string())?;
    Ok(Options {
        port: net::port(&port)?,
        addr,
        max_clients,
        connections,
        secure,
    })
}

/// One connected client.
struct Client {
    flow: Flow,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.flow.close();
    }
}

fn main() -> Result<(), String> {
    let options = parse(io::args())?;
    let address = net::socket_address(&options.addr, options.port)?;
    let listener = tcp::Listener::bind(address)
        .map_err(|e| format!("listening on {}: {}", options.addr, net::error(&e)))?;
    let bound = listener.local_address().map_err(|e| net::error(&e))?;
    Output::stdout().line(&format!("listening on {}", net::display(&bound)));

    let incoming = listener.subscribe();
    let mut clients: Vec<Client> = Vec::new();
    let mut accepted = 0u64;
    loop {
        let accepting =
            clients.len() < options.max_clients && options.connections.is_none_or(|n| accepted < n);
        if !accepting && clients.is_empty() {
            break;
        }
        // Clients first, at their indices; the listener last, at `polled`.
        // A flow's pollable tells whether a read would block *now*, so each
        // round subscribes afresh (after a read it may be stale).
        let polled = clients.len();
        let readable: Vec<Pollable> = clients.iter().map(|c| c.flow.subscribe()).collect();
        let mut pollables: Vec<&Pollable> = readable.iter().collect();
        if accepting {
            pollables.push(&incoming);
        }
        let ready = io::wait(&pollables);
        drop(pollables);
        drop(readable);

        let mut finished: Vec<usize> = ready
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| i < polled && !echo(&clients[i]))
            .collect();
        // Highest index first, so that the others keep their places.
        finished.sort_unstable();
        for i in finished.into_iter().rev() {
            clients.swap_remove(i);
        }
        if accepting && ready.iter().any(|&i| i as usize == polled) {
            accepted += 1;
            match listener.accept() {
                Ok(flow) => match options.secure.wrap(flow, Role::Server) {
                    Ok(flow) => clients.push(Client { flow }),
                    Err(message) => {
                        Output::stderr().line(&format!("echo-server: a client: {message}"))
                    }
                },
                Err(e) => {
                    Output::stderr().line(&format!("echo-server: accepting: {}", net::error(&e)))
                }
            }
        }
    }
    drop(incoming);
    Ok(())
}

/// Echoes what `client` has sent; `false` once it is done with.
fn echo(client: &Client) -> bool {
    match client.flow.read(READ_SIZE) {
        Ok(Some(data)) => client.flow.write(&data).is_ok(),
        Ok(None) => {
            let _ = client.flow.shutdown(ShutdownMode::Write);
            false
        }
        Err(_) => false,
    }
}
