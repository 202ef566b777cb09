//! The instance's buffer budget: one pool of bytes, shared by every flow of
//! the instance, from which flows draw what they hold between calls, so
//! that the sum of their buffers stays below the instance's memory limit
//! however many flows are open and whatever their peers send. (An
//! allocation that fails inside the guest is a trap, which would end every
//! flow of the instance at once.)
//!
//! Two kinds of draw:
//! - a [`Reservation`] per open flow, taken when it is opened (connect,
//!   accept, the spoke layer): the most its buffers can hold (for a TCP
//!   flow, the first 64 KiB of its read-ahead). A flow the budget cannot
//!   afford is refused with a one-line error that names the limit, and
//!   the instance carries on.
//! - the read-ahead of a TCP flow whose write waits (`tcp/read_ahead.rs`):
//!   elastic, it takes in what the peer sends while the pool has room and
//!   stops when it has none (the write then waits without reading, as it
//!   does at its own limit). The read-ahead of all flows together holds
//!   at most half the pool ([`available_for_read_ahead`]), so peers that
//!   send and never read cannot keep new flows out; reading those bytes
//!   gives the room back.
//!
//! What a flow holds, measured from the code (wasm32, 4-byte pointers;
//! `CHUNK` = 256 KiB, a record at most 64 KiB):
//! - plain TCP flow at rest: its value and handles, under 1 KiB, plus what
//!   its read-ahead holds: nothing, or up to one `CHUNK` a readiness check
//!   (`subscribe`) took in, or what a waiting write took in (up to 64 MiB
//!   of its own, within this pool). Its reservation ([`PLAIN_FLOW`]) covers
//!   the value and the first 64 KiB of read-ahead; the rest comes from the
//!   pool.
//! - spoke layer, on top of the flow beneath: the opener's buffer (a
//!   `CHUNK` read appended to an incomplete record, grown by doubling: at
//!   most 2 `CHUNK` + 2 records = 640 KiB), the plaintext left over from a
//!   read (at most a `CHUNK` and a record = 320 KiB), the sealed bytes of
//!   one write step (4 records = 256 KiB; a larger write is sealed and
//!   written step by step) and its keys and state (under 16 KiB): about
//!   1.2 MiB at most ([`SECURE_FLOW`]). At rest it keeps the buffers of
//!   its last reads and writes: a few hundred bytes after small messages,
//!   close to the most after bulk transfers.
//!
//! What is not in the budget: a call's own arguments and results (the
//! bytes of a `write`, a read's result, a copy's chunk in flight), which
//! exist only during that call: one call at a time runs in an instance.
//!
//! The pool's size comes from the host, in the environment variable
//! [`VARIABLE`] (a decimal number of bytes, read once): the Spoke host
//! library sets it to half of the instance's memory limit. Without it (or
//! with a value that is not a number), [`DEFAULT_BUDGET`].
//!
//! Owns: the pool's size and use. The guest is single-threaded, so a
//! thread-local cell is the whole synchronisation.

use std::cell::Cell;

use super::bindings::exports::spoke::flow::types::Error;

/// The most bytes one record takes on the wire (its length is 2 bytes).
const MAX_RECORD: usize = 1 << 16;

/// The environment variable that sets the budget, in bytes.
pub const VARIABLE: &str = "SPOKE_BUFFER_BUDGET";

/// The budget when [`VARIABLE`] is not set: 128 MiB, half of the default
/// 256 MiB memory limit of the Spoke host library. The other half is for
/// the component's code, data and stack, a call's own arguments (a 64 MiB
/// write needs 64 MiB more while it runs) and the allocator's slack
/// (freed blocks that a later, larger allocation cannot reuse). Under a
/// runtime without a memory limit (stock `wasmtime run` allows 4 GiB),
/// this is only conservative.
pub const DEFAULT_BUDGET: usize = 128 << 20;

/// What the read-ahead of a TCP flow may hold on its flow's own
/// reservation; beyond this it draws from the pool.
pub const READ_AHEAD_ALLOWANCE: usize = 64 << 10;

/// The reservation of a plain TCP flow: its value, handles and addresses
/// (under 1 KiB) and the first [`READ_AHEAD_ALLOWANCE`] of its read-ahead.
pub const PLAIN_FLOW: usize = READ_AHEAD_ALLOWANCE + (1 << 10);

/// The reservation of the spoke layer over a flow (the flow beneath keeps
/// its own): opener buffer, leftover plaintext, one write step's sealed
/// records, keys and state (see the module's comment).
pub const SECURE_FLOW: usize =
    (2 * crate::CHUNK + 2 * MAX_RECORD) + (crate::CHUNK + MAX_RECORD) + 4 * MAX_RECORD + (16 << 10);

thread_local! {
    /// The pool's size, read from the environment on first use.
    static TOTAL: Cell<Option<usize>> = const { Cell::new(None) };
    /// Bytes drawn from the pool.
    static USED: Cell<usize> = const { Cell::new(0) };
    /// The part of `USED` that read-ahead holds.
    static AHEAD: Cell<usize> = const { Cell::new(0) };
}

/// The pool's size in bytes.
pub fn total() -> usize {
    TOTAL.with(|t| {
        t.get().unwrap_or_else(|| {
            let v = parse(std::env::var(VARIABLE).ok().as_deref());
            t.set(Some(v));
            v
        })
    })
}

/// The budget a value of [`VARIABLE`] sets.
fn parse(value: Option<&str>) -> usize {
    value
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_BUDGET)
}

/// Bytes the pool can still give.
pub fn available() -> usize {
    total().saturating_sub(USED.with(Cell::get))
}

/// Draws `n` bytes; the caller has checked [`available`] (a draw beyond
/// it is still recorded, so that giving back stays balanced).
pub fn draw(n: usize) {
    USED.with(|u| u.set(u.get().saturating_add(n)));
}

/// Gives back `n` bytes drawn earlier.
pub fn give_back(n: usize) {
    USED.with(|u| u.set(u.get().saturating_sub(n)));
}

/// Bytes the pool can still give to read-ahead: what it has, but no more
/// than brings the read-ahead of all flows to half the pool.
pub fn available_for_read_ahead() -> usize {
    let share = (total() / 2).saturating_sub(AHEAD.with(Cell::get));
    available().min(share)
}

/// Draws `n` bytes for read-ahead; the caller has checked
/// [`available_for_read_ahead`].
pub fn draw_read_ahead(n: usize) {
    AHEAD.with(|a| a.set(a.get().saturating_add(n)));
    draw(n);
}

/// Gives back `n` bytes of read-ahead drawn earlier.
pub fn give_back_read_ahead(n: usize) {
    AHEAD.with(|a| a.set(a.get().saturating_sub(n)));
    give_back(n);
}

/// Bytes drawn for one open flow, given back when the flow is closed or
/// dropped, whichever comes first.
pub struct Reservation {
    bytes: usize,
}

impl Reservation {
    /// Draws `bytes` for `what` (a phrase such as "a TCP flow"), or the
    /// error that says the budget cannot afford it.
    pub fn take(bytes: usize, what: &str) -> Result<Reservation, Error> {
        let free = available();
        if bytes > free {
            return Err(Error::Other(format!(
                "opening {what} needs {} KiB of buffers but this instance's buffer budget \
                 has {} KiB left of {} KiB (half the instance's memory limit, \
                 Limits::memory_bytes, or {VARIABLE}): close other flows or raise the limit",
                bytes.div_ceil(1024),
                free / 1024,
                total() / 1024,
            )));
        }
        draw(bytes);
        Ok(Reservation { bytes })
    }

    /// Gives the bytes back now (a closed flow keeps no buffers); later
    /// calls and the drop give back nothing more.
    pub fn release(&mut self) {
        give_back(std::mem::take(&mut self.bytes));
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_the_variable_in_bytes_else_the_default() {
        assert_eq!(parse(Some("33554432")), 32 << 20);
        assert_eq!(parse(Some(" 1024 ")), 1024);
        assert_eq!(parse(None), DEFAULT_BUDGET);
        assert_eq!(parse(Some("lots")), DEFAULT_BUDGET);
        assert_eq!(parse(Some("-1")), DEFAULT_BUDGET);
    }

    #[test]
    fn a_flow_the_budget_cannot_afford_is_refused_with_a_line_naming_the_limit() {
        let before = available();
        let r = Reservation::take(1024, "a test flow").ok();
        assert_eq!(available(), before - 1024);
        drop(r);
        assert_eq!(available(), before);
        let Err(Error::Other(m)) = Reservation::take(before + 1, "a test flow") else {
            panic!("not refused");
        };
        assert!(
            m.contains("a test flow") && m.contains("Limits::memory_bytes"),
            "{m}"
        );
        assert!(!m.contains('\n'));
        assert_eq!(available(), before);
    }

    #[test]
    fn read_ahead_holds_at_most_half_the_pool_leaving_room_for_new_flows() {
        let before = available();
        let half = total() / 2;
        assert!(available_for_read_ahead() <= half);
        draw_read_ahead(available_for_read_ahead());
        assert_eq!(available_for_read_ahead(), 0);
        assert!(available() >= before - half);
        let flow = Reservation::take(PLAIN_FLOW, "a test flow");
        assert!(flow.is_ok(), "a new flow found no room");
        drop(flow);
        give_back_read_ahead(half);
        assert_eq!(available(), before);
    }

    #[test]
    fn a_closed_flow_gives_its_share_back_once() {
        let before = available();
        let mut r = Reservation::take(4096, "a test flow").unwrap();
        r.release();
        assert_eq!(available(), before);
        r.release();
        drop(r);
        assert_eq!(available(), before);
    }
}
