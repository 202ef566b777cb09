//! Password-secured flows between two instances over loopback: the same
//! password gives a working encrypted flow, a different one fails cleanly.

mod common;

use common::{connected_pair, pattern, read_to_end, within};
use spoke_host::{Cipher, HandshakeError, ShutdownMode, SpokeConfig};

const IDS: (&str, &str) = ("alice", "bob");

fn fast_config() -> SpokeConfig {
    SpokeConfig {
        iterations: 2,
        ..SpokeConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_password_gives_an_encrypted_flow_that_carries_data_both_ways() {
    let ((mut server, sflow), (mut client, cflow)) = connected_pair().await;
    let data = pattern(300_000);
    let sent = data.clone();
    let server_task = tokio::spawn(async move {
        let secure = server
            .spoke_server(sflow, IDS, b"correct horse", &fast_config())
            .await
            .unwrap();
        assert_eq!(
            server.ciphers(&secure).await,
            Some((Cipher::Chacha20Poly1305, Cipher::Chacha20Poly1305))
        );
        // Echo everything back, then end.
        let got = read_to_end(&mut server, &secure).await;
        server.write(&secure, &got).await.unwrap();
        server.shutdown(&secure, ShutdownMode::Write).await.unwrap();
        got.len()
    });
    let secure = within(
        "the client handshake",
        client.spoke_client(cflow, IDS, b"correct horse", &SpokeConfig::default()),
    )
    .await
    .unwrap();
    assert!(client.ciphers(&secure).await.is_some());
    client.write(&secure, &sent).await.unwrap();
    client.shutdown(&secure, ShutdownMode::Write).await.unwrap();
    let back = within("the echo", read_to_end(&mut client, &secure)).await;
    assert!(back == data, "the encrypted echo returns the same bytes");
    assert_eq!(server_task.await.unwrap(), data.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_the_handshake_on_both_sides_without_trapping() {
    let ((mut server, sflow), (mut client, cflow)) = connected_pair().await;
    let server_task = tokio::spawn(async move {
        let r = server
            .spoke_server(sflow, IDS, b"right", &fast_config())
            .await;
        (r.map(|_| ()), server.failure().map(str::to_owned))
    });
    let client_result = within(
        "the client handshake",
        client.spoke_client(cflow, IDS, b"wrong", &SpokeConfig::default()),
    )
    .await;
    let (server_result, server_failure) = server_task.await.unwrap();
    let errors = [
        client_result.map(|_| ()).unwrap_err(),
        server_result.unwrap_err(),
    ];
    assert!(
        errors.iter().any(|e| matches!(
            e,
            HandshakeError::InvalidClientValidator | HandshakeError::InvalidServerValidator
        )),
        "{errors:?}"
    );
    for e in &errors {
        assert!(!matches!(e, HandshakeError::Flow(f) if f.is_trap()), "{e}");
    }
    assert_eq!(client.failure(), None);
    assert_eq!(server_failure, None);
}

#[tokio::test]
async fn a_plain_flow_has_no_ciphers() {
    let ((mut server, sflow), (_client, _cflow)) = connected_pair().await;
    assert_eq!(server.ciphers(&sflow).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_times_out_within_the_deadline_and_the_instance_serves_the_next() {
    let (mut server, listener, addr) = common::listening("127.0.0.1:0").await;
    // A peer that connects and never says a word.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let flow = server.accept(&listener).await.unwrap();
    let deadline = std::time::Duration::from_millis(300);
    let started = std::time::Instant::now();
    let timed_out = within(
        "the deadline",
        server.spoke_server_within(flow, IDS, b"pw", &fast_config(), deadline),
    )
    .await;
    assert!(matches!(
        timed_out,
        Err(HandshakeError::Flow(spoke_host::FlowError::TimedOut))
    ));
    assert!(started.elapsed() >= deadline);
    drop(silent);
    // The same instance (and listener) goes on to serve a real client.
    let client_task = tokio::spawn(async move {
        let mut client = common::spoke()
            .instantiate(common::connect_to(addr))
            .await
            .unwrap();
        let flow = client.connect_address(addr).await.unwrap();
        let secure = client
            .spoke_client(flow, IDS, b"pw", &SpokeConfig::default())
            .await
            .unwrap();
        client.write(&secure, b"ping").await.unwrap();
        client.shutdown(&secure, ShutdownMode::Write).await.unwrap();
        read_to_end(&mut client, &secure).await
    });
    let flow = server.accept(&listener).await.unwrap();
    let secure = within(
        "the next handshake",
        server.spoke_server_within(flow, IDS, b"pw", &fast_config(), deadline * 10),
    )
    .await
    .unwrap();
    let got = read_to_end(&mut server, &secure).await;
    server.write(&secure, &got).await.unwrap();
    server.shutdown(&secure, ShutdownMode::Write).await.unwrap();
    assert_eq!(within("the echo", client_task).await.unwrap(), b"ping");
    assert!(server.failure().is_none());
}
