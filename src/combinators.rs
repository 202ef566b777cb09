//! `copy`, `proxy` (mirage-flow's combinators), `pipe`, `copy-to-stream`
//! and `copy-from-stream`, run inside the component so that bulk data never
//! crosses the component boundary: each names its directions' ends (a
//! [`Route`]) and hands them to the one byte mover ([`engine::drive`]).
//!
//! Owns: which ends each operation joins, and the final flush of a caller's
//! output stream. Never moves bytes itself, and never closes the caller's
//! streams (they are borrowed).

use wasip2::clocks::monotonic_clock;
use wasip2::io::streams::{InputStream, OutputStream};

use super::bindings::exports::spoke::flow::combinators::{CopyError, Direction, Stats};
use super::ends::{InputEnd, OutputEnd, Sink, Source};
use super::engine::{self, Ends, Mode, Mover, Route};
use super::layer::Conn;

/// Copies `src` to `dst` until `src` ends, then shuts `dst`'s write side.
pub fn copy(src: &mut Conn, dst: &mut Conn) -> Result<Stats, CopyError> {
    let mut legs = [Mover::new(Mode::Copy, monotonic_clock::now())];
    engine::drive(&mut legs, &mut Pair { a: src, b: dst });
    let [leg] = legs;
    outcome(leg.into_direction())
}

/// Copies `flow` back into itself (an echo of its peer) until its peer
/// ends, then shuts its write side.
pub fn echo(flow: &mut Conn) -> Result<Stats, CopyError> {
    let mut legs = [Mover::new(Mode::Copy, monotonic_clock::now())];
    engine::drive(&mut legs, &mut Echo(flow));
    let [leg] = legs;
    outcome(leg.into_direction())
}

/// Copies `a` to `b` and `b` to `a` at once until both have ended.
pub fn proxy(a: &mut Conn, b: &mut Conn) -> (Direction, Direction) {
    let start = monotonic_clock::now();
    let mut legs = [
        Mover::new(Mode::Shared, start),
        Mover::new(Mode::Shared, start),
    ];
    engine::drive(&mut legs, &mut Pair { a, b });
    let [ab, ba] = legs;
    (ab.into_direction(), ba.into_direction())
}

/// `pipe`: `input` to `flow` and `flow` to `output` at once, until both
/// have ended; the input's direction first.
pub fn pipe(flow: &mut Conn, input: &InputStream, output: &OutputStream) -> (Direction, Direction) {
    let start = monotonic_clock::now();
    let legs = [
        Mover::new(Mode::Alternate, start),
        Mover::new(Mode::Alternate, start),
    ];
    streams(flow, Some(input), Some(output), legs)
}

/// `copy-to-stream`: `src` to `dst` until `src` ends, then flush `dst`.
pub fn copy_to_stream(src: &mut Conn, dst: &OutputStream) -> Result<Stats, CopyError> {
    let legs = [
        Mover::idle(),
        Mover::new(Mode::Alone, monotonic_clock::now()),
    ];
    outcome(streams(src, None, Some(dst), legs).1)
}

/// `copy-from-stream`: `src` to `dst` until `src` ends, then shut `dst`'s
/// write side.
pub fn copy_from_stream(src: &InputStream, dst: &mut Conn) -> Result<Stats, CopyError> {
    let legs = [
        Mover::new(Mode::Alone, monotonic_clock::now()),
        Mover::idle(),
    ];
    outcome(streams(dst, Some(src), None, legs).0)
}

/// Runs `input` to `flow` and `flow` to `output` (either may be absent,
/// with an idle leg) until both have ended, then waits for `output`'s
/// flush; returns the directions in that order.
fn streams(
    flow: &mut Conn,
    input: Option<&InputStream>,
    output: Option<&OutputStream>,
    mut legs: [Mover; 2],
) -> (Direction, Direction) {
    let mut route = Streams {
        flow,
        input: input.map(InputEnd::new),
        output: output.map(OutputEnd::new),
    };
    engine::drive(&mut legs, &mut route);
    let [inbound, outbound] = legs;
    let mut outbound = outbound.into_direction();
    if let Some(o) = route.output.as_mut()
        && let Err(e) = o.finish()
        && outbound.error.is_none()
    {
        outbound.error = Some(CopyError::Write(e));
    }
    (inbound.into_direction(), outbound)
}

/// One direction as the result of a one-way copy.
fn outcome(d: Direction) -> Result<Stats, CopyError> {
    match d.error {
        None => Ok(d.stats),
        Some(e) => Err(e),
    }
}

/// Two flows: direction 0 is `a` to `b`, direction 1 `b` to `a`.
struct Pair<'a> {
    a: &'a mut Conn,
    b: &'a mut Conn,
}

impl Route for Pair<'_> {
    fn prepare_waits(&mut self) {
        self.a.prepare_waits();
        self.b.prepare_waits();
    }

    fn source(&self, i: usize) -> Option<&dyn Source> {
        Some(if i == 0 { &*self.a } else { &*self.b })
    }

    fn sink(&self, i: usize) -> Option<&dyn Sink> {
        Some(if i == 0 { &*self.b } else { &*self.a })
    }

    fn ends(&mut self, i: usize) -> Option<Ends<'_>> {
        Some(if i == 0 {
            Ends::Two(&mut *self.a, &mut *self.b)
        } else {
            Ends::Two(&mut *self.b, &mut *self.a)
        })
    }
}

/// One flow written back to itself (direction 0).
struct Echo<'a>(&'a mut Conn);

impl Route for Echo<'_> {
    fn prepare_waits(&mut self) {
        self.0.prepare_waits();
    }

    fn source(&self, _: usize) -> Option<&dyn Source> {
        Some(&*self.0)
    }

    fn sink(&self, _: usize) -> Option<&dyn Sink> {
        Some(&*self.0)
    }

    fn ends(&mut self, _: usize) -> Option<Ends<'_>> {
        Some(Ends::Echo(&mut *self.0))
    }
}

/// A flow and a caller's streams: direction 0 is `input` to `flow`,
/// direction 1 `flow` to `output`.
struct Streams<'a> {
    flow: &'a mut Conn,
    input: Option<InputEnd<'a>>,
    output: Option<OutputEnd<'a>>,
}

impl Route for Streams<'_> {
    fn prepare_waits(&mut self) {
        self.flow.prepare_waits();
    }

    fn source(&self, i: usize) -> Option<&dyn Source> {
        if i == 0 {
            self.input.as_ref().map(|s| s as &dyn Source)
        } else {
            Some(&*self.flow)
        }
    }

    fn sink(&self, i: usize) -> Option<&dyn Sink> {
        if i == 0 {
            Some(&*self.flow)
        } else {
            self.output.as_ref().map(|s| s as &dyn Sink)
        }
    }

    fn ends(&mut self, i: usize) -> Option<Ends<'_>> {
        if i == 0 {
            let input = self.input.as_mut()?;
            Some(Ends::Two(input, &mut *self.flow))
        } else {
            let output = self.output.as_mut()?;
            Some(Ends::Two(&mut *self.flow, output))
        }
    }

    fn flush_before_wait(&self) -> Option<&OutputEnd<'_>> {
        self.output.as_ref()
    }
}
