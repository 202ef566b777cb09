//! `spoke connect` and `spoke listen` through the WASI 0.3 component
//! (`--wasi 0.3`): the connection, or the session over it, is a tokio
//! stream of `spoke_host::p3`, and standard input and output are copied to
//! and from it at once. Standard input's end half-closes the stream; the
//! peer's end does not cut short what standard input still has to send.

use std::net::SocketAddr;

use anyhow::{Result, anyhow};
use spoke_host::p3::{Connection, Listener, Stream};
use spoke_host::{NetworkPolicy, Role};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use zeroize::Zeroizing;

use crate::cli::{PasswordArgs, ServerArgs};
use crate::session::{self, Gate, Target};
use crate::stdio;

/// How much one copy step moves: as much as the 0.2 component's steps.
const CHUNK: usize = 256 * 1024;

/// `spoke connect --wasi 0.3`: a netcat to `target`, secured with
/// `password` if there is one.
pub async fn connect(
    target: &str,
    args: &PasswordArgs,
    password: Option<&Zeroizing<Vec<u8>>>,
) -> Result<()> {
    let target = Target::resolve(target).await?;
    let instance = session::load_p3()?.instantiate(target.policy()).await?;
    let connection = instance
        .connect(&target.host, target.port)
        .await
        .map_err(|e| anyhow!("connecting to {}:{}: {e}", target.host, target.port))?;
    let stream = upgrade(connection, args, password).await?;
    pipe(stream).await
}

/// `spoke listen --wasi 0.3`: one peer accepted on `address`, echoed or
/// used as a netcat, secured with `password` if there is one (then the
/// first peer that completes the handshake, as with WASI 0.2).
pub async fn listen(
    address: SocketAddr,
    echo: bool,
    args: &PasswordArgs,
    server: &ServerArgs,
    password: Option<&Zeroizing<Vec<u8>>>,
) -> Result<()> {
    let policy = NetworkPolicy::deny_all().allow_listen(address);
    let instance = session::load_p3()?.instantiate(policy).await?;
    let listener = instance
        .listen(address)
        .await
        .map_err(|e| anyhow!("listening on {address}: {e}"))?;
    let bound = listener.local_addr();
    eprintln!("spoke: listening on {bound}");
    let stream = match password {
        Some(password) => accept_secure(&listener, args, server, password).await?,
        None => listener
            .accept()
            .await
            .map_err(|e| anyhow!("accepting on {bound}: {e}"))?
            .into_stream(),
    };
    drop(listener);
    if echo {
        let (reader, mut writer) = stream.into_split();
        copy(reader, &mut writer)
            .await
            .map_err(|e| anyhow!("echo: {e}"))?;
        writer.shutdown().await.map_err(|e| anyhow!("echo: {e}"))
    } else {
        pipe(stream).await
    }
}

/// Accepts peers on `listener` until one completes the server handshake,
/// each through a [`Gate`], and returns its session.
async fn accept_secure(
    listener: &Listener,
    args: &PasswordArgs,
    server: &ServerArgs,
    password: &Zeroizing<Vec<u8>>,
) -> Result<Stream> {
    let cfg = session::config(args, Some(server))?;
    let (client, server_id) = args.identities()?;
    let ids = (client.as_str(), server_id.as_str());
    let mut gate = Gate::new(server);
    loop {
        let connection = listener
            .accept()
            .await
            .map_err(|e| anyhow!("accepting on {}: {e}", listener.local_addr()))?;
        let peer = connection.peer_addr();
        if !gate.admit(peer).await? {
            continue;
        }
        match connection
            .secure_server_within(ids, password, &cfg, gate.timeout)
            .await
        {
            Ok(stream) => {
                gate.succeeded(peer);
                return Ok(stream);
            }
            Err(e) => gate.failed(peer, &e)?,
        }
    }
}

/// The plain stream of `connection`, or the client side of a session over
/// it when there is a password.
async fn upgrade(
    connection: Connection,
    args: &PasswordArgs,
    password: Option<&Zeroizing<Vec<u8>>>,
) -> Result<Stream> {
    let Some(password) = password else {
        return Ok(connection.into_stream());
    };
    let cfg = session::config(args, None)?;
    let (client, server) = args.identities()?;
    let ids = (client.as_str(), server.as_str());
    connection
        .secure_client(ids, password, &cfg)
        .await
        .map_err(|e| anyhow!("handshake failed: {e}{}", session::hint(&e, Role::Client)))
}

/// Standard input to `stream` (then a half-close) and `stream` to standard
/// output, at once, until both have ended.
async fn pipe(stream: Stream) -> Result<()> {
    let (reader, mut writer) = stream.into_split();
    let sending = async {
        copy(stdio::stdin(), &mut writer)
            .await
            .map_err(|e| anyhow!("sending standard input: {e}"))?;
        writer.shutdown().await.map_err(|e| anyhow!("sending: {e}"))
    };
    let receiving = async {
        let mut output = stdio::stdout();
        copy(reader, &mut output)
            .await
            .map_err(|e| anyhow!("receiving: {e}"))?;
        output
            .flush()
            .await
            .map_err(|e| anyhow!("writing standard output: {e}"))
    };
    let (sent, received) = tokio::join!(sending, receiving);
    received.and(sent)
}

/// Copies `from` to `to` in steps of up to [`CHUNK`] bytes until `from`
/// ends; returns the bytes copied.
async fn copy(
    from: impl AsyncRead + Unpin,
    to: &mut (impl AsyncWrite + Unpin),
) -> std::io::Result<u64> {
    let mut from = BufReader::with_capacity(CHUNK, from);
    tokio::io::copy_buf(&mut from, to).await
}
