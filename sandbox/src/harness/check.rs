//! What a sandboxed process must still show and still do, checked the same
//! way in every daemon's attack tests: each thread's `/proc` status after
//! the sandbox, and the runtime the daemon serves on afterwards (a
//! current-thread tokio runtime with a SIGHUP stream, and a client in the
//! test process that talks to it).

use std::future::Future;
use std::io::{Read, Write};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::process::{self, Status};

use super::Attack;

/// How often, and how far apart, [`client`] tries to connect while the
/// grandchild applies its sandbox: 200 × 20 ms, 4 s.
const CONNECT_TRIES: u32 = 200;
const CONNECT_PAUSE: Duration = Duration::from_millis(20);

/// Assert what every sandboxed thread shows in `/proc/.../status`: no
/// effective, permitted, inheritable or ambient capability, no_new_privs,
/// seccomp filter mode (2). `who` names the thread in a failure.
#[track_caller]
pub fn assert_confined(who: &str, st: &Status) {
    assert_eq!(st.cap_eff, 0, "{who}: CapEff");
    assert_eq!(st.cap_prm, 0, "{who}: CapPrm");
    assert_eq!(st.cap_inh, 0, "{who}: CapInh");
    assert_eq!(st.cap_amb, 0, "{who}: CapAmb");
    assert_eq!(st.no_new_privs, 1, "{who}: NoNewPrivs (TSYNC)");
    assert_eq!(st.seccomp, 2, "{who}: Seccomp (TSYNC)");
}

/// Read `/proc/self/task/*/status`, assert there are `threads` threads and
/// that each is [confined](assert_confined), and return them (tid, name,
/// status) for the caller's own checks (uid, bounding set).
#[track_caller]
pub fn every_thread_confined(threads: usize) -> Vec<(u32, String, Status)> {
    let all = process::thread_statuses().expect("read /proc/self/task");
    assert_eq!(all.len(), threads, "thread count: {all:?}");
    for (tid, name, st) in &all {
        eprintln!("{tid} {name}: {st:?}");
        assert_confined(name, st);
    }
    all
}

/// Run `serve` the way a daemon serves after its sandbox: on a
/// current-thread tokio runtime with every driver, with a SIGHUP stream
/// registered (the reload signal). `Err(1)`: no runtime; `Err(2)`: no
/// signal stream; otherwise what `serve` returns.
pub fn on_daemon_runtime<F>(serve: F) -> Result<(), i32>
where
    F: Future<Output = Result<(), i32>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|_| 1)?;
    rt.block_on(async move {
        let _hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|_| 2)?;
        serve.await
    })
}

/// A client for the server an attack runs: a thread that connects
/// (retrying while the grandchild applies its sandbox), sends `request`
/// and reads a reply as long as `reply`; it yields whether the reply was
/// `reply`. Started only in the re-executed child, whose grandchild
/// serves; `None` in the original test process.
pub fn client<S, C>(
    t: &Attack,
    connect: C,
    request: &'static [u8],
    reply: &'static [u8],
) -> Option<JoinHandle<bool>>
where
    S: Read + Write,
    C: Fn() -> std::io::Result<S> + Send + 'static,
{
    t.in_child().then(|| {
        std::thread::spawn(move || {
            for _ in 0..CONNECT_TRIES {
                if let Ok(mut s) = connect() {
                    let mut buf = vec![0; reply.len()];
                    return s.write_all(request).is_ok()
                        && s.read_exact(&mut buf).is_ok()
                        && buf == reply;
                }
                std::thread::sleep(CONNECT_PAUSE);
            }
            false
        })
    })
}
