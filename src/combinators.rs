//! `copy` and `proxy` (mirage-flow's combinators) run inside the component,
//! so bulk data never crosses the component boundary.
//!
//! Owns: the copy loops and their statistics. Never blocks one direction of
//! a proxy on the other (writes there go through `write_some` and
//! readiness), and never drops bytes already read from a source.

use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{Pollable, poll};

use super::bindings::exports::spoke::flow::combinators::{CopyError, Direction, Stats};
use super::bindings::exports::spoke::flow::types::ShutdownMode;
use super::layer::{Conn, Layer};
use super::pipe::{Sink, Source};
use super::tcp::{SpliceError, Spliced, TcpFlow};

/// How much one read asks for.
const CHUNK: u32 = super::CHUNK as u32;

/// Empty statistics.
pub fn no_stats() -> Stats {
    Stats {
        read_bytes: 0,
        read_ops: 0,
        write_bytes: 0,
        write_ops: 0,
        duration_ns: 0,
    }
}

/// Copies `src` to `dst` until `src` ends, then shuts `dst`'s write side.
pub fn copy(src: &mut Conn, dst: &mut Conn) -> Result<Stats, CopyError> {
    pump(src, Some(dst))
}

/// Copies `conn` back into itself (an echo of its peer) until its peer
/// ends, then shuts its write side.
pub fn echo(conn: &mut Conn) -> Result<Stats, CopyError> {
    pump(conn, None)
}

/// The loop behind [`copy`] and [`echo`]; `None` as the destination is the
/// source itself. Between sockets the host moves the bytes (`splice`), so
/// they never enter the guest.
fn pump(src: &mut Conn, mut dst: Option<&mut Conn>) -> Result<Stats, CopyError> {
    let start = monotonic_clock::now();
    let mut stats = no_stats();
    let spliced = match dst.as_deref_mut() {
        Some(d) => match (src.as_tcp(), d.as_tcp()) {
            (Some(s), Some(d)) => Some(s.splice_to(d, |n| moved(&mut stats, n))),
            _ => None,
        },
        None => src
            .as_tcp()
            .map(|s| s.splice_echo(|n| moved(&mut stats, n))),
    };
    match spliced {
        Some(outcome) => outcome.map_err(|e| match e {
            SpliceError::Read(e) => CopyError::Read(e),
            SpliceError::Write(e) => CopyError::Write(e),
        })?,
        None => {
            while let Some(data) = src.read(CHUNK).map_err(CopyError::Read)? {
                stats.read_bytes += data.len() as u64;
                stats.read_ops += 1;
                match dst.as_deref_mut() {
                    Some(d) => d.write(&data),
                    None => src.write(&data),
                }
                .map_err(CopyError::Write)?;
                stats.write_bytes += data.len() as u64;
                stats.write_ops += 1;
            }
        }
    }
    match dst {
        Some(d) => Layer::shutdown(&mut **d, ShutdownMode::Write),
        None => Layer::shutdown(&mut **src, ShutdownMode::Write),
    }
    .map_err(CopyError::Write)?;
    stats.duration_ns = monotonic_clock::now().saturating_sub(start);
    Ok(stats)
}

/// Counts `n` bytes that the host moved in one operation.
fn moved(stats: &mut Stats, n: u64) {
    stats.read_bytes += n;
    stats.read_ops += 1;
    stats.write_bytes += n;
    stats.write_ops += 1;
}

/// How many chunks one direction of a proxy moves in a row at most.
const BURST: usize = 16;

/// Where one direction of a proxy is.
enum Phase {
    /// Waiting for the source.
    Reading,
    /// Holding bytes read from the source that the destination has not
    /// taken yet.
    Writing,
    /// Finished (end-of-stream or an error).
    Done,
}

/// One direction of a proxy (or of a `pipe`: any [`Source`] to any
/// [`Sink`]).
pub(crate) struct Leg {
    phase: Phase,
    pending: Vec<u8>,
    written: usize,
    stats: Stats,
    error: Option<CopyError>,
}

impl Leg {
    pub(crate) fn new() -> Self {
        Leg {
            phase: Phase::Reading,
            pending: Vec::new(),
            written: 0,
            stats: no_stats(),
            error: None,
        }
    }

    /// What this leg waits on, as `Some(None)` when it can act now and
    /// `None` when it is done.
    pub(crate) fn wait<'a>(
        &self,
        src: &'a impl Source,
        dst: &'a impl Sink,
    ) -> Option<Option<&'a Pollable>> {
        match self.phase {
            Phase::Reading => Some(src.read_wait()),
            Phase::Writing => Some(dst.write_wait()),
            Phase::Done => None,
        }
    }

    /// Makes one step of progress; `start` is when the proxy began.
    pub(crate) fn step(&mut self, src: &mut impl Source, dst: &mut impl Sink, start: u64) {
        if let Phase::Reading = self.phase {
            // A pollable may be ready while a read would still block (a
            // stale readiness, or half a record): never block here.
            match src.try_read(CHUNK) {
                Ok(None) => return,
                Ok(Some(Some(data))) => {
                    self.stats.read_bytes += data.len() as u64;
                    self.stats.read_ops += 1;
                    self.pending = data;
                    self.written = 0;
                    self.phase = Phase::Writing;
                }
                Ok(Some(None)) => {
                    if let Err(e) = dst.shutdown(ShutdownMode::Write) {
                        self.error = Some(CopyError::Write(e));
                    }
                    return self.finish(start);
                }
                Err(e) => {
                    self.error = Some(CopyError::Read(e));
                    let _ = dst.shutdown(ShutdownMode::Write);
                    return self.finish(start);
                }
            }
        }
        if let Phase::Writing = self.phase {
            match dst.write_some(&self.pending[self.written..]) {
                Ok(n) => {
                    if n > 0 {
                        self.written += n;
                        self.stats.write_bytes += n as u64;
                        self.stats.write_ops += 1;
                    }
                    // Done with this chunk once the destination holds none
                    // of it back (a layer may keep sealed bytes).
                    if self.written == self.pending.len() && !dst.has_pending_output() {
                        self.phase = Phase::Reading;
                    }
                }
                Err(e) => {
                    self.error = Some(CopyError::Write(e));
                    let _ = src.shutdown(ShutdownMode::Read);
                    self.finish(start);
                }
            }
        }
    }

    /// [`Leg::step`] between two TCP flows: the host moves the bytes
    /// (`splice`), so they never enter the guest.
    fn splice_step(&mut self, src: &mut TcpFlow, dst: &mut TcpFlow, start: u64) {
        if let Phase::Writing = self.phase {
            // Woken because the destination takes more: read again.
            self.phase = Phase::Reading;
        }
        // Several chunks in a row while both sides keep up, so that a
        // busy direction does not poll once per chunk; bounded, so that the
        // other direction still gets its turn.
        let mut outcome = src.try_splice_to(dst);
        for _ in 1..BURST {
            match outcome {
                Ok(Spliced::Moved(n)) => {
                    self.count(n);
                    outcome = src.try_splice_to(dst);
                }
                _ => break,
            }
        }
        match outcome {
            Ok(Spliced::Moved(n)) => self.count(n),
            Ok(Spliced::WaitRead) => {}
            // Nothing is held: `Writing` with no bytes waits for the
            // destination, then reads.
            Ok(Spliced::WaitWrite) => self.phase = Phase::Writing,
            Ok(Spliced::Ended) => {
                if let Err(e) = dst.shutdown_write() {
                    self.error = Some(CopyError::Write(e));
                }
                self.finish(start);
            }
            Err(SpliceError::Read(e)) => {
                self.error = Some(CopyError::Read(e));
                let _ = dst.shutdown_write();
                self.finish(start);
            }
            Err(SpliceError::Write(e)) => {
                self.error = Some(CopyError::Write(e));
                src.shutdown_read();
                self.finish(start);
            }
        }
    }

    /// Counts `n` bytes that the host moved in one operation.
    fn count(&mut self, n: u64) {
        moved(&mut self.stats, n);
    }

    fn finish(&mut self, start: u64) {
        self.phase = Phase::Done;
        self.pending = Vec::new();
        self.stats.duration_ns = monotonic_clock::now().saturating_sub(start);
    }

    pub(crate) fn into_direction(self) -> Direction {
        Direction {
            stats: self.stats,
            error: self.error,
        }
    }
}

/// Copies `a` to `b` and `b` to `a` at once until both have ended.
pub fn proxy(a: &mut Conn, b: &mut Conn) -> (Direction, Direction) {
    let start = monotonic_clock::now();
    let mut ab = Leg::new();
    let mut ba = Leg::new();
    loop {
        if matches!((&ab.phase, &ba.phase), (Phase::Done, Phase::Done)) {
            break;
        }
        a.prepare_waits();
        b.prepare_waits();
        let (go_ab, go_ba) = {
            let wab = ab.wait(a, b);
            let wba = ba.wait(b, a);
            if matches!(wab, Some(None)) || matches!(wba, Some(None)) {
                (matches!(wab, Some(None)), matches!(wba, Some(None)))
            } else {
                let mut list: Vec<&Pollable> = Vec::with_capacity(2);
                let iab = wab.flatten().map(|p| {
                    list.push(p);
                    list.len() - 1
                });
                let iba = wba.flatten().map(|p| {
                    list.push(p);
                    list.len() - 1
                });
                let ready = poll(&list);
                let hit = |i: Option<usize>| i.is_some_and(|i| ready.contains(&(i as u32)));
                (hit(iab), hit(iba))
            }
        };
        if go_ab {
            match (a.as_tcp(), b.as_tcp()) {
                (Some(a), Some(b)) => ab.splice_step(a, b, start),
                _ => ab.step(a, b, start),
            }
        }
        if go_ba {
            match (b.as_tcp(), a.as_tcp()) {
                (Some(b), Some(a)) => ba.splice_step(b, a, start),
                _ => ba.step(b, a, start),
            }
        }
    }
    (ab.into_direction(), ba.into_direction())
}
