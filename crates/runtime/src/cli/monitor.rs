//! `rt monitor [--listen ADDR]`: Prometheus metrics of every container under --root.

use std::path::Path;

use crate::monitor;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to serve GET /metrics on.
    #[arg(long, default_value = monitor::DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: String,
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    monitor::serve(root, &args.listen)
}
