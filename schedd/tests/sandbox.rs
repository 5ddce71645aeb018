//! The real schedd sandbox, applied in a fresh single-threaded process,
//! then attacked: one forbidden operation per process
//! (`tinsel_sandbox::harness`). Each must be denied with the expected errno
//! (Landlock, DAC) or kill the process with SIGSYS (seccomp).
//!
//! The plan attacked is the daemon's own: `schedd::sandbox::daemon_plan`
//! built from a config file, as `main` builds it, then
//! `schedd::sandbox::apply`. Started as root (as CI does) the sandbox drops
//! to the configured `nobody`; started by an ordinary user it stays that
//! user, and every other layer is the same, so these tests run either way.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// It attacks or measures the process itself: raw syscalls, by design.
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use schedd::config::Config;
use schedd::sandbox::{self, LandlockProbe, Plan, SeccompMode};
use tinsel_sandbox::harness::{Report as Run, Sleeper, attack, check};
use tinsel_sandbox::libc;
use tinsel_sandbox::process::Status;

const NOBODY: u32 = 65534;

/// What a sandboxed schedd holds: its config file, a secret it may not
/// read, a clock flag, and ledd's socket (a listener the test serves).
struct Fixture {
    dir: tempfile::TempDir,
    config: Config,
    secret: PathBuf,
    flag: PathBuf,
    ledd: UnixListener,
}

fn as_root() -> bool {
    tinsel_sandbox::ids::resuid().1 == 0
}

fn fixture_with(extra: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let mode =
        |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    mode(&root, 0o755);
    let secret = root.join("secret");
    std::fs::write(&secret, "secret\n").unwrap();
    let flag = root.join("synchronized");
    std::fs::write(&flag, "").unwrap();
    let ledd_socket = root.join("ledd.sock");
    let config_path = root.join("schedd.toml");
    let user = if as_root() {
        "user = \"nobody\"\ngroup = \"nogroup\"\n"
    } else {
        ""
    };
    let group_ok = std::fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("nogroup:"));
    let user = if group_ok {
        user.to_owned()
    } else {
        user.replace("nogroup", "nobody")
    };
    std::fs::write(
        &config_path,
        format!(
            "ledd_socket = {ledd:?}\ntimezone = \"UTC\"\n{user}{extra}\n[[entries]]\nat = \"07:00\"\nanimation = \"fire\"\n",
            ledd = ledd_socket.to_str().unwrap(),
        ),
    )
    .unwrap();
    for f in [&config_path, &secret, &flag] {
        mode(f, 0o644);
    }
    let config = Config::load(&config_path).unwrap();
    let ledd = UnixListener::bind(&ledd_socket).unwrap();
    mode(&ledd_socket, 0o777);
    Fixture {
        dir,
        config,
        secret,
        flag,
        ledd,
    }
}

fn fixture() -> Fixture {
    fixture_with("")
}

impl Fixture {
    fn plan_in(&self, mode: SeccompMode, keep: &[RawFd]) -> Plan {
        let mut plan = sandbox::daemon_plan(&self.config, mode).expect("the user exists");
        plan.keep_fds.extend_from_slice(keep);
        plan
    }

    fn plan(&self, keep: &[RawFd]) -> Plan {
        self.plan_in(SeccompMode::Kill, keep)
    }
}

fn apply(plan: &Plan) -> Result<(), String> {
    sandbox::apply(plan).map(|_| ()).map_err(|e| e.to_string())
}

/// The full sandbox, then `attack`.
fn attacked(t: &tinsel_sandbox::harness::Attack, attack: impl FnOnce() -> Result<(), i32>) -> Run {
    let f = fixture();
    t.run(|| apply(&f.plan(&[])), attack)
}

/// A Unix stream socket bound to `path` (not listening).
fn bound_unix(path: &Path) -> RawFd {
    let fd = attack::socket_fd(libc::AF_UNIX, libc::SOCK_STREAM).unwrap();
    let (addr, len) = unix_addr(path);
    // SAFETY: `addr` is a live sockaddr_un of the stated length.
    let rc = unsafe { libc::bind(fd, (&raw const addr).cast(), len) };
    assert_eq!(rc, 0, "bind {}", path.display());
    fd
}

fn unix_addr(path: &Path) -> (libc::sockaddr_un, libc::socklen_t) {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    assert!(bytes.len() < addr.sun_path.len(), "path too long");
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    (
        addr,
        std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
    )
}

/// `socket(AF_UNIX)` + `bind(path)` + `listen`: serving on a Unix socket.
fn listen_unix(path: &Path) -> Result<(), i32> {
    let fd = attack::socket_fd(libc::AF_UNIX, libc::SOCK_STREAM)?;
    let (addr, len) = unix_addr(path);
    // SAFETY: `addr` is a live sockaddr_un of the stated length.
    if unsafe { libc::bind(fd, (&raw const addr).cast(), len) } != 0 {
        return Err(attack::errno());
    }
    attack::listen(fd)
}

/// Step 0, `ensure_single_threaded`.
mod ensure_single_threaded {
    use super::*;

    tinsel_sandbox::attack! {
        fn threads_started_before_the_sandbox_are_refused(t) {
            let f = fixture();
            t.run(
                || tinsel_sandbox::harness::with_another_thread(|| apply(&f.plan(&[]))),
                || Ok(()),
            )
            .assert_setup_failed("threads running");
        }
    }
}

/// Step 1, `close_inherited_fds`.
mod close_inherited_fds {
    use super::*;

    tinsel_sandbox::attack! {
        fn inherited_descriptors_are_closed(t) {
            let f = fixture();
            let leaked = std::fs::File::open(&f.secret).unwrap().into_raw_fd();
            t.run(|| apply(&f.plan(&[])), || attack::fd_is_open(leaked))
                .assert_denied(&[libc::EBADF]);
        }
    }
}

/// Step 2, `drop_privileges`.
mod drop_privileges {
    use super::*;

    tinsel_sandbox::attack! {
        as_root("needs root: only root is refused without a user to drop to")
        fn as_root_root_without_a_user_is_refused(t) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("schedd.toml");
            std::fs::write(&path, "timezone = \"UTC\"\n").unwrap();
            let config = Config::load(&path).unwrap();
            t.run(
                || {
                    let plan = sandbox::daemon_plan(&config, SeccompMode::Kill).unwrap();
                    assert!(plan.user.is_none(), "the config names no user");
                    apply(&plan)
                },
                || Ok(()),
            )
            .assert_setup_failed("no user to drop to");
        }

        as_root("needs root: the drop from root is what is attacked")
        fn as_root_the_dropped_user_cannot_become_root_again(t) {
            attacked(&t, attack::setresuid_root).assert_killed_by_sigsys();
        }
    }

    #[test]
    fn the_daemon_plan_is_built_from_the_config() {
        let f = fixture_with("[sandbox]\nlandlock = \"required\"\n");
        let plan = f.plan_in(SeccompMode::Log, &[]);
        assert!(plan.keep_fds.is_empty());
        if as_root() {
            let user = plan.user.as_ref().expect("user from the config");
            assert_eq!(user.uid, NOBODY);
        }
        assert_eq!(plan.read_only_paths, vec![f.config.path.clone()]);
        assert_eq!(plan.ledd_socket, f.config.common.ledd_socket);
        assert_eq!(plan.landlock, sandbox::LandlockPolicy::Required);
        assert_eq!(plan.seccomp, SeccompMode::Log);
    }
}

/// Step 5, `restrict_filesystem_and_network`: files. With Landlock,
/// EACCES; without, a world-readable file is readable and the report says
/// Landlock is unavailable (seccomp still forbids writing).
mod landlock_fs {
    use super::*;

    fn assert_fs_denied(run: &Run) {
        if tinsel_sandbox::landlock::probe().abi().is_some() {
            run.assert_denied(&[libc::EACCES]);
        } else {
            run.assert_succeeded();
        }
    }

    tinsel_sandbox::attack! {
        fn reading_etc_passwd_is_denied(t) {
            assert_fs_denied(&attacked(&t, || attack::read_file("/etc/passwd")));
        }

        fn reading_a_file_beside_the_config_is_denied(t) {
            let f = fixture();
            let secret = f.secret.clone();
            assert_fs_denied(&t.run(
                || apply(&f.plan(&[])),
                || attack::read_file(secret.to_str().unwrap()),
            ));
        }

        /// The zone database is compiled in: with every file but the
        /// config denied, a schedule in another zone still computes, DST
        /// rules and all (New York's 2026 spring-forward, 8 March).
        fn time_zones_need_no_zoneinfo(t) {
            let f = fixture();
            t.run(
                || apply(&f.plan(&[])),
                || {
                    let text = "timezone = \"America/New_York\"\n[[entries]]\nat = \"02:30\"\nanimation = \"off\"\n";
                    let c = Config::parse(text, Path::new("/nowhere.toml")).map_err(|_| libc::EIO)?;
                    let from = chrono::DateTime::parse_from_rfc3339("2026-03-08T00:00:00-05:00")
                        .map_err(|_| libc::EINVAL)?
                        .with_timezone(&chrono::Utc);
                    let fire = c.schedule.next(from, 1);
                    // 02:30 is skipped: 03:00 EDT, 07:00 UTC.
                    match fire.first().map(|f| f.at.to_rfc3339()) {
                        Some(at) if at == "2026-03-08T07:00:00+00:00" => Ok(()),
                        _ => Err(libc::ERANGE),
                    }
                },
            )
            .assert_succeeded();
        }

        /// What SIGHUP needs: the config file, re-read and re-validated.
        fn the_config_file_stays_readable_and_reloads(t) {
            let f = fixture();
            let path = f.config.path.clone();
            t.run(
                || apply(&f.plan(&[])),
                || {
                    Config::reload(&path, chrono_tz::UTC)
                        .map(drop)
                        .map_err(|_| libc::EIO)
                },
            )
            .assert_succeeded();
        }

        /// The clock gate only asks whether timesyncd's flag exists, which
        /// Landlock does not mediate: it works with no rule for the flag.
        fn the_clock_flag_is_seen_without_a_rule(t) {
            let f = fixture();
            let flag = f.flag.clone();
            let missing = f.dir.path().join("not-synchronized");
            t.run(
                || apply(&f.plan(&[])),
                || {
                    let mut there = schedd::clock::ClockGate::with_flag(Some(flag));
                    let mut absent = schedd::clock::ClockGate::with_flag(Some(missing));
                    match (there.check(), absent.check()) {
                        (true, false) => Ok(()),
                        _ => Err(libc::EIO),
                    }
                },
            )
            .assert_succeeded();
        }
    }
}

/// Step 6, `install_seccomp`: each forbidden call kills schedd with SIGSYS.
mod install_seccomp {
    use super::*;

    tinsel_sandbox::attack! {
        fn socket_af_inet_is_killed(t) {
            attacked(&t, || attack::socket(libc::AF_INET, libc::SOCK_STREAM))
                .assert_killed_by_sigsys();
        }

        fn socket_af_inet6_is_killed(t) {
            attacked(&t, || attack::socket(libc::AF_INET6, libc::SOCK_DGRAM))
                .assert_killed_by_sigsys();
        }

        fn socket_af_netlink_is_killed(t) {
            attacked(&t, || attack::socket(libc::AF_NETLINK, libc::SOCK_RAW))
                .assert_killed_by_sigsys();
        }

        fn unix_datagram_socket_is_killed(t) {
            attacked(&t, || attack::socket(libc::AF_UNIX, libc::SOCK_DGRAM))
                .assert_killed_by_sigsys();
        }

        /// Serving on a Unix socket: `bind` is not in the allowlist.
        fn listening_on_a_unix_socket_is_killed(t) {
            let f = fixture();
            let path = f.dir.path().join("evil.sock");
            let run = t.run(|| apply(&f.plan(&[])), || listen_unix(&path));
            run.assert_killed_by_sigsys();
            assert!(!path.exists(), "the socket file was made");
        }

        /// A bound socket smuggled in: `listen` kills.
        fn listen_on_a_smuggled_socket_is_killed(t) {
            let f = fixture();
            let fd = bound_unix(&f.dir.path().join("smuggled.sock"));
            t.run(|| apply(&f.plan(&[fd])), || attack::listen(fd))
                .assert_killed_by_sigsys();
        }

        /// A listening socket smuggled in: `accept4` kills (schedd's
        /// allowlist drops it from the runtime group).
        fn accept_on_a_smuggled_listener_is_killed(t) {
            let f = fixture();
            let listener = UnixListener::bind(f.dir.path().join("listening.sock")).unwrap();
            // Were accept allowed, it would answer EAGAIN at once.
            listener.set_nonblocking(true).unwrap();
            let fd = listener.as_raw_fd();
            t.run(|| apply(&f.plan(&[fd])), || attack::accept4(fd, libc::SOCK_NONBLOCK))
                .assert_killed_by_sigsys();
        }

        fn execve_bin_true_is_killed(t) {
            attacked(&t, || attack::exec("/bin/true")).assert_killed_by_sigsys();
        }

        fn fork_is_killed(t) {
            attacked(&t, attack::fork).assert_killed_by_sigsys();
        }

        /// openat with O_WRONLY|O_CREAT fails seccomp's read-only check.
        fn writing_a_file_is_killed(t) {
            let path = format!("/tmp/tinsel-schedd-sandbox-{}", std::process::id());
            attacked(&t, || attack::write_file(&path)).assert_killed_by_sigsys();
            assert!(!Path::new(&path).exists());
        }

        fn ptrace_is_killed(t) {
            let target = Sleeper::start();
            let pid = target.pid();
            attacked(&t, || attack::ptrace_attach(pid)).assert_killed_by_sigsys();
        }

        fn kill_of_another_process_is_killed(t) {
            let mut sleeper = Sleeper::start();
            let pid = sleeper.pid();
            let run = attacked(&t, || attack::kill(pid, libc::SIGTERM));
            let still_running = sleeper.is_running();
            run.assert_killed_by_sigsys();
            assert!(still_running, "the sleeper was signalled");
        }

        fn setuid_root_is_killed(t) {
            attacked(&t, || attack::setuid(0)).assert_killed_by_sigsys();
        }

        fn write_exec_mmap_is_killed(t) {
            attacked(&t, attack::mmap_write_exec).assert_killed_by_sigsys();
        }

        /// `--seccomp-log`: the daemon's plan in log mode lets it through.
        fn seccomp_log_mode_logs_instead_of_killing(t) {
            let f = fixture();
            t.run(
                || apply(&f.plan_in(SeccompMode::Log, &[])),
                || attack::socket(libc::AF_INET, libc::SOCK_STREAM),
            )
            .assert_succeeded();
        }
    }
}

/// After every step: what the kernel reports, and what still works.
mod after {
    use super::*;

    thread_local! {
        static STATUS_FD: std::cell::Cell<RawFd> = const { std::cell::Cell::new(-1) };
    }

    tinsel_sandbox::attack! {
        fn proc_status_shows_every_layer(t) {
            let f = fixture();
            let root = as_root();
            t.run(
                || {
                    // Opened before Landlock and kept open.
                    let status =
                        std::fs::File::open("/proc/self/status").map_err(|e| e.to_string())?;
                    let fd = status.into_raw_fd();
                    apply(&f.plan(&[fd]))?;
                    STATUS_FD.with(|c| c.set(fd));
                    Ok(())
                },
                || {
                    use std::os::fd::FromRawFd;
                    let fd = STATUS_FD.with(|c| c.get());
                    // SAFETY: the descriptor opened in setup and kept by the plan.
                    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
                    let st = Status::read_from(&mut file).unwrap();
                    eprintln!("{st:?}");
                    if root {
                        assert_eq!(st.uid, [NOBODY; 4], "uid");
                        assert_eq!(st.cap_bnd, 0, "CapBnd");
                    }
                    check::assert_confined("schedd", &st);
                    Ok(())
                },
            )
            .assert_succeeded();
        }

        /// schedd's real link to ledd, on the daemon's runtime, after the
        /// sandbox: connect, Hello, Play. The fake ledd (a thread of the
        /// re-executed test) answers and records what it was asked.
        fn a_play_reaches_ledd_after_the_sandbox(t) {
            use tinsel_proto::{FrameReader, Request, Response};
            let f = fixture();
            let socket = f.config.common.ledd_socket.clone();
            let action = f.config.schedule.entries[0].action;
            let listener = f.ledd.try_clone().unwrap();
            let server = t.in_child().then(|| {
                std::thread::spawn(move || -> Option<Request> {
                    let (mut s, _) = listener.accept().ok()?;
                    let mut reader = FrameReader::new();
                    let mut asked = Vec::new();
                    while asked.len() < 2 {
                        match reader.next_frame::<Request>().ok()? {
                            Some(r) => {
                                let reply = match r {
                                    Request::Hello { version } => {
                                        Response::Welcome(tinsel_proto::Welcome {
                                            version,
                                            role: tinsel_proto::Role::Hooks,
                                            led_count: 8,
                                            animations: tinsel_proto::AnimationSet::default(),
                                            white: false,
                                        })
                                    }
                                    _ => Response::Ok,
                                };
                                s.write_all(&tinsel_proto::encode(&reply).ok()?).ok()?;
                                asked.push(r);
                            }
                            None => {
                                let n = s.read(reader.spare()).ok()?;
                                if n == 0 {
                                    return None;
                                }
                                reader.filled(n);
                            }
                        }
                    }
                    asked.pop()
                })
            });
            let run = t.run(
                || apply(&f.plan(&[])),
                move || {
                    check::on_daemon_runtime(async move {
                        let mut link = tinsel_client::Link::new(socket, schedd::daemon::LEDD_PEER);
                        if !link.connect_if_due().await {
                            return Err(3);
                        }
                        link.request(&action.request()).await.map_err(|_| 4)?;
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        Ok(())
                    })
                },
            );
            run.assert_succeeded();
            if let Some(server) = server {
                assert_eq!(server.join().unwrap(), Some(action.request()));
            }
        }

        fn the_report_says_which_layers_are_live(t) {
            let f = fixture();
            let root = as_root();
            t.run(
                || {
                    let probe = tinsel_sandbox::landlock::probe();
                    let report = sandbox::apply(&f.plan(&[])).map_err(|e| e.to_string())?;
                    let text = report.to_string();
                    let ok = report.bounding_empty == root
                        && report.seccomp == Some(SeccompMode::Kill)
                        && report.steps.len() == 7
                        && match probe {
                            LandlockProbe::Abi(v) if v >= 6 => {
                                report.landlock.as_ref().is_some_and(|l| l.is_full())
                            }
                            LandlockProbe::Abi(_) => text.contains("OFF (kernel ABI too old)"),
                            _ => text.contains("unavailable"),
                        };
                    if ok { Ok(()) } else { Err(format!("unexpected report:\n{text}")) }
                },
                || Ok(()),
            )
            .assert_succeeded();
        }
    }
}
