//! Listening with the WASI 0.3 component: connections are accepted in
//! turn, `accept` can lose a `select!` without losing a connection, and
//! several callers may wait on one listener.

mod common;
#[path = "common/p3.rs"]
mod p3common;

use std::time::Duration;

use common::within;
use p3common::listening;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn connections_are_accepted_in_turn_with_their_addresses() {
    within(
        "connections are accepted in turn with their addresses",
        async move {
            let (_inst, listener, addr) = listening("127.0.0.1:0").await;
            assert_ne!(addr.port(), 0, "port 0 picks a free port");
            for i in 0..3u8 {
                let (accepted, peer) = tokio::join!(listener.accept(), TcpStream::connect(addr));
                let (accepted, mut peer) = (accepted.unwrap(), peer.unwrap());
                assert_eq!(accepted.local_addr(), addr);
                assert_eq!(accepted.peer_addr(), peer.local_addr().unwrap());
                let mut stream = accepted.into_stream();
                stream.write_all(&[i]).await.unwrap();
                stream.shutdown().await.unwrap();
                let mut got = Vec::new();
                peer.read_to_end(&mut got).await.unwrap();
                assert_eq!(got, [i]);
            }
        },
    )
    .await;
}

#[tokio::test]
async fn an_accept_that_loses_a_select_leaves_its_connection_to_the_next() {
    within(
        "an accept that loses a select leaves its connection to the next",
        async move {
            let (_inst, listener, addr) = listening("127.0.0.1:0").await;
            tokio::select! {
                _ = listener.accept() => panic!("nobody connected yet"),
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            let mut peer = TcpStream::connect(addr).await.unwrap();
            peer.write_all(b"hello").await.unwrap();
            peer.shutdown().await.unwrap();
            let accepted = within("the next accept", listener.accept()).await.unwrap();
            assert_eq!(accepted.peer_addr(), peer.local_addr().unwrap());
            let mut got = Vec::new();
            accepted.into_stream().read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"hello");
        },
    )
    .await;
}

#[tokio::test]
async fn several_callers_may_wait_on_one_listener() {
    within("several callers may wait on one listener", async move {
        let (_inst, listener, addr) = listening("127.0.0.1:0").await;
        let (a, b, p, q) = within("two accepts and two connects", async {
            tokio::join!(
                listener.accept(),
                listener.accept(),
                TcpStream::connect(addr),
                TcpStream::connect(addr)
            )
        })
        .await;
        let mut accepted = [a.unwrap().peer_addr(), b.unwrap().peer_addr()];
        let mut peers = [
            p.unwrap().local_addr().unwrap(),
            q.unwrap().local_addr().unwrap(),
        ];
        accepted.sort();
        peers.sort();
        assert_eq!(accepted, peers);
    })
    .await;
}

#[tokio::test]
async fn a_listener_on_ipv6_loopback_accepts() {
    within("a listener on ipv6 loopback accepts", async move {
        let (_inst, listener, addr) = listening("[::1]:0").await;
        assert!(addr.is_ipv6());
        let (accepted, peer) = tokio::join!(listener.accept(), TcpStream::connect(addr));
        assert_eq!(
            accepted.unwrap().peer_addr(),
            peer.unwrap().local_addr().unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn dropping_a_listener_stops_listening() {
    within("dropping a listener stops listening", async move {
        let (inst, listener, addr) = listening("127.0.0.1:0").await;
        drop(listener);
        let refused = within("connecting after the drop", async {
            loop {
                match TcpStream::connect(addr).await {
                    Err(e) => break e,
                    // The release happens in the instance's own time.
                    Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        })
        .await;
        // A connect that races the close may be reset rather than refused.
        assert!(
            matches!(
                refused.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
            ),
            "{refused}"
        );
        assert_eq!(inst.failure(), None);
    })
    .await;
}
