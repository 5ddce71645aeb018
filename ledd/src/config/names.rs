//! User and group names (`socket_group`, `[access]`) resolved to ids, by
//! `tinsel_sandbox::ids`: from `/etc/passwd` and `/etc/group`, never
//! through NSS (which may load modules, or open `AF_UNIX` sockets that
//! ledd's seccomp filter kills on a SIGHUP reload). A name only NSS knows
//! (LDAP, systemd-userdb) is given as its numeric id.

use tinsel_sandbox::ids::{self, files};

use super::ConfigError;
use super::validate::Validator;

/// A user given by name or by numeric id.
fn resolve_user(name: &str) -> Option<u32> {
    if let Ok(uid) = name.parse::<u32>() {
        return Some(uid);
    }
    ids::user_id(name).ok().flatten()
}

/// A group given by name or by numeric id.
pub(super) fn resolve_group(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Some(gid);
    }
    ids::group_id(name).ok().flatten()
}

/// The end of a "no such user/group" message.
fn unknown_name_hint(id: &str) -> String {
    format!(
        "not in {} or {}: create it, use a numeric {id}, or remove it",
        files::PASSWD,
        files::GROUP
    )
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
