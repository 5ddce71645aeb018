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

/// When root: SCHED_FIFO for this thread and locked memory, so page faults
/// and ordinary processes do not delay frames. Refusal is logged once and
/// the loop runs as an ordinary thread. Not root (the simulated strip
/// needs none), neither is asked for and one info line says so.
pub(super) fn try_realtime() {
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        info!(
            "not root (uid {euid}): the frame loop runs at normal priority with unlocked memory (SCHED_FIFO and mlockall need root); fine for the simulated strip, start ledd as root for a real one"
        );
        return;
    }
    let param = libc::sched_param {
        sched_priority: RT_PRIORITY,
    };
    // SAFETY: `sched_setscheduler` with pid 0 changes the calling thread
    // only, and reads `param` (a valid, initialised struct) during the call.
    // JUSTIFICATION: nix offers no wrapper for sched_setscheduler.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc != 0 {
        warn!(
            "SCHED_FIFO refused ({}); the frame loop runs at normal priority",
            std::io::Error::last_os_error()
        );
    } else {
        info!(priority = RT_PRIORITY, "frame loop runs SCHED_FIFO");
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
