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
//! The applications for WASI 0.3 (`p3-cat`, `p3-pair`) import
//! `spoke:flow@0.2.0`, export `wasi:cli/run@0.3.0`, and are composed the
//! same way with the Spoke component for WASI 0.3
//! (`DEP_SPOKE_COMPONENT_WASM_P3`).
//!
//! Outputs: `SPOKE_CAT_WASM` / `ECHO_SERVER_WASM` / `P3_CAT_WASM` /
//! `P3_PAIR_WASM` (composed) and `SPOKE_CAT_APP_WASM` /
//! `ECHO_SERVER_APP_WASM` / `P3_CAT_APP_WASM` / `P3_PAIR_APP_WASM` (the
//! applications alone), as paths in `OUT_DIR`; the composed files are also
//! copied to `target/examples/` for people who want to run them by hand.

#[path = "../host/wasm_build.rs"]
mod wasm_build;

#[path = "compose.rs"]
mod compose;

use std::env;
use std::path::{Path, PathBuf};

use compose::{compose, validate};
use wasm_build::TARGET;

/// Which Spoke component an application is composed with.
#[derive(Clone, Copy)]
enum Flavour {
    /// `spoke:flow@0.1.0`, for WASI 0.2.
    P2,
    /// `spoke:flow@0.2.0`, for WASI 0.3.
    P3,
}

/// (file stem, environment variable prefix, the Spoke component it is
/// composed with)
const APPS: [(&str, &str, Flavour); 4] = [
    ("spoke_cat", "SPOKE_CAT", Flavour::P2),
    ("echo_server", "ECHO_SERVER", Flavour::P2),
    ("p3_cat", "P3_CAT", Flavour::P3),
    ("p3_pair", "P3_PAIR", Flavour::P3),
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
        "spoke-app-p3",
        "p3-cat",
        "p3-pair",
    ] {
        println!("cargo:rerun-if-changed={}", apps.join(watched).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join(".cargo/config.toml").display()
    );

    let spoke_component = |var: &str| {
        let path = PathBuf::from(
            env::var_os(var).expect("spoke-host's build script gives the components' paths"),
        );
        println!("cargo:rerun-if-changed={}", path.display());
        read(&path)
    };
    let spoke_p2 = spoke_component("DEP_SPOKE_COMPONENT_WASM");
    let spoke_p3 = spoke_component("DEP_SPOKE_COMPONENT_WASM_P3");

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
    for (stem, var, flavour) in APPS {
        let spoke = match flavour {
            Flavour::P2 => &spoke_p2,
            Flavour::P3 => &spoke_p3,
        };
        let app_path = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("{stem}.wasm"));
        let app = read(&app_path);
        validate(&app)
            .unwrap_or_else(|e| panic!("{} is not a valid component: {e}", app_path.display()));
        let composed = compose(spoke, &app)
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
