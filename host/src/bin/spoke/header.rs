//! The file-transfer framing that `spoke send` and `spoke recv` speak inside
//! an encrypted flow. Pure encoding and decoding; no I/O.
//!
//! ```text
//! sender -> receiver: "SPOKEFT1" | u64be size | u16be name length | name | SHA-256 of the content (32) | content
//! receiver -> sender: one status byte (0 = stored intact, 1 = rejected) | u16be length | message
//! ```
//! The sender then shuts its write side, which on a version-2 flow sends the
//! authenticated close marker: a receiver only keeps a file that ended with
//! it, has the announced size and the announced digest.

/// Magic bytes and format version at the start of every transfer.
pub const MAGIC: &[u8; 8] = b"SPOKEFT1";
/// Longest file name a header may carry.
pub const MAX_NAME: usize = 4096;
/// Size of the fixed part of a header (magic, size, name length).
const FIXED: usize = 8 + 8 + 2;

/// What the sender announces before the content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The content's size in bytes.
    pub size: u64,
    /// The file's name (no directories), as a hint for the receiver.
    pub name: String,
    /// SHA-256 of the whole content.
    pub digest: [u8; 32],
}

/// Why a header could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The peer does not speak this transfer format.
    BadMagic,
    /// The name is longer than [`MAX_NAME`] or is not UTF-8.
    BadName,
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::BadMagic => f.write_str("the peer is not sending a spoke file transfer"),
            HeaderError::BadName => f.write_str("the transfer header carries an invalid file name"),
        }
    }
}

impl std::error::Error for HeaderError {}

impl Header {
    /// The header's bytes as they go on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let name = self.name.as_bytes();
        let name = &name[..name.len().min(MAX_NAME)];
        let mut out = Vec::with_capacity(FIXED + name.len() + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&self.digest);
        out
    }

    /// Decodes a header from the start of `buf`. Returns `Ok(None)` while more
    /// bytes are needed, else the header and how many bytes it took.
    pub fn decode(buf: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
        let magic_len = buf.len().min(MAGIC.len());
        if buf[..magic_len] != MAGIC[..magic_len] {
            return Err(HeaderError::BadMagic);
        }
        if buf.len() < FIXED {
            return Ok(None);
        }
        let size = u64::from_be_bytes(buf[8..16].try_into().expect("8 bytes"));
        let name_len = u16::from_be_bytes([buf[16], buf[17]]) as usize;
        if name_len > MAX_NAME {
            return Err(HeaderError::BadName);
        }
        let total = FIXED + name_len + 32;
        if buf.len() < total {
            return Ok(None);
        }
        let name = std::str::from_utf8(&buf[FIXED..FIXED + name_len])
            .map_err(|_| HeaderError::BadName)?
            .to_owned();
        let digest = buf[FIXED + name_len..total].try_into().expect("32 bytes");
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
    /// The verdict's bytes as they go on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let (status, message) = match self {
            Verdict::Stored => (0u8, ""),
            Verdict::Rejected(why) => (1u8, why.as_str()),
        };
        let message = &message.as_bytes()[..message.len().min(u16::MAX as usize)];
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

    fn sample() -> Header {
        Header {
            size: 1 << 40,
            name: "report.pdf".into(),
            digest: [7; 32],
        }
    }

    #[test]
    fn a_header_survives_encoding_whole_and_byte_by_byte() {
        let bytes = sample().encode();
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
            Ok(Some((sample(), bytes.len())))
        );
    }

    #[test]
    fn a_stream_that_is_not_a_transfer_is_refused_at_its_first_byte() {
        assert_eq!(Header::decode(b"G"), Err(HeaderError::BadMagic));
        assert_eq!(
            Header::decode(b"GET / HTTP/1.1\r\n"),
            Err(HeaderError::BadMagic)
        );
    }

    #[test]
    fn names_that_are_too_long_or_not_utf8_are_refused() {
        let mut bytes = sample().encode();
        bytes[16..18].copy_from_slice(&(MAX_NAME as u16 + 1).to_be_bytes());
        assert_eq!(Header::decode(&bytes), Err(HeaderError::BadName));
        let mut bytes = sample().encode();
        bytes[FIXED] = 0xff;
        assert_eq!(Header::decode(&bytes), Err(HeaderError::BadName));
    }

    #[test]
    fn verdicts_round_trip_and_garbage_is_not_a_verdict() {
        for v in [Verdict::Stored, Verdict::Rejected("digest mismatch".into())] {
            assert_eq!(Verdict::decode(&v.encode()), Some(v));
        }
        assert_eq!(Verdict::decode(&[]), None);
        assert_eq!(Verdict::decode(&[0, 0, 1, b'x']), None);
        assert_eq!(Verdict::decode(&[9, 0, 0]), None);
        assert_eq!(Verdict::decode(&[1, 0, 5, b'x']), None);
    }
}
