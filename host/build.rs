//! Builds the Spoke guest component (the workspace's root package) for
//! `wasm32-wasip2` so that the host library can embed it.
//!
//! It installs the `wasm32-wasip2` target with rustup when it is missing, so
//! a fresh machine with only stable Rust can build and test the project with
//! plain `cargo` commands. The guest gets its own target directory, because
//! this build already holds the lock on the workspace's.

mod wasm_build;

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use wasm_build::TARGET;

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives inside the workspace")
        .to_path_buf();
    for watched in ["src", "protocol", "aead", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=SPOKE_GUEST_PROFILE");

    ensure_target_installed();

    let target_dir = wasm_build::target_root(&root).join("guest");
    wasm_build::cargo_build_wasm(
        &root,
        &target_dir,
        &[
            "--lib",
            "-p",
            "spoke",
            "--config",
            "profile.release.codegen-units=1",
        ],
        "the Spoke guest component",
    );

    let built = target_dir.join(TARGET).join("release").join("spoke.wasm");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("spoke.wasm");
    std::fs::copy(&built, &out).unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
    println!("cargo:rustc-env=SPOKE_COMPONENT_PATH={}", out.display());
    // For dependents' build scripts (DEP_SPOKE_COMPONENT_WASM): see `links`.
    println!("cargo:wasm={}", out.display());
}

/// Adds the wasm32-wasip2 target through rustup if the toolchain lacks it.
fn ensure_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = sysroot
        && Path::new(&sysroot)
            .join("lib/rustlib")
            .join(TARGET)
            .exists()
    {
        return;
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() => {}
        _ => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed; install it by hand"
        ),
    }
}
