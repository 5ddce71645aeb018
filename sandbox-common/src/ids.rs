//! Dropping root for good: supplementary groups, then gid, then uid, then a
//! proof that the change cannot be undone.
//!
//! Names are resolved to numbers by [`Identity::from_names`] *before* the
//! sandbox (NSS may read files, open sockets or load modules); the drop
//! itself only uses numbers.

use std::ffi::{CStr, CString};
use std::io;

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

fn call(call: &'static str) -> IdError {
    IdError::Call {
        call,
        source: io::Error::last_os_error(),
    }
}

impl Identity {
    /// Resolve `user` (and `group`, default: the user's primary group) with
    /// the system's NSS, including the user's supplementary groups. Call this
    /// before sandboxing.
    pub fn from_names(user: &str, group: Option<&str>) -> Result<Identity, IdError> {
        let cuser = CString::new(user).map_err(|_| IdError::BadName(user.to_owned()))?;
        let (uid, user_gid) =
            lookup_user(&cuser)?.ok_or_else(|| IdError::NoSuchUser(user.to_owned()))?;
        let gid = match group {
            Some(g) => {
                let cg = CString::new(g).map_err(|_| IdError::BadName(g.to_owned()))?;
                lookup_group(&cg)?.ok_or_else(|| IdError::NoSuchGroup(g.to_owned()))?
            }
            None => user_gid,
        };
        let groups = group_list(&cuser, gid)?;
        Ok(Identity { uid, gid, groups })
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
    let cname = CString::new(name).map_err(|_| IdError::BadName(name.to_owned()))?;
    lookup_group(&cname)
}

fn buf_len() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_GETPW_R_SIZE_MAX) };
    usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(16 * 1024)
}

fn lookup_user(name: &CStr) -> Result<Option<(libc::uid_t, libc::gid_t)>, IdError> {
    let mut len = buf_len();
    loop {
        let mut buf = vec![0 as libc::c_char; len];
        // SAFETY: passwd is plain old data; zeroed is a valid value.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: all pointers are to live locals; `buf` has `len` bytes.
        let rc = unsafe {
            libc::getpwnam_r(name.as_ptr(), &mut pwd, buf.as_mut_ptr(), len, &mut result)
        };
        if rc == libc::ERANGE && len < (1 << 20) {
            len *= 2;
            continue;
        }
        if rc != 0 {
            return Err(IdError::Call {
                call: "getpwnam_r",
                source: io::Error::from_raw_os_error(rc),
            });
        }
        return Ok((!result.is_null()).then_some((pwd.pw_uid, pwd.pw_gid)));
    }
}

fn lookup_group(name: &CStr) -> Result<Option<libc::gid_t>, IdError> {
    let mut len = buf_len();
    loop {
        let mut buf = vec![0 as libc::c_char; len];
        // SAFETY: group is plain old data; zeroed is a valid value.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: all pointers are to live locals; `buf` has `len` bytes.
        let rc = unsafe {
            libc::getgrnam_r(name.as_ptr(), &mut grp, buf.as_mut_ptr(), len, &mut result)
        };
        if rc == libc::ERANGE && len < (1 << 20) {
            len *= 2;
            continue;
        }
        if rc != 0 {
            return Err(IdError::Call {
                call: "getgrnam_r",
                source: io::Error::from_raw_os_error(rc),
            });
        }
        return Ok((!result.is_null()).then_some(grp.gr_gid));
    }
}

fn group_list(user: &CStr, gid: libc::gid_t) -> Result<Vec<libc::gid_t>, IdError> {
    let mut n: libc::c_int = 32;
    loop {
        let mut groups = vec![0 as libc::gid_t; n as usize];
        let mut count = n;
        // SAFETY: `groups` has room for `count` entries; getgrouplist writes
        // at most that many and updates `count`.
        let rc = unsafe { libc::getgrouplist(user.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            groups.truncate(count as usize);
            return Ok(groups);
        }
        if count <= n || n > 65536 {
            return Err(IdError::Call {
                call: "getgrouplist",
                source: io::Error::other("group list keeps growing"),
            });
        }
        n = count;
    }
}

/// `(real, effective, saved)` user ids.
pub fn resuid() -> (libc::uid_t, libc::uid_t, libc::uid_t) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: three pointers to live locals.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// `(real, effective, saved)` group ids.
pub fn resgid() -> (libc::gid_t, libc::gid_t, libc::gid_t) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: three pointers to live locals.
    unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// Become `who`: `setgroups` → `setresgid` → `setresuid` (in that order:
/// after the uid change the process may no longer change its groups).
/// Then check the result with `getresuid`/`getresgid`.
pub fn switch_to(who: &Identity) -> Result<(), IdError> {
    if who.uid == 0 || who.gid == 0 {
        return Err(IdError::TargetIsRoot);
    }
    // SAFETY: `groups` is a live slice of `len` gids.
    if unsafe { libc::setgroups(who.groups.len(), who.groups.as_ptr()) } != 0 {
        return Err(call("setgroups"));
    }
    // SAFETY: plain integer arguments.
    if unsafe { libc::setresgid(who.gid, who.gid, who.gid) } != 0 {
        return Err(call("setresgid"));
    }
    // SAFETY: plain integer arguments.
    if unsafe { libc::setresuid(who.uid, who.uid, who.uid) } != 0 {
        return Err(call("setresuid"));
    }
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
    // SAFETY: plain integer arguments.
    if unsafe { libc::setresuid(0, 0, 0) } == 0 {
        return Err(IdError::Reversible(uid));
    }
    // SAFETY: plain integer arguments.
    if unsafe { libc::setresgid(0, 0, 0) } == 0 {
        return Err(IdError::Reversible(uid));
    }
    Ok(())
}
