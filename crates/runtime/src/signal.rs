//! Signal names and numbers, as `kill` accepts them: `9`, `KILL`, `SIGKILL`, `sigkill`,
//! `RTMIN+3`.

use anyhow::bail;

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Parses a signal given by number or by name (with or without `SIG`, any case).
pub fn parse(text: &str) -> anyhow::Result<i32> {
    let max = libc::SIGRTMAX();
    if let Ok(n) = text.parse::<i32>() {
        if n <= 0 || n > max {
            bail!("unknown signal {text:?}");
        }
        return Ok(n);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(n);
    }
    let min = libc::SIGRTMIN();
    let rt = if let Some(off) = name.strip_prefix("RTMIN") {
        offset(off).map(|o| min + o)
    } else if let Some(off) = name.strip_prefix("RTMAX") {
        offset(off).map(|o| max + o)
    } else {
        None
    };
    match rt {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => bail!("unknown signal {text:?}"),
    }
}

fn offset(text: &str) -> Option<i32> {
    if text.is_empty() {
        return Some(0);
    }
    text.parse::<i32>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_names() {
        assert_eq!(parse("9").unwrap(), libc::SIGKILL);
        assert_eq!(parse("KILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse("SIGTERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse("sigusr1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse("RTMIN+3").unwrap(), libc::SIGRTMIN() + 3);
        assert_eq!(parse("SIGRTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
    }

    #[test]
    fn rejects_unknown_signals() {
        for bad in ["0", "-1", "65", "SIGFOO", "", "RTMIN+99", "KILLX"] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
    }
}
