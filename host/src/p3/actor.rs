//! The task that owns one instance's `Store` for its whole life, and the
//! [`Link`] through which the rest of the library asks it to do things.
//!
//! A WASI 0.3 guest keeps working after its calls return: the directions of
//! a connection or a session are guest tasks (and host-to-host copies)
//! that the store's event loop runs. So one tokio task runs
//! `store.run_concurrent` for as long as any handle on the instance lives,
//! and takes *jobs* over a channel: each job is an async closure given the
//! `Accessor` and the bindings, spawned into the event loop so that jobs run
//! concurrently (an `accept` waiting does not hold up a `connect`).
//!
//! Owns: the store, the end of the instance (when every handle is gone, or
//! when the event loop fails), and recording why it failed. A job that
//! returns `Err` (a trap, a limit, a host failure) stops the whole instance:
//! every waiting call gets [`FlowError::Trap`] and every pipe fails with it.
//! Never decides what a job does (see `instance.rs`, `stream.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use wasmtime::Store;
use wasmtime::component::{Accessor, ResourceAny};

use super::bindings::Component;
use super::pipe::{Pipe, WeakPipe};
use crate::error::FlowError;
use crate::runtime::State;

/// A boxed future, as jobs return.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the instance's task runs: given the event loop's accessor and the
/// bindings. `Err` stops the instance.
type Job = Box<
    dyn for<'a> FnOnce(&'a Accessor<State>, &'a Component) -> BoxFuture<'a, wasmtime::Result<()>>
        + Send,
>;

/// How long an instance whose handles are all gone keeps running, so that
/// directions already ended by the host (a dropped writer) can hand their
/// last bytes on.
const WIND_DOWN: Duration = Duration::from_secs(5);

/// How often the wind-down looks at the pipes.
const WIND_DOWN_POLL: Duration = Duration::from_millis(10);

/// What the task and every handle share.
#[derive(Default)]
struct Shared {
    /// Why the instance stopped, once it has failed.
    failure: Mutex<Option<String>>,
    /// Every pipe of the instance, to fail them all if it stops.
    pipes: Mutex<Vec<WeakPipe>>,
}

/// A handle on a running instance: sends it jobs and keeps it alive.
#[derive(Clone)]
pub(crate) struct Link {
    jobs: mpsc::UnboundedSender<Job>,
    shared: Arc<Shared>,
}

/// A [`Link`] that does not keep the instance alive, for jobs that make
/// handles: a job still waiting when every handle is gone must not keep its
/// instance running.
pub(crate) struct WeakLink {
    jobs: mpsc::WeakUnboundedSender<Job>,
    shared: Arc<Shared>,
}

/// Starts the task that runs `store` with the instantiated `component`,
/// keeping `keep` (what the store needs alive, such as the engine's epoch
/// ticker) until it ends.
pub(crate) fn start(store: Store<State>, component: Component, keep: impl Send + 'static) -> Link {
    let (jobs, queue) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    let task = run(store, component, queue, shared.clone());
    tokio::spawn(async move {
        task.await;
        drop(keep);
    });
    Link { jobs, shared }
}

/// The instance's task: the event loop, then the end of every pipe.
async fn run(
    mut store: Store<State>,
    component: Component,
    mut queue: mpsc::UnboundedReceiver<Job>,
    shared: Arc<Shared>,
) {
    let component = Arc::new(component);
    let result = store
        .run_concurrent(async |accessor| -> wasmtime::Result<()> {
            while let Some(job) = queue.recv().await {
                let component = component.clone();
                accessor.spawn(async move |accessor: &Accessor<State>| {
                    job(accessor, &component).await
                })?;
            }
            wind_down(&shared).await;
            Ok(())
        })
        .await;
    // Calls not yet started fail at once from here on.
    queue.close();
    let failure = match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) | Err(e) => Some(format!("{e:#}")),
    };
    let error = match &failure {
        Some(why) => FlowError::Trap(why.clone()),
        None => FlowError::Other("the Spoke instance was dropped".into()),
    };
    if let Some(why) = failure
        && let Ok(mut f) = shared.failure.lock()
    {
        *f = Some(why);
    }
    let pipes = shared
        .pipes
        .lock()
        .map(|mut p| std::mem::take(&mut *p))
        .unwrap_or_default();
    for pipe in pipes {
        pipe.fail(error.clone());
    }
    // Dropping the store frees the sockets, so peers see the connections end.
    drop(store);
}

/// Waits, for at most [`WIND_DOWN`], until every pipe has settled.
async fn wind_down(shared: &Shared) {
    let start = Instant::now();
    while start.elapsed() < WIND_DOWN {
        let settled = shared
            .pipes
            .lock()
            .map(|p| p.iter().all(WeakPipe::is_settled))
            .unwrap_or(true);
        if settled {
            return;
        }
        tokio::time::sleep(WIND_DOWN_POLL).await;
    }
}

impl Link {
    /// A link that does not keep the instance alive.
    pub(crate) fn downgrade(&self) -> WeakLink {
        WeakLink {
            jobs: self.jobs.downgrade(),
            shared: self.shared.clone(),
        }
    }

    /// Why the instance stopped, if it failed.
    pub(crate) fn failure(&self) -> Option<String> {
        self.shared.failure.lock().ok().and_then(|f| f.clone())
    }

    /// The error of a call the instance can no longer answer.
    pub(crate) fn gone(&self) -> FlowError {
        FlowError::Trap(match self.failure() {
            Some(why) => format!("the instance is unusable: {why}"),
            None => "the instance is unusable: it stopped".into(),
        })
    }

    /// Makes `pipe` one of the instance's, to fail if it stops; fails it at
    /// once if it already has.
    pub(crate) fn register(&self, pipe: &Pipe) {
        if self.jobs.is_closed() {
            pipe.fail(self.gone());
            return;
        }
        if let Ok(mut pipes) = self.shared.pipes.lock() {
            pipes.retain(|p| !p.is_gone());
            pipes.push(pipe.downgrade());
        }
    }

    /// Runs `job` in the instance and returns its value. `Err` from the job
    /// (a trap) stops the instance and comes back as [`FlowError::Trap`].
    ///
    /// Dropping the returned future does not stop the job: it runs to its
    /// end and its value is dropped.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        job: impl for<'a> FnOnce(
            &'a Accessor<State>,
            &'a Component,
        ) -> BoxFuture<'a, wasmtime::Result<R>>
        + Send
        + 'static,
    ) -> Result<R, FlowError> {
        let (reply, answer) = oneshot::channel();
        self.spawn(move |accessor, component| {
            Box::pin(async move {
                match job(accessor, component).await {
                    Ok(value) => {
                        let _ = reply.send(Ok(value));
                        Ok(())
                    }
                    Err(e) => {
                        let _ = reply.send(Err(format!("{e:#}")));
                        Err(e)
                    }
                }
            })
        })?;
        match answer.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(why)) => Err(FlowError::Trap(why)),
            Err(_) => Err(self.gone()),
        }
    }

    /// Queues `job` without waiting for it.
    pub(crate) fn spawn(
        &self,
        job: impl for<'a> FnOnce(
            &'a Accessor<State>,
            &'a Component,
        ) -> BoxFuture<'a, wasmtime::Result<()>>
        + Send
        + 'static,
    ) -> Result<(), FlowError> {
        self.jobs.send(Box::new(job)).map_err(|_| self.gone())
    }

    /// Drops a guest resource (its destructor runs in the instance). For
    /// handles' `Drop`: never waits, and a failure only means the instance
    /// is gone, with the resource.
    pub(crate) fn release(&self, resource: ResourceAny) {
        let _ = self.spawn(move |accessor, _| {
            Box::pin(async move {
                let _ = resource.resource_drop_concurrent(accessor).await;
                Ok(())
            })
        });
    }
}

impl WeakLink {
    /// The error of a call the instance can no longer answer.
    pub(crate) fn gone(&self) -> FlowError {
        FlowError::Trap(
            match self.shared.failure.lock().ok().and_then(|f| f.clone()) {
                Some(why) => format!("the instance is unusable: {why}"),
                None => "the instance is unusable: it stopped".into(),
            },
        )
    }

    /// A link that keeps the instance alive, unless every handle is gone.
    pub(crate) fn upgrade(&self) -> Option<Link> {
        Some(Link {
            jobs: self.jobs.upgrade()?,
            shared: self.shared.clone(),
        })
    }
}
