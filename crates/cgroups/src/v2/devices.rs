//! v2 devices: the rule list becomes an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program, attached
//! to the cgroup directory in place of any earlier one of ours.
//!
//! Semantics are runc's: the rules are first run through an emulator of the v1 devices
//! cgroup (starting from deny-all, an "a" rule resets to allow-all or deny-all, other rules
//! add or remove exceptions, punching a hole in a wildcard exception is an error), then the
//! exceptions become one block each of a first-match program ending in the default.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;

use super::bpf::{self, Insn};
use crate::error::{Error, Result};
use crate::events::sys;
use crate::resources::{DeviceKind, DeviceRule};

/// License of the generated program (the kernel's MODULE_LICENSE format).
const LICENSE: &str = "Apache";

// struct bpf_cgroup_dev_ctx and its constants (linux/bpf.h).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: u8 = 1;
const ACC_READ: u8 = 2;
const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// What an exception matches: type, major, minor (`None`: any).
type Meta = (i32, Option<u32>, Option<u32>);

/// The v1 devices cgroup state: a default and exceptions with the opposite action.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Emulator {
    pub default_allow: bool,
    pub exceptions: BTreeMap<Meta, u8>,
}

fn access_bits(rule: &DeviceRule) -> Result<u8> {
    if rule.access.is_empty() {
        return Ok(ACC_ALL);
    }
    rule.access.chars().try_fold(0u8, |acc, c| match c {
        'r' => Ok(acc | ACC_READ),
        'w' => Ok(acc | ACC_WRITE),
        'm' => Ok(acc | ACC_MKNOD),
        _ => Err(Error::DeviceRule {
            rule: rule.to_v1_line(),
            reason: format!("unknown access {c:?} (want r, w, m)"),
        }),
    })
}

fn number(rule: &DeviceRule, n: Option<i64>) -> Result<Option<u32>> {
    match n {
        None => Ok(None),
        Some(v) if v < 0 => Ok(None), // OCI uses -1 for "any" too
        Some(v) if v <= i32::MAX as i64 => Ok(Some(v as u32)),
        Some(_) => Err(Error::DeviceRule {
            rule: rule.to_v1_line(),
            reason: "major/minor out of range".into(),
        }),
    }
}

impl Emulator {
    /// Apply the rules in order, starting from deny-all.
    pub fn from_rules(rules: &[DeviceRule]) -> Result<Emulator> {
        let mut e = Emulator::default();
        for r in rules {
            e.apply(r)?;
        }
        Ok(e)
    }

    fn apply(&mut self, rule: &DeviceRule) -> Result<()> {
        let kind = match rule.kind {
            DeviceKind::All => {
                *self = Emulator {
                    default_allow: rule.allow,
                    exceptions: BTreeMap::new(),
                };
                return Ok(());
            }
            DeviceKind::Block => DEV_BLOCK,
            DeviceKind::Char => DEV_CHAR,
        };
        let meta = (kind, number(rule, rule.major)?, number(rule, rule.minor)?);
        let access = access_bits(rule)?;
        if rule.allow == self.default_allow {
            self.remove(meta, access, rule)
        } else {
            *self.exceptions.entry(meta).or_insert(0) |= access;
            Ok(())
        }
    }

    fn remove(&mut self, meta: Meta, access: u8, rule: &DeviceRule) -> Result<()> {
        let (k, maj, min) = meta;
        for wider in [(k, None, min), (k, maj, None), (k, None, None)] {
            if wider != meta && self.exceptions.get(&wider).is_some_and(|a| a & access != 0) {
                return Err(Error::DeviceRule {
                    rule: rule.to_v1_line(),
                    reason: "cannot punch a hole in an earlier wildcard rule".into(),
                });
            }
        }
        if let Some(a) = self.exceptions.get_mut(&meta) {
            *a &= !access;
            if *a == 0 {
                self.exceptions.remove(&meta);
            }
        }
        Ok(())
    }

    /// The program: one block per exception, then the default.
    pub fn program(&self) -> Vec<Insn> {
        // r2 = type, r3 = access, r4 = major, r5 = minor
        let mut p = vec![
            Insn::load_word(2, 1, 0),
            Insn::and32(2, 0xffff),
            Insn::load_word(3, 1, 0),
            Insn::rsh32(3, 16),
            Insn::load_word(4, 1, 4),
            Insn::load_word(5, 1, 8),
        ];
        let verdict = i32::from(!self.default_allow);
        for (&(kind, major, minor), &access) in &self.exceptions {
            // Jumps are filled in once the block's length is known: "to the next block".
            let mut block = vec![Insn::jne(2, kind, 0)];
            if access != ACC_ALL {
                block.push(Insn::mov32_reg(1, 3));
                block.push(Insn::and32(1, i32::from(access)));
                block.push(Insn::jne_reg(1, 3, 0));
            }
            if let Some(m) = major {
                block.push(Insn::jne(4, m as i32, 0));
            }
            if let Some(m) = minor {
                block.push(Insn::jne(5, m as i32, 0));
            }
            block.push(Insn::mov32(0, verdict));
            block.push(Insn::exit());
            let len = block.len();
            for (i, insn) in block.iter_mut().enumerate() {
                if insn.code & 0x07 == bpf::JMP && insn.code & 0xf0 == bpf::JNE {
                    insn.off = (len - i - 1) as i16;
                }
            }
            p.extend(block);
        }
        p.push(Insn::mov32(0, i32::from(self.default_allow)));
        p.push(Insn::exit());
        p
    }
}

/// The program for `rules` (validates them; nothing is loaded).
pub(crate) fn program(rules: &[DeviceRule]) -> Result<Vec<Insn>> {
    Ok(Emulator::from_rules(rules)?.program())
}

/// Load the program for `rules` and attach it to `dir`, then detach the programs this
/// crate attached before (others, e.g. systemd's, are left: they can only restrict more).
pub(crate) fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let insns = program(rules)?;
    // Unit tests run on fake trees (testutil), which hold no programs: the rules are
    // checked, nothing is loaded.
    if cfg!(test) {
        return Ok(());
    }
    let dir_fd: OwnedFd =
        sys::open(dir, libc::O_RDONLY | libc::O_DIRECTORY).map_err(|source| Error::Bpf {
            op: "open cgroup directory",
            path: dir.to_path_buf(),
            source,
            log: String::new(),
        })?;
    raise_memlock();
    let old = bpf::query(&dir_fd, dir)?;
    let prog = bpf::load(&insns, LICENSE, dir)?;
    bpf::attach(&dir_fd, &prog, dir)?;
    for id in old {
        if let Some((fd, name)) = bpf::prog_by_id(id) {
            if name == bpf::PROG_NAME {
                bpf::detach(&dir_fd, &fd, dir)?;
            }
        }
    }
    Ok(())
}

/// Kernels before 5.11 charge BPF programs to RLIMIT_MEMLOCK: lift it (as runc does).
fn raise_memlock() {
    use nix::sys::resource::{setrlimit, Resource, RLIM_INFINITY};
    // Failure only means the old limit stays.
    let _ = setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY);
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
