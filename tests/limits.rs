//! Limits stop a guest, never the host: going over the memory limit fails
//! that instance with a trap error while others carry on.

mod common;

use common::{connect_to, echo_server, pattern, read_to_end, spoke, store_and_forward_server};
use spoke_host::{FlowError, Limits, NetworkPolicy, ShutdownMode, WriteError};

#[tokio::test]
async fn a_write_larger_than_the_memory_limit_fails_the_instance_not_the_host() {
    let addr = echo_server().await;
    let limits = Limits { memory_bytes: 8 << 20, ..Limits::default() };
    let mut small = spoke().instantiate_with(connect_to(addr), limits).await.unwrap();
    let flow = small.connect_address(addr).await.unwrap();
    let err = small.write(&flow, &pattern(16 << 20)).await.unwrap_err();
    assert!(matches!(err, WriteError::Error(FlowError::Trap(_))), "{err:?}");
    assert!(small.failure().is_some());
    // The instance refuses further work, with an error rather than a crash.
    assert!(matches!(small.read(&flow, 1).await, Err(FlowError::Trap(_))));
    assert!(matches!(small.connect_address(addr).await, Err(FlowError::Trap(_))));

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
    let mut b = spoke().instantiate(NetworkPolicy::deny_all()).await.unwrap();
    let flow = a.connect_address(addr).await.unwrap();
    assert!(matches!(b.read(&flow, 1).await, Err(FlowError::InvalidState(_))));
    assert!(matches!(b.write(&flow, b"x").await, Err(WriteError::Error(FlowError::InvalidState(_)))));
    assert_eq!(b.failure(), None);
    a.write(&flow, b"x").await.unwrap();
}
