//! Builds the attack programs of tests/security.rs (tests/security/*.c) as static binaries,
//! so they run inside busybox containers (no libc there) and in the cgroup v2 guest without
//! compiling anything there. gcc and the static libc (libc6-dev) are what the Rust
//! toolchain links with anyway.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    for name in ["exe_attacker", "swapper"] {
        let src = format!("tests/security/{name}.c");
        println!("cargo:rerun-if-changed={src}");
        let status = Command::new("gcc")
            .args(["-static", "-O2", "-Wall", "-o"])
            .arg(out.join(name))
            .arg(&src)
            .status()
            .unwrap_or_else(|e| panic!("run gcc for {src}: {e} (install gcc and libc6-dev)"));
        assert!(status.success(), "gcc {src} failed ({status})");
    }
}
