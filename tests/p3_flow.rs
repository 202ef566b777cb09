//! Plain TCP through the WASI 0.3 component: what goes in comes out, at
//! every size around the buffer boundaries, against a native peer and
//! between two 0.3 instances.

mod common;
#[path = "common/p3.rs"]
mod p3common;

use common::{echo_server, pattern, within};
use p3common::{connecting_to, echo_back, exchange, listening};

/// Sends `len` bytes through a 0.3 connection to a native peer that echoes
/// them as they come, and checks that exactly the same bytes return, then
/// end-of-stream.
async fn echo_native(len: usize) {
    let data = pattern(len);
    let addr = echo_server().await;
    let inst = connecting_to(addr).await;
    let conn = inst.connect_address(addr).await.unwrap();
    assert_eq!(conn.peer_addr(), addr);
    let back = within("the echo", exchange(conn.into_stream(), &data))
        .await
        .unwrap();
    assert_eq!(back.len(), data.len(), "echoed length");
    assert!(back == data, "the echoed bytes differ from those sent");
}

/// The same through a 0.3 server instance that echoes with its own
/// stream's halves.
async fn echo_p3(len: usize) {
    let data = pattern(len);
    let (server, listener, addr) = listening("127.0.0.1:0").await;
    let client = connecting_to(addr).await;
    let (accepted, connected) = tokio::join!(listener.accept(), client.connect_address(addr));
    let serving = tokio::spawn(echo_back(accepted.unwrap().into_stream()));
    let back = within(
        "the echo",
        exchange(connected.unwrap().into_stream(), &data),
    )
    .await
    .unwrap();
    within("the server", serving).await.unwrap().unwrap();
    assert_eq!(back.len(), data.len(), "echoed length");
    assert!(back == data, "the echoed bytes differ from those sent");
    drop(server);
}

const K64: usize = 64 * 1024;
const K256: usize = 256 * 1024;

macro_rules! sizes {
    ($($name:ident = $len:expr;)*) => {
        mod native {
            $(#[tokio::test]
            async fn $name() {
                super::within(stringify!($name), super::echo_native($len)).await;
            })*
        }
        mod between_instances {
            $(#[tokio::test]
            async fn $name() {
                super::within(stringify!($name), super::echo_p3($len)).await;
            })*
        }
    };
}

sizes! {
    echo_zero_bytes = 0;
    echo_one_byte = 1;
    echo_64k_minus_one = super::K64 - 1;
    echo_64k = super::K64;
    echo_64k_plus_one = super::K64 + 1;
    echo_256k_minus_one = super::K256 - 1;
    echo_256k = super::K256;
    echo_256k_plus_one = super::K256 + 1;
    echo_64m = 64 << 20;
}
