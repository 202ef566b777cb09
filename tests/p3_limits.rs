//! Limits stop a WASI 0.3 guest, never the host: the watchdog and the
//! memory limit fail that instance (every waiting call and stream with a
//! trap error) while other instances carry on, and a guest that waits or
//! keeps calling the host is never stopped.

mod common;
#[path = "common/p3.rs"]
mod p3common;

use std::time::Duration;

use common::{pattern, within};
use p3common::{echo_back, exchange, spoke_p3};
use spoke_host::p3::{Instance, Stream};
use spoke_host::{FlowError, HandshakeError, Limits, NetworkPolicy, SpokeConfig};

const IDS: (&str, &str) = ("c", "s");

/// An instance with `limits` that may not touch the network.
async fn offline(limits: Limits) -> Instance {
    spoke_p3()
        .instantiate_with(NetworkPolicy::deny_all(), limits)
        .await
        .unwrap()
}

/// Handshakes a server in `server` and a client in `client` over an
/// in-memory duplex pair: (server, client).
async fn pair(
    server: &Instance,
    server_cfg: &SpokeConfig,
    client: &Instance,
) -> (
    Result<Stream, HandshakeError>,
    Result<Stream, HandshakeError>,
) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let client_cfg = SpokeConfig::default();
    within("both handshakes", async {
        tokio::join!(
            server.secure_server_over(a, IDS, b"pw", server_cfg),
            client.secure_client_over(b, IDS, b"pw", &client_cfg)
        )
    })
    .await
}

fn is_trap(e: &HandshakeError) -> bool {
    matches!(e, HandshakeError::Flow(f) if f.is_trap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_stops_a_guest_that_computes_too_long_and_only_that_instance() {
    within(
        "the watchdog stops a guest that computes too long and only that instance",
        async move {
            // 100000 PBKDF2 iterations are pure computation inside the guest (about
            // 0.15 s in wasm), far more than the 20 ms this client is allowed.
            let watched = Limits {
                max_busy: Some(Duration::from_millis(20)),
                ..Limits::default()
            };
            let server = offline(Limits::default()).await;
            let client = offline(watched).await;
            let slow = SpokeConfig {
                iterations: 100_000,
                ..SpokeConfig::default()
            };
            let (server_side, client_side) = pair(&server, &slow, &client).await;
            let err = client_side.unwrap_err();
            let HandshakeError::Flow(FlowError::Trap(message)) = &err else {
                panic!("{err:?}")
            };
            assert!(message.contains("max_busy"), "{message}");
            assert!(!err.to_string().is_empty());
            assert!(client.failure().is_some_and(|f| f.contains("max_busy")));
            // The stopped instance refuses further work with an error.
            let later = client.default_config().await.unwrap_err();
            assert!(later.is_trap(), "{later:?}");
            // Its transport ended: the server sees an ordinary error, not a trap.
            let server_err = server_side.unwrap_err();
            assert!(!is_trap(&server_err), "{server_err:?}");
            assert_eq!(server.failure(), None);
            // Other instances carry on.
            let (a, b) = (
                offline(Limits::default()).await,
                offline(Limits::default()).await,
            );
            let fast = SpokeConfig {
                iterations: 2,
                ..SpokeConfig::default()
            };
            let (s, c) = pair(&a, &fast, &b).await;
            let serving = tokio::spawn(echo_back(s.unwrap()));
            let back = exchange(c.unwrap(), b"still fine").await.unwrap();
            assert_eq!(back, b"still fine");
            serving.await.unwrap().unwrap();
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_never_stops_a_guest_that_keeps_calling_the_host_or_waits() {
    within(
        "the watchdog never stops a guest that keeps calling the host or waits",
        async move {
            // An encrypted transfer computes all the time but does I/O between
            // records; and waiting for bytes happens in the host. Neither counts.
            let watched = Limits {
                max_busy: Some(Duration::from_millis(5)),
                ..Limits::default()
            };
            let (server, client) = (offline(watched.clone()).await, offline(watched).await);
            let cfg = SpokeConfig {
                iterations: 1,
                ..SpokeConfig::default()
            };
            let (s, c) = pair(&server, &cfg, &client).await;
            let serving = tokio::spawn(echo_back(s.unwrap()));
            // Idle for many times the budget before any byte moves.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let data = pattern(16 << 20);
            let back = within("the echo", exchange(c.unwrap(), &data))
                .await
                .unwrap();
            assert!(back == data, "16 MiB echoed intact");
            serving.await.unwrap().unwrap();
            assert_eq!(client.failure(), None);
            assert_eq!(server.failure(), None);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_over_the_memory_limit_fails_the_instance_not_the_host() {
    within(
        "going over the memory limit fails the instance not the host",
        async move {
            // Each busy session holds about a mebibyte of buffers inside the guest;
            // eight of them cannot fit in 4 MiB.
            let small = Limits {
                memory_bytes: 4 << 20,
                ..Limits::default()
            };
            let server = offline(Limits::default()).await;
            let client = offline(small).await;
            let cfg = SpokeConfig {
                iterations: 1,
                ..SpokeConfig::default()
            };
            let data = pattern(4 << 20);
            let mut echoes = Vec::new();
            let mut failures = Vec::new();
            for _ in 0..8 {
                let (s, c) = pair(&server, &cfg, &client).await;
                match (s, c) {
                    (Ok(s), Ok(c)) => {
                        tokio::spawn(echo_back(s));
                        let data = data.clone();
                        echoes.push(tokio::spawn(async move { exchange(c, &data).await }));
                    }
                    (_, Err(e)) => {
                        assert!(is_trap(&e), "{e:?}");
                        failures.push(e.to_string());
                        break;
                    }
                    (Err(e), Ok(_)) => panic!("the server failed alone: {e:?}"),
                }
            }
            for echo in echoes {
                if let Err(e) = within("an echo", echo).await.unwrap() {
                    let inner = e.get_ref().and_then(|i| i.downcast_ref::<FlowError>());
                    assert!(inner.is_some_and(FlowError::is_trap), "{e:?}");
                    failures.push(e.to_string());
                }
            }
            assert!(!failures.is_empty(), "the small instance never ran out");
            assert!(client.failure().is_some());
            assert_eq!(server.failure(), None, "the other instance carries on");
            let (a, b) = (
                offline(Limits::default()).await,
                offline(Limits::default()).await,
            );
            let (s, c) = pair(&a, &cfg, &b).await;
            tokio::spawn(echo_back(s.unwrap()));
            assert_eq!(exchange(c.unwrap(), b"fine").await.unwrap(), b"fine");
        },
    )
    .await;
}
