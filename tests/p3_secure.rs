//! The spoke layer of the WASI 0.3 component between two instances over
//! loopback TCP: every size around the buffer boundaries, every cipher
//! pair in both versions, and handshakes that fail cleanly (a wrong
//! password, another version, a refused iteration count).

mod common;
#[path = "common/p3.rs"]
mod p3common;

use common::{pattern, within};
use p3common::{connecting_to, echo_back, exchange, listening};
use spoke_host::p3::{Established, Stream};
use spoke_host::{Cipher, FlowError, HandshakeError, SpokeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IDS: (&str, &str) = ("alice", "bob");
const PASSWORD: &[u8] = b"correct horse battery staple";

fn config(version: u16, s2c: Cipher, c2s: Cipher) -> SpokeConfig {
    SpokeConfig {
        version,
        server_to_client: s2c,
        client_to_server: c2s,
        iterations: 2,
        ..SpokeConfig::default()
    }
}

/// A server and a client instance, connected over loopback, handshaken
/// with `server_cfg` and `client_cfg` and the given passwords.
async fn handshake(
    server_cfg: &SpokeConfig,
    server_password: &[u8],
    client_cfg: &SpokeConfig,
    client_password: &[u8],
) -> (
    Result<Stream, HandshakeError>,
    Result<Stream, HandshakeError>,
) {
    let (_server, listener, addr) = listening("127.0.0.1:0").await;
    let client = connecting_to(addr).await;
    let (accepted, connected) = tokio::join!(listener.accept(), client.connect_address(addr));
    within("both handshakes", async {
        tokio::join!(
            accepted
                .unwrap()
                .secure_server(IDS, server_password, server_cfg),
            connected
                .unwrap()
                .secure_client(IDS, client_password, client_cfg)
        )
    })
    .await
}

/// Both ends handshaken with `cfg`: (server, client).
async fn secure_pair(cfg: &SpokeConfig) -> (Stream, Stream) {
    let (s, c) = handshake(cfg, PASSWORD, cfg, PASSWORD).await;
    (s.expect("server handshake"), c.expect("client handshake"))
}

/// Sends `len` bytes from the client to a server that echoes them as they
/// come, and checks they all come back, then the end.
async fn echo(len: usize, cfg: SpokeConfig) {
    let data = pattern(len);
    let (server, client) = secure_pair(&cfg).await;
    let serving = tokio::spawn(echo_back(server));
    let back = within("the echo", exchange(client, &data)).await.unwrap();
    within("the server", serving).await.unwrap().unwrap();
    assert_eq!(back.len(), data.len(), "echoed length");
    assert!(back == data, "the echoed bytes differ from those sent");
}

const K64: usize = 64 * 1024;
const K256: usize = 256 * 1024;

macro_rules! sizes {
    ($($name:ident = $len:expr;)*) => {
        mod version_2 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::within(stringify!($name), super::echo($len, super::SpokeConfig::default())).await;
            })*
        }
        mod version_1 {
            use spoke_host::Cipher;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let cfg = super::config(1, Cipher::Aes256Gcm, Cipher::Chacha20Poly1305);
                super::within(stringify!($name), super::echo($len, cfg)).await;
            })*
        }
    };
}

sizes! {
    echo_zero_bytes = 0;
    echo_one_byte = 1;
    echo_64k_minus_one = super::K64 - 1;
    echo_64k = super::K64;
    echo_64k_plus_one = super::K64 + 1;
    echo_256k_minus_one = super::K256 - 1;
    echo_256k = super::K256;
    echo_256k_plus_one = super::K256 + 1;
    echo_64m = 64 << 20;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cipher_pair_works_in_both_versions_and_is_reported() {
    within(
        "every cipher pair works in both versions and is reported",
        async move {
            let ciphers = [
                Cipher::Chacha20Poly1305,
                Cipher::Aes256Gcm,
                Cipher::Aes256Ccm,
            ];
            let data = pattern(K256 + 1);
            for version in [1, 2] {
                for s2c in ciphers {
                    for c2s in ciphers {
                        let label = format!("v{version} {s2c:?}/{c2s:?}");
                        let (server, client) = secure_pair(&config(version, s2c, c2s)).await;
                        let agreed = Established {
                            version,
                            server_to_client: s2c,
                            client_to_server: c2s,
                        };
                        assert_eq!(client.established(), Some(agreed), "{label}");
                        assert_eq!(server.established(), Some(agreed), "{label}");
                        let serving = tokio::spawn(echo_back(server));
                        let back = within(&label, exchange(client, &data)).await.unwrap();
                        assert!(back == data, "{label}: the echo differs");
                        serving.await.unwrap().unwrap();
                    }
                }
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_over_a_tcp_connection_reads_the_sockets_end_without_trapping() {
    within(
        "a session over a tcp connection reads the sockets end without trapping",
        async move {
            // Version 1 has no close marker: the client's plaintext ends where the
            // socket's bytes end, and the session must read how they ended. The
            // socket's future is the host's, so the component may read it (it
            // may not read a future it writes itself).
            let cfg = config(1, Cipher::Aes256Gcm, Cipher::Chacha20Poly1305);
            let (server, client) = secure_pair(&cfg).await;
            let (_server_reader, mut server_writer) = server.into_split();
            server_writer.write_all(b"last words").await.unwrap();
            server_writer.shutdown().await.unwrap();
            let (mut reader, _writer) = client.into_split();
            let mut got = Vec::new();
            within("reading to the socket's end", reader.read_to_end(&mut got))
                .await
                .unwrap();
            assert_eq!(got, b"last words");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_both_handshakes_without_trapping() {
    within(
        "a wrong password fails both handshakes without trapping",
        async move {
            let cfg = config(2, Cipher::Chacha20Poly1305, Cipher::Chacha20Poly1305);
            let (server, client) = handshake(&cfg, b"right", &cfg, b"wrong").await;
            assert_eq!(
                client.unwrap_err(),
                HandshakeError::InvalidClientValidator,
                "the client checks the server's validator first"
            );
            assert_eq!(
                server.unwrap_err(),
                HandshakeError::EndOfInput,
                "the server sees the client hang up"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_versions_fail_clearly() {
    within("mismatched versions fail clearly", async move {
        let v1 = config(1, Cipher::Chacha20Poly1305, Cipher::Chacha20Poly1305);
        let v2 = config(2, Cipher::Chacha20Poly1305, Cipher::Chacha20Poly1305);
        let (server, client) = handshake(&v1, PASSWORD, &v2, PASSWORD).await;
        assert_eq!(
            client.unwrap_err(),
            HandshakeError::VersionMismatch { ours: 2, theirs: 1 }
        );
        let server = server.unwrap_err();
        assert!(
            !matches!(&server, HandshakeError::Flow(f) if f.is_trap()),
            "{server}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_iteration_count_is_a_handshake_error() {
    within(
        "a refused iteration count is a handshake error",
        async move {
            let server_cfg = SpokeConfig {
                iterations: 1000,
                ..SpokeConfig::default()
            };
            let client_cfg = SpokeConfig {
                max_iterations: 999,
                ..SpokeConfig::default()
            };
            let (_, client) = handshake(&server_cfg, PASSWORD, &client_cfg, PASSWORD).await;
            let err = client.unwrap_err();
            assert_eq!(
                err,
                HandshakeError::IterationCountRefused {
                    requested: 1000,
                    maximum: 999
                }
            );
            assert!(!err.to_string().contains('\n'), "{err}");
        },
    )
    .await;
}

#[tokio::test]
async fn an_error_inside_a_stream_carries_the_flow_error() {
    within(
        "an error inside a stream carries the flow error",
        async move {
            // The contract's errors reach a reader as `std::io::Error`s whose inner
            // error is the `FlowError`, with its one-line message.
            let e = FlowError::Corrupted;
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, e.clone());
            assert_eq!(io.to_string(), e.to_string());
            assert_eq!(
                io.get_ref().and_then(|i| i.downcast_ref::<FlowError>()),
                Some(&e)
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_times_out_within_the_deadline_and_the_listener_serves_the_next() {
    let cfg = config(2, Cipher::Chacha20Poly1305, Cipher::Chacha20Poly1305);
    let (_server, listener, addr) = listening("127.0.0.1:0").await;
    // A peer that connects and never says a word.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let accepted = listener.accept().await.unwrap();
    let deadline = std::time::Duration::from_millis(300);
    let started = std::time::Instant::now();
    let timed_out = within(
        "the deadline",
        accepted.secure_server_within(IDS, PASSWORD, &cfg, deadline),
    )
    .await;
    assert!(
        matches!(timed_out, Err(HandshakeError::Flow(FlowError::TimedOut))),
        "{:?}",
        timed_out.err()
    );
    assert!(started.elapsed() >= deadline);
    drop(silent);
    // The same instance and listener go on to serve a real client, whose
    // handshake also runs within a deadline.
    let client = connecting_to(addr).await;
    let (accepted, connected) = tokio::join!(listener.accept(), client.connect_address(addr));
    let (server, client) = within("the next handshakes", async {
        tokio::join!(
            accepted
                .unwrap()
                .secure_server_within(IDS, PASSWORD, &cfg, deadline * 10),
            connected
                .unwrap()
                .secure_client_within(IDS, PASSWORD, &cfg, deadline * 10)
        )
    })
    .await;
    let (server, client) = (server.unwrap(), client.unwrap());
    tokio::spawn(echo_back(server));
    let back = within("the echo", exchange(client, b"ping")).await.unwrap();
    assert_eq!(back, b"ping");
}
