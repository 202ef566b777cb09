//! Builds the Spoke guest components for `wasm32-wasip2` so that the host
//! library can embed them: the WASI 0.2 component (the workspace's root
//! package) and the WASI 0.3 one (`p3/`), in one nested cargo run.
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
    for watched in [
        "src",
        "p3",
        "protocol",
        "aead",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
    ] {
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
            "-p",
            "spoke-p3",
            "--config",
            "profile.release.codegen-units=1",
        ],
        "the Spoke guest components",
    );

    let built = target_dir.join(TARGET).join("release");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // For dependents' build scripts (DEP_SPOKE_COMPONENT_WASM and
    // DEP_SPOKE_COMPONENT_WASM_P3): see `links`.
    for (file, env_name, key) in [
        ("spoke.wasm", "SPOKE_COMPONENT_PATH", "wasm"),
        ("spoke_p3.wasm", "SPOKE_P3_COMPONENT_PATH", "wasm_p3"),
    ] {
        let (from, to) = (built.join(file), out_dir.join(file));
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
        println!("cargo:rustc-env={env_name}={}", to.display());
        println!("cargo:{key}={}", to.display());
    }
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
