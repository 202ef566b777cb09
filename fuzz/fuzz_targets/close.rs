//! Version 2's authenticated close, and version 1's lack of one, through a
//! real sealer and opener: the input seals writes and the close marker,
//! then sends, loses, replays, reorders, flips and cuts the records on
//! their way, and ends the stream (format: `spoke_fuzz::input::close`).
//! Raw bytes from the input are never authentic: the input does not hold
//! the key, so only what the sealer sealed can open.
//!
//! Checks, after every piece fed: the sealer's results and bytes (every
//! write cut into records of at most `MAX_PLAINTEXT` bytes, nothing sealed
//! after the close marker, a close marker sealed once, all-or-nothing when
//! the sequence numbers run out); the opener hands out exactly the
//! plaintext the sealer sealed, in order, up to the first record that is
//! not the next one intact, and nothing after it; it reports a clean end
//! only when the close marker arrived intact and last (version 2) or the
//! stream ended between intact records (version 1); `Data` is never empty;
//! once it reports an error it reports that error forever; no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spoke_fuzz::input::close::{self as op, BIG_BUDGET, cut};
use spoke_fuzz::{
    ByProvenance, Checked, Choices, OpenerModel, Outcome, Sealed, Sending, cipher_of,
    first_sequence, key_of, version_of,
};
use spoke_protocol::testing::{opener, sealer};
use spoke_protocol::{RecordError, Version};

/// The `part` of each record, one after the other (copied a record at a
/// time: a loop over bytes would cost more than the records' sealing).
fn joined(records: &[Sealed], part: impl Fn(&Sealed) -> &Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| part(r).len()).sum());
    for r in records {
        out.extend_from_slice(part(r));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Choices::new(data);
    let (Some(mode), Some(key_byte), Some(seq_byte)) =
        (input.next_byte(), input.next_byte(), input.next_byte())
    else {
        return;
    };
    let version = version_of(mode);
    let cipher = cipher_of(mode >> 1);
    let key = key_of(key_byte);
    let mut opener_key = key;
    let same_key = match (mode >> 3) & 3 {
        0 => true,
        1 => {
            opener_key[0] ^= 1;
            false
        }
        2 => {
            opener_key[40] ^= 1;
            false
        }
        _ => {
            // Bytes 44..64 of a key block are unused (§6).
            opener_key[50] ^= 1;
            true
        }
    };
    let first = first_sequence(seq_byte);
    let mut sending = Sending::new(sealer(version, cipher, &key, first), version, first);
    let mut receiving = Checked::new(
        opener(version, cipher, &opener_key, first),
        OpenerModel::new(version, first),
    );
    // The next record of the outbox (an index into `sending.sealed`).
    let mut outbox = 0;
    let mut budget = BIG_BUDGET;

    macro_rules! send {
        ($code:expr, $bytes:expr) => {{
            let bytes: &[u8] = $bytes;
            let (at, owned) = cut($code, bytes.len());
            let mut authority = ByProvenance {
                sealed: &sending.sealed,
                same_key,
            };
            receiving.feed(bytes, at, owned, &mut authority);
        }};
    }

    while let Some(code) = input.next_byte() {
        match code & 15 {
            op::SEAL => {
                sending.seal(input.counted());
            }
            op::SEAL_BIG => {
                let n = usize::from(input.u16()) + usize::from(input.byte());
                let fill = input.byte();
                let n = if n <= budget { n } else { n % 256 };
                budget = budget.saturating_sub(n);
                sending.seal(&vec![fill; n]);
            }
            op::SEAL_CLOSE => {
                sending.seal_close();
            }
            op::SEND => {
                if let Some(r) = sending.sealed.get(outbox) {
                    outbox += 1;
                    let frame = r.frame.clone();
                    send!(code, &frame);
                }
            }
            op::SEND_ANY => {
                let pick = usize::from(input.byte());
                if !sending.sealed.is_empty() {
                    let frame = sending.sealed[pick % sending.sealed.len()].frame.clone();
                    send!(code, &frame);
                }
            }
            op::DROP => outbox = (outbox + 1).min(sending.sealed.len()),
            op::FLIP => {
                let (at, mask) = (usize::from(input.u16()), input.byte().max(1));
                if let Some(r) = sending.sealed.get(outbox) {
                    outbox += 1;
                    let mut frame = r.frame.clone();
                    let at = at % frame.len();
                    frame[at] ^= mask;
                    send!(code, &frame);
                }
            }
            op::CUT => {
                let keep = usize::from(input.u16());
                if let Some(r) = sending.sealed.get(outbox) {
                    outbox += 1;
                    let frame = r.frame[..keep % r.frame.len()].to_vec();
                    send!(code, &frame);
                }
            }
            op::RAW => send!(code, input.counted()),
            op::EOF => break,
            op::WRITE | op::SHUTDOWN | op::FLUSH => {
                match code & 15 {
                    op::WRITE => {
                        sending.seal(input.counted());
                    }
                    op::SHUTDOWN => {
                        sending.seal_close();
                    }
                    _ => {}
                }
                let frames: Vec<u8> = joined(&sending.sealed[outbox..], |r| &r.frame);
                outbox = sending.sealed.len();
                send!(code, &frames);
            }
            _ => {}
        }
    }
    if input.is_empty() {
        // The input ran out: what is left goes out, in order.
        let frames: Vec<u8> = joined(&sending.sealed[outbox..], |r| &r.frame);
        send!(0, &frames);
    }
    let mut authority = ByProvenance {
        sealed: &sending.sealed,
        same_key,
    };
    receiving.feed_eof(&mut authority);
    assert_ne!(receiving.last, Outcome::NeedInput, "no verdict at the end");

    // What the model says, said directly: the opener handed out the
    // plaintext of the first `accepted` records sealed, and a clean end
    // means the wire was exactly those records, the close marker last
    // (version 2).
    let accepted = receiving.model.accepted() as usize;
    let expected: Vec<u8> = joined(&sending.sealed[..accepted], |r| &r.plain);
    assert!(receiving.delivered == expected, "handed out other bytes");
    if receiving.last == Outcome::End {
        let wire: Vec<u8> = joined(&sending.sealed[..accepted], |r| &r.frame);
        assert!(receiving.wire == wire, "a clean end of another stream");
        if version == Version::V2 {
            let last = sending.sealed[..accepted].last();
            assert!(
                last.is_some_and(|r| r.plain.is_empty()),
                "a clean end without the close marker"
            );
        }
    }
    if !same_key {
        assert_eq!(accepted, 0, "a record opened under another key");
    }
    // Bytes after the verdict change nothing but a clean version-2 end,
    // which they turn into corruption.
    let before = receiving.last;
    send!(0x40, b"after the end");
    match (before, receiving.last) {
        (Outcome::Failed(a), Outcome::Failed(b)) => assert_eq!(a, b),
        (Outcome::End, Outcome::Failed(RecordError::Corrupted)) => {}
        (a, b) => panic!("{a:?} then {b:?} after more bytes"),
    }
});
