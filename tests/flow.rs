//! Plain TCP flows through the real component: what goes in comes out,
//! whatever the size, through `write` and `writev`, on several flows at once.

mod common;

use common::{
    connect_to, echo_server, pattern, read_to_end, spoke, store_and_forward_server, within,
};
use spoke_host::{Instance, ShutdownMode};

/// Sends `data` through one flow to a native peer that sends it all back,
/// writing it in one `write` (or one `writev` of three pieces), and checks
/// that exactly the same bytes return, then end-of-stream.
async fn echo(len: usize, vectored: bool) {
    let data = pattern(len);
    let addr = store_and_forward_server().await;
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    within("the echo", async {
        if vectored {
            let (a, rest) = data.split_at(data.len() / 3);
            let (b, c) = rest.split_at(rest.len() / 2);
            inst.writev(&flow, &[a, b, c]).await.unwrap();
        } else {
            inst.write(&flow, &data).await.unwrap();
        }
        inst.shutdown(&flow, ShutdownMode::Write).await.unwrap();
        let back = read_to_end(&mut inst, &flow).await;
        assert_eq!(back.len(), data.len(), "echoed length");
        assert!(back == data, "the echoed bytes differ from those sent");
    })
    .await;
    inst.close(flow).await;
}

const K64: usize = 64 * 1024;

#[tokio::test]
async fn echo_zero_bytes() {
    echo(0, false).await;
}

#[tokio::test]
async fn echo_one_byte() {
    echo(1, false).await;
}

#[tokio::test]
async fn echo_64k_minus_one() {
    echo(K64 - 1, false).await;
}

#[tokio::test]
async fn echo_64k() {
    echo(K64, false).await;
}

#[tokio::test]
async fn echo_64k_plus_one() {
    echo(K64 + 1, false).await;
}

#[tokio::test]
async fn echo_64m() {
    echo(64 << 20, false).await;
}

#[tokio::test]
async fn writev_echo_zero_bytes() {
    echo(0, true).await;
}

#[tokio::test]
async fn writev_echo_one_byte() {
    echo(1, true).await;
}

#[tokio::test]
async fn writev_echo_64k_minus_one() {
    echo(K64 - 1, true).await;
}

#[tokio::test]
async fn writev_echo_64k() {
    echo(K64, true).await;
}

#[tokio::test]
async fn writev_echo_64k_plus_one() {
    echo(K64 + 1, true).await;
}

#[tokio::test]
async fn writev_echo_64m() {
    echo(64 << 20, true).await;
}

#[tokio::test]
async fn writev_with_empty_buffers_writes_the_others_in_order() {
    let addr = store_and_forward_server().await;
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    inst.writev(&flow, &[b"", b"ab", b"", b"c", b""])
        .await
        .unwrap();
    inst.writev(&flow, &[]).await.unwrap();
    inst.shutdown(&flow, ShutdownMode::Write).await.unwrap();
    assert_eq!(read_to_end(&mut inst, &flow).await, b"abc");
}

#[tokio::test]
async fn a_read_returns_at_most_max_bytes_and_max_zero_means_one() {
    let addr = store_and_forward_server().await;
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    inst.write(&flow, b"hello").await.unwrap();
    inst.shutdown(&flow, ShutdownMode::Write).await.unwrap();
    let first = inst.read(&flow, 0).await.unwrap().unwrap();
    assert_eq!(first, b"h");
    let mut rest = Vec::new();
    while let Some(chunk) = inst.read(&flow, 2).await.unwrap() {
        assert!((1..=2).contains(&chunk.len()), "{} bytes", chunk.len());
        rest.extend(chunk);
    }
    assert_eq!(rest, b"ello");
    // End-of-stream is sticky.
    assert_eq!(inst.read(&flow, 10).await.unwrap(), None);
}

#[tokio::test]
async fn addresses_of_a_flow_are_those_of_the_connection() {
    let addr = echo_server().await;
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect("127.0.0.1", addr.port()).await.unwrap();
    assert_eq!(inst.remote_address(&flow).await.unwrap(), addr);
    let local = inst.local_address(&flow).await.unwrap();
    assert_eq!(local.ip(), addr.ip());
    assert_ne!(local.port(), 0);
}

#[tokio::test]
async fn flows_to_ipv6_loopback_work() {
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = sock.split();
        tokio::io::copy(&mut r, &mut w).await.unwrap();
    });
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect("::1", addr.port()).await.unwrap();
    inst.write(&flow, b"six").await.unwrap();
    inst.shutdown(&flow, ShutdownMode::Write).await.unwrap();
    assert_eq!(read_to_end(&mut inst, &flow).await, b"six");
    server.await.unwrap();
}

#[tokio::test]
async fn a_read_takes_what_has_arrived_beyond_64k_up_to_max() {
    // wasmtime-wasi reads at most 64 KiB at a time unless patched (see
    // vendor/wasmtime-wasi/PATCH.md); a reader that asks for more and lets
    // data accumulate gets larger reads, as a native one does.
    let data = pattern(4 << 20);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = data.clone();
    let peer = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut sock, &sent)
            .await
            .unwrap();
    });
    let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = inst.connect_address(addr).await.unwrap();
    let (mut got, mut largest) = (Vec::new(), 0);
    within("4 MiB read with pauses", async {
        while let Some(chunk) = {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            inst.read(&flow, 1 << 20).await.unwrap()
        } {
            largest = largest.max(chunk.len());
            got.extend(chunk);
        }
    })
    .await;
    assert!(got == data, "the bytes arrive intact");
    assert!(
        largest > 64 << 10,
        "the largest read took only {largest} bytes"
    );
    peer.await.unwrap();
}

/// Writes `data` in chunks and reads the echo back, one chunk at a time.
async fn ping_pong(inst: &mut Instance, addr: std::net::SocketAddr, data: &[u8]) {
    let flow = inst.connect_address(addr).await.unwrap();
    for chunk in data.chunks(10_000) {
        inst.write(&flow, chunk).await.unwrap();
        let mut got = Vec::new();
        while got.len() < chunk.len() {
            got.extend(
                inst.read(&flow, 1 << 16)
                    .await
                    .unwrap()
                    .expect("data before end-of-stream"),
            );
        }
        assert!(got == chunk, "echo mismatch");
    }
    inst.close(flow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_instances_serve_flows_concurrently() {
    let addr = echo_server().await;
    let tasks: Vec<_> = (0..4u8)
        .map(|i| {
            tokio::spawn(async move {
                let mut inst = spoke().instantiate(connect_to(addr)).await.unwrap();
                let mut data = pattern(200_000);
                data.iter_mut().for_each(|b| *b ^= i);
                ping_pong(&mut inst, addr, &data).await;
            })
        })
        .collect();
    within("four concurrent instances", async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn one_instance_serves_two_flows_by_waiting_until_readable() {
    // Two native peers that each send a different stream, then end it.
    let mut addrs = Vec::new();
    let mut expected = Vec::new();
    for i in 0..2u8 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        let mut data = pattern(300_000 + usize::from(i) * 12_345);
        data.iter_mut().for_each(|b| *b = b.wrapping_add(i));
        expected.push(data.clone());
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let (mut sock, _) = listener.accept().await.unwrap();
            for chunk in data.chunks(7_000) {
                sock.write_all(chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
            sock.shutdown().await.unwrap();
        });
    }
    let policy = connect_to(addrs[0]).allow_connect(addrs[1]);
    let mut inst = spoke().instantiate(policy).await.unwrap();
    let a = inst.connect_address(addrs[0]).await.unwrap();
    let b = inst.connect_address(addrs[1]).await.unwrap();
    let flows = [a, b];
    let mut got = [Vec::new(), Vec::new()];
    let mut done = [false, false];
    within("reading both flows", async {
        while !(done[0] && done[1]) {
            for i in 0..2 {
                if done[i] {
                    continue;
                }
                inst.readable(&flows[i]).await.unwrap();
                // Readable means the read does not block: data or end-of-stream.
                match inst.read(&flows[i], 4096).await.unwrap() {
                    Some(d) => got[i].extend(d),
                    None => done[i] = true,
                }
            }
        }
    })
    .await;
    assert!(got[0] == expected[0], "first flow's bytes");
    assert!(got[1] == expected[1], "second flow's bytes");
}
