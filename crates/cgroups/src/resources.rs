//! Resource limits: the crate's own types, mirroring the OCI runtime spec's LinuxResources.
//! Values follow OCI: `-1` is unlimited, `None` (and for most fields 0) is "leave as is".

use std::collections::BTreeMap;

/// Everything that can be limited. `Default` limits nothing.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub cpu: Option<Cpu>,
    pub memory: Option<Memory>,
    pub pids: Option<Pids>,
    pub block_io: Option<BlockIo>,
    pub hugepage_limits: Vec<HugepageLimit>,
    pub network: Option<Network>,
    pub rdma: Vec<Rdma>,
    pub devices: Vec<DeviceRule>,
    /// Raw cgroup v2 files, e.g. "memory.high" -> "100M" (v2 only).
    pub unified: BTreeMap<String, String>,
}

/// CPU: shares/quota/period as in cgroup v1 (converted on v2), cpuset cpus/mems.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    pub shares: Option<u64>,
    pub quota: Option<i64>,
    pub period: Option<u64>,
    pub realtime_runtime: Option<i64>,
    pub realtime_period: Option<u64>,
    pub cpus: Option<String>,
    pub mems: Option<String>,
    pub idle: Option<i64>,
}

/// Memory in bytes; `swap` is memory+swap as in OCI (converted on v2).
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    pub limit: Option<i64>,
    pub reservation: Option<i64>,
    pub swap: Option<i64>,
    pub kernel: Option<i64>,
    pub kernel_tcp: Option<i64>,
    pub swappiness: Option<u64>,
    pub disable_oom_killer: Option<bool>,
    pub use_hierarchy: Option<bool>,
}

/// Maximum number of tasks; `-1` or `0` is "max".
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pids {
    pub limit: i64,
}

/// Block IO weights and throttles.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct BlockIo {
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
    pub weight_device: Vec<WeightDevice>,
    pub throttle_read_bps_device: Vec<ThrottleDevice>,
    pub throttle_write_bps_device: Vec<ThrottleDevice>,
    pub throttle_read_iops_device: Vec<ThrottleDevice>,
    pub throttle_write_iops_device: Vec<ThrottleDevice>,
}

/// Per-device weight.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightDevice {
    pub major: i64,
    pub minor: i64,
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
}

/// Per-device rate (bytes or operations per second).
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleDevice {
    pub major: i64,
    pub minor: i64,
    pub rate: u64,
}

/// Hugepage limit for one page size ("2MB", "1GB").
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct HugepageLimit {
    pub page_size: String,
    pub limit: i64,
}

/// net_cls / net_prio (cgroup v1 only).
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub class_id: Option<u32>,
    pub priorities: Vec<InterfacePriority>,
}

/// Priority of traffic on one interface.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct InterfacePriority {
    pub name: String,
    pub priority: u32,
}

/// RDMA limits for one device.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Rdma {
    pub device: String,
    pub hca_handles: Option<u32>,
    pub hca_objects: Option<u32>,
}

/// Device cgroup rule type.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    #[default]
    All,
    Char,
    Block,
}

impl DeviceKind {
    pub fn as_char(self) -> char {
        match self {
            DeviceKind::All => 'a',
            DeviceKind::Char => 'c',
            DeviceKind::Block => 'b',
        }
    }
}

/// One device cgroup rule; `None` major/minor is the wildcard `*`.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: DeviceKind,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Any of "r", "w", "m"; empty means "rwm".
    pub access: String,
}

impl DeviceRule {
    /// The rule as devices.allow/devices.deny take it, e.g. "c 1:3 rwm".
    pub fn to_v1_line(&self) -> String {
        let num = |n: Option<i64>| n.map_or("*".to_string(), |v| v.to_string());
        let access = if self.access.is_empty() {
            "rwm"
        } else {
            &self.access
        };
        format!(
            "{} {}:{} {}",
            self.kind.as_char(),
            num(self.major),
            num(self.minor),
            access
        )
    }
}

#[cfg(feature = "oci")]
mod oci {
    use super::*;
    use oci_spec::runtime as spec;

    fn throttles(v: &Option<Vec<spec::LinuxThrottleDevice>>) -> Vec<ThrottleDevice> {
        v.iter()
            .flatten()
            .map(|t| ThrottleDevice {
                major: t.major(),
                minor: t.minor(),
                rate: t.rate(),
            })
            .collect()
    }

    impl From<&spec::LinuxResources> for Resources {
        fn from(r: &spec::LinuxResources) -> Self {
            let cpu = r.cpu().as_ref().map(|c| Cpu {
                shares: c.shares(),
                quota: c.quota(),
                period: c.period(),
                realtime_runtime: c.realtime_runtime(),
                realtime_period: c.realtime_period(),
                cpus: c.cpus().clone(),
                mems: c.mems().clone(),
                idle: c.idle(),
            });
            #[allow(deprecated)]
            let memory = r.memory().as_ref().map(|m| Memory {
                limit: m.limit(),
                reservation: m.reservation(),
                swap: m.swap(),
                kernel: m.kernel(),
                kernel_tcp: m.kernel_tcp(),
                swappiness: m.swappiness(),
                disable_oom_killer: m.disable_oom_killer(),
                use_hierarchy: m.use_hierarchy(),
            });
            let pids = r.pids().as_ref().map(|p| Pids { limit: p.limit() });
            // As runc: a blkio weight of 0 is Go's zero value, "not set" (docker always
            // sends `"blockIO": {"weight": 0}`); the kernel would reject it.
            let nonzero = |w: Option<u16>| w.filter(|w| *w != 0);
            let block_io = r.block_io().as_ref().map(|b| BlockIo {
                weight: nonzero(b.weight()),
                leaf_weight: nonzero(b.leaf_weight()),
                weight_device: b
                    .weight_device()
                    .iter()
                    .flatten()
                    .map(|w| WeightDevice {
                        major: w.major(),
                        minor: w.minor(),
                        weight: nonzero(w.weight()),
                        leaf_weight: nonzero(w.leaf_weight()),
                    })
                    .collect(),
                throttle_read_bps_device: throttles(b.throttle_read_bps_device()),
                throttle_write_bps_device: throttles(b.throttle_write_bps_device()),
                throttle_read_iops_device: throttles(b.throttle_read_iops_device()),
                throttle_write_iops_device: throttles(b.throttle_write_iops_device()),
            });
            let hugepage_limits = r
                .hugepage_limits()
                .iter()
                .flatten()
                .map(|h| HugepageLimit {
                    page_size: h.page_size().clone(),
                    limit: h.limit(),
                })
                .collect();
            let network = r.network().as_ref().map(|n| Network {
                class_id: n.class_id(),
                priorities: n
                    .priorities()
                    .iter()
                    .flatten()
                    .map(|p| InterfacePriority {
                        name: p.name().clone(),
                        priority: p.priority(),
                    })
                    .collect(),
            });
            let mut rdma: Vec<Rdma> = r
                .rdma()
                .iter()
                .flatten()
                .map(|(dev, l)| Rdma {
                    device: dev.clone(),
                    hca_handles: l.hca_handles(),
                    hca_objects: l.hca_objects(),
                })
                .collect();
            rdma.sort_by(|a, b| a.device.cmp(&b.device));
            // Fifo ("p") rules are dropped: the device cgroup has no such type.
            let devices = r
                .devices()
                .iter()
                .flatten()
                .filter_map(|d| {
                    let kind = match d.typ().unwrap_or_default() {
                        spec::LinuxDeviceType::A => DeviceKind::All,
                        spec::LinuxDeviceType::B => DeviceKind::Block,
                        spec::LinuxDeviceType::C | spec::LinuxDeviceType::U => DeviceKind::Char,
                        spec::LinuxDeviceType::P => return None,
                    };
                    Some(DeviceRule {
                        allow: d.allow(),
                        kind,
                        major: d.major(),
                        minor: d.minor(),
                        access: d.access().clone().unwrap_or_default(),
                    })
                })
                .collect();
            let unified = r
                .unified()
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Resources {
                cpu,
                memory,
                pids,
                block_io,
                hugepage_limits,
                network,
                rdma,
                devices,
                unified,
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn converts_oci_resources() {
            let json = r#"{
                "devices": [{"allow": false, "access": "rwm"},
                            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
                "memory": {"limit": 1048576, "swap": 2097152},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
                "pids": {"limit": 10},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
                "unified": {"memory.high": "1M"}
            }"#;
            let r: spec::LinuxResources = serde_json::from_str(json).unwrap();
            let r = Resources::from(&r);
            let cpu = r.cpu.unwrap();
            assert_eq!(cpu.shares, Some(512));
            assert_eq!(cpu.quota, Some(50000));
            assert_eq!(cpu.cpus.as_deref(), Some("0"));
            let mem = r.memory.unwrap();
            assert_eq!(mem.limit, Some(1048576));
            assert_eq!(mem.swap, Some(2097152));
            assert_eq!(r.pids, Some(Pids { limit: 10 }));
            assert_eq!(r.devices[0].to_v1_line(), "a *:* rwm");
            assert_eq!(r.devices[1].to_v1_line(), "c 1:3 rw");
            assert_eq!(r.hugepage_limits[0].page_size, "2MB");
            assert_eq!(r.unified["memory.high"], "1M");
        }

        #[test]
        fn blkio_weight_zero_means_unset() {
            let json = r#"{"blockIO": {"weight": 0, "leafWeight": 0,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 0}]}}"#;
            let r: spec::LinuxResources = serde_json::from_str(json).unwrap();
            let b = Resources::from(&r).block_io.unwrap();
            assert_eq!((b.weight, b.leaf_weight), (None, None));
            assert_eq!(b.weight_device[0].weight, None);
            let json = r#"{"blockIO": {"weight": 500}}"#;
            let r: spec::LinuxResources = serde_json::from_str(json).unwrap();
            assert_eq!(Resources::from(&r).block_io.unwrap().weight, Some(500));
        }
    }
}
