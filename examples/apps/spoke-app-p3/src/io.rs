//! The command line and the standard streams over `wasi:cli@0.3.0`, and
//! running an application's async `main`.
//!
//! Standard input and output are streams: an application hands them to
//! Spoke's `send` and from Spoke's `receive` as they are, and never reads
//! their bytes itself. Nothing here panics.

use std::future::Future;

use crate::bindings::wasi::cli::types::ErrorCode;
use crate::bindings::wasi::cli::{environment, stderr, stdin, stdout};
use crate::{FutureReader, StreamReader, wit_stream};

/// How a standard stream ended: `ok`, or the error that cut it short.
pub type StdioEnding = FutureReader<Result<(), ErrorCode>>;

/// Runs `main` to its end and turns its outcome into what `run` returns:
/// on an error, one line `NAME: MESSAGE` on standard error and `err` (exit
/// status 1).
// `Result<(), ()>` is what `wasi:cli/run@0.3.0`'s `run` returns.
#[allow(clippy::result_unit_err)]
pub async fn run(name: &str, main: impl Future<Output = Result<(), String>>) -> Result<(), ()> {
    match main.await {
        Ok(()) => Ok(()),
        Err(message) => {
            eprint_line(&format!("{name}: {message}")).await;
            Err(())
        }
    }
}

/// The program's arguments, without the program name.
pub fn args() -> Vec<String> {
    let mut args = environment::get_arguments();
    if !args.is_empty() {
        args.remove(0);
    }
    args
}

/// The value of the environment variable `name`, if it is set.
pub fn env_var(name: &str) -> Option<String> {
    environment::get_environment()
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Standard input as a stream, and the future that says how it ended.
pub fn stdin() -> (StreamReader<u8>, StdioEnding) {
    stdin::read_via_stream()
}

/// Writes everything `data` yields to standard output; the future says
/// when it is all written, or why not.
pub fn stdout(data: StreamReader<u8>) -> StdioEnding {
    stdout::write_via_stream(data)
}

/// Writes `line` and a newline to standard output.
pub async fn print_line(line: &str) -> Result<(), String> {
    write_line(stdout::write_via_stream, line)
        .await
        .map_err(|e| format!("writing standard output: {}", stdio_error(e)))
}

/// Writes `line` and a newline to standard error; failures are ignored
/// (there is nowhere left to report them).
pub async fn eprint_line(line: &str) {
    let _ = write_line(stderr::write_via_stream, line).await;
}

/// Writes `line` and a newline through a stream handed to `to`, and waits
/// until it is written.
async fn write_line(to: fn(StreamReader<u8>) -> StdioEnding, line: &str) -> Result<(), ErrorCode> {
    let (mut writer, reader) = wit_stream::new::<u8>();
    let written = to(reader);
    let mut text = Vec::with_capacity(line.len() + 1);
    text.extend_from_slice(line.as_bytes());
    text.push(b'\n');
    // What is left unwritten, if the host stopped reading, shows up as the
    // error `written` resolves to.
    let _ = writer.write_all(text).await;
    drop(writer);
    written.await
}

/// A standard stream's error as words.
pub fn stdio_error(e: ErrorCode) -> &'static str {
    match e {
        ErrorCode::Io => "input/output error",
        ErrorCode::IllegalByteSequence => "illegal byte sequence",
        ErrorCode::Pipe => "broken pipe",
    }
}
