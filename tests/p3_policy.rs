//! The network policy as seen from the WASI 0.3 component: exactly what is
//! allowed works, and nothing else reaches the network.

mod common;
#[path = "common/p3.rs"]
mod p3common;

use std::net::SocketAddr;

use common::{echo_server, within};
use p3common::{connecting_to, spoke_p3};
use spoke_host::{FlowError, LOOPBACK, NetworkPolicy};

fn denied<T: std::fmt::Debug>(r: Result<T, FlowError>) -> bool {
    matches!(r, Err(FlowError::PermissionDenied(_)))
}

#[tokio::test]
async fn the_default_policy_allows_no_connect_no_listen_and_no_lookup() {
    within(
        "the default policy allows no connect no listen and no lookup",
        async move {
            let addr = echo_server().await;
            let inst = spoke_p3()
                .instantiate(NetworkPolicy::default())
                .await
                .unwrap();
            assert!(denied(inst.connect_address(addr).await));
            assert!(denied(inst.connect("127.0.0.1", addr.port()).await));
            assert!(denied(inst.connect("localhost", addr.port()).await));
            assert!(denied(inst.listen("127.0.0.1:0".parse().unwrap()).await));
            assert!(denied(inst.listen("[::1]:0".parse().unwrap()).await));
            assert_eq!(inst.failure(), None);
        },
    )
    .await;
}

#[tokio::test]
async fn a_connect_rule_allows_exactly_its_address() {
    within("a connect rule allows exactly its address", async move {
        let addr = echo_server().await;
        let other = echo_server().await;
        let inst = connecting_to(addr).await;
        inst.connect_address(addr).await.unwrap();
        inst.connect("127.0.0.1", addr.port()).await.unwrap();
        assert!(denied(inst.connect_address(other).await));
    })
    .await;
}

#[tokio::test]
async fn a_port_range_allows_ports_inside_it_only() {
    within("a port range allows ports inside it only", async move {
        let addr = echo_server().await;
        let inside = NetworkPolicy::deny_all()
            .allow_connect_range(LOOPBACK[0], addr.port()..=addr.port().saturating_add(5));
        let inst = spoke_p3().instantiate(inside).await.unwrap();
        inst.connect_address(addr).await.unwrap();

        let outside =
            NetworkPolicy::deny_all().allow_connect_range(LOOPBACK[0], addr.port() + 1..=u16::MAX);
        let inst = spoke_p3().instantiate(outside).await.unwrap();
        assert!(denied(inst.connect_address(addr).await));
    })
    .await;
}

#[tokio::test]
async fn allowing_connect_does_not_allow_listen_and_vice_versa() {
    within(
        "allowing connect does not allow listen and vice versa",
        async move {
            let addr = echo_server().await;
            let inst = connecting_to(addr).await;
            assert!(denied(inst.listen("127.0.0.1:0".parse().unwrap()).await));
            let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
            assert!(denied(inst.listen(any).await));

            let inst = spoke_p3()
                .instantiate(NetworkPolicy::deny_all().allow_listen("127.0.0.1:0".parse().unwrap()))
                .await
                .unwrap();
            inst.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
            assert!(denied(inst.connect_address(addr).await));
        },
    )
    .await;
}

#[tokio::test]
async fn a_listen_rule_with_a_port_allows_that_port_only_and_accepts_any_peer() {
    within(
        "a listen rule with a port allows that port only and accepts any peer",
        async move {
            let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = free.local_addr().unwrap().port();
            drop(free);
            let rule: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let inst = spoke_p3()
                .instantiate(NetworkPolicy::deny_all().allow_listen(rule))
                .await
                .unwrap();
            assert!(denied(inst.listen("127.0.0.1:0".parse().unwrap()).await));
            let listener = inst.listen(rule).await.unwrap();
            assert_eq!(listener.local_addr(), rule);
            let (accepted, peer) =
                tokio::join!(listener.accept(), tokio::net::TcpStream::connect(rule));
            let peer = peer.unwrap();
            assert_eq!(accepted.unwrap().peer_addr(), peer.local_addr().unwrap());
        },
    )
    .await;
}

#[tokio::test]
async fn name_lookup_when_allowed_resolves_localhost() {
    within("name lookup when allowed resolves localhost", async move {
        let addr = echo_server().await;
        let policy = NetworkPolicy::deny_all()
            .allow_name_lookup(true)
            .allow_connect(addr);
        let inst = spoke_p3().instantiate(policy).await.unwrap();
        let conn = inst.connect("localhost", addr.port()).await.unwrap();
        assert_eq!(conn.peer_addr(), addr);
    })
    .await;
}

#[tokio::test]
async fn an_instance_reports_its_policy() {
    within("an instance reports its policy", async move {
        let policy = NetworkPolicy::deny_all().allow_connect("127.0.0.1:80".parse().unwrap());
        let inst = spoke_p3().instantiate(policy.clone()).await.unwrap();
        assert_eq!(inst.policy(), &policy);
    })
    .await;
}
