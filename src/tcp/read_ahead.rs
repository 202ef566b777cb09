//! A TCP flow's read-ahead: the bytes it has received but not yet returned
//! from a read: what a readiness check took off the stream, and what a
//! blocked write drained from it so that the peer could go on sending (see
//! `TcpFlow::write`). (Not to be confused with the protocol core's
//! handshake `Inbox`, which buffers handshake messages.)
//!
//! What it holds is counted against the instance's buffer budget
//! (`budget.rs`): the first [`READ_AHEAD_ALLOWANCE`] bytes on the flow's own
//! reservation, the rest drawn from the pool's share for read-ahead and
//! given back as reads take them. [`ReadAhead::room`] says how much more
//! may come in.
//!
//! Owns: the queued chunks, in arrival order, their total size and what
//! they drew from the pool. Never reorders, drops or copies more than the
//! part of a chunk a read splits.

use std::collections::VecDeque;

use super::super::budget::{self, READ_AHEAD_ALLOWANCE};

/// What one queued chunk costs beyond its bytes: its slot in the queue
/// (12 bytes, and the queue's growth by doubling) and the allocator's
/// header and rounding. Counting it keeps a peer that sends one byte at a
/// time from holding more than the budget says.
const CHUNK_OVERHEAD: usize = 48;

/// Received bytes waiting for a read, in order.
#[derive(Default)]
pub struct ReadAhead {
    chunks: VecDeque<Vec<u8>>,
    len: usize,
    /// What the chunks cost: their bytes and [`CHUNK_OVERHEAD`] each.
    cost: usize,
    /// The part of `cost` drawn from the budget's pool.
    drawn: usize,
}

impl ReadAhead {
    /// Queues `data` after everything already held (nothing if empty).
    /// The caller reads no more than [`ReadAhead::room`] allows.
    pub fn push(&mut self, data: Vec<u8>) {
        if !data.is_empty() {
            self.len += data.len();
            self.cost += data.len() + CHUNK_OVERHEAD;
            self.chunks.push_back(data);
            self.settle_draw();
        }
    }

    /// How many more bytes may be taken in now, in one chunk: what is left
    /// of the flow's allowance and of the pool's share for read-ahead, less
    /// a chunk's overhead (0 when nothing may come in).
    pub fn room(&self) -> usize {
        READ_AHEAD_ALLOWANCE
            .saturating_sub(self.cost)
            .saturating_add(budget::available_for_read_ahead())
            .saturating_sub(CHUNK_OVERHEAD)
    }

    /// Draws from the pool, or gives back to it, what the chunks cost
    /// beyond the allowance.
    fn settle_draw(&mut self) {
        let want = self.cost.saturating_sub(READ_AHEAD_ALLOWANCE);
        if want > self.drawn {
            budget::draw_read_ahead(want - self.drawn);
        } else {
            budget::give_back_read_ahead(self.drawn - want);
        }
        self.drawn = want;
    }

    /// Takes between 1 and `max` bytes (at least 1 is asked for) from the
    /// front, `None` when empty. Whole chunks are returned without copying
    /// and, while they fit, several small ones are joined.
    pub fn pop(&mut self, max: usize) -> Option<Vec<u8>> {
        let max = max.max(1);
        let mut first = self.chunks.pop_front()?;
        let mut chunks = 1;
        if first.len() > max {
            let rest = first.split_off(max);
            self.chunks.push_front(rest);
            chunks = 0;
        }
        while let Some(next) = self.chunks.front() {
            if first.len() + next.len() > max {
                break;
            }
            if let Some(next) = self.chunks.pop_front() {
                first.extend_from_slice(&next);
                chunks += 1;
            }
        }
        self.len -= first.len();
        self.cost -= first.len() + chunks * CHUNK_OVERHEAD;
        self.settle_draw();
        Some(first)
    }

    /// How many bytes are held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        budget::give_back_read_ahead(self.drawn);
    }
}

#[cfg(test)]
mod tests {
    use super::ReadAhead;

    #[test]
    fn bytes_come_out_in_order_in_reads_of_at_most_max() {
        let mut ahead = ReadAhead::default();
        ahead.push(vec![1, 2, 3]);
        ahead.push(Vec::new());
        ahead.push(vec![4, 5]);
        ahead.push(vec![6]);
        assert_eq!(ahead.len(), 6);
        assert_eq!(ahead.pop(2), Some(vec![1, 2]));
        assert_eq!(ahead.pop(0), Some(vec![3]));
        assert_eq!(ahead.pop(10), Some(vec![4, 5, 6]));
        assert!(ahead.is_empty());
        assert_eq!(ahead.pop(10), None);
    }

    #[test]
    fn what_is_held_beyond_the_allowance_comes_from_the_pool_and_goes_back() {
        let pool = super::budget::available();
        let mut ahead = ReadAhead::default();
        let room = ahead.room();
        assert_eq!(
            room,
            super::READ_AHEAD_ALLOWANCE + super::budget::available_for_read_ahead()
                - super::CHUNK_OVERHEAD
        );
        assert!(super::budget::available_for_read_ahead() <= pool / 2);
        ahead.push(vec![7; super::READ_AHEAD_ALLOWANCE]);
        ahead.push(vec![8; 1000]);
        let drawn = 1000 + 2 * super::CHUNK_OVERHEAD;
        assert_eq!(super::budget::available(), pool - drawn);
        assert_eq!(ahead.pop(10).map(|d| d.len()), Some(10));
        assert_eq!(super::budget::available(), pool - drawn + 10);
        drop(ahead);
        assert_eq!(super::budget::available(), pool);
    }
}
