//! What the build scripts that run a nested cargo for `wasm32-wasip2`
//! share: `host/build.rs`, and `examples/build.rs` through `#[path]`. Owns
//! where the outer build's target directory is and how a nested release
//! build for the target is run, cleared of the outer build's settings.
//! Must never be used outside a build script: it panics on failure, which
//! is how a build script reports one.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the nested builds are for.
pub const TARGET: &str = "wasm32-wasip2";

/// The outer build's target directory: `CARGO_TARGET_DIR` (relative to
/// `root`, the workspace's directory, unless absolute), else `root/target`.
pub fn target_root(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"))
}

/// Runs `cargo build --release --locked --target wasm32-wasip2` and `args`
/// in `dir`, into `target_dir`; panics naming `what` if it fails.
pub fn cargo_build_wasm(dir: &Path, target_dir: &Path, args: &[&str], what: &str) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(dir)
        .args(["build", "--release", "--locked", "--target", TARGET])
        .args(args)
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's flags, wrappers and package are the host's, not the
    // nested build's.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
    ] {
        build.env_remove(var);
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("failed to run cargo to build {what}: {e}"));
    assert!(status.success(), "building {what} for {TARGET} failed");
}
