//! `from_uniform` is libsodium 1.0.18's `crypto_core_ed25519_from_uniform`,
//! byte for byte, now that it is curve25519-dalek's `nonspec_map_to_curve`
//! behind a pass-through digest.
//!
//! The reference is libsodium itself: `tests/vectors/from_uniform_libsodium.json`
//! (written by `from_uniform_libsodium.py` beside it, which calls libsodium
//! 1.0.18 through ctypes) holds its outputs on edge inputs and a digest of
//! its outputs on 200,000 seeded inputs. Before the hand-written field
//! arithmetic that used to compute the map was removed, it and dalek were
//! compared on all of these and on 200,000 more inputs, and agreed on every
//! one.

use blake2::Blake2b;
use blake2::digest::Digest;
use blake2::digest::consts::U32;
use curve25519_dalek::edwards::CompressedEdwardsY;
use serde_json::Value;

use super::ed25519::from_uniform;

const LIBSODIUM: &str = include_str!("../../tests/vectors/from_uniform_libsodium.json");

fn libsodium() -> Value {
    serde_json::from_str(LIBSODIUM).expect("from_uniform_libsodium.json")
}

fn bytes(v: &Value, key: &str) -> [u8; 32] {
    let h = v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"));
    hex::decode(h).expect("hex").try_into().expect("32 bytes")
}

/// splitmix64, as the JSON's `generator` describes it.
struct SplitMix(u64);

impl SplitMix {
    fn input(&mut self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for c in b.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            c.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        b
    }
}

/// Zero, all 0xff, p..p+19 (non-canonical r, with and without bit 255),
/// small r and p - r, and the r that send Elligator 2 to u = 0 (identity),
/// u = 1 and the order-8 u's (identity after the cofactor), through either
/// branch: libsodium's outputs on each.
#[test]
fn on_edge_inputs() {
    let v = libsodium();
    let vectors = v["ed25519_from_uniform"]["vectors"]
        .as_array()
        .expect("vectors");
    assert!(vectors.len() >= 100);
    let mut non_square = 0;
    for t in vectors {
        let r = bytes(t, "input_hex");
        assert_eq!(
            hex::encode(from_uniform(&r)),
            hex::encode(bytes(t, "output_hex")),
            "{t}"
        );
        non_square += usize::from(t["note"].as_str().unwrap_or("").contains("non-square"));
    }
    // Both branches of Elligator 2 are covered.
    assert!(non_square > 10 && non_square < vectors.len() - 10);
}

#[test]
fn on_200k_seeded_inputs() {
    let v = libsodium();
    let s = &v["ed25519_from_uniform_seeded"];
    let count = s["count"].as_u64().expect("count");
    assert!(count >= 100_000);
    let mut g = SplitMix(0x53_504f_4b45);
    let mut h = Blake2b::<U32>::new();
    for i in 0..count {
        let r = g.input();
        let p = from_uniform(&r);
        if i == 0 {
            assert_eq!(r, bytes(s, "first_input_hex"));
            assert_eq!(p, bytes(s, "first_output_hex"));
        }
        h.update(p);
    }
    assert_eq!(
        hex::encode(h.finalize()),
        s["blake2b_256_of_outputs_hex"].as_str().expect("digest")
    );
}

/// Bit 255 only chooses the sign of x: the two outputs are opposite points,
/// both in the prime-order subgroup.
#[test]
fn bit_255_negates_the_point() {
    let mut g = SplitMix(7);
    for _ in 0..10_000 {
        let mut r = g.input();
        r[31] &= 0x7f;
        let plus = CompressedEdwardsY(from_uniform(&r))
            .decompress()
            .expect("decodes");
        r[31] |= 0x80;
        let minus = CompressedEdwardsY(from_uniform(&r))
            .decompress()
            .expect("decodes");
        assert_eq!(plus, -minus);
        assert!(plus.is_torsion_free());
    }
}
