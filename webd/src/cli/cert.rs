//! `webd cert self-signed --out DIR`: an ECDSA P-256 certificate and key
//! for a first test, the key readable by webd's group when run as root.

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::CliError;
use crate::exit::Exit;

/// The file names Let's Encrypt uses, so configs read the same either way.
pub const CERT_FILE: &str = "fullchain.pem";
/// The key file name.
pub const KEY_FILE: &str = "privkey.pem";

/// The group the key of `webd cert self-signed` is given to by default
/// when run as root: webd's group in the packaged setup (tinsel.sysusers).
pub const DEFAULT_KEY_GROUP: &str = "tinsel";

/// The key's mode when a group may read it: webd, started as root, drops to
/// its `user`/`group` before serving and re-reads the key on SIGHUP as
/// that user.
pub const GROUP_KEY_MODE: u32 = 0o640;

/// Writes a self-signed ECDSA P-256 certificate for `names` (DNS names or
/// IP addresses) and its key into `dir`, as `fullchain.pem` and
/// `privkey.pem`. The key file is created with mode 0600; with `key_group`
/// it is then given to that group and made 0640, so webd can re-read it
/// after dropping root.
pub fn self_signed(
    dir: &Path,
    names: &[String],
    force: bool,
    key_group: Option<u32>,
) -> Result<(PathBuf, PathBuf), CliError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tinsel webd (self-signed)");
    let cert = params.self_signed(&key)?;
    std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    if !force {
        for p in [&cert_path, &key_path] {
            if p.exists() {
                return Err(CliError::Exists(p.clone()));
            }
        }
    }
    let key_file = write(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    if let Some(gid) = key_group {
        // The group first, then the mode: the key is never readable by a
        // group it was not meant for.
        let err = |source| CliError::Write {
            path: key_path.clone(),
            source,
        };
        std::os::unix::fs::fchown(&key_file, None, Some(gid)).map_err(err)?;
        key_file
            .set_permissions(std::fs::Permissions::from_mode(GROUP_KEY_MODE))
            .map_err(err)?;
    }
    write(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok((cert_path, key_path))
}

fn write(path: &Path, data: &[u8], mode: u32) -> Result<std::fs::File, CliError> {
    let err = |source| CliError::Write {
        path: path.to_owned(),
        source,
    };
    // Remove first so an existing file's looser mode is not kept.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    f.write_all(data).map_err(err)?;
    f.sync_all().map_err(err)?;
    Ok(f)
}

/// `webd cert self-signed`: writes the pair, prints the `[tls]` lines and
/// says who can read the key.
pub fn run(out: &Path, names: &[String], group: Option<&str>, force: bool) -> Exit {
    let root = rustix::process::geteuid().is_root();
    let (group, explicit) = match group {
        Some(g) => (Some(g), true),
        None if root => (Some(DEFAULT_KEY_GROUP), false),
        None => (None, false),
    };
    let gid = match group.map(|g| (g, tinsel_sandbox::ids::group_id(g))) {
        None => None,
        Some((_, Ok(Some(gid)))) => Some(gid),
        Some((g, Ok(None))) if explicit => {
            eprintln!(
                "webd: --group: no group named `{g}`: give webd's `group` from its config, or leave --group out"
            );
            return Exit::Usage;
        }
        Some((_, Ok(None))) => None,
        Some((g, Err(e))) => {
            eprintln!("webd: --group {g}: {e}");
            return Exit::Usage;
        }
    };
    match self_signed(out, names, force, gid) {
        Ok((cert, key)) => {
            // Absolute, so the lines mean the same pasted into a config in
            // another directory (relative paths follow the config file).
            let cert = std::path::absolute(&cert).unwrap_or(cert);
            let key = std::path::absolute(&key).unwrap_or(key);
            println!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"",
                cert.display(),
                key.display()
            );
            eprintln!(
                "webd: wrote a self-signed ECDSA P-256 certificate for {}; clients need it as their CA (curl --cacert {})",
                names.join(", "),
                cert.display()
            );
            match (gid, group) {
                (Some(_), Some(g)) => eprintln!(
                    "webd: the key is 0640, group {g}: webd (group = \"{g}\") can re-read it on SIGHUP after dropping root"
                ),
                _ if root => eprintln!(
                    "webd: the key is 0600 root: a webd that drops to its user cannot re-read it on SIGHUP; pass --group with webd's group (or chown root:GROUP and chmod 0640 it)"
                ),
                _ => {}
            }
            Exit::Ok
        }
        Err(CliError::Exists(p)) => {
            eprintln!(
                "webd: {} already exists: pass --force to replace it",
                p.display()
            );
            Exit::Usage
        }
        Err(e @ CliError::Write { .. }) => {
            eprintln!("webd: {e}");
            Exit::Permission
        }
        Err(e) => {
            eprintln!("webd: {e}");
            Exit::Internal
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    #[test]
    fn self_signed_writes_a_usable_pair() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let (cert, key) = self_signed(dir.path(), &names, false, None).unwrap();
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let paths = crate::config::TlsPaths { cert, key };
        crate::tls::load(&paths, &crate::tls::Resumption::new().unwrap()).unwrap();
        assert!(matches!(
            self_signed(dir.path(), &names, false, None),
            Err(CliError::Exists(_))
        ));
        assert!(self_signed(dir.path(), &names, true, None).is_ok());
    }

    #[test]
    fn a_key_for_a_group_is_0640_and_that_groups() {
        let dir = tempfile::tempdir().unwrap();
        // The process's own group: chown to it needs no privilege.
        let gid = rustix::process::getegid().as_raw();
        let (_, key) = self_signed(dir.path(), &["localhost".into()], false, Some(gid)).unwrap();
        let meta = std::fs::metadata(&key).unwrap();
        assert_eq!(meta.mode() & 0o777, GROUP_KEY_MODE);
        assert_eq!(meta.gid(), gid);
    }
}
