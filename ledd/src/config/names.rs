//! User and group names (`socket_group`, `[access]`) resolved to ids.
//!
//! Until ledd hardens, names go through `tinsel_sandbox::ids`, the
//! workspace's user and group resolver (`/etc/passwd` and `/etc/group`,
//! then NSS). From then on (SIGHUP reloads) only its files reader is used,
//! never NSS: NSS may open `AF_UNIX` sockets (glibc's nscd client,
//! `libnss_systemd`'s userdb, `sss`), which ledd's seccomp filter kills,
//! while reading a file stays allowed.

use std::sync::atomic::{AtomicBool, Ordering};

use tinsel_sandbox::ids::{self, files};

use super::ConfigError;
use super::validate::Validator;

/// Set once ledd is about to harden: from then on names are looked up in
/// `/etc/passwd` and `/etc/group` only, never through NSS.
static NAMES_FROM_FILES_ONLY: AtomicBool = AtomicBool::new(false);

/// From now on, resolve user and group names (SIGHUP reloads) from
/// `/etc/passwd` and `/etc/group` only. ledd calls this before hardening:
/// NSS may open `AF_UNIX` sockets (glibc's nscd client, `libnss_systemd`'s
/// userdb, `sss`), which the seccomp filter kills, while reading a file
/// stays allowed. Names only NSS knows (LDAP, systemd-userdb) then need a
/// numeric id in the config, or a restart.
pub fn resolve_names_from_files_only() {
    NAMES_FROM_FILES_ONLY.store(true, Ordering::SeqCst);
}

fn files_only() -> bool {
    NAMES_FROM_FILES_ONLY.load(Ordering::SeqCst)
}

/// A user given by name or by numeric id.
fn resolve_user(name: &str) -> Option<u32> {
    if let Ok(uid) = name.parse::<u32>() {
        return Some(uid);
    }
    if files_only() {
        return files::user(name).map(|(uid, _)| uid);
    }
    ids::user_id(name).ok().flatten()
}

/// A group given by name or by numeric id.
pub(super) fn resolve_group(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Some(gid);
    }
    if files_only() {
        return files::group_id(name);
    }
    ids::group_id(name).ok().flatten()
}

/// The end of a "no such user/group" message.
fn unknown_name_hint(id: &str) -> String {
    if files_only() {
        format!(
            "not in {} or {}: a running ledd resolves names from these files only (NSS is out of reach once it is hardened); use a numeric {id}, or restart ledd",
            files::PASSWD,
            files::GROUP
        )
    } else {
        format!("create it, use a numeric {id}, or remove it")
    }
}

/// Who a list of names or ids under a key names: users or groups.
#[derive(Clone, Copy)]
pub(super) enum Id {
    User,
    Group,
}

impl Validator<'_> {
    /// Resolves every name under `key` to its id, refusing the first
    /// unknown one.
    pub(super) fn ids(
        &self,
        names: &[String],
        id: Id,
        key: &'static str,
    ) -> Result<Vec<u32>, ConfigError> {
        let (resolve, what, hint): (fn(&str) -> Option<u32>, _, _) = match id {
            Id::User => (resolve_user, "user", "uid"),
            Id::Group => (resolve_group, "group", "gid"),
        };
        names
            .iter()
            .map(|n| {
                resolve(n).ok_or_else(|| {
                    self.invalid(
                        key,
                        format!("{n:?}"),
                        format!("no such {what}: {}", unknown_name_hint(hint)),
                    )
                })
            })
            .collect()
    }
}
