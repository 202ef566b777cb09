//! Specification tests of every `V128` operation against scalar code on
//! lane arrays. They run natively (the portable back end) and inside wasm
//! (the simd128 back end), so both back ends meet the same expectations.

use super::V128;
use crate::kernel_testing::Rng;

fn bytes(v: V128) -> [u8; 16] {
    let mut out = [0u8; 16];
    v.store(&mut out);
    out
}

fn u32s(v: V128) -> [u32; 4] {
    let b = bytes(v);
    core::array::from_fn(|i| {
        u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
    })
}

fn u64s(v: V128) -> [u64; 2] {
    let b = bytes(v);
    let (lo, hi) = b.split_at(8);
    [
        u64::from_le_bytes(lo.try_into().expect("8 bytes")),
        u64::from_le_bytes(hi.try_into().expect("8 bytes")),
    ]
}

/// Random vectors, with all-zero and all-ones ones among them (the
/// extremes of every carry and comparison).
fn samples() -> Vec<[u8; 16]> {
    let mut rng = Rng(0x5eed_51d0_0001);
    let mut out = vec![[0u8; 16], [0xff; 16]];
    out.extend((0..64).map(|_| rng.array::<16>()));
    // Some bytes equal to the same byte of the next sample, for `eq8`.
    out.push(out[2]);
    out[3][5] = out[2][5];
    out
}

/// Each sample with the next one (cyclically).
fn pairs() -> impl Iterator<Item = (V128, V128, [u8; 16], [u8; 16])> {
    let s = samples();
    (0..s.len()).map(move |i| {
        let (a, b) = (s[i], s[(i + 1) % s.len()]);
        (V128::load(&a), V128::load(&b), a, b)
    })
}

#[test]
fn load_and_store_keep_the_bytes_in_order() {
    for (v, _, a, _) in pairs() {
        assert_eq!(bytes(v), a);
    }
    let v = V128::load(&core::array::from_fn(|i| i as u8));
    assert_eq!(
        u32s(v),
        [0x0302_0100, 0x0706_0504, 0x0b0a_0908, 0x0f0e_0d0c]
    );
    assert_eq!(v.to_u64(), [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908]);
}

#[test]
fn constructors_fill_the_lanes_named() {
    assert_eq!(bytes(V128::splat8(0xa5)), [0xa5; 16]);
    assert_eq!(u32s(V128::splat32(0x0123_4567)), [0x0123_4567; 4]);
    assert_eq!(
        u32s(V128::from_u32(1, 2, 3, 0xffff_ffff)),
        [1, 2, 3, 0xffff_ffff]
    );
    assert_eq!(u64s(V128::splat64(u64::MAX - 1)), [u64::MAX - 1; 2]);
    let v = V128::from_u64(0x0011_2233_4455_6677, 0x8899_aabb_ccdd_eeff);
    assert_eq!(u64s(v), [0x0011_2233_4455_6677, 0x8899_aabb_ccdd_eeff]);
    assert_eq!(v.to_u64(), u64s(v));
}

#[test]
fn bitwise_operators_work_on_all_128_bits() {
    for (x, y, a, b) in pairs() {
        assert_eq!(bytes(x ^ y), core::array::from_fn(|i| a[i] ^ b[i]));
        assert_eq!(bytes(x & y), core::array::from_fn(|i| a[i] & b[i]));
        assert_eq!(bytes(x | y), core::array::from_fn(|i| a[i] | b[i]));
    }
}

#[test]
fn arithmetic_wraps_within_each_lane() {
    for (x, y, _, _) in pairs() {
        let (a, b) = (u32s(x), u32s(y));
        let expected: [u32; 4] = core::array::from_fn(|i| a[i].wrapping_add(b[i]));
        assert_eq!(u32s(x.add32(y)), expected);
        let (a, b) = (u64s(x), u64s(y));
        let sum: [u64; 2] = core::array::from_fn(|i| a[i].wrapping_add(b[i]));
        assert_eq!(u64s(x.add64(y)), sum);
        let product: [u64; 2] = core::array::from_fn(|i| a[i].wrapping_mul(b[i]));
        assert_eq!(u64s(x.mul64(y)), product);
        let (a, b) = (u32s(x), u32s(y));
        let wide: [u64; 2] = core::array::from_fn(|i| u64::from(a[i]) * u64::from(b[i]));
        assert_eq!(u64s(x.mul_lo32(y)), wide);
    }
}

#[test]
fn eq8_marks_the_equal_bytes() {
    for (x, y, a, b) in pairs() {
        let expected: [u8; 16] = core::array::from_fn(|i| if a[i] == b[i] { 0xff } else { 0 });
        assert_eq!(bytes(x.eq8(y)), expected);
        assert_eq!(bytes(x.eq8(x)), [0xff; 16]);
    }
}

#[test]
fn shifts_and_rotations_stay_within_each_lane() {
    for (x, _, _, _) in pairs() {
        let a = u32s(x);
        assert_eq!(u32s(x.rotl32::<7>()), a.map(|w| w.rotate_left(7)));
        assert_eq!(u32s(x.rotl32::<8>()), a.map(|w| w.rotate_left(8)));
        assert_eq!(u32s(x.rotl32::<12>()), a.map(|w| w.rotate_left(12)));
        assert_eq!(u32s(x.rotl32::<16>()), a.map(|w| w.rotate_left(16)));
        let a = u64s(x);
        assert_eq!(u64s(x.shl64::<1>()), a.map(|w| w << 1));
        assert_eq!(u64s(x.shl64::<63>()), a.map(|w| w << 63));
        assert_eq!(u64s(x.shr64::<26>()), a.map(|w| w >> 26));
        assert_eq!(u64s(x.shr64::<63>()), a.map(|w| w >> 63));
        assert_eq!(u64s(x.shl64::<0>()), a);
    }
}

#[test]
fn lane_shuffles_pick_the_lanes_named() {
    for (x, y, _, _) in pairs() {
        let (a, b) = (u32s(x), u32s(y));
        assert_eq!(u32s(x.zip_lo32(y)), [a[0], b[0], a[1], b[1]]);
        assert_eq!(u32s(x.zip_hi32(y)), [a[2], b[2], a[3], b[3]]);
        assert_eq!(u32s(x.pack_lo32()), [a[0], a[2], a[0], a[2]]);
        let (a, b) = (u64s(x), u64s(y));
        assert_eq!(u64s(x.zip_lo64(y)), [a[0], b[0]]);
        assert_eq!(u64s(x.zip_hi64(y)), [a[1], b[1]]);
        assert_eq!(u64s(x.blend64(y)), [a[0], b[1]]);
        assert_eq!(u64s(x.cross64(y)), [a[1], b[0]]);
    }
}

#[test]
fn permute_gathers_bytes_by_a_constant_table() {
    const REVERSE: [usize; 16] = [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0];
    const MIXED: [usize; 16] = [3, 3, 0, 15, 8, 1, 1, 2, 9, 10, 4, 4, 5, 6, 7, 0];
    for (x, _, a, _) in pairs() {
        assert_eq!(bytes(permute!(x, REVERSE)), REVERSE.map(|i| a[i]));
        assert_eq!(bytes(permute!(x, MIXED)), MIXED.map(|i| a[i]));
    }
}

#[test]
fn bitrev8_reverses_the_bits_of_every_byte() {
    let all: [[u8; 16]; 16] =
        core::array::from_fn(|k| core::array::from_fn(|i| (16 * k + i) as u8));
    for a in all.into_iter().chain(samples()) {
        assert_eq!(bytes(V128::load(&a).bitrev8()), a.map(u8::reverse_bits));
    }
}
