//! Limits stop a guest, never the host: going over the memory limit fails
//! that instance with a trap error while others carry on.

mod common;

use common::{
    connect_to, echo_server, pattern, read_to_end, spoke, store_and_forward_server, within,
};
use spoke_host::{FlowError, Limits, NetworkPolicy, ShutdownMode, WriteError};

#[tokio::test]
async fn a_write_larger_than_the_memory_limit_fails_the_instance_not_the_host() {
    let addr = echo_server().await;
    let limits = Limits {
        memory_bytes: 8 << 20,
        ..Limits::default()
    };
    let mut small = spoke()
        .instantiate_with(connect_to(addr), limits)
        .await
        .unwrap();
    let flow = small.connect_address(addr).await.unwrap();
    let err = small.write(&flow, &pattern(16 << 20)).await.unwrap_err();
    assert!(
        matches!(err, WriteError::Error(FlowError::Trap(_))),
        "{err:?}"
    );
    assert!(small.failure().is_some());
    // The instance refuses further work, with an error rather than a crash.
    assert!(matches!(
        small.read(&flow, 1).await,
        Err(FlowError::Trap(_))
    ));
    assert!(matches!(
        small.connect_address(addr).await,
        Err(FlowError::Trap(_))
    ));

    // Other instances are unaffected.
    let addr = store_and_forward_server().await;
    let mut other = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = other.connect_address(addr).await.unwrap();
    other.write(&flow, b"fine").await.unwrap();
    other.shutdown(&flow, ShutdownMode::Write).await.unwrap();
    assert_eq!(read_to_end(&mut other, &flow).await, b"fine");
}

#[tokio::test]
async fn the_default_limits_allow_a_64_mib_write() {
    assert!(Limits::default().memory_bytes > 64 << 20);
    assert!(Limits::default().max_busy.is_some());
}

#[tokio::test]
async fn handles_from_another_instance_are_refused() {
    let addr = echo_server().await;
    let mut a = spoke().instantiate(connect_to(addr)).await.unwrap();
    let mut b = spoke()
        .instantiate(NetworkPolicy::deny_all())
        .await
        .unwrap();
    let flow = a.connect_address(addr).await.unwrap();
    assert!(matches!(
        b.read(&flow, 1).await,
        Err(FlowError::InvalidState(_))
    ));
    assert!(matches!(
        b.write(&flow, b"x").await,
        Err(WriteError::Error(FlowError::InvalidState(_)))
    ));
    assert_eq!(b.failure(), None);
    a.write(&flow, b"x").await.unwrap();
}

/// A server and a client instance connected over loopback; the client gets
/// `client_limits`.
async fn pair(
    client_limits: Limits,
) -> (
    (spoke_host::Instance, spoke_host::Flow),
    (spoke_host::Instance, spoke_host::Flow),
) {
    let policy = NetworkPolicy::deny_all().allow_listen("127.0.0.1:0".parse().unwrap());
    let mut server = spoke().instantiate(policy).await.unwrap();
    let listener = server.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = server.listener_address(&listener).await.unwrap();
    let mut client = spoke()
        .instantiate_with(connect_to(addr), client_limits)
        .await
        .unwrap();
    let (accepted, connected) =
        tokio::join!(server.accept(&listener), client.connect_address(addr));
    ((server, accepted.unwrap()), (client, connected.unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_stops_a_guest_that_computes_too_long_without_the_host() {
    // 100000 PBKDF2 iterations are pure computation inside the guest (about
    // 0.15 s in wasm), far more than the 20 ms this client is allowed.
    let limits = Limits {
        max_busy: Some(std::time::Duration::from_millis(20)),
        ..Limits::default()
    };
    let ((mut server, sflow), (mut client, cflow)) = pair(limits).await;
    let cfg = spoke_host::SpokeConfig {
        iterations: 100_000,
        ..Default::default()
    };
    let server_task = tokio::spawn(async move {
        server
            .spoke_server(sflow, ("c", "s"), b"pw", &cfg)
            .await
            .map(|_| ())
    });
    let err = within(
        "the client handshake",
        client.spoke_client(cflow, ("c", "s"), b"pw", &Default::default()),
    )
    .await
    .unwrap_err();
    let spoke_host::HandshakeError::Flow(FlowError::Trap(message)) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("max_busy"), "{message}");
    assert!(client.failure().is_some());
    // The stopped instance's sockets are closed at once: the server sees its
    // peer vanish, an ordinary error rather than a trap.
    if let Err(spoke_host::HandshakeError::Flow(FlowError::Trap(m))) =
        within("the server handshake", server_task).await.unwrap()
    {
        panic!("the server trapped: {m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_never_stops_a_guest_that_keeps_calling_the_host() {
    // An encrypted transfer computes all the time but does I/O between
    // records, so even a 5 ms budget is never exhausted.
    let limits = Limits {
        max_busy: Some(std::time::Duration::from_millis(5)),
        ..Limits::default()
    };
    let ((mut server, sflow), (mut client, cflow)) = pair(limits).await;
    let cfg = spoke_host::SpokeConfig {
        iterations: 1,
        ..Default::default()
    };
    let data = pattern(16 << 20);
    let expected = data.len();
    let server_task = tokio::spawn(async move {
        let secure = server
            .spoke_server(sflow, ("c", "s"), b"pw", &cfg)
            .await
            .unwrap();
        read_to_end(&mut server, &secure).await.len()
    });
    let secure = client
        .spoke_client(cflow, ("c", "s"), b"pw", &Default::default())
        .await
        .unwrap();
    for chunk in data.chunks(1 << 20) {
        client.write(&secure, chunk).await.unwrap();
    }
    client.shutdown(&secure, ShutdownMode::Write).await.unwrap();
    assert_eq!(server_task.await.unwrap(), expected);
    assert_eq!(client.failure(), None);
}

#[tokio::test]
async fn a_spoke_with_a_compilation_cache_and_pooling_runs_flows() {
    let dir = std::env::temp_dir().join(format!("spoke-cache-test-{}", std::process::id()));
    let options = spoke_host::Options {
        cache_dir: Some(dir.clone()),
        pooling: true,
        ..Default::default()
    };
    // The second load comes from the cache the first one filled.
    for _ in 0..2 {
        let spoke = spoke_host::Spoke::with_options(options.clone()).unwrap();
        let addr = store_and_forward_server().await;
        let mut inst = spoke.instantiate(connect_to(addr)).await.unwrap();
        let flow = inst.connect_address(addr).await.unwrap();
        inst.write(&flow, b"cached").await.unwrap();
        inst.shutdown(&flow, ShutdownMode::Write).await.unwrap();
        assert_eq!(read_to_end(&mut inst, &flow).await, b"cached");
    }
    let _ = std::fs::remove_dir_all(dir);
}
