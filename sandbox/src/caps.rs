//! Capabilities and no_new_privs of the calling thread: the effective,
//! permitted, inheritable, ambient and bounding sets, the fail-closed drop
//! both daemons use, and the check of `/proc` that proves it.
//!
//! # The system calls come from `rustix::thread`
//!
//! `rustix` keeps a capability set as a 64-bit mask that retains bits it
//! has no name for (`CapabilitySet::from_bits_retain`), and its
//! `PR_CAPBSET_READ`/`PR_CAPBSET_DROP`/`PR_CAP_AMBIENT` wrappers take any
//! single bit. So every capability the running kernel has is covered,
//! including ones newer than the crate, with no `unsafe` here. (The `caps`
//! crate was not used: its `Capability` enum stops at
//! `CAP_CHECKPOINT_RESTORE` (40), its bounding-set `clear`/`read` walk only
//! that list and read an error as "not held", and its `capget` result drops
//! unnamed bits; on a kernel with capability 41 it would leave 41 in the
//! bounding set and not see it.)
//!
//! How far the kernel's list goes is asked of the kernel: `PR_CAPBSET_READ`
//! answers `EINVAL` past its last capability (the number
//! `/proc/sys/kernel/cap_last_cap` shows, 40 since Linux 5.9), so the walk
//! needs no `/proc` and no table.
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
//! thread exists, or each thread must drop its own.
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
//!
//! # Proof
//!
//! After the drop, [`drop_all_but`] reads the calling thread's
//! `/proc/self/task/<tid>/status` (not `/proc/self/status`, which shows the
//! main thread: the frame loop drops its own capabilities while the main
//! thread still holds them) and fails, naming the capability and the set,
//! if any bit is left that should not be.

use std::io;

use rustix::thread::{self as rt, CapabilitySet, CapabilitySets};

use crate::process::Status;

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

/// The names of capabilities 0..=40, in order (include/uapi/linux/capability.h,
/// Linux 5.9+). Only for messages: nothing here stops at the end of this list.
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The highest capability number a 64-bit set can hold.
const LAST_BIT: u32 = 63;

/// The single-bit set for capability `cap` (0..=63), named or not.
fn bit(cap: u32) -> CapabilitySet {
    CapabilitySet::from_bits_retain(1 << cap)
}

/// Read the calling thread's effective, permitted and inheritable sets (`capget`).
pub fn get() -> io::Result<CapSets> {
    let s = rt::capabilities(None)?;
    Ok(CapSets {
        effective: s.effective.bits(),
        permitted: s.permitted.bits(),
        inheritable: s.inheritable.bits(),
    })
}

/// Set the calling thread's effective, permitted and inheritable sets (`capset`).
pub fn set(sets: CapSets) -> io::Result<()> {
    rt::set_capabilities(
        None,
        CapabilitySets {
            effective: CapabilitySet::from_bits_retain(sets.effective),
            permitted: CapabilitySet::from_bits_retain(sets.permitted),
            inheritable: CapabilitySet::from_bits_retain(sets.inheritable),
        },
    )?;
    Ok(())
}

/// Whether capability `cap` is in the calling thread's bounding set;
/// `None` when the kernel does not know `cap`.
pub fn in_bounding_set(cap: u32) -> io::Result<Option<bool>> {
    if cap > LAST_BIT {
        return Ok(None);
    }
    match rt::capability_is_in_bounding_set(bit(cap)) {
        Ok(held) => Ok(Some(held)),
        Err(rustix::io::Errno::INVAL) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The bounding set as a mask, probing every capability the kernel knows.
pub fn bounding_set() -> io::Result<CapMask> {
    let mut mask = 0;
    for cap in 0..=LAST_BIT {
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
    for cap in 0..=LAST_BIT {
        match in_bounding_set(cap)? {
            None => break,
            Some(false) => {}
            Some(true) if keep & (1 << cap) != 0 => {}
            Some(true) => rt::remove_capability_from_bounding_set(bit(cap))?,
        }
    }
    Ok(())
}

/// Clear the ambient set (`PR_CAP_AMBIENT_CLEAR_ALL`; needs no privilege).
pub fn clear_ambient() -> io::Result<()> {
    rt::clear_ambient_capability_set()?;
    Ok(())
}

/// Whether the ambient set is empty: `PR_CAP_AMBIENT_IS_SET` for every
/// capability the kernel knows.
pub fn ambient_is_empty() -> io::Result<bool> {
    for cap in 0..=LAST_BIT {
        match rt::capability_is_in_ambient_set(bit(cap)) {
            Ok(false) => {}
            Ok(true) => return Ok(false),
            Err(rustix::io::Errno::INVAL) => break,
            Err(e) => return Err(e.into()),
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
    rt::set_no_new_privs(true)?;
    Ok(())
}

/// Whether no_new_privs is set on the calling thread.
pub fn no_new_privs() -> io::Result<bool> {
    Ok(rt::no_new_privs()?)
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
    /// Capabilities are still held after dropping them (`capget`).
    #[error(
        "capabilities still held after dropping them: {0:?}; the kernel refused part of the drop: check for a security module or seccomp filter acting on capset"
    )]
    StillHeld(CapSets),
    /// The thread's status file shows a capability left after the drop.
    #[error(
        "{} still in {set} after the drop ({path}): refusing to run with it; check for a security module or seccomp filter acting on capset and prctl",
        describe(*caps)
    )]
    Left {
        /// The status line: `CapEff`, `CapPrm`, `CapInh`, `CapAmb` or `CapBnd`.
        set: &'static str,
        /// The capabilities left in it.
        caps: CapMask,
        /// The status file read.
        path: String,
    },
}

fn step(step: &'static str) -> impl FnOnce(io::Error) -> DropError {
    move |source| DropError::Call { step, source }
}

/// The first set in `st` that holds more than it should: more than `keep`
/// in effective and permitted, anything inheritable or ambient, and more
/// than `bounding` in the bounding set (`None`: the bounding set is not
/// checked). Returns the status line's name and the extra bits.
pub fn leftover(
    st: &Status,
    keep: CapMask,
    bounding: Option<CapMask>,
) -> Option<(&'static str, CapMask)> {
    [
        ("CapEff", st.cap_eff & !keep),
        ("CapPrm", st.cap_prm & !keep),
        ("CapInh", st.cap_inh),
        ("CapAmb", st.cap_amb),
        ("CapBnd", bounding.map_or(0, |b| st.cap_bnd & !b)),
    ]
    .into_iter()
    .find(|(_, extra)| *extra != 0)
}

/// Read the calling thread's status (`/proc/self/task/<tid>/status`) and
/// fail, naming the capability and the set, if any set holds more than
/// [`leftover`] allows.
pub fn verify_thread(keep: CapMask, bounding: Option<CapMask>) -> Result<(), DropError> {
    let path = format!("/proc/self/task/{}/status", rt::gettid().as_raw_nonzero());
    let text = std::fs::read_to_string(&path).map_err(|source| DropError::Call {
        step: "reading the thread's status to verify the drop (is /proc mounted?)",
        source,
    })?;
    match leftover(&Status::parse(&text), keep, bounding) {
        None => Ok(()),
        Some((set, caps)) => Err(DropError::Left { set, caps, path }),
    }
}

/// Drop every capability of the calling thread except `keep`, in the order
/// the module docs give (bounding set first), and verify with `capget` and
/// the thread's `/proc` status.
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
        verify_thread(0, None)?;
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
    verify_thread(keep, Some(keep))?;
    Ok(Dropped::All)
}

/// The name of capability `cap` (`"CAP_SYS_RAWIO"`), if it has one here.
pub fn name(cap: u32) -> Option<&'static str> {
    NAMES.get(usize::try_from(cap).ok()?).copied()
}

/// A readable list of the capabilities in `mask`, e.g.
/// `"CAP_NET_ADMIN (12), CAP_SYS_ADMIN (21)"`; a capability newer than the
/// names here reads `"capability 41"`.
pub fn describe(mask: CapMask) -> String {
    if mask == 0 {
        return "none".to_owned();
    }
    (0..=LAST_BIT)
        .filter(|c| mask & (1 << c) != 0)
        .map(|c| match name(c) {
            Some(n) => format!("{n} ({c})"),
            None => format!("capability {c}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
