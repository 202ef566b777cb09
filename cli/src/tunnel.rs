//! `spoke tunnel`: the command-line face of [`spoke_host::tunnel`]. Turns
//! the arguments into a listener, a next hop and a [`TunnelConfig`], and
//! runs one tunnel end until interrupted. The per-connection work (and its
//! network policies) is the library's.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use spoke_host::guard::GuardConfig;
use spoke_host::tunnel::{self, TunnelConfig};
use tokio::net::TcpListener;

use crate::cli::{PasswordArgs, ServerArgs, TunnelArgs};
use crate::malloc::Trimmer;
use crate::password;
use crate::session::{self, Target};

/// Which end to run, with its two addresses.
pub enum Side {
    /// Plain clients connect on `listen`; connections go to the exit `to`.
    Entrance {
        /// The local address for plain clients.
        listen: SocketAddr,
        /// The exit's HOST:PORT.
        to: String,
    },
    /// Entrances connect on `serve`; connections go to the plain `target`.
    Exit {
        /// The local address for entrances.
        serve: SocketAddr,
        /// The plain service's HOST:PORT.
        target: String,
    },
}

/// Runs one tunnel end until Ctrl-C. Each failed connection is one line on
/// stderr with its number; none of them stops the tunnel.
pub async fn run(
    side: Side,
    password: &PasswordArgs,
    server: &ServerArgs,
    connections: &TunnelArgs,
) -> Result<()> {
    let pw = password::obtain(password.password_file.as_deref(), false)?;
    let (kind, local, next) = match &side {
        Side::Entrance { listen, to } => (tunnel::Side::Entrance, *listen, to.as_str()),
        Side::Exit { serve, target } => (tunnel::Side::Exit, *serve, target.as_str()),
    };
    let next = Target::resolve(next).await?;
    let handshake = match kind {
        tunnel::Side::Entrance => session::config(password, None)?,
        tunnel::Side::Exit => session::config(password, Some(server))?,
    };
    let (client, server_id) = password.identities()?;
    let spoke = session::load()?;
    let listener = TcpListener::bind(local)
        .await
        .with_context(|| format!("listening on {local}"))?;
    let bound = listener.local_addr().context("the listening address")?;
    let trimmer = Trimmer::default();
    let config = TunnelConfig::new(next.addresses.iter().copied(), &pw)
        .identities(&client, &server_id)
        .handshake(handshake)
        .handshake_timeout(server.handshake_timeout)
        .idle_timeout(connections.idle_timeout)
        .max_connections(connections.max_connections)
        .max_handshakes(connections.max_handshakes)
        .guard(Some(server.guard(GuardConfig::service())))
        .on_report(move |report| {
            if report.failure.is_some() {
                eprintln!("spoke tunnel: {report}");
            }
            trimmer.connection_ended();
        });
    drop(pw);
    eprintln!(
        "spoke: tunnel {kind} listening on {bound}, carrying connections to {}:{}",
        next.host, next.port
    );
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match kind {
        tunnel::Side::Entrance => tunnel::run_entrance(spoke, listener, config, stop).await,
        tunnel::Side::Exit => tunnel::run_exit(spoke, listener, config, stop).await,
    }
    Ok(())
}
