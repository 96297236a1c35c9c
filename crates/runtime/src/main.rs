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
mod parallel;
mod readfile;
mod sealed;
mod seccomp;
mod signal;
mod state;
mod time;

fn main() {
    no_error_backtraces();
    sealed::ensure_early();
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

/// anyhow captures a backtrace in every error it makes when RUST_BACKTRACE is set, and rt
/// makes (and handles) some on its success path; the release binary has no symbols to show,
/// and the first capture in a static binary sorts every unwind table entry (10% of a
/// lifecycle's cpu). std reads the variables once: capture with RUST_LIB_BACKTRACE=0, then
/// restore the environment hooks and exec'd processes see. (Panics still print backtraces
/// under RUST_BACKTRACE: only RUST_LIB_BACKTRACE is overridden, and only when unset.)
fn no_error_backtraces() {
    const LIB: &str = "RUST_LIB_BACKTRACE";
    if std::env::var_os(LIB).is_none() && std::env::var_os("RUST_BACKTRACE").is_some() {
        // SAFETY (set_var/remove_var): rt is single-threaded here, at the top of main.
        std::env::set_var(LIB, "0");
        let _ = std::backtrace::Backtrace::capture();
        std::env::remove_var(LIB);
    }
}
