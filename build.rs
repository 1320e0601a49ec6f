//! Link options for the `rsentinel` binary that shrink what an idle
//! sentinel keeps resident (its RSS is mostly the binary's own pages).
//!
//! - `-z pack-relative-relocs`: the ~7 000 relative relocations of a
//!   position-independent binary as a compact bitmap (DT_RELR, glibc 2.36+)
//!   instead of a 170 KiB table that the loader reads, and so maps, at
//!   every start.
//! - `--symbol-ordering-file=scripts/symbol-order.txt` (release builds,
//!   when the linker is LLD, Rust's default on x86-64 Linux since 1.90):
//!   the functions a sentinel runs in its life first and together, so that
//!   the kernel's 64 KiB fault-around maps them and not the rest of
//!   `.text`. `scripts/gen-symbol-order.sh` records them;
//!   `RSENTINEL_SYMBOL_ORDER=off` builds without it.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=scripts/symbol-order.txt");
    println!("cargo:rerun-if-env-changed=RSENTINEL_SYMBOL_ORDER");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.contains("linux-gnu") {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let wanted = std::env::var("RSENTINEL_SYMBOL_ORDER").map_or(true, |v| v != "off");
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/symbol-order.txt");
    if release && wanted && order.exists() && links_with_lld(&target) {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names the build no longer has are expected, not news.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// Whether the binary is linked by LLD: rustc 1.90 or later on x86-64
/// Linux, with neither a linker of one's own nor LLD switched off.
fn links_with_lld(target: &str) -> bool {
    if target != "x86_64-unknown-linux-gnu" {
        return false;
    }
    let env_target = target.to_uppercase().replace('-', "_");
    if std::env::var_os(format!("CARGO_TARGET_{env_target}_LINKER")).is_some()
        || std::env::var_os("RUSTC_LINKER").is_some()
    {
        return false;
    }
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("linker") {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // "rustc 1.95.0 (…)"
    let version = String::from_utf8_lossy(&out.stdout);
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}
