//! The part of CRIU's RPC protocol (`images/rpc.proto`, CRIU 3.x) rt speaks, encoded and
//! decoded by hand: protobuf's wire format needs three encodings here (varints, booleans
//! as varints, length-delimited strings and messages), and a decoder that skips what it
//! does not know. Field numbers are those of rpc.proto; unset optional fields are left out
//! (for CRIU an absent boolean is false, as it is for protobuf).

use std::fmt;

/// `criu_req_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReqType {
    Dump = 1,
    Restore = 2,
    PreDump = 4,
    Notify = 6,
    FeatureCheck = 9,
    Version = 10,
}

impl ReqType {
    fn from_wire(v: u64) -> Option<ReqType> {
        Some(match v {
            1 => ReqType::Dump,
            2 => ReqType::Restore,
            4 => ReqType::PreDump,
            6 => ReqType::Notify,
            9 => ReqType::FeatureCheck,
            10 => ReqType::Version,
            _ => return None,
        })
    }
}

/// `criu_cg_mode`: what CRIU does with the cgroups of the tasks (`--manage-cgroups-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgMode {
    Ignore = 0,
    Soft = 3,
    Full = 4,
    Strict = 5,
}

/// `criu_opts`: the options of a dump, pre-dump or restore.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Opts {
    /// Read by CRIU as /proc/<peer pid>/fd/<n>: the fd stays in rt.
    pub images_dir_fd: i32,
    pub pid: Option<i32>,
    pub leave_running: bool,
    pub ext_unix_sk: bool,
    pub tcp_established: bool,
    pub evasive_devices: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub log_level: Option<i32>,
    pub log_file: Option<String>,
    pub notify_scripts: bool,
    pub root: Option<String>,
    pub parent_img: Option<String>,
    pub track_mem: bool,
    pub auto_dedup: bool,
    pub work_dir_fd: Option<i32>,
    pub link_remap: bool,
    /// `ext_mount_map` (key, val).
    pub ext_mnt: Vec<(String, String)>,
    pub manage_cgroups: bool,
    /// `cgroup_root` (controller, path); no controller: the root for all of them.
    pub cg_root: Vec<(Option<String>, String)>,
    pub rst_sibling: bool,
    /// `inherit_fd` (key, fd in CRIU's process).
    pub inherit_fd: Vec<(String, i32)>,
    pub manage_cgroups_mode: Option<CgMode>,
    pub external: Vec<String>,
    /// `join_namespace` (ns, ns_file).
    pub join_ns: Vec<(String, String)>,
    pub freeze_cgroup: Option<String>,
    pub tcp_skip_in_flight: bool,
    pub orphan_pts_master: bool,
    pub config_file: Option<String>,
}

/// `criu_features`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    pub mem_track: Option<bool>,
    pub lazy_pages: Option<bool>,
}

/// `criu_req`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Req {
    pub typ: ReqType,
    pub opts: Option<Opts>,
    pub notify_success: bool,
    pub features: Option<Features>,
}

impl Req {
    pub fn new(typ: ReqType, opts: Option<Opts>) -> Req {
        Req {
            typ,
            opts,
            notify_success: false,
            features: None,
        }
    }

    /// The answer to a notification: go on.
    pub fn notify_ack() -> Req {
        Req {
            notify_success: true,
            ..Req::new(ReqType::Notify, None)
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.uint(1, self.typ as u64);
        if let Some(opts) = &self.opts {
            e.message(2, |e| opts.encode(e));
        }
        e.bool(3, self.notify_success);
        if let Some(f) = &self.features {
            e.message(5, |e| f.encode(e));
        }
        e.buf
    }
}

impl Opts {
    fn encode(&self, e: &mut Encoder) {
        e.int32(1, self.images_dir_fd);
        e.opt_int32(2, self.pid);
        e.bool(3, self.leave_running);
        e.bool(4, self.ext_unix_sk);
        e.bool(5, self.tcp_established);
        e.bool(6, self.evasive_devices);
        e.bool(7, self.shell_job);
        e.bool(8, self.file_locks);
        e.opt_int32(9, self.log_level);
        e.opt_string(10, self.log_file.as_deref());
        e.bool(12, self.notify_scripts);
        e.opt_string(13, self.root.as_deref());
        e.opt_string(14, self.parent_img.as_deref());
        e.bool(15, self.track_mem);
        e.bool(16, self.auto_dedup);
        e.opt_int32(17, self.work_dir_fd);
        e.bool(18, self.link_remap);
        for (key, val) in &self.ext_mnt {
            e.message(23, |e| {
                e.string(1, key);
                e.string(2, val);
            });
        }
        e.bool(24, self.manage_cgroups);
        for (ctrl, path) in &self.cg_root {
            e.message(25, |e| {
                e.opt_string(1, ctrl.as_deref());
                e.string(2, path);
            });
        }
        e.bool(26, self.rst_sibling);
        for (key, fd) in &self.inherit_fd {
            e.message(27, |e| {
                e.string(1, key);
                e.int32(2, *fd);
            });
        }
        if let Some(mode) = self.manage_cgroups_mode {
            e.uint(34, mode as u64);
        }
        for ext in &self.external {
            e.string(37, ext);
        }
        for (ns, file) in &self.join_ns {
            e.message(39, |e| {
                e.string(1, ns);
                e.string(2, file);
            });
        }
        e.opt_string(44, self.freeze_cgroup.as_deref());
        e.bool(46, self.tcp_skip_in_flight);
        e.bool(50, self.orphan_pts_master);
        e.opt_string(51, self.config_file.as_deref());
    }
}

impl Features {
    fn encode(&self, e: &mut Encoder) {
        if let Some(v) = self.mem_track {
            e.uint(1, v as u64);
        }
        if let Some(v) = self.lazy_pages {
            e.uint(2, v as u64);
        }
    }

    fn decode(data: &[u8]) -> Result<Features, DecodeError> {
        let mut f = Features::default();
        for field in Fields(data) {
            match field? {
                (1, Value::Varint(v)) => f.mem_track = Some(v != 0),
                (2, Value::Varint(v)) => f.lazy_pages = Some(v != 0),
                _ => {}
            }
        }
        Ok(f)
    }
}

/// `criu_notify`: a notification ("script") CRIU sends while it works.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Notify {
    pub script: String,
    pub pid: Option<i32>,
}

/// `criu_version`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: i32,
    pub minor: i32,
    pub sublevel: Option<i32>,
    pub gitid: Option<String>,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if let Some(s) = self.sublevel.filter(|s| *s != 0) {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// `criu_resp`: what rt reads of it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resp {
    /// The request type answered (0: EMPTY, CRIU's answer to a request it could not take).
    pub typ: u64,
    pub success: bool,
    /// `restore.pid`: the restored root task.
    pub restored_pid: Option<i32>,
    pub notify: Option<Notify>,
    pub cr_errno: Option<i32>,
    pub cr_errmsg: Option<String>,
    pub version: Option<Version>,
    pub features: Option<Features>,
}

impl Resp {
    pub fn req_type(&self) -> Option<ReqType> {
        ReqType::from_wire(self.typ)
    }

    pub fn decode(data: &[u8]) -> Result<Resp, DecodeError> {
        let mut r = Resp::default();
        for field in Fields(data) {
            match field? {
                (1, Value::Varint(v)) => r.typ = v,
                (2, Value::Varint(v)) => r.success = v != 0,
                (4, Value::Bytes(b)) => {
                    for f in Fields(b) {
                        if let (1, Value::Varint(v)) = f? {
                            r.restored_pid = Some(v as i32);
                        }
                    }
                }
                (5, Value::Bytes(b)) => {
                    let mut n = Notify::default();
                    for f in Fields(b) {
                        match f? {
                            (1, Value::Bytes(s)) => n.script = utf8(s)?,
                            (2, Value::Varint(v)) => n.pid = Some(v as i32),
                            _ => {}
                        }
                    }
                    r.notify = Some(n);
                }
                (7, Value::Varint(v)) => r.cr_errno = Some(v as i32),
                (8, Value::Bytes(b)) => r.features = Some(Features::decode(b)?),
                (9, Value::Bytes(s)) => r.cr_errmsg = Some(utf8(s)?),
                (10, Value::Bytes(b)) => {
                    let mut v = Version::default();
                    for f in Fields(b) {
                        match f? {
                            (1, Value::Varint(n)) => v.major = n as i32,
                            (2, Value::Varint(n)) => v.minor = n as i32,
                            (3, Value::Bytes(s)) => v.gitid = Some(utf8(s)?),
                            (4, Value::Varint(n)) => v.sublevel = Some(n as i32),
                            _ => {}
                        }
                    }
                    r.version = Some(v);
                }
                _ => {}
            }
        }
        Ok(r)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("truncated message")]
    Truncated,
    #[error("unsupported wire type {0}")]
    WireType(u64),
    #[error("a string is not UTF-8")]
    Utf8,
}

fn utf8(b: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(b.to_vec()).map_err(|_| DecodeError::Utf8)
}

#[derive(Default)]
struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    fn uint(&mut self, field: u32, v: u64) {
        self.key(field, 0);
        self.varint(v);
    }

    /// int32: a negative value is sign-extended to 64 bits (ten bytes), as protobuf does.
    fn int32(&mut self, field: u32, v: i32) {
        self.uint(field, i64::from(v) as u64);
    }

    fn opt_int32(&mut self, field: u32, v: Option<i32>) {
        if let Some(v) = v {
            self.int32(field, v);
        }
    }

    fn bool(&mut self, field: u32, v: bool) {
        if v {
            self.uint(field, 1);
        }
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }

    fn opt_string(&mut self, field: u32, s: Option<&str>) {
        if let Some(s) = s {
            self.string(field, s);
        }
    }

    fn message(&mut self, field: u32, body: impl FnOnce(&mut Encoder)) {
        let mut inner = Encoder::default();
        body(&mut inner);
        self.bytes(field, &inner.buf);
    }
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The (field number, value) pairs of an encoded message, in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first().ok_or(DecodeError::Truncated)?;
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Truncated)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<(u64, Value<'a>), DecodeError> {
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed
            }
            2 => {
                let n = self.varint()?;
                Value::Bytes(self.take(usize::try_from(n).map_err(|_| DecodeError::Truncated)?)?)
            }
            5 => {
                self.take(4)?;
                Value::Fixed
            }
            w => return Err(DecodeError::WireType(w)),
        };
        Ok((key >> 3, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let item = self.field();
        if item.is_err() {
            self.0 = &[];
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // The expected bytes below were made by protobuf's own encoder: python3-protobuf with
    // the rpc_pb2 module of CRIU 3.17 (Debian's criu package, pycriu), from the same values.

    #[test]
    fn encodes_a_dump_request_as_protobuf_does() {
        let opts = Opts {
            images_dir_fd: 5,
            pid: Some(1234),
            leave_running: true,
            log_level: Some(4),
            log_file: Some("dump.log".into()),
            root: Some("/r".into()),
            ext_mnt: vec![("/a".into(), "/a".into())],
            manage_cgroups: true,
            cg_root: vec![(None, "/cg".into())],
            inherit_fd: vec![("pipe:[7]".into(), 1)],
            manage_cgroups_mode: Some(CgMode::Ignore),
            external: vec!["net[5]:extRootNetNS".into()],
            join_ns: vec![("uts".into(), "/proc/1/ns/uts".into())],
            freeze_cgroup: Some("/sys/fs/cgroup/x".into()),
            orphan_pts_master: true,
            work_dir_fd: Some(-1),
            ..Opts::default()
        };
        assert_eq!(
            hex(&Req::new(ReqType::Dump, Some(opts)).encode()),
            concat!(
                "0801128f01080510d20918014804520864756d702e6c6f676a022f728801ffffffffffffffffff01",
                "ba01080a022f6112022f61c00101ca010512032f6367da010c0a08706970653a5b375d1001900200",
                "aa02136e65745b355d3a657874526f6f744e65744e53ba02150a03757473120e2f70726f632f312f",
                "6e732f757473e202102f7379732f66732f6367726f75702f78900301"
            )
        );
    }

    #[test]
    fn encodes_a_notify_ack_and_a_feature_check() {
        assert_eq!(hex(&Req::notify_ack().encode()), "08061801");
        let req = Req {
            features: Some(Features {
                mem_track: Some(true),
                lazy_pages: None,
            }),
            ..Req::new(ReqType::FeatureCheck, None)
        };
        assert_eq!(hex(&req.encode()), "08092a020801");
    }

    #[test]
    fn decodes_notifications_and_errors() {
        let r = Resp::decode(&unhex("080610012a110a0c706f73742d726573746f7265109221")).unwrap();
        assert_eq!(r.req_type(), Some(ReqType::Notify));
        assert!(r.success);
        assert_eq!(
            r.notify,
            Some(Notify {
                script: "post-restore".into(),
                pid: Some(4242)
            })
        );
        let r = Resp::decode(&unhex("080110001a02080038024a04626f6f6d")).unwrap();
        assert_eq!(r.req_type(), Some(ReqType::Dump));
        assert!(!r.success);
        assert_eq!(r.cr_errno, Some(2));
        assert_eq!(r.cr_errmsg.as_deref(), Some("boom"));
    }

    #[test]
    fn decodes_the_version_and_the_restored_pid() {
        let r = Resp::decode(&unhex("080a10015206080310112001")).unwrap();
        assert_eq!(r.version.map(|v| v.to_string()).as_deref(), Some("3.17.1"));
        let r = Resp::decode(&unhex("080210012203089103")).unwrap();
        assert_eq!(r.req_type(), Some(ReqType::Restore));
        assert_eq!(r.restored_pid, Some(401));
    }

    #[test]
    fn skips_unknown_fields_and_refuses_broken_input() {
        // The version response with an unknown fixed32 (15) and fixed64 (16) field.
        let r = Resp::decode(&unhex(
            "080a100152060803101120017d0102030481010807060504030201",
        ))
        .unwrap();
        assert_eq!(r.version.map(|v| v.to_string()).as_deref(), Some("3.17.1"));
        for bad in ["0802100122030891", "080610012a110a0c706f7374", "80"] {
            assert_eq!(
                Resp::decode(&unhex(bad)),
                Err(DecodeError::Truncated),
                "{bad}"
            );
        }
        assert_eq!(Resp::decode(&[0x0b]), Err(DecodeError::WireType(3)));
    }
}
