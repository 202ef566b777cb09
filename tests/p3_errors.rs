//! Failures of the WASI 0.3 component reach the caller as the right
//! variant with its one-line message: refused connections, unresolvable
//! names, policy denials and resets, plain and encrypted. The instance
//! stays usable after every one of them.

mod common;
#[path = "common/p3.rs"]
mod p3common;

use std::io::ErrorKind;
use std::time::Duration;

use common::{pattern, within};
use p3common::{connecting_to, spoke_p3};
use spoke_host::{FlowError, HandshakeError, NetworkPolicy, SpokeConfig};
use spoke_protocol::stream::SecureStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// The `FlowError` inside a stream's `std::io::Error`.
fn flow_error(e: &std::io::Error) -> FlowError {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<FlowError>())
        .unwrap_or_else(|| panic!("no FlowError inside {e:?}"))
        .clone()
}

#[tokio::test]
async fn connecting_to_a_port_nobody_listens_on_is_refused() {
    within(
        "connecting to a port nobody listens on is refused",
        async move {
            let addr = closed_port();
            let inst = connecting_to(addr).await;
            let err = inst.connect_address(addr).await.unwrap_err();
            assert_eq!(err, FlowError::ConnectionRefused);
            assert_eq!(err.to_string(), "Connection refused");
            let err = inst.connect("127.0.0.1", addr.port()).await.unwrap_err();
            assert_eq!(err, FlowError::ConnectionRefused);
            assert_eq!(inst.failure(), None);
        },
    )
    .await;
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_name_unresolvable() {
    within(
        "a name that does not resolve is name unresolvable",
        async move {
            // `.invalid` never resolves (RFC 6761), so this fails fast with or
            // without a working resolver.
            let policy = NetworkPolicy::deny_all()
                .allow_name_lookup(true)
                .allow_connect("127.0.0.1:9".parse().unwrap());
            let inst = spoke_p3().instantiate(policy).await.unwrap();
            let err = within("the lookup", inst.connect("does-not-exist.invalid", 9))
                .await
                .unwrap_err();
            assert_eq!(
                err,
                FlowError::NameUnresolvable("does-not-exist.invalid".into())
            );
            assert!(err.to_string().contains("does-not-exist.invalid"), "{err}");
            assert!(!err.to_string().contains('\n'), "{err}");
        },
    )
    .await;
}

#[tokio::test]
async fn a_name_lookup_the_policy_forbids_is_permission_denied() {
    within(
        "a name lookup the policy forbids is permission denied",
        async move {
            let inst = connecting_to("127.0.0.1:9".parse().unwrap()).await;
            let err = inst.connect("localhost", 9).await.unwrap_err();
            let FlowError::PermissionDenied(message) = &err else {
                panic!("{err:?}")
            };
            assert!(message.contains("localhost"), "{message}");
            assert!(message.contains("allow_name_lookup"), "{message}");
        },
    )
    .await;
}

#[tokio::test]
async fn a_connect_the_policy_does_not_allow_is_permission_denied_naming_the_address() {
    within(
        "a connect the policy does not allow is permission denied naming the address",
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let target = listener.local_addr().unwrap();
            let inst = connecting_to(closed_port()).await;
            for result in [
                inst.connect_address(target).await,
                inst.connect("127.0.0.1", target.port()).await,
            ] {
                let err = result.unwrap_err();
                let FlowError::PermissionDenied(message) = &err else {
                    panic!("{err:?}")
                };
                assert!(message.contains(&target.to_string()), "{message}");
                assert!(message.contains("allow_connect"), "{message}");
                assert!(err.to_string().starts_with("Permission denied: "), "{err}");
                assert!(!err.to_string().contains('\n'), "{err}");
            }
            let accepted = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
            assert!(
                accepted.is_err(),
                "a denied connect must not reach the network"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn with_no_connect_rule_every_connect_is_denied() {
    within("with no connect rule every connect is denied", async move {
        let inst = spoke_p3()
            .instantiate(NetworkPolicy::deny_all())
            .await
            .unwrap();
        let err = inst.connect_address(closed_port()).await.unwrap_err();
        let FlowError::PermissionDenied(message) = &err else {
            panic!("{err:?}")
        };
        assert!(message.contains("allow_connect"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn a_listen_the_policy_does_not_allow_is_permission_denied_naming_the_address() {
    within(
        "a listen the policy does not allow is permission denied naming the address",
        async move {
            let inst = spoke_p3()
                .instantiate(NetworkPolicy::deny_all())
                .await
                .unwrap();
            let err = inst
                .listen("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap_err();
            let FlowError::PermissionDenied(message) = &err else {
                panic!("{err:?}")
            };
            assert!(message.contains("127.0.0.1:0"), "{message}");
            assert!(message.contains("allow_listen"), "{message}");

            let policy = NetworkPolicy::deny_all().allow_listen("127.0.0.1:1".parse().unwrap());
            let inst = spoke_p3().instantiate(policy).await.unwrap();
            let err = inst
                .listen("127.0.0.1:2".parse().unwrap())
                .await
                .unwrap_err();
            let FlowError::PermissionDenied(message) = &err else {
                panic!("{err:?}")
            };
            assert!(message.contains("127.0.0.1:2"), "{message}");
        },
    )
    .await;
}

#[tokio::test]
async fn a_peer_reset_mid_stream_is_connection_reset_after_the_data_before_it() {
    within(
        "a peer reset mid stream is connection reset after the data before it",
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let inst = connecting_to(addr).await;
            let mut stream = inst.connect_address(addr).await.unwrap().into_stream();
            let (mut sock, _) = listener.accept().await.unwrap();
            sock.write_all(b"partial").await.unwrap();
            let mut first = [0; 7];
            within("the data before the reset", stream.read_exact(&mut first))
                .await
                .unwrap();
            assert_eq!(&first, b"partial");
            // SO_LINGER 0 makes the close send a RST instead of a FIN.
            sock.set_zero_linger().unwrap();
            drop(sock);
            let err = within("reading up to the reset", stream.read(&mut [0; 16]))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
            assert_eq!(flow_error(&err), FlowError::ConnectionReset);
            assert_eq!(err.to_string(), FlowError::ConnectionReset.to_string());
            let again = stream.read(&mut [0; 16]).await.unwrap_err();
            assert_eq!(flow_error(&again), FlowError::ConnectionReset, "sticky");
            assert_eq!(
                inst.failure(),
                None,
                "a misbehaving peer is an error, not a failure of the instance"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn writing_to_a_peer_that_reset_fails_without_trapping() {
    within(
        "writing to a peer that reset fails without trapping",
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let inst = connecting_to(addr).await;
            let mut stream = inst.connect_address(addr).await.unwrap().into_stream();
            let (mut sock, _) = listener.accept().await.unwrap();
            sock.set_zero_linger().unwrap();
            stream.write_all(b"x").await.unwrap();
            let mut first = [0; 1];
            sock.read_exact(&mut first).await.unwrap();
            drop(sock);
            let data = pattern(1 << 20);
            let err = within("writing into a reset connection", async {
                loop {
                    if let Err(e) = stream.write_all(&data).await {
                        break e;
                    }
                }
            })
            .await;
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
                ),
                "{err:?}"
            );
            assert_eq!(inst.failure(), None);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_resets_an_encrypted_session_is_connection_reset() {
    within(
        "a peer that resets an encrypted session is connection reset",
        async move {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let peer = std::thread::spawn(move || {
                let (sock, _) = listener.accept().unwrap();
                let core = spoke_protocol::Config {
                    iterations: 2,
                    ..Default::default()
                };
                let ids = spoke_protocol::Identities {
                    client: b"c".to_vec(),
                    server: b"s".to_vec(),
                };
                let mut secure = SecureStream::server(sock, &core, ids, b"pw").unwrap();
                std::io::Write::write_all(&mut secure, b"sealed").unwrap();
                secure
            });
            let inst = connecting_to(addr).await;
            let conn = inst.connect_address(addr).await.unwrap();
            let mut stream = within(
                "the handshake",
                conn.secure_client(("c", "s"), b"pw", &SpokeConfig::default()),
            )
            .await
            .unwrap();
            let mut first = [0; 6];
            stream.read_exact(&mut first).await.unwrap();
            assert_eq!(&first, b"sealed");
            let secure = peer.join().unwrap();
            // SO_LINGER 0 (set through tokio, which has the call) makes the close
            // send a RST.
            let clone = secure.get_ref().try_clone().unwrap();
            clone.set_nonblocking(true).unwrap();
            let clone = tokio::net::TcpStream::from_std(clone).unwrap();
            clone.set_zero_linger().unwrap();
            drop((clone, secure));
            let err = within("reading up to the reset", stream.read(&mut [0; 16]))
                .await
                .unwrap_err();
            assert_eq!(flow_error(&err), FlowError::ConnectionReset, "{err}");
            assert_eq!(inst.failure(), None);
        },
    )
    .await;
}

#[tokio::test]
async fn errors_render_like_the_component() {
    within("errors render like the component", async move {
        let inst = spoke_p3()
            .instantiate(NetworkPolicy::deny_all())
            .await
            .unwrap();
        let flow_errors = [
            FlowError::ConnectionRefused,
            FlowError::ConnectionReset,
            FlowError::TimedOut,
            FlowError::NameUnresolvable("nowhere.invalid".into()),
            FlowError::PermissionDenied("connecting to 127.0.0.1:9 is not allowed".into()),
            FlowError::Corrupted,
            FlowError::Truncated,
            FlowError::InvalidState("receive was already called".into()),
            FlowError::Other("something else".into()),
        ];
        for e in &flow_errors {
            assert_eq!(inst.error_message(e).await.unwrap(), e.to_string(), "{e:?}");
        }
        let mut handshake_errors = vec![
            HandshakeError::InvalidPublicPacket,
            HandshakeError::InvalidClientValidator,
            HandshakeError::InvalidServerValidator,
            HandshakeError::PointNotOnPrimeOrderSubgroup,
            HandshakeError::EndOfInput,
            HandshakeError::VersionMismatch { ours: 2, theirs: 1 },
            HandshakeError::IterationCountRefused {
                requested: 200_000,
                maximum: 100_000,
            },
            HandshakeError::InvalidConfig("an identity is too long".into()),
            HandshakeError::Closed,
        ];
        handshake_errors.extend(flow_errors.into_iter().map(HandshakeError::Flow));
        for e in &handshake_errors {
            assert_eq!(
                inst.handshake_error_message(e).await.unwrap(),
                e.to_string(),
                "{e:?}"
            );
        }
    })
    .await;
}
