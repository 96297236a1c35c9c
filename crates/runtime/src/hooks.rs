//! OCI hooks: each `{path, args, env, timeout}` is run with the container's state JSON on
//! stdin, its stdout and stderr captured (shown when it fails). A hook past its `timeout` is
//! killed (with its process group) and fails.
//!
//! Its environment, as runc (which runs a hook as Go's exec.Cmd with `Env: hook.Env`):
//! exactly `env` when the hook has one (an empty list is an empty environment); without
//! `env`, the environment of whoever runs it: rt's for every kind but startContainer, which
//! gets the container process's `process.env` (it runs in the init, whose environment runc
//! has made the process's by then). Never rt's internal `_RT_SEALED_EXE` marker.
//!
//! Where each kind runs (runtime-spec "Lifecycle", as runc):
//! - prestart (deprecated) then createRuntime: by `rt create`, in the runtime's namespaces,
//!   once the init has set up its mounts and before it pivots (the init waits for them);
//! - createContainer: by the init, in the container's namespaces after its mounts and before
//!   pivot_root (so the path is resolved on the host's filesystem);
//! - startContainer: by the init after `rt start`, before the user's program, in the
//!   container (the path is resolved in the container's root);
//! - poststart: by `rt start`, once the init goes on; a failure is a warning;
//! - poststop: by `rt delete`, after the container is gone; a failure is a warning.
//!
//! Hooks in the runtime's namespaces run with the bundle as their working directory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, FromRawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use oci_spec::runtime::{Hook, Hooks};
use serde::Serialize;

use crate::logging;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

/// Every kind, in lifecycle order, with its config.json name (for `rt features`).
pub const KINDS: &[(Kind, &str)] = &[
    (Kind::Prestart, "prestart"),
    (Kind::CreateRuntime, "createRuntime"),
    (Kind::CreateContainer, "createContainer"),
    (Kind::StartContainer, "startContainer"),
    (Kind::Poststart, "poststart"),
    (Kind::Poststop, "poststop"),
];

/// rt's internal environment variables, which a hook inheriting rt's environment never
/// sees: sealed.rs's re-exec marker (checked there by a unit test).
pub(crate) const RT_INTERNAL_ENV: &[&str] = &["_RT_SEALED_EXE"];

/// How much of a failed hook's output goes into the error message.
const OUTPUT_MAX: usize = 1024;

impl Kind {
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
            .unwrap_or("hooks")
    }
}

/// The hooks of one kind in a spec (none when absent).
#[allow(deprecated)]
pub fn of_kind(hooks: Option<&Hooks>, kind: Kind) -> &[Hook] {
    let Some(h) = hooks else { return &[] };
    match kind {
        Kind::Prestart => h.prestart(),
        Kind::CreateRuntime => h.create_runtime(),
        Kind::CreateContainer => h.create_container(),
        Kind::StartContainer => h.start_container(),
        Kind::Poststart => h.poststart(),
        Kind::Poststop => h.poststop(),
    }
    .as_deref()
    .unwrap_or(&[])
}

/// Only the hooks that run after `create` (kept in state.json: the bundle may be gone).
pub fn later(hooks: Option<&Hooks>) -> Option<Hooks> {
    let poststart = of_kind(hooks, Kind::Poststart);
    let poststop = of_kind(hooks, Kind::Poststop);
    if poststart.is_empty() && poststop.is_empty() {
        return None;
    }
    let mut h = Hooks::default();
    h.set_poststart(Some(poststart.to_vec()).filter(|v| !v.is_empty()));
    h.set_poststop(Some(poststop.to_vec()).filter(|v| !v.is_empty()));
    Some(h)
}

/// Static checks for config.json: absolute paths, positive timeouts, NAME=VALUE env.
pub fn validate(hooks: Option<&Hooks>) -> anyhow::Result<()> {
    for (kind, name) in KINDS {
        for (i, hook) in of_kind(hooks, *kind).iter().enumerate() {
            let field = format!("hooks.{name}[{i}]");
            if !hook.path().is_absolute() {
                bail!("{field}.path {:?}: must be an absolute path", hook.path());
            }
            if let Some(t) = hook.timeout() {
                if t <= 0 {
                    bail!("{field}.timeout {t}: must be greater than zero");
                }
            }
            for (j, kv) in hook.env().as_deref().unwrap_or(&[]).iter().enumerate() {
                if !kv.contains('=') || kv.starts_with('=') {
                    bail!("{field}.env[{j}] {kv:?}: must be NAME=VALUE");
                }
            }
        }
    }
    Ok(())
}

/// The state a hook gets on stdin, as `rt state` prints it (the fields known at that point).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: &'a str,
    pub pid: i32,
    pub bundle: &'a Path,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<&'a str, &'a str>,
}

impl<'a> HookState<'a> {
    /// The state of container `id` made from `spec` (its annotations), whose init is `pid`
    /// as the hook sees it (the host's for runtime hooks, the container's for the others).
    pub fn of(
        spec: &'a oci_spec::runtime::Spec,
        id: &'a str,
        status: &'a str,
        pid: i32,
        bundle: &'a Path,
    ) -> HookState<'a> {
        HookState {
            oci_version: crate::bundle::OCI_VERSION,
            id,
            status,
            pid,
            bundle,
            annotations: spec
                .annotations()
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        }
    }
}

/// Runs the hooks of `kind` in order; the first failure stops them and is returned. A hook
/// without `env` inherits rt's environment.
pub fn run(
    hooks: Option<&Hooks>,
    kind: Kind,
    state: &impl Serialize,
    cwd: Option<&Path>,
) -> anyhow::Result<()> {
    run_with_default_env(hooks, kind, state, cwd, None)
}

/// [`run`], with `default_env` (when given) the environment of a hook without `env`
/// instead of rt's: startContainer hooks get the container process's `process.env`.
pub fn run_with_default_env(
    hooks: Option<&Hooks>,
    kind: Kind,
    state: &impl Serialize,
    cwd: Option<&Path>,
    default_env: Option<&[String]>,
) -> anyhow::Result<()> {
    let list = of_kind(hooks, kind);
    if list.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_vec(state).context("hook state")?;
    for (i, hook) in list.iter().enumerate() {
        let field = format!("hooks.{}[{i}]", kind.name());
        run_one(hook, &field, &json, cwd, default_env)?;
    }
    Ok(())
}

/// Runs every hook of `kind`; failures are warnings (poststart, poststop).
pub fn run_warn(hooks: Option<&Hooks>, kind: Kind, state: &impl Serialize, cwd: Option<&Path>) {
    let list = of_kind(hooks, kind);
    if list.is_empty() {
        return;
    }
    let json = match serde_json::to_vec(state) {
        Ok(json) => json,
        Err(e) => return logging::warn(&format!("hooks.{}: state: {e}", kind.name())),
    };
    for (i, hook) in list.iter().enumerate() {
        if let Err(e) = run_one(
            hook,
            &format!("hooks.{}[{i}]", kind.name()),
            &json,
            cwd,
            None,
        ) {
            logging::warn(&format!("{e:#}"));
        }
    }
}

fn memfd(name: &std::ffi::CStr) -> anyhow::Result<File> {
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let fd = memfd_create(name, MemFdCreateFlag::MFD_CLOEXEC).context("memfd_create")?;
    Ok(File::from(fd))
}

fn run_one(
    hook: &Hook,
    field: &str,
    state: &[u8],
    cwd: Option<&Path>,
    default_env: Option<&[String]>,
) -> anyhow::Result<()> {
    let path = hook.path();
    let what = || format!("{field} {}", path.display());
    // stdin and the output are memory files, not pipes: no SIGPIPE if the hook does not
    // read its stdin, no deadlock if it writes a lot.
    let mut stdin = memfd(c"rt-hook-state").with_context(what)?;
    stdin.write_all(state).with_context(what)?;
    stdin.seek(SeekFrom::Start(0)).with_context(what)?;
    let mut output = memfd(c"rt-hook-output").with_context(what)?;

    let mut cmd = Command::new(path);
    if let Some((argv0, rest)) = hook.args().as_deref().unwrap_or(&[]).split_first() {
        cmd.arg0(argv0).args(rest);
    }
    match hook.env().as_deref().or(default_env) {
        Some(env) => {
            cmd.env_clear();
            for kv in env {
                if let Some((k, v)) = kv.split_once('=') {
                    cmd.env(k, v);
                }
            }
        }
        // rt's own environment (removed from it already when rt re-executed itself, but
        // never passed on whatever happened).
        None => {
            for var in RT_INTERNAL_ENV {
                cmd.env_remove(var);
            }
        }
    }
    if let Some(dir) = cwd.filter(|d| d.is_dir()) {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::from(stdin))
        .stdout(Stdio::from(output.try_clone().with_context(what)?))
        .stderr(Stdio::from(output.try_clone().with_context(what)?))
        .process_group(0);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("{field}.path {}", path.display()))?;
    let timeout = hook.timeout().map(|t| Duration::from_secs(t.max(1) as u64));
    let status = match wait(&mut child, timeout).with_context(what)? {
        Some(status) => status,
        None => {
            // The hook's own process group (it is its leader).
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{}: still running after its timeout of {}s; killed",
                what(),
                hook.timeout().unwrap_or(0)
            );
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = output.seek(SeekFrom::Start(0));
    let _ = output.take(OUTPUT_MAX as u64 * 4).read_to_string(&mut text);
    let text = one_line(&text);
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => format!("{status}"),
    };
    if text.is_empty() {
        bail!("{}: {how}", what());
    }
    bail!("{}: {how}: {text}", what())
}

/// Output squeezed onto one line (rt's errors are one line), trimmed to OUTPUT_MAX.
fn one_line(text: &str) -> String {
    let mut s = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > OUTPUT_MAX {
        let mut end = OUTPUT_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// Waits for the hook; `None` when the timeout passed first.
fn wait(child: &mut Child, timeout: Option<Duration>) -> anyhow::Result<Option<ExitStatus>> {
    let Some(timeout) = timeout else {
        return Ok(Some(child.wait()?));
    };
    let deadline = Instant::now() + timeout;
    // SAFETY: pidfd_open of our own unreaped child.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
    let pidfd = (pidfd >= 0).then(|| {
        // SAFETY: a fresh fd we own.
        unsafe { std::os::fd::OwnedFd::from_raw_fd(pidfd as i32) }
    });
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match &pidfd {
            Some(fd) => {
                use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                let ms = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
                let _ = poll(&mut [PollFd::new(fd.as_fd(), PollFlags::POLLIN)], ms);
            }
            // Kernels before 5.3: poll the status.
            None => std::thread::sleep(left.min(Duration::from_millis(5))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hooks(v: serde_json::Value) -> Hooks {
        serde_json::from_value(v).unwrap()
    }

    fn state() -> HookState<'static> {
        HookState {
            oci_version: "1.2.0",
            id: "c1",
            status: "creating",
            pid: 42,
            bundle: Path::new("/b"),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn runs_with_state_args_and_env() {
        let dir = std::env::temp_dir().join(format!("rt-hooks-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log");
        let script = format!(
            "cat > {0}; echo \" $0 $1 $FOO ${{HOME-unset}}\" >> {0}",
            log.display()
        );
        let h = hooks(json!({ "createRuntime": [
            { "path": "/bin/sh", "args": ["sh", "-c", script, "zero", "one"], "env": ["FOO=bar"] }
        ]}));
        run(Some(&h), Kind::CreateRuntime, &state(), None).unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            text,
            "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\",\"pid\":42,\"bundle\":\"/b\"} zero one bar unset\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn failures_name_the_hook_and_show_its_output() {
        let h = hooks(json!({ "poststart": [
            { "path": "/bin/sh", "args": ["sh", "-c", "echo first line; echo oops >&2; exit 3"] }
        ], "createContainer": [{ "path": "/no/such/hook" }] }));
        let e = format!(
            "{:#}",
            run(Some(&h), Kind::Poststart, &state(), None).unwrap_err()
        );
        assert_eq!(
            e,
            "hooks.poststart[0] /bin/sh: exited with status 3: first line oops"
        );
        let e = format!(
            "{:#}",
            run(Some(&h), Kind::CreateContainer, &state(), None).unwrap_err()
        );
        assert!(
            e.starts_with("hooks.createContainer[0].path /no/such/hook: "),
            "{e}"
        );
    }

    #[test]
    fn timeout_kills_the_hook() {
        let h = hooks(json!({ "createRuntime": [
            { "path": "/bin/sh", "args": ["sh", "-c", "sleep 30"], "timeout": 1 }
        ]}));
        let t = Instant::now();
        let e = format!(
            "{:#}",
            run(Some(&h), Kind::CreateRuntime, &state(), None).unwrap_err()
        );
        assert!(e.contains("timeout of 1s; killed"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn validation() {
        let e = validate(Some(&hooks(
            json!({ "prestart": [{ "path": "relative/hook" }] }),
        )))
        .unwrap_err();
        assert!(e.to_string().starts_with("hooks.prestart[0].path"), "{e}");
        let e = validate(Some(&hooks(
            json!({ "poststop": [{ "path": "/bin/true" }, { "path": "/bin/true", "timeout": 0 }] }),
        )))
        .unwrap_err();
        assert!(
            e.to_string().starts_with("hooks.poststop[1].timeout 0"),
            "{e}"
        );
    }
}
