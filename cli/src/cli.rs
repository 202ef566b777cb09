//! The command line: what each `spoke` subcommand takes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use spoke_host::guard::GuardConfig;

/// Spoke: plain and password-secured flows between WebAssembly components,
/// run by the Spoke component under wasmtime with a deny-by-default network
/// policy that allows exactly the addresses given on the command line.
#[derive(Parser, Debug)]
#[command(
    name = "spoke",
    version,
    about = "Plain and password-secured network flows, run inside the Spoke WebAssembly \
             component: netcat, file transfer, tunnels and composed applications, under a \
             deny-by-default network policy",
    long_about = None
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Connect to HOST:PORT and copy stdin to the flow and the flow to stdout
    /// (a netcat); stdin's end half-closes the flow.
    Connect {
        /// Where to connect: a name or an IP address, and a port.
        target: String,
        /// Password-secure options.
        #[command(flatten)]
        secure: SecureArgs,
        /// Which Spoke component carries the flow.
        #[command(flatten)]
        component: ComponentArgs,
    },
    /// Listen on ADDR:PORT, accept one peer, and either echo what it sends
    /// (`--echo`) or act like `connect` with it.
    Listen {
        /// The local address and port to listen on (port 0 picks one).
        address: SocketAddr,
        /// Echo the peer's bytes back instead of using stdin/stdout.
        #[arg(long)]
        echo: bool,
        /// Password-secure options.
        #[command(flatten)]
        secure: SecureArgs,
        /// Server options.
        #[command(flatten)]
        server: ServerArgs,
        /// Which Spoke component carries the flow.
        #[command(flatten)]
        component: ComponentArgs,
    },
    /// Send FILE to a `spoke recv` over an encrypted flow.
    Send {
        /// The file to send.
        file: PathBuf,
        /// The receiver's HOST:PORT.
        #[arg(long)]
        to: String,
        /// Password options.
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Receive one file from a `spoke send` over an encrypted flow.
    Recv {
        /// The local ADDR:PORT to listen on.
        #[arg(long)]
        listen: SocketAddr,
        /// Where to store the file (default: the sender's file name in the
        /// current directory). Written only once complete and verified.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Password options.
        #[command(flatten)]
        password: PasswordArgs,
        /// Server options.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A password-secured tunnel for any TCP service (a stunnel). The
    /// entrance (`--listen ADDR:PORT --to HOST:PORT`) accepts plain
    /// connections and carries each, encrypted, to an exit; the exit
    /// (`--serve ADDR:PORT --target HOST:PORT`) connects each to the plain
    /// target. Runs until interrupted.
    #[command(group(clap::ArgGroup::new("side").required(true).args(["listen", "serve"])))]
    Tunnel {
        /// Entrance: the local ADDR:PORT where plain clients connect.
        #[arg(long, requires = "to", conflicts_with_all = ["serve", "target"])]
        listen: Option<SocketAddr>,
        /// Entrance: the exit's HOST:PORT.
        #[arg(long, requires = "listen")]
        to: Option<String>,
        /// Exit: the local ADDR:PORT where entrances connect.
        #[arg(long, requires = "target")]
        serve: Option<SocketAddr>,
        /// Exit: the plain service's HOST:PORT each connection goes to.
        #[arg(long, requires = "serve")]
        target: Option<String>,
        /// Password options.
        #[command(flatten)]
        password: PasswordArgs,
        /// Server options (used by the exit).
        #[command(flatten)]
        server: ServerArgs,
        /// Connection options.
        #[command(flatten)]
        connections: TunnelArgs,
    },
    /// Run a command component (one that exports `wasi:cli/run`, such as
    /// an application composed with the Spoke component) under a
    /// deny-by-default network policy: it may connect, listen and look up
    /// names only as the --allow options say. It gets spoke's standard
    /// streams, no files, and only the environment variables given with
    /// --env; spoke exits with its exit code.
    Run {
        /// Allow connecting to ADDR:PORT (repeatable).
        #[arg(long, value_name = "ADDR:PORT")]
        allow_connect: Vec<SocketAddr>,
        /// Allow listening on ADDR:PORT; port 0 allows any port on ADDR
        /// (repeatable).
        #[arg(long, value_name = "ADDR:PORT")]
        allow_listen: Vec<SocketAddr>,
        /// Allow looking up host names.
        #[arg(long)]
        allow_name_lookup: bool,
        /// Give the component an environment variable: NAME=VALUE, or NAME
        /// for spoke's own value (repeatable).
        #[arg(long, value_name = "NAME[=VALUE]")]
        env: Vec<String>,
        /// The component file (.wasm).
        component: PathBuf,
        /// Arguments for the component.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The reference's own demonstration: a server and a client in one
    /// process; the client sends FILE, the server echoes it back, the client
    /// checks it byte for byte and prints the throughput.
    Simulate {
        /// The file to send.
        file: PathBuf,
        /// The loopback ADDR:PORT the server listens on.
        address: SocketAddr,
        /// The shared password (this demonstration takes it on the command line).
        password: String,
        /// Use protocol version 1, as the OCaml reference does.
        #[arg(long)]
        compat: bool,
    },
}

/// Which of the two Spoke components runs a command.
#[derive(Args, Debug, Clone)]
pub struct ComponentArgs {
    /// The WASI version of the Spoke component to run: 0.2 (flows, the
    /// default) or 0.3 (streams and futures). Both speak the same protocol.
    #[arg(long, value_name = "VERSION", default_value = "0.2", value_parser = ["0.2", "0.3"])]
    pub wasi: String,
}

impl ComponentArgs {
    /// Whether the WASI 0.3 component is asked for.
    pub fn p3(&self) -> bool {
        self.wasi == "0.3"
    }
}

/// Options that turn a plain flow into an encrypted one.
#[derive(Args, Debug, Clone)]
pub struct SecureArgs {
    /// Encrypt the flow with a password (SPAKE2+EE, then AEAD records).
    #[arg(long)]
    pub secure: bool,
    /// Password options (imply nothing unless --secure or --compat).
    #[command(flatten)]
    pub password: PasswordArgs,
}

impl SecureArgs {
    /// Whether the flow is to be encrypted.
    pub fn enabled(&self) -> bool {
        self.secure || self.password.compat
    }
}

/// Where the password comes from and who the two ends are.
#[derive(Args, Debug, Clone)]
pub struct PasswordArgs {
    /// Read the password from the first line of this file (else from
    /// $SPOKE_PASSWORD, else from a prompt on the terminal).
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// The client and server identities bound into the handshake; both ends
    /// must give the same pair.
    #[arg(
        long,
        value_name = "CLIENT,SERVER",
        default_value = "spoke-client,spoke-server"
    )]
    pub identity: String,
    /// Speak protocol version 1, to talk to OCaml spoke peers (implies --secure).
    #[arg(long)]
    pub compat: bool,
}

impl PasswordArgs {
    /// The identity pair, split at its comma.
    pub fn identities(&self) -> anyhow::Result<(String, String)> {
        match self.identity.split_once(',') {
            Some((client, server)) if !client.contains(',') && !server.contains(',') => {
                Ok((client.to_owned(), server.to_owned()))
            }
            _ => anyhow::bail!(
                "--identity takes CLIENT,SERVER (two names and one comma), not {:?}",
                self.identity
            ),
        }
    }
}

/// Options of the listening (server) side of a secure flow.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The ciphers to use, server-to-client then client-to-server: each one
    /// of chacha20-poly1305, aes256-gcm, aes256-ccm.
    #[arg(
        long,
        value_name = "S2C,C2S",
        default_value = "chacha20-poly1305,chacha20-poly1305"
    )]
    pub ciphers: String,
    /// The PBKDF2 iteration count clients must run.
    #[arg(long, default_value_t = 16)]
    pub iterations: u64,
    /// How long a client has to finish the handshake before the server
    /// drops it: seconds, or a number with ms, s, m or h. (A tunnel
    /// entrance waits at least 30 s for its exit.)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,
    /// How many failed handshakes that may have tested a password (the
    /// server had answered the client's key share) the server takes: in
    /// total for `listen` and `recv` (default 10; the server then stops),
    /// per hour for `tunnel --serve` (default 60; handshakes then pause
    /// until the oldest such failure is an hour old).
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u32>,
    /// How long an address that failed a handshake must wait before its
    /// next one; it doubles with every further failure in a row, up to 5
    /// minutes (10 for a tunnel), and a success resets it. 0 turns it off.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub failure_delay: Duration,
}

impl ServerArgs {
    /// The failed-handshake limits for these options, starting from
    /// `base` (the command's kind of server).
    pub fn guard(&self, base: GuardConfig) -> GuardConfig {
        GuardConfig {
            max_failures: self.max_failures.unwrap_or(base.max_failures),
            delay: self.failure_delay,
            ..base
        }
    }
}

/// Options of a tunnel's connections.
#[derive(Args, Debug, Clone)]
pub struct TunnelArgs {
    /// Drop a tunnelled connection when no byte has moved either way for
    /// this long (default: never): seconds, or a number with ms, s, m or h.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// How many connections are tunnelled at once; more wait in the
    /// listen backlog until one ends.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,
    /// How many handshakes run at once; more wait for a slot, holding only
    /// their socket (the handshake timeout starts with the slot).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_handshakes: usize,
}

/// A duration on the command line: seconds (`5`, `2.5`), or a number with
/// a unit (`500ms`, `5s`, `2m`, `1h`).
pub fn parse_duration(arg: &str) -> Result<Duration, String> {
    let arg = arg.trim();
    let split = arg
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(arg.len());
    let (number, unit) = arg.split_at(split);
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit {other:?}: use ms, s, m or h")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{arg:?} is not a duration such as 5, 2.5s or 500ms"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{arg:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn identities_split_at_their_one_comma() {
        let args = |identity: &str| PasswordArgs {
            password_file: None,
            identity: identity.into(),
            compat: false,
        };
        assert_eq!(
            args("alice,bob").identities().unwrap(),
            ("alice".into(), "bob".into())
        );
        assert_eq!(args(",").identities().unwrap(), ("".into(), "".into()));
        assert!(args("alice").identities().is_err());
        assert!(args("a,b,c").identities().is_err());
    }

    #[test]
    fn durations_are_seconds_or_a_number_with_a_unit() {
        let ms = |arg: &str| parse_duration(arg).map(|d| d.as_millis());
        assert_eq!(ms("5"), Ok(5000));
        assert_eq!(ms("2.5s"), Ok(2500));
        assert_eq!(ms("500ms"), Ok(500));
        assert_eq!(ms("2m"), Ok(120_000));
        assert_eq!(ms("1h"), Ok(3_600_000));
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1").is_err());
    }
}
