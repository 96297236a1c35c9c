//! The systemd driver: a cgroup that is a transient systemd unit (a scope, or a slice),
//! created, changed and stopped over D-Bus, as runc's and containerd's systemd drivers do.
//!
//! systemd owns the unit and its cgroup (`Delegate=yes` for scopes: what is below is ours);
//! resources are set as unit properties, so systemd keeps them, and then written to the
//! cgroup files too, for what systemd cannot express and for exact values (systemd rounds
//! CPU quotas to 10 ms).

mod dbus;
mod names;
mod props;

use std::path::{Path, PathBuf};
use std::time::Duration;

use dbus::{CallError, Conn, Message, Value};
pub use names::{expand_slice, parse_cgroups_path, validate_unit_name};

use crate::error::{Error, Result};
use crate::events::{MemoryEvent, Watcher};
use crate::hierarchy::Hierarchy;
use crate::manager::AnyManager;
use crate::path::CgroupPath;
use crate::resources::Resources;
use crate::stats::Stats;
use crate::{Cgroup, FreezerState, Pid, Recursive, StatOptions};

const DEST: &str = "org.freedesktop.systemd1";
const OBJECT: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const PRIVATE_SOCKET: &str = "/run/systemd/private";
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
/// How long to wait for a unit's job (runc waits 30 s too).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether this machine runs systemd as its init (sd_booted(3)).
pub fn booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The unit of a systemd-driven cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    slice: String,
    name: String,
    /// A scope made without a process: its unit starts at [`Cgroup::started`], with these.
    pending: Option<Resources>,
}

impl Unit {
    pub(crate) fn new(slice: &str, name: &str) -> Result<Unit> {
        let slice = match slice {
            "" => "system.slice",
            "/" => "-.slice",
            s => s,
        };
        expand_slice(slice)?;
        validate_unit_name(name)?;
        if !name.ends_with(".scope") && !name.ends_with(".slice") {
            return Err(Error::InvalidPath {
                path: name.to_string(),
                reason: "a systemd cgroup unit must be a .scope or a .slice",
            });
        }
        Ok(Unit {
            slice: slice.to_string(),
            name: name.to_string(),
            pending: None,
        })
    }

    fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }

    /// Where systemd puts the unit's cgroup.
    pub(crate) fn cgroup_path(&self) -> Result<PathBuf> {
        if self.is_slice() {
            return Ok(PathBuf::from(expand_slice(&self.name)?));
        }
        Ok(PathBuf::from(expand_slice(&self.slice)?).join(&self.name))
    }

    /// Properties of a new unit: what runc sets, the pid if any, and the resources.
    fn properties(&self, pid: Option<Pid>, r: &Resources) -> Result<Vec<props::Property>> {
        let p = |n: &str, v: Value| (n.to_string(), v);
        let mut out = vec![p(
            "Description",
            Value::Str(format!("rt cgroup {}", self.name)),
        )];
        if self.is_slice() {
            out.push(p(
                "Wants",
                Value::Array("s".into(), vec![Value::Str(self.slice.clone())]),
            ));
        } else {
            out.push(p("Slice", Value::Str(self.slice.clone())));
            out.push(p("Delegate", Value::Bool(true)));
            // Not stopped with the slice's dependencies at shutdown ordering (as runc).
            out.push(p("DefaultDependencies", Value::Bool(false)));
        }
        for a in [
            "MemoryAccounting",
            "CPUAccounting",
            "TasksAccounting",
            "IOAccounting",
        ] {
            let name = if a == "IOAccounting" && crate::mode() != crate::Mode::Unified {
                "BlockIOAccounting"
            } else {
                a
            };
            out.push(p(name, Value::Bool(true)));
        }
        if let Some(pid) = pid {
            out.push(p(
                "PIDs",
                Value::Array("u".into(), vec![Value::U32(pid.0 as u32)]),
            ));
        }
        out.extend(props::resources(r, crate::mode() == crate::Mode::Unified)?);
        Ok(out)
    }
}

fn props_value(props: Vec<props::Property>) -> Value {
    let items = props
        .into_iter()
        .map(|(k, v)| Value::Struct(vec![Value::Str(k), Value::Variant(Box::new(v))]))
        .collect();
    Value::Array("(sv)".into(), items)
}

fn err(op: impl Into<String>, e: impl std::fmt::Display) -> Error {
    Error::Systemd {
        op: op.into(),
        reason: e.to_string(),
    }
}

fn remote_is(e: &CallError, suffix: &str) -> bool {
    matches!(e, CallError::Remote { name, .. } if name.ends_with(suffix))
}

/// A connection to systemd's manager: the system bus, else (no bus daemon) systemd's private
/// socket, where signals come unasked.
struct Systemd {
    conn: Conn,
}

impl Systemd {
    fn connect() -> Result<Systemd> {
        let bus = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
            .ok()
            .and_then(|a| {
                a.split(';')
                    .find_map(|x| x.strip_prefix("unix:path=").map(str::to_string))
            })
            .unwrap_or_else(|| SYSTEM_BUS.to_string());
        let conn = match Conn::connect(Path::new(&bus), true) {
            Ok(conn) => conn,
            Err(e) => {
                // No bus daemon: systemd's own socket (root only).
                return Conn::connect(Path::new(PRIVATE_SOCKET), false)
                    .map(|conn| Systemd { conn })
                    .map_err(|e2| {
                        err(
                            "connect",
                            format!("system bus {bus}: {e}; {PRIVATE_SOCKET}: {e2}"),
                        )
                    });
            }
        };
        let mut s = Systemd { conn };
        let rule = "type='signal',sender='org.freedesktop.systemd1',\
                    interface='org.freedesktop.systemd1.Manager',member='JobRemoved'";
        s.conn
            .call(Message::call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                vec![Value::Str(rule.into())],
            ))
            .map_err(|e| err("AddMatch JobRemoved", e))?;
        s.call("Subscribe", vec![])
            .map_err(|e| err("Subscribe", e))?;
        Ok(s)
    }

    fn call(
        &mut self,
        member: &str,
        args: Vec<Value>,
    ) -> std::result::Result<Vec<Value>, CallError> {
        self.conn
            .call(Message::call(DEST, OBJECT, MANAGER, member, args))
    }

    /// Wait for the JobRemoved signal of `job`; Ok when its result is "done".
    fn wait_job(&mut self, op: &str, job: &str) -> Result<()> {
        let m = self
            .conn
            .wait_signal(JOB_TIMEOUT, |m| {
                m.member.as_deref() == Some("JobRemoved")
                    && m.body.get(1).and_then(Value::as_str) == Some(job)
            })
            .map_err(|e| err(op, format!("waiting for job {job}: {e}")))?;
        match m.body.get(3).and_then(Value::as_str) {
            Some("done") => Ok(()),
            other => Err(err(
                op,
                format!("job {job} ended {:?}", other.unwrap_or("?")),
            )),
        }
    }

    fn job_of(body: &[Value]) -> String {
        body.first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    fn start_transient(&mut self, name: &str, props: Vec<props::Property>) -> Result<()> {
        let op = format!("StartTransientUnit {name}");
        let args = || {
            vec![
                Value::Str(name.into()),
                Value::Str("replace".into()),
                props_value(props.clone()),
                Value::Array("(sa(sv))".into(), vec![]),
            ]
        };
        let body = match self.call("StartTransientUnit", args()) {
            // A failed unit of that name lingers until reset: reset it and try once more.
            Err(e) if remote_is(&e, ".UnitExists") => {
                let _ = self.call("ResetFailedUnit", vec![Value::Str(name.into())]);
                self.call("StartTransientUnit", args())
            }
            other => other,
        }
        .map_err(|e| err(&op, e))?;
        let job = Self::job_of(&body);
        self.wait_job(&op, &job)
    }

    /// Stop the unit; one that is not loaded is fine.
    fn stop(&mut self, name: &str) -> Result<()> {
        let op = format!("StopUnit {name}");
        let body = match self.call(
            "StopUnit",
            vec![Value::Str(name.into()), Value::Str("replace".into())],
        ) {
            Err(e) if remote_is(&e, ".NoSuchUnit") => return Ok(()),
            other => other.map_err(|e| err(&op, e))?,
        };
        let job = Self::job_of(&body);
        self.wait_job(&op, &job)?;
        // A unit that failed stays loaded: forget it so its name can be used again.
        let _ = self.call("ResetFailedUnit", vec![Value::Str(name.into())]);
        Ok(())
    }

    fn set_properties(&mut self, name: &str, props: Vec<props::Property>) -> Result<()> {
        if props.is_empty() {
            return Ok(());
        }
        self.call(
            "SetUnitProperties",
            vec![
                Value::Str(name.into()),
                Value::Bool(true),
                props_value(props),
            ],
        )
        .map(drop)
        .map_err(|e| err(format!("SetUnitProperties {name}"), e))
    }

    /// A property of a loaded unit (interface e.g. org.freedesktop.systemd1.Scope);
    /// None when the unit is not loaded.
    fn unit_property(&mut self, name: &str, iface: &str, prop: &str) -> Result<Option<Value>> {
        let path = match self.call("GetUnit", vec![Value::Str(name.into())]) {
            Ok(b) => Self::job_of(&b),
            Err(e) if remote_is(&e, ".NoSuchUnit") => return Ok(None),
            Err(e) => return Err(err(format!("GetUnit {name}"), e)),
        };
        let body = self
            .conn
            .call(Message::call(
                DEST,
                &path,
                "org.freedesktop.DBus.Properties",
                "Get",
                vec![Value::Str(iface.into()), Value::Str(prop.into())],
            ))
            .map_err(|e| err(format!("Get {name} {prop}"), e))?;
        Ok(body.into_iter().next())
    }
}

fn fs_hierarchy() -> Result<&'static Hierarchy> {
    Hierarchy::system()
}

/// The systemd driver: a unit, and the cgroupfs driver of the machine's version for the
/// files of its cgroup.
#[derive(Debug, Clone)]
pub(crate) struct Manager {
    unit: Unit,
    files: AnyManager,
}

impl Manager {
    pub(crate) fn new(unit: Unit, files: AnyManager) -> Manager {
        Manager { unit, files }
    }

    pub(crate) fn unit_name(&self) -> &str {
        &self.unit.name
    }

    /// systemd's ControlGroup property of the unit (None: not loaded).
    pub(crate) fn control_group(&self) -> Result<Option<String>> {
        let iface = if self.unit.is_slice() {
            "org.freedesktop.systemd1.Slice"
        } else {
            "org.freedesktop.systemd1.Scope"
        };
        let v = Systemd::connect()?.unit_property(&self.unit.name, iface, "ControlGroup")?;
        Ok(v.as_ref().and_then(Value::as_str).map(str::to_string))
    }
}

impl crate::manager::Manager for Manager {
    fn dirs(&self) -> Vec<(String, PathBuf)> {
        self.files.dirs()
    }
    fn unified_dir(&self) -> Option<&Path> {
        self.files.unified_dir()
    }
    fn add(&self, pid: Pid) -> Result<()> {
        self.files.add(pid)
    }
    fn add_self(&self) -> Result<()> {
        self.files.add_self()
    }
    fn add_task(&self, tid: Pid) -> Result<()> {
        self.files.add_task(tid)
    }

    /// A scope made without a process starts now, with `pid` in it; the resources are set
    /// as its properties, then written to the files again (systemd rewrites some of them
    /// when the unit starts).
    fn started(&self, pid: Pid) -> Result<()> {
        let Some(r) = &self.unit.pending else {
            return Ok(());
        };
        let props = self.unit.properties(Some(pid), r)?;
        Systemd::connect()?.start_transient(&self.unit.name, props)?;
        self.files.apply(r)
    }

    /// Unit properties (runtime), then the files.
    fn apply(&self, r: &Resources) -> Result<()> {
        let props = props::resources(r, crate::mode() == crate::Mode::Unified)?;
        Systemd::connect()?.set_properties(&self.unit.name, props)?;
        self.files.apply(r)
    }

    fn processes(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        self.files.processes(recursive)
    }
    fn tasks(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        self.files.tasks(recursive)
    }
    fn freeze(&self) -> Result<()> {
        self.files.freeze()
    }
    fn thaw(&self) -> Result<()> {
        self.files.thaw()
    }
    fn state(&self) -> Result<FreezerState> {
        self.files.state()
    }
    fn kill(&self) -> Result<()> {
        self.files.kill()
    }

    /// Stop the unit (one that is not loaded is fine), then remove what is left.
    fn delete(&self) -> Result<()> {
        Systemd::connect()?.stop(&self.unit.name)?;
        self.files.delete()
    }

    fn stats(&self, opts: StatOptions) -> Result<Stats> {
        self.files.stats(opts)
    }
    fn register(&self, event: MemoryEvent) -> Result<Watcher> {
        self.files.register(event)
    }
}

impl Cgroup {
    /// A cgroup that is the systemd unit `unit` ("NAME.scope" or "NAME.slice") in `slice`
    /// ("" means system.slice, "/" the root slice -.slice; nested slices like
    /// "a-b.slice" live in /a.slice/a-b.slice). With `pid`, the unit is started now with
    /// `pid` in it and `resources` as its properties (plus Delegate=yes for a scope), and
    /// the resources are then written to the cgroup files too. A slice needs no pid. A scope
    /// without a pid gets its directory and limits now, and its unit at
    /// [`Cgroup::started`] (systemd refuses a scope without processes): this lets a
    /// process enter it from birth.
    pub fn new_systemd(
        slice: &str,
        unit: &str,
        pid: Option<Pid>,
        resources: &Resources,
    ) -> Result<Cgroup> {
        let mut u = Unit::new(slice, unit)?;
        let path = CgroupPath::static_path(u.cgroup_path()?);
        if pid.is_some() || u.is_slice() {
            let props = u.properties(pid, resources)?;
            Systemd::connect()?.start_transient(&u.name, props)?;
        } else {
            u.pending = Some(resources.clone());
        }
        match Cgroup::new_in(fs_hierarchy()?, path, resources) {
            Ok(cg) => Ok(cg.with_systemd(u)),
            Err(e) => {
                if u.pending.is_none() {
                    let _ = Systemd::connect().and_then(|mut s| s.stop(&u.name));
                }
                Err(e)
            }
        }
    }

    /// The systemd-driven cgroup `unit` in `slice` (as [`Cgroup::new_systemd`] names them);
    /// [`Error::NotFound`] when its cgroup does not exist. No D-Bus call is made.
    pub fn load_systemd(slice: &str, unit: &str) -> Result<Cgroup> {
        let u = Unit::new(slice, unit)?;
        let path = CgroupPath::static_path(u.cgroup_path()?);
        Ok(Cgroup::load_in(fs_hierarchy()?, path)?.with_systemd(u))
    }

    /// Stop the unit `unit` in `slice` (a unit that is not loaded is fine) and remove what is
    /// left of its cgroup.
    pub fn delete_systemd(slice: &str, unit: &str) -> Result<()> {
        let u = Unit::new(slice, unit)?;
        Systemd::connect()?.stop(&u.name)?;
        match Cgroup::load_in(fs_hierarchy()?, CgroupPath::static_path(u.cgroup_path()?)) {
            Ok(cg) => cg.delete(),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_paths() {
        let u = Unit::new("system.slice", "rt-abc.scope").unwrap();
        assert_eq!(
            u.cgroup_path().unwrap(),
            Path::new("/system.slice/rt-abc.scope")
        );
        let u = Unit::new("", "x.scope").unwrap();
        assert_eq!(u.cgroup_path().unwrap(), Path::new("/system.slice/x.scope"));
        let u = Unit::new("a-b.slice", "x.scope").unwrap();
        assert_eq!(
            u.cgroup_path().unwrap(),
            Path::new("/a.slice/a-b.slice/x.scope")
        );
        let u = Unit::new("/", "my-cgroup-abc.slice").unwrap();
        assert_eq!(
            u.cgroup_path().unwrap(),
            Path::new("/my.slice/my-cgroup.slice/my-cgroup-abc.slice")
        );
        let u = Unit::new("-.slice", "x.scope").unwrap();
        assert_eq!(u.cgroup_path().unwrap(), Path::new("/x.scope"));
        assert!(Unit::new("system.slice", "x.service").is_err());
        assert!(Unit::new("system", "x.scope").is_err());
        assert!(Unit::new("system.slice", "a/b.scope").is_err());
    }

    #[test]
    fn scope_properties() {
        let u = Unit::new("system.slice", "rt-abc.scope").unwrap();
        let p = u.properties(Some(Pid(42)), &Resources::default()).unwrap();
        let get = |n: &str| p.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get("Slice"), Some(Value::Str("system.slice".into())));
        assert_eq!(get("Delegate"), Some(Value::Bool(true)));
        assert_eq!(
            get("PIDs"),
            Some(Value::Array("u".into(), vec![Value::U32(42)]))
        );
        assert_eq!(props_value(p).signature(), "a(sv)");
        let s = Unit::new("/", "a-b.slice").unwrap();
        let p = s.properties(None, &Resources::default()).unwrap();
        assert!(p
            .iter()
            .all(|(k, _)| k != "Delegate" && k != "PIDs" && k != "Slice"));
    }
}
