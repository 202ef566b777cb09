//! `readable` waits in the host: it can lose a `tokio::select!` any number
//! of times without losing data or breaking the instance, which is what a
//! netcat waiting on "stdin or the flow" needs.

mod common;

use std::time::Duration;

use common::{connect_to, pattern, spoke, within};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[tokio::test]
async fn readable_is_cancel_safe_inside_select() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let data = pattern(200_000);
    let sent = data.clone();
    // A peer that sends in bursts with pauses, so that many waits are
    // interrupted while nothing is readable and others while data arrives.
    let (tick_tx, mut ticks) = mpsc::channel::<()>(1);
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        for chunk in sent.chunks(10_000) {
            sock.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sock.shutdown().await.unwrap();
    });
    // Something else to wait for, like stdin: fires every millisecond.
    tokio::spawn(async move {
        while tick_tx.send(()).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });

    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    let mut got = Vec::new();
    let mut interrupted = 0u32;
    within("reading with interruptions", async {
        loop {
            tokio::select! {
                r = inst.readable(&flow) => r.unwrap(),
                _ = ticks.recv() => { interrupted += 1; continue; }
            }
            match inst.read(&flow, 4096).await.unwrap() {
                Some(d) => got.extend(d),
                None => break,
            }
        }
    })
    .await;
    assert!(got == data, "every byte arrived once, in order");
    assert!(interrupted > 0, "the test exercised cancellation");
    assert_eq!(inst.failure(), None);
}

#[tokio::test]
async fn a_cancelled_wait_does_not_keep_the_flow_from_closing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    let (_peer, _) = listener.accept().await.unwrap();
    // Nothing will arrive: the wait is abandoned with its pollable alive.
    let waited = tokio::time::timeout(Duration::from_millis(20), inst.readable(&flow)).await;
    assert!(
        waited.is_err(),
        "nothing was sent, so the flow cannot be readable"
    );
    // Closing must still work (the abandoned pollable is released first).
    inst.close_in_place(&flow).await.unwrap();
    inst.close(flow).await;
    assert_eq!(inst.failure(), None);
}
