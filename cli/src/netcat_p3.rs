//! `spoke connect` and `spoke listen` through the WASI 0.3 component
//! (`--wasi 0.3`): the connection, or the session over it, is a tokio
//! stream of `spoke_host::p3`, and standard input and output are copied to
//! and from it at once. Standard input's end half-closes the stream; the
//! peer's end does not cut short what standard input still has to send.

use std::net::SocketAddr;

use anyhow::{Result, anyhow};
use spoke_host::p3::{Connection, Stream};
use spoke_host::{NetworkPolicy, Role};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use zeroize::Zeroizing;

use crate::cli::{PasswordArgs, ServerArgs};
use crate::session::{self, Target};
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
    let stream = upgrade(connection, Role::Client, args, None, password).await?;
    pipe(stream).await
}

/// `spoke listen --wasi 0.3`: one peer accepted on `address`, echoed or
/// used as a netcat, secured with `password` if there is one.
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
    let connection = listener
        .accept()
        .await
        .map_err(|e| anyhow!("accepting on {bound}: {e}"))?;
    drop(listener);
    let stream = upgrade(connection, Role::Server, args, Some(server), password).await?;
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

/// The plain stream of `connection`, or the session over it when there is
/// a password.
async fn upgrade(
    connection: Connection,
    role: Role,
    args: &PasswordArgs,
    server: Option<&ServerArgs>,
    password: Option<&Zeroizing<Vec<u8>>>,
) -> Result<Stream> {
    let Some(password) = password else {
        return Ok(connection.into_stream());
    };
    let cfg = session::config(args, server)?;
    let (client, server) = args.identities()?;
    let ids = (client.as_str(), server.as_str());
    let secured = match role {
        Role::Client => connection.secure_client(ids, password, &cfg).await,
        Role::Server => connection.secure_server(ids, password, &cfg).await,
    };
    secured.map_err(|e| anyhow!("handshake failed: {e}{}", session::hint(&e, role)))
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
