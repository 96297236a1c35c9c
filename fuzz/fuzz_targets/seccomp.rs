//! `linux.seccomp` JSON -> rt's seccomp translation (a stack of BPF programs). Errors are
//! fine; a panic, hang or crash is a bug. Every program that compiles must fit the kernel's
//! limit of 4096 instructions per filter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_spec::runtime::LinuxSeccomp;

fuzz_target!(|data: &[u8]| {
    let Ok(profile) = serde_json::from_slice::<LinuxSeccomp>(data) else {
        return;
    };
    if let Ok(program) = runtime::seccomp::compile(&profile) {
        for size in program.sizes() {
            assert!(size > 0 && size <= 4096, "a filter of {size} instructions");
        }
    }
});
