//! Per-instance resource limits: linear memory, and a watchdog that stops a
//! guest computing without ever returning to the host.
//!
//! This module owns the limit values, their defaults, and the bookkeeping the
//! watchdog needs (fed by wasmtime's call hook and epoch callback). It never
//! decides network permissions and never calls into the guest.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::{CallHook, Engine, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};

/// How often the engine's epoch advances. A running guest yields to the
/// async executor at every tick, so one busy instance never starves the
/// other tasks of a tokio worker for longer than this.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Resource limits applied to every [`Instance`](crate::Instance).
///
/// The defaults:
/// - `memory_bytes`: 256 MiB of linear memory. Half of it is the instance's
///   buffer budget ([`Limits::buffer_budget`]), which every flow of the
///   instance draws from for what it holds between calls; the other half
///   is for the component's code and stack and for each call's own data.
///   Each `write` copies its data into the guest, so this also bounds the
///   largest single write (a 64 MiB write needs a little over 64 MiB, which
///   the default leaves room for even with the budget used up). At least
///   [`MIN_MEMORY_BYTES`].
/// - `max_busy`: 10 s. A guest that executes WebAssembly for this long
///   without calling any host function (I/O, clocks, randomness) is stopped
///   with a trap. Legitimate work calls the host at least once per record or
///   buffer, and the slowest legitimate computation, PBKDF2 with a client's
///   default maximum of 100000 iterations, takes about 0.15 s inside wasm.
///   Waiting for the network does not count: it happens in the host.
///
/// A guest call that is stopped (or traps) leaves the instance unusable:
/// later calls fail with [`FlowError::Trap`](crate::FlowError::Trap) and the
/// host carries on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most linear memory, in bytes, that the instance may grow to.
    pub memory_bytes: usize,
    /// The longest the guest may run WebAssembly without calling the host,
    /// or `None` for no limit (it still yields every [`EPOCH_TICK`]).
    pub max_busy: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            max_busy: Some(Duration::from_secs(10)),
        }
    }
}

/// The smallest [`Limits::memory_bytes`] an instance may have: 4 MiB, so
/// that its buffer budget holds at least one encrypted flow (about 1.3 MiB
/// with the TCP flow beneath) beside the component's code and stack.
pub const MIN_MEMORY_BYTES: usize = 4 << 20;

/// The environment variable through which the guest learns its buffer
/// budget ([`Limits::buffer_budget`]), in bytes. The host sets it in every
/// store it makes; a component run elsewhere (stock `wasmtime run` of an
/// application composed with Spoke) can be given it with `--env`, and
/// without it the component assumes 128 MiB, the budget of the default
/// limits.
pub const BUFFER_BUDGET_VARIABLE: &str = "SPOKE_BUFFER_BUDGET";

impl Limits {
    /// The instance's buffer budget: half of `memory_bytes`.
    ///
    /// Every flow of an instance draws from it what it holds between calls:
    /// a TCP flow reserves 65 KiB when it is opened, the spoke layer over a
    /// flow about 1.2 MiB more (its record and plaintext buffers), and a
    /// TCP flow whose write waits takes in what its peer sends only while
    /// the budget has room (it stops reading, as it does at its own
    /// 64 MiB, when the budget is used up). Opening a flow that the budget
    /// cannot afford fails with an `other` error that names this limit,
    /// instead of the instance running out of memory later, which would be
    /// a trap that ends every flow of the instance. The default's 128 MiB
    /// holds about 2000 idle TCP flows or 100 encrypted ones.
    ///
    /// The other half is for what the budget does not count: the
    /// component's code, data and stack, each call's own arguments and
    /// results (the bytes of a write, a read's result) and the allocator's
    /// slack.
    pub fn buffer_budget(&self) -> usize {
        self.memory_bytes / 2
    }

    /// Checks that these limits can run the component: `memory_bytes` is
    /// at least [`MIN_MEMORY_BYTES`].
    pub fn check(&self) -> anyhow::Result<()> {
        if self.memory_bytes < MIN_MEMORY_BYTES {
            anyhow::bail!(
                "Limits::memory_bytes is {} KiB, below the smallest an instance can use ({} MiB:                  half of it is the buffer budget of the instance's flows)",
                self.memory_bytes / 1024,
                MIN_MEMORY_BYTES >> 20
            );
        }
        Ok(())
    }

    /// The wasmtime limiter for these limits. Growth beyond the limit fails
    /// (the guest sees `memory.grow` return -1) rather than trapping the host.
    pub(crate) fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.memory_bytes)
            // Core instances: the Spoke component has 3, but a command
            // composed with it has its own too; a componentize-py
            // application alone has 14 (its runtime's libraries and
            // adapters).
            .instances(64)
            .tables(64)
            .memories(4)
            .table_elements(100_000)
            .build()
    }
}

/// The watchdog's view of one store: how many host calls the guest made and
/// since when it has been computing without one.
#[derive(Debug)]
pub(crate) struct Watchdog {
    max_busy: Option<Duration>,
    /// Crossings between guest and host (host calls, including the epoch
    /// check's own, and entries into the guest) since the store began.
    host_calls: u64,
    /// `host_calls` as seen by the previous epoch callback.
    seen: u64,
    /// When the current stretch of pure computation began.
    busy_since: Instant,
}

impl Watchdog {
    pub(crate) fn new(max_busy: Option<Duration>) -> Self {
        Self {
            max_busy,
            host_calls: 0,
            seen: 0,
            busy_since: Instant::now(),
        }
    }

    /// Called by the call hook whenever the guest calls the host, and
    /// whenever the host calls into the guest: a WASI 0.3 guest waits by
    /// returning to the store's event loop, which calls it again later,
    /// and the time in between is not computation.
    pub(crate) fn host_call(&mut self) {
        self.host_calls = self.host_calls.wrapping_add(1);
    }

    /// Called at each epoch tick while the guest runs. Returns an error
    /// message when the guest must be stopped.
    pub(crate) fn tick(&mut self, now: Instant) -> Result<(), String> {
        // The epoch check is itself a host call: exactly one more call than
        // last time means the guest did nothing but compute in between.
        if self.host_calls != self.seen.wrapping_add(1) {
            self.busy_since = now;
        }
        self.seen = self.host_calls;
        match self.max_busy {
            Some(max) if now.duration_since(self.busy_since) > max => Err(format!(
                "the guest ran for more than {max:?} without calling the host and was stopped \
                 (Limits::max_busy)"
            )),
            _ => Ok(()),
        }
    }
}

/// The resource guards a store's data carries: its memory limiter and its
/// watchdog. Both the Spoke component's stores and command stores have them.
pub(crate) struct Guards {
    limits: StoreLimits,
    watchdog: Watchdog,
}

impl Guards {
    /// Guards for `limits`.
    pub(crate) fn new(limits: &Limits) -> Self {
        Guards {
            limits: limits.store_limits(),
            watchdog: Watchdog::new(limits.max_busy),
        }
    }
}

/// Store data that carries [`Guards`].
pub(crate) trait Guarded: 'static {
    /// The store's guards.
    fn guards(&mut self) -> &mut Guards;
}

/// A store for `data` with its guards wired in: the memory limiter, the
/// watchdog told of every crossing between guest and host, and an epoch
/// deadline that yields every tick and stops a guest that has computed too
/// long.
pub(crate) fn guarded_store<T: Guarded>(engine: &Engine, data: T) -> Store<T> {
    let mut store = Store::new(engine, data);
    store.limiter(|s| &mut s.guards().limits);
    store.call_hook(|mut s, hook| {
        if let CallHook::CallingHost | CallHook::CallingWasm = hook {
            s.data_mut().guards().watchdog.host_call();
        }
        Ok(())
    });
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut s| {
        match s.data_mut().guards().watchdog.tick(Instant::now()) {
            Ok(()) => Ok(UpdateDeadline::Yield(1)),
            Err(message) => Err(wasmtime::format_err!(message)),
        }
    });
    store
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`], on a thread named
/// `name`, until the returned flag is set. Without the thread guests still
/// run; they only lose the watchdog and the periodic yield, so failing to
/// start it is not an error.
pub(crate) fn spawn_ticker(engine: Engine, name: &str) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
    drop(spawned);
    stop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values() {
        let l = Limits::default();
        assert_eq!(l.memory_bytes, 256 * 1024 * 1024);
        assert_eq!(l.max_busy, Some(Duration::from_secs(10)));
    }

    #[test]
    fn the_buffer_budget_is_half_the_memory_and_too_little_memory_is_refused() {
        let l = Limits::default();
        assert_eq!(l.buffer_budget(), 128 << 20);
        assert!(l.check().is_ok());
        let small = Limits {
            memory_bytes: MIN_MEMORY_BYTES - 1,
            ..Limits::default()
        };
        let message = small.check().unwrap_err().to_string();
        assert!(message.contains("Limits::memory_bytes"), "{message}");
        let smallest = Limits {
            memory_bytes: MIN_MEMORY_BYTES,
            ..Limits::default()
        };
        assert!(smallest.check().is_ok());
    }

    #[test]
    fn the_watchdog_stops_a_guest_that_only_computes() {
        let start = Instant::now();
        let mut w = Watchdog::new(Some(Duration::from_millis(100)));
        // Each tick is reached through the epoch check, one host call each.
        for i in 1..=10u64 {
            w.host_call();
            assert!(w.tick(start + Duration::from_millis(10 * i)).is_ok());
        }
        w.host_call();
        let err = w.tick(start + Duration::from_millis(200)).unwrap_err();
        assert!(err.contains("max_busy"), "{err}");
    }

    #[test]
    fn any_other_host_call_restarts_the_watchdog() {
        let start = Instant::now();
        let mut w = Watchdog::new(Some(Duration::from_millis(100)));
        for i in 1..=100u64 {
            w.host_call(); // a read, a write, a clock...
            w.host_call(); // the epoch check
            assert!(w.tick(start + Duration::from_millis(10 * i)).is_ok());
        }
    }

    #[test]
    fn entering_the_guest_again_after_a_wait_restarts_the_watchdog() {
        // A WASI 0.3 guest waits by returning to the event loop; the next
        // entry is the host calling it, not more computation.
        let start = Instant::now();
        let mut w = Watchdog::new(Some(Duration::from_millis(100)));
        w.host_call();
        assert!(w.tick(start).is_ok());
        w.host_call(); // the host calls the guest again, a second later
        w.host_call(); // the epoch check
        assert!(w.tick(start + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn no_limit_never_stops() {
        let start = Instant::now();
        let mut w = Watchdog::new(None);
        w.host_call();
        assert!(w.tick(start + Duration::from_secs(3600)).is_ok());
    }
}
