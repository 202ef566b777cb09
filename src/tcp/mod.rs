//! A TCP connection as a flow: reads, writes, half-closes and readiness over
//! one `wasi:sockets/tcp` socket and its two streams (`connect.rs` opens
//! them). The blocking write path is in `blocking.rs`, host-side splicing
//! in `splice.rs`, the bytes read ahead of the caller in `read_ahead.rs`.
//!
//! Owns: the socket, its streams and the pollables made from them, and the
//! sticky read/write states. It never writes past a `check-write` permit
//! (that traps the host), never uses `blocking-write-and-flush` for data,
//! and never drops a stream before the pollables it created.

use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, OutputStream};
use wasip2::sockets::network::IpSocketAddress;
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};

use super::bindings::exports::spoke::flow::types::{Error, ShutdownMode, WriteError};
use super::budget::{self, Reservation};
use super::ends::Fill;
use super::layer::{Layer, ReadSide, WriteSide};
use super::splice::{SpliceError, Spliced};
use super::{errors, stream_errors};
use read_ahead::ReadAhead;

mod blocking;
mod read_ahead;
mod splice;

/// The live handles of a connection. Field order is drop order: pollables
/// before the streams they come from, streams before the socket.
struct Handles {
    /// Ready when the input stream has data, EOF or an error (made lazily).
    readable: Option<Pollable>,
    /// Ready when the output stream accepts more (made lazily).
    writable: Option<Pollable>,
    input: InputStream,
    output: OutputStream,
    socket: TcpSocket,
}

/// A connected TCP socket with Mirage_flow semantics.
pub struct TcpFlow {
    /// `None` once closed and freed.
    handles: Option<Handles>,
    /// Handles kept after `close` because a pollable handed to the caller
    /// may still refer to them; freed when the flow is dropped.
    retired: Option<Handles>,
    /// Whether `subscribe` ever handed a pollable to the caller.
    lent_pollable: bool,
    /// The addresses, read once when connected: the host may refuse to
    /// report the peer's once the connection is shut down.
    addresses: (Option<IpSocketAddress>, Option<IpSocketAddress>),
    /// Bytes received but not yet read: what `subscribe` read while
    /// checking readiness, and what a blocked write drained (at most
    /// [`READ_AHEAD_LIMIT`], within the buffer budget); reads return them
    /// before anything else.
    ahead: ReadAhead,
    /// This flow's share of the instance's buffer budget.
    reserved: Reservation,
    read: ReadSide,
    write: WriteSide,
}

impl TcpFlow {
    /// Wraps a connected socket and its streams, with the flow's
    /// reservation from the buffer budget (see [`TcpFlow::reserve`]).
    pub fn new(
        socket: TcpSocket,
        input: InputStream,
        output: OutputStream,
        reserved: Reservation,
    ) -> Self {
        let (socket_local, socket_remote) = (socket.local_address(), socket.remote_address());
        TcpFlow {
            handles: Some(Handles {
                readable: None,
                writable: None,
                input,
                output,
                socket,
            }),
            retired: None,
            lent_pollable: false,
            addresses: (socket_local.ok(), socket_remote.ok()),
            ahead: ReadAhead::default(),
            reserved,
            read: ReadSide::Open,
            write: WriteSide::Open,
        }
    }

    /// The reservation a new TCP flow needs, or the error that the
    /// instance's buffer budget cannot afford one.
    pub fn reserve() -> Result<Reservation, Error> {
        Reservation::take(budget::PLAIN_FLOW, "a TCP flow")
    }

    /// Fails if writes are no longer possible.
    fn writable(&self) -> Result<(), WriteError> {
        if self.handles.is_none() && matches!(self.write, WriteSide::Open) {
            return Err(WriteError::Closed);
        }
        self.write.check()
    }

    /// Makes a write failure sticky.
    fn note_write(&mut self, r: Result<(), WriteError>) -> Result<(), WriteError> {
        if let Err(e) = &r {
            self.write = WriteSide::Failed(e.clone());
        }
        r
    }

    /// Shuts the read side: later reads return end-of-stream.
    pub fn shutdown_read(&mut self) {
        if let ReadSide::Open = self.read {
            self.read = ReadSide::Ended;
            if let Some(h) = &self.handles {
                let _ = h.socket.shutdown(ShutdownType::Receive);
            }
        }
    }

    /// Waits until every written byte has left the stream, then sends FIN.
    pub fn shutdown_write(&mut self) -> Result<(), WriteError> {
        match &self.write {
            WriteSide::Open => {}
            WriteSide::Shut | WriteSide::Failed(WriteError::Closed) => return Ok(()),
            WriteSide::Failed(e) => return Err(e.clone()),
        }
        if self.handles.is_none() {
            return Ok(());
        }
        let r = self.drain().map(|()| {
            if let Some(h) = &self.handles {
                let _ = h.socket.shutdown(ShutdownType::Send);
            }
        });
        self.write = match &r {
            Ok(()) | Err(WriteError::Closed) => WriteSide::Shut,
            Err(e) => WriteSide::Failed(e.clone()),
        };
        r
    }

    /// The address read when connected (`known`), else asks the socket
    /// (`ask`); `which` names it in an error.
    fn address(
        &self,
        known: Option<IpSocketAddress>,
        ask: fn(&TcpSocket) -> Result<IpSocketAddress, wasip2::sockets::network::ErrorCode>,
        which: &str,
    ) -> Result<IpSocketAddress, Error> {
        let h = self.handles.as_ref().ok_or_else(errors::closed_flow)?;
        match known {
            Some(a) => Ok(a),
            None => ask(&h.socket)
                .map_err(|c| errors::from_code(c, &format!("reading the {which} address"))),
        }
    }

    /// Whether a read would return at once without touching the socket.
    pub fn read_settled(&self) -> bool {
        !self.ahead.is_empty() || !matches!(self.read, ReadSide::Open) || self.handles.is_none()
    }
}

impl Layer for TcpFlow {
    /// Reads between 1 and `max` bytes, `None` at end-of-stream.
    fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, Error> {
        if self.handles.is_none() {
            return Err(errors::closed_flow());
        }
        if let Some(data) = self.ahead.pop(max as usize) {
            return Ok(Some(data));
        }
        match &self.read {
            ReadSide::Open => {}
            ReadSide::Ended => return Ok(None),
            ReadSide::Failed(e) => return Err(e.clone()),
        }
        let Some(h) = &self.handles else {
            return Err(errors::closed_flow());
        };
        let len = u64::from(max.max(1));
        loop {
            // One host call: waits for readiness, then reads what is there.
            match h.input.blocking_read(len) {
                Ok(data) if data.is_empty() => continue,
                Ok(data) => return Ok(Some(data)),
                Err(e) => {
                    return match stream_errors::from_read(e) {
                        None => {
                            self.read = ReadSide::Ended;
                            Ok(None)
                        }
                        Some(e) => {
                            self.read = ReadSide::Failed(e.clone());
                            Err(e)
                        }
                    };
                }
            }
        }
    }

    /// Reads what has arrived without blocking: `Ok(None)` when a read
    /// would block, `Ok(Some(None))` at end-of-stream. A read that finds
    /// nothing also clears any stale readiness of the stream's pollables.
    fn try_read(&mut self, max: u32) -> Result<Option<Option<Vec<u8>>>, Error> {
        if self.read_settled() {
            return self.read(max).map(Some);
        }
        let Some(h) = &self.handles else {
            return Err(errors::closed_flow());
        };
        match h.input.read(u64::from(max.max(1))) {
            Ok(data) if data.is_empty() => Ok(None),
            Ok(data) => Ok(Some(Some(data))),
            Err(e) => match stream_errors::from_read(e) {
                None => {
                    self.read = ReadSide::Ended;
                    Ok(Some(None))
                }
                Some(e) => {
                    self.read = ReadSide::Failed(e.clone());
                    Err(e)
                }
            },
        }
    }

    /// Writes every byte of `data`.
    ///
    /// While the stream accepts nothing, the write also takes in what the
    /// peer sends (up to [`READ_AHEAD_LIMIT`] held, within the instance's
    /// buffer budget), for later reads: a peer that writes a lot before it
    /// reads, while we do the same, then never waits on us forever. End-of-stream or an error seen meanwhile is
    /// returned by the reads after those bytes.
    fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        self.writable()?;
        if data.is_empty() {
            return Ok(());
        }
        let r = self.write_all(data);
        self.note_write(r)
    }

    /// Writes each buffer in order, like [`TcpFlow::write`].
    fn writev(&mut self, data: &[Vec<u8>]) -> Result<(), WriteError> {
        self.writable()?;
        let mut r = Ok(());
        for chunk in data.iter().filter(|c| !c.is_empty()) {
            r = self.write_all(chunk);
            if r.is_err() {
                break;
            }
        }
        self.note_write(r)
    }

    /// Writes as much of `data` as the stream accepts now, without
    /// blocking; returns how many bytes it took (possibly 0).
    fn write_some(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        self.writable()?;
        let Some(h) = &self.handles else {
            return Err(WriteError::Closed);
        };
        let r = (|| -> Result<usize, WriteError> {
            let permit = h.output.check_write().map_err(stream_errors::from_write)?;
            let n = usize::try_from(permit)
                .unwrap_or(usize::MAX)
                .min(data.len());
            if n > 0 {
                h.output
                    .write(&data[..n])
                    .map_err(stream_errors::from_write)?;
            }
            Ok(n)
        })();
        if let Err(e) = &r {
            self.write = WriteSide::Failed(e.clone());
        }
        r
    }

    /// Shuts one or both directions: the read side at once, the write side
    /// once every written byte has left the stream.
    fn shutdown(&mut self, mode: ShutdownMode) -> Result<(), WriteError> {
        let r = match mode {
            ShutdownMode::Read => Ok(()),
            ShutdownMode::Write | ShutdownMode::ReadWrite => self.shutdown_write(),
        };
        if !matches!(mode, ShutdownMode::Write) {
            self.shutdown_read();
        }
        r
    }

    /// Shuts both directions (delivering what was written) and frees the
    /// connection. Idempotent.
    fn close(&mut self) {
        if self.handles.is_none() {
            return;
        }
        let _ = self.shutdown_write();
        self.shutdown_read();
        self.write = WriteSide::Shut;
        // What was taken in is never read now: back to the budget, with
        // the flow's own share.
        self.ahead = ReadAhead::default();
        self.reserved.release();
        if let Some(mut h) = self.handles.take() {
            h.readable = None;
            h.writable = None;
            if self.lent_pollable {
                self.retired = Some(h);
            }
        }
    }

    /// A pollable for the caller, ready when a read would not block.
    fn subscribe(&mut self) -> Pollable {
        self.settle();
        match &self.handles {
            Some(h) if !self.read_settled() => {
                self.lent_pollable = true;
                h.input.subscribe()
            }
            _ => ready_now(),
        }
    }

    /// Makes the pollables that `read_wait` and `write_wait` lend.
    fn prepare_waits(&mut self) {
        if let Some(h) = &mut self.handles {
            h.readable.get_or_insert_with(|| h.input.subscribe());
            h.writable.get_or_insert_with(|| h.output.subscribe());
        }
    }

    /// The flow's own pollable to wait on before a read, or `None` when a
    /// read would not block. Call `prepare_waits` first.
    fn read_wait(&self) -> Option<&Pollable> {
        if self.read_settled() {
            return None;
        }
        self.handles.as_ref()?.readable.as_ref()
    }

    /// The flow's own pollable to wait on before `write_some` can accept
    /// bytes, or `None` if it can now. Call `prepare_waits` first.
    fn write_wait(&self) -> Option<&Pollable> {
        match &self.write {
            WriteSide::Open => self.handles.as_ref()?.writable.as_ref(),
            _ => None,
        }
    }

    /// The local address of the socket.
    fn local_address(&self) -> Result<IpSocketAddress, Error> {
        self.address(self.addresses.0, TcpSocket::local_address, "local")
    }

    /// The peer's address.
    fn remote_address(&self) -> Result<IpSocketAddress, Error> {
        self.address(self.addresses.1, TcpSocket::remote_address, "remote")
    }

    fn splices(&self) -> bool {
        true
    }

    fn splice_out(&mut self, out: &OutputStream) -> Option<Result<Spliced, SpliceError>> {
        Some(self.try_splice_out(out))
    }

    fn splice_in(&mut self, fill: &mut Fill<'_>) -> Option<Result<Spliced, SpliceError>> {
        self.try_splice_in(fill)
    }

    fn splice_back(&mut self) -> Option<Result<Spliced, SpliceError>> {
        Some(self.try_splice_back())
    }
}

/// The most a flow holds of what it received while a write waited: 64 MiB,
/// and never more than the instance's buffer budget has room for (shared
/// by every flow of the instance, `budget.rs`). Past that a write waits
/// without reading, as a native program's would, so a peer that sends more
/// than this (plus the sockets' buffers) before it reads anything, while
/// we write, blocks both ends.
const READ_AHEAD_LIMIT: usize = 64 << 20;

impl Drop for TcpFlow {
    fn drop(&mut self) {
        self.close();
    }
}

/// A pollable that is already ready.
pub fn ready_now() -> Pollable {
    monotonic_clock::subscribe_duration(0)
}
