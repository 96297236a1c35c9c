//! Every cgroup v1 file name this crate uses.

pub(crate) const CGROUP_PROCS: &str = "cgroup.procs";
pub(crate) const TASKS: &str = "tasks";
pub(crate) const CGROUP_EVENT_CONTROL: &str = "cgroup.event_control";

pub(crate) const CPU_SHARES: &str = "cpu.shares";
pub(crate) const CPU_CFS_QUOTA: &str = "cpu.cfs_quota_us";
pub(crate) const CPU_CFS_PERIOD: &str = "cpu.cfs_period_us";
pub(crate) const CPU_RT_RUNTIME: &str = "cpu.rt_runtime_us";
pub(crate) const CPU_RT_PERIOD: &str = "cpu.rt_period_us";
pub(crate) const CPU_IDLE: &str = "cpu.idle";
pub(crate) const CPU_STAT: &str = "cpu.stat";

pub(crate) const CPUACCT_USAGE: &str = "cpuacct.usage";
pub(crate) const CPUACCT_USAGE_PERCPU: &str = "cpuacct.usage_percpu";
pub(crate) const CPUACCT_USAGE_PERCPU_USER: &str = "cpuacct.usage_percpu_user";
pub(crate) const CPUACCT_USAGE_PERCPU_SYS: &str = "cpuacct.usage_percpu_sys";
pub(crate) const CPUACCT_STAT: &str = "cpuacct.stat";

pub(crate) const CPUSET_CPUS: &str = "cpuset.cpus";
pub(crate) const CPUSET_MEMS: &str = "cpuset.mems";

pub(crate) const MEMORY_LIMIT: &str = "memory.limit_in_bytes";
pub(crate) const MEMORY_SOFT_LIMIT: &str = "memory.soft_limit_in_bytes";
pub(crate) const MEMORY_MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";
pub(crate) const MEMORY_KMEM_TCP_LIMIT: &str = "memory.kmem.tcp.limit_in_bytes";
pub(crate) const MEMORY_SWAPPINESS: &str = "memory.swappiness";
pub(crate) const MEMORY_OOM_CONTROL: &str = "memory.oom_control";
pub(crate) const MEMORY_USAGE: &str = "memory.usage_in_bytes";
pub(crate) const MEMORY_PRESSURE_LEVEL: &str = "memory.pressure_level";
pub(crate) const MEMORY_USE_HIERARCHY: &str = "memory.use_hierarchy";
pub(crate) const MEMORY_STAT: &str = "memory.stat";
/// Prefixes of the counter families: `<prefix>.usage_in_bytes` etc.
pub(crate) const MEMORY: &str = "memory";
pub(crate) const MEMORY_MEMSW: &str = "memory.memsw";
pub(crate) const MEMORY_KMEM: &str = "memory.kmem";
pub(crate) const MEMORY_KMEM_TCP: &str = "memory.kmem.tcp";
pub(crate) const USAGE_IN_BYTES: &str = "usage_in_bytes";
pub(crate) const MAX_USAGE_IN_BYTES: &str = "max_usage_in_bytes";
pub(crate) const FAILCNT: &str = "failcnt";
pub(crate) const LIMIT_IN_BYTES: &str = "limit_in_bytes";

pub(crate) const PIDS_MAX: &str = "pids.max";
pub(crate) const PIDS_CURRENT: &str = "pids.current";

pub(crate) const BLKIO_WEIGHT: &str = "blkio.weight";
pub(crate) const BLKIO_BFQ_WEIGHT: &str = "blkio.bfq.weight";
pub(crate) const BLKIO_LEAF_WEIGHT: &str = "blkio.leaf_weight";
pub(crate) const BLKIO_WEIGHT_DEVICE: &str = "blkio.weight_device";
pub(crate) const BLKIO_BFQ_WEIGHT_DEVICE: &str = "blkio.bfq.weight_device";
pub(crate) const BLKIO_LEAF_WEIGHT_DEVICE: &str = "blkio.leaf_weight_device";
pub(crate) const BLKIO_THROTTLE_READ_BPS: &str = "blkio.throttle.read_bps_device";
pub(crate) const BLKIO_THROTTLE_WRITE_BPS: &str = "blkio.throttle.write_bps_device";
pub(crate) const BLKIO_THROTTLE_READ_IOPS: &str = "blkio.throttle.read_iops_device";
pub(crate) const BLKIO_THROTTLE_WRITE_IOPS: &str = "blkio.throttle.write_iops_device";
/// (service bytes, serviced) pairs, in order of preference: CFQ, BFQ, throttle.
pub(crate) const BLKIO_STAT_FILES: &[(&str, &str)] = &[
    (
        "blkio.io_service_bytes_recursive",
        "blkio.io_serviced_recursive",
    ),
    (
        "blkio.bfq.io_service_bytes_recursive",
        "blkio.bfq.io_serviced_recursive",
    ),
    (
        "blkio.throttle.io_service_bytes_recursive",
        "blkio.throttle.io_serviced_recursive",
    ),
];

/// `hugetlb.<size>.<suffix>`.
pub(crate) fn hugetlb(size: &str, suffix: &str) -> String {
    format!("hugetlb.{size}.{suffix}")
}

pub(crate) const DEVICES_ALLOW: &str = "devices.allow";
pub(crate) const DEVICES_DENY: &str = "devices.deny";

pub(crate) const FREEZER_STATE: &str = "freezer.state";
pub(crate) const FROZEN: &str = "FROZEN";
pub(crate) const THAWED: &str = "THAWED";
pub(crate) const FREEZING: &str = "FREEZING";

pub(crate) const NET_CLS_CLASSID: &str = "net_cls.classid";
pub(crate) const NET_PRIO_IFPRIOMAP: &str = "net_prio.ifpriomap";

pub(crate) const RDMA_MAX: &str = "rdma.max";
