//! The public packet parser and both handshake state machines on
//! arbitrary bytes.
//!
//! Byte 0 picks the version and who is fuzzed; bytes 1-8 seed every
//! salt and scalar (client and server draw from `Seeded` sources of this
//! seed, never from the OS), so an input replays its crash exactly. After
//! them, bytes 9-10 choose where to cut the rest, what the peer "sent",
//! into chunks, then EOF. With bit 2 of byte 0 set, a real client and
//! server talk instead, and everything after the seed is XORed onto their
//! messages (a man in the middle). Invariants: no panic; parse and emit are inverse; a handshake fed
//! garbage never succeeds; a tampered one never succeeds on both sides;
//! after the end, `step` keeps failing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spoke_protocol::testing::Seeded;
use spoke_protocol::wire::{PUBLIC_LEN, PublicPacket};
use spoke_protocol::{
    ClientHandshake, Config, Handshake, Identities, ServerHandshake, Step, Version,
};

/// Bytes 1-8 of the input: the seed of both sides' randomness.
const SEED_LEN: usize = 8;

/// A side's randomness: a deterministic stream of the input's seed, one
/// per side so the client's and the server's scalars differ.
fn randomness(seed: &[u8; SEED_LEN], side: &[u8]) -> Seeded {
    Seeded::new(&[seed.as_slice(), side].concat())
}

fn client(config: &Config, ids: Identities, seed: &[u8; SEED_LEN]) -> ClientHandshake {
    ClientHandshake::with_randomness(config, ids, b"password", randomness(seed, b"client"))
        .expect("a valid configuration")
}

fn server(config: &Config, ids: Identities, seed: &[u8; SEED_LEN]) -> ServerHandshake {
    ServerHandshake::with_randomness(config, ids, b"password", randomness(seed, b"server"))
        .expect("a valid configuration")
}

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
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let Some((seed, data)) = data.split_first_chunk::<SEED_LEN>() else {
        return;
    };
    let version = if mode & 1 == 0 {
        Version::V1
    } else {
        Version::V2
    };
    // Small counts keep the fuzzer fast; the bound is what is under test.
    let config = Config {
        version,
        iterations: 1,
        max_iterations: 64,
        ..Config::default()
    };
    let ids = Identities {
        client: b"client".to_vec(),
        server: b"server".to_vec(),
    };
    if mode & 4 != 0 {
        return mitm(&config, seed, data);
    }
    let [a, b, rest @ ..] = data else {
        return;
    };
    let (a, b) = (
        usize::from(*a).min(rest.len()),
        usize::from(*b).min(rest.len()),
    );
    let (lo, hi) = (a.min(b), a.max(b));
    let chunks = [&rest[..lo], &rest[lo..hi], &rest[hi..]];
    let done = if mode & 2 == 0 {
        run(&mut client(&config, ids, seed), &chunks)
    } else {
        run(&mut server(&config, ids, seed), &chunks)
    };
    assert!(!done, "garbage completed a handshake");
});

/// A real client and server whose messages get `mask` XORed on, in order.
fn mitm(config: &Config, seed: &[u8; SEED_LEN], mask: &[u8]) {
    let ids = Identities {
        client: b"client".to_vec(),
        server: b"server".to_vec(),
    };
    let mut c = client(config, ids.clone(), seed);
    let mut s = server(config, ids, seed);
    let mut mask = mask.iter();
    let mut tampered = false;
    let mut messages = 0;
    let mut done = [false, false];
    let mut ended = [false, false];
    for _ in 0..32 {
        for side in 0..2 {
            if ended[side] {
                continue;
            }
            let (me, other): (&mut dyn Handshake, &mut dyn Handshake) = if side == 0 {
                (&mut s, &mut c)
            } else {
                (&mut c, &mut s)
            };
            match me.step() {
                Step::Send(mut bytes) => {
                    for (i, b) in bytes.iter_mut().enumerate() {
                        let m = mask.next().copied().unwrap_or(0);
                        // Version 1 does not authenticate the cipher ids
                        // (§8 item 9): changing them alone goes unnoticed.
                        let unauthenticated =
                            config.version == Version::V1 && messages == 0 && (12..16).contains(&i);
                        tampered |= m != 0 && !unauthenticated;
                        *b ^= m;
                    }
                    messages += 1;
                    other.feed(&bytes);
                }
                Step::NeedInput => {}
                Step::Done(_) => {
                    done[side] = true;
                    ended[side] = true;
                }
                Step::Failed(_) => {
                    other.feed_eof();
                    ended[side] = true;
                }
            }
        }
    }
    assert!(ended[0] && ended[1], "a side neither finished nor failed");
    if tampered {
        assert!(
            !(done[0] && done[1]),
            "a tampered handshake succeeded on both sides"
        );
    } else if config.version == Version::V2 {
        assert!(done[0] && done[1], "an untouched handshake failed");
    }
}
