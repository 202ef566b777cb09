//! A TCP connection as a flow: reads, writes, half-closes and readiness over
//! one `wasi:sockets/tcp` socket and its two streams, plus `connect`.
//!
//! Owns: the socket, its streams and the pollables made from them, and the
//! sticky read/write states. It never writes past a `check-write` permit
//! (that traps the host), never uses `blocking-write-and-flush` for data,
//! and never drops a stream before the pollables it created.

use std::net::IpAddr;

use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{InputStream, OutputStream};
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::ip_name_lookup::resolve_addresses;
use wasip2::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress};
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

use super::bindings::exports::spoke::flow::types::{Error, ShutdownMode, WriteError};
use super::ends::Fill;
use super::errors;
use super::inbox::Inbox;
use super::layer::{Layer, ReadSide, WriteSide};
use super::splice::{self, SpliceError, Spliced};

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
    /// [`INBOX_LIMIT`]); reads return them before anything else.
    peeked: Inbox,
    read: ReadSide,
    write: WriteSide,
}

impl TcpFlow {
    /// Wraps a connected socket and its streams.
    pub fn new(socket: TcpSocket, input: InputStream, output: OutputStream) -> Self {
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
            peeked: Inbox::default(),
            read: ReadSide::Open,
            write: WriteSide::Open,
        }
    }

    /// Writes all of `data`, in pieces no larger than each permit.
    fn write_all(&mut self, mut data: &[u8]) -> Result<(), WriteError> {
        while !data.is_empty() {
            let Some(h) = &self.handles else {
                return Err(WriteError::Closed);
            };
            let permit = h.output.check_write().map_err(errors::from_write)?;
            if permit == 0 {
                self.wait_writable();
                continue;
            }
            let n = usize::try_from(permit)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let (now, rest) = data.split_at(n);
            h.output.write(now).map_err(errors::from_write)?;
            data = rest;
        }
        Ok(())
    }

    /// Flushes and waits until the stream has handed every byte to the host.
    fn drain(&mut self) -> Result<(), WriteError> {
        let Some(h) = &self.handles else {
            return Err(WriteError::Closed);
        };
        h.output.flush().map_err(errors::from_write)?;
        loop {
            let Some(h) = &self.handles else {
                return Err(WriteError::Closed);
            };
            if h.output.check_write().map_err(errors::from_write)? != 0 {
                return Ok(());
            }
            self.wait_writable();
        }
    }

    /// Blocks until the output stream is writable (or failed), taking in
    /// what arrives on the input stream meanwhile while the inbox has room
    /// and the read side is open.
    fn wait_writable(&mut self) {
        let drain = matches!(self.read, ReadSide::Open) && self.peeked.len() < INBOX_LIMIT;
        let Some(h) = &mut self.handles else { return };
        if h.writable.is_none() {
            h.writable = Some(h.output.subscribe());
        }
        if drain && h.readable.is_none() {
            h.readable = Some(h.input.subscribe());
        }
        let (Some(writable), readable) = (&h.writable, &h.readable) else {
            return;
        };
        let readable = match readable {
            Some(r) if drain => r,
            _ => return writable.block(),
        };
        if !poll(&[writable, readable]).contains(&1) {
            return;
        }
        // Ready may be stale: a read that finds nothing clears it.
        match h.input.read(crate::CHUNK as u64) {
            Ok(data) => self.peeked.push(data),
            Err(e) => self.read = ReadSide::after(errors::from_read(e)),
        }
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

    /// Whether a read would return at once without touching the socket.
    pub fn read_settled(&self) -> bool {
        !self.peeked.is_empty() || !matches!(self.read, ReadSide::Open) || self.handles.is_none()
    }

    /// Clears a stale readiness of the input stream before a pollable is
    /// lent: wasmtime reports a stream as readable until a read finds it
    /// empty (a freshly accepted socket's stream, or one whose last read
    /// took everything there was), so a pollable made then would be ready
    /// with nothing to read. One non-blocking read clears it; what it
    /// returns (data, end-of-stream or an error) is kept for the next
    /// `read`, and the pollable lent is then ready at once.
    fn settle(&mut self) {
        if self.read_settled() {
            return;
        }
        let Some(h) = &self.handles else { return };
        match h.input.read(crate::CHUNK as u64) {
            Ok(data) => self.peeked.push(data),
            Err(e) => self.read = ReadSide::after(errors::from_read(e)),
        }
    }
}

impl Layer for TcpFlow {
    /// Reads between 1 and `max` bytes, `None` at end-of-stream.
    fn read(&mut self, max: u32) -> Result<Option<Vec<u8>>, Error> {
        if self.handles.is_none() {
            return Err(errors::closed_flow());
        }
        if let Some(data) = self.peeked.pop(max as usize) {
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
                    return match errors::from_read(e) {
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
            Err(e) => match errors::from_read(e) {
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
    /// peer sends (up to [`INBOX_LIMIT`] held), for later reads: a peer that
    /// writes a lot before it reads, while we do the same, then never
    /// waits on us forever. End-of-stream or an error seen meanwhile is
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
            let permit = h.output.check_write().map_err(errors::from_write)?;
            let n = usize::try_from(permit)
                .unwrap_or(usize::MAX)
                .min(data.len());
            if n > 0 {
                h.output.write(&data[..n]).map_err(errors::from_write)?;
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
        let h = self.handles.as_ref().ok_or_else(errors::closed_flow)?;
        if let Some(a) = self.addresses.0 {
            return Ok(a);
        }
        h.socket
            .local_address()
            .map_err(|c| errors::from_code(c, "reading the local address"))
    }

    /// The peer's address.
    fn remote_address(&self) -> Result<IpSocketAddress, Error> {
        let h = self.handles.as_ref().ok_or_else(errors::closed_flow)?;
        if let Some(a) = self.addresses.1 {
            return Ok(a);
        }
        h.socket
            .remote_address()
            .map_err(|c| errors::from_code(c, "reading the remote address"))
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

/// The most a flow holds of what it received while a write waited: 64 MiB.
/// Past that a write waits without reading, as a native program's would,
/// so a peer that sends more than this (plus the sockets' buffers) before
/// it reads anything, while we write, blocks both ends.
pub const INBOX_LIMIT: usize = 64 << 20;

impl Drop for TcpFlow {
    fn drop(&mut self) {
        self.close();
    }
}

/// A pollable that is already ready.
pub fn ready_now() -> Pollable {
    monotonic_clock::subscribe_duration(0)
}

/// Connects to `host:port`: an IP literal directly, a name through
/// `ip-name-lookup`, trying each address in order (the error is the last's).
pub fn connect(host: &str, port: u16) -> Result<TcpFlow, Error> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return connect_address(errors::from_std(ip, port));
    }
    let mut last = Error::NameUnresolvable(host.into());
    for ip in resolve(host)? {
        match connect_address(errors::from_std(ip, port)) {
            Ok(flow) => return Ok(flow),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Every address `name` resolves to, in the resolver's order.
fn resolve(name: &str) -> Result<Vec<IpAddr>, Error> {
    let network = instance_network();
    let stream = resolve_addresses(&network, name).map_err(|c| errors::from_lookup(c, name))?;
    let mut found = Vec::new();
    let mut waiter: Option<Pollable> = None;
    loop {
        match stream.resolve_next_address() {
            Ok(Some(ip)) => found.push(errors::ip_to_std(ip)),
            Ok(None) => break,
            Err(ErrorCode::WouldBlock) => waiter.get_or_insert_with(|| stream.subscribe()).block(),
            Err(c) => return Err(errors::from_lookup(c, name)),
        }
    }
    drop(waiter);
    if found.is_empty() {
        return Err(Error::NameUnresolvable(name.into()));
    }
    Ok(found)
}

/// Connects to one socket address, without any name lookup.
pub fn connect_address(address: IpSocketAddress) -> Result<TcpFlow, Error> {
    let op = format!("connecting to {}", errors::to_std(&address));
    let family = match address {
        IpSocketAddress::Ipv4(_) => IpAddressFamily::Ipv4,
        IpSocketAddress::Ipv6(_) => IpAddressFamily::Ipv6,
    };
    let socket = create_tcp_socket(family).map_err(|c| errors::from_code(c, &op))?;
    let network = instance_network();
    socket
        .start_connect(&network, address)
        .map_err(|c| errors::from_code(c, &op))?;
    let waiter = socket.subscribe();
    let result = loop {
        match socket.finish_connect() {
            Err(ErrorCode::WouldBlock) => waiter.block(),
            other => break other,
        }
    };
    drop(waiter);
    let (input, output) = result.map_err(|c| errors::from_code(c, &op))?;
    Ok(TcpFlow::new(socket, input, output))
}

impl TcpFlow {
    /// Moves what has arrived to `out` without blocking, inside the host
    /// (bytes already taken in are written first). Failures of `out` come
    /// back as `SpliceError::Write`.
    fn try_splice_out(&mut self, out: &OutputStream) -> Result<Spliced, SpliceError> {
        let input = self.handles.as_ref().map(|h| &h.input);
        splice_from(&mut self.peeked, &mut self.read, input, out)
    }

    /// Lends the output stream to `fill` while writes are possible, and
    /// makes a write failure it reports sticky.
    fn try_splice_in(&mut self, fill: &mut Fill<'_>) -> Option<Result<Spliced, SpliceError>> {
        if let Err(e) = self.writable() {
            return Some(Err(SpliceError::Write(e)));
        }
        let out = &self.handles.as_ref()?.output;
        let r = fill(out)?;
        if let Err(SpliceError::Write(e)) = &r {
            self.write = WriteSide::Failed(e.clone());
        }
        Some(r)
    }

    /// Moves what has arrived back out of this flow's own output stream
    /// without blocking, inside the host.
    fn try_splice_back(&mut self) -> Result<Spliced, SpliceError> {
        self.writable().map_err(SpliceError::Write)?;
        let Some(h) = &self.handles else {
            return Err(SpliceError::Write(WriteError::Closed));
        };
        let r = splice_from(&mut self.peeked, &mut self.read, Some(&h.input), &h.output);
        if let Err(SpliceError::Write(e)) = &r {
            self.write = WriteSide::Failed(e.clone());
        }
        r
    }
}

/// One splice from a flow's `input` (`None` once closed) into `out`, the
/// bytes `peeked` holds first; the read side's end or failure is kept in
/// `read`.
fn splice_from(
    peeked: &mut Inbox,
    read: &mut ReadSide,
    input: Option<&InputStream>,
    out: &OutputStream,
) -> Result<Spliced, SpliceError> {
    if !peeked.is_empty() {
        let permit = out
            .check_write()
            .map_err(|e| SpliceError::Write(errors::from_write(e)))?;
        let Some(data) = peeked
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
            .map_err(|e| SpliceError::Write(errors::from_write(e)))?;
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
