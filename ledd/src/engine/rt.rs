//! The frame loop's operating-system side: the monotonic clock, the sleep to
//! an absolute deadline, and the real-time requests (SCHED_FIFO for the loop
//! thread, locked memory and the RLIMIT_MEMLOCK it needs). The engine's only
//! `unsafe` is here, each block with its `// SAFETY:` comment.

use nix::time::{ClockId, ClockNanosleepFlags, clock_gettime, clock_nanosleep};
use tracing::{info, warn};

/// The real-time priority asked for when root (of 1..=99; low, because
/// anything above the kernel's own threaded IRQs gains nothing).
const RT_PRIORITY: i32 = 10;

/// The monotonic clock in nanoseconds. The same clock the loop sleeps on.
pub fn now_ns() -> u64 {
    match clock_gettime(ClockId::CLOCK_MONOTONIC) {
        Ok(ts) => (ts.tv_sec() as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec() as u64),
        // CLOCK_MONOTONIC cannot fail on Linux; 0 keeps the loop running.
        Err(_) => 0,
    }
}

/// Sleeps until the monotonic clock reads `deadline_ns` (absolute, so a
/// late wake-up never shifts the frames after it).
pub(super) fn sleep_until(deadline_ns: u64) {
    let ts = nix::sys::time::TimeSpec::new(
        (deadline_ns / 1_000_000_000) as _,
        (deadline_ns % 1_000_000_000) as _,
    );
    // Bounded: each EINTR is a delivered signal; the deadline does not move.
    for _ in 0..16 {
        match clock_nanosleep(
            ClockId::CLOCK_MONOTONIC,
            ClockNanosleepFlags::TIMER_ABSTIME,
            &ts,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return,
        }
    }
}

/// SCHED_FIFO for this thread and locked memory, so page faults and
/// ordinary processes do not delay frames. Under ledd.service the service
/// manager starts ledd SCHED_FIFO (`CPUSchedulingPolicy=fifo`; the unit's
/// `RestrictRealtime=yes` forbids asking for it later) and this thread
/// inherits the policy; the thread that started it then leaves it
/// ([`leave_realtime`]). Otherwise it is asked for when root, or when
/// `RLIMIT_RTPRIO` allows it. Refusal is logged once and the loop runs as an
/// ordinary thread. An ordinary user without either (the simulated strip
/// needs none) gets one info line saying so.
pub(super) fn try_realtime() {
    let euid = nix::unistd::geteuid();
    let root = euid.is_root();
    if let Some(priority) = realtime_priority() {
        info!(
            priority,
            "frame loop runs SCHED_FIFO (set by the service manager)"
        );
    } else if root || rtprio_limit() >= RT_PRIORITY as libc::rlim_t {
        let param = libc::sched_param {
            sched_priority: RT_PRIORITY,
        };
        // SAFETY: `sched_setscheduler` with pid 0 changes the calling thread
        // only, and reads `param` (a valid, initialised struct) during the call.
        // JUSTIFICATION: nix offers no wrapper for sched_setscheduler.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
        if rc != 0 {
            warn!(
                "SCHED_FIFO refused ({}); the frame loop runs at normal priority (under systemd: CPUSchedulingPolicy=fifo in ledd.service)",
                std::io::Error::last_os_error()
            );
        } else {
            info!(priority = RT_PRIORITY, "frame loop runs SCHED_FIFO");
        }
    } else {
        info!(
            "not root (uid {euid}): the frame loop runs at normal priority (SCHED_FIFO and mlockall need root, or RLIMIT_RTPRIO and RLIMIT_MEMLOCK); fine for the simulated strip, start ledd as root for a real one"
        );
    }
    if !root && !unlimited_memlock() {
        return;
    }
    use nix::sys::mman::{MlockAllFlags, mlockall};
    // MCL_FUTURE locks every later mapping too (the server's buffers, new
    // thread stacks). Once ledd drops CAP_IPC_LOCK (hardening), locked
    // memory counts against RLIMIT_MEMLOCK and a mapping over it fails: a
    // malloc that aborts ledd under load. So lift the limit while root may,
    // and lock future mappings only when it is unlimited.
    let flags = if unlimited_memlock() {
        MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE
    } else {
        warn!(
            "RLIMIT_MEMLOCK is limited and cannot be raised: locking current memory only (set LimitMEMLOCK=infinity)"
        );
        MlockAllFlags::MCL_CURRENT
    };
    // MCL_ONFAULT: lock pages as they are touched, not every page of every
    // mapping (all of libc, libm, the binary, 2 MiB thread stacks): the
    // loop's pages are touched in its first frame and stay locked after.
    let flags = flags | MlockAllFlags::from_bits_retain(libc::MCL_ONFAULT);
    if let Err(e) = mlockall(flags) {
        warn!("mlockall refused ({e}); pages may fault in during frames");
    }
}

/// The calling thread's real-time priority, if it runs SCHED_FIFO or
/// SCHED_RR.
fn realtime_priority() -> Option<i32> {
    // SAFETY: sched_getscheduler(0) only reads the calling thread's policy.
    let policy = unsafe { libc::sched_getscheduler(0) };
    if policy != libc::SCHED_FIFO && policy != libc::SCHED_RR {
        return None;
    }
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_getparam(0) writes one `sched_param` into `param`, a live local.
    let rc = unsafe { libc::sched_getparam(0, &mut param) };
    Some(if rc == 0 { param.sched_priority } else { 0 })
}

/// The soft RLIMIT_RTPRIO: the highest real-time priority a thread without
/// `CAP_SYS_NICE` may take (`LimitRTPRIO=`).
fn rtprio_limit() -> libc::rlim_t {
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into `now`, a live local.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_RTPRIO, &mut now) };
    if rc == 0 { now.rlim_cur } else { 0 }
}

/// Returns the calling thread to SCHED_OTHER if it runs real-time. Under
/// ledd.service every thread starts SCHED_FIFO; only the frame loop keeps
/// it: the socket server at the loop's own priority could hold a frame back
/// for as long as it runs, and every thread it starts would inherit the
/// policy. Runs on the thread that started the frame loop, before the
/// server's runtime exists. Leaving real-time needs no privilege, only
/// `sched_setscheduler` (the unit allows it; `RestrictRealtime=yes` still
/// refuses every real-time policy).
pub(super) fn leave_realtime() {
    if realtime_priority().is_none() {
        return;
    }
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: as in `try_realtime`: the calling thread only, `param` is valid.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
    if rc != 0 {
        warn!(
            "cannot return the socket server to SCHED_OTHER ({}); it may delay frames (allow sched_setscheduler in ledd.service's SystemCallFilter=)",
            std::io::Error::last_os_error()
        );
    } else {
        info!("socket server runs SCHED_OTHER; only the frame loop is real-time");
    }
}

/// Raises RLIMIT_MEMLOCK to unlimited (needs CAP_SYS_RESOURCE) and says
/// whether it is unlimited now.
fn unlimited_memlock() -> bool {
    let inf = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads one valid, initialised `rlimit` during the
    // call. JUSTIFICATION: ledd's nix is built without the `resource`
    // feature; one call does not warrant it.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &inf) } == 0 {
        return true;
    }
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into `now`, a live local.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut now) };
    rc == 0 && now.rlim_cur == libc::RLIM_INFINITY
}
