//! `rt monitor [--listen ADDR]`: Prometheus metrics of every container under --root.

//! Built with the cargo feature `monitor` (default); without it the command says so.

use std::path::Path;

/// Where `rt monitor` listens by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9100";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to serve GET /metrics on.
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: String,
}

#[cfg(feature = "monitor")]
pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    crate::monitor::serve(root, &args.listen)
}

#[cfg(not(feature = "monitor"))]
pub fn run(_root: &Path, _args: &Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "monitor: this rt was built without the `monitor` feature (cargo build --features monitor)"
    )
}
