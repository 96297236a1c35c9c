//! `rt`: a low-level OCI container runtime with runc's command line.
//!
//! This file parses the command line, sets up logging and dispatches to `cli/`; nothing else.

mod bundle;
mod cli;
mod console;
mod container;
mod criu;
mod hooks;
mod init;
mod logging;
#[cfg(feature = "monitor")]
mod monitor;
mod output;
mod sealed;
mod seccomp;
mod signal;
mod state;
mod time;

fn main() {
    let args = cli::Cli::parse_from_env();
    let code = match cli::dispatch(&args) {
        Ok(code) => code,
        Err(err) => {
            logging::error(&format!("{err:#}"));
            1
        }
    };
    std::process::exit(code);
}
