//! The primitives replay the reference's vectors: PBKDF2 with its
//! little-endian block index, libsodium's edwards25519 operations, the
//! password-derived values (§3), the shaping of random scalars (§2) and
//! the BLAKE2b subkeys (§5).
//!
//! Unit tests, as these functions are the crate's own and not its API; the
//! handshakes, records and error cases replay through the public API in
//! `tests/vectors.rs`. The files are those of [`vector_files`] (so
//! `$SPOKE_VECTORS` applies), dispatched on their shape, not their name.

use serde_json::Value;

use super::blake2::subkey;
use super::ed25519::{add, base_clamp, base_noclamp, from_uniform, mult_clamp, mult_noclamp, sub};
use super::pbkdf2::pbkdf2_le;
use super::shape_scalar;
use crate::testing::{arr, hex, password_values, vector_files};

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("missing string {k} in {v:.80}"))
}

fn uint(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("missing number {k} in {v:.80}"))
}

/// The entries of `f[group]["vectors"]` (none if the file has no such group).
fn group<'a>(f: &'a Value, group: &str) -> impl Iterator<Item = &'a Value> {
    f[group]["vectors"].as_array().into_iter().flatten()
}

fn pbkdf2(f: &Value) -> usize {
    let all = f["pbkdf2_hmac_sha256"].as_array().into_iter().flatten();
    let mut ran = 0;
    for v in all {
        let mut out = vec![0u8; uint(v, "len") as usize];
        let count = uint(v, "count") as u32;
        pbkdf2_le(
            &hex(s(v, "password_hex")),
            &hex(s(v, "salt_hex")),
            count,
            &mut out,
        );
        let got = ::hex::encode(&out);
        assert_eq!(got, s(v, "output_hex"), "pbkdf2 {v:.100}");
        if let Some(rfc) = v["rfc8018_pbkdf2_hmac_sha256_hex_for_comparison"].as_str() {
            assert_eq!(v["equals_rfc8018"].as_bool(), Some(got == rfc));
        }
        ran += 1;
    }
    ran
}

fn edwards25519(f: &Value) -> usize {
    let mut ran = 0;
    for v in group(f, "ed25519_from_uniform") {
        let got = from_uniform(&arr(s(v, "input_hex")));
        assert_eq!(::hex::encode(got), s(v, "output_hex"), "from_uniform {v}");
        ran += 1;
    }
    for v in group(f, "ed25519_scalarmult_base") {
        let k = arr(s(v, "scalar_hex"));
        let noclamp = ::hex::encode(base_noclamp(&k));
        assert_eq!(noclamp, s(v, "noclamp_output_hex"), "base_noclamp {v}");
        let clamped = ::hex::encode(base_clamp(&k));
        assert_eq!(clamped, s(v, "clamped_output_hex"), "base_clamp {v}");
        ran += 1;
    }
    for v in group(f, "ed25519_scalarmult") {
        let (k, p) = (arr(s(v, "scalar_hex")), arr(s(v, "point_hex")));
        for (got, ok, out) in [
            (mult_noclamp(&k, &p), "noclamp_ok", "noclamp_output_hex"),
            (mult_clamp(&k, &p), "clamped_ok", "clamped_output_hex"),
        ] {
            if v[ok].as_bool() == Some(true) {
                let got = got.map(::hex::encode).ok();
                assert_eq!(got.as_deref(), v[out].as_str(), "{v}");
            } else {
                assert!(got.is_err(), "must be rejected: {v}");
            }
        }
        ran += 1;
    }
    for v in group(f, "ed25519_add_sub") {
        let (p, q) = (arr(s(v, "p_hex")), arr(s(v, "q_hex")));
        assert_eq!(
            add(&p, &q).map(::hex::encode).ok().as_deref(),
            Some(s(v, "add_hex"))
        );
        assert_eq!(
            sub(&p, &q).map(::hex::encode).ok().as_deref(),
            Some(s(v, "sub_hex"))
        );
        ran += 1;
    }
    ran
}

fn password_keys(f: &Value) -> usize {
    let mut ran = 0;
    for v in group(f, "derive_keys") {
        let (password, salt) = (s(v, "password").as_bytes(), arr(s(v, "salt_hex")));
        let count = uint(v, "count") as u32;
        let mut mnkl = [0u8; 128];
        pbkdf2_le(password, &salt, count, &mut mnkl);
        assert_eq!(::hex::encode(mnkl), s(v, "pbkdf2_128_hex"));
        for (field, got) in password_values(password, &salt, count).by_vector_field() {
            assert_eq!(::hex::encode(got), s(v, field), "{field}");
        }
        ran += 1;
    }
    ran
}

/// `Spoke.random_scalar`'s shaping of each transcript's raw x and y.
fn scalar_shaping(f: &Value) -> usize {
    let mut ran = 0;
    for t in f["transcripts"].as_array().into_iter().flatten() {
        let r = &t["random_inputs"];
        for (raw, shaped) in [
            ("x_raw_random_hex", "x_scalar_hex"),
            ("y_raw_random_hex", "y_scalar_hex"),
        ] {
            let got = shape_scalar(&arr(s(r, raw))).map(|x| ::hex::encode(*x));
            assert_eq!(
                got.as_deref(),
                Some(s(r, shaped)),
                "{}: {shaped}",
                s(t, "name")
            );
            ran += 1;
        }
    }
    ran
}

fn subkeys(f: &Value) -> usize {
    let mut ran = 0;
    for v in group(f, "subkey_from_key") {
        let main: [u8; 64] = arr(s(v, "main_key_hex"));
        for k in v["subkeys"].as_array().into_iter().flatten() {
            let id = uint(k, "id");
            let mut msg = [0u8; 32];
            msg[..5].copy_from_slice(b"SPOKE");
            msg[16..24].copy_from_slice(&id.to_le_bytes());
            assert_eq!(::hex::encode(msg), s(k, "blake2b_input_hex"));
            let got = ::hex::encode(subkey(&main, id));
            assert_eq!(got, s(k, "output_hex"), "subkey {id}");
            ran += 1;
        }
    }
    ran
}

#[test]
fn primitive_vectors() {
    let mut ran = 0;
    for (name, text) in vector_files() {
        let f: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        ran += pbkdf2(&f) + edwards25519(&f) + password_keys(&f) + scalar_shaping(&f);
        ran += subkeys(&f);
    }
    assert!(ran > 0, "no primitive vectors found");
}
