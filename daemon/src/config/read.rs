//! Reading a config file, the one way every daemon does it: through one
//! open descriptor, checked before a byte is read, and never more than
//! [`MAX_BYTES`].
//!
//! Whoever can edit a daemon's config decides what it does (ledd's admin
//! users, webd's tokens, the user every daemon drops to), so a config is
//! trusted only if it is:
//!
//! - a regular file: not a FIFO (opening one would block the start), a
//!   device (`/dev/zero` never ends), a directory or a socket;
//! - at most [`MAX_BYTES`]: a config is a few KiB, and a mistake (the wrong
//!   file, a log) must not cost the daemon its memory;
//! - owned by root, or, when the daemon is not root, by the user running
//!   it (a user's own test config; a root-owned file in `/etc` stays fine
//!   for a daemon that has dropped root and re-reads it on SIGHUP);
//! - not writable by group or others.
//!
//! The checks are on the opened file (`fstat` of the descriptor the text is
//! then read from), so the file cannot be swapped between check and read.
//! The open follows symlinks: what is checked is the file they lead to,
//! and a distribution may make `/etc` entries symlinks (NixOS, stow).
//! `O_NONBLOCK` keeps the open of a FIFO from waiting for a writer; it
//! changes nothing for a regular file.

use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::Path;

use super::ConfigError;

/// The largest config file read. The packaged configs are 1 to 5 KiB; a
/// webd config with a thousand tokens is about 150 KiB.
pub const MAX_BYTES: u64 = 256 * 1024;

/// Reads the config file at `path` after checking, on the opened file,
/// that it is one a daemon may trust (module docs). A failure is a
/// [`ConfigError`] naming the file: [`ConfigError::Read`] when it cannot
/// be opened or read, [`ConfigError::NotAFile`], [`ConfigError::TooLarge`]
/// or [`ConfigError::Untrusted`] when it is refused.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    read_as(path, nix::unistd::geteuid().as_raw())
}

/// [`read`] for a daemon running as `euid`.
fn read_as(path: &Path, euid: u32) -> Result<String, ConfigError> {
    let io_err = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    check(path, &meta, euid)?;
    let mut bytes = Vec::new();
    // One byte over the cap tells a file that grew since the fstat.
    (&mut file)
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_owned(),
            size: meta.size().max(bytes.len() as u64),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        io_err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (byte {} is not part of a character): a config is TOML text",
                e.utf8_error().valid_up_to()
            ),
        ))
    })
}

/// The checks of the module docs on an opened file's metadata, for a
/// daemon running as `euid`.
fn check(path: &Path, meta: &std::fs::Metadata, euid: u32) -> Result<(), ConfigError> {
    let kind = meta.file_type();
    let not_a_file = |what: &'static str| ConfigError::NotAFile {
        path: path.to_owned(),
        what,
    };
    if kind.is_dir() {
        return Err(not_a_file("a directory"));
    }
    if kind.is_fifo() {
        return Err(not_a_file("a FIFO"));
    }
    if kind.is_char_device() || kind.is_block_device() {
        return Err(not_a_file("a device"));
    }
    if kind.is_socket() {
        return Err(not_a_file("a socket"));
    }
    if !kind.is_file() {
        return Err(not_a_file("not a regular file"));
    }
    if meta.size() > MAX_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_owned(),
            size: meta.size(),
        });
    }
    let owner_ok = meta.uid() == 0 || meta.uid() == euid;
    if !owner_ok || meta.mode() & 0o022 != 0 {
        return Err(ConfigError::Untrusted {
            path: path.to_owned(),
            uid: meta.uid(),
            mode: meta.mode() & 0o7777,
            euid,
        });
    }
    Ok(())
}

/// The second half of [`ConfigError::Untrusted`]'s message: whom the file
/// may belong to and the commands that make it so.
pub(super) fn trusted_owner_and_fix(path: &Path, uid: u32, euid: u32) -> String {
    let path = path.display();
    if euid == 0 {
        return format!(
            "a daemon running as root trusts only a file owned by root and not writable by group or others (chown root {path} && chmod go-w {path})"
        );
    }
    let fix = if uid == 0 || uid == euid {
        format!("chmod go-w {path}")
    } else {
        format!(
            "copy it to a file of your own with `install -m 0644 {path} NEW`, or have root own it"
        )
    };
    format!(
        "a daemon running as uid {euid} trusts only a file owned by root or by uid {euid} and not writable by group or others ({fix})"
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use super::*;

    fn euid() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    /// A file `name` in `dir` holding `text` with mode `mode`.
    fn file(dir: &Path, name: &str, text: &[u8], mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    /// Every message names the file and stays short: a refusal never
    /// echoes what it refused.
    fn refused(path: &Path) -> (ConfigError, String) {
        let err = read(path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.len() < 600, "{} bytes: {msg}", msg.len());
        (err, msg)
    }

    #[test]
    fn a_config_as_tests_and_packages_write_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "a.toml", b"a = 1\n", 0o644);
        assert_eq!(read(&path).unwrap(), "a = 1\n");
        let path = file(dir.path(), "b.toml", b"b = 2\n", 0o600);
        assert_eq!(read(&path).unwrap(), "b = 2\n");
        let path = file(
            dir.path(),
            "max.toml",
            &vec![b'#'; MAX_BYTES as usize],
            0o640,
        );
        assert_eq!(read(&path).unwrap().len() as u64, MAX_BYTES);
    }

    #[test]
    fn a_file_over_the_cap_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            dir.path(),
            "big.toml",
            &vec![b'#'; MAX_BYTES as usize + 1],
            0o644,
        );
        let (err, msg) = refused(&path);
        assert!(matches!(err, ConfigError::TooLarge { .. }), "{msg}");
        assert!(msg.contains(&(MAX_BYTES + 1).to_string()), "{msg}");
        assert!(msg.contains("256 KiB"), "{msg}");
    }

    #[test]
    fn a_32_mib_file_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.toml");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(32 << 20).unwrap();
        let (err, _) = refused(&path);
        assert!(matches!(err, ConfigError::TooLarge { size, .. } if size == 32 << 20));
    }

    #[test]
    fn dev_zero_is_refused_as_a_device() {
        let (err, msg) = refused(Path::new("/dev/zero"));
        assert!(matches!(err, ConfigError::NotAFile { .. }), "{msg}");
        assert!(msg.contains("a device"), "{msg}");
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo.toml");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        let start = Instant::now();
        let (err, msg) = refused(&path);
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(matches!(err, ConfigError::NotAFile { .. }), "{msg}");
        assert!(msg.contains("a FIFO"), "{msg}");
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (err, msg) = refused(dir.path());
        assert!(matches!(err, ConfigError::NotAFile { .. }), "{msg}");
        assert!(msg.contains("a directory"), "{msg}");
    }

    #[test]
    fn a_file_group_or_others_may_write_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o664, 0o646, 0o666] {
            let path = file(dir.path(), "w.toml", b"a = 1\n", mode);
            let (err, msg) = refused(&path);
            assert!(matches!(err, ConfigError::Untrusted { .. }), "{msg}");
            assert!(msg.contains(&format!("{mode:o}")), "{msg}");
            assert!(msg.contains("chmod go-w"), "{msg}");
        }
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "a.toml", b"a = 1\n", 0o644);
        // Running as uid 4242, a file of the test's user (root or not) is
        // someone else's unless it is root's.
        let owner = std::fs::metadata(&path).unwrap().uid();
        let as_other = read_as(&path, 4242);
        if owner == 0 {
            assert_eq!(
                as_other.unwrap(),
                "a = 1\n",
                "root's file is trusted by all"
            );
        } else {
            let msg = as_other.unwrap_err().to_string();
            assert!(msg.contains(&format!("uid {owner}")), "{msg}");
            assert!(msg.contains("owned by root or by uid 4242"), "{msg}");
        }
        // As root, only root's file.
        let as_root = read_as(&path, 0);
        if owner == 0 {
            assert!(as_root.is_ok());
        } else {
            let msg = as_root.unwrap_err().to_string();
            assert!(msg.contains("chown root"), "{msg}");
        }
    }

    #[test]
    fn a_symlink_is_followed_and_its_target_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = file(dir.path(), "good.toml", b"a = 1\n", 0o644);
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&good, &link).unwrap();
        assert_eq!(read(&link).unwrap(), "a = 1\n");
        let bad = file(dir.path(), "bad.toml", b"a = 1\n", 0o666);
        let link = dir.path().join("bad-link.toml");
        std::os::unix::fs::symlink(&bad, &link).unwrap();
        let (err, _) = refused(&link);
        assert!(matches!(err, ConfigError::Untrusted { .. }));
        let link = dir.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let (err, _) = refused(&link);
        assert!(matches!(err, ConfigError::NotAFile { .. }));
    }

    #[test]
    fn a_missing_file_or_binary_bytes_are_read_errors() {
        let (err, msg) = refused(Path::new("/nonexistent/tinsel.toml"));
        assert!(
            matches!(&err, ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{msg}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "bin.toml", b"a = \"\xff\xfe\"\n", 0o644);
        let (err, msg) = refused(&path);
        assert!(matches!(err, ConfigError::Read { .. }), "{msg}");
        assert!(msg.contains("not UTF-8"), "{msg}");
    }

    #[test]
    fn the_euid_the_checks_use_is_the_process_s() {
        // `read` is `read_as` with the real answer: a file of the test's
        // own user with mode 0644 is always fine.
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "a.toml", b"", 0o644);
        assert_eq!(std::fs::metadata(&path).unwrap().uid(), euid());
        assert_eq!(read(&path).unwrap(), "");
    }
}
