//! The errno answers of a filter, proven in the running kernel: each comes
//! from its own overlay program, and the kernel must combine them with the
//! allowlist by precedence (ERRNO over LOG and ALLOW, KILL over all). Each
//! attack runs in a fresh single-threaded process
//! (`tinsel_sandbox::harness`); each has a control without the filter that
//! succeeds. No root needed: the filter needs only no_new_privs.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// It attacks or measures the process itself: raw syscalls, by design.
#![allow(unsafe_code)]

use tinsel_sandbox::harness::isolated;
use tinsel_sandbox::libc;
use tinsel_sandbox::seccomp::{self, Action, Filter};
use tinsel_sandbox::syscalls as groups;
use tinsel_sandbox::{caps, harness};

fn filter(default: Action) -> Filter {
    let mut v = groups::runtime(std::process::id(), &groups::BASE_IOCTLS);
    v.extend(groups::unix_client());
    Filter::new(v, default)
}

fn seccomped(default: Action) -> Result<(), String> {
    caps::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
    seccomp::install(&filter(default))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn no_filter() -> Result<(), String> {
    Ok(())
}

fn check(rc: libc::c_long) -> Result<(), i32> {
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1))
    } else {
        Ok(())
    }
}

/// `ioctl(1, FIONREAD)`: the harness's stdout is a pipe, where it works
/// unfiltered; not in the allowlist's requests, so the filter says `ENOTTY`.
fn ioctl_fionread() -> Result<(), i32> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer, a live local.
    check(unsafe { libc::ioctl(1, libc::FIONREAD, &mut n) } as libc::c_long)
}

/// `prctl(PR_GET_DUMPABLE)`: harmless, works unfiltered; not a listed option.
fn prctl_get_dumpable() -> Result<(), i32> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) } as libc::c_long)
}

/// `clone3` with an empty argument block: unfiltered the kernel answers
/// `EINVAL` (too small), filtered `ENOSYS` (so glibc falls back to `clone`).
fn clone3_empty() -> Result<(), i32> {
    // SAFETY: a NULL argument block of size 0 is rejected before any use.
    check(unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) })
}

#[test]
fn unlisted_ioctl_answers_enotty() {
    isolated(
        "unlisted_ioctl_answers_enotty",
        || seccomped(Action::KillProcess),
        ioctl_fionread,
    )
    .assert_denied(&[libc::ENOTTY]);
}

#[test]
fn unlisted_ioctl_answers_enotty_in_log_mode_too() {
    // ERRNO outranks LOG: the overlay's answer wins over the allowlist's.
    isolated(
        "unlisted_ioctl_answers_enotty_in_log_mode_too",
        || seccomped(Action::Log),
        ioctl_fionread,
    )
    .assert_denied(&[libc::ENOTTY]);
}

#[test]
fn unlisted_ioctl_works_without_the_filter() {
    isolated(
        "unlisted_ioctl_works_without_the_filter",
        no_filter,
        ioctl_fionread,
    )
    .assert_succeeded();
}

#[test]
fn listed_ioctl_still_works() {
    isolated(
        "listed_ioctl_still_works",
        || seccomped(Action::KillProcess),
        || {
            // FIOCLEX on stdout: a listed request.
            // SAFETY: FIOCLEX takes no argument.
            check(unsafe { libc::ioctl(1, libc::FIOCLEX) } as libc::c_long)
        },
    )
    .assert_succeeded();
}

#[test]
fn unlisted_prctl_answers_eperm() {
    isolated(
        "unlisted_prctl_answers_eperm",
        || seccomped(Action::KillProcess),
        prctl_get_dumpable,
    )
    .assert_denied(&[libc::EPERM]);
}

#[test]
fn unlisted_prctl_works_without_the_filter() {
    isolated(
        "unlisted_prctl_works_without_the_filter",
        no_filter,
        prctl_get_dumpable,
    )
    .assert_succeeded();
}

#[test]
fn clone3_answers_enosys() {
    isolated(
        "clone3_answers_enosys",
        || seccomped(Action::KillProcess),
        clone3_empty,
    )
    .assert_denied(&[libc::ENOSYS]);
}

#[test]
fn clone3_is_einval_without_the_filter() {
    isolated(
        "clone3_is_einval_without_the_filter",
        no_filter,
        clone3_empty,
    )
    .assert_denied(&[libc::EINVAL]);
}

#[test]
fn the_allowlist_still_kills_after_the_overlays() {
    isolated(
        "the_allowlist_still_kills_after_the_overlays",
        || seccomped(Action::KillProcess),
        || harness::attack::socket(libc::AF_INET, libc::SOCK_STREAM),
    )
    .assert_killed_by_sigsys();
}
