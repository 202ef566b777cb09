//! Running a command component (one that exports `wasi:cli/run`), such as
//! an application composed with the Spoke component, under a
//! [`NetworkPolicy`].
//!
//! A command exports `wasi:cli/run@0.2` (a synchronous `run`) or
//! `wasi:cli/run@0.3.0` (an `async` one, as an application for WASI 0.3
//! composed with the Spoke component for WASI 0.3 does: a synchronous export
//! may not wait for streams and futures). The 0.3 `run` is called inside
//! the store's event loop (`run_concurrent`). Both kinds see the same
//! arguments, environment and standard streams, through WASI 0.2's and
//! 0.3's interfaces alike.
//!
//! This module owns the command's WASI context (its arguments, environment
//! and standard streams) and turning `wasi:cli/exit` and traps into an exit
//! code. The engine, the deny-by-default socket checks and the [`Limits`]
//! are those of [`Spoke`](crate::Spoke) instances, from the same code. It never gives the command a
//! filesystem, UDP, or anything the policy does not allow.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use wasmtime::error::Context as _;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use crate::limits::Limits;
use crate::policy::{DenialLog, NetworkPolicy};
use crate::reader::ReaderStream;
use crate::runtime::{Loaded, Options, State};
use crate::writer::WriterStream;

/// A compiled command component, ready to run any number of times (each run
/// gets a fresh instance). Cloning is cheap; it is `Send + Sync`.
#[derive(Clone)]
pub struct CommandComponent {
    inner: Arc<Loaded<Run>>,
}

/// Which `wasi:cli/run` the command exports, ready to instantiate.
enum Run {
    /// `wasi:cli/run@0.2`: `run` is synchronous.
    P2(wasmtime_wasi::p2::bindings::CommandPre<State>),
    /// `wasi:cli/run@0.3.0`: `run` is `async`, called inside the event loop.
    P3(wasmtime_wasi::p3::bindings::CommandPre<State>),
}

impl std::fmt::Debug for CommandComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandComponent").finish_non_exhaustive()
    }
}

/// One run of a command: its arguments, environment, network policy,
/// limits and standard streams. Start from [`Invocation::new`].
///
/// By default standard input is empty, standard output and error go to the
/// host process's, the environment is empty and the policy denies
/// everything.
pub struct Invocation {
    args: Vec<String>,
    env: Vec<(String, String)>,
    policy: NetworkPolicy,
    limits: Limits,
    stdin: Option<ReaderStream>,
    stdout: Option<WriterStream>,
    stderr: Option<WriterStream>,
}

impl std::fmt::Debug for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Environment values may be secrets (a password for `--secure`).
        let names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Invocation")
            .field("args", &self.args)
            .field("env", &names)
            .field("policy", &self.policy)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Invocation {
    /// A run with these arguments, the program name first (as
    /// `wasi:cli/environment.get-arguments` returns them).
    pub fn new<S: AsRef<str>>(args: &[S]) -> Self {
        Self {
            args: args.iter().map(|a| a.as_ref().to_string()).collect(),
            env: Vec::new(),
            policy: NetworkPolicy::deny_all(),
            limits: Limits::default(),
            stdin: None,
            stdout: None,
            stderr: None,
        }
    }

    /// The network policy the command runs under.
    pub fn policy(mut self, policy: NetworkPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets one environment variable. The value is handed to the command
    /// as it is and never printed by this library (`Debug` shows names only).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// The limits of the run (memory per linear memory, and the watchdog).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Standard input: what `reader` yields, then end-of-stream. The
    /// command's reads poll `reader` on the command's own thread, so a
    /// reader with bytes ready hands them over without a wake-up.
    pub fn stdin(mut self, reader: impl AsyncRead + Send + Sync + 'static) -> Self {
        self.stdin = Some(ReaderStream::new(reader, "standard input"));
        self
    }

    /// Standard output goes to `writer`. The command's writes are handed
    /// to `writer` on the command's own thread; what it has not taken when
    /// the command ends is written and flushed before [`CommandComponent::run`]
    /// returns.
    pub fn stdout(mut self, writer: impl AsyncWrite + Send + Sync + 'static) -> Self {
        self.stdout = Some(WriterStream::new(writer, "standard output"));
        self
    }

    /// Standard error goes to `writer`, like [`Invocation::stdout`].
    pub fn stderr(mut self, writer: impl AsyncWrite + Send + Sync + 'static) -> Self {
        self.stderr = Some(WriterStream::new(writer, "standard error"));
        self
    }
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandExit {
    /// The exit code: 0 when `run` returned `ok`, 1 when it returned `err`,
    /// or the code given to `wasi:cli/exit`.
    pub code: i32,
    /// The last operation the network policy denied, explained in one line
    /// (what was denied and how to allow it), if any was.
    pub denied: Option<String>,
}

impl CommandExit {
    /// Whether the command succeeded (exit code 0).
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

impl CommandComponent {
    /// Compiles `component`, which must be a command: it exports
    /// `wasi:cli/run` (0.2 or 0.3.0) and imports nothing beyond WASI 0.2
    /// and 0.3 (an application composed with either Spoke component is
    /// one).
    pub fn new(component: &[u8]) -> anyhow::Result<Self> {
        Self::with_options(component, &Options::default())
    }

    /// [`CommandComponent::new`] with the compilation cache and allocator
    /// of `options` (a command-line tool that runs the same component often
    /// wants [`Options::with_user_cache`]). Its `limits` are not used: each
    /// [`Invocation`] has its own.
    pub fn with_options(component: &[u8], options: &Options) -> anyhow::Result<Self> {
        let loaded = Loaded::new(
            component,
            "command component",
            options,
            "spoke-command-epoch",
            |pre| match wasmtime_wasi::p3::bindings::CommandPre::new(pre.clone()) {
                Ok(p3) => Ok(Run::P3(p3)),
                Err(_) => wasmtime_wasi::p2::bindings::CommandPre::new(pre)
                    .map(Run::P2)
                    .context("the component does not export wasi:cli/run (0.2 or 0.3.0)"),
            },
        )?;
        Ok(Self {
            inner: Arc::new(loaded),
        })
    }

    /// Runs the command once, to its end. A trap (including one of the
    /// limits) is an error; `wasi:cli/exit` and `run`'s result are the
    /// [`CommandExit`]. Fails before running if the invocation's limits
    /// are too small ([`Limits::check`]).
    pub async fn run(&self, invocation: Invocation) -> anyhow::Result<CommandExit> {
        let Invocation {
            args,
            env,
            policy,
            limits,
            stdin,
            stdout,
            stderr,
        } = invocation;
        limits.check()?;
        let denial: DenialLog = Default::default();
        let mut builder = WasiCtxBuilder::new();
        builder.args(&args).envs(&env);
        match stdin {
            Some(s) => builder.stdin(s),
            None => builder.stdin(tokio::io::empty()),
        };
        let stdout =
            stdout.unwrap_or_else(|| WriterStream::new(tokio::io::stdout(), "standard output"));
        let stderr =
            stderr.unwrap_or_else(|| WriterStream::new(tokio::io::stderr(), "standard error"));
        builder.stdout(stdout.clone()).stderr(stderr.clone());
        let mut store = self.inner.store(builder, &policy, &denial, &limits);

        let result = match &self.inner.pre {
            Run::P2(pre) => {
                let command = pre
                    .instantiate_async(&mut store)
                    .await
                    .context("instantiating the command")?;
                command.wasi_cli_run().call_run(&mut store).await
            }
            Run::P3(pre) => {
                let command = pre
                    .instantiate_async(&mut store)
                    .await
                    .context("instantiating the command")?;
                store
                    .run_concurrent(async |store| command.wasi_cli_run().call_run(store).await)
                    .await
                    .and_then(|run| run)
            }
        };
        // What the command wrote and the writers have not taken yet.
        // Output that cannot be written is the command's loss, not a
        // failure of the run, as for a native process.
        let _ = stdout.finish().await;
        let _ = stderr.finish().await;
        let code = match result {
            Ok(Ok(())) => 0,
            Ok(Err(())) => 1,
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => exit.0,
                None => return Err(anyhow::anyhow!("the command trapped: {e:#}")),
            },
        };
        let denied = denial
            .lock()
            .ok()
            .and_then(|d| d.clone())
            .map(|d| policy.explain(&d));
        Ok(CommandExit { code, denied })
    }
}

/// Compiles `component` and runs it once with `args` (program name first)
/// under `policy`, standard input from `stdin` and standard output to
/// `stdout` (standard error is the host process's). To run a component
/// more than once, compile it once with [`CommandComponent::new`].
pub async fn run_command<S: AsRef<str>>(
    component: &[u8],
    args: &[S],
    policy: NetworkPolicy,
    stdin: impl AsyncRead + Send + Sync + 'static,
    stdout: impl AsyncWrite + Send + Sync + 'static,
) -> anyhow::Result<CommandExit> {
    let command = CommandComponent::new(component)?;
    command
        .run(
            Invocation::new(args)
                .policy(policy)
                .stdin(stdin)
                .stdout(stdout),
        )
        .await
}
