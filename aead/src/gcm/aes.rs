//! AES-256 encryption (FIPS 197), bitsliced over `V128`, eight blocks per
//! batch, and GCM's counter-mode keystream.
//!
//! Owns: the key schedule (expanded once with a constant-time S-box, then
//! stored as round-key bit planes), the eight-block kernel, and the
//! keystream batches of counter mode.
//!
//! Layout: a batch is eight vectors, one per bit: each byte of vector `p`
//! holds bit `p` of one byte of the AES state of the eight blocks, block
//! `b` in bit `b`. Byte-wise work (SubBytes, AddRoundKey) is then a Boolean
//! circuit on whole vectors for all eight blocks at once, and moving bytes
//! between rows or columns is one byte permutation per vector. The state's
//! rows are laid out one per 32-bit lane (as in the `aes` crate's
//! fixslice64, widened from four blocks to eight), so moving whole rows is
//! a lane permutation (`pshufd` once compiled).
//! Fixslicing: ShiftRows is never carried out. Instead the byte order of
//! the state drifts by one ShiftRows per round (four orders, "phases"), and
//! each round's MixColumns permutations and round key are written for the
//! order of its phase. One byte permutation per block puts the bytes in
//! order on the way in, and one back in block order on the way out.
//! The rounds are out-of-line functions that take one or two batches: two
//! batches interleave two independent dependency chains.
//! Must never: branch on or index by key or data (the S-box is a circuit,
//! the key schedule uses the same circuit on scalars), or keep round keys
//! after drop (zeroized).

use core::ops::{BitAnd, BitXor};

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::simd::{V128, permute};

/// Bytes in one AES block.
pub(crate) const BLOCK: usize = 16;

/// Blocks per batch.
pub(crate) const LANES: usize = 8;

/// Bytes per batch.
pub(crate) const BATCH: usize = LANES * BLOCK;

/// AES-256 rounds.
const ROUNDS: usize = 14;

/// Where byte `j` of the AES state (block order: `j = 4 * col + row`) is
/// kept in phase `q`: rows are laid out one per 32-bit lane (byte
/// `4 * row + col`), so that moving whole rows is a lane permutation, and
/// row `row` is rotated by the `q` ShiftRows skipped so far
/// (`q * row` columns).
const fn position(q: usize, j: usize) -> usize {
    let (row, col) = (j % 4, j / 4);
    4 * row + (col + q * row) % 4
}

/// Which byte of the AES state is kept at `m` in phase `q` (the inverse of
/// [`position`]).
const fn state_byte(q: usize, m: usize) -> usize {
    let (row, at) = (m / 4, m % 4);
    let col = (at + 16 - (q % 4) * row) % 4;
    4 * col + row
}

/// The permutation, in phase `q`, that moves each column's rows up by `t`:
/// state byte `(row, col)` receives `(row + t, col)`.
const fn rotate_rows(q: usize, t: usize) -> [usize; 16] {
    let mut idx = [0; 16];
    let mut m = 0;
    while m < 16 {
        let j = state_byte(q, m);
        let from = 4 * (j / 4) + (j % 4 + t) % 4;
        idx[m] = position(q, from);
        m += 1;
    }
    idx
}

/// Gathers the bytes of a block into the order of phase `q`.
const fn gather(q: usize) -> [usize; 16] {
    let mut idx = [0; 16];
    let mut m = 0;
    while m < 16 {
        idx[m] = state_byte(q, m);
        m += 1;
    }
    idx
}

/// The phase blocks enter in. Any phase works (the output is put back in
/// block order from whichever phase round 14 ends in); this one puts four
/// of the thirteen MixColumns in phase 0, the cheapest, and three in each
/// other phase.
const INPUT_PHASE: usize = 3;

/// The phase of round `i` (1..=14), for its MixColumns and round key.
const fn phase(round: usize) -> usize {
    (INPUT_PHASE + round) % 4
}

/// MixColumns' row moves in each phase, by one row and by two. Both are
/// 32-bit lane permutations in phase 0, and the second one in phase 2; in
/// the other cases bytes also move within the lanes.
pub(super) const UP1: [[usize; 16]; 4] = [
    rotate_rows(0, 1),
    rotate_rows(1, 1),
    rotate_rows(2, 1),
    rotate_rows(3, 1),
];
/// See [`UP1`].
pub(super) const UP2: [[usize; 16]; 4] = [
    rotate_rows(0, 2),
    rotate_rows(1, 2),
    rotate_rows(2, 2),
    rotate_rows(3, 2),
];
/// Puts the bytes of a block in the order of the input phase.
const INPUT_ORDER: [usize; 16] = gather(INPUT_PHASE);

/// Puts the bytes of a block in the phase of the last round back in block
/// order.
const OUTPUT_ORDER: [usize; 16] = {
    let mut idx = [0; 16];
    let mut j = 0;
    while j < 16 {
        idx[j] = position(phase(ROUNDS), j);
        j += 1;
    }
    idx
};

/// Where the four counter bytes (state bytes 12..16, big-endian) are kept
/// in the input phase.
const COUNTER_AT: [usize; 4] = [
    position(INPUT_PHASE, 12),
    position(INPUT_PHASE, 13),
    position(INPUT_PHASE, 14),
    position(INPUT_PHASE, 15),
];

/// SubBytes on bit planes (`x[p]` holds bit `p` of every byte) without the
/// affine constant: returns the planes of `S(x) ^ 0x63`. The round keys
/// carry the 0x63 instead (it passes through MixColumns unchanged).
///
/// The Boyar-Peralta circuit (32 AND, 83 XOR): a linear layer into the
/// tower field, the shared nonlinear inversion, a linear layer out. Their
/// numbering has bit 7 as `u0`/`s0`.
///
/// Written out gate by gate, as published, on purpose: the lines look alike
/// but every one is a different gate, the listing can be checked line for
/// line against the paper, and straight-line code is what the bitsliced
/// kernel needs (no tables, no data-dependent anything).
#[inline(always)]
fn sub_bytes<T>(x: [T; 8]) -> [T; 8]
where
    T: Copy + BitXor<Output = T> + BitAnd<Output = T>,
{
    let [u7, u6, u5, u4, u3, u2, u1, u0] = x;
    // Top linear layer.
    let y14 = u3 ^ u5;
    let y13 = u0 ^ u6;
    let y9 = u0 ^ u3;
    let y8 = u0 ^ u5;
    let t0 = u1 ^ u2;
    let y1 = t0 ^ u7;
    let y4 = y1 ^ u3;
    let y12 = y13 ^ y14;
    let y2 = y1 ^ u0;
    let y5 = y1 ^ u6;
    let y3 = y5 ^ y8;
    let t1 = u4 ^ y12;
    let y15 = t1 ^ u5;
    let y20 = t1 ^ u1;
    let y6 = y15 ^ u7;
    let y10 = y15 ^ t0;
    let y11 = y20 ^ y9;
    let y7 = u7 ^ y11;
    let y17 = y10 ^ y11;
    let y19 = y10 ^ y8;
    let y16 = t0 ^ y11;
    let y21 = y13 ^ y16;
    let y18 = u0 ^ y16;
    // Nonlinear middle.
    let t2 = y12 & y15;
    let t3 = y3 & y6;
    let t4 = t3 ^ t2;
    let t5 = y4 & u7;
    let t6 = t5 ^ t2;
    let t7 = y13 & y16;
    let t8 = y5 & y1;
    let t9 = t8 ^ t7;
    let t10 = y2 & y7;
    let t11 = t10 ^ t7;
    let t12 = y9 & y11;
    let t13 = y14 & y17;
    let t14 = t13 ^ t12;
    let t15 = y8 & y10;
    let t16 = t15 ^ t12;
    let t17 = t4 ^ t14;
    let t18 = t6 ^ t16;
    let t19 = t9 ^ t14;
    let t20 = t11 ^ t16;
    let t21 = t17 ^ y20;
    let t22 = t18 ^ y19;
    let t23 = t19 ^ y21;
    let t24 = t20 ^ y18;
    let t25 = t21 ^ t22;
    let t26 = t21 & t23;
    let t27 = t24 ^ t26;
    let t28 = t25 & t27;
    let t29 = t28 ^ t22;
    let t30 = t23 ^ t24;
    let t31 = t22 ^ t26;
    let t32 = t31 & t30;
    let t33 = t32 ^ t24;
    let t34 = t23 ^ t33;
    let t35 = t27 ^ t33;
    let t36 = t24 & t35;
    let t37 = t36 ^ t34;
    let t38 = t27 ^ t36;
    let t39 = t29 & t38;
    let t40 = t25 ^ t39;
    let t41 = t40 ^ t37;
    let t42 = t29 ^ t33;
    let t43 = t29 ^ t40;
    let t44 = t33 ^ t37;
    let t45 = t42 ^ t41;
    let z0 = t44 & y15;
    let z1 = t37 & y6;
    let z2 = t33 & u7;
    let z3 = t43 & y16;
    let z4 = t40 & y1;
    let z5 = t29 & y7;
    let z6 = t42 & y11;
    let z7 = t45 & y17;
    let z8 = t41 & y10;
    let z9 = t44 & y12;
    let z10 = t37 & y3;
    let z11 = t33 & y4;
    let z12 = t43 & y13;
    let z13 = t40 & y5;
    let z14 = t29 & y2;
    let z15 = t42 & y9;
    let z16 = t45 & y14;
    let z17 = t41 & y8;
    // Bottom linear layer (its four XNORs are the 0x63 left out).
    let t46 = z15 ^ z16;
    let t47 = z10 ^ z11;
    let t48 = z5 ^ z13;
    let t49 = z9 ^ z10;
    let t50 = z2 ^ z12;
    let t51 = z2 ^ z5;
    let t52 = z7 ^ z8;
    let t53 = z0 ^ z3;
    let t54 = z6 ^ z7;
    let t55 = z16 ^ z17;
    let t56 = z12 ^ t48;
    let t57 = t50 ^ t53;
    let t58 = z4 ^ t46;
    let t59 = z3 ^ t54;
    let t60 = t46 ^ t57;
    let t61 = z14 ^ t57;
    let t62 = t52 ^ t58;
    let t63 = t49 ^ t58;
    let t64 = z4 ^ t59;
    let t65 = t61 ^ t62;
    let t66 = z1 ^ t63;
    let s0 = t59 ^ t63;
    let s6 = t56 ^ t62;
    let s7 = t48 ^ t60;
    let t67 = t64 ^ t65;
    let s3 = t53 ^ t66;
    let s4 = t51 ^ t66;
    let s5 = t47 ^ t65;
    let s1 = t64 ^ s3;
    let s2 = t55 ^ t67;
    [s7, s6, s5, s4, s3, s2, s1, s0]
}

/// MixColumns on bit planes, with `up1`/`up2` the row rotations of the
/// current phase: `out = 2·(a ^ up1 a) ^ up1 a ^ up2 (a ^ up1 a)`, where
/// doubling moves each plane up one bit and folds bit 7 back in as 0x1b.
#[inline(always)]
fn mix_columns(s: &mut [V128; 8], up1: impl Fn(V128) -> V128, up2: impl Fn(V128) -> V128) {
    let b: [V128; 8] = core::array::from_fn(|p| up1(s[p]));
    let c: [V128; 8] = core::array::from_fn(|p| s[p] ^ b[p]);
    s[0] = b[0] ^ c[7] ^ up2(c[0]);
    s[1] = b[1] ^ c[0] ^ c[7] ^ up2(c[1]);
    s[2] = b[2] ^ c[1] ^ up2(c[2]);
    s[3] = b[3] ^ c[2] ^ c[7] ^ up2(c[3]);
    s[4] = b[4] ^ c[3] ^ c[7] ^ up2(c[4]);
    s[5] = b[5] ^ c[4] ^ up2(c[5]);
    s[6] = b[6] ^ c[5] ^ up2(c[6]);
    s[7] = b[7] ^ c[6] ^ up2(c[7]);
}

macro_rules! mix_columns_in_phase {
    ($name:ident, $q:literal) => {
        /// MixColumns in the byte order of one phase.
        #[inline(always)]
        fn $name(s: &mut [V128; 8]) {
            mix_columns(s, |v| permute!(v, UP1[$q]), |v| permute!(v, UP2[$q]));
        }
    };
}

mix_columns_in_phase!(mix_columns_0, 0);
mix_columns_in_phase!(mix_columns_1, 1);
mix_columns_in_phase!(mix_columns_2, 2);
mix_columns_in_phase!(mix_columns_3, 3);

macro_rules! round_in_phase {
    ($name:ident, $mix:ident) => {
        /// One of rounds 2..=13 on each batch: the previous round's key
        /// (round 1 has none: round key 0 is added before slicing),
        /// SubBytes, then MixColumns in the round's phase. Out of line:
        /// inlined, the loads of all the round keys were hoisted to the start
        /// and spilled.
        #[inline(never)]
        fn $name(batches: &mut [[V128; 8]], key: Option<&[[u8; BLOCK]; 8]>) {
            for s in batches {
                if let Some(key) = key {
                    for (v, k) in s.iter_mut().zip(key) {
                        *v = *v ^ V128::load(k);
                    }
                }
                *s = sub_bytes(*s);
                $mix(s);
            }
        }
    };
}

round_in_phase!(round_0, mix_columns_0);
round_in_phase!(round_1, mix_columns_1);
round_in_phase!(round_2, mix_columns_2);
round_in_phase!(round_3, mix_columns_3);

/// Transposes the 8x8 bit matrix held by each byte position across the
/// eight vectors: bit `j` of byte `m` of `v[i]` trades places with bit `i`
/// of byte `m` of `v[j]`. It turns eight blocks into bit planes and back
/// (it is its own inverse): three rounds of masked swaps between vectors.
#[inline(always)]
fn transpose(v: &mut [V128; 8]) {
    #[inline(always)]
    fn swap<const S: u32>(v: &mut [V128; 8], lo: usize, mask: V128) {
        let hi = lo + S as usize;
        let t = (v[lo].shr64::<S>() ^ v[hi]) & mask;
        v[hi] = v[hi] ^ t;
        v[lo] = v[lo] ^ t.shl64::<S>();
    }
    let m = V128::splat8(0x55);
    for lo in [0, 2, 4, 6] {
        swap::<1>(v, lo, m);
    }
    let m = V128::splat8(0x33);
    for lo in [0, 1, 4, 5] {
        swap::<2>(v, lo, m);
    }
    let m = V128::splat8(0x0f);
    for lo in [0, 1, 2, 3] {
        swap::<4>(v, lo, m);
    }
}

/// The eight encrypted blocks, in block order, of a batch after its last
/// round.
#[inline(always)]
fn unslice(mut s: [V128; 8]) -> [V128; 8] {
    transpose(&mut s);
    s.map(|v| permute!(v, OUTPUT_ORDER))
}

/// The constant-time S-box on four bytes (the key schedule's SubWord):
/// the same circuit, on `u32` planes with one byte per bit.
pub(super) fn sub_word(w: [u8; 4]) -> [u8; 4] {
    let planes: [u32; 8] =
        core::array::from_fn(|p| (0..4).fold(0, |acc, k| acc | (u32::from((w[k] >> p) & 1) << k)));
    let s = sub_bytes(planes);
    core::array::from_fn(|k| {
        0x63 ^ (0..8).fold(0u8, |acc, p| acc | ((((s[p] >> k) & 1) as u8) << p))
    })
}

/// The fifteen AES-256 round keys (FIPS 197 section 5.2), as bytes in
/// block order.
pub(super) fn expand_key(key: &[u8; 32]) -> [[u8; BLOCK]; ROUNDS + 1] {
    let mut w = [[0u8; 4]; 4 * (ROUNDS + 1)];
    for (word, bytes) in w.iter_mut().zip(key.as_chunks::<4>().0) {
        *word = *bytes;
    }
    let mut rcon = 1u8;
    for i in 8..w.len() {
        let mut t = w[i - 1];
        if i % 8 == 0 {
            t = sub_word([t[1], t[2], t[3], t[0]]);
            t[0] ^= rcon;
            rcon <<= 1;
        } else if i % 8 == 4 {
            t = sub_word(t);
        }
        w[i] = core::array::from_fn(|k| w[i - 8][k] ^ t[k]);
    }
    let mut keys = [[0u8; BLOCK]; ROUNDS + 1];
    for (key, words) in keys.iter_mut().zip(w.as_chunks::<4>().0) {
        for (bytes, word) in key.as_chunks_mut::<4>().0.iter_mut().zip(words) {
            *bytes = *word;
        }
    }
    w.zeroize();
    keys
}

/// An AES-256 key schedule, bitsliced for the eight-block kernel. The
/// round keys are zeroized on drop and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Aes256 {
    /// Round key 0, in the input phase's byte order (xored into blocks
    /// before they are sliced).
    k0: [u8; BLOCK],
    /// Round keys 1..=14 as bit planes, each in its round's phase, with
    /// 0x63 xored into every byte (the S-box's constant, see
    /// [`sub_bytes`]).
    planes: [[[u8; BLOCK]; 8]; ROUNDS],
}

impl Aes256 {
    /// Expands `key`.
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let mut keys = expand_key(key);
        let mut aes = Self {
            k0: core::array::from_fn(|m| keys[0][INPUT_ORDER[m]]),
            planes: [[[0; BLOCK]; 8]; ROUNDS],
        };
        for (round, planes) in (1..=ROUNDS).zip(aes.planes.iter_mut()) {
            let q = phase(round);
            for (p, plane) in planes.iter_mut().enumerate() {
                for (m, byte) in plane.iter_mut().enumerate() {
                    let k = keys[round][state_byte(q, m)] ^ 0x63;
                    *byte = 0u8.wrapping_sub((k >> p) & 1);
                }
            }
        }
        keys.zeroize();
        aes
    }

    /// Rounds 1..=14 on sliced batches that already have round key 0.
    /// Inlined into the keystream loops (the batches then stay in the
    /// caller's frame: sealing measured 8% faster).
    #[inline(always)]
    fn rounds(&self, batches: &mut [[V128; 8]]) {
        const { assert!(phase(1) == 0 && phase(2) == 1) };
        let key = |round: usize| Some(&self.planes[round - 1]);
        round_0(batches, None);
        for round in [2, 6, 10] {
            round_1(batches, key(round - 1));
            round_2(batches, key(round));
            round_3(batches, key(round + 1));
            round_0(batches, key(round + 2));
        }
        for s in batches {
            for (v, k) in s.iter_mut().zip(&self.planes[ROUNDS - 2]) {
                *v = *v ^ V128::load(k);
            }
            *s = sub_bytes(*s);
            for (v, k) in s.iter_mut().zip(&self.planes[ROUNDS - 1]) {
                *v = *v ^ V128::load(k);
            }
        }
    }

    /// Encrypts eight blocks in place.
    pub(crate) fn encrypt_blocks(&self, blocks: &mut [[u8; BLOCK]; LANES]) {
        let k0 = V128::load(&self.k0);
        let mut s: [V128; 8] =
            core::array::from_fn(|b| permute!(V128::load(&blocks[b]), INPUT_ORDER) ^ k0);
        transpose(&mut s);
        let mut batches = [s];
        self.rounds(&mut batches);
        for (block, v) in blocks.iter_mut().zip(unslice(batches[0])) {
            v.store(block);
        }
    }
}

/// Counter mode for one message: the keystream of GCM's counter blocks
/// `nonce || counter` (32-bit big-endian counter).
pub(crate) struct Ctr<'a> {
    aes: &'a Aes256,
    /// `nonce || 0` in the input phase, with round key 0 added.
    start: V128,
}

impl<'a> Ctr<'a> {
    /// Counter mode under `aes` for `nonce`.
    pub(crate) fn new(aes: &'a Aes256, nonce: &[u8; 12]) -> Self {
        let mut block = [0u8; BLOCK];
        block[..12].copy_from_slice(nonce);
        let start = permute!(V128::load(&block), INPUT_ORDER) ^ V128::load(&aes.k0);
        Self { aes, start }
    }

    /// The keystream of `N` batches: blocks of counters
    /// `counter .. counter + 8 * N` (`counter` a multiple of 8), each as a
    /// vector in block order. Two batches at once run about 15% faster
    /// than one after the other: a batch alone is one long dependency chain
    /// and leaves the processor idle.
    #[inline(always)]
    pub(crate) fn batches<const N: usize>(&self, counter: u32) -> [[V128; LANES]; N] {
        let mut batches: [[V128; 8]; N] =
            core::array::from_fn(|i| self.slice(counter + (i * LANES) as u32));
        self.aes.rounds(&mut batches);
        batches.map(unslice)
    }

    /// The counter blocks `counter .. counter + 8` (`counter` a multiple of
    /// 8), sliced, with round key 0.
    ///
    /// The eight blocks differ only in the counter's low three bits, so the
    /// batch is sliced without a transpose: each plane is one block's bit
    /// spread to all eight lanes (0x00 or 0xff per byte), and the low three
    /// bits of the last byte are then the fixed patterns 0xaa, 0xcc, 0xf0.
    #[inline(always)]
    fn slice(&self, counter: u32) -> [V128; 8] {
        debug_assert_eq!(counter % LANES as u32, 0);
        let mut lanes = [0u64; 2];
        for (at, byte) in COUNTER_AT.into_iter().zip(counter.to_be_bytes()) {
            lanes[at / 8] |= u64::from(byte) << (8 * (at % 8));
        }
        let x = self.start ^ V128::from_u64(lanes[0], lanes[1]);
        let mut s: [V128; 8] = core::array::from_fn(|p| {
            let bit = V128::splat8(1 << p);
            (x & bit).eq8(bit)
        });
        let last = COUNTER_AT[3];
        for (p, pattern) in [0xaau8, 0xcc, 0xf0].into_iter().enumerate() {
            let v = u64::from(pattern) << (8 * (last % 8));
            s[p] = s[p]
                ^ if last < 8 {
                    V128::from_u64(v, 0)
                } else {
                    V128::from_u64(0, v)
                };
        }
        s
    }
}
