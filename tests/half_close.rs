//! Half-close and close: `shutdown(write)` ends only our direction,
//! `shutdown(read)` ends only reading, and closed flows fail cleanly
//! (errors, never traps) while the instance stays usable.

mod common;

use common::{connect_to, echo_server, read_exact, read_to_end, spoke, within};
use spoke_host::{FlowError, ShutdownMode, WriteError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn after_shutdown_write_the_peer_reads_eof_and_can_still_send_back() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        sock.read_to_end(&mut got).await.unwrap(); // ends at our FIN
        sock.write_all(b"reply after your end: ").await.unwrap();
        sock.write_all(&got).await.unwrap();
        sock.shutdown().await.unwrap();
    });
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    inst.write(&flow, b"request").await.unwrap();
    inst.shutdown(&flow, ShutdownMode::Write).await.unwrap();
    let reply = within("the reply", read_to_end(&mut inst, &flow)).await;
    assert_eq!(reply, b"reply after your end: request");
    peer.await.unwrap();
}

#[tokio::test]
async fn write_after_shutdown_write_is_closed() {
    let addr = echo_server().await;
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    inst.shutdown(&flow, ShutdownMode::Write).await.unwrap();
    assert_eq!(inst.write(&flow, b"late").await, Err(WriteError::Closed));
    assert_eq!(
        inst.writev(&flow, &[b"late"]).await,
        Err(WriteError::Closed)
    );
    // Shutting down again is fine.
    inst.shutdown(&flow, ShutdownMode::Write).await.unwrap();
}

#[tokio::test]
async fn read_after_shutdown_read_is_end_of_stream_and_writing_still_works() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.write_all(b"unread data").await.unwrap();
        read_exact(&mut sock, 5).await
    });
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    inst.shutdown(&flow, ShutdownMode::Read).await.unwrap();
    assert_eq!(inst.read(&flow, 100).await.unwrap(), None);
    assert_eq!(
        inst.read(&flow, 100).await.unwrap(),
        None,
        "end-of-stream is sticky"
    );
    inst.write(&flow, b"still").await.unwrap();
    assert_eq!(peer.await.unwrap(), b"still");
}

#[tokio::test]
async fn shutdown_read_write_ends_both_directions() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        sock.read_to_end(&mut got).await.unwrap();
        got
    });
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    inst.write(&flow, b"last words").await.unwrap();
    inst.shutdown(&flow, ShutdownMode::ReadWrite).await.unwrap();
    assert_eq!(
        peer.await.unwrap(),
        b"last words",
        "pending data is flushed before the FIN"
    );
    assert_eq!(inst.read(&flow, 10).await.unwrap(), None);
    assert_eq!(inst.write(&flow, b"x").await, Err(WriteError::Closed));
}

#[tokio::test]
async fn closing_twice_is_fine_and_use_after_close_is_an_error() {
    let addr = echo_server().await;
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    inst.close_in_place(&flow).await.unwrap();
    inst.close_in_place(&flow).await.unwrap();

    assert!(matches!(
        inst.read(&flow, 10).await,
        Err(FlowError::InvalidState(_))
    ));
    match inst.write(&flow, b"x").await {
        Err(WriteError::Closed) | Err(WriteError::Error(FlowError::InvalidState(_))) => {}
        other => panic!("write after close: {other:?}"),
    }
    // Shutting down what close already shut is allowed (shutdown is idempotent).
    if let Err(e) = inst.shutdown(&flow, ShutdownMode::Write).await {
        assert!(!matches!(e, WriteError::Error(FlowError::Trap(_))), "{e}");
    }
    assert!(matches!(
        inst.local_address(&flow).await,
        Err(FlowError::InvalidState(_))
    ));
    assert!(matches!(
        inst.remote_address(&flow).await,
        Err(FlowError::InvalidState(_))
    ));
    // A closed flow is readable at once: its read would not block.
    within("readable on a closed flow", inst.readable(&flow))
        .await
        .unwrap();
    inst.close(flow).await;

    // Nothing above trapped: the instance still works.
    assert_eq!(inst.failure(), None);
    let again = inst.connect_address(addr).await.unwrap();
    inst.write(&again, b"alive").await.unwrap();
    inst.shutdown(&again, ShutdownMode::Write).await.unwrap();
    assert_eq!(read_to_end(&mut inst, &again).await, b"alive");
}

#[tokio::test]
async fn closing_a_flow_ends_the_connection_for_the_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    let (mut sock, _) = listener.accept().await.unwrap();
    inst.write(&flow, b"bye").await.unwrap();
    inst.close(flow).await;
    let mut got = Vec::new();
    within("the peer's read", sock.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got, b"bye");
}

#[tokio::test]
async fn a_dropped_flow_handle_is_released_and_closes_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    let (mut sock, _) = listener.accept().await.unwrap();
    drop(flow);
    // The next call on the instance releases the dropped handle.
    let other = inst.connect_address(addr).await.unwrap();
    let mut got = Vec::new();
    within("the peer's read", sock.read_to_end(&mut got))
        .await
        .unwrap();
    assert!(got.is_empty());
    inst.close(other).await;
}
