//! Full duplex driven from the host: a host that writes whenever it has
//! data and reads when the flow is readable (as `spoke connect` does) never
//! deadlocks with a peer that sends a lot before it reads anything, plain
//! or encrypted. A write blocked on a full socket keeps taking in what the
//! peer sends, and later reads return it in order.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;

use common::{pattern, spoke, within};
use spoke_host::{Flow, Instance, NetworkPolicy, ShutdownMode};
use spoke_protocol::stream::SecureStream;
use spoke_protocol::{Config as CoreConfig, Identities};

const IDS: (&str, &str) = ("alice", "bob");
const PASSWORD: &[u8] = b"correct horse battery staple";
/// Each side sends this much before reading anything.
const SIZE: usize = 64 << 20;

/// A native peer on loopback: writes `ours` in full (then ends its
/// direction), only then reads everything the other side sent.
fn greedy_peer(
    secure: bool,
    ours: Vec<u8>,
) -> (SocketAddr, thread::JoinHandle<std::io::Result<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = thread::spawn(move || {
        let (sock, _) = listener.accept()?;
        let mut got = Vec::new();
        if secure {
            let ids = Identities {
                client: IDS.0.as_bytes().to_vec(),
                server: IDS.1.as_bytes().to_vec(),
            };
            let s = SecureStream::server(sock, &CoreConfig::default(), ids, PASSWORD)
                .map_err(std::io::Error::other)?;
            let (mut r, mut w) = s.split();
            w.write_all(&ours)?;
            w.shutdown_write()?;
            r.read_to_end(&mut got)?;
        } else {
            let mut sock = sock;
            sock.write_all(&ours)?;
            sock.shutdown(std::net::Shutdown::Write)?;
            sock.read_to_end(&mut got)?;
        }
        Ok(got)
    });
    (addr, peer)
}

/// Sends `data` in 64 KiB writes and reads until end-of-stream, choosing
/// at each step like a netcat: read when readable, otherwise write.
async fn exchange(inst: &mut Instance, flow: &Flow, data: &[u8]) -> Vec<u8> {
    let (mut sent, mut got, mut ended) = (0, Vec::new(), false);
    while !ended {
        let writing = sent < data.len();
        tokio::select! {
            biased;
            ready = inst.readable(flow) => {
                ready.expect("readable");
                match inst.read(flow, 1 << 16).await.expect("read") {
                    Some(chunk) => got.extend_from_slice(&chunk),
                    None => ended = true,
                }
            }
            () = std::future::ready(()), if writing => {
                let end = (sent + (1 << 16)).min(data.len());
                inst.write(flow, &data[sent..end]).await.expect("write");
                sent = end;
                if sent == data.len() {
                    inst.shutdown(flow, ShutdownMode::Write).await.expect("shutdown");
                }
            }
        }
    }
    assert_eq!(
        sent,
        data.len(),
        "the peer ended before we wrote everything"
    );
    got
}

async fn both_ways(secure: bool) {
    let ours = pattern(SIZE);
    let theirs: Vec<u8> = pattern(SIZE + 1)[1..].to_vec();
    let (addr, peer) = greedy_peer(secure, theirs.clone());
    let mut inst = spoke()
        .instantiate(NetworkPolicy::deny_all().allow_connect(addr))
        .await
        .unwrap();
    let mut flow = inst.connect_address(addr).await.unwrap();
    if secure {
        let cfg = inst.default_config().await.unwrap();
        flow = inst
            .spoke_client(flow, IDS, PASSWORD, &cfg)
            .await
            .expect("handshake");
    }
    let got = within("the two-way exchange", exchange(&mut inst, &flow, &ours)).await;
    assert!(got == theirs, "we received the peer's bytes intact");
    let peer_got = tokio::task::spawn_blocking(move || peer.join())
        .await
        .unwrap()
        .expect("peer thread")
        .expect("peer i/o");
    assert!(peer_got == ours, "the peer received our bytes intact");
    inst.close(flow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_flow_writes_64_mib_to_a_peer_that_writes_64_mib_before_reading() {
    both_ways(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_flow_writes_64_mib_to_a_peer_that_writes_64_mib_before_reading() {
    both_ways(true).await;
}
