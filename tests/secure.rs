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
