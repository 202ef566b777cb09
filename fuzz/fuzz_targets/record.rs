//! The record layer's opener on arbitrary bytes, interleaved with valid,
//! flipped and cut records, close markers, replays and the end of the
//! stream (format: `spoke_fuzz::input::record`).
//!
//! Record sizes come from the input: most records are small (a length
//! byte); a big write (up to 65790 bytes, so one or two records) takes an
//! operation of its own and an input's big writes share a budget of
//! `BIG_BUDGET` bytes, so the target runs thousands of inputs a second.
//!
//! Checks, after every piece fed: the sealer's results and bytes (as in
//! the `close` target); the opener does what `OpenerModel` (the
//! opener of PROTOCOL.md §6 and §9 written out plainly, the record AEAD
//! deciding what is authentic) does: the same plaintext, record by record,
//! and the same report after it; `Data` is never empty; an error, once
//! reported, is reported forever; asking twice gives the same answer; no
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spoke_fuzz::input::record::{self as op, BIG_BUDGET, cut};
use spoke_fuzz::{ByAead, Checked, Choices, OpenerModel, Sending, cipher_of, version_of};
use spoke_protocol::testing::{opener, sealer};

const KEY: [u8; 64] = [0x42; 64];

fuzz_target!(|data: &[u8]| {
    let mut input = Choices::new(data);
    let Some(mode) = input.next_byte() else {
        return;
    };
    let version = version_of(mode);
    let cipher = cipher_of(mode >> 1);
    let first = if mode & 8 != 0 {
        u64::MAX - u64::from((mode >> 4) & 3)
    } else {
        0
    };
    let mut sending = Sending::new(sealer(version, cipher, &KEY, first), version, first);
    let mut checked = Checked::new(
        opener(version, cipher, &KEY, first),
        OpenerModel::new(version, first),
    );
    let mut budget = BIG_BUDGET;
    let mut previous = Vec::new();
    while let Some(code) = input.next_byte() {
        let wire = match code & 7 {
            op::RAW => input.counted().to_vec(),
            op::RECORD => sending.seal(input.counted()),
            op::BIG => {
                let n = usize::from(input.u16()) + usize::from(input.byte());
                let fill = input.byte();
                let n = if n <= budget { n } else { n % 256 };
                budget = budget.saturating_sub(n);
                sending.seal(&vec![fill; n])
            }
            op::CLOSE => sending.seal_close(),
            op::EOF => {
                checked.feed_eof(&mut ByAead::new(version, cipher, &KEY, &sending.sealed));
                Vec::new()
            }
            op::FLIPPED => {
                let mut wire = sending.seal(input.counted());
                let (at, mask) = (usize::from(input.u16()), input.byte().max(1));
                if !wire.is_empty() {
                    let at = at % wire.len();
                    wire[at] ^= mask;
                }
                wire
            }
            op::PREFIX => {
                let mut wire = sending.seal(input.counted());
                wire.truncate(usize::from(input.byte()));
                wire
            }
            _ => previous,
        };
        let (at, owned) = cut(code, wire.len());
        let mut authority = ByAead::new(version, cipher, &KEY, &sending.sealed);
        checked.feed(&wire, at, owned, &mut authority);
        previous = wire;
    }
    checked.feed_eof(&mut ByAead::new(version, cipher, &KEY, &sending.sealed));
});
