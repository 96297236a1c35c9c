//! The parts of rt that can be driven without running a container: config.json loading and
//! validation (`bundle`) and the seccomp translation (`seccomp`). The fuzz targets in
//! `fuzz/` use it. The `rt` binary does not link this library: src/main.rs compiles the
//! same modules itself, so the binary stays as it is.
#![allow(dead_code)]

pub mod bundle;
pub mod seccomp;

mod hooks;
mod logging;
mod output;
mod time;

mod init {
    pub mod lsm;
    pub mod procfs;
}
