//! The WASI 0.3 component talks to everything the 0.2 one does: the 0.2
//! component in either role over loopback TCP (plain and encrypted), the
//! protocol core run natively in both roles and versions, and version 1
//! against the OCaml reference peer.

mod common;
#[path = "common/p3.rs"]
mod p3common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use common::{pattern, read_to_end, spoke, within};
use p3common::{connecting_to, echo_back, exchange, listening};
use spoke_host::{Cipher, NetworkPolicy, ShutdownMode, SpokeConfig};
use spoke_protocol::stream::SecureStream;
use spoke_protocol::{Cipher as CoreCipher, Config as CoreConfig, Identities, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IDS: (&str, &str) = ("client", "server");
const PASSWORD: &[u8] = b"correct horse battery staple";

fn config(version: u16) -> SpokeConfig {
    SpokeConfig {
        version,
        server_to_client: Cipher::Aes256Gcm,
        client_to_server: Cipher::Chacha20Poly1305,
        iterations: 16,
        ..SpokeConfig::default()
    }
}

/// The 0.2 instance's flow: `data` written, the write side shut, and
/// everything read back to the end; returns what came back.
async fn exchange_v02(
    inst: &mut spoke_host::Instance,
    flow: &spoke_host::Flow,
    data: &[u8],
) -> Vec<u8> {
    inst.write(flow, data).await.unwrap();
    inst.shutdown(flow, ShutdownMode::Write).await.unwrap();
    read_to_end(inst, flow).await
}

/// A 0.2 client against a 0.3 server that echoes, plain or encrypted with
/// `cfg`. The server stores before it answers, so the 0.2 client can write
/// everything before reading.
async fn v02_client_against_v03_server(cfg: Option<SpokeConfig>) {
    let data = pattern(1 << 20);
    let (_server, listener, addr) = listening("127.0.0.1:0").await;
    let serving = tokio::spawn(async move {
        let conn = listener.accept().await.unwrap();
        let mut stream = match cfg {
            Some(cfg) => conn.secure_server(IDS, PASSWORD, &cfg).await.unwrap(),
            None => conn.into_stream(),
        };
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        stream.write_all(&got).await.unwrap();
        stream.shutdown().await.unwrap();
    });
    let mut client = spoke()
        .instantiate(NetworkPolicy::deny_all().allow_connect(addr))
        .await
        .unwrap();
    let flow = client.connect_address(addr).await.unwrap();
    let flow = match cfg {
        Some(cfg) => client
            .spoke_client(flow, IDS, PASSWORD, &cfg)
            .await
            .unwrap(),
        None => flow,
    };
    let back = within("the echo", exchange_v02(&mut client, &flow, &data)).await;
    assert!(back == data, "the 0.3 server's echo differs");
    within("the server", serving).await.unwrap();
}

/// A 0.3 client against a 0.2 server that echoes with `copy`.
async fn v03_client_against_v02_server(cfg: Option<SpokeConfig>) {
    let data = pattern(1 << 20);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut server = spoke()
        .instantiate(NetworkPolicy::deny_all().allow_listen(any))
        .await
        .unwrap();
    let listener = server.listen(any).await.unwrap();
    let addr = server.listener_address(&listener).await.unwrap();
    let serving = tokio::spawn(async move {
        let flow = server.accept(&listener).await.unwrap();
        let flow = match cfg {
            Some(cfg) => server
                .spoke_server(flow, IDS, PASSWORD, &cfg)
                .await
                .unwrap(),
            None => flow,
        };
        server.copy(&flow, &flow).await.unwrap();
        server.close(flow).await;
    });
    let client = connecting_to(addr).await;
    let conn = client.connect_address(addr).await.unwrap();
    let stream = match cfg {
        Some(cfg) => conn.secure_client(IDS, PASSWORD, &cfg).await.unwrap(),
        None => conn.into_stream(),
    };
    let back = within("the echo", exchange(stream, &data)).await.unwrap();
    assert!(back == data, "the 0.2 server's echo differs");
    within("the server", serving).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_2_client_and_a_0_3_server_plain() {
    within("a 0 2 client and a 0 3 server plain", async move {
        v02_client_against_v03_server(None).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_2_client_and_a_0_3_server_encrypted_in_both_versions() {
    within(
        "a 0 2 client and a 0 3 server encrypted in both versions",
        async move {
            for version in [2, 1] {
                v02_client_against_v03_server(Some(config(version))).await;
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_3_client_and_a_0_2_server_plain() {
    within("a 0 3 client and a 0 2 server plain", async move {
        v03_client_against_v02_server(None).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_3_client_and_a_0_2_server_encrypted_in_both_versions() {
    within(
        "a 0 3 client and a 0 2 server encrypted in both versions",
        async move {
            for version in [2, 1] {
                v03_client_against_v02_server(Some(config(version))).await;
            }
        },
    )
    .await;
}

fn core_config(version: u16) -> CoreConfig {
    CoreConfig {
        version: if version == 1 {
            Version::V1
        } else {
            Version::V2
        },
        server_to_client: CoreCipher::Aes256Gcm,
        client_to_server: CoreCipher::ChaCha20Poly1305,
        iterations: 16,
        ..CoreConfig::default()
    }
}

fn core_ids() -> Identities {
    Identities {
        client: IDS.0.as_bytes().to_vec(),
        server: IDS.1.as_bytes().to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_core_and_the_0_3_component_interoperate_in_both_roles_and_versions() {
    within(
        "the native core and the 0 3 component interoperate in both roles and versions",
        async move {
            let data = pattern(4 << 20);
            for version in [1, 2] {
                // A native server echoes for a 0.3 client.
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let native = std::thread::spawn(move || {
                    let (sock, _) = listener.accept().unwrap();
                    let (mut r, mut w) =
                        SecureStream::server(sock, &core_config(version), core_ids(), PASSWORD)
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
                let client = connecting_to(addr).await;
                let conn = client.connect_address(addr).await.unwrap();
                let stream = conn
                    .secure_client(IDS, PASSWORD, &config(version))
                    .await
                    .expect("0.3 client handshake");
                let back = within("the native echo", exchange(stream, &data))
                    .await
                    .unwrap();
                assert!(back == data, "v{version}: the native server echoed intact");
                native.join().unwrap();

                // A 0.3 server echoes for a native client.
                let (_server, listener, addr) = listening("127.0.0.1:0").await;
                let serving = tokio::spawn(async move {
                    let conn = listener.accept().await.unwrap();
                    let stream = conn
                        .secure_server(IDS, PASSWORD, &config(version))
                        .await
                        .expect("0.3 server handshake");
                    echo_back(stream).await.unwrap();
                });
                let expected = data.clone();
                tokio::task::spawn_blocking(move || {
                    let s = SecureStream::client(
                        TcpStream::connect(addr).unwrap(),
                        &core_config(version),
                        core_ids(),
                        PASSWORD,
                    )
                    .expect("native client handshake");
                    let (mut r, mut w) = s.split();
                    let to_send = expected.clone();
                    let writer = std::thread::spawn(move || {
                        w.write_all(&to_send).unwrap();
                        w.shutdown_write().unwrap();
                    });
                    let mut got = Vec::new();
                    r.read_to_end(&mut got).unwrap();
                    writer.join().unwrap();
                    assert!(got == expected, "v{version}: the 0.3 server echoed intact");
                })
                .await
                .unwrap();
                within("the 0.3 server", serving).await.unwrap();
            }
        },
    )
    .await;
}

/// The OCaml reference peer (`$SPOKE_REF_PEER`, or the shared copy beside
/// the workspace), if it is there.
fn ref_peer() -> Option<PathBuf> {
    let path = std::env::var_os("SPOKE_REF_PEER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/ref-peer/spoke-ref-peer")
        });
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: the OCaml reference peer (set SPOKE_REF_PEER to spoke-ref-peer)");
        None
    }
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A child process, killed if the test ends before it does.
struct Peer(std::process::Child);

impl Peer {
    fn start(command: &mut std::process::Command) -> Self {
        Self(command.spawn().expect("the reference peer starts"))
    }

    /// Waits for the process to exit, without blocking the runtime.
    async fn exit(&mut self) -> std::process::ExitStatus {
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The reference's arguments for our password and identities.
fn ref_args() -> [String; 4] {
    [
        "--password".into(),
        String::from_utf8(PASSWORD.to_vec()).unwrap(),
        "--identity".into(),
        format!("{},{}", IDS.0, IDS.1),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_from_the_0_3_component_talks_to_the_ocaml_reference_server() {
    within(
        "version 1 from the 0 3 component talks to the ocaml reference server",
        async move {
            let Some(peer) = ref_peer() else { return };
            let port = free_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let mut server = Peer::start(
                std::process::Command::new(peer)
                    .args(["server", "--listen", &addr.to_string()])
                    .args(ref_args()),
            );
            let client = connecting_to(addr).await;
            // The reference takes a moment to listen.
            let conn = within("connecting to the reference", async {
                loop {
                    match client.connect_address(addr).await {
                        Ok(conn) => break conn,
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            })
            .await;
            let stream = within(
                "the handshake with the reference",
                conn.secure_client(IDS, PASSWORD, &config(1)),
            )
            .await
            .unwrap();
            let established = stream.established().unwrap();
            assert_eq!(
                (established.server_to_client, established.client_to_server),
                (Cipher::Aes256Gcm, Cipher::Chacha20Poly1305),
                "the reference's fixed ciphers"
            );
            let data = pattern(4 << 20);
            let back = within("the reference's echo", exchange(stream, &data))
                .await
                .unwrap();
            assert!(back == data, "the reference echoed intact");
            let status = within("the reference's exit", server.exit()).await;
            assert!(status.success(), "the reference server failed: {status}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ocaml_reference_client_talks_to_version_1_of_the_0_3_component() {
    within(
        "the ocaml reference client talks to version 1 of the 0 3 component",
        async move {
            let Some(peer) = ref_peer() else { return };
            let (_server, listener, addr) = listening("127.0.0.1:0").await;
            let serving = tokio::spawn(async move {
                let conn = listener.accept().await.unwrap();
                let mut stream = conn
                    .secure_server(IDS, PASSWORD, &config(1))
                    .await
                    .expect("the handshake with the reference");
                // Store, then answer: the reference sends everything first.
                let mut got = Vec::new();
                stream.read_to_end(&mut got).await.unwrap();
                stream.write_all(&got).await.unwrap();
                stream.shutdown().await.unwrap();
                got.len()
            });
            let dir = std::env::temp_dir().join(format!("spoke-p3-ref-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join("input");
            let data = pattern(4 << 20);
            std::fs::write(&file, &data).unwrap();
            let mut client = Peer::start(
                std::process::Command::new(peer)
                    .args(["client", "--connect", &addr.to_string()])
                    .args(ref_args())
                    .arg("--file")
                    .arg(&file)
                    .stdout(std::process::Stdio::null()),
            );
            let status = within("the reference client", client.exit()).await;
            let _ = std::fs::remove_dir_all(&dir);
            assert!(status.success(), "the reference client failed: {status}");
            assert_eq!(within("the 0.3 server", serving).await.unwrap(), data.len());
        },
    )
    .await;
}
