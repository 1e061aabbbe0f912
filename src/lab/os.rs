//! The few operating-system calls the lab needs: whom to run servers as, file ownership, and
//! watching and killing server processes. Linux only, like the lab itself.

use std::ffi::CString;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// The user the servers run as: `postgres` when we are root (initdb refuses root), else nobody
/// else (`None`: run as ourselves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunAs {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// `Some(postgres)` when running as root, `None` otherwise; an error when root has no `postgres`
/// user to hand the servers to.
pub fn run_as() -> Result<Option<RunAs>, ()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    lookup_user("postgres").map(Some).ok_or(())
}

/// Looks a user up in the password database (`getpwnam_r`).
fn lookup_user(name: &str) -> Option<RunAs> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: all-zero is a valid `passwd` (null pointers and zero ids); it is only read after
    // getpwnam_r reports success, at which point it has been filled in.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the duration of the call and `buf.len()` is its size.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(RunAs {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    })
}

/// Gives `path` (not recursively) to the server user, when there is one.
pub fn chown(path: &Path, who: Option<RunAs>) -> io::Result<()> {
    match who {
        Some(u) => std::os::unix::fs::chown(path, Some(u.uid), Some(u.gid)),
        None => Ok(()),
    }
}

/// Whether `who` may enter `dir` (search permission on it and every directory above it),
/// asked of the kernel by a child running as `who`, the way the servers will run: no guess
/// from mode bits that would miss ACLs or supplementary groups.
pub fn can_enter(dir: &Path, who: RunAs) -> io::Result<bool> {
    use std::os::unix::process::CommandExt;
    let status = std::process::Command::new("test")
        .arg("-x")
        .arg(dir)
        .uid(who.uid)
        .gid(who.gid)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .status()?;
    Ok(status.success())
}

/// The first directory from the root down to `dir` that `who` cannot enter, if any.
pub fn first_closed(dir: &Path, who: RunAs) -> io::Result<Option<std::path::PathBuf>> {
    let mut ancestors: Vec<&Path> = dir.ancestors().collect();
    ancestors.reverse();
    for a in ancestors {
        if !can_enter(a, who)? {
            return Ok(Some(a.to_path_buf()));
        }
    }
    Ok(None)
}

/// Sets a file's permission bits.
pub fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// True when `pid` names a live process (a zombie counts as dead: nobody may reap it here).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself hold spaces.
        Ok(stat) => match stat.rsplit_once(')') {
            Some((_, rest)) => !matches!(rest.trim_start().chars().next(), Some('Z' | 'X')),
            None => true,
        },
        Err(_) => false,
    }
}

/// The live processes whose process group is `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let (_, rest) = stat.rsplit_once(')')?;
                    // Fields after the name: state, ppid, pgrp.
                    rest.split_whitespace().nth(2)?.parse::<u32>().ok()
                })
                == Some(pgid)
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// SIGKILLs a postmaster and, when it leads its own process group (pg_ctl starts it with
/// `setsid`), every process of that group, then waits until they are all gone.
///
/// Killing the backends too makes an immediate restart possible: a surviving backend would keep
/// the old shared memory in use and block the new postmaster.
pub fn kill_postmaster(pid: u32, within: Duration) -> bool {
    let Ok(ipid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: getpgid and kill have no memory-safety preconditions.
    let leads_group = unsafe { libc::getpgid(ipid) } == ipid;
    let members = if leads_group {
        group_members(pid)
    } else {
        vec![pid]
    };
    // SAFETY: as above; the group is only signalled when the postmaster leads it.
    unsafe {
        libc::kill(ipid, libc::SIGKILL);
        if leads_group {
            libc::kill(-ipid, libc::SIGKILL);
        }
    }
    wait_gone(&members, within)
}

/// Waits until every pid is dead; false when the deadline passes first.
pub fn wait_gone(pids: &[u32], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if pids.iter().all(|p| !alive(*p)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The postmaster's pid from `postmaster.pid` in a data directory, if the file is there.
pub fn postmaster_pid(data: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn we_are_alive_and_a_reaped_child_is_not() {
        assert!(alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!alive(pid));
    }

    #[test]
    fn postmaster_pid_reads_the_first_line() {
        let dir = std::env::temp_dir().join(format!("rotascope-os-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("postmaster.pid"), "4242\n/data\n").unwrap();
        assert_eq!(postmaster_pid(&dir), Some(4242));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(postmaster_pid(&dir), None);
    }
}
