// SPDX-License-Identifier: LGPL-2.1-or-later
//! Find the system libiommudirty with the `pkg-config` program (no crate)
//! and tell cargo how to link it.
//!
//! Environment:
//! - `PKG_CONFIG` names the pkg-config program (default `pkg-config`);
//!   `PKG_CONFIG_PATH` etc. are passed through to it.
//! - `IOMMUDIRTY_STATIC=1` links libiommudirty.a (with `--static` flags).
//! - `IOMMUDIRTY_NO_PKG_CONFIG=1` skips pkg-config: link `-liommudirty`
//!   from the default search path (plus `IOMMUDIRTY_LIB_DIR` if set).

use std::env;
use std::process::Command;

const PKG: &str = "iommudirty";
// The oldest library whose API the committed bindings describe.
const MIN_VERSION: &str = "0.2";

fn main() {
    for var in [
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
        "IOMMUDIRTY_STATIC",
        "IOMMUDIRTY_NO_PKG_CONFIG",
        "IOMMUDIRTY_LIB_DIR",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let statik = env::var_os("IOMMUDIRTY_STATIC").map_or(false, |v| v == "1");
    let kind = if statik { "static" } else { "dylib" };

    if env::var_os("IOMMUDIRTY_NO_PKG_CONFIG").map_or(false, |v| v == "1") {
        if let Some(dir) = env::var_os("IOMMUDIRTY_LIB_DIR") {
            println!("cargo:rustc-link-search=native={}", dir.to_string_lossy());
        }
        println!("cargo:rustc-link-lib={kind}=iommudirty");
        return;
    }

    let pc = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let version_ok = Command::new(&pc)
        .args(["--atleast-version", MIN_VERSION, PKG])
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run `{pc}`: {e}")));
    if !version_ok.success() {
        fail(&format!(
            "pkg-config found no `{PKG}` >= {MIN_VERSION}: install libiommudirty \
             (e.g. libiommudirty-dev) or point PKG_CONFIG_PATH at its .pc file"
        ));
    }

    let mut args = vec!["--libs"];
    if statik {
        args.push("--static");
    }
    args.push(PKG);
    let libs = pkg_config(&pc, &args);
    let mut have_lib = false;
    for flag in libs.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            if lib == "iommudirty" {
                have_lib = true;
                println!("cargo:rustc-link-lib={kind}=iommudirty");
            } else {
                println!("cargo:rustc-link-lib={lib}");
            }
        } else if flag == "-pthread" {
            println!("cargo:rustc-link-arg=-pthread");
        } else {
            println!("cargo:rustc-link-arg={flag}");
        }
    }
    if !have_lib {
        println!("cargo:rustc-link-lib={kind}=iommudirty");
    }

    // For crates that build C against the same header: DEP_IOMMUDIRTY_INCLUDE.
    let inc = pkg_config(&pc, &["--variable=includedir", PKG]);
    if !inc.trim().is_empty() {
        println!("cargo:include={}", inc.trim());
    }
}

fn pkg_config(pc: &str, args: &[&str]) -> String {
    let out = Command::new(pc)
        .args(args)
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run `{pc}`: {e}")));
    if !out.status.success() {
        fail(&format!(
            "`{pc} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).unwrap_or_else(|_| fail("pkg-config printed non-UTF-8"))
}

fn fail(msg: &str) -> ! {
    eprintln!("iommudirty-sys: {msg}");
    std::process::exit(1);
}
