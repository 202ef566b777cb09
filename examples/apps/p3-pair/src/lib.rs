//! `p3-pair`: both ends of a Spoke session inside one application, over
//! streams it made itself, to show that the spoke layer runs over any
//! transport.
//!
//! ```text
//! p3-pair [--size BYTES] [--version 1|2] [--ciphers S2C,C2S] [--wrong-password]
//! ```
//!
//! The transport is two in-memory streams. The server session is started
//! first, over a stream this application writes; its stream for the peer is
//! the client session's incoming stream as it is; the client's stream for
//! the peer is copied into the server's by a small task (the one place a
//! byte passes through here), because the server's incoming stream must
//! exist before the client's output does.
//!
//! After both handshakes, each side sends `--size` bytes (default 1 MiB) of
//! a non-repeating pattern, a different one each way, then ends its
//! direction; each side checks every byte it receives and that its
//! direction ended cleanly. `--version` (default 2) and `--ciphers` (the
//! server-to-client then the client-to-server cipher, each one of
//! `chacha20-poly1305`, `aes256-gcm`, `aes256-ccm`; default ChaCha20-Poly1305
//! both ways) configure the server; both ends must agree on what the
//! handshake established.
//!
//! With `--wrong-password` the client's password differs from the
//! server's: the client must fail with `invalid-client-validator` and the
//! server, whose transport the failed client ends, with `end-of-input`.
//!
//! Prints one line on standard output saying what was checked, and exits
//! 0; on any mismatch or failure, one line on standard error and exit 1.

use std::pin::pin;

use futures::future::{Either, select};
use futures::{join, try_join};
use spoke_app_p3::io;
use spoke_app_p3::net;
use spoke_app_p3::spoke::{self, Cipher, Config, Established, HandshakeError, Identities, Session};
use spoke_app_p3::{Ending, StreamReader, StreamResult, StreamWriter, wit_stream};

const USAGE: &str =
    "usage: p3-pair [--size BYTES] [--version 1|2] [--ciphers S2C,C2S] [--wrong-password]";

/// The server's password.
const PASSWORD: &[u8] = b"p3-pair: the password both ends share";
/// What the client gives with `--wrong-password`.
const WRONG_PASSWORD: &[u8] = b"p3-pair: not the password";
/// How much each write and each check takes at most.
const CHUNK: usize = 64 * 1024;
/// Where each direction's pattern starts, so that the two differ.
const CLIENT_TO_SERVER: u64 = 0;
const SERVER_TO_CLIENT: u64 = 1 << 40;

struct P3Pair;

spoke_app_p3::export!(P3Pair with_types_in spoke_app_p3::bindings);

impl spoke_app_p3::Run for P3Pair {
    async fn run() -> Result<(), ()> {
        io::run("p3-pair", p3_pair()).await
    }
}

struct Options {
    size: u64,
    wrong_password: bool,
    cfg: Config,
}

fn cipher(name: &str) -> Result<Cipher, String> {
    match name {
        "chacha20-poly1305" => Ok(Cipher::Chacha20Poly1305),
        "aes256-gcm" => Ok(Cipher::Aes256Gcm),
        "aes256-ccm" => Ok(Cipher::Aes256Ccm),
        other => Err(format!(
            "{other:?} is not a cipher (chacha20-poly1305, aes256-gcm or aes256-ccm)"
        )),
    }
}

fn cipher_name(c: Cipher) -> &'static str {
    match c {
        Cipher::Chacha20Poly1305 => "chacha20-poly1305",
        Cipher::Aes256Gcm => "aes256-gcm",
        Cipher::Aes256Ccm => "aes256-ccm",
    }
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut options = Options {
        size: 1 << 20,
        wrong_password: false,
        cfg: spoke::default_config(),
    };
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        let mut value = |what: &str| rest.next().ok_or(format!("{arg} takes {what}"));
        match arg.as_str() {
            "--size" => {
                let v = value("a number of bytes")?;
                options.size = v
                    .parse()
                    .map_err(|_| format!("--size: {v:?} is not a number of bytes"))?;
            }
            "--version" => {
                let v = value("1 or 2")?;
                options.cfg.version = match v.as_str() {
                    "1" => 1,
                    "2" => 2,
                    _ => return Err(format!("--version: {v:?} is not 1 or 2")),
                };
            }
            "--ciphers" => {
                let v = value("S2C,C2S")?;
                let (s2c, c2s) = v
                    .split_once(',')
                    .ok_or(format!("--ciphers takes S2C,C2S, not {v:?}"))?;
                options.cfg.server_to_client = cipher(s2c)?;
                options.cfg.client_to_server = cipher(c2s)?;
            }
            "--wrong-password" => options.wrong_password = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(options)
}

async fn p3_pair() -> Result<(), String> {
    let options = parse(io::args())?;
    let ids = Identities {
        client: "p3-pair-client".into(),
        server: "p3-pair-server".into(),
    };
    let client_password = match options.wrong_password {
        true => WRONG_PASSWORD,
        false => PASSWORD,
    };
    // The server first, over a stream written by `pump`; its output is the
    // client's incoming stream as it is.
    let (to_server, server_incoming) = wit_stream::new::<u8>();
    let (server, from_server) = Session::server(server_incoming, None, &ids, PASSWORD, options.cfg);
    let (client, from_client) =
        Session::client(from_server, None, &ids, client_password, options.cfg);

    let run = pin!(run(&options, &client, &server));
    let pump = pin!(pump(from_client, to_server));
    let summary = match select(run, pump).await {
        Either::Left((summary, _)) => summary,
        // The client's output ended first (it failed, or ended its
        // direction): the rest still needs to finish.
        Either::Right(((), run)) => run.await,
    }?;
    io::print_line(&format!("p3-pair: {summary}")).await
}

/// Both handshakes, then both directions, as the options say; what was
/// checked, in words.
async fn run(options: &Options, client: &Session, server: &Session) -> Result<String, String> {
    let (client_outcome, server_outcome) = join!(client.handshake(), server.handshake());
    if options.wrong_password {
        return wrong_password(client_outcome, server_outcome);
    }
    let client_established =
        client_outcome.map_err(|e| format!("client handshake: {}", net::handshake_error(&e)))?;
    let server_established =
        server_outcome.map_err(|e| format!("server handshake: {}", net::handshake_error(&e)))?;
    let cfg = &options.cfg;
    let wanted = Established {
        version: cfg.version,
        server_to_client: cfg.server_to_client,
        client_to_server: cfg.client_to_server,
    };
    for (side, got) in [
        ("client", client_established),
        ("server", server_established),
    ] {
        let same = got.version == wanted.version
            && got.server_to_client == wanted.server_to_client
            && got.client_to_server == wanted.client_to_server;
        if !same {
            return Err(format!(
                "the {side} established {}, not {}",
                describe(&got),
                describe(&wanted)
            ));
        }
    }

    let (to_client, to_client_end) = client.receive().await;
    let (to_server, to_server_end) = server.receive().await;
    let (client_writer, client_data) = wit_stream::new::<u8>();
    let client_sent = client.send(client_data).await;
    let (server_writer, server_data) = wit_stream::new::<u8>();
    let server_sent = server.send(server_data).await;
    let size = options.size;
    try_join!(
        produce("client", client_writer, size, CLIENT_TO_SERVER),
        produce("server", server_writer, size, SERVER_TO_CLIENT),
        check("server", to_server, size, CLIENT_TO_SERVER),
        check("client", to_client, size, SERVER_TO_CLIENT),
        direction("client sending", client_sent),
        direction("server sending", server_sent),
        direction("client receiving", to_client_end),
        direction("server receiving", to_server_end),
    )?;
    Ok(format!(
        "{}: {size} bytes each way arrived intact and both directions ended cleanly",
        describe(&wanted)
    ))
}

/// A wrong password: the client must find the server's validator wrong,
/// and the server must see its transport end.
fn wrong_password(
    client: Result<Established, HandshakeError>,
    server: Result<Established, HandshakeError>,
) -> Result<String, String> {
    let outcome = |r: &Result<Established, HandshakeError>| match r {
        Ok(e) => format!("established {}", describe(e)),
        Err(e) => net::handshake_error(e),
    };
    let said = format!("client: {}; server: {}", outcome(&client), outcome(&server));
    match (&client, &server) {
        (Err(HandshakeError::InvalidClientValidator), Err(HandshakeError::EndOfInput)) => {
            Ok(format!("a wrong password fails both sides: {said}"))
        }
        _ => Err(format!(
            "a wrong password must fail the client with a validator mismatch and the server with end of input; {said}"
        )),
    }
}

fn describe(e: &Established) -> String {
    format!(
        "version {}, {} server-to-client, {} client-to-server",
        e.version,
        cipher_name(e.server_to_client),
        cipher_name(e.client_to_server)
    )
}

/// Copies what the client session sends into the server's incoming
/// stream, until the client's output ends or the server stops reading;
/// then ends the server's incoming stream.
async fn pump(mut from: StreamReader<u8>, mut to: StreamWriter<u8>) {
    let mut buf = Vec::with_capacity(CHUNK);
    loop {
        let (result, back) = from.read(buf).await;
        buf = back;
        match result {
            StreamResult::Dropped => return,
            StreamResult::Complete(_) | StreamResult::Cancelled => {
                if buf.is_empty() {
                    continue;
                }
                let rest = to.write_all(std::mem::take(&mut buf)).await;
                if !rest.is_empty() {
                    return;
                }
                buf = rest;
            }
        }
    }
}

/// Byte `i` of the pattern that starts at `start`: a hash of its index,
/// so a dropped, repeated or reordered chunk shows.
fn pattern_byte(start: u64, i: u64) -> u8 {
    let x = (start + i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x ^ (x >> 29) ^ (x >> 47)) as u8
}

/// Writes `size` bytes of the pattern at `start` for `side`'s session to
/// send, then ends the stream (the session's half-close).
async fn produce(
    side: &str,
    mut writer: StreamWriter<u8>,
    size: u64,
    start: u64,
) -> Result<(), String> {
    let mut at = 0;
    while at < size {
        let n = (size - at).min(CHUNK as u64);
        let chunk: Vec<u8> = (at..at + n).map(|i| pattern_byte(start, i)).collect();
        if !writer.write_all(chunk).await.is_empty() {
            return Err(format!(
                "the {side} session stopped taking bytes after {at} of {size}"
            ));
        }
        at += n;
    }
    Ok(())
}

/// Reads everything `side`'s session received and checks it is `size`
/// bytes of the pattern at `start`, in order.
async fn check(
    side: &str,
    mut reader: StreamReader<u8>,
    size: u64,
    start: u64,
) -> Result<(), String> {
    let mut at = 0u64;
    let mut buf = Vec::with_capacity(CHUNK);
    loop {
        let (result, back) = reader.read(buf).await;
        buf = back;
        if let StreamResult::Dropped = result {
            break;
        }
        for (k, byte) in buf.iter().enumerate() {
            let i = at + k as u64;
            if i >= size {
                return Err(format!("the {side} received more than {size} bytes"));
            }
            if *byte != pattern_byte(start, i) {
                return Err(format!("the {side} received a wrong byte at offset {i}"));
            }
        }
        at += buf.len() as u64;
        buf.clear();
    }
    if at != size {
        return Err(format!("the {side} received {at} of {size} bytes"));
    }
    Ok(())
}

/// How a direction ended, as one line.
async fn direction(what: &str, ending: Ending) -> Result<(), String> {
    ending
        .await
        .map_err(|e| format!("{what}: {}", net::error(&e)))
}
