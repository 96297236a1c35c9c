//! The generated programs, run by a tiny interpreter of the instructions they use.

use super::*;
use crate::resources::{DeviceKind, DeviceRule};

/// Run `p` on (type, access, major, minor) as the kernel would; the return value.
fn run(p: &[Insn], kind: i32, access: u8, major: u32, minor: u32) -> u64 {
    let ctx = [(u32::from(access) << 16) | kind as u32, major, minor];
    let mut r = [0u64; 11];
    r[1] = u64::MAX; // the context pointer: only used as a load base
    let mut pc = 0usize;
    for _ in 0..10_000 {
        let i = p[pc];
        pc += 1;
        let (d, s) = (i.dst(), i.src());
        match i.code {
            0x61 => {
                assert_eq!(r[s], u64::MAX, "load from a non-context register");
                r[d] = u64::from(ctx[i.off as usize / 4]);
            }
            0x54 => r[d] = (r[d] as u32 & i.imm as u32) as u64,
            0x74 => r[d] = ((r[d] as u32) >> i.imm) as u64,
            0xbc => r[d] = r[s] as u32 as u64,
            0xb4 => r[d] = i.imm as u32 as u64,
            0x55 | 0x5d => {
                let other = if i.code == 0x55 {
                    i.imm as i64 as u64
                } else {
                    r[s]
                };
                if r[d] != other {
                    pc = (pc as isize + i.off as isize) as usize;
                }
            }
            0x95 => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
    panic!("program does not end");
}

fn rule(
    allow: bool,
    kind: DeviceKind,
    major: Option<i64>,
    minor: Option<i64>,
    a: &str,
) -> DeviceRule {
    DeviceRule {
        allow,
        kind,
        major,
        minor,
        access: a.to_string(),
    }
}

const C: i32 = DEV_CHAR;
const B: i32 = DEV_BLOCK;
const R: u8 = ACC_READ;
const W: u8 = ACC_WRITE;
const M: u8 = ACC_MKNOD;

#[test]
fn default_deny_with_allow_rules() {
    let rules = [
        rule(false, DeviceKind::All, None, None, "rwm"),
        rule(true, DeviceKind::Char, Some(1), Some(3), "rwm"),
        rule(true, DeviceKind::Char, Some(1), Some(5), "r"),
        rule(true, DeviceKind::Block, Some(8), None, "rw"),
        rule(true, DeviceKind::Char, None, None, "m"),
    ];
    let p = program(&rules).unwrap();
    assert_eq!(run(&p, C, R | W, 1, 3), 1);
    assert_eq!(run(&p, C, M, 1, 3), 1);
    assert_eq!(run(&p, C, R, 1, 5), 1);
    assert_eq!(run(&p, C, W, 1, 5), 0);
    assert_eq!(run(&p, C, R | W, 1, 5), 0);
    assert_eq!(run(&p, B, R, 8, 17), 1);
    assert_eq!(run(&p, B, M, 8, 17), 0);
    assert_eq!(run(&p, C, R, 8, 17), 0);
    assert_eq!(run(&p, C, M, 136, 2), 1);
    assert_eq!(run(&p, C, R, 136, 2), 0);
    assert_eq!(run(&p, B, R, 7, 0), 0);
}

#[test]
fn allow_all_then_deny_and_resets() {
    let rules = [
        rule(true, DeviceKind::All, None, None, ""),
        rule(false, DeviceKind::Char, Some(1), Some(3), "w"),
    ];
    let p = program(&rules).unwrap();
    assert_eq!(run(&p, C, R, 1, 3), 1);
    assert_eq!(run(&p, C, W, 1, 3), 0);
    assert_eq!(run(&p, B, W, 1, 3), 1);
    // A later "a" rule wipes what came before.
    let mut more = rules.to_vec();
    more.push(rule(false, DeviceKind::All, None, None, "rwm"));
    let p = program(&more).unwrap();
    assert_eq!(p.len(), 8, "prologue + default only");
    assert_eq!(run(&p, C, R, 1, 3), 0);
    // No rules at all: deny everything (runc's starting point).
    assert_eq!(run(&program(&[]).unwrap(), C, R, 1, 3), 0);
}

#[test]
fn removing_exceptions_and_errors() {
    // Allow c 1:3 rwm, then deny its write again: read stays.
    let rules = [
        rule(false, DeviceKind::All, None, None, "rwm"),
        rule(true, DeviceKind::Char, Some(1), Some(3), "rwm"),
        rule(false, DeviceKind::Char, Some(1), Some(3), "w"),
    ];
    let e = Emulator::from_rules(&rules).unwrap();
    assert_eq!(e.exceptions.get(&(C, Some(1), Some(3))), Some(&(R | M)));
    let p = e.program();
    assert_eq!(run(&p, C, R, 1, 3), 1);
    assert_eq!(run(&p, C, W, 1, 3), 0);
    // Punching a hole into a wildcard exception is refused.
    let hole = [
        rule(false, DeviceKind::All, None, None, "rwm"),
        rule(true, DeviceKind::Char, None, None, "rwm"),
        rule(false, DeviceKind::Char, Some(1), Some(3), "r"),
    ];
    let err = program(&hole).unwrap_err().to_string();
    assert!(err.contains("c 1:3 r") && err.contains("hole"), "{err}");
    let bad = [rule(true, DeviceKind::Char, Some(1), Some(3), "rx")];
    assert!(program(&bad).is_err());
}

#[test]
fn instruction_encoding() {
    // Cross-checked with the kernel's struct bpf_insn layout: code, dst|src<<4, off, imm.
    let i = Insn::jne_reg(1, 3, 7);
    assert_eq!((i.code, i.regs, i.off, i.imm), (0x5d, 0x31, 7, 0));
    assert_eq!(Insn::load_word(4, 1, 4).code, 0x61);
    assert_eq!(Insn::exit().code, 0x95);
    assert_eq!(std::mem::size_of::<Insn>(), 8);
}
