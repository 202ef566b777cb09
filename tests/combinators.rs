//! `copy` and `proxy` run inside the component: bytes move between two
//! flows of one instance without crossing into the host.

mod common;

use common::{pattern, spoke, within};
use std::net::SocketAddr;

use spoke_host::{Flow, Instance, NetworkPolicy, ShutdownMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A native listener on loopback and its address.
async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// An instance allowed to reach `a` and `b` (only), with a flow to each.
async fn connected_to(a: SocketAddr, b: SocketAddr) -> (Instance, Flow, Flow) {
    let policy = NetworkPolicy::deny_all().allow_connect(a).allow_connect(b);
    let mut inst = spoke().instantiate(policy).await.unwrap();
    let fa = inst.connect_address(a).await.unwrap();
    let fb = inst.connect_address(b).await.unwrap();
    (inst, fa, fb)
}

#[tokio::test]
async fn copy_moves_everything_then_half_closes_the_destination() {
    let ((src_listener, src_addr), (dst_listener, dst_addr)) = (listener().await, listener().await);
    let data = pattern(1 << 20);
    let sent = data.clone();
    let source = tokio::spawn(async move {
        let (mut s, _) = src_listener.accept().await.unwrap();
        s.write_all(&sent).await.unwrap();
        s.shutdown().await.unwrap();
    });
    let sink = tokio::spawn(async move {
        let (mut s, _) = dst_listener.accept().await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        got
    });
    let (mut inst, src, dst) = connected_to(src_addr, dst_addr).await;
    let stats = within("copy", inst.copy(&src, &dst)).await.unwrap();
    assert_eq!(stats.read_bytes, data.len() as u64);
    assert_eq!(stats.write_bytes, data.len() as u64);
    assert!(within("the sink", sink).await.unwrap() == data);
    source.await.unwrap();
}

#[tokio::test]
async fn copy_from_an_ended_source_into_a_shut_destination_moves_nothing_and_succeeds() {
    let ((src_listener, src_addr), (dst_listener, dst_addr)) = (listener().await, listener().await);
    let peers = tokio::spawn(async move {
        let (mut s, _) = src_listener.accept().await.unwrap();
        s.shutdown().await.unwrap();
        let (mut d, _) = dst_listener.accept().await.unwrap();
        let mut got = Vec::new();
        d.read_to_end(&mut got).await.unwrap();
        (s, got)
    });
    let (mut inst, src, dst) = connected_to(src_addr, dst_addr).await;
    inst.shutdown(&dst, ShutdownMode::Write).await.unwrap();
    // The source's end-of-stream has arrived before the copy starts.
    assert_eq!(within("the end", inst.read(&src, 16)).await, Ok(None));
    let stats = within("copy", inst.copy(&src, &dst)).await.unwrap();
    assert_eq!((stats.read_bytes, stats.write_bytes), (0, 0));
    let (_source, got) = within("the peers", peers).await.unwrap();
    assert!(got.is_empty());
}

#[tokio::test]
async fn proxy_relays_both_directions_until_both_end() {
    let ((a_listener, a_addr), (b_listener, b_addr)) = (listener().await, listener().await);
    let from_a = pattern(200_000);
    let from_b: Vec<u8> = pattern(150_000).into_iter().map(|x| !x).collect();
    let peer = |listener: TcpListener, send: Vec<u8>| {
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (mut r, mut w) = s.into_split();
            let writer = tokio::spawn(async move {
                w.write_all(&send).await.unwrap();
                w.shutdown().await.unwrap();
            });
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.unwrap();
            writer.await.unwrap();
            got
        })
    };
    let peer_a = peer(a_listener, from_a.clone());
    let peer_b = peer(b_listener, from_b.clone());
    let (mut inst, a, b) = connected_to(a_addr, b_addr).await;
    let (ab, ba) = within("proxy", inst.proxy(&a, &b)).await;
    assert_eq!(ab.error, None);
    assert_eq!(ba.error, None);
    assert_eq!(ab.stats.read_bytes, from_a.len() as u64);
    assert_eq!(ba.stats.read_bytes, from_b.len() as u64);
    assert!(peer_b.await.unwrap() == from_a, "b received what a sent");
    assert!(peer_a.await.unwrap() == from_b, "a received what b sent");
}

#[tokio::test]
async fn proxy_passes_a_half_close_on_and_the_answer_comes_back() {
    // b answers only once it has read a's end-of-stream, which reaches it
    // only if the proxy passes a's half-close on while keeping b -> a open.
    let ((a_listener, a_addr), (b_listener, b_addr)) = (listener().await, listener().await);
    let request = pattern(300_000);
    let sent = request.clone();
    let peer_a = tokio::spawn(async move {
        let (mut s, _) = a_listener.accept().await.unwrap();
        s.write_all(&sent).await.unwrap();
        s.shutdown().await.unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await.unwrap();
        answer
    });
    let peer_b = tokio::spawn(async move {
        let (mut s, _) = b_listener.accept().await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        let answer = format!("received {} bytes", got.len());
        s.write_all(answer.as_bytes()).await.unwrap();
        s.shutdown().await.unwrap();
        got
    });
    let (mut inst, a, b) = connected_to(a_addr, b_addr).await;
    let (ab, ba) = within("proxy", inst.proxy(&a, &b)).await;
    assert_eq!((ab.error, ba.error), (None, None));
    assert!(
        within("b", peer_b).await.unwrap() == request,
        "b got the request"
    );
    assert_eq!(
        within("a", peer_a).await.unwrap(),
        b"received 300000 bytes",
        "a got the answer after its half-close"
    );
}

#[tokio::test]
async fn proxy_reports_a_reset_and_keeps_what_the_other_side_already_sent() {
    // b sends everything and ends; a reads all of it; only then does b
    // reset its connection while a is still sending. The proxy reports
    // the failed write towards b, and a has every byte b sent.
    let ((a_listener, a_addr), (b_listener, b_addr)) = (listener().await, listener().await);
    let from_b = pattern(1 << 20);
    let sent = from_b.clone();
    let (a_has_all, b_may_reset) = tokio::sync::oneshot::channel::<()>();
    let peer_a = tokio::spawn(async move {
        let (s, _) = a_listener.accept().await.unwrap();
        let (mut r, mut w) = s.into_split();
        // a keeps sending until the proxy stops taking its bytes.
        let writer = tokio::spawn(async move {
            let chunk = vec![0x61; 64 * 1024];
            while w.write_all(&chunk).await.is_ok() {}
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        let _ = a_has_all.send(());
        writer.abort();
        got
    });
    let peer_b = tokio::spawn(async move {
        let (mut s, _) = b_listener.accept().await.unwrap();
        s.write_all(&sent).await.unwrap();
        s.shutdown().await.unwrap();
        let _ = b_may_reset.await;
        // Closing with unread bytes and no linger sends a reset.
        s.set_zero_linger().unwrap();
        drop(s);
    });
    let (mut inst, a, b) = connected_to(a_addr, b_addr).await;
    let (ab, ba) = within("proxy", inst.proxy(&a, &b)).await;
    assert_eq!(ba.error, None, "b -> a ended with b's end-of-stream");
    assert_eq!(ba.stats.read_bytes, from_b.len() as u64);
    match &ab.error {
        Some(spoke_host::CopyError::Write(e)) => {
            assert!(!e.to_string().is_empty(), "the error says what happened")
        }
        other => panic!("a -> b should fail writing to b, got {other:?}"),
    }
    assert!(
        within("a", peer_a).await.unwrap() == from_b,
        "a has all b sent"
    );
    within("b", peer_b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_into_an_encrypted_flow_passes_a_reset_on_as_a_cut_never_as_a_clean_end() {
    // a's peer sends some bytes and then resets; the proxy carries a into
    // the encrypted flow b. b's peer gets those bytes, then `truncated`:
    // no close marker vouches for a stream whose source failed.
    let (a_listener, a_addr) = listener().await;
    let (mut server, secure_listener, b_addr) = common::listening("127.0.0.1:0").await;
    let peer_a = tokio::spawn(async move {
        let (mut s, _) = a_listener.accept().await.unwrap();
        s.write_all(b"half of it").await.unwrap();
        // Give the bytes time to be read before the reset.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        s.set_zero_linger().unwrap();
        drop(s);
    });
    let cfg = spoke_host::SpokeConfig {
        iterations: 2,
        ..Default::default()
    };
    let ids = ("alice", "bob");
    let (mut inst, a, plain_b) = connected_to(a_addr, b_addr).await;
    let accepted = server.accept(&secure_listener).await.unwrap();
    let (secure_b, peer_b) = tokio::join!(
        inst.spoke_client(plain_b, ids, b"pw", &cfg),
        server.spoke_server(accepted, ids, b"pw", &cfg)
    );
    let (b, peer_b) = (secure_b.unwrap(), peer_b.unwrap());
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let end = loop {
            match server.read(&peer_b, 1 << 16).await {
                Ok(Some(bytes)) => got.extend_from_slice(&bytes),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        // Let the proxy's other direction end too.
        let _ = server.shutdown(&peer_b, ShutdownMode::Write).await;
        (got, end)
    });
    let (ab, _ba) = within("proxy", inst.proxy(&a, &b)).await;
    assert!(
        matches!(ab.error, Some(spoke_host::CopyError::Read(_))),
        "a -> b failed reading a: {:?}",
        ab.error
    );
    let (got, end) = within("b's peer", reader).await.unwrap();
    assert_eq!(got, b"half of it");
    assert_eq!(end, Err(spoke_host::FlowError::Truncated));
    within("a's peer", peer_a).await.unwrap();
}
