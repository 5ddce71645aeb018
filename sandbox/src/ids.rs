//! Dropping root for good: supplementary groups, then gid, then uid, then a
//! proof that the change cannot be undone.
//!
//! Names are resolved to numbers by [`Identity::from_names`] *before* the
//! sandbox (NSS may read files, open sockets or load modules); the drop
//! itself only uses numbers.

use std::ffi::CString;
use std::io;

use nix::unistd::{self, Gid, Group, Uid, User};

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
    #[error("no user named {0:?} (check the `user` setting, or create the account)")]
    NoSuchUser(String),
    /// No such group.
    #[error("no group named {0:?} (check the `group` setting)")]
    NoSuchGroup(String),
    /// Name contains a NUL byte.
    #[error("user or group name {0:?} contains a NUL byte")]
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
    /// Resolve `user` (and `group`, default: the user's primary group) with
    /// the system's NSS, including the user's supplementary groups. Call this
    /// before sandboxing.
    pub fn from_names(user: &str, group: Option<&str>) -> Result<Identity, IdError> {
        let cuser = CString::new(user).map_err(|_| IdError::BadName(user.to_owned()))?;
        let found = User::from_name(user)
            .map_err(call("getpwnam_r"))?
            .ok_or_else(|| IdError::NoSuchUser(user.to_owned()))?;
        let gid = match group {
            Some(g) => group_id(g)?.ok_or_else(|| IdError::NoSuchGroup(g.to_owned()))?,
            None => found.gid.as_raw(),
        };
        let groups = unistd::getgrouplist(&cuser, Gid::from_raw(gid))
            .map_err(call("getgrouplist"))?
            .into_iter()
            .map(Gid::as_raw)
            .collect();
        Ok(Identity {
            uid: found.uid.as_raw(),
            gid,
            groups,
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

/// The id of the group named `name`, resolved with the system's NSS;
/// `None` when there is no such group.
pub fn group_id(name: &str) -> Result<Option<libc::gid_t>, IdError> {
    if name.contains('\0') {
        return Err(IdError::BadName(name.to_owned()));
    }
    let group = Group::from_name(name).map_err(call("getgrnam_r"))?;
    Ok(group.map(|g| g.gid.as_raw()))
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
