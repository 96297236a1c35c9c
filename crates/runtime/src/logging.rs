//! Logging: errors always go to stderr as one line `rt: <what>: <why>`; with `--log FILE`
//! every message is also appended to FILE, as text or as json lines
//! `{"level","msg","time"}` (containerd's shim reads the last error from it).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::Context;
use clap::ValueEnum;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

struct Logger {
    file: Option<File>,
    format: LogFormat,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

pub fn init(path: Option<&Path>, format: LogFormat, debug: bool) -> anyhow::Result<()> {
    let file = match path {
        Some(path) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--log {}", path.display()))?,
        ),
        None => None,
    };
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
    Ok(())
}

fn write_file(level: &str, msg: &str) {
    let Some(logger) = LOGGER.get() else { return };
    let Some(mut file) = logger.file.as_ref() else {
        return;
    };
    let time = crate::time::now_rfc3339();
    let line = match logger.format {
        LogFormat::Json => {
            let entry = serde_json::json!({ "level": level, "msg": msg, "time": time });
            format!("{entry}\n")
        }
        LogFormat::Text => format!("time=\"{time}\" level={level} msg=\"{msg}\"\n"),
    };
    let _ = file.write_all(line.as_bytes());
}

/// Reports an error: stderr, and the log file when there is one.
pub fn error(msg: &str) {
    crate::output::stderr_line(&format!("rt: {msg}"));
    write_file("error", msg);
}

/// A warning the user should see (stderr and log).
pub fn warn(msg: &str) {
    crate::output::stderr_line(&format!("rt: warning: {msg}"));
    write_file("warning", msg);
}

/// A debug message, only with `--debug`.
pub fn debug(msg: &str) {
    if LOGGER.get().is_some_and(|l| l.debug) {
        crate::output::stderr_line(&format!("rt: debug: {msg}"));
        write_file("debug", msg);
    }
}
