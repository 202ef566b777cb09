//! The one byte mover behind `copy`, `proxy`, `pipe` and their one-way
//! forms: a [`Mover`] per direction, and [`drive`], the one loop that steps
//! the directions and waits for whichever can go on.
//!
//! A direction moves its bytes inside the host (`splice`) when both of its
//! ends allow it, so they never enter the guest, and otherwise reads a
//! chunk ([`crate::CHUNK`]) and writes it on. Owns: each direction's
//! progress, statistics and error, and the half-close that ends it (its
//! source's end shuts its destination's write side). Never drops bytes
//! already read, and, when directions share the loop, never blocks one on
//! the other.

use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{Pollable, poll};

use super::bindings::exports::spoke::flow::combinators::{CopyError, Direction, Stats};
use super::ends::{OutputEnd, Sink, Source};
use super::layer::Conn;
use super::splice::{SpliceError, Spliced};

/// How many chunks a direction that shares the loop splices in a row at
/// most, so that the other direction still gets its turn.
const BURST: usize = 16;

/// How a direction runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `copy`: alone, with blocking reads and writes; a failure ends this
    /// direction only and leaves the other ends as they are.
    Copy,
    /// Alone without blocking (a one-way copy to or from a stream); a
    /// failure also ends the other end's side.
    Alone,
    /// One of two directions sharing the loop (`proxy`): never blocks,
    /// splices in bursts, and a failure also ends the other end's side.
    Shared,
    /// One of the two directions of `pipe`: as `Shared`, but a splicing
    /// direction moves one chunk a turn and goes on without waiting, so
    /// the two alternate chunk by chunk while both have bytes (an echoing
    /// peer is read while it is still being written to, and neither
    /// direction waits on a readiness check it does not need).
    Alternate,
}

/// The ends of one direction, lent for one step.
pub enum Ends<'e> {
    /// A source and a distinct destination.
    Two(&'e mut dyn Source, &'e mut dyn Sink),
    /// One flow read and written back: an echo of its peer.
    Echo(&'e mut Conn),
}

impl Ends<'_> {
    fn source(&mut self) -> &mut dyn Source {
        match self {
            Ends::Two(src, _) => *src,
            Ends::Echo(flow) => *flow,
        }
    }

    fn sink(&mut self) -> &mut dyn Sink {
        match self {
            Ends::Two(_, dst) => *dst,
            Ends::Echo(flow) => *flow,
        }
    }

    /// One splice inside the host, or `None` when the bytes must pass
    /// through the guest.
    fn splice(&mut self) -> Option<Result<Spliced, SpliceError>> {
        match self {
            Ends::Two(src, dst) if src.splices() && dst.splices() => {
                dst.splice_in(&mut |out| src.splice_out(out))
            }
            Ends::Two(..) => None,
            Ends::Echo(flow) => flow.splice_back(),
        }
    }
}

/// The ends of the directions [`drive`] runs, lent one direction at a time.
pub trait Route {
    /// Makes the pollables the ends lend.
    fn prepare_waits(&mut self);

    /// Direction `i`'s source, to see what it waits on.
    fn source(&self, i: usize) -> Option<&dyn Source>;

    /// Direction `i`'s destination, to see what it waits on.
    fn sink(&self, i: usize) -> Option<&dyn Sink>;

    /// Direction `i`'s ends for one step.
    fn ends(&mut self, i: usize) -> Option<Ends<'_>>;

    /// An output to flush before the loop blocks. With one, the loop first
    /// takes pollables that are already ready without blocking, and
    /// flushes only before a real wait: a flush makes the stream take
    /// nothing more until it is done, so flushing while data keeps coming
    /// would serialise the reads and the writes.
    fn flush_before_wait(&self) -> Option<&OutputEnd<'_>> {
        None
    }
}

/// What a direction does next.
enum Next {
    /// Act now.
    Now,
    /// Wait for its source.
    Readable,
    /// Wait for its destination.
    Writable,
    /// Nothing: it has ended.
    Done,
}

/// One direction: where it is, the bytes it read and has not written yet,
/// its statistics and its error.
pub struct Mover {
    mode: Mode,
    next: Next,
    pending: Vec<u8>,
    written: usize,
    start: u64,
    stats: Stats,
    error: Option<CopyError>,
}

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

impl Mover {
    /// A direction that runs as `mode`; its duration counts from `start`.
    pub fn new(mode: Mode, start: u64) -> Self {
        Mover {
            mode,
            // A blocking copy and a pipe act at once; otherwise wait for
            // the source.
            next: match mode {
                Mode::Copy | Mode::Alternate => Next::Now,
                Mode::Alone | Mode::Shared => Next::Readable,
            },
            pending: Vec::new(),
            written: 0,
            start,
            stats: no_stats(),
            error: None,
        }
    }

    /// A direction that does not run (the absent side of a one-way copy).
    pub fn idle() -> Self {
        let mut m = Mover::new(Mode::Alone, 0);
        m.next = Next::Done;
        m
    }

    /// What this direction waits on: `Some(None)` when it can act now,
    /// `None` when it has ended.
    fn wait<'r>(&self, route: &'r impl Route, i: usize) -> Option<Option<&'r Pollable>> {
        match self.next {
            Next::Now => Some(None),
            Next::Readable => route.source(i).map(|s| s.read_wait()),
            Next::Writable => route.sink(i).map(|d| d.write_wait()),
            Next::Done => None,
        }
    }

    /// Makes one step of progress.
    fn step(&mut self, mut ends: Ends<'_>) {
        if let Next::Done = self.next {
            return;
        }
        if let Some(first) = ends.splice() {
            return self.splice(&mut ends, first);
        }
        match self.mode {
            Mode::Copy => self.copy_chunk(&mut ends),
            Mode::Alone | Mode::Shared | Mode::Alternate => self.transfer(&mut ends),
        }
    }

    /// Splices while bytes move (in bursts when sharing the loop), then
    /// notes why it stopped.
    fn splice(&mut self, ends: &mut Ends<'_>, first: Result<Spliced, SpliceError>) {
        let limit = match self.mode {
            Mode::Shared => BURST,
            Mode::Alternate => 1,
            Mode::Copy | Mode::Alone => usize::MAX,
        };
        let mut outcome = first;
        let mut moves = 0;
        while let Ok(Spliced::Moved(n)) = outcome {
            self.count_read(n);
            self.count_write(n);
            moves += 1;
            if moves == limit {
                self.next = if self.mode == Mode::Alternate {
                    Next::Now
                } else {
                    Next::Readable
                };
                return;
            }
            outcome = match ends.splice() {
                Some(r) => r,
                None => return,
            };
        }
        match outcome {
            Ok(Spliced::Moved(_)) | Ok(Spliced::WaitRead) => self.next = Next::Readable,
            Ok(Spliced::WaitWrite) => self.next = Next::Writable,
            Ok(Spliced::Ended) => self.ended(ends),
            Err(SpliceError::Read(e)) => self.fail(ends, CopyError::Read(e)),
            Err(SpliceError::Write(e)) => self.fail(ends, CopyError::Write(e)),
        }
    }

    /// `copy`'s step: one blocking read, then one blocking write of it.
    fn copy_chunk(&mut self, ends: &mut Ends<'_>) {
        match ends.source().read(crate::CHUNK as u32) {
            Ok(Some(data)) => {
                self.count_read(data.len() as u64);
                match ends.sink().write(&data) {
                    Ok(()) => self.count_write(data.len() as u64),
                    Err(e) => self.fail(ends, CopyError::Write(e)),
                }
            }
            Ok(None) => self.ended(ends),
            Err(e) => self.fail(ends, CopyError::Read(e)),
        }
    }

    /// A non-blocking step: reads a chunk when none is held, then writes
    /// what the destination takes now.
    fn transfer(&mut self, ends: &mut Ends<'_>) {
        // `Writable`: a chunk (or a layer's sealed bytes) is still held.
        if !matches!(self.next, Next::Writable) {
            // A pollable may be ready while a read would still block (a
            // stale readiness, or half a record): never block here.
            match ends.source().try_read(crate::CHUNK as u32) {
                Ok(None) => {
                    self.next = Next::Readable;
                    return;
                }
                Ok(Some(Some(data))) => {
                    self.count_read(data.len() as u64);
                    self.pending = data;
                    self.written = 0;
                }
                Ok(Some(None)) => return self.ended(ends),
                Err(e) => return self.fail(ends, CopyError::Read(e)),
            }
        }
        let dst = ends.sink();
        match dst.write_some(&self.pending[self.written..]) {
            Ok(n) => {
                if n > 0 {
                    self.written += n;
                    self.count_write(n as u64);
                }
                // Done with this chunk once the destination holds none of
                // it back (a layer may keep sealed bytes).
                self.next = if self.written == self.pending.len() && !dst.has_pending_output() {
                    Next::Readable
                } else {
                    Next::Writable
                };
            }
            Err(e) => self.fail(ends, CopyError::Write(e)),
        }
    }

    /// The source ended: shut the destination's write side.
    fn ended(&mut self, ends: &mut Ends<'_>) {
        if let Err(e) = ends.sink().end_writing() {
            self.error = Some(CopyError::Write(e));
        }
        self.finish();
    }

    /// The direction failed; unless it is a `copy`, the failure ends the
    /// other end's side too: a failed read as an abort, never as the
    /// source's end, so that an encrypted destination's peer learns the
    /// stream was cut.
    fn fail(&mut self, ends: &mut Ends<'_>, e: CopyError) {
        if self.mode != Mode::Copy {
            match e {
                CopyError::Read(_) => ends.sink().abort_writing(),
                CopyError::Write(_) => ends.source().stop_reading(),
            }
        }
        self.error = Some(e);
        self.finish();
    }

    fn count_read(&mut self, n: u64) {
        self.stats.read_bytes += n;
        self.stats.read_ops += 1;
    }

    fn count_write(&mut self, n: u64) {
        self.stats.write_bytes += n;
        self.stats.write_ops += 1;
    }

    fn finish(&mut self) {
        self.next = Next::Done;
        self.pending = Vec::new();
        self.written = 0;
        self.stats.duration_ns = monotonic_clock::now().saturating_sub(self.start);
    }

    /// The direction's outcome.
    pub fn into_direction(self) -> Direction {
        Direction {
            stats: self.stats,
            error: self.error,
        }
    }
}

/// Steps `legs` (direction `i` over `route`'s ends `i`) until all have
/// ended. Waits only when none can act now, and then on what each waits on.
pub fn drive<const N: usize>(legs: &mut [Mover; N], route: &mut impl Route) {
    loop {
        route.prepare_waits();
        let go = {
            let waits: [Option<Option<&Pollable>>; N] =
                std::array::from_fn(|i| legs[i].wait(&*route, i));
            if waits.iter().all(Option::is_none) {
                return;
            }
            if waits.iter().any(|w| matches!(w, Some(None))) {
                waits.map(|w| matches!(w, Some(None)))
            } else {
                ready(&waits, route.flush_before_wait())
            }
        };
        for (i, leg) in legs.iter_mut().enumerate() {
            if go[i]
                && let Some(ends) = route.ends(i)
            {
                leg.step(ends);
            }
        }
    }
}

/// Which of the waiting directions may go on: blocks until one of their
/// pollables is ready. With an output to flush, pollables already ready are
/// taken without blocking, and the flush starts only before a real wait.
fn ready<const N: usize>(
    waits: &[Option<Option<&Pollable>>; N],
    flush: Option<&OutputEnd<'_>>,
) -> [bool; N] {
    let mut list: Vec<&Pollable> = Vec::with_capacity(N);
    let index: [Option<u32>; N] = std::array::from_fn(|i| {
        waits[i].flatten().map(|p| {
            list.push(p);
            (list.len() - 1) as u32
        })
    });
    let mut hit = Vec::new();
    if let Some(output) = flush {
        hit = (0u32..)
            .zip(&list)
            .filter_map(|(i, p)| p.ready().then_some(i))
            .collect();
        if hit.is_empty() {
            output.start_flush();
        }
    }
    if hit.is_empty() {
        hit = poll(&list);
    }
    index.map(|i| i.is_some_and(|i| hit.contains(&i)))
}
