//! The example applications, composed with the Spoke component into
//! runnable command components by this package's build script.
//!
//! - `spoke-cat HOST PORT [--secure PASSWORD_ENV]`: a netcat; standard input
//!   to the flow and the flow to standard output.
//! - `echo-server ADDR PORT [--max-clients N] [--connections N]`: echoes to
//!   several clients at once, waiting on every flow with `wasi:io/poll`.
//!
//! Each composed component imports only WASI (sockets, streams, CLI) and
//! exports `wasi:cli/run`: run it with `spoke_host::run_command` (under a
//! network policy) or with `wasmtime run -S inherit-network ...`. Sources:
//! `examples/apps/`.

#![forbid(unsafe_code)]

/// `spoke-cat` composed with the Spoke component.
pub const SPOKE_CAT: &[u8] = include_bytes!(env!("SPOKE_CAT_WASM"));
/// `echo-server` composed with the Spoke component.
pub const ECHO_SERVER: &[u8] = include_bytes!(env!("ECHO_SERVER_WASM"));

/// Where the composed `spoke-cat` was written (for running it with another
/// host, such as the `wasmtime` command).
pub const SPOKE_CAT_PATH: &str = env!("SPOKE_CAT_WASM");
/// Where the composed `echo-server` was written.
pub const ECHO_SERVER_PATH: &str = env!("ECHO_SERVER_WASM");

/// `spoke-cat` alone: it imports `spoke:flow`, so it needs composing (or a
/// host that provides those interfaces) before it can run.
pub const SPOKE_CAT_APP: &[u8] = include_bytes!(env!("SPOKE_CAT_APP_WASM"));
/// `echo-server` alone, before composition.
pub const ECHO_SERVER_APP: &[u8] = include_bytes!(env!("ECHO_SERVER_APP_WASM"));
