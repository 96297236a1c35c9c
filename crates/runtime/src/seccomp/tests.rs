//! The translation checked by running the filter stack in a small classic-BPF interpreter,
//! with the kernel's rule for stacked filters (strictest action wins; on a tie, the most
//! recently installed filter).

use serde_json::json;

use super::*;

fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("profile")
}

/// struct seccomp_data: nr, arch, ip, args[6].
struct Data {
    nr: u32,
    arch: u32,
    args: [u64; 6],
}

fn native() -> u32 {
    // AUDIT_ARCH_X86_64 / AUDIT_ARCH_AARCH64
    if cfg!(target_arch = "x86_64") {
        0xc000_003e
    } else {
        0xc000_00b7
    }
}

fn call(name: &str, args: &[u64]) -> Data {
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(args);
    Data {
        nr: syscalls::number(name).expect("known syscall") as u32,
        arch: native(),
        args: a,
    }
}

fn load(d: &Data, off: u32) -> u32 {
    match off {
        0 => d.nr,
        4 => d.arch,
        16..=63 => {
            let i = ((off - 16) / 8) as usize;
            if off.is_multiple_of(8) {
                d.args[i] as u32
            } else {
                (d.args[i] >> 32) as u32
            }
        }
        _ => panic!("load at {off}"),
    }
}

fn run_filter(prog: &[sock_filter], d: &Data) -> u32 {
    run_counting(prog, d).0
}

/// The filter's result and how many instructions it ran.
fn run_counting(prog: &[sock_filter], d: &Data) -> (u32, usize) {
    let (mut pc, mut acc, mut steps) = (0usize, 0u32, 0usize);
    loop {
        let i = &prog[pc];
        pc += 1;
        steps += 1;
        match i.code {
            0x20 => acc = load(d, i.k),
            0x54 => acc &= i.k,
            0x05 => pc += i.k as usize,
            0x15 | 0x25 | 0x35 => {
                let t = match i.code {
                    0x15 => acc == i.k,
                    0x25 => acc > i.k,
                    _ => acc >= i.k,
                };
                pc += if t { i.jt } else { i.jf } as usize;
            }
            0x06 => return (i.k, steps),
            c => panic!("opcode {c:#x}"),
        }
    }
}

/// The kernel's result for the whole stack.
fn eval(p: &Program, d: &Data) -> u32 {
    let mut ret = libc::SECCOMP_RET_ALLOW;
    for f in p.filters.iter().rev() {
        let cur = run_filter(f, d);
        if ((cur & libc::SECCOMP_RET_ACTION_FULL) as i32)
            < ((ret & libc::SECCOMP_RET_ACTION_FULL) as i32)
        {
            ret = cur;
        }
    }
    ret
}

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e as u32
}

#[test]
fn default_errno_with_allow_rules_and_an_enosys_rule() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            { "names": ["read", "write", "openat", "no_such_syscall"], "action": "SCMP_ACT_ALLOW" },
            { "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 }
        ]
    })))
    .unwrap();
    // guard + default filter + the ERRNO(38) filter
    assert_eq!(p.filters.len(), 3);
    assert_eq!(eval(&p, &call("read", &[])), ALLOW);
    assert_eq!(eval(&p, &call("openat", &[])), ALLOW);
    assert_eq!(eval(&p, &call("mkdir", &[])), errno(libc::EPERM));
    assert_eq!(eval(&p, &call("clone3", &[])), errno(libc::ENOSYS));
}

#[test]
fn errno_values() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13,
        "syscalls": [
            { "names": ["read"], "action": "SCMP_ACT_ALLOW" },
            { "names": ["mkdir"], "action": "SCMP_ACT_ERRNO" },
            { "names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0 }
        ]
    })))
    .unwrap();
    assert_eq!(eval(&p, &call("read", &[])), ALLOW);
    assert_eq!(eval(&p, &call("getpid", &[])), errno(libc::EACCES));
    assert_eq!(eval(&p, &call("mkdir", &[])), errno(libc::EPERM));
    assert_eq!(eval(&p, &call("chmod", &[])), errno(0));
}

#[test]
fn default_allow_deny_list() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            { "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 },
            { "names": ["chmod"], "action": "SCMP_ACT_KILL" },
            { "names": ["unshare"], "action": "SCMP_ACT_KILL_PROCESS" },
            { "names": ["getppid"], "action": "SCMP_ACT_TRAP" },
            { "names": ["getuid"], "action": "SCMP_ACT_LOG" },
            { "names": ["getgid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7 },
            { "names": ["getpid"], "action": "SCMP_ACT_ALLOW" }
        ]
    })))
    .unwrap();
    // guard + one filter per action other than ALLOW
    assert_eq!(p.filters.len(), 7);
    assert_eq!(eval(&p, &call("read", &[])), ALLOW);
    assert_eq!(eval(&p, &call("getpid", &[])), ALLOW);
    assert_eq!(eval(&p, &call("mkdir", &[])), errno(libc::ENOSYS));
    assert_eq!(eval(&p, &call("chmod", &[])), libc::SECCOMP_RET_KILL_THREAD);
    assert_eq!(
        eval(&p, &call("unshare", &[])),
        libc::SECCOMP_RET_KILL_PROCESS
    );
    assert_eq!(eval(&p, &call("getppid", &[])), libc::SECCOMP_RET_TRAP);
    assert_eq!(eval(&p, &call("getuid", &[])), libc::SECCOMP_RET_LOG);
    assert_eq!(eval(&p, &call("getgid", &[])), libc::SECCOMP_RET_TRACE | 7);
}

#[test]
fn no_rules_and_default_allow_installs_nothing() {
    let p = compile(&profile(json!({ "defaultAction": "SCMP_ACT_ALLOW" }))).unwrap();
    assert!(p.filters.is_empty());
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["read"], "action": "SCMP_ACT_ALLOW" }]
    })))
    .unwrap();
    assert!(p.filters.is_empty());
}

#[test]
fn masked_equal() {
    // docker's clone rule: allowed unless a namespace flag is set.
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{ "names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{ "index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }] }]
    })))
    .unwrap();
    let fork_flags = (libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID) as u64 | 17;
    assert_eq!(eval(&p, &call("clone", &[fork_flags])), ALLOW);
    assert_eq!(
        eval(&p, &call("clone", &[fork_flags | libc::CLONE_NEWNS as u64])),
        errno(libc::EPERM)
    );
    assert_eq!(
        eval(&p, &call("clone", &[libc::CLONE_NEWUSER as u64])),
        errno(libc::EPERM)
    );
}

#[test]
fn argument_comparisons() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            // different arguments: AND
            { "names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
              "args": [{ "index": 1, "value": 10, "op": "SCMP_CMP_EQ" },
                       { "index": 0, "value": 1, "op": "SCMP_CMP_GT" }] },
            // one argument twice: OR (as runc)
            { "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
              "args": [{ "index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ" },
                       { "index": 0, "value": 8, "op": "SCMP_CMP_EQ" }] },
            { "names": ["setpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2,
              "args": [{ "index": 1, "value": 5, "op": "SCMP_CMP_LT" }] },
            { "names": ["setsid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3,
              "args": [{ "index": 0, "value": 5, "op": "SCMP_CMP_GE" }] },
            { "names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4,
              "args": [{ "index": 0, "value": 5, "op": "SCMP_CMP_NE" }] },
            { "names": ["alarm"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
              "args": [{ "index": 0, "value": 5, "op": "SCMP_CMP_LE" }] }
        ]
    })))
    .unwrap();
    assert_eq!(eval(&p, &call("kill", &[42, 10])), errno(1));
    assert_eq!(eval(&p, &call("kill", &[42, 9])), ALLOW);
    assert_eq!(eval(&p, &call("kill", &[1, 10])), ALLOW);
    assert_eq!(eval(&p, &call("personality", &[0xffff_ffff])), errno(22));
    assert_eq!(eval(&p, &call("personality", &[8])), errno(22));
    assert_eq!(eval(&p, &call("personality", &[0])), ALLOW);
    // 64-bit comparisons: the upper half counts
    assert_eq!(
        eval(&p, &call("personality", &[0xffff_ffff_ffff_ffff])),
        ALLOW
    );
    assert_eq!(eval(&p, &call("setpgid", &[0, 4])), errno(2));
    assert_eq!(eval(&p, &call("setpgid", &[0, 5])), ALLOW);
    assert_eq!(eval(&p, &call("setsid", &[5])), errno(3));
    assert_eq!(eval(&p, &call("setsid", &[4])), ALLOW);
    assert_eq!(eval(&p, &call("umask", &[4])), errno(4));
    assert_eq!(eval(&p, &call("umask", &[5])), ALLOW);
    assert_eq!(eval(&p, &call("alarm", &[5])), errno(5));
    assert_eq!(eval(&p, &call("alarm", &[6])), ALLOW);
}

#[test]
fn strictest_action_wins_when_rules_overlap() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            { "names": ["mkdir", "rmdir"], "action": "SCMP_ACT_ALLOW" },
            { "names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS" },
            { "names": ["getpid"], "action": "SCMP_ACT_LOG" }
        ]
    })))
    .unwrap();
    assert_eq!(
        eval(&p, &call("mkdir", &[])),
        libc::SECCOMP_RET_KILL_PROCESS
    );
    assert_eq!(eval(&p, &call("rmdir", &[])), ALLOW);
    // LOG is weaker than the default ERRNO, yet a LOG rule makes the syscall LOG.
    assert_eq!(eval(&p, &call("getpid", &[])), libc::SECCOMP_RET_LOG);
    assert_eq!(eval(&p, &call("getppid", &[])), errno(libc::EPERM));
}

#[test]
fn foreign_architectures_get_enosys() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS" }]
    })))
    .unwrap();
    let mut d = call("getpid", &[]);
    d.arch = 0x4000_0003; // AUDIT_ARCH_I386
    assert_eq!(eval(&p, &d), errno(libc::ENOSYS));
    // A foreign number that is mkdir natively is not killed: it is not mkdir there.
    let mut d = call("mkdir", &[]);
    d.arch = 0x4000_0003;
    assert_eq!(eval(&p, &d), errno(libc::ENOSYS));
    if cfg!(target_arch = "x86_64") {
        let mut d = call("mkdir", &[]);
        d.nr |= 0x4000_0000; // x32
        assert_eq!(eval(&p, &d), errno(libc::ENOSYS));
    }
    assert_eq!(
        eval(&p, &call("mkdir", &[])),
        libc::SECCOMP_RET_KILL_PROCESS
    );
}

#[test]
fn seccomp_denying_filter_is_loaded_last() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            { "names": ["read"], "action": "SCMP_ACT_ALLOW" },
            { "names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS" }
        ]
    })))
    .unwrap();
    // The default filter denies seccomp(2): the KILL filter goes before it.
    let seccomp = call("seccomp", &[]);
    let last = p.filters.last().unwrap();
    assert_eq!(run_filter(last, &seccomp), errno(libc::EPERM));
    for f in &p.filters[..p.filters.len() - 1] {
        assert_eq!(run_filter(f, &seccomp), ALLOW);
    }
    let err = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{ "names": ["seccomp"], "action": "SCMP_ACT_KILL",
            "args": [{ "index": 0, "value": 5, "op": "SCMP_CMP_EQ" }] }]
    })))
    .unwrap_err();
    assert!(err.to_string().contains("deny seccomp(2)"), "{err}");
}

#[test]
fn notify_rules_return_user_notif_and_load_with_a_listener() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
    })))
    .unwrap();
    assert!(p.notifies());
    let (at, _) = p.listener.unwrap();
    let mkdir = call("mkdir", &[]);
    assert_eq!(
        run_filter(&p.filters[at], &mkdir),
        libc::SECCOMP_RET_USER_NOTIF
    );
    assert_eq!(run_filter(&p.filters[at], &call("read", &[])), ALLOW);
}

#[test]
fn capset_is_allowed_when_the_process_drops_cap_sys_admin_after_its_filter() {
    let process: oci_spec::runtime::Process = serde_json::from_value(json!({
        "cwd": "/", "user": { "uid": 0, "gid": 0 }, "noNewPrivileges": false,
        "capabilities": { "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"] }
    }))
    .unwrap();
    let denying = json!({ "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{ "names": ["read", "write"], "action": "SCMP_ACT_ALLOW" },
                     { "names": ["capset"], "action": "SCMP_ACT_KILL_PROCESS" }] });
    let p = super::compile_for(&profile(denying.clone()), Some(&process)).unwrap();
    for f in &p.filters {
        assert_eq!(run_filter(f, &call("capset", &[])), ALLOW);
    }
    // With no_new_privs the filter needs no CAP_SYS_ADMIN: the profile stands.
    let mut nnp = process.clone();
    nnp.set_no_new_privileges(Some(true));
    let p = super::compile_for(&profile(denying), Some(&nnp)).unwrap();
    assert!(p
        .filters
        .iter()
        .any(|f| run_filter(f, &call("capset", &[])) != ALLOW));
}

#[test]
fn a_profile_killing_execve_is_refused_for_a_container_process() {
    for v in [
        json!({ "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{ "names": ["execve"], "action": "SCMP_ACT_KILL" }] }),
        json!({ "defaultAction": "SCMP_ACT_KILL_PROCESS",
                "syscalls": [{ "names": ["read"], "action": "SCMP_ACT_ALLOW" }] }),
    ] {
        let e = format!("{:#}", super::compile_for(&profile(v), None).unwrap_err());
        assert!(e.contains("kills execve(2)"), "{e}");
    }
    // An errno is reported by the init instead, and a conditional kill may never match.
    super::compile_for(
        &profile(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["execve"], "action": "SCMP_ACT_ERRNO" }] })),
        None,
    )
    .unwrap();
}

fn compile_err(v: serde_json::Value) -> String {
    format!("{:#}", compile(&profile(v)).unwrap_err())
}

#[test]
fn bad_profiles_name_the_field() {
    // SCMP_ACT_NOTIFY hands syscalls to an agent: without its socket it is refused.
    let e = compile_err(json!({ "defaultAction": "SCMP_ACT_NOTIFY" }));
    assert!(
        e.contains("SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath"),
        "{e}"
    );
    let e = compile_err(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["read"], "action": "SCMP_ACT_ALLOW" },
                     { "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }] }));
    assert!(
        e.contains("SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath"),
        "{e}"
    );
    let e = compile_err(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000 }] }));
    assert!(e.contains("linux.seccomp.syscalls[0].errnoRet 5000"), "{e}");
    let e = compile_err(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1 }] }));
    assert!(e.contains("linux.seccomp.syscalls[0].errnoRet"), "{e}");
    let e = compile_err(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
            "args": [{ "index": 6, "value": 1, "op": "SCMP_CMP_EQ" }] }] }));
    assert!(
        e.contains("linux.seccomp.syscalls[0].args[0].index 6"),
        "{e}"
    );
    let e = compile_err(json!({ "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000 }));
    assert!(e.contains("linux.seccomp.defaultErrnoRet 70000"), "{e}");
    // A listenerPath without a notify rule is a listener nobody uses: fine.
    compile(&profile(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock" })))
    .unwrap();
    let e = compile_err(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": [], "action": "SCMP_ACT_ERRNO" }] }));
    assert!(e.contains("linux.seccomp.syscalls[0].names"), "{e}");
}

#[test]
fn docker_default_profile() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/seccomp-docker-default.json"
    );
    let data = std::fs::read(path).expect("fixture");
    let p: LinuxSeccomp = serde_json::from_slice(&data).expect("profile");
    let prog = compile(&p).unwrap();
    let sizes = prog.sizes();
    eprintln!(
        "docker default profile: {} filters, BPF instructions {:?}, total {}",
        sizes.len(),
        sizes,
        sizes.iter().sum::<usize>()
    );
    assert!(sizes.iter().all(|n| *n < 4096));
    // Instructions the kernel runs per syscall (all filters), over every syscall number.
    let runs: Vec<usize> = (0..470u32)
        .map(|nr| {
            let d = Data {
                nr,
                arch: native(),
                args: [0; 6],
            };
            prog.filters.iter().map(|f| run_counting(f, &d).1).sum()
        })
        .collect();
    let read = runs[syscalls::number("read").unwrap() as usize];
    let openat = runs[syscalls::number("openat").unwrap() as usize];
    eprintln!(
        "docker default profile: instructions run per syscall: read {read}, openat {openat}, \
         max {}, mean {}",
        runs.iter().max().unwrap(),
        runs.iter().sum::<usize>() / runs.len()
    );
    assert_eq!(eval(&prog, &call("read", &[])), ALLOW);
    assert_eq!(eval(&prog, &call("execve", &[])), ALLOW);
    assert_eq!(eval(&prog, &call("seccomp", &[])), ALLOW);
    assert_eq!(eval(&prog, &call("reboot", &[])), errno(libc::EPERM));
    assert_eq!(eval(&prog, &call("unshare", &[])), errno(libc::EPERM));
    assert_eq!(eval(&prog, &call("socket", &[1])), ALLOW);
    assert_eq!(eval(&prog, &call("socket", &[40])), errno(libc::EPERM));
    assert_eq!(eval(&prog, &call("mount", &[])), errno(libc::EPERM));
    assert_eq!(eval(&prog, &call("clone3", &[])), errno(libc::ENOSYS));
    assert_eq!(eval(&prog, &call("clone", &[0x1200011])), ALLOW);
    assert_eq!(
        eval(&prog, &call("clone", &[libc::CLONE_NEWNS as u64])),
        errno(libc::EPERM)
    );
    assert_eq!(eval(&prog, &call("personality", &[0])), ALLOW);
    assert_eq!(eval(&prog, &call("personality", &[1])), errno(libc::EPERM));
}
