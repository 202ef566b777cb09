//! Bounded memory in an instance holding many flows: what the flows hold
//! between calls comes from one buffer budget, half of the instance's
//! memory limit, so peers that send and never read cannot make the
//! instance run out of memory (a trap, which would end every flow of it),
//! and a flow the budget cannot afford is refused with a clear error while
//! the instance carries on.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{connect_to, echo_server, listening, pattern, read_to_end, serve, spoke, within};
use spoke_host::{FlowError, HandshakeError, Limits, MIN_MEMORY_BYTES, ShutdownMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What each peer sends before it reads anything: 24 MiB. Four such peers
/// (96 MiB) are more than the whole 64 MiB memory of the instance.
const SENT: usize = 24 << 20;

/// What the instance writes to each peer: 8 MiB, more than the sockets'
/// buffers hold, so each write waits until its peer reads.
const WRITTEN: usize = 8 << 20;

/// A peer that sends [`SENT`] bytes and, once the instance has begun to
/// write to it, reads nothing until its sending has made no progress for a
/// while (the instance stopped taking its bytes in) or is done; then it
/// reads and checks the [`WRITTEN`] bytes, and ends its sending with
/// end-of-stream. `checked` counts the peers whose bytes arrived intact.
async fn stubborn_peer(sock: tokio::net::TcpStream, checked: Arc<AtomicUsize>) {
    let (mut rd, mut wr) = sock.into_split();
    let progress = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (p, d) = (progress.clone(), done.clone());
    let sender = tokio::spawn(async move {
        let data = pattern(SENT);
        for chunk in data.chunks(64 << 10) {
            if wr.write_all(chunk).await.is_err() {
                return;
            }
            p.fetch_add(chunk.len(), Ordering::Relaxed);
        }
        d.store(true, Ordering::Relaxed);
        let _ = wr.shutdown().await;
    });
    // Wait until the instance writes, then until the sending is done or
    // has stalled for 300 ms.
    let _ = rd.peek(&mut [0; 1]).await;
    let mut seen = usize::MAX;
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = progress.load(Ordering::Relaxed);
        if now == seen {
            break;
        }
        seen = now;
    }
    let mut got = vec![0; WRITTEN];
    if rd.read_exact(&mut got).await.is_ok() && got == pattern(WRITTEN) {
        checked.fetch_add(1, Ordering::Relaxed);
    }
    let _ = sender.await;
    // Keep reading until the instance closes, so it is never blocked.
    let mut rest = Vec::new();
    let _ = rd.read_to_end(&mut rest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_whose_writes_wait_hold_no_more_than_the_budget_and_every_byte_arrives_later() {
    within("the stubborn peers' exchange", async {
        let checked = Arc::new(AtomicUsize::new(0));
        let c = checked.clone();
        let addr = serve(move |sock| stubborn_peer(sock, c.clone())).await;
        let echo = echo_server().await;
        let limits = Limits {
            memory_bytes: 64 << 20,
            ..Limits::default()
        };
        let mut inst = spoke()
            .instantiate_with(connect_to(addr).allow_connect(echo), limits)
            .await
            .unwrap();

        let mut flows = Vec::new();
        for _ in 0..4 {
            flows.push(inst.connect_address(addr).await.unwrap());
        }
        // Each write waits for its peer, which sends meanwhile: the flow
        // takes in what arrives while the budget has room, then waits
        // without reading, and the peer reads once it is stuck.
        let written = pattern(WRITTEN);
        for flow in &flows {
            inst.write(flow, &written)
                .await
                .unwrap_or_else(|e| panic!("a waiting write failed: {e}"));
        }
        assert_eq!(inst.failure(), None);

        // What the flows took in holds at most half the budget: new flows
        // still open, until their own shares use up the rest; then one more
        // is refused, with one line that names the limit.
        let mut more = Vec::new();
        let refused = loop {
            assert!(more.len() < 1000, "the budget never ran out");
            match inst.connect_address(echo).await {
                Ok(flow) => more.push(flow),
                Err(e) => break e,
            }
        };
        assert!(more.len() >= 100, "only {} more flows opened", more.len());
        let FlowError::Other(message) = &refused else {
            panic!("not the budget's error: {refused:?}")
        };
        assert!(
            message.contains("buffer budget") && message.contains("Limits::memory_bytes"),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
        assert_eq!(inst.failure(), None);
        for flow in more {
            inst.close(flow).await;
        }

        // Every flow still works: all the peers' bytes arrive, in order,
        // and the peers got the instance's.
        let sent = pattern(SENT);
        for flow in &flows {
            assert!(
                read_to_end(&mut inst, flow).await == sent,
                "bytes lost or reordered"
            );
        }
        assert_eq!(checked.load(Ordering::Relaxed), 4);
        for flow in flows {
            inst.close(flow).await;
        }

        // With the bytes read, the budget has room again.
        let flow = inst.connect_address(echo).await.unwrap();
        inst.write(&flow, b"room again").await.unwrap();
        inst.shutdown(&flow, ShutdownMode::Write).await.unwrap();
        assert_eq!(read_to_end(&mut inst, &flow).await, b"room again");
        assert_eq!(inst.failure(), None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_flow_the_budget_cannot_afford_is_refused_and_the_instance_carries_on() {
    within("the encrypted flows", async {
        let (mut server, listener, addr) = listening("127.0.0.1:0").await;
        // 8 MiB of memory: a 4 MiB budget, room for three encrypted flows
        // (about 1.3 MiB each with the TCP flow beneath).
        let limits = Limits {
            memory_bytes: 8 << 20,
            ..Limits::default()
        };
        let mut client = spoke()
            .instantiate_with(connect_to(addr), limits)
            .await
            .unwrap();
        let cfg = spoke_host::SpokeConfig {
            iterations: 1,
            ..Default::default()
        };
        let ids = ("c", "s");
        let mut flows = Vec::new();
        let refused = loop {
            assert!(flows.len() < 16, "the budget never ran out");
            let (accepted, connected) =
                tokio::join!(server.accept(&listener), client.connect_address(addr));
            let (s, c) = (accepted.unwrap(), connected.unwrap());
            let (s, c) = tokio::join!(
                server.spoke_server(s, ids, b"pw", &cfg),
                client.spoke_client(c, ids, b"pw", &cfg)
            );
            match c {
                Ok(c) => flows.push((s.unwrap(), c)),
                Err(e) => break e,
            }
        };
        assert_eq!(flows.len(), 3);
        let HandshakeError::Flow(FlowError::Other(message)) = &refused else {
            panic!("not the budget's error: {refused:?}")
        };
        assert!(
            message.contains("an encrypted flow") && message.contains("Limits::memory_bytes"),
            "{message}"
        );
        assert_eq!(client.failure(), None);

        // The flows already open carry on, and closing one makes room.
        for (s, c) in &flows {
            client.write(c, b"still here").await.unwrap();
            assert_eq!(
                server.read(s, 64).await.unwrap().as_deref(),
                Some(&b"still here"[..])
            );
        }
        let (s, c) = flows.pop().unwrap();
        client.close(c).await;
        server.close(s).await;
        let (accepted, connected) =
            tokio::join!(server.accept(&listener), client.connect_address(addr));
        let (s, c) = tokio::join!(
            server.spoke_server(accepted.unwrap(), ids, b"pw", &cfg),
            client.spoke_client(connected.unwrap(), ids, b"pw", &cfg)
        );
        let (s, c) = (s.unwrap(), c.unwrap());
        client.write(&c, b"room again").await.unwrap();
        assert_eq!(
            server.read(&s, 64).await.unwrap().as_deref(),
            Some(&b"room again"[..])
        );
    })
    .await;
}

#[tokio::test]
async fn limits_with_too_little_memory_for_the_buffers_are_refused() {
    let tiny = Limits {
        memory_bytes: MIN_MEMORY_BYTES - 1,
        ..Limits::default()
    };
    let Err(err) = spoke()
        .instantiate_with(connect_to("127.0.0.1:9".parse().unwrap()), tiny.clone())
        .await
    else {
        panic!("an instance with too little memory was made");
    };
    assert!(err.to_string().contains("Limits::memory_bytes"), "{err:#}");
    let options = spoke_host::Options {
        limits: tiny.clone(),
        ..Default::default()
    };
    let err = spoke_host::Spoke::with_options(options.clone()).unwrap_err();
    assert!(err.to_string().contains("Limits::memory_bytes"), "{err:#}");
    // The same for the 0.3 component and for composed commands.
    let err = spoke_host::SpokeP3::with_options(options).unwrap_err();
    assert!(err.to_string().contains("Limits::memory_bytes"), "{err:#}");
    let p3 = spoke_host::SpokeP3::new().unwrap();
    let Err(err) = p3
        .instantiate_with(connect_to("127.0.0.1:9".parse().unwrap()), tiny.clone())
        .await
    else {
        panic!("a 0.3 instance with too little memory was made");
    };
    assert!(err.to_string().contains("Limits::memory_bytes"), "{err:#}");
    let command = spoke_host::CommandComponent::new(spoke_examples::SPOKE_CAT).unwrap();
    let err = command
        .run(spoke_host::Invocation::new(&["spoke-cat"]).limits(tiny))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Limits::memory_bytes"), "{err:#}");
}
