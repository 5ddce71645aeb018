//! Process-wide facts and clean-up: the thread count, inherited file
//! descriptors, and `/proc/self/status` as the kernel reports it.
//!
//! Everything here that reads `/proc` must run before Landlock (which denies
//! it) — or, like [`Status::read_from`], on a file opened before.

use std::fs;
use std::io::{self, Read, Seek};
use std::os::fd::RawFd;

/// Number of threads in this process (entries of `/proc/self/task`).
pub fn thread_count() -> io::Result<usize> {
    Ok(fs::read_dir("/proc/self/task")?.count())
}

/// The descriptors currently open, from `/proc/self/fd` (excluding the one
/// used to list the directory).
pub fn open_fds() -> io::Result<Vec<RawFd>> {
    let dir = fs::read_dir("/proc/self/fd")?;
    let mut fds: Vec<RawFd> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect();
    // The directory's own descriptor is listed too and is closed by now.
    // SAFETY: F_GETFD has no memory-safety preconditions; it only tells
    // whether a descriptor is open.
    fds.retain(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1);
    fds.sort_unstable();
    Ok(fds)
}

/// How [`close_inherited_fds`] did its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseMethod {
    /// `close_range(2)` over the gaps between kept descriptors (Linux 5.9).
    CloseRange,
    /// Listed `/proc/self/fd` and closed each (older kernels).
    ProcFd,
}

/// Close every descriptor except stdin/stdout/stderr and `keep`.
///
/// A descriptor the daemon did not ask for (a leaked socket from the parent,
/// a terminal, a log pipe) is authority it should not have; closing them
/// before Landlock and seccomp means the sandbox is judged on what the
/// daemon actually holds.
pub fn close_inherited_fds(keep: &[RawFd]) -> io::Result<CloseMethod> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd > 2).collect();
    keep.sort_unstable();
    keep.dedup();
    match close_ranges(&keep) {
        Ok(()) => Ok(CloseMethod::CloseRange),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            for fd in open_fds()? {
                if fd > 2 && keep.binary_search(&fd).is_err() {
                    // SAFETY: closing a descriptor this function owns the
                    // decision for; Rust objects holding it would be a bug
                    // in the caller's `keep` list, not memory unsafety
                    // (their later use fails with EBADF).
                    unsafe { libc::close(fd) };
                }
            }
            Ok(CloseMethod::ProcFd)
        }
        Err(e) => Err(e),
    }
}

fn close_range(first: u32, last: u32) -> io::Result<()> {
    if first > last {
        return Ok(());
    }
    // SAFETY: close_range takes integers only. Descriptors still referenced
    // by Rust objects (not in `keep`) would fail later with EBADF, which is
    // the documented contract of `close_inherited_fds`.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn close_ranges(sorted_keep: &[RawFd]) -> io::Result<()> {
    let mut next: u32 = 3;
    for &fd in sorted_keep {
        let fd = fd as u32;
        if fd > next {
            close_range(next, fd - 1)?;
        }
        next = fd + 1;
    }
    close_range(next, u32::MAX)
}

/// The confinement-related fields of `/proc/<pid>/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Real, effective, saved, filesystem uids.
    pub uid: [u32; 4],
    /// Real, effective, saved, filesystem gids.
    pub gid: [u32; 4],
    /// `Groups:` (supplementary).
    pub groups: Vec<u32>,
    /// `CapInh`.
    pub cap_inh: u64,
    /// `CapPrm`.
    pub cap_prm: u64,
    /// `CapEff`.
    pub cap_eff: u64,
    /// `CapBnd`.
    pub cap_bnd: u64,
    /// `CapAmb`.
    pub cap_amb: u64,
    /// `NoNewPrivs`.
    pub no_new_privs: u32,
    /// `Seccomp` (0 none, 1 strict, 2 filter).
    pub seccomp: u32,
    /// `Threads`.
    pub threads: u32,
}

impl Status {
    /// Parse the text of a status file.
    pub fn parse(text: &str) -> Status {
        let mut s = Status::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let ids = |v: &str| {
                let mut out = [0u32; 4];
                for (o, p) in out.iter_mut().zip(v.split_whitespace()) {
                    *o = p.parse().unwrap_or(u32::MAX);
                }
                out
            };
            let hex = |v: &str| u64::from_str_radix(v, 16).unwrap_or(u64::MAX);
            match key {
                "Uid" => s.uid = ids(value),
                "Gid" => s.gid = ids(value),
                "Groups" => {
                    s.groups = value
                        .split_whitespace()
                        .filter_map(|g| g.parse().ok())
                        .collect()
                }
                "CapInh" => s.cap_inh = hex(value),
                "CapPrm" => s.cap_prm = hex(value),
                "CapEff" => s.cap_eff = hex(value),
                "CapBnd" => s.cap_bnd = hex(value),
                "CapAmb" => s.cap_amb = hex(value),
                "NoNewPrivs" => s.no_new_privs = value.parse().unwrap_or(u32::MAX),
                "Seccomp" => s.seccomp = value.parse().unwrap_or(u32::MAX),
                "Threads" => s.threads = value.parse().unwrap_or(u32::MAX),
                _ => {}
            }
        }
        s
    }

    /// Read `/proc/self/status` now.
    pub fn current() -> io::Result<Status> {
        Ok(Status::parse(&fs::read_to_string("/proc/self/status")?))
    }

    /// Read from a status file opened earlier (e.g. before Landlock, which
    /// denies opening `/proc`). procfs generates the text at read time, so
    /// this shows the state now, not the state at open.
    pub fn read_from(file: &mut fs::File) -> io::Result<Status> {
        file.rewind()?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        Ok(Status::parse(&text))
    }
}

/// Every thread's id, name (`comm`) and status, from `/proc/self/task`.
/// Capabilities and no_new_privs are per thread: this is how a daemon that
/// already runs threads checks that each one dropped them.
pub fn thread_statuses() -> io::Result<Vec<(u32, String, Status)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc/self/task")? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let dir = entry.path();
        let comm = fs::read_to_string(dir.join("comm"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let status = Status::parse(&fs::read_to_string(dir.join("status"))?);
        out.push((tid, comm, status));
    }
    out.sort_by_key(|(tid, ..)| *tid);
    Ok(out)
}
