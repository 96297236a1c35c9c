//! The container's filesystem and namespaces, observed from inside real busybox containers:
//! spec mounts and their options, read-only root, masked and read-only paths, /dev,
//! hostname/domainname, sysctl, pivot_root and --no-pivot, cgroup mount, joining namespaces.

use std::fs;

use rt_tests::*;
use serde_json::json;

#[test]
fn hostname_domainname_and_pid_1() {
    let env = Env::new("uts");
    let script = "hostname; cat /proc/sys/kernel/domainname; echo $$; cat /proc/1/comm; true";
    let out = env.run_script(script, |c| {
        set(c, "/hostname", json!("box-a"));
        set(c, "/domainname", json!("example.org"));
    });
    assert_eq!(out, "box-a\nexample.org\n1\nsh\n");
}

#[test]
fn private_namespaces_differ_from_the_host() {
    let env = Env::new("ns");
    let script = "for n in pid net ipc uts mnt cgroup; do readlink /proc/self/ns/$n; done";
    let out = env.run_script(script, |_| {});
    for (line, ns) in out
        .lines()
        .zip(["pid", "net", "ipc", "uts", "mnt", "cgroup"])
    {
        let host = fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(line, host.to_str().unwrap(), "{ns} namespace is the host's");
    }
    assert_eq!(out.lines().count(), 6);
}

#[test]
fn joins_a_namespace_by_path() {
    let env = Env::new("nsjoin");
    // A first container with its own network and uts namespaces; a second joins them.
    let first = env.id("first");
    let bundle = env.bundle(&first, &env.config(&first, &["sleep", "1000"]));
    assert_ok(
        &env.rt(&["run", "-d", "-b", bundle.to_str().unwrap(), &first]),
        "run -d",
    );
    let pid = state_json(&env.rt(&["state", &first]))["pid"]
        .as_i64()
        .unwrap();
    let net = fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let out = env.run_script("readlink /proc/self/ns/net; hostname", |c| {
        set(
            c,
            "/linux/namespaces/1",
            json!({ "type": "network", "path": format!("/proc/{pid}/ns/net") }),
        );
        set(
            c,
            "/linux/namespaces/3",
            json!({ "type": "uts", "path": format!("/proc/{pid}/ns/uts") }),
        );
        // Joining a uts namespace: the hostname is the first container's.
        set(c, "/hostname", json!(""));
    });
    assert_eq!(out, format!("{}\nrt-test\n", net.display()));
    assert_ok(&env.rt(&["delete", "-f", &first]), "delete");
    env.assert_clean(&first, Some(&bundle));
}

#[test]
fn readonly_root_and_writable_tmpfs() {
    let env = Env::new("roroot");
    let out = env.run_script(
        "touch /rootfile 2>/dev/null && echo root-rw || echo root-ro; touch /tmp/x && echo tmp-rw",
        |_| {},
    );
    assert_eq!(out, "root-ro\ntmp-rw\n");
}

#[test]
fn mount_options_are_applied() {
    let env = Env::new("mountopts");
    let src = env.tmp.join("vol");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("data"), "hello\n").unwrap();
    let script = "cat /tmp/vol-ro/data; touch /tmp/vol-ro/new 2>/dev/null && echo ro-broken || echo ro-ok; \
                  echo hi > /tmp/vol-rw/written; grep ' /tmp/vol-ro ' /proc/self/mounts | grep -c 'ro,nosuid,nodev,noexec'; \
                  grep ' /tmp/scratch ' /proc/self/mounts | grep -o 'size=[0-9]*k'";
    let out = env.run_script(script, |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(
            json!({ "destination": "/tmp/vol-ro", "type": "bind", "source": src,
                            "options": ["rbind", "ro", "nosuid", "nodev", "noexec"] }),
        );
        mounts.push(
            json!({ "destination": "/tmp/vol-rw", "type": "bind", "source": src,
                            "options": ["bind", "rw", "rprivate"] }),
        );
        mounts.push(
            json!({ "destination": "/tmp/scratch", "type": "tmpfs", "source": "tmpfs",
                            "options": ["size=1024k", "mode=700"] }),
        );
    });
    assert_eq!(out, "hello\nro-ok\n1\nsize=1024k\n");
    // The rw bind wrote through to the host directory.
    assert_eq!(fs::read_to_string(src.join("written")).unwrap(), "hi\n");
}

#[test]
fn bind_mount_of_a_file_and_mqueue() {
    let env = Env::new("bindfile");
    let file = env.tmp.join("hosts");
    fs::write(&file, "10.0.0.1 thing\n").unwrap();
    let script = "cat /etc/hostname; grep -c ' /dev/mqueue mqueue ' /proc/self/mounts";
    let out = env.run_script(script, |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(
            json!({ "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                            "options": ["nosuid", "noexec", "nodev"] }),
        );
        mounts.push(
            // An existing file as destination: the shared rootfs is not written to.
            json!({ "destination": "/etc/hostname", "type": "bind", "source": file,
                            "options": ["rbind", "ro"] }),
        );
    });
    assert_eq!(out, "10.0.0.1 thing\n1\n");
}

#[test]
fn masked_and_readonly_paths() {
    let env = Env::new("masked");
    let script = "wc -c < /proc/keys; ls /sys/firmware | wc -l; \
                  echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-rw || echo sys-ro";
    let out = env.run_script(script, |_| {});
    assert_eq!(out, "0\n0\nsys-ro\n");
}

#[test]
fn default_devices_and_dev_symlinks() {
    let env = Env::new("devices");
    let script = "for d in null zero full random urandom tty; do stat -c '%n %t:%T %a' /dev/$d; done; \
                  readlink /dev/fd; readlink /dev/stdin; readlink /dev/ptmx; head -c 3 /dev/zero | wc -c; \
                  stat -c '%n %t:%T %a %u:%g' /dev/fuse-like";
    let out = env.run_script(script, |c| {
        set(
            c,
            "/linux/devices",
            json!([{ "path": "/dev/fuse-like", "type": "c", "major": 1, "minor": 7,
                     "fileMode": 0o640, "uid": 7, "gid": 8 }]),
        );
    });
    let expect = "/dev/null 1:3 666\n/dev/zero 1:5 666\n/dev/full 1:7 666\n/dev/random 1:8 666\n\
                  /dev/urandom 1:9 666\n/dev/tty 5:0 666\n/proc/self/fd\n/proc/self/fd/0\npts/ptmx\n3\n\
                  /dev/fuse-like 1:7 640 7:8\n";
    assert_eq!(out, expect);
}

#[test]
fn device_cgroup_denies_unlisted_devices() {
    if unified() {
        // v2 device control is an eBPF program; covered by the cgroups crate's tests.
        return;
    }
    let env = Env::new("devcgroup");
    // mknod of a disk device works (mknod is allowed), opening it does not.
    let script = "mknod /tmp/sda b 8 0 && (head -c1 /tmp/sda >/dev/null 2>&1 && echo open-ok || echo open-denied)";
    let out = env.run_script(script, |c| {
        set(c, "/mounts/5/options", json!(["nosuid", "mode=1777"]));
        let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
        for set_name in ["bounding", "effective", "permitted"] {
            set(
                c,
                &format!("/process/capabilities/{set_name}"),
                caps.clone(),
            );
        }
    });
    assert_eq!(out, "open-denied\n");
}

#[test]
fn sysctl_is_written() {
    let env = Env::new("sysctl");
    let out = env.run_script(
        "cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward",
        |c| {
            set(
                c,
                "/linux/sysctl",
                json!({ "kernel.shmmni": "1234", "net.ipv4.ip_forward": "1" }),
            );
            // /proc/sys is read-only in the default test config; sysctl is written before that.
        },
    );
    assert_eq!(out, "1234\n1\n");
}

#[test]
fn pivot_root_and_no_pivot() {
    let env = Env::new("pivot");
    // With pivot_root the old root is gone: only the container's mounts are visible.
    let script = "awk '$5 == \"/\"' /proc/self/mountinfo | wc -l; ls /bin/busybox";
    let out = env.run_script(script, |_| {});
    assert_eq!(out, "1\n/bin/busybox\n");

    let id = env.id("np");
    let bundle = env.bundle(
        &id,
        &env.config(
            &id,
            &["sh", "-c", "ls /bin/busybox; cat /proc/1/comm; true"],
        ),
    );
    let out = env.rt(&["run", "--no-pivot", "-b", bundle.to_str().unwrap(), &id]);
    assert_ok(&out, "run --no-pivot");
    assert_eq!(stdout(&out), "/bin/busybox\nsh\n");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn rootfs_propagation_is_applied() {
    let env = Env::new("propagation");
    let script = "grep ' / / ' /proc/self/mountinfo | grep -o 'shared:[0-9]*' | wc -l";
    let out = env.run_script(script, |c| {
        set(c, "/linux/rootfsPropagation", json!("rprivate"));
    });
    assert_eq!(out, "0\n");
}

#[test]
fn cgroup_mount_shows_the_containers_own_limits() {
    let env = Env::new("cgmount");
    let script = if unified() {
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max"
    } else {
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max \
         /sys/fs/cgroup/cpu/cpu.cfs_quota_us; touch /sys/fs/cgroup/memory/x 2>/dev/null || echo ro"
    };
    let out = env.run_script(script, |c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
        }));
        set(
            c,
            "/linux/resources",
            json!({ "memory": { "limit": 50331648 }, "pids": { "limit": 33 },
                    "cpu": { "quota": 20000, "period": 100000 },
                    "devices": [{ "allow": false, "access": "rwm" }] }),
        );
    });
    if unified() {
        assert_eq!(out, "50331648\n33\n20000 100000\n");
    } else {
        assert_eq!(out, "50331648\n33\n20000\nro\n");
    }
}

#[test]
fn tmpfs_takes_the_mode_of_its_directory_and_tmpcopyup_copies_it() {
    let env = Env::new("tmpfsmode");
    let script = "stat -c %a /home /tmp/explicit /tmp/fresh; cat /etc/passwd | head -1; \
                  touch /etc/new && echo etc-rw; grep ' /etc ' /proc/self/mounts | cut -d' ' -f3";
    let out = env.run_script(script, |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({ "destination": "/home", "type": "tmpfs", "source": "tmpfs" }));
        // Made under /tmp (a tmpfs in the test config), so the shared rootfs is untouched.
        let explicit = json!({ "destination": "/tmp/explicit", "type": "tmpfs",
                               "source": "tmpfs", "options": ["mode=700"] });
        mounts.push(explicit);
        mounts.push(json!({ "destination": "/tmp/fresh", "type": "tmpfs", "source": "tmpfs" }));
        let etc = json!({ "destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                          "options": ["tmpcopyup", "nosuid"] });
        mounts.push(etc);
    });
    // /home is 0755 in the rootfs: the tmpfs keeps that; a directory rt had to make gets
    // tmpfs's default 1777 (as runc); an explicit mode= wins.
    let expected = "755\n700\n1777\nroot:x:0:0:root:/root:/bin/sh\netc-rw\ntmpfs\n";
    assert_eq!(out, expected);
}
