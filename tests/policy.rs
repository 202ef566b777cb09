//! The network policy as seen from a real guest: exactly what is allowed
//! works, and nothing else reaches the network.

mod common;

use std::net::SocketAddr;

use common::{echo_server, spoke};
use spoke_host::{FlowError, LOOPBACK, NetworkPolicy};

#[tokio::test]
async fn the_default_policy_allows_no_connect_no_listen_and_no_lookup() {
    let addr = echo_server().await;
    let mut inst = spoke().instantiate(NetworkPolicy::default()).await.unwrap();
    assert!(matches!(
        inst.connect_address(addr).await,
        Err(FlowError::PermissionDenied(_))
    ));
    assert!(matches!(
        inst.connect("127.0.0.1", addr.port()).await,
        Err(FlowError::PermissionDenied(_))
    ));
    assert!(matches!(
        inst.connect("localhost", addr.port()).await,
        Err(FlowError::PermissionDenied(_))
    ));
    assert!(matches!(
        inst.listen("127.0.0.1:0".parse().unwrap()).await,
        Err(FlowError::PermissionDenied(_))
    ));
    assert!(matches!(
        inst.listen("[::1]:0".parse().unwrap()).await,
        Err(FlowError::PermissionDenied(_))
    ));
}

#[tokio::test]
async fn a_port_range_allows_ports_inside_it_only() {
    let addr = echo_server().await;
    let inside = NetworkPolicy::deny_all()
        .allow_connect_range(LOOPBACK[0], addr.port()..=addr.port().saturating_add(5));
    let mut inst = spoke().instantiate(inside).await.unwrap();
    inst.connect_address(addr).await.unwrap();

    let outside =
        NetworkPolicy::deny_all().allow_connect_range(LOOPBACK[0], addr.port() + 1..=u16::MAX);
    let mut inst = spoke().instantiate(outside).await.unwrap();
    assert!(matches!(
        inst.connect_address(addr).await,
        Err(FlowError::PermissionDenied(_))
    ));
}

#[tokio::test]
async fn allowing_connect_does_not_allow_listen_and_vice_versa() {
    let addr = echo_server().await;
    let mut inst = spoke()
        .instantiate(NetworkPolicy::deny_all().allow_connect(addr))
        .await
        .unwrap();
    assert!(matches!(
        inst.listen("127.0.0.1:0".parse().unwrap()).await,
        Err(FlowError::PermissionDenied(_))
    ));
    let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
    assert!(matches!(
        inst.listen(any).await,
        Err(FlowError::PermissionDenied(_))
    ));

    let mut inst = spoke()
        .instantiate(NetworkPolicy::deny_all().allow_listen("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    inst.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    assert!(matches!(
        inst.connect_address(addr).await,
        Err(FlowError::PermissionDenied(_))
    ));
}

#[tokio::test]
async fn name_lookup_when_allowed_resolves_localhost() {
    let addr = echo_server().await;
    let policy = NetworkPolicy::deny_all()
        .allow_name_lookup(true)
        .allow_connect(addr);
    let mut inst = spoke().instantiate(policy).await.unwrap();
    let flow = inst.connect("localhost", addr.port()).await.unwrap();
    assert_eq!(inst.remote_address(&flow).await.unwrap(), addr);
}

#[test]
fn a_policy_describes_itself() {
    let policy = NetworkPolicy::deny_all().allow_connect("127.0.0.1:80".parse().unwrap());
    assert_eq!(
        policy.to_string(),
        "connect: 127.0.0.1:80; listen: no listening; name lookup: denied"
    );
}
