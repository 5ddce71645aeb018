//! Where ledd listens, and ledctl connects, when neither the config file
//! nor `--socket` says: root's `/run/tinsel/ledd.sock`, and for any other
//! user a socket of their own under `$XDG_RUNTIME_DIR/tinsel` (or
//! `/tmp/tinsel-UID`), with the check that such a directory is that
//! user's and private. ledd (`daemon.rs`) and ledctl (`check_user_socket`) both
//! take these rules from here, so they always agree.

use std::path::{Path, PathBuf};

/// Where ledd listens as root when neither the file nor `--socket` says
/// (systemd's `ledd.socket` and the `.deb` create `/run/tinsel`).
pub const DEFAULT_SOCKET: &str = "/run/tinsel/ledd.sock";
/// The per-user directory's name, under `$XDG_RUNTIME_DIR`.
pub const USER_SOCKET_DIR: &str = "tinsel";
/// The socket's file name in the per-user directory.
pub const USER_SOCKET_NAME: &str = "ledd.sock";

/// Where ledd listens, and ledctl connects, when neither the config file
/// nor `--socket` says: root's [`DEFAULT_SOCKET`], and for any other
/// user a socket of their own (see [`default_socket_for`]), so that an
/// ordinary user's `ledd` and `ledctl` find each other.
pub fn default_socket() -> PathBuf {
    default_socket_for(
        nix::unistd::geteuid().as_raw(),
        std::env::var_os("XDG_RUNTIME_DIR").as_deref(),
    )
}

/// [`default_socket`] for effective uid `euid` and the value of
/// `XDG_RUNTIME_DIR`: uid 0 gets [`DEFAULT_SOCKET`]; others get
/// `$XDG_RUNTIME_DIR/tinsel/ledd.sock` (a directory only that user can
/// reach, made by the login manager), or `/tmp/tinsel-<uid>/ledd.sock` when
/// `XDG_RUNTIME_DIR` is unset, empty or relative. ledd creates the
/// `tinsel` directory (mode 0700) and checks it with
/// [`check_user_socket_dir`]: in `/tmp` anyone could have made it first.
pub fn default_socket_for(euid: u32, xdg_runtime_dir: Option<&std::ffi::OsStr>) -> PathBuf {
    if euid == 0 {
        return PathBuf::from(DEFAULT_SOCKET);
    }
    let dir = match xdg_runtime_dir.map(Path::new) {
        Some(runtime) if runtime.is_absolute() => runtime.join(USER_SOCKET_DIR),
        _ => PathBuf::from(format!("/tmp/{USER_SOCKET_DIR}-{euid}")),
    };
    dir.join(USER_SOCKET_NAME)
}

/// For an ordinary user's default socket ([`default_socket`]): the
/// directory holding it must be a directory of this user's that no one
/// else may write ([`check_user_socket_dir`]); otherwise another user
/// could have put a socket of theirs where ledctl looks. A missing
/// directory passes (connecting then says ledd is not running). Any other
/// path (root's, `--socket`) is the caller's choice.
pub fn check_user_socket(path: &Path) -> Result<(), String> {
    let euid = nix::unistd::geteuid().as_raw();
    if euid == 0 || path != default_socket() {
        return Ok(());
    }
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        _ => check_user_socket_dir(dir, euid),
    }
}

/// Checks that the per-user socket directory `dir` is a real directory
/// (not a symlink) owned by `euid` and that no one else may write to it,
/// so that neither ledd's socket nor the one ledctl connects to can be
/// another user's. The error names the directory and the fix.
pub fn check_user_socket_dir(dir: &Path, euid: u32) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!(
            "{} is not a directory (a symlink or a file): remove it, or choose a socket with --socket PATH",
            dir.display()
        ));
    }
    if meta.uid() != euid {
        return Err(format!(
            "{} belongs to uid {}, not to uid {euid}: someone else made it; remove it, set XDG_RUNTIME_DIR, or choose a socket with --socket PATH",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by others (mode {:o}): chmod 700 {}",
            dir.display(),
            meta.mode() & 0o7777,
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Origin, Overrides, RawConfig};

    #[test]
    fn the_default_socket_is_roots_or_the_users_own() {
        use std::ffi::OsStr;
        let root = default_socket_for(0, Some(OsStr::new("/run/user/0")));
        assert_eq!(root, Path::new("/run/tinsel/ledd.sock"));
        assert_eq!(
            default_socket_for(1000, Some(OsStr::new("/run/user/1000"))),
            Path::new("/run/user/1000/tinsel/ledd.sock")
        );
        for unusable in [None, Some(""), Some("relative/dir")] {
            assert_eq!(
                default_socket_for(1000, unusable.map(OsStr::new)),
                Path::new("/tmp/tinsel-1000/ledd.sock"),
                "XDG_RUNTIME_DIR = {unusable:?}"
            );
        }
        // ledd's default is ledctl's: both come from here.
        let euid = nix::unistd::geteuid().as_raw();
        let xdg = std::env::var_os("XDG_RUNTIME_DIR");
        assert_eq!(default_socket(), default_socket_for(euid, xdg.as_deref()));
        let c = Config::from_raw(
            RawConfig::default(),
            &Overrides::default(),
            Origin::Defaults,
        );
        assert_eq!(c.unwrap().socket, default_socket());
    }

    #[test]
    fn a_per_user_socket_directory_must_be_private_and_the_users_own() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tinsel");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let owner = std::fs::metadata(&dir).unwrap().uid();
        assert_eq!(check_user_socket_dir(&dir, owner), Ok(()));
        let err = check_user_socket_dir(&dir, owner + 1).unwrap_err();
        assert!(err.contains(&format!("belongs to uid {owner}")), "{err}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_user_socket_dir(&dir, owner).unwrap_err();
        assert!(
            err.contains("writable by others") && err.contains("chmod 700"),
            "{err}"
        );
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let err = check_user_socket_dir(&link, owner).unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
    }
}
