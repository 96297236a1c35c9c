//! cgroup v2: one directory; Resources become (file, value) pairs written by one writer.

mod bpf;
mod cpu;
mod cpuset;
mod devices;
pub(crate) mod files;
mod freezer;
mod hugetlb;
mod io;
mod manager;
mod memory;
mod pids;
#[cfg(test)]
mod tests;

pub(crate) use manager::Manager;
