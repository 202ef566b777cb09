//! The example applications, composed with the Spoke component into
//! runnable command components by this package's build script.
//!
//! - `spoke-cat HOST PORT [--secure PASSWORD_ENV]`: a netcat; standard input
//!   to the flow and the flow to standard output.
//! - `echo-server ADDR PORT [--max-clients N] [--connections N]`: echoes to
//!   several clients at once, waiting on every flow with `wasi:io/poll`.
//!
//! - `p3-cat [--listen] HOST PORT [--secure PASSWORD_ENV]`: the netcat for
//!   WASI 0.3 (`spoke:flow@0.2.0`); it hands standard input's stream to the
//!   connection or session and the received stream to standard output.
//! - `p3-pair [--size BYTES] [--version 1|2] [--ciphers S2C,C2S]
//!   [--wrong-password]`: a client and a server session in one component
//!   over in-memory streams, every byte checked.
//!
//! Each composed component imports only WASI (sockets, streams, CLI) and
//! exports `wasi:cli/run`: run it with `spoke_host::run_command` (under a
//! network policy) or with `wasmtime run -S inherit-network ...` (the WASI
//! 0.3 ones with `wasmtime run -S p3 -S inherit-network ...`). Sources:
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

/// `p3-cat` composed with the Spoke component for WASI 0.3.
pub const P3_CAT: &[u8] = include_bytes!(env!("P3_CAT_WASM"));
/// `p3-pair` composed with the Spoke component for WASI 0.3.
pub const P3_PAIR: &[u8] = include_bytes!(env!("P3_PAIR_WASM"));

/// Where the composed `p3-cat` was written.
pub const P3_CAT_PATH: &str = env!("P3_CAT_WASM");
/// Where the composed `p3-pair` was written.
pub const P3_PAIR_PATH: &str = env!("P3_PAIR_WASM");

/// `p3-cat` alone: it imports `spoke:flow@0.2.0`, so it needs composing
/// before it can run.
pub const P3_CAT_APP: &[u8] = include_bytes!(env!("P3_CAT_APP_WASM"));
/// `p3-pair` alone, before composition.
pub const P3_PAIR_APP: &[u8] = include_bytes!(env!("P3_PAIR_APP_WASM"));
