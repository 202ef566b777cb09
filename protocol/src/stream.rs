//! The protocol core run natively over a `std::net::TcpStream`: a Spoke
//! peer for Rust programs that need no wasm, the other end of the
//! interoperability tests, and the native baseline of the benchmarks.
//!
//! Owns only the blocking I/O loop around the protocol core; every
//! protocol decision stays in the core. Never logs or prints secrets.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

use crate::{
    Cipher, ClientHandshake, Config, Handshake, HandshakeError, Identities, Opened, Opener, Sealer,
    ServerHandshake, Step,
};

/// How much one read from the socket takes.
const READ_CHUNK: usize = 64 * 1024;

/// Why a native handshake failed.
#[derive(Debug)]
pub enum NativeError {
    /// The protocol failed (wrong password, version mismatch, ...).
    Handshake(HandshakeError),
    /// The socket failed.
    Io(io::Error),
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NativeError::Handshake(e) => write!(f, "handshake failed: {e}"),
            NativeError::Io(e) => write!(f, "handshake I/O failed: {e}"),
        }
    }
}

impl std::error::Error for NativeError {}

/// An encrypted flow over a TCP stream, run natively.
pub struct SecureStream {
    reader: SecureReader,
    writer: SecureWriter,
    ciphers: (Cipher, Cipher),
}

/// The receiving half of a [`SecureStream`] (see [`SecureStream::split`]).
pub struct SecureReader {
    stream: TcpStream,
    opener: Opener,
    scratch: Vec<u8>,
    /// Plaintext decrypted but not yet returned, from `pending_at` on.
    pending: Vec<u8>,
    pending_at: usize,
    eof: bool,
}

/// The sending half of a [`SecureStream`] (see [`SecureStream::split`]).
pub struct SecureWriter {
    stream: TcpStream,
    sealer: Sealer,
    out: Vec<u8>,
}

impl std::fmt::Debug for SecureStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureStream")
            .field("ciphers", &self.ciphers)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SecureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureReader").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SecureWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureWriter").finish_non_exhaustive()
    }
}

impl SecureStream {
    /// Runs the client handshake over `stream`.
    pub fn client(
        stream: TcpStream,
        config: &Config,
        ids: Identities,
        password: &[u8],
    ) -> Result<Self, NativeError> {
        let hs = ClientHandshake::new(config, ids, password).map_err(NativeError::Handshake)?;
        Self::drive(stream, hs)
    }

    /// Runs the server handshake over `stream`.
    pub fn server(
        stream: TcpStream,
        config: &Config,
        ids: Identities,
        password: &[u8],
    ) -> Result<Self, NativeError> {
        let hs = ServerHandshake::new(config, ids, password).map_err(NativeError::Handshake)?;
        Self::drive(stream, hs)
    }

    fn drive(mut stream: TcpStream, mut hs: impl Handshake) -> Result<Self, NativeError> {
        let mut buf = vec![0; READ_CHUNK];
        loop {
            match hs.step() {
                Step::Send(bytes) => stream.write_all(&bytes).map_err(NativeError::Io)?,
                Step::NeedInput => match stream.read(&mut buf).map_err(NativeError::Io)? {
                    0 => hs.feed_eof(),
                    n => hs.feed(&buf[..n]),
                },
                Step::Done(session) => {
                    let ciphers = session.ciphers();
                    let (sealer, opener) = session.into_parts();
                    let write_stream = stream.try_clone().map_err(NativeError::Io)?;
                    return Ok(SecureStream {
                        reader: SecureReader {
                            stream,
                            opener,
                            scratch: buf,
                            pending: Vec::new(),
                            pending_at: 0,
                            eof: false,
                        },
                        writer: SecureWriter {
                            stream: write_stream,
                            sealer,
                            out: Vec::new(),
                        },
                        ciphers,
                    });
                }
                Step::Failed(e) => return Err(NativeError::Handshake(e)),
            }
        }
    }

    /// The ciphers in use: server-to-client, client-to-server.
    pub fn ciphers(&self) -> (Cipher, Cipher) {
        self.ciphers
    }

    /// Sends the close marker (version 2) and shuts the socket's write side.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.writer.shutdown_write()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &TcpStream {
        &self.reader.stream
    }

    /// Splits the flow into its two directions, so that one thread can
    /// write while another reads.
    pub fn split(self) -> (SecureReader, SecureWriter) {
        (self.reader, self.writer)
    }
}

impl SecureWriter {
    /// Sends the close marker (version 2) and shuts the socket's write side.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.out.clear();
        self.sealer
            .seal_close(&mut self.out)
            .map_err(io::Error::other)?;
        self.stream.write_all(&self.out)?;
        self.stream.shutdown(Shutdown::Write)
    }
}

impl Read for SecureStream {
    /// See [`SecureReader`]'s `read`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Write for SecureStream {
    /// See [`SecureWriter`]'s `write`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl Read for SecureReader {
    /// Reads decrypted bytes: every complete record already received, as far
    /// as `buf` goes, waiting on the socket only when none is. `Ok(0)` is the
    /// authenticated end of stream; `corrupted` and `truncated` are
    /// `InvalidData` errors.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut filled = 0;
        loop {
            if self.pending_at < self.pending.len() {
                let n = (self.pending.len() - self.pending_at).min(buf.len() - filled);
                buf[filled..filled + n]
                    .copy_from_slice(&self.pending[self.pending_at..self.pending_at + n]);
                self.pending_at += n;
                filled += n;
                if filled == buf.len() {
                    return Ok(filled);
                }
            }
            if self.eof {
                return Ok(filled);
            }
            match self
                .opener
                .open()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
            {
                Opened::Data(data) => {
                    let n = data.len().min(buf.len() - filled);
                    buf[filled..filled + n].copy_from_slice(&data[..n]);
                    filled += n;
                    if n < data.len() {
                        self.pending.clear();
                        self.pending.extend_from_slice(&data[n..]);
                        self.pending_at = 0;
                        return Ok(filled);
                    }
                }
                Opened::End => self.eof = true,
                Opened::NeedInput if filled > 0 => return Ok(filled),
                Opened::NeedInput => match self.stream.read(&mut self.scratch)? {
                    0 => self.opener.feed_eof(),
                    n => self.opener.feed(&self.scratch[..n]),
                },
            }
        }
    }
}

impl Write for SecureWriter {
    /// Seals all of `buf` into records and writes them.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.clear();
        self.sealer
            .seal(buf, &mut self.out)
            .map_err(io::Error::other)?;
        self.stream.write_all(&self.out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
