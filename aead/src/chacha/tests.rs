//! Specification tests: RFC 8439 vectors (2.4.2, 2.5.2, 2.8.2, Appendix A)
//! and a differential test against the `chacha20poly1305` crate.

use chacha20poly1305::aead::generic_array::GenericArray;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};

use super::ChaCha20Poly1305;
use super::cipher::{FirstPass, apply_keystream, key_words, nonce_words};
use super::poly1305::Poly1305;
use crate::kernel_testing::{
    Aead05, Rng, arr, assert_debug_hides_key, differential, differential_random, unhex,
};

/// ChaCha20 encryption of `plain` from block `counter`.
fn chacha20(key: &str, nonce: &str, counter: u32, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    apply_keystream(
        &key_words(&arr(key)),
        &nonce_words(&arr(nonce)),
        counter,
        &mut buf,
    );
    buf
}

fn poly1305(key: &str, msg: &str) -> String {
    let mut mac = Poly1305::new(&arr(key));
    mac.update_final(&unhex(msg));
    hex::encode(mac.finalize())
}

const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only \
one tip for the future, sunscreen would be it.";

const IETF_CONTRIBUTION: &str = "416e79207375626d697373696f6e20746f20746865204945544620696e74656e6465642062792074686520436f6e7472696275746f7220666f72207075626c69636174696f6e20617320616c6c206f722070617274206f6620616e204945544620496e7465726e65742d4472616674206f722052464320616e6420616e792073746174656d656e74206d6164652077697468696e2074686520636f6e74657874206f6620616e204945544620616374697669747920697320636f6e7369646572656420616e20224945544620436f6e747269627574696f6e222e20537563682073746174656d656e747320696e636c756465206f72616c2073746174656d656e747320696e20494554462073657373696f6e732c2061732077656c6c206173207772697474656e20616e6420656c656374726f6e696320636f6d6d756e69636174696f6e73206d61646520617420616e792074696d65206f7220706c6163652c207768696368206172652061646472657373656420746f";

const JABBERWOCKY: &str = "2754776173206272696c6c69672c20616e642074686520736c6974687920746f7665730a446964206779726520616e642067696d626c6520696e2074686520776162653a0a416c6c206d696d737920776572652074686520626f726f676f7665732c0a416e6420746865206d6f6d65207261746873206f757467726162652e";

const KEY_00_1F: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const ZERO32: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const KEY_1C92: &str = "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0";

#[test]
fn chacha20_rfc8439_2_4_2_encrypts_the_sunscreen_text() {
    let ct = chacha20(KEY_00_1F, "000000000000004a00000000", 1, SUNSCREEN);
    assert_eq!(
        hex::encode(ct),
        "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b\
         f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8\
         07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736\
         5af90bbf74a35be6b40b8eedf2785e42874d"
    );
}

#[test]
fn chacha20_rfc8439_2_3_2_block_function() {
    let block = chacha20(KEY_00_1F, "000000090000004a00000000", 1, &[0; 64]);
    assert_eq!(
        hex::encode(block),
        "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e\
         d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
    );
}

#[test]
fn chacha20_rfc8439_appendix_a1_a2_vectors() {
    // A.1 #1 / A.2 #1: all-zero key and nonce, counter 0.
    assert_eq!(
        hex::encode(chacha20(ZERO32, "000000000000000000000000", 0, &[0; 64])),
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
         da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
    );
    // A.2 #2: key ...01, nonce ...02, counter 1, 375 bytes.
    let ct = chacha20(
        "0000000000000000000000000000000000000000000000000000000000000001",
        "000000000000000000000002",
        1,
        &unhex(IETF_CONTRIBUTION),
    );
    assert_eq!(
        hex::encode(ct),
        "a3fbf07df3fa2fde4f376ca23e82737041605d9f4f4f57bd8cff2c1d4b7955ec\
         2a97948bd3722915c8f3d337f7d370050e9e96d647b7c39f56e031ca5eb6250d\
         4042e02785ececfa4b4bb5e8ead0440e20b6e8db09d881a7c6132f420e527950\
         42bdfa7773d8a9051447b3291ce1411c680465552aa6c405b7764d5e87bea85a\
         d00f8449ed8f72d0d662ab052691ca66424bc86d2df80ea41f43abf937d3259d\
         c4b2d0dfb48a6c9139ddd7f76966e928e635553ba76c5c879d7b35d49eb2e62b\
         0871cdac638939e25e8a1e0ef9d5280fa8ca328b351c3c765989cbcf3daa8b6c\
         cc3aaf9f3979c92b3720fc88dc95ed84a1be059c6499b9fda236e7e818b04b0b\
         c39c1e876b193bfe5569753f88128cc08aaa9b63d1a16f80ef2554d7189c411f\
         5869ca52c5b83fa36ff216b9c1d30062bebcfd2dc5bce0911934fda79a86f6e6\
         98ced759c3ff9b6477338f3da4f9cd8514ea9982ccafb341b2384dd902f3d1ab\
         7ac61dd29c6f21ba5b862f3730e37cfdc4fd806c22f221"
    );
    // A.2 #3: the Jabberwocky text, counter 42.
    let ct = chacha20(
        KEY_1C92,
        "000000000000000000000002",
        42,
        &unhex(JABBERWOCKY),
    );
    assert_eq!(
        hex::encode(ct),
        "62e6347f95ed87a45ffae7426f27a1df5fb69110044c0d73118effa95b01e5cf\
         166d3df2d721caf9b21e5fb14c616871fd84c54f9d65b283196c7fe4f60553eb\
         f39c6402c42234e32a356b3e764312a61a5532055716ead6962568f87d3f3f77\
         04c6a8d1bcd1bf4d50d6154b6da731b187b58dfd728afa36757a797ac188d1"
    );
}

#[test]
fn poly1305_key_generation_rfc8439_2_6_2_and_appendix_a4() {
    let cases = [
        (
            "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
            "000000000001020304050607",
            "8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646",
        ),
        (
            ZERO32,
            "000000000000000000000000",
            "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7",
        ),
        (
            "0000000000000000000000000000000000000000000000000000000000000001",
            "000000000000000000000002",
            "ecfa254f845f647473d3cb140da9e87606cb33066c447b87bc2666dde3fbb739",
        ),
        (
            KEY_1C92,
            "000000000000000000000002",
            "965e3bc6f9ec7ed9560808f4d229f94b137ff275ca9b3fcbdd59deaad23310ae",
        ),
    ];
    for (key, nonce, otk) in cases {
        let got = FirstPass::new(&key_words(&arr(key)), &nonce_words(&arr(nonce)), 0).poly_key;
        assert_eq!(hex::encode(got), otk, "key {key}");
    }
}

#[test]
fn poly1305_rfc8439_2_5_2_and_appendix_a3_vectors() {
    let zero = "00000000000000000000000000000000";
    let cases: [(String, String, &str); 12] = [
        (
            "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b".into(),
            "43727970746f6772617068696320466f72756d2052657365617263682047726f7570".into(),
            "a8061dc1305136c6c22b8baf0c0127a9",
        ),
        (ZERO32.into(), zero.repeat(4), zero),
        (
            format!("{zero}36e5f6b5c5e06070f0efca96227a863e"),
            IETF_CONTRIBUTION.into(),
            "36e5f6b5c5e06070f0efca96227a863e",
        ),
        (
            format!("36e5f6b5c5e06070f0efca96227a863e{zero}"),
            IETF_CONTRIBUTION.into(),
            "f3477e7cd95417af89a6b8794c310cf0",
        ),
        (
            KEY_1C92.into(),
            JABBERWOCKY.into(),
            "4541669a7eaaee61e708dc7cbcc5eb62",
        ),
        (
            format!("02000000000000000000000000000000{zero}"),
            "ffffffffffffffffffffffffffffffff".into(),
            "03000000000000000000000000000000",
        ),
        (
            "02000000000000000000000000000000ffffffffffffffffffffffffffffffff".into(),
            "02000000000000000000000000000000".into(),
            "03000000000000000000000000000000",
        ),
        (
            format!("01000000000000000000000000000000{zero}"),
            "ffffffffffffffffffffffffffffffff\
             f0ffffffffffffffffffffffffffffff\
             11000000000000000000000000000000"
                .into(),
            "05000000000000000000000000000000",
        ),
        (
            format!("01000000000000000000000000000000{zero}"),
            "ffffffffffffffffffffffffffffffff\
             fbfefefefefefefefefefefefefefefe\
             01010101010101010101010101010101"
                .into(),
            zero,
        ),
        (
            format!("02000000000000000000000000000000{zero}"),
            "fdffffffffffffffffffffffffffffff".into(),
            "faffffffffffffffffffffffffffffff",
        ),
        (
            format!("01000000000000000400000000000000{zero}"),
            format!(
                "e33594d7505e43b90000000000000000\
                 3394d7505e4379cd0100000000000000{zero}\
                 01000000000000000000000000000000"
            ),
            "14000000000000005500000000000000",
        ),
        (
            format!("01000000000000000400000000000000{zero}"),
            format!(
                "e33594d7505e43b90000000000000000\
                 3394d7505e4379cd0100000000000000{zero}"
            ),
            "13000000000000000000000000000000",
        ),
    ];
    for (i, (key, msg, tag)) in cases.iter().enumerate() {
        assert_eq!(poly1305(key, msg), *tag, "vector {i}");
    }
}

fn rfc_seal(key: &str, nonce: &str, aad: &str, plain: &[u8]) -> Vec<u8> {
    let aead = ChaCha20Poly1305::new(GenericArray::from_slice(&unhex(key)));
    let nonce = unhex(nonce);
    let aad = unhex(aad);
    let sealed = aead
        .encrypt(
            GenericArray::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .expect("seal");
    let opened = aead
        .decrypt(
            GenericArray::from_slice(&nonce),
            Payload {
                msg: &sealed,
                aad: &aad,
            },
        )
        .expect("open");
    assert_eq!(opened, plain);
    sealed
}

#[test]
fn aead_rfc8439_2_8_2_seals_and_opens() {
    let sealed = rfc_seal(
        "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        "070000004041424344454647",
        "50515253c0c1c2c3c4c5c6c7",
        SUNSCREEN,
    );
    assert_eq!(
        hex::encode(sealed),
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
         3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
         92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
         3ff4def08e4b7a9de576d26586cec64b6116\
         1ae10b594f09e26a7e902ecbd0600691"
    );
}

#[test]
fn aead_rfc8439_appendix_a5_decrypts() {
    let plain = unhex(
        "496e7465726e65742d4472616674732061726520647261667420646f63756d656e74732076616c696420\
         666f722061206d6178696d756d206f6620736978206d6f6e74687320616e64206d617920626520757064\
         617465642c207265706c616365642c206f72206f62736f6c65746564206279206f7468657220646f6375\
         6d656e747320617420616e792074696d652e20497420697320696e617070726f70726961746520746f20\
         75736520496e7465726e65742d447261667473206173207265666572656e6365206d6174657269616c20\
         6f7220746f2063697465207468656d206f74686572207468616e206173202fe2809c776f726b20696e20\
         70726f67726573732e2fe2809d",
    );
    let sealed = rfc_seal(
        KEY_1C92,
        "000000000102030405060708",
        "f33388860000000000004e91",
        &plain,
    );
    assert_eq!(
        hex::encode(sealed),
        "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e\
         382d26b0bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd\
         60f982b1ff37c8559797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c76\
         7b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a\
         0d072b04b3564eea1b422273f548271a0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a67276\
         27097a1049e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b0270\
         9beead9d67890cbb22392336fea1851f38"
    );
}

/// Ours and the crate's, under test.
type Ours = Aead05<ChaCha20Poly1305>;
type Theirs = Aead05<chacha20poly1305::ChaCha20Poly1305>;

#[test]
fn aead_matches_the_chacha20poly1305_crate_on_every_length_to_1100() {
    let mut rng = Rng(0x5eed_c4a7_0001);
    for len in 0..=1100 {
        differential_random::<Ours, Theirs>(&mut rng, len, |rng| {
            if len % 7 == 0 { 0 } else { rng.below(80) }
        });
    }
}

#[test]
fn aead_matches_the_chacha20poly1305_crate_on_big_records() {
    let mut rng = Rng(0x5eed_c4a7_0002);
    for len in [65517, 65536, 65536 + 17, 1 << 20] {
        differential_random::<Ours, Theirs>(&mut rng, len, |rng| rng.below(40));
    }
}

#[test]
fn aead_matches_the_crate_at_extreme_limb_values() {
    // All-ones keys clamp to the largest r; all-ones data maximises every
    // limb, exercising the carry bounds of both Poly1305 kernels.
    let mut rng = Rng(0x5eed_c4a7_0003);
    for len in [
        0, 15, 16, 31, 32, 63, 64, 65, 127, 128, 255, 256, 257, 4096, 4097,
    ] {
        for fill in [0x00u8, 0xff] {
            let key = [0xffu8; 32];
            let nonce = [fill; 12];
            let aad = vec![fill; len % 97];
            let plain = vec![fill; len];
            differential::<Ours, Theirs>(&mut rng, &key, &nonce, &aad, &plain);
        }
    }
}

#[test]
fn aead_debug_does_not_print_the_key() {
    let aead = ChaCha20Poly1305::new(GenericArray::from_slice(&[0xab; 32]));
    assert_debug_hides_key(&aead, "ChaCha20Poly1305 { .. }");
}

#[test]
fn aead_is_zeroize_on_drop() {
    fn assert_zod<T: zeroize::ZeroizeOnDrop>() {}
    assert_zod::<ChaCha20Poly1305>();
}

#[cfg(target_pointer_width = "64")]
#[test]
fn aead_refuses_lengths_past_the_32_bit_block_counter() {
    // Block 0 keys Poly1305, so 2^32 - 1 blocks remain, minus one as in the
    // crate: a length whose block count reaches u32::MAX is refused.
    assert!(super::length_ok(u32::MAX as usize * 64 - 1));
    assert!(!super::length_ok(u32::MAX as usize * 64));
}
