//! Runs a `wasm32-wasip2` command component under wasmtime with the
//! caller's arguments, environment, standard streams and current directory
//! (preopened as `.` and under its absolute path).
//!
//! It is the cargo runner for the tests inside wasm of the protocol core,
//! the AEADs and both guest components (WASI 0.2 and 0.3 are linked):
//! `CARGO_TARGET_WASM32_WASIP2_RUNNER=target/release/wasm-run cargo test -p spoke -p spoke-p3 -p spoke-protocol -p spoke-aead --target wasm32-wasip2`.
//! It grants no network access.

#![forbid(unsafe_code)]

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Result, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

struct State {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or_else(|| wasmtime::Error::msg("usage: wasm-run COMPONENT.wasm [ARGS...]"))?;
    // The WASI 0.3 component's tests carry its async exports and imports.
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    let engine = Engine::new(&config)?;
    let component = Component::from_file(&engine, path)?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    let mut builder = WasiCtxBuilder::new();
    builder
        .inherit_stdio()
        .args(&args)
        .envs(&std::env::vars().collect::<Vec<_>>());
    // The current directory, both as "." and under its absolute path, so tests
    // that locate data through CARGO_MANIFEST_DIR find it.
    builder.preopened_dir(".", ".", FsPerms::ReadWrite)?;
    let cwd = std::env::current_dir()?;
    builder.preopened_dir(&cwd, cwd.to_string_lossy(), FsPerms::ReadWrite)?;
    let mut store = Store::new(
        &engine,
        State {
            ctx: builder.build(),
            table: ResourceTable::new(),
        },
    );
    let command = Command::instantiate_async(&mut store, &component, &linker).await?;
    let outcome = command.wasi_cli_run().call_run(&mut store).await?;
    std::process::exit(if outcome.is_ok() { 0 } else { 1 });
}
