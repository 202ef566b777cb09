//! Encrypted flows through the real component: large transfers, every
//! cipher pair in both protocol versions, the protocol core run natively
//! against the component in both roles, and hostile or broken peers.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

use common::{connect_to, connected_pair, pattern, read_to_end, spoke, within};
use spoke_host::{
    Cipher, Flow, FlowError, HandshakeError, Instance, NetworkPolicy, ShutdownMode, SpokeConfig,
};
use spoke_protocol::stream::SecureStream;
use spoke_protocol::wire::PublicPacket;
use spoke_protocol::{Cipher as CoreCipher, Config as CoreConfig, Identities, Version};

const IDS: (&str, &str) = ("alice", "bob");
const PASSWORD: &[u8] = b"correct horse battery staple";

fn core_ids() -> Identities {
    Identities {
        client: IDS.0.as_bytes().to_vec(),
        server: IDS.1.as_bytes().to_vec(),
    }
}

fn config(version: u16, s2c: Cipher, c2s: Cipher) -> SpokeConfig {
    SpokeConfig {
        version,
        server_to_client: s2c,
        client_to_server: c2s,
        iterations: 2,
        ..SpokeConfig::default()
    }
}

fn core_cipher(c: Cipher) -> CoreCipher {
    match c {
        Cipher::Aes256Gcm => CoreCipher::Aes256Gcm,
        Cipher::Aes256Ccm => CoreCipher::Aes256Ccm,
        Cipher::Chacha20Poly1305 => CoreCipher::ChaCha20Poly1305,
    }
}

fn core_config(cfg: &SpokeConfig) -> CoreConfig {
    CoreConfig {
        version: if cfg.version == 1 {
            Version::V1
        } else {
            Version::V2
        },
        server_to_client: core_cipher(cfg.server_to_client),
        client_to_server: core_cipher(cfg.client_to_server),
        iterations: cfg.iterations,
        max_iterations: cfg.max_iterations,
    }
}

/// Both ends in components, handshaken with `cfg`.
async fn secure_pair(cfg: &SpokeConfig) -> ((Instance, Flow), (Instance, Flow)) {
    let ((mut server, sflow), (mut client, cflow)) = connected_pair().await;
    let (s, c) = tokio::join!(
        server.spoke_server(sflow, IDS, PASSWORD, cfg),
        client.spoke_client(cflow, IDS, PASSWORD, cfg)
    );
    (
        (server, s.expect("server handshake")),
        (client, c.expect("client handshake")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mebibytes_cross_between_two_components_intact() {
    let ((mut server, sflow), (mut client, cflow)) = secure_pair(&SpokeConfig::default()).await;
    let echo = tokio::spawn(async move {
        let stats = server
            .copy(&sflow, &sflow)
            .await
            .expect("the server echoes");
        server.close(sflow).await;
        stats.write_bytes
    });
    let data = pattern(64 << 20);
    let (mut sent, mut got) = (0, Vec::with_capacity(data.len()));
    // Keep at most 1 MiB in flight so neither side waits on a full buffer.
    while got.len() < data.len() {
        if sent < data.len() && sent - got.len() < 1 << 20 {
            let end = (sent + 256 * 1024).min(data.len());
            client.write(&cflow, &data[sent..end]).await.unwrap();
            sent = end;
            if sent == data.len() {
                client.shutdown(&cflow, ShutdownMode::Write).await.unwrap();
            }
            continue;
        }
        let chunk = client
            .read(&cflow, 1 << 20)
            .await
            .unwrap()
            .expect("the echo goes on");
        got.extend_from_slice(&chunk);
    }
    assert_eq!(
        client.read(&cflow, 1).await.unwrap(),
        None,
        "the echo ends with the server's close marker"
    );
    assert!(got == data, "64 MiB came back byte for byte");
    assert_eq!(echo.await.unwrap(), 64 << 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cipher_pair_works_in_both_versions_and_is_reported() {
    let ciphers = [
        Cipher::Chacha20Poly1305,
        Cipher::Aes256Gcm,
        Cipher::Aes256Ccm,
    ];
    for version in [1, 2] {
        for s2c in ciphers {
            for c2s in ciphers {
                let cfg = config(version, s2c, c2s);
                let ((mut server, sflow), (mut client, cflow)) = secure_pair(&cfg).await;
                let label = format!("v{version} {s2c:?}/{c2s:?}");
                assert_eq!(client.ciphers(&cflow).await, Some((s2c, c2s)), "{label}");
                assert_eq!(server.ciphers(&sflow).await, Some((s2c, c2s)), "{label}");
                client.write(&cflow, b"ping").await.unwrap();
                assert_eq!(
                    server.read(&sflow, 100).await.unwrap().as_deref(),
                    Some(&b"ping"[..]),
                    "{label}"
                );
                server.write(&sflow, b"pong").await.unwrap();
                assert_eq!(
                    client.read(&cflow, 100).await.unwrap().as_deref(),
                    Some(&b"pong"[..]),
                    "{label}"
                );
                client.close(cflow).await;
                server.close(sflow).await;
            }
        }
    }
}

/// A native listener whose first connection is handed to `serve` on a thread.
fn native_server<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, thread::JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (
        addr,
        thread::spawn(move || serve(listener.accept().unwrap().0)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_core_and_the_component_interoperate_in_both_roles_and_versions() {
    let data = pattern(8 << 20);
    for version in [1, 2] {
        let cfg = config(version, Cipher::Aes256Gcm, Cipher::Chacha20Poly1305);

        // A native server echoes for a component client.
        let core = core_config(&cfg);
        let (addr, native) = native_server(move |s| {
            let (mut r, mut w) = SecureStream::server(s, &core, core_ids(), PASSWORD)
                .expect("native server handshake")
                .split();
            let mut buf = vec![0; 1 << 16];
            loop {
                match r.read(&mut buf).expect("native read") {
                    0 => break,
                    n => w.write_all(&buf[..n]).expect("native write"),
                }
            }
            w.shutdown_write().unwrap();
        });
        let (mut client, flow) = secure_client(addr, &cfg, "component client handshake").await;
        let (mut sent, mut got) = (0, Vec::new());
        while sent < data.len() || got.len() < data.len() {
            if sent < data.len() && sent - got.len() < 1 << 20 {
                let end = (sent + 100_000).min(data.len());
                client.write(&flow, &data[sent..end]).await.unwrap();
                sent = end;
                continue;
            }
            got.extend_from_slice(&client.read(&flow, 1 << 20).await.unwrap().expect("echo"));
        }
        client.shutdown(&flow, ShutdownMode::Write).await.unwrap();
        assert_eq!(
            client.read(&flow, 1).await.unwrap(),
            None,
            "v{version}: the native server's end arrives"
        );
        assert!(got == data, "v{version}: native server echoed intact");
        native.join().unwrap();

        // A component server echoes for a native client.
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut server = spoke()
            .instantiate(NetworkPolicy::deny_all().allow_listen(any))
            .await
            .unwrap();
        let listener = server.listen(any).await.unwrap();
        let addr = server.listener_address(&listener).await.unwrap();
        let server_cfg = cfg;
        let echo = tokio::spawn(async move {
            let flow = server.accept(&listener).await.unwrap();
            let flow = server
                .spoke_server(flow, IDS, PASSWORD, &server_cfg)
                .await
                .expect("component server handshake");
            server.copy(&flow, &flow).await.expect("component echo");
            server.close(flow).await;
        });
        let core = core_config(&cfg);
        let expected = data.clone();
        tokio::task::spawn_blocking(move || {
            let s = SecureStream::client(
                TcpStream::connect(addr).unwrap(),
                &core,
                core_ids(),
                PASSWORD,
            )
            .expect("native client handshake");
            assert_eq!(
                s.ciphers(),
                (CoreCipher::Aes256Gcm, CoreCipher::ChaCha20Poly1305)
            );
            let (mut r, mut w) = s.split();
            let to_send = expected.clone();
            let writer = thread::spawn(move || {
                w.write_all(&to_send).unwrap();
                w.shutdown_write().unwrap();
            });
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            writer.join().unwrap();
            assert!(
                got == expected,
                "v{version}: component server echoed intact"
            );
        })
        .await
        .unwrap();
        echo.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_without_the_close_marker_is_truncated_in_v2_and_a_clean_end_in_v1() {
    for version in [2, 1] {
        let cfg = config(version, Cipher::Chacha20Poly1305, Cipher::Chacha20Poly1305);
        let core = core_config(&cfg);
        let (addr, native) = native_server(move |s| {
            let mut secure = SecureStream::server(s, &core, core_ids(), PASSWORD).unwrap();
            secure.write_all(b"partial data").unwrap();
            // Cut the connection without the close marker.
            secure.get_ref().shutdown(std::net::Shutdown::Both).unwrap();
        });
        let (mut client, flow) = secure_client(addr, &cfg, "component client handshake").await;
        native.join().unwrap();
        let mut got = Vec::new();
        let end = loop {
            match client.read(&flow, 1 << 16).await {
                Ok(Some(data)) => got.extend_from_slice(&data),
                other => break other,
            }
        };
        assert_eq!(
            got, b"partial data",
            "v{version}: the data before the cut is delivered"
        );
        if version == 2 {
            assert_eq!(end, Err(FlowError::Truncated));
            assert_eq!(
                client.read(&flow, 1).await,
                Err(FlowError::Truncated),
                "truncated is sticky"
            );
        } else {
            assert_eq!(end, Ok(None), "version 1 has no close marker: a clean end");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_in_a_record_is_corrupted_and_stays_so() {
    // A relay between a component client and a native server flips one bit
    // of the first record the server sends.
    let cfg = config(2, Cipher::Chacha20Poly1305, Cipher::Chacha20Poly1305);
    let core = core_config(&cfg);
    let (server_addr, native) = native_server(move |s| {
        let mut secure = SecureStream::server(s, &core, core_ids(), PASSWORD).unwrap();
        secure
            .write_all(b"a record that will be tampered with")
            .unwrap();
        secure.write_all(b"a later, intact record").unwrap();
        let mut rest = Vec::new();
        let _ = secure.read_to_end(&mut rest);
    });
    let (relay_addr, relay) = native_server(move |mut client_side| {
        let mut server_side = TcpStream::connect(server_addr).unwrap();
        let mut upstream = client_side.try_clone().unwrap();
        let mut server_read = server_side.try_clone().unwrap();
        let up = thread::spawn(move || {
            let _ = std::io::copy(&mut upstream, &mut server_side);
            let _ = server_side.shutdown(std::net::Shutdown::Write);
        });
        // public (34) + Y||cv (96) go through untouched; then flip a bit
        // inside the first record's ciphertext.
        let mut seen = 0usize;
        let mut buf = vec![0; 4096];
        loop {
            let n = match server_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let flip_at = 130 + 5;
            if seen <= flip_at && flip_at < seen + n {
                buf[flip_at - seen] ^= 0x01;
            }
            seen += n;
            if client_side.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = client_side.shutdown(std::net::Shutdown::Both);
        let _ = up.join();
    });
    let (mut client, flow) =
        secure_client(relay_addr, &cfg, "the handshake itself is untouched").await;
    assert_eq!(client.read(&flow, 1 << 16).await, Err(FlowError::Corrupted));
    assert_eq!(
        client.read(&flow, 1 << 16).await,
        Err(FlowError::Corrupted),
        "corrupted is sticky: the intact record is not delivered"
    );
    client.close(flow).await;
    native.join().unwrap();
    relay.join().unwrap();
}

/// A fake server that sends `public` and then waits for the client to hang up.
fn hostile_server(public: Vec<u8>) -> (SocketAddr, thread::JoinHandle<()>) {
    native_server(move |mut s| {
        s.write_all(&public).unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    })
}

/// A component client allowed to reach `addr` (only), connected there and
/// secured with `cfg`; `what` names the handshake if it fails.
async fn secure_client(addr: SocketAddr, cfg: &SpokeConfig, what: &str) -> (Instance, Flow) {
    let mut client = spoke().instantiate(connect_to(addr)).await.unwrap();
    let flow = client.connect_address(addr).await.unwrap();
    let flow = client
        .spoke_client(flow, IDS, PASSWORD, cfg)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    (client, flow)
}

async fn client_against(addr: SocketAddr, cfg: &SpokeConfig) -> HandshakeError {
    let mut client = spoke()
        .instantiate(NetworkPolicy::deny_all().allow_connect(addr))
        .await
        .unwrap();
    let flow = client.connect_address(addr).await.unwrap();
    let err = within(
        "the client's verdict",
        client.spoke_client(flow, IDS, PASSWORD, cfg),
    )
    .await
    .expect_err("the handshake must fail");
    assert!(
        client.failure().is_none(),
        "a hostile peer never breaks the instance"
    );
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_iteration_counts_are_refused_before_any_work() {
    for (count, version) in [(0u64, 2u16), (1 << 62, 2), (1 << 62, 1), (100_001, 2)] {
        let public = PublicPacket {
            version,
            iterations: count,
            cipher0: CoreCipher::ChaCha20Poly1305,
            cipher1: CoreCipher::ChaCha20Poly1305,
            salt: [7; 16],
        };
        let (addr, server) = hostile_server(public.emit().to_vec());
        let err = client_against(
            addr,
            &config(version, Cipher::Chacha20Poly1305, Cipher::Chacha20Poly1305),
        )
        .await;
        assert_eq!(
            err,
            HandshakeError::IterationCountRefused {
                requested: count,
                maximum: 100_000
            },
            "count {count}"
        );
        server.join().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_or_the_other_version_instead_of_a_handshake_fails_clearly() {
    let (addr, server) = hostile_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec());
    assert_eq!(
        client_against(addr, &SpokeConfig::default()).await,
        HandshakeError::InvalidPublicPacket
    );
    server.join().unwrap();

    let ((mut server, sflow), (mut client, cflow)) = connected_pair().await;
    let v1 = config(1, Cipher::Chacha20Poly1305, Cipher::Chacha20Poly1305);
    let v2 = config(2, Cipher::Chacha20Poly1305, Cipher::Chacha20Poly1305);
    let (s, c) = tokio::join!(
        server.spoke_server(sflow, IDS, PASSWORD, &v1),
        client.spoke_client(cflow, IDS, PASSWORD, &v2)
    );
    let c = c.expect_err("a v2 client refuses a v1 server");
    assert_eq!(c, HandshakeError::VersionMismatch { ours: 2, theirs: 1 });
    assert!(
        c.to_string().to_lowercase().contains("compat"),
        "the message names the setting: {c}"
    );
    assert!(s.is_err(), "the server sees the client hang up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_identities_fail_like_a_wrong_password() {
    let ((mut server, sflow), (mut client, cflow)) = connected_pair().await;
    let cfg = SpokeConfig::default();
    let (s, c) = tokio::join!(
        server.spoke_server(sflow, IDS, PASSWORD, &cfg),
        client.spoke_client(cflow, (IDS.1, IDS.0), PASSWORD, &cfg)
    );
    assert_eq!(c.unwrap_err(), HandshakeError::InvalidClientValidator);
    assert!(s.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_write_sends_the_close_marker_and_the_peer_can_still_answer() {
    let ((mut server, sflow), (mut client, cflow)) = secure_pair(&SpokeConfig::default()).await;
    client.write(&cflow, b"question").await.unwrap();
    client.shutdown(&cflow, ShutdownMode::Write).await.unwrap();
    assert_eq!(
        read_to_end(&mut server, &sflow).await,
        b"question",
        "the server reads an authenticated end"
    );
    server.write(&sflow, b"answer").await.unwrap();
    server.shutdown(&sflow, ShutdownMode::Write).await.unwrap();
    assert_eq!(read_to_end(&mut client, &cflow).await, b"answer");
    assert!(matches!(
        client.write(&cflow, b"late").await,
        Err(spoke_host::WriteError::Closed)
    ));
    client.close(cflow).await;
    server.close(sflow).await;
}
