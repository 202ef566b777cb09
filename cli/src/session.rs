//! What the subcommands share: turning their arguments into a network
//! policy, an instance, and (when asked) an encrypted flow.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use spoke_host::guard::{Admission, Guard, GuardConfig, could_have_guessed};
use spoke_host::{
    Cipher, Flow, FlowError, HandshakeError, Instance, Listener, NetworkPolicy, Role, Spoke,
    SpokeConfig, SpokeP3,
};
use zeroize::Zeroizing;

use crate::cli::{PasswordArgs, ServerArgs};

/// A `HOST:PORT` argument, split and resolved on the host.
pub struct Target {
    /// The name or IP literal, without brackets.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The addresses the host resolves to (just the literal for an IP).
    pub addresses: Vec<SocketAddr>,
}

impl Target {
    /// Parses `HOST:PORT` (`[::1]:PORT` for IPv6) and resolves it.
    pub async fn resolve(arg: &str) -> Result<Target> {
        let (host, port) = arg
            .rsplit_once(':')
            .ok_or_else(|| anyhow!("{arg:?} is not HOST:PORT"))?;
        let port: u16 = port
            .parse()
            .with_context(|| format!("{port:?} in {arg:?} is not a port number"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            bail!("{arg:?} has no host");
        }
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .with_context(|| format!("cannot resolve {host:?}"))?
            .collect();
        if addresses.is_empty() {
            bail!("{host:?} resolves to no address");
        }
        Ok(Target {
            host,
            port,
            addresses,
        })
    }

    /// A policy that allows connecting to this target and nothing else
    /// (plus the name lookup, when the target is a name).
    pub fn policy(&self) -> NetworkPolicy {
        let is_literal = self.host.parse::<std::net::IpAddr>().is_ok();
        let mut policy = NetworkPolicy::deny_all().allow_name_lookup(!is_literal);
        for addr in &self.addresses {
            policy = policy.allow_connect(*addr);
        }
        policy
    }
}

/// Compiles the component, with the on-disk compilation cache when there
/// is a cache directory to use.
pub fn load() -> Result<Spoke> {
    cached(Spoke::with_options).context("cannot load the Spoke component")
}

/// Compiles the WASI 0.3 component, with the on-disk compilation cache
/// when there is a cache directory to use.
pub fn load_p3() -> Result<SpokeP3> {
    cached(SpokeP3::with_options).context("cannot load the Spoke component for WASI 0.3")
}

/// `load` with the user's cache directory, or without a cache if that
/// fails (an unwritable directory, say).
fn cached<T>(load: impl Fn(spoke_host::Options) -> Result<T>) -> Result<T> {
    let cache_dir = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .map(|d| d.join("spoke"));
    let options = spoke_host::Options {
        cache_dir,
        ..Default::default()
    };
    load(options.clone()).or_else(|_| {
        load(spoke_host::Options {
            cache_dir: None,
            ..options
        })
    })
}

/// The handshake configuration for these arguments.
pub fn config(password: &PasswordArgs, server: Option<&ServerArgs>) -> Result<SpokeConfig> {
    let mut cfg = SpokeConfig::default();
    if password.compat {
        cfg.version = 1;
    }
    if let Some(server) = server {
        let (s2c, c2s) = server
            .ciphers
            .split_once(',')
            .ok_or_else(|| anyhow!("--ciphers takes S2C,C2S, not {:?}", server.ciphers))?;
        cfg.server_to_client = parse_cipher(s2c)?;
        cfg.client_to_server = parse_cipher(c2s)?;
        cfg.iterations = server.iterations;
    }
    Ok(cfg)
}

/// A cipher by its command-line name.
pub fn parse_cipher(name: &str) -> Result<Cipher> {
    match name.trim() {
        "chacha20-poly1305" | "chacha20_poly1305" | "chacha" => Ok(Cipher::Chacha20Poly1305),
        "aes256-gcm" | "aes-256-gcm" | "gcm" => Ok(Cipher::Aes256Gcm),
        "aes256-ccm" | "aes-256-ccm" | "ccm" => Ok(Cipher::Aes256Ccm),
        other => bail!("unknown cipher {other:?}: use chacha20-poly1305, aes256-gcm or aes256-ccm"),
    }
}

/// A cipher's name as the command line spells it.
pub fn cipher_name(c: Cipher) -> &'static str {
    match c {
        Cipher::Chacha20Poly1305 => "chacha20-poly1305",
        Cipher::Aes256Gcm => "aes256-gcm",
        Cipher::Aes256Ccm => "aes256-ccm",
    }
}

/// Runs the handshake over `flow` and returns the encrypted flow.
pub async fn secure(
    instance: &mut Instance,
    flow: Flow,
    role: Role,
    args: &PasswordArgs,
    password: &Zeroizing<Vec<u8>>,
    cfg: &SpokeConfig,
) -> Result<Flow> {
    let (client, server) = args.identities()?;
    let ids = (client.as_str(), server.as_str());
    let secured = match role {
        Role::Client => instance.spoke_client(flow, ids, password, cfg).await,
        Role::Server => instance.spoke_server(flow, ids, password, cfg).await,
    };
    secured.map_err(|e| anyhow!("handshake failed: {e}{}", hint(&e, role)))
}

/// What a user can do about a handshake failure, when there is something.
pub fn hint(e: &HandshakeError, role: Role) -> &'static str {
    match (e, role) {
        (HandshakeError::InvalidClientValidator | HandshakeError::InvalidServerValidator, _) => {
            " (the two ends have different passwords or different --identity pairs)"
        }
        (HandshakeError::EndOfInput, Role::Server) => {
            " (the client hung up: most often it has a different password or --identity pair)"
        }
        (HandshakeError::EndOfInput, Role::Client) => {
            " (the server hung up: a different password or --identity pair, or it refuses this \
             address for a while after failed handshakes)"
        }
        (HandshakeError::Flow(FlowError::TimedOut), _) => {
            " (the peer did not finish the handshake in time)"
        }
        (HandshakeError::VersionMismatch { .. }, _) => {
            " (use --compat on both ends, or on neither)"
        }
        _ => "",
    }
}

/// Runs the handshake that `args` (and, on a server, `server`) describe.
pub async fn upgrade(
    instance: &mut Instance,
    flow: Flow,
    role: Role,
    args: &PasswordArgs,
    server: Option<&ServerArgs>,
    password: &Zeroizing<Vec<u8>>,
) -> Result<Flow> {
    let cfg = config(args, server)?;
    secure(instance, flow, role, args, password, &cfg).await
}

/// Accepts peers on `listener` until one completes the server handshake,
/// and returns its encrypted flow. Each peer goes through a [`Gate`].
pub async fn accept_secure(
    instance: &mut Instance,
    listener: &Listener,
    bound: SocketAddr,
    args: &PasswordArgs,
    server: &ServerArgs,
    password: &Zeroizing<Vec<u8>>,
) -> Result<Flow> {
    let cfg = config(args, Some(server))?;
    let (client, server_id) = args.identities()?;
    let ids = (client.as_str(), server_id.as_str());
    let mut gate = Gate::new(server);
    loop {
        let flow = instance
            .accept(listener)
            .await
            .map_err(|e| anyhow!("accepting on {bound}: {e}"))?;
        let peer = instance
            .remote_address(&flow)
            .await
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        if !gate.admit(peer).await? {
            instance.close(flow).await;
            continue;
        }
        match instance
            .spoke_server_within(flow, ids, password, &cfg, gate.timeout)
            .await
        {
            Ok(secure) => {
                gate.succeeded(peer);
                return Ok(secure);
            }
            Err(e) => gate.failed(peer, &e)?,
        }
    }
}

/// What a server that takes one peer at a time (`listen --secure`,
/// `recv`) does about failed handshakes. A peer whose handshake fails or
/// times out costs one line on stderr; an address that failed recently
/// waits before its next handshake, or is turned away if that wait is
/// longer than the handshake timeout; and once the server has had as many
/// failed handshakes as `--max-failures` allows, it stops with an error
/// rather than let anyone go on guessing the password.
pub struct Gate {
    guard: Guard,
    /// How long a peer's handshake may take.
    pub timeout: Duration,
}

impl Gate {
    /// The gate for `server`'s options.
    pub fn new(server: &ServerArgs) -> Self {
        Self {
            guard: Guard::new(server.guard(GuardConfig::one_peer())),
            timeout: server.handshake_timeout,
        }
    }

    /// Waits until `peer` may start its handshake: `false` if it is turned
    /// away (said on stderr; close its connection), an error if the server
    /// must stop.
    pub async fn admit(&mut self, peer: SocketAddr) -> Result<bool> {
        match self.guard.admit(peer.ip(), Instant::now()) {
            Admission::Now => Ok(true),
            Admission::After(wait) if wait <= self.timeout => {
                tokio::time::sleep(wait).await;
                Ok(true)
            }
            Admission::After(wait) => {
                eprintln!(
                    "spoke: {peer}: refused: its address failed handshakes recently and may \
                     retry in {} s",
                    spoke_host::guard::whole_seconds(wait)
                );
                Ok(false)
            }
            Admission::Refuse(why) => bail!("stopping: {why}"),
        }
    }

    /// Says on stderr how `peer`'s handshake failed and counts it: an
    /// error once the server must stop.
    pub fn failed(&mut self, peer: SocketAddr, e: &HandshakeError) -> Result<()> {
        match e {
            HandshakeError::Flow(FlowError::TimedOut) => eprintln!(
                "spoke: {peer}: handshake timed out after {:.1} s",
                self.timeout.as_secs_f64()
            ),
            e => eprintln!(
                "spoke: {peer}: handshake failed: {e}{}",
                hint(e, Role::Server)
            ),
        }
        let now = Instant::now();
        if !could_have_guessed(e) {
            self.guard.misbehaved(peer.ip(), now);
        } else if let Some(why) = self.guard.failed(peer.ip(), now) {
            bail!("stopping: {why}");
        }
        Ok(())
    }

    /// Records that `peer` completed its handshake.
    pub fn succeeded(&mut self, peer: SocketAddr) {
        self.guard.succeeded(peer.ip());
    }
}

/// A new instance whose policy allows listening on `address` and nothing
/// else, listening there; with the address it is bound to (the chosen port
/// for port 0).
pub async fn listen_on(
    spoke: &Spoke,
    address: SocketAddr,
) -> Result<(Instance, Listener, SocketAddr)> {
    let mut instance = spoke
        .instantiate(NetworkPolicy::deny_all().allow_listen(address))
        .await?;
    let listener = instance
        .listen(address)
        .await
        .map_err(|e| anyhow!("listening on {address}: {e}"))?;
    let bound = instance
        .listener_address(&listener)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    Ok((instance, listener, bound))
}

/// "server-to-client/client-to-server" cipher names of a flow.
pub async fn describe_ciphers(instance: &mut Instance, flow: &Flow) -> String {
    match instance.ciphers(flow).await {
        Some((s2c, c2s)) if s2c == c2s => cipher_name(s2c).to_owned(),
        Some((s2c, c2s)) => format!(
            "{} (server to client) / {} (client to server)",
            cipher_name(s2c),
            cipher_name(c2s)
        ),
        None => "none".to_owned(),
    }
}
