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
use wasip2::io::streams::{InputStream, OutputStream, StreamError};
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::ip_name_lookup::resolve_addresses;
use wasip2::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress};
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

use super::bindings::exports::spoke::flow::types::{Error, ShutdownMode, WriteError};
use super::errors;
use super::inbox::Inbox;
use super::layer::{Layer, ReadSide, WriteSide};

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
        match h.input.read(CHUNK) {
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
        match h.input.read(CHUNK) {
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

    fn as_tcp(&mut self) -> Option<&mut TcpFlow> {
        Some(self)
    }
}

/// The outcome of [`TcpFlow::splice_to`] when it stops early.
pub enum SpliceError {
    /// Reading the source failed.
    Read(Error),
    /// Writing the destination failed.
    Write(WriteError),
}

impl TcpFlow {
    /// Whether the input can still be spliced from: `false` once it has
    /// ended, the sticky error once it failed or the flow was closed.
    fn splice_source_open(&self) -> Result<bool, SpliceError> {
        match &self.read {
            ReadSide::Open if self.handles.is_some() => Ok(true),
            ReadSide::Open => Err(SpliceError::Read(errors::closed_flow())),
            ReadSide::Ended => Ok(false),
            ReadSide::Failed(e) => Err(SpliceError::Read(e.clone())),
        }
    }

    /// Moves everything `self` receives to `dst` until end-of-stream,
    /// inside the host (`wasi:io/streams.splice`): the bytes never enter
    /// the guest. Adds each chunk moved to `moved(bytes)`. Does not shut
    /// `dst`.
    pub fn splice_to(
        &mut self,
        dst: &mut TcpFlow,
        mut moved: impl FnMut(u64),
    ) -> Result<(), SpliceError> {
        for data in self.peeked.take_all() {
            dst.write(&data).map_err(SpliceError::Write)?;
            moved(data.len() as u64);
        }
        if !self.splice_source_open()? {
            return Ok(());
        }
        dst.writable().map_err(SpliceError::Write)?;
        self.prepare_waits();
        dst.prepare_waits();
        let (Some(src), Some(out)) = (&self.handles, &dst.handles) else {
            return Err(SpliceError::Write(WriteError::Closed));
        };
        let r = splice_all(src, out, &mut moved);
        match &r {
            Ok(()) => self.read = ReadSide::Ended,
            Err(SpliceError::Read(e)) => self.read = ReadSide::Failed(e.clone()),
            Err(SpliceError::Write(e)) => dst.write = WriteSide::Failed(e.clone()),
        }
        r
    }

    /// Sends back everything `self` receives until end-of-stream (an
    /// echo of the peer), inside the host like [`TcpFlow::splice_to`].
    /// Does not shut the write side.
    pub fn splice_echo(&mut self, mut moved: impl FnMut(u64)) -> Result<(), SpliceError> {
        // A write may take in more, so what is held is taken one piece
        // at a time until none is left.
        while let Some(data) = self.peeked.pop(CHUNK as usize) {
            self.write(&data).map_err(SpliceError::Write)?;
            moved(data.len() as u64);
        }
        if !self.splice_source_open()? {
            return Ok(());
        }
        self.writable().map_err(SpliceError::Write)?;
        self.prepare_waits();
        let Some(h) = &self.handles else {
            return Err(SpliceError::Read(errors::closed_flow()));
        };
        let r = splice_all(h, h, &mut moved);
        match &r {
            Ok(()) => self.read = ReadSide::Ended,
            Err(SpliceError::Read(e)) => self.read = ReadSide::Failed(e.clone()),
            Err(SpliceError::Write(e)) => self.write = WriteSide::Failed(e.clone()),
        }
        r
    }
}

/// Moves `src`'s input to `out`'s output inside the host until the input
/// ends (`Ok`) or either side fails. Both need `prepare_waits` first.
fn splice_all(
    src: &Handles,
    out: &Handles,
    moved: &mut impl FnMut(u64),
) -> Result<(), SpliceError> {
    loop {
        match spliced(&out.output, out.output.splice(&src.input, CHUNK))? {
            Spliced::Moved(n) => moved(n),
            Spliced::WaitWrite => wait(&out.writable),
            Spliced::WaitRead => wait(&src.readable),
            Spliced::Ended => return Ok(()),
        }
    }
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
            Err(w) => Err(SpliceError::Write(errors::from_write(w))),
        },
        Ok(n) => Ok(Spliced::Moved(n)),
        Err(e) => match out.check_write() {
            Err(w) => Err(SpliceError::Write(errors::from_write(w))),
            Ok(_) => errors::from_read(e).map_or(Ok(Spliced::Ended), |e| Err(SpliceError::Read(e))),
        },
    }
}

/// The most one read or splice asks for.
const CHUNK: u64 = super::CHUNK as u64;

/// The most a flow holds of what it received while a write waited: 64 MiB.
/// Past that a write waits without reading, as a native program's would,
/// so a peer that sends more than this (plus the sockets' buffers) before
/// it reads anything, while we write, blocks both ends.
pub const INBOX_LIMIT: usize = 64 << 20;

/// Blocks on a pollable made by `prepare_waits`.
fn wait(p: &Option<Pollable>) {
    if let Some(p) = p {
        p.block();
    }
}

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

/// What one non-blocking splice between a flow and a caller's stream did.
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

impl TcpFlow {
    /// Moves what has arrived to `out` without blocking, inside the host
    /// (`splice`; bytes already taken in are written first). Failures of
    /// `out` come back as `SpliceError::Write`.
    pub fn try_splice_out(&mut self, out: &OutputStream) -> Result<Spliced, SpliceError> {
        if !self.peeked.is_empty() {
            let permit = out
                .check_write()
                .map_err(|e| SpliceError::Write(errors::from_write(e)))?;
            let Some(data) = self
                .peeked
                .pop(permit.min(CHUNK) as usize)
                .filter(|_| permit > 0)
            else {
                return Ok(Spliced::WaitWrite);
            };
            out.write(&data)
                .map_err(|e| SpliceError::Write(errors::from_write(e)))?;
            return Ok(Spliced::Moved(data.len() as u64));
        }
        if !self.splice_source_open()? {
            return Ok(Spliced::Ended);
        }
        let Some(h) = &self.handles else {
            return Err(SpliceError::Read(errors::closed_flow()));
        };
        let r = spliced(out, out.splice(&h.input, CHUNK));
        match &r {
            Ok(Spliced::Ended) => self.read = ReadSide::Ended,
            Err(SpliceError::Read(e)) => self.read = ReadSide::Failed(e.clone()),
            _ => {}
        }
        r
    }

    /// Moves what has arrived to `dst` without blocking, inside the host
    /// ([`TcpFlow::try_splice_out`] into `dst`'s stream). A failure of
    /// `dst` fails its later writes too.
    pub fn try_splice_to(&mut self, dst: &mut TcpFlow) -> Result<Spliced, SpliceError> {
        dst.writable().map_err(SpliceError::Write)?;
        let Some(out) = &dst.handles else {
            return Err(SpliceError::Write(WriteError::Closed));
        };
        let r = self.try_splice_out(&out.output);
        if let Err(SpliceError::Write(e)) = &r {
            dst.write = WriteSide::Failed(e.clone());
        }
        r
    }

    /// Moves what `input` has to this flow without blocking, inside the
    /// host (`splice`). Failures of `input` come back as
    /// `SpliceError::Read`; the flow's write side is left open at its end.
    pub fn try_splice_in(&mut self, input: &InputStream) -> Result<Spliced, SpliceError> {
        self.writable().map_err(SpliceError::Write)?;
        let Some(h) = &self.handles else {
            return Err(SpliceError::Write(WriteError::Closed));
        };
        let r = spliced(&h.output, h.output.splice(input, CHUNK));
        if let Err(SpliceError::Write(e)) = &r {
            self.write = WriteSide::Failed(e.clone());
        }
        r
    }
}
