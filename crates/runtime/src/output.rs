//! What rt prints, and what happens when nobody reads it any more.
//!
//! Rust starts every program with SIGPIPE ignored, so a write to a pipe whose reader is gone
//! fails with EPIPE, and `println!` panics on it (an abort under `panic = "abort"`). rt never
//! uses `println!`/`eprintln!`: output goes through [`print`], and a reader that went away
//! ends the command as it ends any Unix tool, and runc: killed by SIGPIPE (a shell sees
//! 141), quietly, with nothing half done (commands print only after their work). Messages on
//! stderr go through [`stderr_line`], which never fails: a closed stderr loses the message,
//! never the command.

use std::io::{self, Write};

/// Writes `text` to stdout (and flushes). When the reader is gone, rt ends at once, as if
/// killed by SIGPIPE. Other write errors are returned.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => reader_gone(),
        Err(e) => Err(anyhow::Error::new(e).context("write to stdout")),
    }
}

/// [`print`] with a newline.
pub fn println(text: &str) -> anyhow::Result<()> {
    print(&format!("{text}\n"))
}

/// Ends rt the way a process whose stdout reader went away ends: killed by SIGPIPE.
pub fn reader_gone() -> ! {
    use nix::sys::signal::{raise, signal, SigHandler, Signal};
    // SAFETY: restoring SIGPIPE's default disposition; no other thread depends on SIGPIPE
    // being ignored (the only threads are rt monitor's, which never print to stdout).
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    let _ = raise(Signal::SIGPIPE);
    // Not reached: SIGPIPE's default action terminates. Same status for a shell, should it be.
    std::process::exit(128 + libc::SIGPIPE)
}

/// One line on stderr; write errors (closed or broken stderr) are ignored.
pub fn stderr_line(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    let _ = io::stderr().lock().write_all(line.as_bytes());
}
