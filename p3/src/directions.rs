//! The two directions of an established session, each run as its own
//! task: receiving opens the peer's records from the transport and writes
//! their plaintext to the caller; sending seals the caller's bytes into
//! records for the peer, then the close marker.
//!
//! Owns: the buffers of one direction and how it ends. The two share
//! nothing, so either may end first. Never decides anything cryptographic
//! (the core's `Opener` and `Sealer` do).

use std::mem;

use super::CHUNK;
use super::bindings::exports::spoke::flow::types::Error;
use super::errors;
use super::transport::{Incoming, Outgoing};
use spoke_protocol::{Opened, Opener, RecordError, Sealer};
use wit_bindgen::{StreamReader, StreamResult, StreamWriter};

/// The receiving direction: opens the peer's records from `incoming` and
/// writes their plaintext to `plaintext`, until the peer's end, an error,
/// or the caller dropping its end (a read-side shutdown).
pub async fn receive(
    mut opener: Opener,
    mut incoming: Incoming,
    plaintext: &mut StreamWriter<u8>,
) -> Result<(), Error> {
    let mut buf = Vec::with_capacity(CHUNK);
    let mut out = Vec::with_capacity(CHUNK);
    loop {
        // Open every record already buffered, up to a chunk of plaintext.
        let mut ended = false;
        let mut failure = None;
        while out.len() < CHUNK {
            match opener.open() {
                Ok(Opened::Data(data)) => out.extend_from_slice(data),
                Ok(Opened::NeedInput) => break,
                Ok(Opened::End) => {
                    ended = true;
                    break;
                }
                Err(e) => {
                    failure = Some(record_error(e));
                    break;
                }
            }
        }
        if !out.is_empty() {
            let rest = plaintext.write_all(mem::take(&mut out)).await;
            if !rest.is_empty() {
                // The caller shut its read side: stop reading the peer.
                return Ok(());
            }
            out = rest;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if ended {
            return Ok(());
        }
        match incoming.read(mem::take(&mut buf)).await? {
            Some(bytes) => {
                opener.feed(&bytes);
                buf = bytes;
                buf.clear();
            }
            None => opener.feed_eof(),
        }
    }
}

/// The sending direction: seals what `data` yields into records for
/// `outgoing`; at its end, the close marker (version 2), then the end of
/// `outgoing`.
pub async fn send(
    mut sealer: Sealer,
    mut outgoing: Outgoing,
    mut data: StreamReader<u8>,
) -> Result<(), Error> {
    let mut buf = Vec::with_capacity(CHUNK);
    let mut out = Vec::new();
    loop {
        let (result, back) = data.read(buf).await;
        buf = back;
        match result {
            StreamResult::Complete(_) | StreamResult::Cancelled => {
                if buf.is_empty() {
                    continue;
                }
                out.clear();
                sealer.seal(&buf, &mut out).map_err(record_error)?;
                buf.clear();
                if !write(&mut outgoing, &mut out).await {
                    return Err(outgoing.stopped().await);
                }
            }
            StreamResult::Dropped => {
                out.clear();
                sealer.seal_close(&mut out).map_err(record_error)?;
                if !write(&mut outgoing, &mut out).await {
                    return Err(outgoing.stopped().await);
                }
                return outgoing.finish().await;
            }
        }
    }
}

/// Writes all of `out` for the peer, keeping the buffer; `false` if the
/// transport stopped taking bytes.
async fn write(outgoing: &mut Outgoing, out: &mut Vec<u8>) -> bool {
    if out.is_empty() {
        return true;
    }
    let rest = outgoing.write_all(mem::take(out)).await;
    let all = rest.is_empty();
    *out = rest;
    all
}

/// The contract's error for a record layer failure.
fn record_error(e: RecordError) -> Error {
    match e {
        RecordError::Corrupted => Error::Corrupted,
        RecordError::Truncated => Error::Truncated,
        other => errors::other(other.to_string()),
    }
}
