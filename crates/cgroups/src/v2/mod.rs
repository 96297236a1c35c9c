//! cgroup v2: one directory; Resources become (file, value) pairs written by one writer.

mod bpf;
pub(crate) mod cpu;
mod cpuset;
mod devices;
pub(crate) mod files;
pub(crate) mod freezer;
mod hugetlb;
pub(crate) mod io;
mod manager;
pub(crate) mod memory;
mod pids;
#[cfg(test)]
mod tests;

pub(crate) use manager::Manager;
