//! `rt`: a low-level OCI container runtime with runc's command line.
//!
//! This file parses the command line, sets up logging and dispatches to `cli/`; nothing else.
//!
//! rt has its own C `main` instead of Rust's `fn main` (see [`main`]).
#![cfg_attr(all(not(test), target_env = "gnu"), no_main)]

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

/// The process' entry point, called by the C runtime.
///
/// Why not Rust's `fn main`: std's start-up costs 0.1–0.15 ms of cpu per process on the
/// bench host, 19 syscalls, mostly to install a stack-overflow handler on the main thread
/// (glibc's `pthread_getattr_np` reads `/proc/self/maps` and the affinity mask for the
/// stack's bounds, then an alternate signal stack is mapped), and rt starts three processes
/// per container lifecycle. What of std's start-up rt relies on is done here: fds 0–2 open
/// ([`standard_fds`]), SIGPIPE ignored (as std does: a write to a vanished reader fails
/// with EPIPE, which `output.rs` ends as SIGPIPE would), and the end through
/// `std::process::exit`, which flushes stdout. `std::env::args` comes from glibc either
/// way (std reads argv in an `.init_array` function glibc calls with it; musl does not, so
/// other C libraries keep std's `fn main`). What is given up: a main-thread stack overflow
/// ends in a plain SIGSEGV instead of std's message.
#[cfg(all(not(test), target_env = "gnu"))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    standard_fds();
    // SAFETY: setting a signal disposition to SIG_IGN runs no handler code; rt has no other
    // thread yet.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigIgn,
        )
    };
    rt_main()
}

/// Opens /dev/null on whichever of fds 0, 1 and 2 is closed, as std's start-up does: a
/// closed stdout would otherwise be the number of the next file rt opens (a state file),
/// and what rt prints would land in it.
#[cfg(all(not(test), target_env = "gnu"))]
fn standard_fds() {
    use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
    for fd in 0..=2 {
        if fcntl(fd, FcntlArg::F_GETFD) == Err(nix::errno::Errno::EBADF) {
            // The lowest free number: this one. Nothing to do if even that fails.
            let _ = open("/dev/null", OFlag::O_RDWR, nix::sys::stat::Mode::empty());
        }
    }
}

/// std's start-up, then rt: with C libraries other than glibc, and in the unit-test build
/// (whose harness brings its own entry point; this keeps what `rt_main` reaches in use).
#[cfg(any(test, not(target_env = "gnu")))]
fn main() {
    rt_main()
}

fn rt_main() -> ! {
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
