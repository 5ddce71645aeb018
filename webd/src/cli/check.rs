//! What `webd --check-config` adds to parsing: the certificate and key,
//! the client CA, how many days the certificate has left (an expired one
//! fails the check),
//! whether webd's user can re-read its files on reload
//! ([`unreadable_on_reload`]), and which role ledd gives that user
//! ([`reach_ledd`], run in a child, `webd probe-ledd`, that becomes the
//! user first).

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::daemon::LEDD_PEER;
use tinsel_daemon::exit::Exit;
use tinsel_daemon::start::StartFailure as _;
use tinsel_sandbox::ids::Identity;

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

/// `webd --check-config FILE`: exits 0, or 78 naming the key (69, 70 or
/// 77 for a certificate or key that cannot be used).
pub fn run(path: &Path) -> Exit {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("webd: {e}");
            return crate::daemon::StartError::from(e).exit();
        }
    };
    let who = match config.common.start_identity() {
        Ok(who) => who,
        Err(e) => {
            eprintln!("webd: {e}");
            return Exit::Config;
        }
    };
    let resumption = match crate::tls::Resumption::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("webd: {e}");
            return Exit::Internal;
        }
    };
    let checked = if crate::tls::is_absent_credential(&config.tls.key) {
        // The packaged unit hands the key in with LoadCredential=: it exists
        // only inside webd.service. Check what can be checked here.
        crate::tls::check_certificate(&config.tls.cert)
            .and_then(|_| check_client_ca(&config))
            .map(|_| {
                println!(
                    "{}: a systemd credential, present only inside the service: `systemctl restart webd` loads it, and `journalctl -u webd` says if it is wrong",
                    config.tls.key.display()
                );
            })
    } else {
        crate::tls::load(&config.tls, &config.client_auth, &resumption).map(drop)
    };
    if let Err(e) = checked {
        eprintln!("webd: {e}");
        return crate::daemon::StartError::from(e).exit();
    }
    if let Err(exit) = check_expiry(&config.tls.cert) {
        return exit;
    }
    if let Some(ca) = config.client_auth.ca() {
        println!(
            "{}: client certificates {} (tls.client_cert), signed by this CA",
            ca.display(),
            config.client_auth.mode()
        );
    }
    println!(
        "{}: OK ({} token(s), {} hook(s); certificate {})",
        path.display(),
        config.tokens.len(),
        config.hooks.len(),
        config.tls.cert.display()
    );
    if config.page.enabled {
        println!("{}", page_summary(&config));
    }
    if let Some(who) = &who {
        for warning in reload_warnings(&config, who) {
            eprintln!("webd: warning: {warning}");
        }
    }
    tinsel_daemon::probe::check_ledd(LEDD_PEER, &config.common);
    Exit::Ok
}

/// What `--check-config` says about the page (`[page] enabled = true`):
/// where its devices live and how many are paired.
pub fn page_summary(config: &Config) -> String {
    let dir = &config.page.devices_dir;
    if !dir.is_dir() {
        return format!(
            "page on: {} does not exist yet; webd creates it at start (the packaged unit: StateDirectory=tinsel/webd), then pair a phone with `webd pair --name NAME`",
            dir.display()
        );
    }
    match crate::devices::Store::new(dir).devices() {
        Ok(d) => format!(
            "page on: {} device(s) paired in {} (at most {})",
            d.len(),
            dir.display(),
            config.page.max_devices
        ),
        Err(e) => format!(
            "page on: devices in {}, which cannot be listed: {e}",
            dir.display()
        ),
    }
}

/// The client CA, read and turned into a verifier as the daemon would.
fn check_client_ca(config: &Config) -> Result<(), crate::tls::TlsError> {
    let Some(ca) = config.client_auth.ca() else {
        return Ok(());
    };
    let pem = std::fs::read(ca).map_err(|source| crate::tls::TlsError::ClientCaRead {
        path: ca.to_owned(),
        source,
    })?;
    crate::tls::client_verifier(&config.client_auth, ca, &pem).map(drop)
}

/// Prints how long the certificate in `cert` has left; a warning within
/// [`crate::tls::EXPIRY_WARNING_DAYS`], and exit 78 once expired: a check
/// is run before relying on a config, and no client accepts an expired
/// certificate.
fn check_expiry(cert: &Path) -> Result<(), Exit> {
    let now = std::time::SystemTime::now();
    let expiry = match crate::tls::expiry(cert) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("webd: warning: cannot read the certificate's expiry date: {e}");
            return Ok(());
        }
    };
    println!("{}: certificate {}", cert.display(), expiry.describe(now));
    match expiry.warning(cert, now) {
        Some(w) if expiry.expired(now) => {
            eprintln!("webd: error: {w}");
            Err(Exit::Config)
        }
        Some(w) => {
            eprintln!("webd: warning: {w}");
            Ok(())
        }
        None => Ok(()),
    }
}

/// A warning, with its fix, for each file webd re-reads on SIGHUP that
/// `who` (webd's user) could not.
pub fn reload_warnings(config: &Config, who: &Identity) -> Vec<String> {
    let user = config.common.user.as_deref().unwrap_or("?");
    reload_blockers(config, who)
        .iter()
        .map(|u| u.explain(user, &group_name(config, who)))
        .collect()
}

/// The files webd re-reads on SIGHUP that `who` could not.
fn reload_blockers(config: &Config, who: &Identity) -> Vec<Unreadable> {
    let mut files = vec![config.path.as_path(), &config.tls.cert, &config.tls.key];
    files.extend(config.client_auth.ca());
    unreadable_on_reload(&files, who)
}

/// webd's group by name for the fix in a warning, or its number.
fn group_name(config: &Config, who: &Identity) -> String {
    config
        .common
        .group
        .clone()
        .unwrap_or_else(|| who.gid.to_string())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

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
