//! Test data both `spoke` test files use: bytes that do not repeat, so a
//! shifted, dropped or doubled chunk never compares equal.

/// A non-repeating payload.
pub fn payload(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
