//! The ChaCha20 stream cipher (RFC 8439 section 2.4: 32-bit block counter,
//! 96-bit nonce), four blocks at a time.
//!
//! Owns: the keystream and its xor into a buffer. Each vector holds one
//! state word of four consecutive blocks; after the rounds a 4x4 transpose
//! turns the sixteen vectors into the four 64-byte blocks.
//! Must never: branch on or index by key or data, or let the counter wrap
//! (the AEAD bounds the length first).

use crate::simd::V128;

/// "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Bytes in one ChaCha20 block.
pub(crate) const BLOCK: usize = 64;

/// Bytes produced by one pass of the four-block kernel.
const WIDE: usize = 4 * BLOCK;

/// The initial state words 0..16 for `key`, `nonce` and block `counter`.
#[inline(always)]
fn state(key: &[u32; 8], nonce: &[u32; 3], counter: u32) -> [u32; 16] {
    [
        SIGMA[0], SIGMA[1], SIGMA[2], SIGMA[3], key[0], key[1], key[2], key[3], key[4], key[5],
        key[6], key[7], counter, nonce[0], nonce[1], nonce[2],
    ]
}

#[inline(always)]
fn quarter(x: &mut [V128; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].add32(x[b]);
    x[d] = (x[d] ^ x[a]).rotl32::<16>();
    x[c] = x[c].add32(x[d]);
    x[b] = (x[b] ^ x[c]).rotl32::<12>();
    x[a] = x[a].add32(x[b]);
    x[d] = (x[d] ^ x[a]).rotl32::<8>();
    x[c] = x[c].add32(x[d]);
    x[b] = (x[b] ^ x[c]).rotl32::<7>();
}

/// Four keystream blocks (counters `s[12] .. s[12] + 3`), as
/// `out[block][quarter]` 16-byte vectors.
#[inline(always)]
fn four_blocks(s: &[u32; 16]) -> [[V128; 4]; 4] {
    // `from_fn` rather than `map`: `map` stayed an out-of-line call in wasm.
    let mut init: [V128; 16] = core::array::from_fn(|i| V128::splat32(s[i]));
    let c = s[12];
    init[12] = V128::from_u32(c, c.wrapping_add(1), c.wrapping_add(2), c.wrapping_add(3));
    let mut x = init;
    for _ in 0..10 {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 1, 5, 9, 13);
        quarter(&mut x, 2, 6, 10, 14);
        quarter(&mut x, 3, 7, 11, 15);
        quarter(&mut x, 0, 5, 10, 15);
        quarter(&mut x, 1, 6, 11, 12);
        quarter(&mut x, 2, 7, 8, 13);
        quarter(&mut x, 3, 4, 9, 14);
    }
    for (xi, ii) in x.iter_mut().zip(init) {
        *xi = xi.add32(ii);
    }
    let mut out = [[V128::splat32(0); 4]; 4];
    for g in 0..4 {
        let (a, b, c, d) = (x[4 * g], x[4 * g + 1], x[4 * g + 2], x[4 * g + 3]);
        let t0 = a.zip_lo32(b);
        let t1 = c.zip_lo32(d);
        let t2 = a.zip_hi32(b);
        let t3 = c.zip_hi32(d);
        out[0][g] = t0.zip_lo64(t1);
        out[1][g] = t0.zip_hi64(t1);
        out[2][g] = t2.zip_lo64(t3);
        out[3][g] = t2.zip_hi64(t3);
    }
    out
}

/// Xors 256 bytes of keystream (four blocks from the state's counter) into
/// `chunk`.
#[inline(always)]
fn xor_wide(s: &[u32; 16], chunk: &mut [u8; WIDE]) {
    let ks = four_blocks(s);
    for (i, piece) in chunk.as_chunks_mut::<16>().0.iter_mut().enumerate() {
        (V128::load(piece) ^ ks[i / 4][i % 4]).store(piece);
    }
}

/// The key as eight little-endian words.
pub(crate) fn key_words(key: &[u8; 32]) -> [u32; 8] {
    core::array::from_fn(|i| {
        u32::from_le_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]])
    })
}

/// The nonce as three little-endian words.
pub(crate) fn nonce_words(nonce: &[u8; 12]) -> [u32; 3] {
    core::array::from_fn(|i| {
        u32::from_le_bytes([
            nonce[4 * i],
            nonce[4 * i + 1],
            nonce[4 * i + 2],
            nonce[4 * i + 3],
        ])
    })
}

/// Xors the ChaCha20 keystream starting at block `counter` into `buf`.
///
/// The caller ensures `counter + ceil(len / 64)` does not exceed 2^32 (the
/// kernel's counter arithmetic wraps only for keystream that is discarded).
pub(crate) fn apply_keystream(key: &[u32; 8], nonce: &[u32; 3], counter: u32, buf: &mut [u8]) {
    let mut s = state(key, nonce, counter);
    let (chunks, rest) = buf.as_chunks_mut::<WIDE>();
    for chunk in chunks {
        xor_wide(&s, chunk);
        s[12] = s[12].wrapping_add(4);
    }
    if !rest.is_empty() {
        let mut tmp = [0u8; WIDE];
        tmp[..rest.len()].copy_from_slice(rest);
        xor_wide(&s, &mut tmp);
        rest.copy_from_slice(&tmp[..rest.len()]);
        zeroize::Zeroize::zeroize(&mut tmp);
    }
}

/// Bytes of keystream after the Poly1305 key in the first four-block pass.
const FIRST: usize = WIDE - BLOCK;

/// The AEAD's first four-block pass (counters 0..4): the Poly1305 one-time
/// key (the first 32 bytes of block 0) and the keystream of blocks 1..4
/// (the first 192 bytes of the message). Zeroized on drop.
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub(crate) struct FirstPass {
    /// The Poly1305 one-time key.
    pub(crate) poly_key: [u8; 32],
    keystream: [u8; FIRST],
}

impl FirstPass {
    /// Runs the first pass for `key` and `nonce`, keeping blocks 1..4 only
    /// when a `len`-byte message will use them (see [`FirstPass::apply`]).
    pub(crate) fn new(key: &[u32; 8], nonce: &[u32; 3], len: usize) -> Self {
        let ks = four_blocks(&state(key, nonce, 0));
        let mut first = Self {
            poly_key: [0; 32],
            keystream: [0; FIRST],
        };
        let (a, b) = first.poly_key.split_at_mut(16);
        ks[0][0].store(a.try_into().expect("16 bytes"));
        ks[0][1].store(b.try_into().expect("16 bytes"));
        if len <= FIRST {
            let (pieces, _) = first.keystream.as_chunks_mut::<16>();
            for (i, piece) in pieces.iter_mut().enumerate() {
                ks[1 + i / 4][i % 4].store(piece);
            }
        }
        first
    }

    /// Xors the keystream from block 1 on into `buf` (the AEAD's
    /// encryption). Messages of up to 192 bytes use this pass's keystream;
    /// longer ones start afresh at block 1, so that their 256-byte chunks
    /// stay aligned with the four-block kernel (no extra partial pass).
    pub(crate) fn apply(&self, key: &[u32; 8], nonce: &[u32; 3], buf: &mut [u8]) {
        if buf.len() <= FIRST {
            for (b, k) in buf.iter_mut().zip(&self.keystream) {
                *b ^= k;
            }
        } else {
            apply_keystream(key, nonce, 1, buf);
        }
    }
}
