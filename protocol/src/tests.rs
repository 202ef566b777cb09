//! Behaviour of the protocol core as specifications: round trips over an
//! in-memory pair, version 2's close marker and truncation, the tampering
//! property of §9, and hostile or broken peers.

use super::testing::{Dir, Scripted, drain, run_pair};
use super::*;

fn ids() -> Identities {
    Identities {
        client: b"alice".to_vec(),
        server: b"bob".to_vec(),
    }
}

const ALL: [Cipher; 3] = [
    Cipher::Aes256Gcm,
    Cipher::Aes256Ccm,
    Cipher::ChaCha20Poly1305,
];

fn config(version: Version, s2c: Cipher, c2s: Cipher) -> Config {
    Config {
        version,
        server_to_client: s2c,
        client_to_server: c2s,
        ..Config::default()
    }
}

/// A finished handshake: (client sealer, client opener, server sealer, server opener).
fn connect(cfg: &Config) -> (Sealer, Opener, Sealer, Opener) {
    let mut c = ClientHandshake::new(cfg, ids(), b"pw").unwrap();
    let mut s = ServerHandshake::new(cfg, ids(), b"pw").unwrap();
    let out = run_pair(&mut c, &mut s, None);
    let (client, server) = (out.client.unwrap(), out.server.unwrap());
    assert_eq!(client.version(), cfg.version);
    assert_eq!(
        client.ciphers(),
        (cfg.server_to_client, cfg.client_to_server)
    );
    assert_eq!(server.ciphers(), client.ciphers());
    let (cs, co) = client.into_parts();
    let (ss, so) = server.into_parts();
    (cs, co, ss, so)
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn sealed(sealer: &mut Sealer, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    sealer.seal(data, &mut out).unwrap();
    out
}

#[test]
fn every_cipher_pair_round_trips_in_both_versions() {
    for version in [Version::V1, Version::V2] {
        for s2c in ALL {
            for c2s in ALL {
                let (mut cs, mut co, mut ss, mut so) = connect(&config(version, s2c, c2s));
                assert_eq!(
                    (cs.cipher(), co.cipher(), ss.cipher(), so.cipher()),
                    (c2s, s2c, s2c, c2s)
                );
                let big = pattern(200_000);
                let mut wire = sealed(&mut cs, b"hello");
                wire.extend(sealed(&mut cs, &big));
                so.feed(&wire);
                let (data, end) = drain(&mut so);
                assert_eq!(data[0], b"hello");
                assert_eq!(
                    data[1..].iter().map(Vec::len).collect::<Vec<_>>(),
                    [65517, 65517, 65517, 3449]
                );
                assert_eq!((data[1..].concat(), end.as_str()), (big, "NeedInput"));
                co.feed(&sealed(&mut ss, b"world"));
                assert_eq!(
                    drain(&mut co),
                    (vec![b"world".to_vec()], "NeedInput".into())
                );
            }
        }
    }
}

#[test]
fn records_never_exceed_65517_bytes_of_plaintext() {
    let (mut cs, ..) = connect(&Config::default());
    let out = sealed(&mut cs, &pattern(65518));
    assert_eq!(
        &out[..2],
        &[0xff, 0xff],
        "first record is the largest, LEN 65535"
    );
    assert_eq!(out.len(), 65535 + 2 + 1 + 16);
    assert_eq!(&out[65535..65537], &[0, 19]);
    assert!(
        sealed(&mut cs, &[]).is_empty(),
        "an empty write emits nothing"
    );
}

#[test]
fn v2_close_marker_ends_the_stream_once() {
    let (mut cs, _, _, mut so) = connect(&Config::default());
    let mut wire = sealed(&mut cs, b"last words");
    let before = wire.len();
    cs.seal_close(&mut wire).unwrap();
    assert_eq!(
        wire.len() - before,
        18,
        "the close marker is an empty record"
    );
    let again = wire.len();
    cs.seal_close(&mut wire).unwrap();
    assert_eq!(wire.len(), again, "sent once");
    assert_eq!(cs.seal(b"more", &mut wire), Err(RecordError::Closed));
    so.feed(&wire);
    assert_eq!(drain(&mut so), (vec![b"last words".to_vec()], "End".into()));
    assert_eq!(so.open(), Ok(Opened::End), "End is repeated");
    so.feed_eof();
    assert_eq!(so.open(), Ok(Opened::End), "EOF after the marker is clean");
}

#[test]
fn v2_record_after_close_marker_is_corrupted() {
    let (mut cs, _, _, mut so) = connect(&Config::default());
    let mut wire = Vec::new();
    cs.seal_close(&mut wire).unwrap();
    // A forged continuation: same keys, next sequence number.
    so.feed(&wire);
    assert_eq!(so.open(), Ok(Opened::End));
    so.feed(&[0, 18, 1, 2]);
    assert_eq!(so.open(), Err(RecordError::Corrupted));
    assert_eq!(so.open(), Err(RecordError::Corrupted), "sticky");
}

#[test]
fn v2_truncation_at_a_boundary_or_inside_a_record_is_reported() {
    for cut in [0usize, 1, 2, 10, 22] {
        let (mut cs, _, _, mut so) = connect(&Config::default());
        let mut wire = sealed(&mut cs, b"first");
        let record = sealed(&mut cs, b"hello");
        wire.extend_from_slice(&record[..cut]);
        so.feed(&wire);
        so.feed_eof();
        let (data, end) = drain(&mut so);
        assert_eq!(
            (data, end.as_str()),
            (vec![b"first".to_vec()], "Truncated"),
            "cut at {cut}"
        );
        assert_eq!(so.open(), Err(RecordError::Truncated), "sticky");
        so.feed(&record);
        assert_eq!(
            so.open(),
            Err(RecordError::Truncated),
            "nothing more is accepted"
        );
    }
}

#[test]
fn v1_eof_is_clean_at_a_boundary_and_corrupt_inside_a_record() {
    let cfg = config(Version::V1, Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305);
    let (mut cs, _, _, mut so) = connect(&cfg);
    let mut wire = sealed(&mut cs, b"x");
    let len = wire.len();
    cs.seal_close(&mut wire).unwrap();
    assert_eq!(wire.len(), len, "version 1 has no close marker");
    so.feed(&wire);
    so.feed_eof();
    assert_eq!(drain(&mut so), (vec![b"x".to_vec()], "End".into()));

    let (mut cs, _, _, mut so) = connect(&cfg);
    so.feed(&sealed(&mut cs, b"hello")[..7]);
    so.feed_eof();
    assert_eq!(so.open(), Err(RecordError::Corrupted));
}

#[test]
fn record_lengths_below_18_are_corrupt_and_18_and_65535_work() {
    for version in [Version::V1, Version::V2] {
        let cfg = config(version, Cipher::ChaCha20Poly1305, Cipher::Aes256Gcm);
        for len in [0u8, 1, 17] {
            let (.., mut so) = connect(&cfg);
            so.feed(&[0, len]);
            so.feed(&[0; 40]);
            assert_eq!(
                so.open(),
                Err(RecordError::Corrupted),
                "{version:?} LEN {len}"
            );
        }
        // LEN 18: an empty record. v1 skips it, v2 reads it as the close marker.
        let (mut cs, _, _, mut so) = connect(&cfg);
        let mut wire = Vec::new();
        if version == Version::V2 {
            cs.seal_close(&mut wire).unwrap();
            so.feed(&wire);
            assert_eq!(so.open(), Ok(Opened::End));
        }
        // LEN 65535: the largest record.
        let (mut cs, _, _, mut so) = connect(&cfg);
        let wire = sealed(&mut cs, &pattern(65517));
        assert_eq!(&wire[..2], &[0xff, 0xff]);
        so.feed(&wire);
        assert_eq!(drain(&mut so), (vec![pattern(65517)], "NeedInput".into()));
    }
}

#[test]
fn any_flipped_bit_in_a_record_is_corrupted() {
    let (mut cs, _, _, _) = connect(&Config::default());
    let record = sealed(&mut cs, b"attack at dawn");
    for i in 0..record.len() {
        for bit in [0x01, 0x80] {
            let (mut cs2, _, _, mut so) = connect(&Config::default());
            let mut bad = sealed(&mut cs2, b"attack at dawn");
            bad[i] ^= bit;
            so.feed(&bad);
            so.feed(&[0; 40]); // so that a lengthened header has its bytes
            let (data, end) = drain(&mut so);
            assert!(
                data.is_empty() && (end == "Corrupted" || end == "NeedInput"),
                "byte {i}: {data:?} {end}"
            );
            if end == "NeedInput" {
                // A header made longer waits for more bytes; EOF then is truncation.
                so.feed_eof();
                assert_eq!(so.open(), Err(RecordError::Truncated));
            }
        }
    }
}

#[test]
fn replayed_and_reordered_records_are_corrupted() {
    let (mut cs, _, _, mut so) = connect(&Config::default());
    let first = sealed(&mut cs, b"one");
    so.feed(&first);
    so.feed(&first);
    assert_eq!(drain(&mut so), (vec![b"one".to_vec()], "Corrupted".into()));

    let (mut cs, _, _, mut so) = connect(&Config::default());
    let first = sealed(&mut cs, b"one");
    let second = sealed(&mut cs, b"two");
    so.feed(&second);
    so.feed(&first);
    assert_eq!(drain(&mut so), (vec![], "Corrupted".into()));
}

#[test]
fn a_record_for_the_other_direction_is_corrupted() {
    let (mut cs, mut co, _, _) = connect(&Config::default());
    co.feed(&sealed(&mut cs, b"reflected"));
    assert_eq!(co.open(), Err(RecordError::Corrupted));
}

#[test]
fn sealer_refuses_to_wrap_the_sequence_number() {
    let (mut cs, ..) = connect(&Config::default());
    cs.skip_to(u64::MAX - 1);
    let mut out = Vec::new();
    assert_eq!(
        cs.seal(&pattern(65518), &mut out),
        Ok(()),
        "uses u64::MAX - 1 and u64::MAX"
    );
    let len = out.len();
    assert_eq!(cs.seal(b"x", &mut out), Err(RecordError::SequenceExhausted));
    assert_eq!(cs.seal_close(&mut out), Err(RecordError::SequenceExhausted));
    assert_eq!(out.len(), len, "nothing appended");

    let (mut cs, ..) = connect(&Config::default());
    cs.skip_to(u64::MAX);
    assert_eq!(
        cs.seal(&pattern(65518), &mut out),
        Err(RecordError::SequenceExhausted),
        "all or nothing"
    );
    assert_eq!(out.len(), len);
}

#[test]
fn the_last_sequence_number_opens_and_nothing_after_it_does() {
    let (mut cs, _, _, mut so) = connect(&Config::default());
    cs.skip_to(u64::MAX);
    so.skip_to(u64::MAX);
    let last = sealed(&mut cs, b"the last record");
    so.feed(&last);
    assert_eq!(
        so.open(),
        Ok(Opened::Data(&mut b"the last record".to_vec()[..]))
    );
    so.feed(&last);
    assert_eq!(so.open(), Err(RecordError::SequenceExhausted));
    assert_eq!(so.open(), Err(RecordError::SequenceExhausted), "sticky");
}

#[test]
fn pipelined_validator_and_records_in_one_feed() {
    for version in [Version::V1, Version::V2] {
        let cfg = config(version, Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305);
        let mut c = ClientHandshake::new(&cfg, ids(), b"pw").unwrap();
        let mut s = ServerHandshake::new(&cfg, ids(), b"pw").unwrap();
        let Step::Send(public) = s.step() else {
            panic!()
        };
        c.feed(&public);
        let Step::Send(x) = c.step() else { panic!() };
        s.feed(&x);
        let Step::Send(reply) = s.step() else {
            panic!()
        };
        c.feed(&reply);
        let Step::Send(sv) = c.step() else { panic!() };
        let Step::Done(client) = c.step() else {
            panic!()
        };
        let (mut cs, _) = client.into_parts();
        // sv, then far more than the reference's 128-byte context, at once.
        let mut burst = sv;
        burst.extend(sealed(&mut cs, b"first"));
        burst.extend(sealed(&mut cs, &pattern(100_000)));
        s.feed(&burst);
        let Step::Done(server) = s.step() else {
            panic!("server must accept sv plus pipelined records")
        };
        let (_, mut so) = server.into_parts();
        assert_eq!(so.buffered(), burst.len() - 64);
        let (data, end) = drain(&mut so);
        assert_eq!(data[0], b"first");
        assert_eq!(
            (data[1..].concat(), end.as_str()),
            (pattern(100_000), "NeedInput")
        );
        assert_eq!(so.buffered(), 0);
    }
}

#[test]
fn handshake_survives_byte_at_a_time_delivery() {
    let cfg = Config::default();
    let mut c = ClientHandshake::new(&cfg, ids(), b"pw").unwrap();
    let mut s = ServerHandshake::new(&cfg, ids(), b"pw").unwrap();
    let mut to_client: Vec<u8> = Vec::new();
    let mut to_server: Vec<u8> = Vec::new();
    let (mut client, mut server) = (None, None);
    for _ in 0..1000 {
        if server.is_none() {
            match s.step() {
                Step::Send(b) => to_client.extend(b),
                Step::Done(x) => server = Some(x),
                Step::Failed(e) => panic!("{e}"),
                Step::NeedInput if !to_server.is_empty() => s.feed(&[to_server.remove(0)]),
                Step::NeedInput => {}
            }
        }
        if client.is_none() {
            match c.step() {
                Step::Send(b) => to_server.extend(b),
                Step::Done(x) => client = Some(x),
                Step::Failed(e) => panic!("{e}"),
                Step::NeedInput if !to_client.is_empty() => c.feed(&[to_client.remove(0)]),
                Step::NeedInput => {}
            }
        }
    }
    assert!(client.is_some() && server.is_some());
}

/// §9: changing any byte of public, X, Y or either validator makes the
/// handshake fail on the side that checks it.
#[test]
fn v2_tampering_with_any_handshake_byte_fails() {
    let cfg = Config::default();
    let sizes = [34usize, 32, 96, 64];
    for (msg, size) in sizes.into_iter().enumerate() {
        for at in 0..size {
            let mut c = ClientHandshake::new(&cfg, ids(), b"pw").unwrap();
            let mut s = ServerHandshake::new(&cfg, ids(), b"pw").unwrap();
            let mut flip = |_: Dir, i: usize, bytes: &mut Vec<u8>| {
                if i == msg {
                    bytes[at] ^= 0x01;
                }
            };
            let out = run_pair(&mut c, &mut s, Some(&mut flip));
            if msg < 3 {
                // public, X, Y || cv: the client checks cv (or refuses earlier).
                assert!(
                    out.client.is_err(),
                    "message {msg} byte {at}: client accepted"
                );
                assert!(
                    out.server.is_err(),
                    "message {msg} byte {at}: server got no valid sv"
                );
            } else {
                assert!(out.client.is_ok());
                assert_eq!(
                    out.server.err(),
                    Some(HandshakeError::InvalidServerValidator),
                    "sv byte {at}"
                );
            }
        }
    }
}

#[test]
fn v1_does_not_authenticate_the_cipher_choice_but_v2_does() {
    // §8 item 9, kept in version 1 for compatibility: a changed cipher id
    // goes unnoticed during the handshake (the records then fail).
    for (version, detected) in [(Version::V1, false), (Version::V2, true)] {
        let cfg = config(version, Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305);
        let mut c = ClientHandshake::new(&cfg, ids(), b"pw").unwrap();
        let mut s = ServerHandshake::new(&cfg, ids(), b"pw").unwrap();
        let mut downgrade = |_: Dir, i: usize, b: &mut Vec<u8>| {
            if i == 0 {
                b[13] = 1; // cipher0: GCM -> CCM
            }
        };
        let out = run_pair(&mut c, &mut s, Some(&mut downgrade));
        assert_eq!(out.client.is_err(), detected, "{version:?}");
    }
}

#[test]
fn wrong_password_fails_on_the_client_and_the_server_sees_end_of_input() {
    for (cpw, spw) in [(&b"right"[..], &b"wrong"[..]), (b"wrong", b"right")] {
        let mut c = ClientHandshake::new(&Config::default(), ids(), cpw).unwrap();
        let mut s = ServerHandshake::new(&Config::default(), ids(), spw).unwrap();
        let out = run_pair(&mut c, &mut s, None);
        assert_eq!(
            out.client.err(),
            Some(HandshakeError::InvalidClientValidator)
        );
        assert_eq!(out.server.err(), Some(HandshakeError::EndOfInput));
    }
}

#[test]
fn swapped_identities_fail() {
    let swapped = Identities {
        client: b"bob".to_vec(),
        server: b"alice".to_vec(),
    };
    for version in [Version::V1, Version::V2] {
        let cfg = config(version, Cipher::ChaCha20Poly1305, Cipher::ChaCha20Poly1305);
        let mut c = ClientHandshake::new(&cfg, ids(), b"pw").unwrap();
        let mut s = ServerHandshake::new(&cfg, swapped.clone(), b"pw").unwrap();
        assert_eq!(
            run_pair(&mut c, &mut s, None).client.err(),
            Some(HandshakeError::InvalidClientValidator)
        );
    }
}

#[test]
fn v2_length_prefixes_identities_where_v1_does_not() {
    // §8 item 2: ("ab", "c") and ("a", "bc") hash alike in version 1 only.
    let a = Identities {
        client: b"ab".to_vec(),
        server: b"c".to_vec(),
    };
    let b = Identities {
        client: b"a".to_vec(),
        server: b"bc".to_vec(),
    };
    for (version, ok) in [(Version::V1, true), (Version::V2, false)] {
        let cfg = config(version, Cipher::ChaCha20Poly1305, Cipher::ChaCha20Poly1305);
        let mut c = ClientHandshake::new(&cfg, a.clone(), b"pw").unwrap();
        let mut s = ServerHandshake::new(&cfg, b.clone(), b"pw").unwrap();
        assert_eq!(
            run_pair(&mut c, &mut s, None).client.is_ok(),
            ok,
            "{version:?}"
        );
    }
}

#[test]
fn peers_of_the_other_version_fail_with_a_clear_error() {
    for (client_v, server_v) in [(Version::V2, Version::V1), (Version::V1, Version::V2)] {
        let ccfg = config(client_v, Cipher::ChaCha20Poly1305, Cipher::ChaCha20Poly1305);
        let scfg = config(server_v, Cipher::ChaCha20Poly1305, Cipher::ChaCha20Poly1305);
        let mut c = ClientHandshake::new(&ccfg, ids(), b"pw").unwrap();
        let mut s = ServerHandshake::new(&scfg, ids(), b"pw").unwrap();
        let out = run_pair(&mut c, &mut s, None);
        let err = out.client.unwrap_err();
        assert_eq!(
            err,
            HandshakeError::VersionMismatch {
                ours: client_v.wire(),
                theirs: server_v.wire()
            }
        );
        assert!(err.to_string().contains("compatibility"), "{err}");
        assert_eq!(out.server.err(), Some(HandshakeError::EndOfInput));
    }
}

#[test]
fn garbage_instead_of_a_handshake_fails_cleanly() {
    let junk: Vec<u8> = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        .iter()
        .cycle()
        .take(400)
        .copied()
        .collect();
    let mut c = ClientHandshake::new(&Config::default(), ids(), b"pw").unwrap();
    c.feed(&junk);
    assert!(matches!(
        c.step(),
        Step::Failed(HandshakeError::InvalidPublicPacket)
    ));
    let mut s = ServerHandshake::new(&Config::default(), ids(), b"pw").unwrap();
    assert!(matches!(s.step(), Step::Send(_)));
    s.feed(&junk);
    s.feed_eof();
    let mut last = s.step();
    while let Step::Send(_) = last {
        last = s.step();
    }
    assert!(matches!(last, Step::Failed(_)), "{last:?}");
}

#[test]
fn step_after_the_end_keeps_failing() {
    let mut c = ClientHandshake::new(&Config::default(), ids(), b"pw").unwrap();
    let mut s = ServerHandshake::new(&Config::default(), ids(), b"pw").unwrap();
    let out = run_pair(&mut c, &mut s, None);
    assert!(out.client.is_ok() && out.server.is_ok());
    for _ in 0..3 {
        assert!(matches!(c.step(), Step::Failed(HandshakeError::Finished)));
        assert!(matches!(s.step(), Step::Failed(HandshakeError::Finished)));
    }
    let mut c = ClientHandshake::new(&Config::default(), ids(), b"pw").unwrap();
    c.feed_eof();
    for _ in 0..3 {
        assert!(matches!(c.step(), Step::Failed(HandshakeError::EndOfInput)));
    }
}

#[test]
fn bad_configurations_are_refused() {
    let long = Identities {
        client: vec![b'a'; 65536],
        server: vec![],
    };
    let v2 = Config::default();
    assert!(matches!(
        ClientHandshake::new(&v2, long.clone(), b"pw"),
        Err(HandshakeError::InvalidConfig(_))
    ));
    assert!(matches!(
        ServerHandshake::new(&v2, long.clone(), b"pw"),
        Err(HandshakeError::InvalidConfig(_))
    ));
    let v1 = Config {
        version: Version::V1,
        ..Config::default()
    };
    assert!(
        ClientHandshake::new(&v1, long, b"pw").is_ok(),
        "version 1 has no length prefix"
    );
    let zero = Config {
        iterations: 0,
        ..Config::default()
    };
    assert!(matches!(
        ServerHandshake::new(&zero, ids(), b"pw"),
        Err(HandshakeError::InvalidConfig(_))
    ));
}

#[test]
fn client_bounds_the_iteration_count_by_its_maximum() {
    let server_cfg = Config {
        iterations: 5000,
        ..Config::default()
    };
    let client_cfg = Config {
        max_iterations: 4999,
        ..Config::default()
    };
    let mut c = ClientHandshake::new(&client_cfg, ids(), b"pw").unwrap();
    let mut s = ServerHandshake::new(&server_cfg, ids(), b"pw").unwrap();
    assert_eq!(
        run_pair(&mut c, &mut s, None).client.err(),
        Some(HandshakeError::IterationCountRefused {
            requested: 5000,
            maximum: 4999
        })
    );
}

#[test]
fn a_count_beyond_32_bits_is_refused_naming_the_bound_that_applies() {
    // No server can be configured with 2^32 iterations; a tampered (or
    // foreign) public packet can ask for them.
    let client_cfg = Config {
        max_iterations: u64::MAX,
        ..Config::default()
    };
    let mut c = ClientHandshake::new(&client_cfg, ids(), b"pw").unwrap();
    let mut s = ServerHandshake::new(&Config::default(), ids(), b"pw").unwrap();
    let mut ask_for_2_32 = |_: Dir, i: usize, b: &mut Vec<u8>| {
        if i == 0 {
            let mut packet = wire::PublicPacket::parse(b[..].try_into().unwrap()).unwrap();
            packet.iterations = 1 << 32;
            *b = packet.emit().to_vec();
        }
    };
    assert_eq!(
        run_pair(&mut c, &mut s, Some(&mut ask_for_2_32))
            .client
            .err(),
        Some(HandshakeError::IterationCountRefused {
            requested: 1 << 32,
            maximum: u64::from(u32::MAX),
        })
    );
}

/// The server draws its salt and then y, the client x: the same bytes give
/// the same handshake, byte for byte.
#[test]
fn injected_randomness_makes_a_handshake_replayable() {
    let cfg = Config::default();
    let run = |seed: u8| {
        let x_raw = Scripted::new(&[&[seed; 32]]);
        let salt_y_raw = Scripted::new(&[&[seed; 16], &[seed ^ 0x55; 32]]);
        let mut c = ClientHandshake::with_randomness(&cfg, ids(), b"pw", x_raw).unwrap();
        let mut s = ServerHandshake::with_randomness(&cfg, ids(), b"pw", salt_y_raw).unwrap();
        let out = run_pair(&mut c, &mut s, None);
        let keys = out.client.map(|session| {
            let (k0, k1) = session.keys();
            (*k0, *k1)
        });
        (out.wire, keys.unwrap())
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1).0, run(2).0);
    assert_eq!(&run(3).0[0].1[18..34], &[3; 16], "the salt is drawn first");
}

/// A source that cannot deliver fails the handshake before anything that
/// would have needed its bytes is sent.
#[test]
fn a_failing_randomness_source_fails_the_handshake() {
    let cfg = Config::default();
    let mut s = ServerHandshake::with_randomness(&cfg, ids(), b"pw", Scripted::default()).unwrap();
    assert!(matches!(s.step(), Step::Failed(HandshakeError::Randomness)));
    assert!(matches!(s.step(), Step::Failed(HandshakeError::Randomness)));

    // The server sends its public packet; the client, with nothing to
    // draw x from, fails instead of answering.
    let mut s =
        ServerHandshake::with_randomness(&cfg, ids(), b"pw", Scripted::new(&[&[1; 16]])).unwrap();
    let mut c = ClientHandshake::with_randomness(&cfg, ids(), b"pw", Scripted::default()).unwrap();
    let out = run_pair(&mut c, &mut s, None);
    assert_eq!(out.wire.len(), 1, "only the public packet");
    assert_eq!(out.client.err(), Some(HandshakeError::Randomness));
    assert_eq!(out.server.err(), Some(HandshakeError::EndOfInput));
}

#[test]
fn debug_output_never_shows_secrets() {
    let cfg = Config::default();
    let password = b"hunter2-secret";
    let mut c = ClientHandshake::new(&cfg, ids(), password).unwrap();
    let mut s = ServerHandshake::new(&cfg, ids(), password).unwrap();
    let hs_debug = format!("{c:?} {s:?}");
    let out = run_pair(&mut c, &mut s, None);
    let session = out.client.unwrap();
    let (k0, k1) = session.keys();
    let (k0, k1) = (::hex::encode(k0), ::hex::encode(k1));
    let session_debug = format!("{session:?}");
    let (sealer, opener) = session.into_parts();
    let all = format!("{hs_debug} {session_debug} {sealer:?} {opener:?} {c:?} {s:?}");
    assert!(!all.contains("hunter2"), "{all}");
    for key in [&k0, &k1] {
        for window in [&key[..16], &key[64..80]] {
            assert!(!all.contains(window), "{all}");
        }
    }
    // Byte lists as Debug would print them.
    assert!(
        !all.contains(&format!("{:?}", session_keys_prefix(&k0))),
        "{all}"
    );
}

fn session_keys_prefix(hex_key: &str) -> Vec<u8> {
    ::hex::decode(&hex_key[..8]).unwrap()
}

/// Native record-layer throughput, seal then open, per cipher:
/// `cargo test -p spoke-protocol --release --lib record_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn record_throughput() {
    let total = 256 << 20;
    let chunk = pattern(Sealer::MAX_PLAINTEXT);
    for cipher in ALL {
        let (mut cs, _, _, mut so) = connect(&config(Version::V2, cipher, cipher));
        let mut wire = Vec::with_capacity(chunk.len() + 64);
        let started = std::time::Instant::now();
        let mut done = 0;
        while done < total {
            wire.clear();
            cs.seal(&chunk, &mut wire).unwrap();
            so.feed(&wire);
            match so.open() {
                Ok(Opened::Data(d)) => done += d.len(),
                other => panic!("{other:?}"),
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!("{cipher:?}: {:.0} MB/s seal+open", done as f64 / secs / 1e6);
    }
}

#[test]
fn bytes_fed_by_value_open_exactly_like_bytes_fed_by_reference() {
    let (mut cs, _, _, mut by_ref) = connect(&Config::default());
    let (mut cs2, _, _, mut by_value) = connect(&Config::default());
    let mut wire = Vec::new();
    for (i, size) in [1usize, 700, 65517, 3, 20000].into_iter().enumerate() {
        cs.seal(&vec![i as u8; size], &mut wire).unwrap();
    }
    cs.seal_close(&mut wire).unwrap();
    // The same wire from the other session's keys, cut in the same places:
    // pieces that end inside a header, inside a record and on a boundary.
    let mut wire2 = Vec::new();
    for (i, size) in [1usize, 700, 65517, 3, 20000].into_iter().enumerate() {
        cs2.seal(&vec![i as u8; size], &mut wire2).unwrap();
    }
    cs2.seal_close(&mut wire2).unwrap();
    assert_eq!(wire.len(), wire2.len());
    let cuts = [0, 1, 19, 719, 737, 30000, 66272, 66290, 66293, wire.len()];
    let (mut got_ref, mut got_value) = (Vec::new(), Vec::new());
    for w in cuts.windows(2) {
        by_ref.feed(&wire[w[0]..w[1]]);
        by_value.feed_owned(wire2[w[0]..w[1]].to_vec());
        let (a, end_a) = drain(&mut by_ref);
        let (b, end_b) = drain(&mut by_value);
        assert_eq!((&a, &end_a), (&b, &end_b), "after byte {}", w[1]);
        got_ref.extend(a);
        got_value.extend(b);
    }
    assert_eq!(got_ref.concat().len(), 1 + 700 + 65517 + 3 + 20000);
    assert_eq!(by_value.open(), Ok(Opened::End));
}
