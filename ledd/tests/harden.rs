//! ledd's hardening, proven by attacks: each test runs `harden()` in a fresh
//! single-threaded process that first does what ledd does before hardening
//! — a frame loop thread running against a simulated strip (memory), a
//! listening Unix socket and an sd_notify datagram socket — and then
//! attempts one forbidden (or one required) operation. The tests are
//! grouped by the step of `harden()` they attack, in its order
//! (docs/sandbox.md, "ledd: hardening after init").
//!
//! They run as root (like ledd on a Pi) and as an ordinary user (like ledd
//! on the simulated strip): the seccomp filter and no_new_privs hold either
//! way. The tests named `as_root_*` need root (capabilities to drop, files
//! of other users); built by another user they are reported as ignored,
//! with the reason (see `build/unprivileged.rs`).

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// It attacks or measures the process itself: raw syscalls, by design.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ledd::harden::{self, HardenOptions, SeccompMode};
use tinsel_sandbox::harness::{Outcome, Sleeper, attack, check};
use tinsel_sandbox::libc;
use tinsel_sandbox::process::Status;

/// A stand-in for the frame loop: a thread that renders into memory on
/// absolute deadlines, started before hardening, that drops its own
/// capabilities "once the strip is open".
struct FrameLoop {
    frames: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

fn start_frame_loop(drop_caps: bool) -> FrameLoop {
    let frames = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (f, s) = (Arc::clone(&frames), Arc::clone(&stop));
    let handle = std::thread::Builder::new()
        .name("frame-loop".into())
        .spawn(move || {
            let mut strip = vec![0u8; 150 * 3]; // the simulated strip
            if drop_caps {
                harden::drop_thread_capabilities(0).unwrap();
            }
            ready_tx.send(()).unwrap();
            let mut next = std::time::Instant::now();
            while !s.load(Ordering::Relaxed) {
                next += Duration::from_millis(2);
                let n = f.fetch_add(1, Ordering::Relaxed);
                for (i, px) in strip.iter_mut().enumerate() {
                    *px = (n as usize + i) as u8;
                }
                std::hint::black_box(&strip);
                if let Some(d) = next.checked_duration_since(std::time::Instant::now()) {
                    std::thread::sleep(d);
                }
            }
        })
        .unwrap();
    ready_rx.recv().unwrap();
    FrameLoop {
        frames,
        stop,
        handle: Some(handle),
    }
}

impl FrameLoop {
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
        self.frames.load(Ordering::Relaxed)
    }
}

/// Frame loop started and dropped its capabilities, then `harden`.
fn hardened() -> Result<FrameLoop, String> {
    let frame_loop = start_frame_loop(true);
    harden::harden(&HardenOptions::default()).map_err(|e| e.to_string())?;
    Ok(frame_loop)
}

fn hardened_setup() -> Result<(), String> {
    // The loop keeps running in the grandchild until it exits.
    std::mem::forget(hardened()?);
    Ok(())
}

/// Step 1, `drop_capabilities`: uid 0 without capabilities, and starts
/// with fewer capabilities than root.
mod drop_capabilities {
    use super::*;

    tinsel_sandbox::attack! {
        /// DAC without CAP_DAC_OVERRIDE: a 0600 file owned by someone else.
        as_root("needs root: chowns a file to another user and checks what uid 0 without capabilities may read")
        fn as_root_root_without_capabilities_cannot_read_a_file_it_does_not_own(t) {
            let dir = tempfile::tempdir().unwrap();
            let secret = dir.path().join("secret");
            std::fs::write(&secret, "x").unwrap();
            std::os::unix::fs::chown(&secret, Some(65534), Some(65534)).unwrap();
            std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
            let s = secret.clone();
            t.run(hardened_setup, || attack::read_file(s.to_str().unwrap()))
                .assert_denied(&[libc::EACCES]);
        }

        /// Started without capabilities (an ordinary user's ledd on the
        /// simulated strip; as root the test first becomes `nobody`, which
        /// clears them): hardening succeeds, leaves the bounding set alone
        /// (it cannot drop it) and still sets no_new_privs and seccomp on
        /// every thread.
        fn hardening_without_capabilities_still_sets_no_new_privs_and_seccomp(t) {
            t.run(
                || {
                    if tinsel_sandbox::ids::resuid().1 == 0 {
                        let nobody = tinsel_sandbox::ids::Identity::from_ids(65534, 65534);
                        tinsel_sandbox::ids::switch_to(&nobody).map_err(|e| e.to_string())?;
                    }
                    let report = hardened_report()?;
                    if !report.unprivileged || !report.to_string().contains("nothing to drop") {
                        return Err(format!("the report hides the unprivileged start: {report}"));
                    }
                    Ok(())
                },
                || {
                    // Main + frame loop.
                    for (_, name, st) in check::every_thread_confined(2) {
                        assert_ne!(st.uid[1], 0, "{name}: not root");
                        assert_ne!(st.cap_bnd, 0, "{name}: CapBnd left as inherited");
                    }
                    // And the filter is live: a new socket kills the process.
                    attack::socket(libc::AF_INET, libc::SOCK_STREAM)
                },
            )
            .assert_killed_by_sigsys();
        }

        /// Some capabilities but not `CAP_SETPCAP` (e.g. a file capability,
        /// or systemd's AmbientCapabilities=): the bounding set cannot be
        /// dropped, and hardening stops with a message that says so and
        /// what to change. As an ordinary user the capabilities come from a
        /// new user namespace.
        fn some_capabilities_without_setpcap_stop_hardening_with_the_fix(t) {
            t.run(
                || {
                    use tinsel_sandbox::caps;
                    if tinsel_sandbox::ids::resuid().1 != 0 {
                        // SAFETY: plain integer argument; the process is single-threaded.
                        if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
                            return Err(format!(
                                "unshare(CLONE_NEWUSER): {}",
                                std::io::Error::last_os_error()
                            ));
                        }
                    }
                    let now = caps::get().map_err(|e| e.to_string())?;
                    let without = now.permitted & !(1 << caps::CAP_SETPCAP);
                    if without == 0 {
                        return Err(format!("no capabilities to start with: {now:?}"));
                    }
                    caps::set(caps::CapSets {
                        effective: without,
                        permitted: without,
                        inheritable: 0,
                    })
                    .map_err(|e| e.to_string())?;
                    harden::harden(&HardenOptions::default())
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                },
                || Ok(()),
            )
            .assert_setup_failed("but not CAP_SETPCAP");
        }
    }

    fn hardened_report() -> Result<harden::Report, String> {
        let frame_loop = start_frame_loop(true);
        let report = harden::harden(&HardenOptions::default()).map_err(|e| e.to_string())?;
        std::mem::forget(frame_loop);
        Ok(report)
    }
}

/// Step 2, `verify_every_thread` (and what TSYNC puts on every thread:
/// steps 3 and 4 as `/proc` shows them).
mod verify_every_thread {
    use super::*;

    tinsel_sandbox::attack! {
        as_root("needs root: checks that uid 0 ends with an empty bounding set")
        fn as_root_proc_status_of_every_thread_shows_the_hardening(t) {
            t.run(hardened_setup, || {
                // Main + frame loop.
                for (_, name, st) in check::every_thread_confined(2) {
                    assert_eq!(st.uid[1], 0, "{name}: ledd stays root");
                    assert_eq!(st.cap_bnd, 0, "{name}: CapBnd");
                }
                let own = Status::current().unwrap();
                assert_eq!((own.cap_eff, own.no_new_privs, own.seccomp), (0, 1, 2));
                Ok(())
            })
            .assert_succeeded();
        }

        as_root("needs root: a thread must hold capabilities to keep them")
        fn as_root_a_thread_that_kept_its_capabilities_stops_hardening(t) {
            t.run(
                || {
                    let frame_loop = start_frame_loop(false);
                    let r = harden::harden(&HardenOptions::default())
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    frame_loop.stop();
                    r
                },
                || Ok(()),
            )
            .assert_setup_failed("frame-loop");
        }
    }
}

/// Step 4, `install_seccomp` (after no_new_privs, step 3): each forbidden
/// call kills ledd with SIGSYS, `unlink` is refused with EPERM.
mod install_seccomp {
    use super::*;

    tinsel_sandbox::attack! {
        fn socket_af_inet_is_killed(t) {
            t.run(hardened_setup, || attack::socket(libc::AF_INET, libc::SOCK_STREAM))
                .assert_killed_by_sigsys();
        }

        fn socket_af_unix_is_killed(t) {
            t.run(hardened_setup, || {
                attack::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC)
            })
            .assert_killed_by_sigsys();
        }

        fn execve_is_killed(t) {
            t.run(hardened_setup, || attack::exec("/bin/true"))
                .assert_killed_by_sigsys();
        }

        /// ledd is root: a setuid(0) would "succeed" as a no-op, so it must die.
        fn setuid_is_killed(t) {
            t.run(hardened_setup, || attack::setuid(0)).assert_killed_by_sigsys();
        }

        fn ptrace_is_killed(t) {
            let target = Sleeper::start();
            let pid = target.pid();
            t.run(hardened_setup, || attack::ptrace_attach(pid))
                .assert_killed_by_sigsys();
        }

        fn mount_is_killed(t) {
            t.run(hardened_setup, || attack::mount_tmpfs("/tmp"))
                .assert_killed_by_sigsys();
        }

        fn kill_of_another_process_is_killed(t) {
            let sleeper = Sleeper::start();
            let pid = sleeper.pid();
            t.run(hardened_setup, || attack::kill(pid, libc::SIGTERM))
                .assert_killed_by_sigsys();
        }

        fn write_exec_mmap_is_killed(t) {
            t.run(hardened_setup, attack::mmap_write_exec)
                .assert_killed_by_sigsys();
        }

        fn opening_a_file_for_writing_is_killed(t) {
            let path = format!("/tmp/tinsel-ledd-harden-{}", std::process::id());
            t.run(hardened_setup, || attack::write_file(&path))
                .assert_killed_by_sigsys();
            assert!(!std::path::Path::new(&path).exists());
        }

        fn unlink_is_refused_not_fatal(t) {
            let dir = tempfile::tempdir().unwrap();
            let victim = dir.path().join("victim");
            std::fs::write(&victim, "x").unwrap();
            let v = victim.clone();
            t.run(hardened_setup, || {
                std::fs::remove_file(&v).map_err(|e| e.raw_os_error().unwrap_or(-1))
            })
            .assert_denied(&[libc::EPERM]);
            assert!(victim.exists());
        }

        fn seccomp_log_mode_logs_instead_of_killing(t) {
            let run = t.run(
                || {
                    let fl = start_frame_loop(true);
                    std::mem::forget(fl);
                    let opts = HardenOptions {
                        seccomp: SeccompMode::Log,
                        ..HardenOptions::default()
                    };
                    harden::harden(&opts).map(|_| ()).map_err(|e| e.to_string())
                },
                || attack::socket(libc::AF_INET, libc::SOCK_STREAM),
            );
            assert_eq!(run.outcome, Outcome::Succeeded, "{}", run.output);
        }
    }
}

/// After every step: what ledd needs at run time still works.
mod runtime {
    use super::*;

    thread_local! {
        static FRAME_LOOP: std::cell::RefCell<Option<FrameLoop>> = const { std::cell::RefCell::new(None) };
    }

    tinsel_sandbox::attack! {
        /// After harden: the frame loop keeps rendering, a tokio
        /// current-thread runtime accepts on the listener made before, reads
        /// the peer's credentials, handles signals; sd_notify goes out on the
        /// datagram socket made before; the config file can be re-read.
        fn the_runtime_ledd_needs_still_works(t) {
            let dir = tempfile::tempdir().unwrap();
            let sock = dir.path().join("ledd.sock");
            let notify_path = dir.path().join("notify.sock");
            let config = dir.path().join("ledd.toml");
            std::fs::write(&config, "[strip]\n").unwrap();
            let listener = UnixListener::bind(&sock).unwrap();
            listener.set_nonblocking(true).unwrap();
            let systemd = UnixDatagram::bind(&notify_path).unwrap();
            let notifier = UnixDatagram::unbound().unwrap();
            let client_path = sock.clone();
            let client = check::client(
                &t,
                move || std::os::unix::net::UnixStream::connect(&client_path),
                b"hi",
                b"ok",
            );
            // getresuid is not in ledd's allowlist: ask before hardening.
            let own_uid = tinsel_sandbox::ids::resuid().1;
            let run = t.run(
                || {
                    let fl = hardened()?;
                    FRAME_LOOP.with(|c| *c.borrow_mut() = Some(fl));
                    Ok(())
                },
                move || {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    check::on_daemon_runtime(async move {
                        let l = tokio::net::UnixListener::from_std(listener).map_err(|_| 3)?;
                        let (mut conn, _) = l.accept().await.map_err(|_| 4)?;
                        let cred = conn.peer_cred().map_err(|_| 5)?;
                        if cred.uid() != own_uid {
                            return Err(6);
                        }
                        let mut b = [0; 2];
                        conn.read_exact(&mut b).await.map_err(|_| 7)?;
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        conn.write_all(b"ok").await.map_err(|_| 8)?;
                        Ok(())
                    })?;
                    notifier
                        .send_to(b"READY=1", &notify_path)
                        .map_err(|e| e.raw_os_error().unwrap_or(9))?;
                    attack::read_file(config.to_str().unwrap())?;
                    let fl = FRAME_LOOP.with(|c| c.borrow_mut().take()).ok_or(10)?;
                    let before = fl.frames.load(Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                    let frames = fl.stop();
                    if frames <= before { Err(11) } else { Ok(()) }
                },
            );
            run.assert_succeeded();
            if let Some(client) = client {
                assert!(client.join().unwrap(), "client did not get its answer");
                let mut buf = [0; 16];
                systemd
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let n = systemd.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"READY=1");
            }
            let _: RawFd = systemd.as_raw_fd();
        }
    }
}
