//! The forbidden operations an attack test attempts, as small functions
//! returning `Err(errno)` when refused (or never returning, when seccomp
//! kills the process). Shared by the tests of tinsel-sandbox, webd and ledd.

use std::ffi::CString;
use std::os::fd::RawFd;

/// The calling thread's `errno`.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
}

/// `fork()`; the child `_exit`s at once. `Ok` if a child was made.
pub fn fork() -> Result<(), i32> {
    // SAFETY: if fork is allowed, the child only calls _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: immediate exit of the forked child.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 { Err(errno()) } else { Ok(()) }
}

/// Whether `fd` is an open descriptor (`fcntl(F_GETFD)`): `Ok` if it
/// is, `Err(EBADF)` if it was closed.
pub fn fd_is_open(fd: RawFd) -> Result<(), i32> {
    // SAFETY: F_GETFD on a descriptor number; no memory involved.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `setresuid(0, 0, 0)`: back to root.
pub fn setresuid_root() -> Result<(), i32> {
    // SAFETY: integer arguments.
    check(unsafe { libc::setresuid(0, 0, 0) }.into())
}

fn check(rc: libc::c_long) -> Result<(), i32> {
    if rc < 0 { Err(errno()) } else { Ok(()) }
}

/// Open `path` for reading and read from it.
pub fn read_file(path: &str) -> Result<(), i32> {
    std::fs::read(path)
        .map(|_| ())
        .map_err(|e| e.raw_os_error().unwrap_or(-1))
}

/// Create and write a new file `path`.
pub fn write_file(path: &str) -> Result<(), i32> {
    std::fs::write(path, b"pwned").map_err(|e| e.raw_os_error().unwrap_or(-1))
}

/// `execve(path, [path], [])`. Returns only on failure.
pub fn exec(path: &str) -> Result<(), i32> {
    let c = CString::new(path).map_err(|_| libc::EINVAL)?;
    let argv = [c.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    // SAFETY: argv and envp are NULL-terminated arrays of valid C strings
    // that outlive the call.
    unsafe { libc::execve(c.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Err(errno())
}

/// `socket(domain, ty, 0)`; closes it again on success.
pub fn socket(domain: i32, ty: i32) -> Result<(), i32> {
    socket_fd(domain, ty).map(|fd| {
        // SAFETY: closing the descriptor we just created.
        unsafe { libc::close(fd) };
    })
}

/// `socket(domain, ty, 0)`, returning the descriptor.
pub fn socket_fd(domain: i32, ty: i32) -> Result<RawFd, i32> {
    // SAFETY: integer arguments.
    let fd = unsafe { libc::socket(domain, ty, 0) };
    if fd < 0 { Err(errno()) } else { Ok(fd) }
}

/// 127.0.0.1:`port`.
fn loopback_v4(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// `connect(fd, 127.0.0.1:port)`.
pub fn connect_tcp_v4(fd: RawFd, port: u16) -> Result<(), i32> {
    let addr = loopback_v4(port);
    // SAFETY: `addr` is a live sockaddr_in of the stated size.
    let rc = unsafe {
        libc::connect(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    check(rc.into())
}

/// `bind(fd, 127.0.0.1:port)`.
pub fn bind_tcp_v4(fd: RawFd, port: u16) -> Result<(), i32> {
    let addr = loopback_v4(port);
    // SAFETY: `addr` is a live sockaddr_in of the stated size.
    let rc = unsafe {
        libc::bind(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    check(rc.into())
}

/// `listen(fd, 1)` on a descriptor the process holds.
pub fn listen(fd: RawFd) -> Result<(), i32> {
    // SAFETY: integer arguments.
    check(unsafe { libc::listen(fd, 1) }.into())
}

/// `accept4(fd, NULL, NULL, flags)`.
pub fn accept4(fd: RawFd, flags: i32) -> Result<(), i32> {
    // SAFETY: NULL address pointers are allowed.
    let rc = unsafe { libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), flags) };
    check(rc.into())
}

/// Connect a new AF_UNIX stream socket to `path`.
pub fn connect_unix(path: &std::path::Path) -> Result<(), i32> {
    std::os::unix::net::UnixStream::connect(path)
        .map(|_| ())
        .map_err(|e| e.raw_os_error().unwrap_or(-1))
}

/// `ptrace(PTRACE_ATTACH, pid)`.
pub fn ptrace_attach(pid: libc::pid_t) -> Result<(), i32> {
    // SAFETY: PTRACE_ATTACH takes no pointers.
    let rc = unsafe { libc::ptrace(libc::PTRACE_ATTACH, pid, 0usize, 0usize) };
    check(rc)
}

/// `setuid(uid)`.
pub fn setuid(uid: libc::uid_t) -> Result<(), i32> {
    // SAFETY: integer argument.
    check(unsafe { libc::setuid(uid) }.into())
}

/// Mount a tmpfs on `target`.
pub fn mount_tmpfs(target: &str) -> Result<(), i32> {
    let t = CString::new(target).map_err(|_| libc::EINVAL)?;
    let fs = c"tmpfs";
    // SAFETY: valid C strings; NULL data is allowed for tmpfs.
    let rc = unsafe { libc::mount(fs.as_ptr(), t.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) };
    check(rc.into())
}

/// `unshare(flags)`.
pub fn unshare(flags: i32) -> Result<(), i32> {
    // SAFETY: integer argument.
    check(unsafe { libc::unshare(flags) }.into())
}

/// `kill(pid, sig)`.
pub fn kill(pid: libc::pid_t, sig: i32) -> Result<(), i32> {
    // SAFETY: integer arguments.
    check(unsafe { libc::kill(pid, sig) }.into())
}

/// `tgkill(pid, pid, sig)` (a signal to another process's main thread).
pub fn tgkill(pid: libc::pid_t, sig: i32) -> Result<(), i32> {
    // SAFETY: integer arguments.
    check(unsafe { libc::syscall(libc::SYS_tgkill, pid, pid, sig) })
}

/// An anonymous mapping that is writable and executable at once.
pub fn mmap_write_exec() -> Result<(), i32> {
    // SAFETY: an anonymous private mapping at a kernel-chosen address
    // touches no existing memory.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Map a page read-write, then `mprotect` it to write+exec.
pub fn mprotect_write_exec() -> Result<(), i32> {
    // SAFETY: as in `mmap_write_exec`.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(errno());
    }
    // SAFETY: `p` is the page mapped just above, owned by nobody else.
    check(
        unsafe {
            libc::mprotect(
                p,
                4096,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            )
        }
        .into(),
    )
}
