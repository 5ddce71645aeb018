//! Dropping root for good: supplementary groups, then gid, then uid, then a
//! proof that the change cannot be undone.
//!
//! Names are resolved to numbers by [`Identity::from_names`] *before* the
//! sandbox; the drop itself only uses numbers.
//!
//! Names are looked up in `/etc/passwd` and `/etc/group` (the [`files`]
//! reader), never through the system's NSS. The package's users (sysusers)
//! are always in these files. NSS would load modules (`libnss_systemd`,
//! `sss`, LDAP): in a static binary, as tinsel's daemons ship, loading one
//! maps a second, whole C library (about 1.8 MiB of resident memory for one
//! lookup) and can crash the process outright (glibc's static `dlopen` of
//! `libnss_systemd` segfaults on a name it does not know). It may also open
//! sockets, which a hardened daemon's seccomp filter kills. An account that
//! only NSS knows (LDAP, systemd-userdb) is named by its numeric id where a
//! setting takes one.

use std::io;

use nix::unistd::{self, Gid, Uid};

/// Who to become: uid, primary gid and the supplementary groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user id (never 0).
    pub uid: libc::uid_t,
    /// The primary group id.
    pub gid: libc::gid_t,
    /// Supplementary groups; may be empty (then the process keeps none).
    pub groups: Vec<libc::gid_t>,
}

/// Why a name could not be resolved, or the drop failed.
#[derive(Debug, thiserror::Error)]
pub enum IdError {
    /// No such user.
    #[error("no user named {0:?} in /etc/passwd (check the `user` setting, or create the account)")]
    NoSuchUser(String),
    /// No such group.
    #[error("no group named {0:?} in /etc/group (check the `group` setting)")]
    NoSuchGroup(String),
    /// Name contains a NUL byte, a colon or a newline.
    #[error("user or group name {0:?} contains a NUL byte, a colon or a newline")]
    BadName(String),
    /// The target is root: nothing would be dropped.
    #[error("refusing to 'drop' to uid 0 / gid 0: configure an unprivileged user")]
    TargetIsRoot,
    /// A system call failed.
    #[error("{call} failed: {source}")]
    Call {
        /// Which call.
        call: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// After the drop, the ids are not what was asked for.
    #[error("after dropping privileges the ids are {found}, expected uid {uid} gid {gid}")]
    NotDropped {
        /// What getresuid/getresgid report.
        found: String,
        /// Expected uid.
        uid: libc::uid_t,
        /// Expected gid.
        gid: libc::gid_t,
    },
    /// `setresuid(0, 0, 0)` succeeded after the drop.
    #[error("privilege drop is reversible: setresuid(0, 0, 0) succeeded after dropping to uid {0}")]
    Reversible(libc::uid_t),
}

fn call(call: &'static str) -> impl FnOnce(nix::Error) -> IdError {
    move |errno| IdError::Call {
        call,
        source: io::Error::from(errno),
    }
}

impl Identity {
    /// Resolve `user` (and `group`, default: the user's primary group) from
    /// `/etc/passwd` and `/etc/group`, with the user's supplementary groups
    /// (every group `/etc/group` lists the user in, as `getgrouplist` over
    /// the `files` source answers). Call this before sandboxing.
    pub fn from_names(user: &str, group: Option<&str>) -> Result<Identity, IdError> {
        check_name(user)?;
        let (uid, primary) =
            files::user(user).ok_or_else(|| IdError::NoSuchUser(user.to_owned()))?;
        // One read of the group file for the group and the user's groups.
        let groups_text = files::read(files::GROUP);
        let gid = match group {
            Some(g) => {
                check_name(g)?;
                files::group_in(&groups_text, g)
                    .ok_or_else(|| IdError::NoSuchGroup(g.to_owned()))?
            }
            None => primary,
        };
        Ok(Identity {
            uid,
            gid,
            groups: files::groups_in(&groups_text, user, gid),
        })
    }

    /// An identity from numbers, with no supplementary groups (e.g. 65534).
    pub fn from_ids(uid: libc::uid_t, gid: libc::gid_t) -> Identity {
        Identity {
            uid,
            gid,
            groups: Vec::new(),
        }
    }
}

fn check_name(name: &str) -> Result<(), IdError> {
    match name.contains(['\0', ':', '\n']) {
        true => Err(IdError::BadName(name.to_owned())),
        false => Ok(()),
    }
}

/// The id of the user named `name` in `/etc/passwd`; `None` when there is
/// no such user.
pub fn user_id(name: &str) -> Result<Option<libc::uid_t>, IdError> {
    check_name(name)?;
    Ok(files::user(name).map(|(uid, _)| uid))
}

/// The id of the group named `name` in `/etc/group`; `None` when there is
/// no such group.
pub fn group_id(name: &str) -> Result<Option<libc::gid_t>, IdError> {
    check_name(name)?;
    Ok(files::group_id(name))
}

/// The user and group databases read as files: `/etc/passwd` and
/// `/etc/group`. A hardened daemon may still use it (ledd's reload):
/// reading a file stays allowed.
pub mod files {
    /// The user database.
    pub const PASSWD: &str = "/etc/passwd";
    /// The group database.
    pub const GROUP: &str = "/etc/group";

    /// The entries of a `passwd` or `group` file's text, each as its
    /// fields (comments and NIS `+`/`-` lines skipped).
    fn entries(text: &str) -> impl Iterator<Item = Vec<&str>> {
        text.lines()
            .filter(|l| !l.starts_with(['#', '+', '-']))
            .map(|l| l.split(':').collect())
    }

    /// The fields of the entry named `name` (whole names only).
    fn entry<'a>(text: &'a str, name: &str) -> Option<Vec<&'a str>> {
        entries(text).find(|f| f.first() == Some(&name))
    }

    fn number(field: Option<&&str>) -> Option<u32> {
        field?.trim().parse().ok()
    }

    /// `(uid, primary gid)` of `name` in a `passwd` text.
    pub fn user_in(passwd: &str, name: &str) -> Option<(u32, u32)> {
        let f = entry(passwd, name)?;
        Some((number(f.get(2))?, number(f.get(3))?))
    }

    /// The gid of `name` in a `group` text.
    pub fn group_in(group: &str, name: &str) -> Option<u32> {
        number(entry(group, name)?.get(2))
    }

    /// `gid` first, then every group of a `group` text that lists `user`
    /// as a member, once each: what `getgrouplist(user, gid)` answers from
    /// the `files` source.
    pub fn groups_in(group: &str, user: &str, gid: u32) -> Vec<u32> {
        let mut groups = vec![gid];
        for f in entries(group) {
            let member = f
                .get(3)
                .is_some_and(|m| m.split(',').any(|m| m.trim() == user));
            match number(f.get(2)) {
                Some(id) if member && !groups.contains(&id) => groups.push(id),
                _ => {}
            }
        }
        groups
    }

    /// The text of a database file; an unreadable one is empty (no
    /// names in it).
    pub(super) fn read(path: &str) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// `(uid, primary gid)` of `name` in [`PASSWD`].
    pub fn user(name: &str) -> Option<(u32, u32)> {
        user_in(&read(PASSWD), name)
    }

    /// The gid of `name` in [`GROUP`].
    pub fn group_id(name: &str) -> Option<u32> {
        group_in(&read(GROUP), name)
    }
}

/// `(real, effective, saved)` user ids.
///
/// `getresuid(2)` fails only for a bad pointer (`EFAULT`), which `nix`'s
/// locals never are. Were it to fail, this reports root: callers then
/// attempt the drop and verify it, rather than skip it.
pub fn resuid() -> (libc::uid_t, libc::uid_t, libc::uid_t) {
    unistd::getresuid()
        .map(|r| (r.real.as_raw(), r.effective.as_raw(), r.saved.as_raw()))
        .unwrap_or((0, 0, 0))
}

/// `(real, effective, saved)` group ids (see [`resuid`] for the fallback).
pub fn resgid() -> (libc::gid_t, libc::gid_t, libc::gid_t) {
    unistd::getresgid()
        .map(|r| (r.real.as_raw(), r.effective.as_raw(), r.saved.as_raw()))
        .unwrap_or((0, 0, 0))
}

/// Become `who`: `setgroups` → `setresgid` → `setresuid` (in that order:
/// after the uid change the process may no longer change its groups).
/// Then check the result with `getresuid`/`getresgid`.
pub fn switch_to(who: &Identity) -> Result<(), IdError> {
    if who.uid == 0 || who.gid == 0 {
        return Err(IdError::TargetIsRoot);
    }
    let groups: Vec<Gid> = who.groups.iter().copied().map(Gid::from_raw).collect();
    unistd::setgroups(&groups).map_err(call("setgroups"))?;
    let gid = Gid::from_raw(who.gid);
    unistd::setresgid(gid, gid, gid).map_err(call("setresgid"))?;
    let uid = Uid::from_raw(who.uid);
    unistd::setresuid(uid, uid, uid).map_err(call("setresuid"))?;
    let u = resuid();
    let g = resgid();
    if u != (who.uid, who.uid, who.uid) || g != (who.gid, who.gid, who.gid) {
        return Err(IdError::NotDropped {
            found: format!("uid {u:?} gid {g:?}"),
            uid: who.uid,
            gid: who.gid,
        });
    }
    Ok(())
}

/// Prove the drop is irreversible: `setresuid(0, 0, 0)` and
/// `setresgid(0, 0, 0)` must fail (with `EPERM`).
pub fn prove_irreversible() -> Result<(), IdError> {
    let uid = resuid().0;
    let root_u = Uid::from_raw(0);
    if unistd::setresuid(root_u, root_u, root_u).is_ok() {
        return Err(IdError::Reversible(uid));
    }
    let root_g = Gid::from_raw(0);
    if unistd::setresgid(root_g, root_g, root_g).is_ok() {
        return Err(IdError::Reversible(uid));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::files::{group_in, groups_in, user_in};
    use super::*;

    const PASSWD: &str = "# a comment\nroot:x:0:0:root:/root:/bin/sh\n\
        tinsel-web:x:998:997::/nonexistent:/usr/sbin/nologin\nbroken\n\
        odd:x:notanumber:1::/:/bin/sh\n+nis-user:x:5000:5000::/:/bin/sh\n";
    const GROUP: &str = "tinsel:x:997:tinsel-web,pi\nvideo:x:44:pi, tinsel-web\n\
        gpio:x:993:pi\n-nis-group:x:6000:tinsel-web\nodd:x:x:tinsel-web\n";

    #[test]
    fn names_resolve_from_the_database_text() {
        assert_eq!(user_in(PASSWD, "root"), Some((0, 0)));
        assert_eq!(user_in(PASSWD, "tinsel-web"), Some((998, 997)));
        assert_eq!(user_in(PASSWD, "tinsel"), None, "whole names only");
        assert_eq!(user_in(PASSWD, "odd"), None);
        assert_eq!(user_in(PASSWD, "broken"), None);
        assert_eq!(
            user_in(PASSWD, "+nis-user"),
            None,
            "NIS lines are not users"
        );
        assert_eq!(group_in(GROUP, "tinsel"), Some(997));
        assert_eq!(group_in(GROUP, "pi"), None, "members are not groups");
    }

    #[test]
    fn supplementary_groups_are_the_given_one_then_every_group_listing_the_user() {
        assert_eq!(groups_in(GROUP, "tinsel-web", 997), vec![997, 44]);
        assert_eq!(groups_in(GROUP, "pi", 1000), vec![1000, 997, 44, 993]);
        assert_eq!(groups_in(GROUP, "nobody", 65534), vec![65534]);
        assert_eq!(
            groups_in(GROUP, "tinsel", 5),
            vec![5],
            "a group's name is not a member"
        );
    }

    #[test]
    fn local_names_resolve_as_nss_resolves_them() {
        // root is in the files on every system this runs on: the files
        // reader must agree with NSS (the C library's lookup) on it.
        let nss = nix::unistd::User::from_name("root").ok().flatten();
        assert_eq!(user_id("root").ok().flatten(), nss.map(|u| u.uid.as_raw()));
        assert_eq!(group_id("root").ok().flatten(), Some(0));
        let who = Identity::from_names("root", None).ok();
        let nss_groups = unistd::getgrouplist(c"root", Gid::from_raw(0))
            .map(|g| g.into_iter().map(Gid::as_raw).collect::<Vec<_>>())
            .ok();
        assert_eq!(who.map(|w| w.groups), nss_groups);
    }

    #[test]
    fn unknown_and_malformed_names_are_refused_without_a_lookup_elsewhere() {
        assert!(matches!(user_id("no-such-user-tinsel"), Ok(None)));
        assert!(matches!(group_id("no-such-group-tinsel"), Ok(None)));
        for bad in ["a\0b", "root:x", "root\n"] {
            assert!(matches!(user_id(bad), Err(IdError::BadName(_))), "{bad:?}");
            assert!(matches!(group_id(bad), Err(IdError::BadName(_))), "{bad:?}");
        }
        let e = Identity::from_names("no-such-user-tinsel", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no user named \"no-such-user-tinsel\" in /etc/passwd (check the `user` setting, or create the account)"
        );
        assert!(matches!(
            Identity::from_names("root", Some("no-such-group-tinsel")),
            Err(IdError::NoSuchGroup(_))
        ));
    }
}
