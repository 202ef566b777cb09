//! Specification tests: FIPS 197 (the S-box, AES-256 key expansion and
//! block), the GCM specification's AES-256 test cases with 96-bit IVs, and
//! differential tests against the `aes`, `ghash` and `aes-gcm` crates.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit as KeyInit04};
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use ghash::universal_hash::UniversalHash;

use super::Aes256Gcm;
use super::aes::{Aes256, BLOCK, Ctr, LANES, UP1, UP2, expand_key, sub_word};
use super::ghash::{Ghash, GhashKey, dot_bytes};
use crate::kernel_testing::{
    Aead06, Rng, arr, assert_debug_hides_key, differential, differential_random, unhex,
};

/// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1, bit by bit.
fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        a = (a << 1) ^ if a & 0x80 != 0 { 0x1b } else { 0 };
        b >>= 1;
    }
    p
}

/// The AES S-box from its definition (FIPS 197 section 5.1.1): the
/// multiplicative inverse (x^254), then the affine map.
fn sbox_by_definition(x: u8) -> u8 {
    let mut inv = 1u8;
    for _ in 0..254 {
        inv = gf_mul(inv, x);
    }
    let r = |n: u32| inv.rotate_left(n);
    inv ^ r(1) ^ r(2) ^ r(3) ^ r(4) ^ 0x63
}

#[test]
fn sbox_circuit_matches_the_definition_on_all_256_bytes() {
    assert_eq!(sbox_by_definition(0x00), 0x63);
    assert_eq!(sbox_by_definition(0x53), 0xed);
    for x in 0..=255u8 {
        let word = sub_word([x, x ^ 0x5a, !x, x.rotate_left(3)]);
        let expected = [x, x ^ 0x5a, !x, x.rotate_left(3)].map(sbox_by_definition);
        assert_eq!(word, expected, "S-box of {x:#04x}");
    }
}

#[test]
fn aes256_key_expansion_fips197_appendix_a3() {
    let keys = expand_key(&arr(
        "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
    ));
    assert_eq!(hex::encode(keys[1]), "1f352c073b6108d72d9810a30914dff4");
    assert_eq!(hex::encode(keys[2]), "9ba354118e6925afa51a8b5f2067fcde");
    assert_eq!(hex::encode(keys[14]), "fe4890d1e6188d0b046df344706c631e");
}

#[test]
fn row_moves_are_lane_permutations_where_no_shiftrows_is_pending() {
    // In phase 0 (and for two-row moves in phase 2) the row moves of
    // MixColumns must keep every 32-bit lane whole, so they compile to one
    // pshufd rather than a general byte shuffle.
    let whole_lanes = |idx: &[usize; 16]| {
        idx.as_chunks::<4>()
            .0
            .iter()
            .all(|lane| lane[0] % 4 == 0 && (1..4).all(|k| lane[k] == lane[0] + k))
    };
    assert!(whole_lanes(&UP1[0]) && whole_lanes(&UP2[0]) && whole_lanes(&UP2[2]));
    assert!(!whole_lanes(&UP1[1]) && !whole_lanes(&UP1[3]));
}

/// Encrypts one block with our kernel (in every lane of a batch, checking
/// the lanes agree).
fn encrypt_block(aes: &Aes256, block: &[u8; 16]) -> [u8; 16] {
    let mut blocks = [*block; LANES];
    aes.encrypt_blocks(&mut blocks);
    assert!(blocks.iter().all(|b| b == &blocks[0]));
    blocks[0]
}

#[test]
fn aes256_block_fips197_appendix_c3() {
    let aes = Aes256::new(&arr(
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    ));
    let ct = encrypt_block(&aes, &arr("00112233445566778899aabbccddeeff"));
    assert_eq!(hex::encode(ct), "8ea2b7ca516745bfeafc49904b496089");
}

#[test]
fn aes256_matches_the_aes_crate_on_random_keys_and_blocks() {
    let mut rng = Rng(0x5eed_6c3a_0001);
    for round in 0..200 {
        let key: [u8; 32] = match round {
            0 => [0; 32],
            1 => [0xff; 32],
            _ => rng.array(),
        };
        let ours = Aes256::new(&key);
        let theirs = aes::Aes256::new(GenericArray::from_slice(&key));
        let mut blocks: [[u8; BLOCK]; LANES] = core::array::from_fn(|_| rng.array());
        blocks[0] = [0; BLOCK];
        blocks[1] = [0xff; BLOCK];
        let plain = blocks;
        ours.encrypt_blocks(&mut blocks);
        for (b, (ct, pt)) in blocks.iter().zip(plain).enumerate() {
            let mut expected = GenericArray::clone_from_slice(&pt);
            theirs.encrypt_block(&mut expected);
            assert_eq!(
                ct.as_slice(),
                expected.as_slice(),
                "key {key:02x?} lane {b}"
            );
        }
    }
}

#[test]
fn counter_batches_are_the_encrypted_counter_blocks() {
    // The keystream path slices its counter blocks without a transpose,
    // one or two batches at a time; it must agree with the general path on
    // every lane.
    let mut rng = Rng(0x5eed_6c3a_0002);
    for counter in [
        0u32,
        8,
        0x100,
        0xfff8,
        0x00ff_fff0,
        0x7fff_fff8,
        0xffff_fff0,
    ] {
        let key: [u8; 32] = rng.array();
        let nonce: [u8; 12] = rng.array();
        let aes = Aes256::new(&key);
        let ctr = Ctr::new(&aes, &nonce);
        let pair = ctr.batches::<2>(counter);
        for (i, batch) in pair
            .into_iter()
            .chain(ctr.batches::<1>(counter))
            .enumerate()
        {
            let first = counter + 8 * (i as u32 % 2);
            let mut blocks: [[u8; BLOCK]; LANES] = core::array::from_fn(|b| {
                let mut block = [0u8; BLOCK];
                block[..12].copy_from_slice(&nonce);
                block[12..].copy_from_slice(&(first + b as u32).to_be_bytes());
                block
            });
            aes.encrypt_blocks(&mut blocks);
            for (b, (v, expected)) in batch.into_iter().zip(blocks).enumerate() {
                let mut got = [0u8; BLOCK];
                v.store(&mut got);
                assert_eq!(got, expected, "counter {:#x}", first + b as u32);
            }
        }
    }
}

#[test]
fn ghash_matches_the_ghash_crate() {
    let mut rng = Rng(0x5eed_6c3a_0003);
    let lens = (0..=300).chain([1000, 1024, 4096, 4097]);
    for len in lens {
        let h: [u8; 16] = match len % 50 {
            0 => [0xff; 16],
            1 => [0x80; 16],
            _ => rng.array(),
        };
        let data = if len % 7 == 3 {
            vec![0xff; len]
        } else {
            rng.bytes(len)
        };
        let key = GhashKey::new(&h);
        let mut ours = Ghash::new(&key);
        ours.update_padded(&data);
        let mut theirs = ghash::GHash::new(&h.into());
        theirs.update_padded(&data);
        assert_eq!(
            ours.finalize().as_slice(),
            theirs.finalize().as_slice(),
            "len {len}, H {h:02x?}"
        );
    }
}

#[test]
fn ghash_in_pieces_is_ghash_in_one_go() {
    // Absorbing a message in whole-block pieces (as sealing does, batch by
    // batch) hashes the concatenation of the pieces.
    let mut rng = Rng(0x5eed_6c3a_0004);
    let h: [u8; 16] = rng.array();
    let key = GhashKey::new(&h);
    let data = rng.bytes(8 * 128 + 48);
    let mut whole = Ghash::new(&key);
    whole.update_padded(&data);
    let mut pieces = Ghash::new(&key);
    let (runs, rest) = data.as_chunks::<128>();
    for run in runs {
        pieces.update_padded(run);
    }
    pieces.update_padded(&rest[..16]);
    pieces.update_padded(&rest[16..]);
    assert_eq!(whole.finalize(), pieces.finalize());
}

#[test]
fn polyval_dot_follows_rfc8452_appendix_a() {
    // POLYVAL(H, X1, X2) from RFC 8452 appendix A.
    let h = arr::<16>("25629347589242761d31f826ba4b757b");
    let x1 = arr::<16>("4f4f95668c83dfb6401762bb2d01a262");
    let x2 = arr::<16>("d1a24ddd2721d006bbe45f20d3c9f362");
    let s1 = dot_bytes(&x1, &h);
    let x = core::array::from_fn(|i| s1[i] ^ x2[i]);
    assert_eq!(
        hex::encode(dot_bytes(&x, &h)),
        "f7a3b47b846119fae5b7866cf5e5b77e"
    );
}

/// Our AES-256-GCM seal, returning (ciphertext, tag).
fn seal(key: &[u8], nonce: &[u8], aad: &[u8], plain: &[u8]) -> (Vec<u8>, [u8; 16]) {
    let aead = Aes256Gcm::new(key.try_into().expect("32-byte key"));
    let mut buf = plain.to_vec();
    let tag = aead
        .encrypt_inout_detached(
            nonce.try_into().expect("12-byte nonce"),
            aad,
            buf.as_mut_slice().into(),
        )
        .expect("seal");
    (buf, tag.into())
}

#[test]
fn aead_gcm_spec_test_cases_13_to_16() {
    // McGrew and Viega, "The Galois/Counter Mode of Operation", appendix B
    // (also NIST's GCM test vectors): the AES-256 cases with 96-bit IVs.
    let zero_key = "00".repeat(32);
    let key = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    let plain = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                 1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    let cipher = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                  8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
    let cases: [(&str, &str, &str, &str, &str, &str); 4] = [
        (
            &zero_key,
            "000000000000000000000000",
            "",
            "",
            "",
            "530f8afbc74536b9a963b4f1c4cb738b",
        ),
        (
            &zero_key,
            "000000000000000000000000",
            "",
            "00000000000000000000000000000000",
            "cea7403d4d606b6e074ec5d3baf39d18",
            "d0d1c8a799996bf0265b98b5d48ab919",
        ),
        (
            key,
            "cafebabefacedbaddecaf888",
            "",
            plain,
            cipher,
            "b094dac5d93471bdec1a502270e3cc6c",
        ),
        (
            key,
            "cafebabefacedbaddecaf888",
            "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            &plain[..120],
            &cipher[..120],
            "76fc6ece0f4e1768cddf8853bb2d551b",
        ),
    ];
    for (i, (key, nonce, aad, plain, cipher, tag)) in cases.into_iter().enumerate() {
        let (key, nonce, aad) = (unhex(key), unhex(nonce), unhex(aad));
        let (ct, t) = seal(&key, &nonce, &aad, &unhex(plain));
        assert_eq!(hex::encode(&ct), cipher, "case {}", 13 + i);
        assert_eq!(hex::encode(t), tag, "case {}", 13 + i);
        let aead = Aes256Gcm::new(key.as_slice().try_into().expect("32 bytes"));
        let mut buf = ct;
        aead.decrypt_inout_detached(
            nonce.as_slice().try_into().expect("12 bytes"),
            &aad,
            buf.as_mut_slice().into(),
            &t.into(),
        )
        .expect("open");
        assert_eq!(hex::encode(buf), plain, "case {}", 13 + i);
    }
}

/// Ours and the crate's, under test.
type Ours = Aead06<Aes256Gcm>;
type Theirs = Aead06<aes_gcm::Aes256Gcm>;

#[test]
fn aead_matches_the_aes_gcm_crate_on_every_length_to_4096() {
    let mut rng = Rng(0x5eed_6c3a_0005);
    for len in 0..=4096 {
        differential_random::<Ours, Theirs>(&mut rng, len, |rng| {
            if len % 5 == 0 { 0 } else { rng.below(80) }
        });
    }
}

#[test]
fn aead_matches_the_aes_gcm_crate_on_every_aad_length_to_64() {
    let mut rng = Rng(0x5eed_6c3a_0006);
    for len in [
        0, 1, 15, 16, 17, 95, 96, 97, 127, 128, 129, 223, 224, 225, 1000,
    ] {
        for aad_len in 0..=64 {
            differential_random::<Ours, Theirs>(&mut rng, len, |_| aad_len);
        }
    }
}

#[test]
fn aead_matches_the_aes_gcm_crate_on_big_records() {
    let mut rng = Rng(0x5eed_6c3a_0007);
    for len in [16384, 65517, 65536, 65536 + 17, 1 << 20] {
        differential_random::<Ours, Theirs>(&mut rng, len, |rng| rng.below(40));
    }
}

#[test]
fn aead_matches_the_aes_gcm_crate_on_extreme_inputs() {
    // All-zero and all-ones keys, nonces and data: the extremes of every
    // carry bound in the products with holes, and the counter bytes.
    let mut rng = Rng(0x5eed_6c3a_0008);
    for len in [0, 15, 16, 95, 96, 97, 127, 128, 129, 224, 1400, 4096, 4097] {
        for key_fill in [0x00u8, 0xff] {
            for fill in [0x00u8, 0xff] {
                let key = [key_fill; 32];
                let nonce = [fill; 12];
                let aad = vec![fill; len % 67];
                let plain = vec![fill; len];
                differential::<Ours, Theirs>(&mut rng, &key, &nonce, &aad, &plain);
            }
        }
    }
}

#[test]
fn aead_in_and_out_buffers_may_differ() {
    let mut rng = Rng(0x5eed_6c3a_0009);
    let key: [u8; 32] = rng.array();
    let nonce: [u8; 12] = rng.array();
    let aead = Aes256Gcm::new(&key.into());
    let plain = rng.bytes(1000);
    let mut ct = vec![0u8; plain.len()];
    let tag = aead
        .encrypt_inout_detached(
            &nonce.into(),
            b"ad",
            InOutBuf::new(&plain, &mut ct).expect("same lengths"),
        )
        .expect("seal");
    let (expected, expected_tag) = seal(&key, &nonce, b"ad", &plain);
    assert_eq!(ct, expected);
    assert_eq!(<[u8; 16]>::from(tag), expected_tag);

    let mut out = vec![0x11u8; plain.len()];
    let mut bad = tag;
    bad[0] ^= 1;
    let refused = aead.decrypt_inout_detached(
        &nonce.into(),
        b"ad",
        InOutBuf::new(&ct, &mut out).expect("same lengths"),
        &bad,
    );
    assert!(refused.is_err());
    assert!(
        out.iter().all(|&b| b == 0x11),
        "output touched after a bad tag"
    );
    aead.decrypt_inout_detached(
        &nonce.into(),
        b"ad",
        InOutBuf::new(&ct, &mut out).expect("same lengths"),
        &tag,
    )
    .expect("open");
    assert_eq!(out, plain);
}

#[test]
fn aead_debug_does_not_print_the_key() {
    let aead = Aes256Gcm::new(&[0xab; 32].into());
    assert_debug_hides_key(&aead, "Aes256Gcm { .. }");
}

#[test]
fn aead_is_zeroize_on_drop() {
    fn assert_zod<T: zeroize::ZeroizeOnDrop>() {}
    assert_zod::<Aes256Gcm>();
    assert_zod::<Aes256>();
    assert_zod::<GhashKey>();
}

#[cfg(target_pointer_width = "64")]
#[test]
fn aead_refuses_lengths_past_the_crate_limits() {
    // As aes-gcm 0.11: plaintexts up to 2^36 - 32 bytes (2^32 - 2 blocks
    // after the tag's counter block), associated data up to 2^61 - 1.
    assert!(super::lengths_ok(0, (1 << 36) - 32));
    assert!(!super::lengths_ok(0, (1 << 36) - 31));
    assert!(super::lengths_ok((1 << 61) - 1, 0));
    assert!(!super::lengths_ok(1 << 61, 0));
}
