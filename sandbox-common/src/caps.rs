//! Capabilities and no_new_privs.
//!
//! JUSTIFICATION for raw `libc` instead of the `caps` crate: `caps` knows a
//! fixed list of capabilities (the ones its release knew), so on a newer
//! kernel it would leave the newest ones in the bounding set. Here the
//! bounding set is dropped by probing `PR_CAPBSET_READ` up to the first
//! `EINVAL`, which covers every capability the running kernel has.
//!
//! # Ordering (why the bounding set goes first)
//!
//! `PR_CAPBSET_DROP` needs `CAP_SETPCAP` in the effective set. When a root
//! process switches to a non-zero uid, the kernel clears its permitted and
//! effective sets (and the ambient set), so after `setresuid` it can no
//! longer drop anything from the bounding set. Hence: drop the bounding set
//! and clear ambient **while still root**, then change ids, then clear what
//! the uid change does not (the inheritable set), then set no_new_privs.
//! Capability state is per thread: all of this must happen before any other
//! thread exists.
//!
//! # Started without capabilities
//!
//! An ordinary user's process holds no capability: nothing to drop, and
//! `PR_CAPBSET_DROP` would fail with `EPERM`. Its bounding set stays as
//! inherited, which gives nothing: a process can only gain a capability
//! from the bounding set through `execve` of a setuid or file-capability
//! binary, and no_new_privs (set right after) turns that off.
//! [`drop_all_but`] tells the three start states apart: holding nothing
//! (done), holding `CAP_SETPCAP` (the strict drop above), and holding some
//! capabilities but not `CAP_SETPCAP` (an error: the bounding set cannot be
//! dropped, and the capabilities came from somewhere that should say so).

use std::io;

/// One capability set, as a 64-bit mask (bit n = capability n).
pub type CapMask = u64;

/// `CAP_SETPCAP` (include/uapi/linux/capability.h): needed to drop from the
/// bounding set.
pub const CAP_SETPCAP: u32 = 8;

/// The effective, permitted and inheritable sets of the calling thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    /// Effective.
    pub effective: CapMask,
    /// Permitted.
    pub permitted: CapMask,
    /// Inheritable.
    pub inheritable: CapMask,
}

// _LINUX_CAPABILITY_VERSION_3 (include/uapi/linux/capability.h): two 32-bit words per set.
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn split(mask: CapMask) -> (u32, u32) {
    (mask as u32, (mask >> 32) as u32)
}

fn join(lo: u32, hi: u32) -> CapMask {
    u64::from(lo) | (u64::from(hi) << 32)
}

/// Read the calling thread's effective, permitted and inheritable sets (`capget`).
pub fn get() -> io::Result<CapSets> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget with version 3 writes exactly two `CapData` structs,
    // which `data` provides; both pointers are to live locals.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// Set the calling thread's effective, permitted and inheritable sets (`capset`).
pub fn set(sets: CapSets) -> io::Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let (e0, e1) = split(sets.effective);
    let (p0, p1) = split(sets.permitted);
    let (i0, i1) = split(sets.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: capset with version 3 reads exactly two `CapData` structs from
    // `data`; both pointers are to live locals.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: every option used in this module takes integer arguments only
    // (no pointers), so any value is memory-safe.
    let rc = unsafe {
        libc::prctl(
            option,
            arg2,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Whether capability `cap` is in the calling thread's bounding set;
/// `None` when the kernel does not know `cap`.
pub fn in_bounding_set(cap: u32) -> io::Result<Option<bool>> {
    match prctl(libc::PR_CAPBSET_READ, cap.into()) {
        Ok(v) => Ok(Some(v == 1)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The bounding set as a mask, probing every capability the kernel knows.
pub fn bounding_set() -> io::Result<CapMask> {
    let mut mask = 0;
    for cap in 0..64 {
        match in_bounding_set(cap)? {
            Some(true) => mask |= 1 << cap,
            Some(false) => {}
            None => break,
        }
    }
    Ok(mask)
}

/// Drop every capability not in `keep` from the bounding set. Needs
/// `CAP_SETPCAP`: call while still root, before changing uid.
pub fn drop_bounding_set(keep: CapMask) -> io::Result<()> {
    for cap in 0..64u32 {
        match in_bounding_set(cap)? {
            None => break,
            Some(false) => {}
            Some(true) if keep & (1 << cap) != 0 => {}
            Some(true) => {
                prctl(libc::PR_CAPBSET_DROP, cap.into())?;
            }
        }
    }
    Ok(())
}

/// Clear the ambient set (`PR_CAP_AMBIENT_CLEAR_ALL`; needs no privilege).
pub fn clear_ambient() -> io::Result<()> {
    // SAFETY: PR_CAP_AMBIENT takes integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the ambient set is empty: `PR_CAP_AMBIENT_IS_SET` for every
/// capability the kernel knows.
pub fn ambient_is_empty() -> io::Result<bool> {
    for cap in 0..64u32 {
        // SAFETY: PR_CAP_AMBIENT takes integer arguments only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong,
                libc::c_ulong::from(cap),
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        match rc {
            0 => {}
            1 => return Ok(false),
            _ => {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINVAL) {
                    break;
                }
                return Err(e);
            }
        }
    }
    Ok(true)
}

/// Reduce effective, permitted and inheritable to `keep` (lowering is always
/// allowed). With `keep == 0` the thread holds no capability at all.
pub fn restrict_sets(keep: CapMask) -> io::Result<()> {
    let now = get()?;
    set(CapSets {
        effective: now.permitted & keep,
        permitted: now.permitted & keep,
        inheritable: 0,
    })
}

/// Set `PR_SET_NO_NEW_PRIVS`: execve can no longer grant privileges
/// (setuid bits, file capabilities), and seccomp/Landlock may be installed
/// without CAP_SYS_ADMIN. Irreversible, inherited by children and by threads
/// created afterwards.
pub fn set_no_new_privs() -> io::Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1).map(|_| ())
}

/// Whether no_new_privs is set on the calling thread.
pub fn no_new_privs() -> io::Result<bool> {
    prctl(libc::PR_GET_NO_NEW_PRIVS, 0).map(|v| v == 1)
}

/// What [`drop_all_but`] found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The process held capabilities including `CAP_SETPCAP` (root): the
    /// bounding set, ambient, effective, permitted and inheritable sets now
    /// hold no more than `keep`.
    All,
    /// The process held no capability at all (an ordinary user): nothing
    /// was dropped, and the bounding set stays as inherited (`bounding`).
    /// Harmless once no_new_privs is set; see the module docs.
    NothingHeld {
        /// The bounding set left in place.
        bounding: CapMask,
    },
}

/// Why [`drop_all_but`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DropError {
    /// Some capabilities are held, but not `CAP_SETPCAP`, so the bounding
    /// set cannot be dropped: neither root nor an ordinary process.
    #[error(
        "holding {} but not CAP_SETPCAP, so the capability bounding set cannot be dropped: start as root, or with no capabilities at all (remove file capabilities: setcap -r; under systemd, drop AmbientCapabilities= or add CAP_SETPCAP to CapabilityBoundingSet= and AmbientCapabilities=)",
        describe(*held)
    )]
    Partial {
        /// What the process held (effective | permitted | inheritable).
        held: CapMask,
    },
    /// A system call failed.
    #[error("{step} failed: {source}")]
    Call {
        /// Which step.
        step: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Capabilities are still held after dropping them.
    #[error("capabilities still held after dropping them: {0:?}")]
    StillHeld(CapSets),
}

fn step(step: &'static str) -> impl FnOnce(io::Error) -> DropError {
    move |source| DropError::Call { step, source }
}

/// Drop every capability of the calling thread except `keep`, in the order
/// the module docs give (bounding set first), and verify with `capget`.
///
/// - Holding nothing (an ordinary user): returns [`Dropped::NothingHeld`]
///   without touching the bounding set.
/// - Holding `CAP_SETPCAP` (root): the strict drop; [`Dropped::All`].
/// - Holding some capabilities without `CAP_SETPCAP` while the bounding set
///   has more than `keep`: [`DropError::Partial`], before changing anything.
pub fn drop_all_but(keep: CapMask) -> Result<Dropped, DropError> {
    let now = get().map_err(step("capget"))?;
    let held = now.effective | now.permitted | now.inheritable;
    // The ambient set is a subset of permitted: empty when `held` is.
    if held == 0 {
        return Ok(Dropped::NothingHeld {
            bounding: bounding_set().map_err(step("reading the bounding set"))?,
        });
    }
    let bounding = bounding_set().map_err(step("reading the bounding set"))?;
    if bounding & !keep != 0 && now.effective & (1 << CAP_SETPCAP) == 0 {
        return Err(DropError::Partial { held });
    }
    drop_bounding_set(keep).map_err(step("dropping the bounding set (PR_CAPBSET_DROP)"))?;
    clear_ambient().map_err(step("clearing the ambient set"))?;
    restrict_sets(keep).map_err(step("capset"))?;
    let after = get().map_err(step("capget"))?;
    if after.effective & !keep != 0 || after.permitted & !keep != 0 || after.inheritable != 0 {
        return Err(DropError::StillHeld(after));
    }
    Ok(Dropped::All)
}

/// A readable list of the capability numbers in `mask`, e.g. `"cap 12, cap 21"`.
pub fn describe(mask: CapMask) -> String {
    if mask == 0 {
        return "none".to_owned();
    }
    (0..64)
        .filter(|c| mask & (1 << c) != 0)
        .map(|c| format!("cap {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
