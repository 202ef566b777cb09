//! The loaded component: one wasmtime engine, linker and pre-instantiated
//! component, shared by every instance.
//!
//! This module owns compiling the embedded Spoke component (once), the
//! engine configuration (async, epoch interruption, the optional pooling
//! allocator and on-disk compilation cache), the epoch ticker thread, and
//! building a fresh `Store` per instance. Command components
//! ([`crate::command`]) are loaded and given their stores by the same code,
//! so both run under the same socket checks and limits. It never runs a
//! flow operation.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::ComponentPre;
use crate::instance::Instance;
use crate::limits::{BUFFER_BUDGET_VARIABLE, Guarded, Guards, Limits, guarded_store, spawn_ticker};
use crate::policy::{DenialLog, NetworkPolicy, denial_of};

/// The Spoke component's bytes, built by `host/build.rs`.
pub const COMPONENT: &[u8] = include_bytes!(env!("SPOKE_COMPONENT_PATH"));

/// The Spoke component for WASI 0.3 (`spoke:flow@0.2.0`, built from `p3/`
/// by `host/build.rs`), for composing applications that use the 0.3
/// interfaces.
pub const COMPONENT_P3: &[u8] = include_bytes!(env!("SPOKE_P3_COMPONENT_PATH"));

/// How to set up a [`Spoke`]. `Options::default()` is what [`Spoke::new`] uses.
///
/// Measured on a 2-core x86-64 machine: compiling the component takes about
/// 110 ms, loading it from a warm cache about 5 ms; an instance takes about
/// 35 us to create (17 us with pooling).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The limits every instance gets unless
    /// [`Spoke::instantiate_with`] says otherwise.
    pub limits: Limits,
    /// Keep compiled code in this directory (wasmtime's compilation cache),
    /// so that a later process with the same component and wasmtime skips
    /// compiling. `None` (the default) compiles in memory every time.
    pub cache_dir: Option<PathBuf>,
    /// Use wasmtime's pooling allocator: instance memories are reserved up
    /// front and reused, which makes creating many short-lived instances
    /// cheaper at the price of address space. Off by default.
    pub pooling: bool,
}

impl Options {
    /// Options that keep compiled code in the user's cache directory
    /// (`$XDG_CACHE_HOME/spoke`, else `$HOME/.cache/spoke`), for programs
    /// that start often, such as a command-line tool. Without either
    /// variable this is `Options::default()`.
    pub fn with_user_cache() -> Self {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            });
        Self {
            cache_dir: base.map(|b| b.join("spoke")),
            ..Self::default()
        }
    }
}

/// The engine for `options`: the component model, epoch interruption for
/// the watchdog, and the compilation cache and pooling allocator if asked.
fn engine(options: &Options) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // WASI 0.3 (streams, futures and `async` functions): the 0.3 component
    // and the applications composed with it need it; the rest never notice.
    config.wasm_component_model_async(true);
    config.epoch_interruption(true);
    // `SPOKE_PERFMAP=1`: name the compiled guest functions for `perf`
    // (in /tmp/perf-<pid>.map), as `wasmtime run --profile perfmap` does.
    if std::env::var_os("SPOKE_PERFMAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if let Some(dir) = &options.cache_dir {
        let mut cache = wasmtime::CacheConfig::new();
        cache.with_directory(dir);
        config.cache(Some(
            wasmtime::Cache::new(cache).context("setting up the compilation cache")?,
        ));
    }
    if options.pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.max_memory_size(options.limits.memory_bytes);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(Engine::new(&config).context("creating the wasmtime engine")?)
}

/// The compiled Spoke component, ready to instantiate. Cloning is cheap
/// (shared); it is `Send + Sync`, so one value can serve a whole server.
#[derive(Clone)]
pub struct Spoke {
    inner: Arc<Inner>,
}

struct Inner {
    loaded: Loaded<ComponentPre<State>>,
    limits: Limits,
}

/// A compiled and linked component (`P`, its typed pre-instance) with its
/// engine and the engine's epoch ticker, which stops when this is dropped.
pub(crate) struct Loaded<P> {
    engine: Engine,
    /// The component, linked with WASI and ready to instantiate.
    pub(crate) pre: P,
    ticker: Arc<AtomicBool>,
}

impl<P> Drop for Loaded<P> {
    fn drop(&mut self) {
        self.ticker.store(true, Ordering::Relaxed);
    }
}

impl<P> Loaded<P> {
    /// Compiles `bytes` (named `what` in errors) on an engine for `options`,
    /// links it with WASI, checks its exports with `typed`, and starts the
    /// epoch ticker on a thread named `ticker`.
    pub(crate) fn new(
        bytes: &[u8],
        what: &str,
        options: &Options,
        ticker: &str,
        typed: impl FnOnce(InstancePre<State>) -> wasmtime::Result<P>,
    ) -> anyhow::Result<Self> {
        let engine = engine(options)?;
        let component =
            Component::new(&engine, bytes).with_context(|| format!("compiling the {what}"))?;
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).context("linking WASI 0.2")?;
        wasmtime_wasi::p3::add_to_linker(&mut linker).context("linking WASI 0.3")?;
        let pre = linker
            .instantiate_pre(&component)
            .with_context(|| format!("linking the {what}"))?;
        let pre = typed(pre)?;
        let ticker = spawn_ticker(engine.clone(), ticker);
        Ok(Self {
            engine,
            pre,
            ticker,
        })
    }

    /// A fresh store for one instance or run: WASI from `wasi` (which may
    /// already hold a command's arguments and streams) with TCP only,
    /// through `policy`, recording its last denial in `denial`; guarded by
    /// `limits`, whose buffer budget the Spoke component reads from the
    /// environment (a command's own environment may set it first, and
    /// then its value is the one the component sees).
    pub(crate) fn store(
        &self,
        mut wasi: WasiCtxBuilder,
        policy: &NetworkPolicy,
        denial: &DenialLog,
        limits: &Limits,
    ) -> Store<State> {
        let check_policy = policy.clone();
        let log = denial.clone();
        wasi.env(BUFFER_BUDGET_VARIABLE, limits.buffer_budget().to_string());
        wasi.allow_tcp(true)
            .allow_udp(false)
            .allow_ip_name_lookup(policy.name_lookup_allowed())
            .socket_addr_check(move |addr, usage| {
                let allowed = check_policy.permits(addr, usage);
                if !allowed && let Ok(mut last) = log.lock() {
                    *last = Some(denial_of(addr, usage));
                }
                Box::pin(async move { allowed })
            });
        let state = State {
            ctx: wasi.build(),
            table: ResourceTable::new(),
            guards: Guards::new(limits),
        };
        guarded_store(&self.engine, state)
    }
}

impl std::fmt::Debug for Spoke {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spoke")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl Spoke {
    /// Compiles the embedded component with the default [`Options`].
    pub fn new() -> anyhow::Result<Self> {
        Self::with_options(Options::default())
    }

    /// Compiles the embedded component with `options`. Fails if
    /// `options.limits` are too small to run it ([`Limits::check`]).
    pub fn with_options(options: Options) -> anyhow::Result<Self> {
        options.limits.check()?;
        let loaded = Loaded::new(
            COMPONENT,
            "Spoke component",
            &options,
            "spoke-epoch",
            |pre| ComponentPre::new(pre).context("checking the Spoke component's exports"),
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                loaded,
                limits: options.limits,
            }),
        })
    }

    /// A new instance with its own memory and sockets, restricted by `policy`,
    /// with the default limits.
    pub async fn instantiate(&self, policy: NetworkPolicy) -> anyhow::Result<Instance> {
        self.instantiate_with(policy, self.inner.limits.clone())
            .await
    }

    /// A new instance restricted by `policy` and `limits`. Fails if
    /// `limits` are too small to run it ([`Limits::check`]).
    pub async fn instantiate_with(
        &self,
        policy: NetworkPolicy,
        limits: Limits,
    ) -> anyhow::Result<Instance> {
        limits.check()?;
        let denial: DenialLog = Default::default();
        // No files, no stdio, no environment but the buffer budget: only
        // the policy's TCP.
        let loaded = &self.inner.loaded;
        let mut store = loaded.store(WasiCtxBuilder::new(), &policy, &denial, &limits);
        let bindings = loaded
            .pre
            .instantiate_async(&mut store)
            .await
            .context("instantiating the Spoke component")?;
        Ok(Instance::new(store, bindings, policy, denial, self.clone()))
    }

    /// The limits instances get by default.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }
}

/// What each `Store` holds, for a Spoke instance and a command alike.
pub(crate) struct State {
    ctx: WasiCtx,
    pub(crate) table: ResourceTable,
    guards: Guards,
}

impl Guarded for State {
    fn guards(&mut self) -> &mut Guards {
        &mut self.guards
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}
