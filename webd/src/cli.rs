//! The one-shot commands: `webd token new NAME`, `webd cert self-signed
//! --out DIR`, and the checks `webd --check-config` adds to parsing: can
//! webd's user re-read its files on reload ([`unreadable_on_reload`]), and
//! what role does it get from ledd ([`probe_ledd_as`]). They print or write
//! and exit; nothing here runs in the daemon.

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ledd_client::Unreachable;
use crate::sandbox::Identity;

use base64::Engine as _;

use crate::http::auth::{
    BadTokenName, MIN_HMAC_SECRET_BYTES, check_token_name, to_hex, token_hash,
};

/// Random bytes in a token: 256 bits, beyond any guessing.
pub const TOKEN_BYTES: usize = 32;

/// The file names Let's Encrypt uses, so configs read the same either way.
pub const CERT_FILE: &str = "fullchain.pem";
/// The key file name.
pub const KEY_FILE: &str = "privkey.pem";

/// A one-shot command that failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A token name that breaks the token-name rule.
    #[error(transparent)]
    BadName(#[from] BadTokenName),
    /// A hook name in `--hook` that is not one.
    #[error("hook name `{0}`: use 1 to 64 of a-z, 0-9, - and _, or *")]
    BadHook(String),
    /// No randomness.
    #[error("cannot get random bytes from the OS: {0}")]
    Random(getrandom::Error),
    /// rcgen failed.
    #[error("cannot create the certificate: {0}")]
    Cert(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The files exist already.
    #[error("{} already exists: pass --force to replace it", .0.display())]
    Exists(PathBuf),
}

/// A fresh token and the config lines that store its hash (or, signed, its
/// key).
#[derive(Debug)]
pub struct NewToken {
    /// The token (bearer) or signing key (signed), to give to the sender.
    pub secret: String,
    /// The `[[tokens]]` table for the config.
    pub config: String,
}

/// Makes a token named `name` for `hooks` (`*` for all). A signed token's
/// secret is an HMAC key and has to be stored in the config itself.
pub fn new_token(name: &str, hooks: &[String], signed: bool) -> Result<NewToken, CliError> {
    check_token_name(name)?;
    for h in hooks {
        if h != "*" && !crate::config::valid_hook_name(h) {
            return Err(CliError::BadHook(h.clone()));
        }
    }
    const _: () = assert!(TOKEN_BYTES >= MIN_HMAC_SECRET_BYTES);
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(CliError::Random)?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hooks = if hooks.is_empty() {
        "\"*\"".to_owned()
    } else {
        hooks
            .iter()
            .map(|h| format!("\"{h}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let line = if signed {
        format!("hmac_secret = \"{secret}\"")
    } else {
        format!("sha256 = \"{}\"", to_hex(&token_hash(&secret)))
    };
    let config = format!("[[tokens]]\nname = \"{name}\"\n{line}\nhooks = [{hooks}]\n");
    Ok(NewToken { secret, config })
}

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

/// A file webd needs on reload that its user could not read, or a
/// directory on the way to it that its user could not enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The file webd needs (config, certificate or key).
    pub needed: PathBuf,
    /// What stops it: that file, or a directory above it.
    pub blocked: PathBuf,
    /// Whether `blocked` is a directory.
    pub is_dir: bool,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// Its permission bits.
    pub mode: u32,
}

impl Unreadable {
    /// The warning: the file, its owner and mode, and the fix, with
    /// `group` (webd's group) in the commands.
    pub fn explain(&self, user: &str, group: &str) -> String {
        let blocked = self.blocked.display();
        let (what, fix) = if self.is_dir {
            (
                "cannot enter the directory",
                format!("chgrp {group} {blocked} && chmod g+x {blocked}"),
            )
        } else {
            (
                "cannot read",
                format!("chown root:{group} {blocked} && chmod 0640 {blocked}"),
            )
        };
        let via = if self.blocked == self.needed {
            String::new()
        } else {
            format!(" (on the way to {})", self.needed.display())
        };
        format!(
            "{blocked}: webd's user {user} {what}{via} (owner uid {} gid {}, mode {:04o}), so reloading (SIGHUP) after webd drops root fails with \"Permission denied\"; fix: {fix}",
            self.uid,
            self.gid,
            self.mode & 0o7777
        )
    }
}

/// The files among `files` (and directories above them, as written and
/// as resolved through symlinks) that `who` could not read or enter. A file
/// that does not exist is left to the loader's own error.
pub fn unreadable_on_reload(files: &[&Path], who: &Identity) -> Vec<Unreadable> {
    const READ: u32 = 0o4;
    const SEARCH: u32 = 0o1;
    let mut out: Vec<Unreadable> = Vec::new();
    for &file in files {
        let Ok(file) = std::path::absolute(file) else {
            continue;
        };
        let resolved = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        let mut dirs: Vec<&Path> = file.ancestors().skip(1).collect();
        dirs.extend(resolved.ancestors().skip(1));
        dirs.reverse();
        dirs.dedup();
        let checks = dirs
            .into_iter()
            .map(|d| (d, SEARCH))
            .chain([(resolved.as_path(), READ)]);
        for (path, want) in checks {
            let Ok(meta) = std::fs::metadata(path) else {
                break;
            };
            if may(who, &meta, want) {
                continue;
            }
            if !out.iter().any(|u| u.blocked == path) {
                out.push(Unreadable {
                    needed: file.clone(),
                    blocked: path.to_owned(),
                    is_dir: want == SEARCH,
                    uid: meta.uid(),
                    gid: meta.gid(),
                    mode: meta.mode(),
                });
            }
            break;
        }
    }
    out
}

/// Whether `who` has the `want` permission bit (4 read, 1 search) on a file
/// with `meta`, by the owner/group/other classes (the first that matches
/// decides, as the kernel does). webd holds no capabilities after its drop,
/// so nothing overrides the bits.
fn may(who: &Identity, meta: &std::fs::Metadata, want: u32) -> bool {
    let mode = meta.mode();
    let bits = if meta.uid() == who.uid {
        mode >> 6
    } else if meta.gid() == who.gid || who.groups.contains(&meta.gid()) {
        mode >> 3
    } else {
        mode
    };
    bits & want != 0
}

/// How long `--check-config` waits for each step of ledd's handshake.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Becomes `who` (when given; needs root), then connects to ledd's socket
/// and says `Hello`, as webd would after its privilege drop. Run in a
/// process of its own (`webd --check-config` starts one): the switch of
/// user cannot be undone.
pub fn probe_ledd_as(
    socket: &Path,
    who: Option<&Identity>,
) -> Result<tinsel_proto::Welcome, String> {
    if let Some(who) = who {
        tinsel_sandbox::ids::switch_to(who)
            .map_err(|e| format!("cannot become uid {} gid {}: {e}", who.uid, who.gid))?;
    }
    crate::ledd_client::probe(socket, PROBE_TIMEOUT).map_err(|e: Unreachable| e.explain(socket))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn a_new_token_matches_its_config_line() {
        let t = new_token("ifttt", &["color".into()], false).unwrap();
        assert_eq!(t.secret.len(), 43, "32 bytes in base64url");
        let text = format!(
            "ledd_socket = \"s\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n[hooks.color]\nanimation = \"solid\"\n{}",
            t.config
        );
        let c = Config::parse(&text, Path::new("webd.toml")).unwrap();
        let found = crate::http::auth::find_bearer(&c.tokens, &t.secret).unwrap();
        assert_eq!(found.name, "ifttt");
        assert!(
            !t.config.contains(&t.secret),
            "the config must not hold the token"
        );
        assert_ne!(new_token("x", &[], false).unwrap().secret, t.secret);
    }

    #[test]
    fn signed_tokens_store_the_key() {
        let t = new_token("gh", &[], true).unwrap();
        assert!(t.config.contains(&t.secret));
        let text = format!(
            "ledd_socket = \"s\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n{}",
            t.config
        );
        assert!(Config::parse(&text, Path::new("webd.toml")).is_ok());
    }

    #[test]
    fn names_are_checked() {
        assert!(matches!(
            new_token("a b", &[], false),
            Err(CliError::BadName(_))
        ));
        assert!(matches!(
            new_token("a\"", &[], false),
            Err(CliError::BadName(_))
        ));
        assert!(matches!(
            new_token("a", &["X".into()], false),
            Err(CliError::BadHook(_))
        ));
    }

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

    #[test]
    fn files_webds_user_cannot_reread_are_named_with_owner_mode_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let meta = std::fs::metadata(dir.path()).unwrap();
        let (owner, group) = (meta.uid(), meta.gid());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let key = dir.path().join("privkey.pem");
        std::fs::write(&key, "k").unwrap();
        // Someone else in the file's group, and a stranger.
        let member = Identity {
            uid: owner.wrapping_add(1000),
            gid: group,
            groups: vec![],
        };
        let stranger = Identity::from_ids(owner.wrapping_add(1000), group.wrapping_add(1000));

        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let found = unreadable_on_reload(&[&key], &member);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].blocked, key);
        let text = found[0].explain("tinsel-web", "tinsel");
        assert!(text.contains(&key.display().to_string()), "{text}");
        assert!(text.contains("mode 0600"), "{text}");
        assert!(
            text.contains(&format!("owner uid {owner} gid {group}")),
            "{text}"
        );
        assert!(
            text.contains("chown root:tinsel") && text.contains("chmod 0640"),
            "{text}"
        );

        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(unreadable_on_reload(&[&key], &member).is_empty());
        assert_eq!(unreadable_on_reload(&[&key], &stranger).len(), 1);

        // A directory the user cannot enter blocks the file inside it.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let found = unreadable_on_reload(&[&key], &member);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].is_dir);
        assert_eq!(found[0].blocked, dir.path());
        assert!(found[0].explain("u", "g").contains("chmod g+x"));
    }
}
