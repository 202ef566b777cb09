//! The file-transfer header and verdict that `spoke send` and `spoke recv`
//! speak inside a flow (`cli/src/header.rs`, compiled in here: the `spoke`
//! binary's crate is not a library).
//!
//! Every input is used three ways:
//!
//! - decoded as a header: no panic; the result is what a plain decoder
//!   written from the format says (the same header, the same length, the
//!   same error); a header re-encodes to exactly the bytes it came from,
//!   every shorter prefix of them decodes to "need more", and bytes after
//!   it change nothing; a name is never over `MAX_NAME` bytes;
//! - read as a header to encode (byte 0: format; bytes 1-8: size; byte 9:
//!   how many times the name repeats; bytes 10-41: digest; the rest: the
//!   name): it decodes back to itself, the name shortened to `MAX_NAME`
//!   bytes at a character boundary when longer, and every prefix of its
//!   bytes decodes to "need more";
//! - decoded as a verdict: one that decodes re-encodes to the same bytes
//!   (its message UTF-8) or to a verdict that decodes to it again; and a
//!   verdict made from the input (byte 0: which, the rest the message,
//!   repeated) decodes back to itself.
#![no_main]

#[allow(dead_code)]
#[path = "../../cli/src/header.rs"]
mod header;

use header::{DIGEST_LEN, DigestAt, Header, HeaderError, MAGIC_1, MAGIC_2, MAX_NAME, Verdict};
use libfuzzer_sys::fuzz_target;

/// The header format, decoded by hand: the answer `Header::decode` must
/// give.
fn plain_decode(buf: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
    for (i, &b) in buf.iter().take(7).enumerate() {
        if b != b"SPOKEFT"[i] {
            return Err(HeaderError::BadMagic);
        }
    }
    let digest_in_header = match buf.get(7) {
        None => return Ok(None),
        Some(b'1') => true,
        Some(b'2') => false,
        Some(&v @ b'3'..=b'9') => return Err(HeaderError::UnknownFormat(v)),
        Some(_) => return Err(HeaderError::BadMagic),
    };
    if buf.len() < 18 {
        return Ok(None);
    }
    let name_len = usize::from(buf[16]) << 8 | usize::from(buf[17]);
    if name_len > MAX_NAME {
        return Err(HeaderError::BadName);
    }
    let digest_len = if digest_in_header { DIGEST_LEN } else { 0 };
    let total = 18 + name_len + digest_len;
    if buf.len() < total {
        return Ok(None);
    }
    let Ok(name) = String::from_utf8(buf[18..18 + name_len].to_vec()) else {
        return Err(HeaderError::BadName);
    };
    let mut size = 0u64;
    for &b in &buf[8..16] {
        size = size << 8 | u64::from(b);
    }
    let digest = if digest_in_header {
        let mut d = [0u8; DIGEST_LEN];
        d.copy_from_slice(&buf[18 + name_len..total]);
        DigestAt::Header(d)
    } else {
        DigestAt::Trailer
    };
    Ok(Some((Header { size, name, digest }, total)))
}

/// Every prefix of a header's bytes asks for more.
fn prefixes_need_more(bytes: &[u8]) {
    for cut in 0..bytes.len() {
        assert_eq!(Header::decode(&bytes[..cut]), Ok(None), "prefix of {cut}");
    }
}

fn decode_as_header(data: &[u8]) {
    let decoded = Header::decode(data);
    assert_eq!(decoded, plain_decode(data));
    match decoded {
        Ok(Some((header, used))) => {
            assert!(header.name.len() <= MAX_NAME);
            assert!(std::str::from_utf8(header.name.as_bytes()).is_ok());
            assert_eq!(header.encode(), data[..used], "re-encoded differently");
            assert_eq!(
                Header::decode(&data[..used]),
                Ok(Some((header, used))),
                "bytes after the header mattered"
            );
            prefixes_need_more(&data[..used]);
        }
        Ok(None) => {
            // A beginning of a header of either format.
            if data.len() < 8 {
                assert!(MAGIC_1.starts_with(data) && MAGIC_2.starts_with(data));
            } else {
                assert!(data[..8] == *MAGIC_1 || data[..8] == *MAGIC_2);
            }
        }
        Err(_) => {}
    }
}

fn encode_from(data: &[u8]) {
    if data.len() < 42 {
        return;
    }
    let size = u64::from_be_bytes(data[1..9].try_into().expect("8 bytes"));
    let repeats = usize::from(data[9]);
    let digest = if data[0] & 1 == 0 {
        DigestAt::Header(data[10..42].try_into().expect("32 bytes"))
    } else {
        DigestAt::Trailer
    };
    let part = String::from_utf8_lossy(&data[42..]);
    // Enough copies to go past MAX_NAME, not many more.
    let copies = (repeats + 1).min(2 * MAX_NAME / part.len().max(1) + 1);
    let name = part.repeat(copies);
    let header = Header {
        size,
        name: name.clone(),
        digest: digest.clone(),
    };
    let bytes = header.encode();
    let Ok(Some((back, used))) = Header::decode(&bytes) else {
        panic!("an encoded header does not decode");
    };
    assert_eq!(used, bytes.len());
    assert_eq!(back.size, size);
    assert_eq!(back.digest, digest);
    if name.len() <= MAX_NAME {
        assert_eq!(back.name, name);
    } else {
        // The longest prefix that fits, cut between characters.
        assert!(name.starts_with(&back.name));
        assert!(back.name.len() <= MAX_NAME);
        let next = name[back.name.len()..].chars().next().expect("cut short");
        assert!(back.name.len() + next.len_utf8() > MAX_NAME);
    }
    prefixes_need_more(&bytes);
    let mut more = bytes.clone();
    more.extend_from_slice(&data[..data.len().min(64)]);
    assert_eq!(Header::decode(&more), Ok(Some((back, used))));
}

fn verdicts(data: &[u8]) {
    if let Some(verdict) = Verdict::decode(data) {
        let bytes = verdict.encode();
        match &verdict {
            Verdict::Stored => assert_eq!(bytes, data),
            Verdict::Rejected(message) => {
                if std::str::from_utf8(&data[3..]).is_ok() {
                    assert_eq!(bytes, data);
                } else if message.len() <= usize::from(u16::MAX) {
                    // Invalid UTF-8 was replaced: the result is stable.
                    assert_eq!(Verdict::decode(&bytes), Some(verdict.clone()));
                }
            }
        }
    }
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let verdict = if which & 1 == 0 {
        Verdict::Stored
    } else {
        let part = String::from_utf8_lossy(rest);
        // Enough copies to go past the longest message, not many more.
        let copies = (usize::from(which >> 1) + 1).min(70_000 / part.len().max(1) + 1);
        Verdict::Rejected(part.repeat(copies))
    };
    let bytes = verdict.encode();
    match &verdict {
        Verdict::Rejected(m) if m.len() > usize::from(u16::MAX) => {
            // Cut to the longest start of the message, whole characters,
            // that the length field counts.
            let mut end = usize::from(u16::MAX);
            while !m.is_char_boundary(end) {
                end -= 1;
            }
            assert!(end + 4 > usize::from(u16::MAX));
            assert_eq!(
                Verdict::decode(&bytes),
                Some(Verdict::Rejected(m[..end].to_owned()))
            );
        }
        _ => assert_eq!(Verdict::decode(&bytes), Some(verdict)),
    }
}

fuzz_target!(|data: &[u8]| {
    decode_as_header(data);
    encode_from(data);
    verdicts(data);
});
