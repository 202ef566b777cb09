//! The file-transfer framing that `spoke send` and `spoke recv` speak inside
//! an encrypted flow. Pure encoding and decoding; no I/O.
//!
//! ```text
//! format 2 (sent):  "SPOKEFT2" | u64be size | u16be name length | name | content | BLAKE3 of the content (32)
//! format 1 (read):  "SPOKEFT1" | u64be size | u16be name length | name | SHA-256 of the content (32) | content
//! receiver -> sender: one status byte (0 = stored intact, 1 = rejected) | u16be length | message
//! ```
//! Format 2 puts the digest after the content, so a sender hashes the file
//! as it sends it instead of reading it twice, and makes it BLAKE3, which
//! costs a fraction of SHA-256's time. A receiver reads both formats. The
//! sender then shuts its write side, which on a version-2 flow sends the
//! authenticated close marker: a receiver only keeps a file that ended with
//! it, has the announced size and the right digest.

/// Magic bytes of format 1: the digest precedes the content.
pub const MAGIC_1: &[u8; 8] = b"SPOKEFT1";
/// Magic bytes of format 2: the digest follows the content.
pub const MAGIC_2: &[u8; 8] = b"SPOKEFT2";
/// The magic bytes' common prefix: the part that says "a spoke transfer".
const FAMILY: &[u8; 7] = b"SPOKEFT";
/// Longest file name a header may carry, in bytes.
pub const MAX_NAME: usize = 4096;
/// Size of a content digest, in either format.
pub const DIGEST_LEN: usize = 32;
/// Size of the fixed part of a header (magic, size, name length).
const FIXED: usize = 8 + 8 + 2;

/// What the sender announces before the content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The content's size in bytes.
    pub size: u64,
    /// The file's name (no directories), as a hint for the receiver.
    pub name: String,
    /// Where the SHA-256 of the whole content travels.
    pub digest: DigestAt,
}

/// Where a transfer carries its content's digest, and so which digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestAt {
    /// SHA-256, in the header (format 1).
    Header([u8; DIGEST_LEN]),
    /// BLAKE3, in the [`DIGEST_LEN`] bytes right after the content (format 2).
    Trailer,
}

/// A content digest algorithm of the transfer formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// SHA-256 (format 1).
    Sha256,
    /// BLAKE3 with 32 bytes of output (format 2).
    Blake3,
}

impl DigestAlgorithm {
    /// The algorithm's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Blake3 => "BLAKE3",
        }
    }
}

impl DigestAt {
    /// The algorithm of the digest that travels here.
    pub fn algorithm(&self) -> DigestAlgorithm {
        match self {
            DigestAt::Header(_) => DigestAlgorithm::Sha256,
            DigestAt::Trailer => DigestAlgorithm::Blake3,
        }
    }
}

/// Why a header could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The peer does not speak a spoke file transfer at all.
    BadMagic,
    /// The peer speaks a later transfer format than this build reads.
    UnknownFormat(u8),
    /// The name is longer than [`MAX_NAME`] or is not UTF-8.
    BadName,
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::BadMagic => f.write_str("the peer is not sending a spoke file transfer"),
            HeaderError::UnknownFormat(v) => write!(
                f,
                "the sender uses transfer format {}, which this spoke does not read; upgrade it",
                char::from(*v)
            ),
            HeaderError::BadName => f.write_str("the transfer header carries an invalid file name"),
        }
    }
}

impl std::error::Error for HeaderError {}

/// The longest prefix of `name` that fits in [`MAX_NAME`] bytes without
/// cutting a character.
fn clipped(name: &str) -> &str {
    &name[..name.floor_char_boundary(MAX_NAME)]
}

impl Header {
    /// The header's bytes as they go on the wire: format 1 when the digest
    /// is in the header, format 2 when it follows the content. A name
    /// longer than [`MAX_NAME`] bytes is shortened at a character boundary.
    pub fn encode(&self) -> Vec<u8> {
        let name = clipped(&self.name).as_bytes();
        let mut out = Vec::with_capacity(FIXED + name.len() + DIGEST_LEN);
        out.extend_from_slice(match self.digest {
            DigestAt::Header(_) => MAGIC_1,
            DigestAt::Trailer => MAGIC_2,
        });
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name);
        if let DigestAt::Header(digest) = &self.digest {
            out.extend_from_slice(digest);
        }
        out
    }

    /// Decodes a header of either format from the start of `buf`. Returns
    /// `Ok(None)` while more bytes are needed, else the header and how many
    /// bytes it took.
    pub fn decode(buf: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
        let family_len = buf.len().min(FAMILY.len());
        if buf[..family_len] != FAMILY[..family_len] {
            return Err(HeaderError::BadMagic);
        }
        let Some(&version) = buf.get(FAMILY.len()) else {
            return Ok(None);
        };
        let in_header = match version {
            b'1' => DIGEST_LEN,
            b'2' => 0,
            b'3'..=b'9' => return Err(HeaderError::UnknownFormat(version)),
            _ => return Err(HeaderError::BadMagic),
        };
        if buf.len() < FIXED {
            return Ok(None);
        }
        let size = u64::from_be_bytes(buf[8..16].try_into().expect("8 bytes"));
        let name_len = u16::from_be_bytes([buf[16], buf[17]]) as usize;
        if name_len > MAX_NAME {
            return Err(HeaderError::BadName);
        }
        let total = FIXED + name_len + in_header;
        if buf.len() < total {
            return Ok(None);
        }
        let name = std::str::from_utf8(&buf[FIXED..FIXED + name_len])
            .map_err(|_| HeaderError::BadName)?
            .to_owned();
        let digest = match in_header {
            0 => DigestAt::Trailer,
            _ => DigestAt::Header(buf[FIXED + name_len..total].try_into().expect("32 bytes")),
        };
        Ok(Some((Header { size, name, digest }, total)))
    }
}

/// The receiver's verdict, sent back once the content has been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The file arrived complete and intact and was stored.
    Stored,
    /// The file was rejected; says why.
    Rejected(String),
}

impl Verdict {
    /// The verdict's bytes as they go on the wire. A message over 65535
    /// bytes is shortened at a character boundary.
    pub fn encode(&self) -> Vec<u8> {
        let (status, message) = match self {
            Verdict::Stored => (0u8, ""),
            Verdict::Rejected(why) => (1u8, why.as_str()),
        };
        let message = &message.as_bytes()[..message.floor_char_boundary(u16::MAX as usize)];
        let mut out = vec![status];
        out.extend_from_slice(&(message.len() as u16).to_be_bytes());
        out.extend_from_slice(message);
        out
    }

    /// Decodes a complete verdict; `None` if `buf` is not exactly one.
    pub fn decode(buf: &[u8]) -> Option<Verdict> {
        let (&status, rest) = buf.split_first()?;
        let len = u16::from_be_bytes(rest.get(..2)?.try_into().ok()?) as usize;
        let message = rest.get(2..)?;
        if message.len() != len {
            return None;
        }
        match status {
            0 if len == 0 => Some(Verdict::Stored),
            1 => Some(Verdict::Rejected(
                String::from_utf8_lossy(message).into_owned(),
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(digest: DigestAt) -> Header {
        Header {
            size: 1 << 40,
            name: "report.pdf".into(),
            digest,
        }
    }

    fn both_formats() -> [Header; 2] {
        [
            sample(DigestAt::Header([7; DIGEST_LEN])),
            sample(DigestAt::Trailer),
        ]
    }

    #[test]
    fn a_header_of_either_format_survives_encoding_whole_and_byte_by_byte() {
        for header in both_formats() {
            let bytes = header.encode();
            for cut in 0..bytes.len() {
                assert_eq!(
                    Header::decode(&bytes[..cut]),
                    Ok(None),
                    "prefix of {cut} bytes"
                );
            }
            let mut with_content = bytes.clone();
            with_content.extend_from_slice(b"content");
            assert_eq!(
                Header::decode(&with_content),
                Ok(Some((header, bytes.len())))
            );
        }
    }

    #[test]
    fn format_2_is_format_1_without_the_digest_and_with_its_own_magic() {
        let [one, two] = both_formats().map(|h| h.encode());
        assert_eq!(&one[..8], MAGIC_1);
        assert_eq!(&two[..8], MAGIC_2);
        assert_eq!(one[8..one.len() - DIGEST_LEN], two[8..]);
        assert_eq!(one[one.len() - DIGEST_LEN..], [7; DIGEST_LEN]);
    }

    #[test]
    fn a_stream_that_is_not_a_transfer_is_refused_at_its_first_byte() {
        assert_eq!(Header::decode(b"G"), Err(HeaderError::BadMagic));
        assert_eq!(
            Header::decode(b"GET / HTTP/1.1\r\n"),
            Err(HeaderError::BadMagic)
        );
        assert_eq!(Header::decode(b"SPOKEFTx"), Err(HeaderError::BadMagic));
    }

    #[test]
    fn a_later_format_is_named_in_the_error() {
        let err = Header::decode(b"SPOKEFT3").unwrap_err();
        assert_eq!(err, HeaderError::UnknownFormat(b'3'));
        assert!(err.to_string().contains("format 3"), "{err}");
    }

    #[test]
    fn names_that_are_too_long_or_not_utf8_are_refused() {
        for header in both_formats() {
            let mut bytes = header.encode();
            bytes[16..18].copy_from_slice(&(MAX_NAME as u16 + 1).to_be_bytes());
            assert_eq!(Header::decode(&bytes), Err(HeaderError::BadName));
            let mut bytes = header.encode();
            bytes[FIXED] = 0xff;
            assert_eq!(Header::decode(&bytes), Err(HeaderError::BadName));
        }
    }

    #[test]
    fn a_long_name_is_shortened_between_characters_and_still_decodes() {
        // 4095 ASCII bytes then a 3-byte character: cutting at 4096 bytes
        // would split it.
        let name = format!("{}\u{20ac}.txt", "a".repeat(MAX_NAME - 1));
        let header = Header {
            size: 1,
            name,
            digest: DigestAt::Trailer,
        };
        let (decoded, _) = Header::decode(&header.encode()).unwrap().unwrap();
        assert_eq!(decoded.name, "a".repeat(MAX_NAME - 1));
    }

    #[test]
    fn verdicts_round_trip_and_garbage_is_not_a_verdict() {
        for v in [Verdict::Stored, Verdict::Rejected("digest mismatch".into())] {
            assert_eq!(Verdict::decode(&v.encode()), Some(v));
        }
        // A message longer than the length field can say is shortened at a
        // character boundary: what arrives is still the start of the text.
        let long = format!("{}\u{20ac}", "x".repeat(u16::MAX as usize - 1));
        assert_eq!(
            Verdict::decode(&Verdict::Rejected(long).encode()),
            Some(Verdict::Rejected("x".repeat(u16::MAX as usize - 1)))
        );
        assert_eq!(Verdict::decode(&[]), None);
        assert_eq!(Verdict::decode(&[0, 0, 1, b'x']), None);
        assert_eq!(Verdict::decode(&[9, 0, 0]), None);
        assert_eq!(Verdict::decode(&[1, 0, 5, b'x']), None);
    }
}
