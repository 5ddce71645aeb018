//! The frame loop's scheduling when the service manager starts ledd
//! real-time (ledd.service: `CPUSchedulingPolicy=fifo`, priority 10): every
//! thread then starts SCHED_FIFO, the frame loop must keep it, and the
//! thread that started the loop (which goes on to serve the socket) must
//! return to SCHED_OTHER, so that only the frame loop is real-time.
//!
//! Needs root: the test makes its own thread SCHED_FIFO first, as the
//! service manager would (`CAP_SYS_NICE`).

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// It attacks or measures the process itself: raw syscalls, by design.
#![allow(unsafe_code)]

use ledd::config::{Config, Overrides};
use ledd::engine::EngineHandle;

const PRIORITY: i32 = 10;

/// (policy, rt_priority) of a thread, from fields 41 and 40 of its stat.
fn scheduling(path: &str) -> (i32, i32) {
    let stat = std::fs::read_to_string(path).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    // after_comm starts at field 3.
    (f[41 - 3].parse().unwrap(), f[40 - 3].parse().unwrap())
}

fn thread_named(name: &str) -> String {
    for t in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = t.unwrap().path();
        if std::fs::read_to_string(dir.join("comm")).unwrap().trim() == name {
            return dir.join("stat").to_string_lossy().into_owned();
        }
    }
    panic!("no thread named {name}");
}

#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: makes its own thread SCHED_FIFO first, as the service manager would"
)]
fn as_root_only_the_frame_loop_keeps_the_real_time_policy_it_inherits() {
    let param = libc::sched_param {
        sched_priority: PRIORITY,
    };
    // SAFETY: this thread only; `param` is valid for the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    assert_eq!(
        rc,
        0,
        "SCHED_FIFO for the test thread: {} (this test runs as root)",
        std::io::Error::last_os_error()
    );

    let mut config = Config::load(None, &Overrides::default()).unwrap();
    config.strip.count = 30;
    config.strip.fps = 100;
    let engine = EngineHandle::start(&config, None).unwrap();

    let frames = scheduling(&thread_named("ledd-frames"));
    let starter = scheduling("/proc/thread-self/stat");
    engine.stop();
    assert_eq!(
        frames,
        (libc::SCHED_FIFO, PRIORITY),
        "the frame loop keeps SCHED_FIFO"
    );
    assert_eq!(
        starter,
        (libc::SCHED_OTHER, 0),
        "the thread that started the frame loop returns to SCHED_OTHER"
    );
}
