//! User and group names (`socket_group`, `[access]`) resolved to ids.
//!
//! Until ledd hardens, names go through the system's NSS with
//! `tinsel_sandbox::ids`, the workspace's user and group resolver. From
//! then on (SIGHUP reloads) they are read from `/etc/passwd` and
//! `/etc/group` by the small reader below, never through NSS: NSS may open
//! `AF_UNIX` sockets (glibc's nscd client, `libnss_systemd`'s userdb,
//! `sss`), which ledd's seccomp filter kills, while reading a file stays
//! allowed. That is why ledd keeps a reader of its own.

use std::sync::atomic::{AtomicBool, Ordering};

use tinsel_sandbox::ids::{self, Identity};

use super::ConfigError;
use super::validate::Validator;

/// Set once ledd is about to harden: from then on names are looked up in
/// [`PASSWD`] and [`GROUP`] only, never through NSS.
static NAMES_FROM_FILES_ONLY: AtomicBool = AtomicBool::new(false);
/// The user database read after hardening.
pub const PASSWD: &str = "/etc/passwd";
/// The group database read after hardening.
pub const GROUP: &str = "/etc/group";

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

/// The id (third field) of `name` in a `passwd` or `group` file's text.
fn id_in_database(text: &str, name: &str) -> Option<u32> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.trim().parse().ok()
    })
}

fn id_in_file(path: &str, name: &str) -> Option<u32> {
    id_in_database(&std::fs::read_to_string(path).ok()?, name)
}

/// A user given by name or by numeric id.
fn resolve_user(name: &str) -> Option<u32> {
    if let Ok(uid) = name.parse::<u32>() {
        return Some(uid);
    }
    if files_only() {
        return id_in_file(PASSWD, name);
    }
    // `ids` has no uid-only lookup; the user's groups it also resolves are
    // not used.
    Identity::from_names(name, None).ok().map(|who| who.uid)
}

/// A group given by name or by numeric id.
pub(super) fn resolve_group(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Some(gid);
    }
    if files_only() {
        return id_in_file(GROUP, name);
    }
    ids::group_id(name).ok().flatten()
}

/// The end of a "no such user/group" message.
fn unknown_name_hint(id: &str) -> String {
    if files_only() {
        format!(
            "not in {PASSWD} or {GROUP}: a running ledd resolves names from these files only (NSS is out of reach once it is hardened); use a numeric {id}, or restart ledd"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_from_the_database_files() {
        let passwd = "# a comment\nroot:x:0:0:root:/root:/bin/sh\n\
                      tinsel-web:x:998:997::/nonexistent:/usr/sbin/nologin\nbroken\nodd:x:notanumber:1::/:/bin/sh\n";
        assert_eq!(id_in_database(passwd, "root"), Some(0));
        assert_eq!(id_in_database(passwd, "tinsel-web"), Some(998));
        assert_eq!(id_in_database(passwd, "tinsel"), None, "whole names only");
        assert_eq!(id_in_database(passwd, "odd"), None);
        assert_eq!(id_in_database(passwd, "broken"), None);
        let group = "tinsel:x:997:tinsel-web,pi\n";
        assert_eq!(id_in_database(group, "tinsel"), Some(997));
        assert_eq!(id_in_database(group, "pi"), None, "members are not groups");
        // The real files agree with NSS for local names.
        assert_eq!(id_in_file(PASSWD, "root"), Some(0));
        assert_eq!(id_in_file(GROUP, "root"), Some(0));
    }
}
