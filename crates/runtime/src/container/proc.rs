//! What /proc says about a pid: alive, zombie, and its start time (so a recycled pid is
//! never mistaken for the container's init).

use std::fs;
use std::path::Path;

/// (state letter, start time in clock ticks) from /proc/PID/stat.
pub fn stat(pid: i32) -> Option<(char, u64)> {
    if pid <= 0 {
        return None;
    }
    let data = crate::readfile::read_string(Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    parse_stat(&data)
}

/// Parses /proc/PID/stat: the command may contain spaces and parentheses, so fields are
/// counted from the last `)`.
fn parse_stat(data: &str) -> Option<(char, u64)> {
    let rest = &data[data.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Field 3 is the state; starttime is field 22, i.e. 19 fields further on.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Start time of a live pid.
pub fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|(_, start)| start)
}

/// True when `pid` runs, is not a zombie, and started at `start`.
pub fn is_alive(pid: i32, start: u64) -> bool {
    matches!(stat(pid), Some((state, s)) if s == start && state != 'Z' && state != 'X')
}

/// Pids of every process in the pid namespace of `pid` (the container's own), sorted: what a
/// container without a cgroup (rootless) has instead of `cgroup.procs`.
pub fn in_pid_ns_of(pid: i32) -> std::io::Result<Vec<i32>> {
    let ns = fs::read_link(format!("/proc/{pid}/ns/pid"))?;
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc")?.flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|n| n == ns) {
            out.push(p);
        }
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line =
            "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_stat(line), Some(('S', 987654)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn our_own_process_is_alive() {
        let me = std::process::id() as i32;
        let start = start_time(me).unwrap();
        assert!(is_alive(me, start));
        assert!(!is_alive(me, start + 1));
        assert!(!is_alive(0, 0));
    }
}
