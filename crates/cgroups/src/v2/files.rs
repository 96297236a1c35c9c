//! Every cgroup v2 file name this crate uses.

pub(crate) const CGROUP_PROCS: &str = "cgroup.procs";
pub(crate) const CGROUP_THREADS: &str = "cgroup.threads";
pub(crate) const CGROUP_CONTROLLERS: &str = "cgroup.controllers";
pub(crate) const CGROUP_SUBTREE_CONTROL: &str = "cgroup.subtree_control";
pub(crate) const CGROUP_FREEZE: &str = "cgroup.freeze";
pub(crate) const CGROUP_EVENTS: &str = "cgroup.events";
pub(crate) const CGROUP_KILL: &str = "cgroup.kill";

pub(crate) const CPU_WEIGHT: &str = "cpu.weight";
pub(crate) const CPU_MAX: &str = "cpu.max";
pub(crate) const CPU_IDLE: &str = "cpu.idle";
pub(crate) const CPU_STAT: &str = "cpu.stat";

pub(crate) const CPUSET_CPUS: &str = "cpuset.cpus";
pub(crate) const CPUSET_MEMS: &str = "cpuset.mems";
pub(crate) const CPUSET_CPUS_EFFECTIVE: &str = "cpuset.cpus.effective";
pub(crate) const CPUSET_MEMS_EFFECTIVE: &str = "cpuset.mems.effective";

pub(crate) const CPU_PRESSURE: &str = "cpu.pressure";
pub(crate) const MEMORY_PRESSURE: &str = "memory.pressure";
pub(crate) const IO_PRESSURE: &str = "io.pressure";
pub(crate) const MEMORY_EVENTS: &str = "memory.events";

pub(crate) const MEMORY_MAX: &str = "memory.max";
pub(crate) const MEMORY_LOW: &str = "memory.low";
pub(crate) const MEMORY_SWAP_MAX: &str = "memory.swap.max";
pub(crate) const MEMORY_CURRENT: &str = "memory.current";
pub(crate) const MEMORY_PEAK: &str = "memory.peak";
pub(crate) const MEMORY_SWAP_CURRENT: &str = "memory.swap.current";
pub(crate) const MEMORY_SWAP_PEAK: &str = "memory.swap.peak";
pub(crate) const MEMORY_STAT: &str = "memory.stat";

pub(crate) const PIDS_MAX: &str = "pids.max";
pub(crate) const PIDS_CURRENT: &str = "pids.current";

pub(crate) const IO_WEIGHT: &str = "io.weight";
pub(crate) const IO_BFQ_WEIGHT: &str = "io.bfq.weight";
pub(crate) const IO_MAX: &str = "io.max";
pub(crate) const IO_STAT: &str = "io.stat";

pub(crate) const RDMA_MAX: &str = "rdma.max";

/// `hugetlb.<size>.<suffix>`.
pub(crate) fn hugetlb(size: &str, suffix: &str) -> String {
    format!("hugetlb.{size}.{suffix}")
}
pub(crate) const HUGETLB_MAX: &str = "max";
pub(crate) const HUGETLB_CURRENT: &str = "current";
pub(crate) const HUGETLB_EVENTS: &str = "events";
