//! A minimal eBPF toolkit for cgroup device programs: an instruction encoder and the bpf(2)
//! commands to load, list, attach and detach BPF_PROG_TYPE_CGROUP_DEVICE programs.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::error::{Error, Result};

/// One eBPF instruction as the kernel takes it (struct bpf_insn).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcode parts (linux/bpf_common.h, linux/bpf.h).
pub(crate) const LDX: u8 = 0x01;
pub(crate) const ALU: u8 = 0x04;
pub(crate) const JMP: u8 = 0x05;
pub(crate) const MEM: u8 = 0x60;
pub(crate) const W: u8 = 0x00;
pub(crate) const K: u8 = 0x00;
pub(crate) const X: u8 = 0x08;
pub(crate) const AND: u8 = 0x50;
pub(crate) const RSH: u8 = 0x70;
pub(crate) const MOV: u8 = 0xb0;
pub(crate) const JNE: u8 = 0x50;
pub(crate) const EXIT: u8 = 0x90;

impl Insn {
    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
    #[cfg(test)]
    pub fn dst(&self) -> usize {
        (self.regs & 0x0f) as usize
    }
    #[cfg(test)]
    pub fn src(&self) -> usize {
        (self.regs >> 4) as usize
    }
    /// dst = *(u32 *)(src + off)
    pub fn load_word(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(LDX | MEM | W, dst, src, off, 0)
    }
    /// dst &= imm (32-bit)
    pub fn and32(dst: u8, imm: i32) -> Insn {
        Insn::new(ALU | AND | K, dst, 0, 0, imm)
    }
    /// dst >>= imm (32-bit)
    pub fn rsh32(dst: u8, imm: i32) -> Insn {
        Insn::new(ALU | RSH | K, dst, 0, 0, imm)
    }
    /// dst = src (32-bit)
    pub fn mov32_reg(dst: u8, src: u8) -> Insn {
        Insn::new(ALU | MOV | X, dst, src, 0, 0)
    }
    /// dst = imm (32-bit)
    pub fn mov32(dst: u8, imm: i32) -> Insn {
        Insn::new(ALU | MOV | K, dst, 0, 0, imm)
    }
    /// if dst != imm goto pc + 1 + off
    pub fn jne(dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(JMP | JNE | K, dst, 0, off, imm)
    }
    /// if dst != src goto pc + 1 + off
    pub fn jne_reg(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(JMP | JNE | X, dst, src, off, 0)
    }
    /// return r0
    pub fn exit() -> Insn {
        Insn::new(JMP | EXIT, 0, 0, 0, 0)
    }
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The name given to (and looked for on) programs this crate attaches.
pub(crate) const PROG_NAME: &str = "cgroups_devices";

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: attr is a valid, initialized bpf_attr variant of size_of::<T>() bytes whose
    // pointers (if any) point to live buffers of the stated sizes.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

fn fd_of(rc: libc::c_long) -> OwnedFd {
    // SAFETY: rc is a new fd returned by bpf(2), owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(rc as i32) }
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// Load a cgroup device program; on failure the error carries the verifier log.
pub(crate) fn load(insns: &[Insn], license: &str, dir: &Path) -> Result<OwnedFd> {
    let lic = CString::new(license).unwrap_or_default();
    let mut name = [0u8; 16];
    name[..PROG_NAME.len()].copy_from_slice(PROG_NAME.as_bytes());
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: lic.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(fd_of(fd)),
        Err(first) => {
            // Load again with a log to say why.
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let source = match bpf(BPF_PROG_LOAD, &mut attr) {
                Ok(fd) => return Ok(fd_of(fd)),
                Err(e) => e,
            };
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let _ = first;
            Err(Error::Bpf {
                op: "BPF_PROG_LOAD",
                path: dir.to_path_buf(),
                source,
                log: String::from_utf8_lossy(&log[..end]).trim().to_string(),
            })
        }
    }
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

fn bpf_err<'a>(op: &'static str, dir: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Bpf {
        op,
        path: dir.to_path_buf(),
        source,
        log: String::new(),
    }
}

/// Attach `prog` to the cgroup `dir_fd` as one of several device programs.
pub(crate) fn attach(dir_fd: &OwnedFd, prog: &OwnedFd, dir: &Path) -> Result<()> {
    let mut attr = AttachAttr {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(bpf_err("BPF_PROG_ATTACH", dir))?;
    Ok(())
}

/// Detach `prog` from the cgroup `dir_fd`.
pub(crate) fn detach(dir_fd: &OwnedFd, prog: &OwnedFd, dir: &Path) -> Result<()> {
    let mut attr = AttachAttr {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map_err(bpf_err("BPF_PROG_DETACH", dir))?;
    Ok(())
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

/// Ids of the device programs attached to this cgroup itself (not inherited ones).
pub(crate) fn query(dir_fd: &OwnedFd, dir: &Path) -> Result<Vec<u32>> {
    let mut size = 64usize;
    for _ in 0..5 {
        let mut ids = vec![0u32; size];
        let mut attr = QueryAttr {
            target_fd: dir_fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // Too small a buffer: prog_cnt says how many there are.
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                size = attr.prog_cnt as usize + 8;
            }
            Err(e) => return Err(bpf_err("BPF_PROG_QUERY", dir)(e)),
        }
    }
    Err(bpf_err("BPF_PROG_QUERY", dir)(
        io::Error::from_raw_os_error(libc::ENOSPC),
    ))
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The fd and name of program `id`; `None` if it vanished or we may not open it.
pub(crate) fn prog_by_id(id: u32) -> Option<(OwnedFd, String)> {
    let mut attr = GetFdAttr {
        prog_id: id,
        ..Default::default()
    };
    let fd = fd_of(bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).ok()?);
    // struct bpf_prog_info up to and including name[16] (at offset 64).
    let mut info = [0u8; 80];
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: info.len() as u32,
        info: info.as_mut_ptr() as u64,
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr).ok()?;
    let raw = &info[64..80];
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    Some((fd, String::from_utf8_lossy(&raw[..end]).into_owned()))
}
