//! A TCP flow's read-ahead: the bytes it has received but not yet returned
//! from a read: what a readiness check took off the stream, and what a
//! blocked write drained from it so that the peer could go on sending (see
//! `TcpFlow::write`). (Not to be confused with the protocol core's
//! handshake `Inbox`, which buffers handshake messages.)
//!
//! Owns: the queued chunks, in arrival order, and their total size. Never
//! reorders, drops or copies more than the part of a chunk a read splits.

use std::collections::VecDeque;

/// Received bytes waiting for a read, in order.
#[derive(Default)]
pub struct ReadAhead {
    chunks: VecDeque<Vec<u8>>,
    len: usize,
}

impl ReadAhead {
    /// Queues `data` after everything already held (nothing if empty).
    pub fn push(&mut self, data: Vec<u8>) {
        if !data.is_empty() {
            self.len += data.len();
            self.chunks.push_back(data);
        }
    }

    /// Takes between 1 and `max` bytes (at least 1 is asked for) from the
    /// front, `None` when empty. Whole chunks are returned without copying
    /// and, while they fit, several small ones are joined.
    pub fn pop(&mut self, max: usize) -> Option<Vec<u8>> {
        let max = max.max(1);
        let mut first = self.chunks.pop_front()?;
        if first.len() > max {
            let rest = first.split_off(max);
            self.chunks.push_front(rest);
        }
        while let Some(next) = self.chunks.front() {
            if first.len() + next.len() > max {
                break;
            }
            if let Some(next) = self.chunks.pop_front() {
                first.extend_from_slice(&next);
            }
        }
        self.len -= first.len();
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
}
