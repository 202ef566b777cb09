//! The public packet parser and both handshake state machines on
//! arbitrary bytes.
//!
//! Byte 0 picks the version and who is fuzzed; the rest is what the peer
//! "sent", cut into chunks at the positions bytes 1-2 choose, then EOF.
//! Invariants: no panic; parse and emit are inverse; a handshake fed
//! garbage never succeeds; after the end, `step` keeps failing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spoke::protocol::wire::{PUBLIC_LEN, PublicPacket};
use spoke::protocol::{ClientHandshake, Config, Handshake, Identities, ServerHandshake, Step, Version};

fn run(h: &mut dyn Handshake, chunks: &[&[u8]]) -> bool {
    let mut done = false;
    let mut feed = chunks.iter();
    for _ in 0..64 {
        match h.step() {
            Step::Send(bytes) => assert!(!bytes.is_empty()),
            Step::NeedInput => match feed.next() {
                Some(c) => h.feed(c),
                None => h.feed_eof(),
            },
            Step::Done(_) => done = true,
            Step::Failed(_) => {
                assert!(matches!(h.step(), Step::Failed(_)));
                return done;
            }
        }
    }
    panic!("the handshake neither finished nor failed");
}

fuzz_target!(|data: &[u8]| {
    if let Some(bytes) = data.get(..PUBLIC_LEN) {
        let bytes: &[u8; PUBLIC_LEN] = bytes.try_into().unwrap();
        if let Ok(packet) = PublicPacket::parse(bytes) {
            assert_eq!(&packet.emit(), bytes);
            assert_eq!(PublicPacket::parse(&packet.emit()), Ok(packet));
        }
    }
    let [mode, a, b, rest @ ..] = data else { return };
    let version = if mode & 1 == 0 { Version::V1 } else { Version::V2 };
    // Small counts keep the fuzzer fast; the bound is what is under test.
    let config = Config { version, iterations: 1, max_iterations: 64, ..Config::default() };
    let ids = Identities { client: b"client".to_vec(), server: b"server".to_vec() };
    let (a, b) = (usize::from(*a).min(rest.len()), usize::from(*b).min(rest.len()));
    let (lo, hi) = (a.min(b), a.max(b));
    let chunks = [&rest[..lo], &rest[lo..hi], &rest[hi..]];
    let done = if mode & 2 == 0 {
        run(&mut ClientHandshake::new(&config, ids, b"password").unwrap(), &chunks)
    } else {
        run(&mut ServerHandshake::new(&config, ids, b"password").unwrap(), &chunks)
    };
    assert!(!done, "garbage completed a handshake");
});
