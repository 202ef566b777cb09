//! Listening: the guest listens on an ephemeral loopback port, native
//! clients connect, and data flows both ways.

mod common;

use common::{listening, pattern, read_exact, read_to_end, spoke, within};
use spoke_host::{NetworkPolicy, ShutdownMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn a_guest_listener_accepts_a_native_client_and_data_flows_both_ways() {
    let (mut inst, listener, addr) = listening("127.0.0.1:0").await;
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0, "the listener reports the port it got");

    let request = pattern(100_000);
    let sent = request.clone();
    let client = tokio::spawn(async move {
        let mut sock = TcpStream::connect(addr).await.unwrap();
        sock.write_all(&sent).await.unwrap();
        sock.shutdown().await.unwrap();
        let mut reply = Vec::new();
        sock.read_to_end(&mut reply).await.unwrap();
        reply
    });

    let flow = within("accept", inst.accept(&listener)).await.unwrap();
    let client_addr = inst.remote_address(&flow).await.unwrap();
    assert_eq!(client_addr.ip(), addr.ip());
    assert_eq!(inst.local_address(&flow).await.unwrap(), addr);
    let got = within("reading the request", read_to_end(&mut inst, &flow)).await;
    assert!(got == request, "the request arrived intact");
    let mut reply = b"got ".to_vec();
    reply.extend_from_slice(&(got.len() as u64).to_be_bytes());
    inst.write(&flow, &reply).await.unwrap();
    inst.shutdown(&flow, ShutdownMode::Write).await.unwrap();
    assert_eq!(client.await.unwrap(), reply);
    inst.close(flow).await;
    inst.close_listener(listener).await;
}

#[tokio::test]
async fn a_listener_accepts_several_clients_one_after_the_other() {
    let (mut inst, listener, addr) = listening("127.0.0.1:0").await;
    for i in 0..3u8 {
        let client = tokio::spawn(async move {
            let mut sock = TcpStream::connect(addr).await.unwrap();
            sock.write_all(&[i; 3]).await.unwrap();
            read_exact(&mut sock, 3).await
        });
        let flow = within("accept", inst.accept(&listener)).await.unwrap();
        let mut got = Vec::new();
        while got.len() < 3 {
            got.extend(inst.read(&flow, 3).await.unwrap().unwrap());
        }
        inst.write(&flow, &got).await.unwrap();
        assert_eq!(client.await.unwrap(), vec![i; 3]);
        inst.close(flow).await;
    }
}

#[tokio::test]
async fn acceptable_waits_for_a_client_without_blocking_the_host() {
    let (mut inst, listener, addr) = listening("[::1]:0").await;
    // Nobody has connected yet, so waiting cannot finish before the client
    // connects; the wait runs in the host while the client task connects.
    let client = tokio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    within("acceptable", inst.acceptable(&listener))
        .await
        .unwrap();
    let _client = client.await.unwrap();
    let flow = inst.accept(&listener).await.unwrap();
    assert_eq!(inst.local_address(&flow).await.unwrap(), addr);
}

#[tokio::test]
async fn a_guest_listener_and_a_guest_client_talk_through_two_instances() {
    let (mut server, listener, addr) = listening("127.0.0.1:0").await;
    let mut client = spoke()
        .instantiate(NetworkPolicy::deny_all().allow_connect(addr))
        .await
        .unwrap();
    let data = pattern(50_000);
    let sent = data.clone();
    let client_task = tokio::spawn(async move {
        let flow = client.connect_address(addr).await.unwrap();
        client.write(&flow, &sent).await.unwrap();
        client.shutdown(&flow, ShutdownMode::Write).await.unwrap();
        read_to_end(&mut client, &flow).await
    });
    let flow = within("accept", server.accept(&listener)).await.unwrap();
    let got = read_to_end(&mut server, &flow).await;
    server.write(&flow, &got).await.unwrap();
    server.shutdown(&flow, ShutdownMode::Write).await.unwrap();
    assert!(within("the client", client_task).await.unwrap() == data);
}
