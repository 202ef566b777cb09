//! Moving bytes inside the host (`wasi:io/streams.splice`): what one
//! non-blocking splice did, and how its outcome is read.
//!
//! Owns: [`Spliced`], [`SpliceError`] and the reading of one `splice` result
//! ([`spliced`]). Never blocks, and never takes the bytes into the guest.

use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use super::bindings::exports::spoke::flow::types::{Error, WriteError};
use super::stream_errors;

/// What one non-blocking splice did.
pub enum Spliced {
    /// Moved this many bytes (more than 0).
    Moved(u64),
    /// Nothing to move until the source is readable.
    WaitRead,
    /// Nothing to move until the destination takes more.
    WaitWrite,
    /// The source ended.
    Ended,
}

/// Why a splice stopped early.
pub enum SpliceError {
    /// Reading the source failed.
    Read(Error),
    /// Writing the destination failed.
    Write(WriteError),
}

/// Splices at most one chunk from `input` into `out` without blocking.
pub fn splice(input: &InputStream, out: &OutputStream) -> Result<Spliced, SpliceError> {
    spliced(out, out.splice(input, crate::CHUNK as u64))
}

/// What one `splice` into `out` did. `splice` checks the permit, reads what
/// is there and writes it: 0 moved means either side has nothing to give,
/// and it reports either side's failure the same way. The output's state,
/// which stays failed, tells them apart.
fn spliced(out: &OutputStream, r: Result<u64, StreamError>) -> Result<Spliced, SpliceError> {
    match r {
        Ok(0) => match out.check_write() {
            Ok(0) => Ok(Spliced::WaitWrite),
            Ok(_) => Ok(Spliced::WaitRead),
            Err(w) => Err(SpliceError::Write(stream_errors::from_write(w))),
        },
        Ok(n) => Ok(Spliced::Moved(n)),
        Err(e) => match out.check_write() {
            Err(w) => Err(SpliceError::Write(stream_errors::from_write(w))),
            Ok(_) => stream_errors::from_read(e)
                .map_or(Ok(Spliced::Ended), |e| Err(SpliceError::Read(e))),
        },
    }
}
