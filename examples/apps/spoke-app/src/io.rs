//! The command line and the standard streams, straight over `wasi:cli`.
//!
//! Writes go through `check-write`/`write` in chunks as large as the host
//! accepts (never the 4096-byte `blocking-write-and-flush`), so that moving
//! bulk data costs one copy per chunk and no more. Nothing here panics.

use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

/// The program's arguments, without the program name.
pub fn args() -> Vec<String> {
    let mut args = wasip2::cli::environment::get_arguments();
    if !args.is_empty() {
        args.remove(0);
    }
    args
}

/// The value of the environment variable `name`, if it is set.
pub fn env_var(name: &str) -> Option<String> {
    wasip2::cli::environment::get_environment()
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Standard input, read without blocking so that it can be polled together
/// with flows.
pub struct Input {
    // Declared first: the pollable is the stream's child and is dropped first.
    ready: Pollable,
    stream: InputStream,
}

impl Input {
    /// The program's standard input.
    pub fn stdin() -> Self {
        let stream = wasip2::cli::stdin::get_stdin();
        Self {
            ready: stream.subscribe(),
            stream,
        }
    }

    /// Ready when `read` would return data or the end of the stream.
    pub fn pollable(&self) -> &Pollable {
        &self.ready
    }

    /// Up to `max` bytes that are already there (possibly none), or `None`
    /// at the end of the stream.
    pub fn read(&self, max: u64) -> Result<Option<Vec<u8>>, String> {
        match self.stream.read(max) {
            Ok(data) => Ok(Some(data)),
            Err(StreamError::Closed) => Ok(None),
            Err(StreamError::LastOperationFailed(e)) => Err(e.to_debug_string()),
        }
    }
}

/// Standard output or standard error.
pub struct Output {
    stream: OutputStream,
}

impl Output {
    /// The program's standard output.
    pub fn stdout() -> Self {
        Self {
            stream: wasip2::cli::stdout::get_stdout(),
        }
    }

    /// The program's standard error.
    pub fn stderr() -> Self {
        Self {
            stream: wasip2::cli::stderr::get_stderr(),
        }
    }

    /// Writes every byte of `data`. Call [`Output::start_flush`] (or
    /// [`Output::flush`]) before waiting for anything else, so that what was
    /// written is not held back; not flushing after every write lets the host
    /// take the next write while it still writes the previous one.
    pub fn write_all(&self, mut data: &[u8]) -> Result<(), String> {
        while !data.is_empty() {
            let permitted = self.stream.check_write().map_err(describe)?;
            if permitted == 0 {
                self.stream.subscribe().block();
                continue;
            }
            let n = usize::try_from(permitted)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let (now, rest) = data.split_at(n);
            self.stream.write(now).map_err(describe)?;
            data = rest;
        }
        Ok(())
    }

    /// Starts flushing what was written, without waiting (the next write
    /// or [`Output::flush`] waits for it).
    pub fn start_flush(&self) -> Result<(), String> {
        self.stream.flush().map_err(describe)
    }

    /// Waits until everything written has been flushed.
    pub fn flush(&self) -> Result<(), String> {
        self.stream.blocking_flush().map_err(describe)
    }

    /// Writes `line` and a newline, and flushes; failures are ignored (there
    /// is nowhere left to report them).
    pub fn line(&self, line: &str) {
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        let _ = self.write_all(text.as_bytes());
        let _ = self.flush();
    }
}

fn describe(e: StreamError) -> String {
    match e {
        StreamError::Closed => "the stream is closed".to_string(),
        StreamError::LastOperationFailed(e) => e.to_debug_string(),
    }
}

/// Waits until at least one of `pollables` is ready and returns the indices
/// of the ready ones.
pub fn wait(pollables: &[&Pollable]) -> Vec<u32> {
    wasip2::io::poll::poll(pollables)
}
