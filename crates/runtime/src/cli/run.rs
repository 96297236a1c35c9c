//! `rt run [-d] ID`: create, start and wait; returns the container's exit status.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{bail, Context};

use crate::console;
use crate::container;
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::Args,
    /// Return once the container is started, without waiting or deleting it.
    #[arg(short = 'd', long)]
    pub detach: bool,
}

/// Whether the bundle's config asks for a terminal (errors surface later, in create).
fn wants_terminal(bundle: &Path) -> bool {
    std::fs::read(bundle.join(crate::bundle::CONFIG_FILE))
        .ok()
        .and_then(|data| serde_json::from_slice::<serde_json::Value>(&data).ok())
        .and_then(|v| v["process"]["terminal"].as_bool())
        .unwrap_or(false)
}

pub fn run(root: &Path, driver: cgroups::Driver, args: &Args) -> anyhow::Result<i32> {
    let socket = args
        .create
        .console_socket
        .as_deref()
        .map(console::connect)
        .transpose()?;
    // A terminal without a socket: rt receives the pty itself and proxies its own stdio.
    let proxy = if socket.is_none() && wants_terminal(&args.create.bundle) {
        if args.detach {
            bail!("process.terminal with --detach needs --console-socket");
        }
        Some(UnixStream::pair().context("socketpair for the terminal")?)
    } else {
        None
    };
    // Both ends stay open until the container has been created (the init gets a copy).
    let (ours, theirs) = match proxy {
        Some((ours, theirs)) => (Some(ours), Some(theirs)),
        None => (None, None),
    };
    let fd = socket
        .as_ref()
        .map(|s| s.as_raw_fd())
        .or(theirs.as_ref().map(|s| s.as_raw_fd()));
    container::run_foreground(
        &Store::new(root),
        &args.create.options(fd, driver),
        args.detach,
        ours,
    )
}
