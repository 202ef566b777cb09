//! Failures reach the caller as the right variant with a useful message:
//! refused connections, unresolvable names, policy denials and resets.

mod common;

use std::time::Duration;

use common::{connect_to, pattern, spoke, within};
use spoke_host::{CopyError, FlowError, NetworkPolicy, WriteError};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[tokio::test]
async fn connecting_to_a_port_nobody_listens_on_is_refused() {
    let addr = closed_port();
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let err = inst.connect_address(addr).await.unwrap_err();
    assert_eq!(err, FlowError::ConnectionRefused);
    assert_eq!(err.to_string(), "Connection refused");
    let err = inst.connect("127.0.0.1", addr.port()).await.unwrap_err();
    assert_eq!(err, FlowError::ConnectionRefused);
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_name_unresolvable() {
    // `.invalid` never resolves (RFC 6761), so this fails fast with or
    // without a working resolver.
    let policy = NetworkPolicy::deny_all()
        .allow_name_lookup(true)
        .allow_connect("127.0.0.1:9".parse().unwrap());
    let mut inst = spoke().instantiate(policy).await.unwrap();
    let err = within("the lookup", inst.connect("does-not-exist.invalid", 9))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FlowError::NameUnresolvable("does-not-exist.invalid".into())
    );
    assert!(err.to_string().contains("does-not-exist.invalid"), "{err}");
}

#[tokio::test]
async fn a_name_lookup_the_policy_forbids_is_permission_denied() {
    let mut inst = spoke()
        .instantiate(connect_to("127.0.0.1:9".parse().unwrap()))
        .await
        .unwrap();
    let err = inst.connect("localhost", 9).await.unwrap_err();
    let FlowError::PermissionDenied(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("localhost"), "{message}");
    assert!(message.contains("allow_name_lookup"), "{message}");
}

#[tokio::test]
async fn a_connect_the_policy_does_not_allow_is_permission_denied_naming_the_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let allowed = closed_port();
    let mut inst = spoke().instantiate(connect_to(allowed)).await.unwrap();
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
    }
    // The peer never saw a connection attempt.
    let accepted = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "a denied connect must not reach the network"
    );
}

#[tokio::test]
async fn with_no_connect_rule_every_connect_is_denied() {
    let mut inst = spoke()
        .instantiate(NetworkPolicy::deny_all())
        .await
        .unwrap();
    let addr = closed_port();
    let err = inst.connect_address(addr).await.unwrap_err();
    let FlowError::PermissionDenied(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("allow_connect"), "{message}");
}

#[tokio::test]
async fn a_listen_the_policy_does_not_allow_is_permission_denied_naming_the_address() {
    let mut inst = spoke()
        .instantiate(NetworkPolicy::deny_all())
        .await
        .unwrap();
    let addr = "127.0.0.1:0".parse().unwrap();
    let err = inst.listen(addr).await.unwrap_err();
    let FlowError::PermissionDenied(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("127.0.0.1:0"), "{message}");
    assert!(message.contains("allow_listen"), "{message}");

    // Allowing another address does not allow this one.
    let policy = NetworkPolicy::deny_all().allow_listen("127.0.0.1:1".parse().unwrap());
    let mut inst = spoke().instantiate(policy).await.unwrap();
    let err = inst
        .listen("127.0.0.1:2".parse().unwrap())
        .await
        .unwrap_err();
    let FlowError::PermissionDenied(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("127.0.0.1:2"), "{message}");
}

#[tokio::test]
async fn a_peer_reset_mid_stream_is_connection_reset_after_the_data_before_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    let (sock, _) = listener.accept().await.unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut sock = sock;
        sock.write_all(b"partial").await.unwrap();
        sock.flush().await.unwrap();
        // Wait until our side has the data, then abort: SO_LINGER 0 makes
        // the close send a RST instead of a FIN.
        within("readable", inst.readable(&flow)).await.unwrap();
        sock.set_zero_linger().unwrap();
        drop(sock);
    }
    let mut got = Vec::new();
    let err = within("reading up to the reset", async {
        loop {
            match inst.read(&flow, 1024).await {
                Ok(Some(d)) => got.extend(d),
                Ok(None) => panic!("a reset is not an orderly end-of-stream"),
                Err(e) => break e,
            }
        }
    })
    .await;
    assert_eq!(err, FlowError::ConnectionReset);
    assert!(got.len() <= b"partial".len() && b"partial".starts_with(&got));
    assert_eq!(
        inst.read(&flow, 1024).await,
        Err(FlowError::ConnectionReset),
        "errors are sticky"
    );
    assert_eq!(
        inst.failure(),
        None,
        "a misbehaving peer is an error, not a failure of the instance"
    );
}

#[tokio::test]
async fn writing_to_a_peer_that_reset_fails_without_trapping() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    let (mut sock, _) = listener.accept().await.unwrap();
    sock.set_zero_linger().unwrap();
    let mut first = [0; 1];
    inst.write(&flow, b"x").await.unwrap();
    sock.read_exact(&mut first).await.unwrap();
    drop(sock);
    // Keep writing until the reset is noticed; it must come as an error.
    let data = pattern(1 << 20);
    let err = within("writing into a reset connection", async {
        loop {
            if let Err(e) = inst.write(&flow, &data).await {
                break e;
            }
        }
    })
    .await;
    assert!(
        matches!(
            err,
            WriteError::Closed | WriteError::Error(FlowError::ConnectionReset)
        ),
        "{err:?}"
    );
    assert_eq!(inst.failure(), None);
}

/// A peer that sends `data`, then resets its connection (SO_LINGER 0 makes
/// the close send a RST instead of a FIN).
async fn send_then_reset(listener: TcpListener, data: &'static [u8]) {
    use tokio::io::AsyncWriteExt;
    let (mut sock, _) = listener.accept().await.unwrap();
    sock.write_all(data).await.unwrap();
    sock.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    sock.set_zero_linger().unwrap();
    drop(sock);
}

#[tokio::test]
async fn a_copy_between_sockets_from_a_peer_that_resets_fails_reading_with_connection_reset() {
    // Between two TCP flows the host moves the bytes (`splice`), so the
    // reset reaches the component only as the host's text of a stream
    // error: this is the real host's wording, read by the component.
    let source = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (source_addr, sink_addr) = (source.local_addr().unwrap(), sink.local_addr().unwrap());
    let policy = NetworkPolicy::deny_all()
        .allow_connect(source_addr)
        .allow_connect(sink_addr);
    let mut inst = spoke().instantiate(policy).await.unwrap();
    let peer = tokio::spawn(send_then_reset(source, b"before the reset"));
    let src = inst.connect_address(source_addr).await.unwrap();
    let dst = inst.connect_address(sink_addr).await.unwrap();
    let (_sink_side, _) = sink.accept().await.unwrap();
    let err = within("copying up to the reset", inst.copy(&src, &dst))
        .await
        .unwrap_err();
    assert_eq!(err, CopyError::Read(FlowError::ConnectionReset));
    assert_eq!(
        inst.read(&src, 1024).await,
        Err(FlowError::ConnectionReset),
        "the source's failure is sticky"
    );
    within("the peer", peer).await.unwrap();
    assert_eq!(inst.failure(), None);
}

#[tokio::test]
async fn copying_a_flow_whose_peer_resets_to_a_stream_fails_reading_with_connection_reset() {
    // A flow to a caller's stream: spliced inside the host too.
    let source = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = source.local_addr().unwrap();
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let peer = tokio::spawn(send_then_reset(source, b"before the reset"));
    let src = inst.connect_address(addr).await.unwrap();
    let err = within(
        "copying up to the reset",
        inst.copy_to(&src, tokio::io::sink()),
    )
    .await
    .unwrap_err();
    assert_eq!(err, CopyError::Read(FlowError::ConnectionReset));
    within("the peer", peer).await.unwrap();
    assert_eq!(inst.failure(), None);
}
