//! Half-close through the WASI 0.3 component: shutting a stream's writer
//! down ends only that direction (on an encrypted version-2 session after
//! the close marker), whichever side ends first, and the other direction
//! goes on to its own end.

mod common;
#[path = "common/p3.rs"]
mod p3common;

use std::io::ErrorKind;

use common::{pattern, within};
use p3common::{connecting_to, listening};
use spoke_host::SpokeConfig;
use spoke_host::p3::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const IDS: (&str, &str) = ("alice", "bob");
const PASSWORD: &[u8] = b"correct horse battery staple";

/// A server and a client stream between two instances: plain, or
/// encrypted with the default configuration (version 2).
async fn pair(secure: bool) -> (Stream, Stream) {
    let (_server, listener, addr) = listening("127.0.0.1:0").await;
    let client = connecting_to(addr).await;
    let (accepted, connected) = tokio::join!(listener.accept(), client.connect_address(addr));
    let (accepted, connected) = (accepted.unwrap(), connected.unwrap());
    if !secure {
        return (accepted.into_stream(), connected.into_stream());
    }
    let cfg = SpokeConfig::default();
    let (s, c) = tokio::join!(
        accepted.secure_server(IDS, PASSWORD, &cfg),
        connected.secure_client(IDS, PASSWORD, &cfg)
    );
    (s.unwrap(), c.unwrap())
}

/// `first` says something and ends its direction; `second` reads it to the
/// end, then answers (a large answer, past the buffers) and ends too.
async fn one_ends_then_the_other_answers(first: Stream, second: Stream) {
    let (mut first_reader, mut first_writer) = first.into_split();
    let (mut second_reader, mut second_writer) = second.into_split();
    first_writer.write_all(b"question").await.unwrap();
    within("the first shutdown", first_writer.shutdown())
        .await
        .unwrap();
    let mut got = Vec::new();
    within("reading to the end", second_reader.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got, b"question", "the end arrives after the bytes");
    let answer = pattern(300_000);
    let writing = async {
        second_writer.write_all(&answer).await.unwrap();
        second_writer.shutdown().await.unwrap();
    };
    let mut got = Vec::new();
    let reading = first_reader.read_to_end(&mut got);
    let ((), read) = within("the answer", async { tokio::join!(writing, reading) }).await;
    read.unwrap();
    assert!(got == answer, "the answer after the half-close");
    let late = first_writer.write_all(b"late").await.unwrap_err();
    assert_eq!(late.kind(), ErrorKind::BrokenPipe, "{late}");
}

#[tokio::test]
async fn plain_the_client_ends_first_and_the_server_still_answers() {
    within(
        "plain the client ends first and the server still answers",
        async move {
            let (server, client) = pair(false).await;
            one_ends_then_the_other_answers(client, server).await;
        },
    )
    .await;
}

#[tokio::test]
async fn plain_the_server_ends_first_and_the_client_still_answers() {
    within(
        "plain the server ends first and the client still answers",
        async move {
            let (server, client) = pair(false).await;
            one_ends_then_the_other_answers(server, client).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_the_client_ends_first_with_the_close_marker_and_the_server_still_answers() {
    within(
        "secure the client ends first with the close marker and the server still answers",
        async move {
            let (server, client) = pair(true).await;
            one_ends_then_the_other_answers(client, server).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_the_server_ends_first_with_the_close_marker_and_the_client_still_answers() {
    within(
        "secure the server ends first with the close marker and the client still answers",
        async move {
            let (server, client) = pair(true).await;
            one_ends_then_the_other_answers(server, client).await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_native_peer_reads_the_fin_and_its_answer_comes_back() {
    within(
        "a native peer reads the fin and its answer comes back",
        async move {
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
            let inst = connecting_to(addr).await;
            let mut stream = inst.connect_address(addr).await.unwrap().into_stream();
            stream.write_all(b"request").await.unwrap();
            stream.shutdown().await.unwrap();
            let mut reply = Vec::new();
            within("the reply", stream.read_to_end(&mut reply))
                .await
                .unwrap();
            assert_eq!(reply, b"reply after your end: request");
            peer.await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn dropping_a_stream_closes_the_connection_for_the_peer() {
    within(
        "dropping a stream closes the connection for the peer",
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let inst = connecting_to(addr).await;
            let mut stream = inst.connect_address(addr).await.unwrap().into_stream();
            let (mut sock, _) = listener.accept().await.unwrap();
            stream.write_all(b"bye").await.unwrap();
            drop(stream);
            let mut got = Vec::new();
            within("the peer's read", sock.read_to_end(&mut got))
                .await
                .unwrap();
            assert_eq!(got, b"bye");
        },
    )
    .await;
}

#[tokio::test]
async fn dropping_an_unused_connection_closes_it_for_the_peer() {
    within(
        "dropping an unused connection closes it for the peer",
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let inst = connecting_to(addr).await;
            let conn = inst.connect_address(addr).await.unwrap();
            let (mut sock, _) = listener.accept().await.unwrap();
            drop(conn);
            let mut got = Vec::new();
            within("the peer's read", sock.read_to_end(&mut got))
                .await
                .unwrap();
            assert!(got.is_empty());
            assert_eq!(inst.failure(), None);
        },
    )
    .await;
}
