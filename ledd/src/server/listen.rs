//! Listening: the socket ledd serves on, bound safely at a path or
//! inherited from systemd (socket activation), and removed at exit; with
//! [`ServerError`] for those steps.
//!
//! A path is trusted only as far as it is a socket: a symlink, a file or a
//! directory at the socket path is never removed, and a socket somebody
//! answers on is another ledd.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tracing::{info, warn};

/// The socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Another process answers on the socket.
    #[error("{path} is in use: another ledd is running; stop it first")]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// The path exists and is not a socket (or is a symlink): never removed.
    #[error(
        "{path} exists and is not a socket (it is a {kind}); refusing to remove it: choose another `socket` path or remove it yourself"
    )]
    NotASocket {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A system call failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The socket systemd passed is not a Unix stream socket.
    #[error(
        "the socket passed by systemd (fd 3) is not a listening Unix stream socket: check ledd.socket has ListenStream=/path"
    )]
    BadActivation,
}

impl ServerError {
    /// Whether the failure is a permission problem.
    pub fn is_permission(&self) -> bool {
        matches!(self, ServerError::Io { source, .. }
            if matches!(source.kind(), io::ErrorKind::PermissionDenied))
    }
}

/// A listening socket and whether ledd created it (and so removes it).
#[derive(Debug)]
pub struct Listener {
    /// The socket, non-blocking.
    pub socket: std::os::unix::net::UnixListener,
    /// The path to remove at exit, when ledd created the socket.
    pub created: Option<PathBuf>,
}

/// Binds `path` safely: a stale socket is removed only if it is a socket
/// (not a symlink, not a file) and nobody answers on it. The socket is
/// created with no access for others, then given `group` and `mode`.
pub fn bind(path: &Path, mode: u32, group: Option<u32>) -> Result<Listener, ServerError> {
    let io_err = |what: &'static str| {
        move |source| ServerError::Io {
            what,
            path: path.to_owned(),
            source,
        }
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            let ft = meta.file_type();
            if ft.is_symlink() || !ft.is_socket() {
                let kind = if ft.is_symlink() {
                    "symlink"
                } else if ft.is_dir() {
                    "directory"
                } else {
                    "file"
                };
                return Err(ServerError::NotASocket {
                    path: path.to_owned(),
                    kind,
                });
            }
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(ServerError::InUse {
                    path: path.to_owned(),
                });
            }
            std::fs::remove_file(path).map_err(io_err("cannot remove the stale socket"))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("cannot inspect")(e)),
    }
    // Created owner-only so that nobody connects before mode and group are
    // set. umask is process-wide: this runs at start-up, before the server
    // and while no other thread creates files.
    use nix::sys::stat::{Mode, umask};
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = std::os::unix::net::UnixListener::bind(path);
    umask(old);
    let socket = bound.map_err(io_err("cannot bind"))?;
    if let Some(gid) = group {
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            None,
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err("cannot set the group of")(io::Error::from(e)))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_err("cannot set the mode of"))?;
    socket
        .set_nonblocking(true)
        .map_err(io_err("cannot make non-blocking"))?;
    Ok(Listener {
        socket,
        created: Some(path.to_owned()),
    })
}

/// The first fd systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// The socket systemd passed with socket activation, when `LISTEN_PID` is
/// this process and `LISTEN_FDS` is at least 1.
pub fn from_systemd() -> Result<Option<Listener>, ServerError> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !ours || fds < 1 {
        return Ok(None);
    }
    // SAFETY: LISTEN_PID names this process, so systemd passed fd 3 to it
    // and nothing in ledd has opened, closed or claimed fd 3 before this
    // call, which runs once at start-up. The borrow ends before the fd is
    // owned below.
    let borrowed = unsafe { BorrowedFd::borrow_raw(LISTEN_FDS_START) };
    use nix::sys::socket::{
        AddressFamily, SockType, SockaddrLike, UnixAddr, getsockname, getsockopt, sockopt,
    };
    let stream = matches!(
        getsockopt(&borrowed, sockopt::SockType),
        Ok(SockType::Stream)
    );
    let unix = getsockname::<UnixAddr>(borrowed.as_raw_fd())
        .map(|a| a.family() == Some(AddressFamily::Unix))
        .unwrap_or(false);
    let listening = matches!(getsockopt(&borrowed, sockopt::AcceptConn), Ok(true));
    if !(stream && unix && listening) {
        return Err(ServerError::BadActivation);
    }
    // SAFETY: as above; from here the OwnedFd is the only owner of fd 3.
    let owned = unsafe { OwnedFd::from_raw_fd(LISTEN_FDS_START) };
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|_| ServerError::BadActivation)?;
    let socket = std::os::unix::net::UnixListener::from(owned);
    // Sockets from systemd arrive blocking; tokio needs non-blocking.
    socket
        .set_nonblocking(true)
        .map_err(|source| ServerError::Io {
            what: "cannot make non-blocking",
            path: PathBuf::from("fd 3"),
            source,
        })?;
    Ok(Some(Listener {
        socket,
        created: None,
    }))
}

/// Removes the socket ledd created, if it is still a socket.
pub fn remove_socket(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if let Err(e) = std::fs::remove_file(path) {
                warn!("cannot remove {}: {e}", path.display());
            } else {
                info!("removed {}", path.display());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn bind_sets_the_mode_and_replaces_only_a_stale_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledd.sock");
        // The caller's own group: any user may give a file it owns to it.
        let gid = nix::unistd::getegid().as_raw();
        let l = bind(&path, 0o640, Some(gid)).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o640);
        assert_eq!(meta.gid(), gid);
        assert_eq!(l.created.as_deref(), Some(path.as_path()));
        // Live: refused.
        assert!(matches!(
            bind(&path, 0o660, None),
            Err(ServerError::InUse { .. })
        ));
        drop(l);
        // Stale (nobody listens): replaced.
        let again = bind(&path, 0o660, None).unwrap();
        drop(again);
        remove_socket(&path);
        assert!(!path.exists());
    }

    #[test]
    fn bind_never_removes_a_file_or_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"precious").unwrap();
        let err = bind(&file, 0o660, None).unwrap_err();
        assert!(
            matches!(err, ServerError::NotASocket { kind: "file", .. }),
            "{err}"
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let err = bind(&link, 0o660, None).unwrap_err();
        assert!(
            matches!(
                err,
                ServerError::NotASocket {
                    kind: "symlink",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"precious");
        // remove_socket leaves non-sockets alone too.
        remove_socket(&file);
        assert!(file.exists());
    }

    #[test]
    fn no_activation_without_listen_pid() {
        // The test process has no LISTEN_PID naming it.
        assert!(from_systemd().unwrap().is_none());
    }
}
