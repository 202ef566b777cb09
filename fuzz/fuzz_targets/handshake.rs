//! The public packet parser and both handshake state machines on
//! arbitrary bytes (format: `spoke_fuzz::input::handshake`).
//!
//! Byte 0 picks the version, the server's ciphers and iteration count and
//! who is fuzzed; bytes 1-8 seed every salt and scalar (client and server
//! draw from `Seeded` sources of this seed, never from the OS), so an
//! input replays its crash exactly. After them, bytes 9-10 choose where to
//! cut the rest, what the peer "sent", into chunks, then EOF. With bit 2
//! of byte 0 set, a real client and server talk instead, and everything
//! after the seed is XORed onto their messages (a man in the middle).
//!
//! Invariants: no panic; parse and emit are inverse; a side fed bytes on
//! its own completes only when they begin with exactly what the real peer
//! of its seed sends, never on anything else; a tampered one never
//! succeeds on both sides; an untouched one succeeds on both, with the
//! same keys and ciphers on both sides (a record sealed by one opens at
//! the other), or fails on both when the server asks for too many
//! iterations; after the end, `step` keeps failing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spoke_fuzz::input::handshake::{MITM, PASSWORD, SEED_LEN, SERVER, client, config, server};
use spoke_protocol::testing::{Dir, run_pair, session_keys};
use spoke_protocol::wire::{PUBLIC_LEN, PublicPacket};
use spoke_protocol::{Config, Handshake, Opened, Session, Step, Version};

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
    let config = config(mode);
    if mode & MITM != 0 {
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
    let done = if mode & SERVER == 0 {
        run(&mut client(&config, PASSWORD, seed), &chunks)
    } else {
        run(&mut server(&config, PASSWORD, seed), &chunks)
    };
    if done {
        let from = if mode & SERVER == 0 {
            Dir::ServerToClient
        } else {
            Dir::ClientToServer
        };
        assert!(
            is_real_peer(&config, seed, from, rest),
            "bytes other than the real peer's completed a handshake"
        );
    }
});

/// Whether `sent` begins with what the real peer of this seed sends in
/// direction `from` to a real side of the same seed. The server's ciphers
/// and count are its own: the client takes them from its public packet,
/// so the real server is the one configured as that packet says (in
/// version 1 the cipher ids are not authenticated, §8 item 9, so a packet
/// with other ids completes too: it is that server's). Seeds of this
/// target hold real messages with a bit flipped, which the fuzzer flips
/// back.
fn is_real_peer(config: &Config, seed: &[u8; SEED_LEN], from: Dir, sent: &[u8]) -> bool {
    let mut pair = config.clone();
    if from == Dir::ServerToClient {
        let Some(Ok(public)) = sent.first_chunk::<PUBLIC_LEN>().map(PublicPacket::parse) else {
            return false;
        };
        pair.server_to_client = public.cipher0;
        pair.client_to_server = public.cipher1;
        pair.iterations = public.iterations;
    }
    pair.max_iterations = pair.max_iterations.max(pair.iterations);
    let mut c = client(&pair, PASSWORD, seed);
    let mut s = server(&pair, PASSWORD, seed);
    let outcome = run_pair(&mut c, &mut s, None);
    assert!(
        outcome.client.is_ok() && outcome.server.is_ok(),
        "the real pair failed"
    );
    let real: Vec<u8> = outcome
        .wire
        .into_iter()
        .filter(|(dir, _)| *dir == from)
        .flat_map(|(_, message)| message)
        .collect();
    sent.starts_with(&real)
}

/// A real client and server whose messages get `mask` XORed on, in order.
fn mitm(config: &Config, seed: &[u8; SEED_LEN], mask: &[u8]) {
    let mut c = client(config, PASSWORD, seed);
    let mut s = server(config, PASSWORD, seed);
    let mut mask = mask.iter();
    let mut tampered = false;
    let mut touched = false;
    let mut messages = 0;
    let mut done: [Option<Box<Session>>; 2] = [None, None];
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
                        touched |= m != 0;
                        *b ^= m;
                    }
                    messages += 1;
                    other.feed(&bytes);
                }
                Step::NeedInput => {}
                Step::Done(session) => {
                    done[side] = Some(session);
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
    let [server_side, client_side] = done;
    if tampered {
        assert!(
            server_side.is_none() || client_side.is_none(),
            "a tampered handshake succeeded on both sides"
        );
    } else if touched {
        // Version 1 with only its unauthenticated cipher ids changed:
        // either outcome.
    } else if config.iterations > config.max_iterations {
        assert!(
            server_side.is_none() && client_side.is_none(),
            "a handshake over the iteration bound succeeded"
        );
    } else {
        let (Some(server_side), Some(client_side)) = (server_side, client_side) else {
            panic!("an untouched handshake failed");
        };
        agree(config, *client_side, *server_side);
    }
}

/// Both ends of an untouched handshake hold the same session: keys,
/// ciphers, version, and records that cross.
fn agree(config: &Config, client: Session, server: Session) {
    assert_eq!(session_keys(&client), session_keys(&server));
    let ciphers = (config.server_to_client, config.client_to_server);
    assert_eq!(client.ciphers(), ciphers);
    assert_eq!(server.ciphers(), ciphers);
    assert_eq!(client.version(), config.version);
    assert_eq!(server.version(), config.version);
    let (mut client_sealer, mut client_opener) = client.into_parts();
    let (mut server_sealer, mut server_opener) = server.into_parts();
    for (sealer, opener) in [
        (&mut client_sealer, &mut server_opener),
        (&mut server_sealer, &mut client_opener),
    ] {
        let mut wire = Vec::new();
        sealer
            .seal(b"across", &mut wire)
            .expect("a fresh sealer seals");
        opener.feed(&wire);
        assert_eq!(opener.open(), Ok(Opened::Data(&mut b"across".to_vec()[..])));
        assert_eq!(opener.open(), Ok(Opened::NeedInput));
    }
}
