//! The spoke layer of the WASI 0.3 component over transports of the host's,
//! as OCaml's `Flow.Make` takes any flow: two sessions over an in-memory
//! `tokio::io::duplex` pair, from instances that may not touch the network
//! at all, and one over a host socket against the native core.

mod common;
#[path = "common/p3.rs"]
mod p3common;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use common::{pattern, within};
use p3common::{echo_back, exchange, spoke_p3};
use spoke_host::p3::{Instance, Stream};
use spoke_host::{Cipher, FlowError, HandshakeError, NetworkPolicy, SpokeConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

const IDS: (&str, &str) = ("alice", "bob");
const PASSWORD: &[u8] = b"correct horse battery staple";

/// An instance that may not connect, listen or resolve anything.
async fn offline() -> Instance {
    spoke_p3()
        .instantiate(NetworkPolicy::deny_all())
        .await
        .unwrap()
}

/// Both handshakes over one in-memory duplex pair: (server, client).
async fn over_duplex(
    server_password: &[u8],
    client_password: &[u8],
    cfg: &SpokeConfig,
) -> (
    Result<Stream, HandshakeError>,
    Result<Stream, HandshakeError>,
) {
    let (server, client) = (offline().await, offline().await);
    let (a, b) = tokio::io::duplex(64 * 1024);
    within("both handshakes", async {
        tokio::join!(
            server.secure_server_over(a, IDS, server_password, cfg),
            client.secure_client_over(b, IDS, client_password, cfg)
        )
    })
    .await
}

async fn echo_over_duplex(len: usize, cfg: SpokeConfig) {
    let (server, client) = over_duplex(PASSWORD, PASSWORD, &cfg).await;
    let (server, client) = (server.unwrap(), client.unwrap());
    assert_eq!(client.established().map(|e| e.version), Some(cfg.version));
    let serving = tokio::spawn(echo_back(server));
    let data = pattern(len);
    let back = within("the echo", exchange(client, &data)).await.unwrap();
    within("the server", serving).await.unwrap().unwrap();
    assert_eq!(back.len(), data.len(), "echoed length");
    assert!(back == data, "the echoed bytes differ from those sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_over_a_duplex_pair_echo_every_size_without_a_socket() {
    within(
        "two sessions over a duplex pair echo every size without a socket",
        async move {
            for len in [0, 1, 65535, 65536, 65537, 262143, 262144, 262145] {
                echo_over_duplex(len, SpokeConfig::default()).await;
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mebibytes_cross_a_duplex_pair_intact() {
    within(
        "sixty four mebibytes cross a duplex pair intact",
        async move {
            echo_over_duplex(64 << 20, SpokeConfig::default()).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cipher_pair_works_over_a_duplex_pair_in_both_versions() {
    within(
        "every cipher pair works over a duplex pair in both versions",
        async move {
            let ciphers = [
                Cipher::Chacha20Poly1305,
                Cipher::Aes256Gcm,
                Cipher::Aes256Ccm,
            ];
            for version in [1, 2] {
                for server_to_client in ciphers {
                    for client_to_server in ciphers {
                        let cfg = SpokeConfig {
                            version,
                            server_to_client,
                            client_to_server,
                            iterations: 2,
                            ..SpokeConfig::default()
                        };
                        echo_over_duplex(100_000, cfg).await;
                    }
                }
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_over_a_duplex_pair_sends_the_close_marker() {
    within(
        "half close over a duplex pair sends the close marker",
        async move {
            let (server, client) = over_duplex(PASSWORD, PASSWORD, &SpokeConfig::default()).await;
            let (mut server, mut client) = (server.unwrap(), client.unwrap());
            client.write_all(b"question").await.unwrap();
            within("the client's shutdown", client.shutdown())
                .await
                .unwrap();
            let mut got = Vec::new();
            within("the server's read", server.read_to_end(&mut got))
                .await
                .unwrap();
            assert_eq!(got, b"question", "an authenticated end, not a truncation");
            server.write_all(b"answer").await.unwrap();
            server.shutdown().await.unwrap();
            let mut got = Vec::new();
            within("the client's read", client.read_to_end(&mut got))
                .await
                .unwrap();
            assert_eq!(got, b"answer");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_over_a_duplex_pair_fails_both_handshakes() {
    within(
        "a wrong password over a duplex pair fails both handshakes",
        async move {
            let (server, client) = over_duplex(b"right", b"wrong", &SpokeConfig::default()).await;
            assert_eq!(
                client.unwrap_err(),
                HandshakeError::InvalidClientValidator,
                "the client checks the server's validator"
            );
            assert_eq!(
                server.unwrap_err(),
                HandshakeError::EndOfInput,
                "the server sees the client end the transport"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_still_hands_the_last_bytes_on_and_ends_the_transport() {
    within("the whole exchange", async move {
        let (server, client) = over_duplex(PASSWORD, PASSWORD, &SpokeConfig::default()).await;
        let (mut server, mut client) = (server.unwrap(), client.unwrap());
        // The client's instance is dropped with the stream: nothing of the
        // client side is left but what is still on its way.
        client.write_all(b"last words").await.unwrap();
        drop(client);
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words", "an authenticated end after the bytes");
        // The client's side of the transport is gone: writing fails.
        let data = pattern(1 << 20);
        let err = loop {
            if let Err(e) = server.write_all(&data).await {
                break e;
            }
        };
        assert!(!err.to_string().is_empty());
    })
    .await;
}

/// A transport whose reads fail with a reset and whose writes go nowhere.
struct Resetting;

impl AsyncRead for Resetting {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
    }
}

impl AsyncWrite for Resetting {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_transport_that_fails_fails_the_handshake_with_its_error() {
    within(
        "a transport that fails fails the handshake with its error",
        async move {
            let client = offline().await;
            let err = within(
                "the handshake",
                client.secure_client_over(Resetting, IDS, PASSWORD, &SpokeConfig::default()),
            )
            .await
            .unwrap_err();
            assert_eq!(err, HandshakeError::Flow(FlowError::ConnectionReset));
            assert_eq!(client.failure(), None);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_over_a_host_socket_talks_to_the_native_core() {
    within(
        "a session over a host socket talks to the native core",
        async move {
            use spoke_protocol::stream::SecureStream;
            use std::io::{Read, Write};
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let native = std::thread::spawn(move || {
                let (sock, _) = listener.accept().unwrap();
                let ids = spoke_protocol::Identities {
                    client: IDS.0.as_bytes().to_vec(),
                    server: IDS.1.as_bytes().to_vec(),
                };
                let core = spoke_protocol::Config {
                    iterations: 2,
                    ..Default::default()
                };
                let (mut r, mut w) = SecureStream::server(sock, &core, ids, PASSWORD)
                    .expect("native server handshake")
                    .split();
                let mut buf = vec![0; 1 << 16];
                loop {
                    match r.read(&mut buf).expect("native read") {
                        0 => break,
                        n => w.write_all(&buf[..n]).expect("native write"),
                    }
                }
                w.shutdown_write().unwrap();
            });
            // The host owns the socket; the instance may not touch the network.
            let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
            let client = offline().await;
            let stream = within(
                "the handshake",
                client.secure_client_over(socket, IDS, PASSWORD, &SpokeConfig::default()),
            )
            .await
            .unwrap();
            let data = pattern(1 << 20);
            let back = within("the native echo", exchange(stream, &data))
                .await
                .unwrap();
            assert!(back == data, "the native server echoed intact");
            native.join().unwrap();
        },
    )
    .await;
}
