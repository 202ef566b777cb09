//! Host-side splicing for a TCP flow: the [`Layer`](super::super::layer::Layer)
//! splice hooks' work, moving the socket's bytes to or from another stream
//! inside the host (`wasi:io/streams.splice`) so that they never enter the
//! guest.
//!
//! Owns: nothing of its own; it keeps the flow's sticky states up to date
//! with what a splice saw. Never blocks, and never loses the bytes a
//! readiness check or a blocked write already took in (they go first).

use wasip2::io::streams::{InputStream, OutputStream};

use super::super::bindings::exports::spoke::flow::types::WriteError;
use super::super::ends::Fill;
use super::super::layer::{ReadSide, WriteSide};
use super::super::splice::{self, SpliceError, Spliced};
use super::super::{errors, stream_errors};
use super::TcpFlow;
use super::read_ahead::ReadAhead;

impl TcpFlow {
    /// Moves what has arrived to `out` without blocking, inside the host
    /// (bytes already taken in are written first). Failures of `out` come
    /// back as `SpliceError::Write`.
    pub(super) fn try_splice_out(&mut self, out: &OutputStream) -> Result<Spliced, SpliceError> {
        let input = self.handles.as_ref().map(|h| &h.input);
        splice_from(&mut self.ahead, &mut self.read, input, out)
    }

    /// Lends the output stream to `fill` while writes are possible, and
    /// makes a write failure it reports sticky.
    pub(super) fn try_splice_in(
        &mut self,
        fill: &mut Fill<'_>,
    ) -> Option<Result<Spliced, SpliceError>> {
        // A write side that is already shut or failed splices nothing: the
        // engine then asks the source first, as a guest-side copy does, so
        // an ended source still ends the direction cleanly and one with
        // bytes meets this flow's write error.
        self.writable().ok()?;
        let out = &self.handles.as_ref()?.output;
        let r = fill(out)?;
        if let Err(SpliceError::Write(e)) = &r {
            self.write = WriteSide::Failed(e.clone());
        }
        Some(r)
    }

    /// Moves what has arrived back out of this flow's own output stream
    /// without blocking, inside the host.
    pub(super) fn try_splice_back(&mut self) -> Result<Spliced, SpliceError> {
        self.writable().map_err(SpliceError::Write)?;
        let Some(h) = &self.handles else {
            return Err(SpliceError::Write(WriteError::Closed));
        };
        let r = splice_from(&mut self.ahead, &mut self.read, Some(&h.input), &h.output);
        if let Err(SpliceError::Write(e)) = &r {
            self.write = WriteSide::Failed(e.clone());
        }
        r
    }
}

/// One splice from a flow's `input` (`None` once closed) into `out`, the
/// bytes `ahead` holds first; the read side's end or failure is kept in
/// `read`.
fn splice_from(
    ahead: &mut ReadAhead,
    read: &mut ReadSide,
    input: Option<&InputStream>,
    out: &OutputStream,
) -> Result<Spliced, SpliceError> {
    if !ahead.is_empty() {
        let permit = out
            .check_write()
            .map_err(|e| SpliceError::Write(stream_errors::from_write(e)))?;
        let Some(data) = ahead
            .pop(
                usize::try_from(permit)
                    .unwrap_or(usize::MAX)
                    .min(crate::CHUNK),
            )
            .filter(|_| permit > 0)
        else {
            return Ok(Spliced::WaitWrite);
        };
        out.write(&data)
            .map_err(|e| SpliceError::Write(stream_errors::from_write(e)))?;
        return Ok(Spliced::Moved(data.len() as u64));
    }
    let input = match (&*read, input) {
        (ReadSide::Open, Some(input)) => input,
        (ReadSide::Open, None) => return Err(SpliceError::Read(errors::closed_flow())),
        (ReadSide::Ended, _) => return Ok(Spliced::Ended),
        (ReadSide::Failed(e), _) => return Err(SpliceError::Read(e.clone())),
    };
    let r = splice::splice(input, out);
    match &r {
        Ok(Spliced::Ended) => *read = ReadSide::Ended,
        Err(SpliceError::Read(e)) => *read = ReadSide::Failed(e.clone()),
        _ => {}
    }
    r
}
