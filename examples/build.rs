//! Builds the example applications (`examples/apps`, their own workspace)
//! for `wasm32-wasip2` and composes each with the Spoke component into one
//! command component, so that `cargo build` and `cargo test` alone produce
//! runnable `.wasm` files on a fresh machine (no extra command-line tool).
//!
//! The Spoke component comes from `spoke-host`'s build script (its `links`
//! metadata, `DEP_SPOKE_COMPONENT_WASM`). Composition uses `wac-graph`: the
//! Spoke component's exports are plugged into the application's
//! `spoke:flow` imports; every other import (WASI) of either stays an import
//! of the result, and the application's `wasi:cli/run` is its export. The
//! result is validated with `wasmparser` before anything uses it.
//!
//! Outputs: `SPOKE_CAT_WASM` / `ECHO_SERVER_WASM` (composed) and
//! `SPOKE_CAT_APP_WASM` / `ECHO_SERVER_APP_WASM` (the applications alone),
//! as paths in `OUT_DIR`; the composed files are also copied to
//! `target/examples/` for people who want to run them by hand.

#[path = "../host/wasm_build.rs"]
mod wasm_build;

#[path = "compose.rs"]
mod compose;

use std::env;
use std::path::{Path, PathBuf};

use compose::{compose, validate};
use wasm_build::TARGET;

/// (crate name, file stem, environment variable prefix)
const APPS: [(&str, &str, &str); 2] = [
    ("spoke-cat", "spoke_cat", "SPOKE_CAT"),
    ("echo-server", "echo_server", "ECHO_SERVER"),
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("examples/ lives inside the workspace")
        .to_path_buf();
    let apps = manifest_dir.join("apps");
    for watched in [
        "Cargo.toml",
        "Cargo.lock",
        "wit",
        "spoke-app",
        "spoke-cat",
        "echo-server",
    ] {
        println!("cargo:rerun-if-changed={}", apps.join(watched).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join(".cargo/config.toml").display()
    );

    let spoke_path = PathBuf::from(
        env::var_os("DEP_SPOKE_COMPONENT_WASM")
            .expect("spoke-host's build script gives the component's path"),
    );
    println!("cargo:rerun-if-changed={}", spoke_path.display());
    let spoke = read(&spoke_path);

    let target_root = wasm_build::target_root(&root);
    let target_dir = target_root.join("guest");
    wasm_build::cargo_build_wasm(
        &apps,
        &target_dir,
        &["--workspace"],
        "the example applications",
    );

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let shared = target_root.join("examples");
    let _ = std::fs::create_dir_all(&shared);
    for (_, stem, var) in APPS {
        let app_path = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("{stem}.wasm"));
        let app = read(&app_path);
        validate(&app)
            .unwrap_or_else(|e| panic!("{} is not a valid component: {e}", app_path.display()));
        let composed = compose(&spoke, &app)
            .unwrap_or_else(|e| panic!("composing {stem} with the Spoke component: {e:#}"));
        validate(&composed)
            .unwrap_or_else(|e| panic!("the composition of {stem} is not a valid component: {e}"));

        let app_out = out_dir.join(format!("{stem}.app.wasm"));
        let composed_out = out_dir.join(format!("{stem}.wasm"));
        write(&app_out, &app);
        write(&composed_out, &composed);
        // Best effort: a convenience copy, not what the tests use.
        let _ = std::fs::write(
            shared.join(format!("{}.wasm", stem.replace('_', "-"))),
            &composed,
        );
        println!("cargo:rustc-env={var}_WASM={}", composed_out.display());
        println!("cargo:rustc-env={var}_APP_WASM={}", app_out.display());
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
