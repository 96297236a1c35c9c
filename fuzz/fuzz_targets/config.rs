//! config.json bytes -> rt's loader and validator (and, when the config has one, the seccomp
//! translation, as `rt create` does). Errors are fine; a panic, hang or crash is a bug.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// A bundle directory with an empty rootfs directory, made once per fuzzing process.
fn bundle_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rt-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = runtime::bundle::Bundle::from_config(bundle_dir().clone(), data) {
        if let Some(seccomp) = bundle
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
        {
            let _ = runtime::seccomp::compile(seccomp);
        }
    }
});
