//! The real webd sandbox, applied in a fresh single-threaded process, then
//! attacked: one forbidden operation per process (`tinsel_sandbox::harness`).
//! Each must be denied with the expected errno (Landlock, DAC) or kill the
//! process with SIGSYS (seccomp); a test fails if any succeeds.
//!
//! The plan attacked is the daemon's own: `webd::sandbox::daemon_plan`
//! built from a config file, as `main` builds it, then `webd::sandbox::apply`.
//! The tests are grouped by the step of `apply` they attack, in its order
//! (docs/sandbox.md's table). One file, longer than most: one module per
//! step around one fixture, so the steps read in order.
//!
//! Started as root (as CI does, and systemd on a Pi) the sandbox drops to
//! the configured user `nobody`; started by an ordinary user it stays that
//! user, and every other layer (no capabilities, no_new_privs, Landlock,
//! seccomp) is the same, so these tests run either way. The one test named
//! `as_root_*` needs root; built by an ordinary user it is reported as
//! ignored, with the reason (`build/unprivileged.rs`).

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// It attacks or measures the process itself: raw syscalls, by design.
#![allow(unsafe_code)]

use std::net::TcpListener;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use tinsel_sandbox::harness::{Report as Run, Sleeper, attack, check};
use tinsel_sandbox::libc;
use tinsel_sandbox::process::Status;
use webd::config::Config;
use webd::sandbox::{self, LandlockPolicy, LandlockProbe, Plan, SeccompMode};

const NOBODY: u32 = 65534;

/// What a sandboxed webd holds: its config file and a certificate directory
/// it may read, a secret it may not, ledd's socket, and a TCP listener.
struct Fixture {
    _dir: tempfile::TempDir,
    config: Config,
    cert: PathBuf,
    secret: PathBuf,
    ledd_socket: PathBuf,
    _ledd: UnixListener,
    listener: TcpListener,
}

/// Whether the tests started as root (then the sandbox drops to 65534).
fn as_root() -> bool {
    tinsel_sandbox::ids::resuid().1 == 0
}

/// The uid and gid the sandboxed webd ends with: the configured `nobody`
/// when started as root, else the user that started it.
fn sandboxed_ids() -> (u32, u32) {
    if as_root() {
        (NOBODY, NOBODY)
    } else {
        (
            tinsel_sandbox::ids::resuid().1,
            tinsel_sandbox::ids::resgid().1,
        )
    }
}

/// A config naming user `nobody`, this fixture's ledd socket and
/// certificate, plus `extra` TOML.
fn fixture_with(user: bool, extra: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let mode =
        |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    mode(&root, 0o755);
    let etc = root.join("etc");
    let certs = etc.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    mode(&etc, 0o755);
    mode(&certs, 0o755);
    let cert = certs.join("fullchain.pem");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let key = certs.join("privkey.pem");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    let secret = root.join("secret");
    std::fs::write(&secret, "secret\n").unwrap();
    let ledd_socket = root.join("ledd.sock");
    let config_path = etc.join("webd.toml");
    let user = if user { "user = \"nobody\"\n" } else { "" };
    std::fs::write(
        &config_path,
        format!(
            "listen = \"127.0.0.1:0\"\nledd_socket = {ledd:?}\n{user}\n[tls]\ncert = {cert:?}\nkey = {key:?}\n{extra}",
            ledd = ledd_socket.to_str().unwrap(),
            cert = cert.to_str().unwrap(),
            key = key.to_str().unwrap(),
        ),
    )
    .unwrap();
    for f in [&config_path, &cert, &key, &secret] {
        mode(f, 0o644);
    }
    let config = Config::load(&config_path).unwrap();
    let ledd = UnixListener::bind(&ledd_socket).unwrap();
    mode(&ledd_socket, 0o777);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    Fixture {
        _dir: dir,
        config,
        cert,
        secret,
        ledd_socket,
        _ledd: ledd,
        listener,
    }
}

fn fixture() -> Fixture {
    fixture_with(true, "")
}

impl Fixture {
    /// The daemon's plan for this config and listener, in `mode`, also
    /// keeping `keep` (descriptors a test smuggles in).
    fn plan_in(&self, mode: SeccompMode, keep: &[RawFd]) -> Plan {
        let mut plan = sandbox::daemon_plan(&self.config, &[self.listener.as_raw_fd()], mode)
            .expect("the fixture's config names a user that exists");
        plan.keep_fds.extend_from_slice(keep);
        plan
    }

    /// [`Fixture::plan_in`] as webd runs by default: seccomp kills.
    fn plan(&self, keep: &[RawFd]) -> Plan {
        self.plan_in(SeccompMode::Kill, keep)
    }
}

fn apply(plan: &Plan) -> Result<(), String> {
    sandbox::apply(plan).map(|_| ()).map_err(|e| e.to_string())
}

/// [`apply`], then check that the report says what this kernel's Landlock
/// covers: enforced with TCP rules (ABI ≥ 4), TCP off (older ABI), or
/// unavailable. A report that hides a missing layer fails the setup.
fn apply_and_check_landlock_report(plan: &Plan) -> Result<(), String> {
    // Probe first: landlock_create_ruleset is not in the allowlist.
    let probe = tinsel_sandbox::landlock::probe();
    let report = sandbox::apply(plan).map_err(|e| e.to_string())?;
    let text = report.to_string();
    let says = match probe {
        LandlockProbe::Abi(v) if v >= tinsel_sandbox::landlock::TCP_ABI => "TCP on",
        LandlockProbe::Abi(_) => "TCP OFF (kernel ABI too old)",
        _ => "landlock: unavailable",
    };
    if text.contains(says) {
        Ok(())
    } else {
        Err(format!(
            "the report should say {says:?} on this kernel ({probe}):\n{text}"
        ))
    }
}

/// The full sandbox, then `attack`.
fn attacked(t: &tinsel_sandbox::harness::Attack, attack: impl FnOnce() -> Result<(), i32>) -> Run {
    let f = fixture();
    t.run(|| apply(&f.plan(&[])), attack)
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
            let leaked = std::fs::File::open(&f.config.path).unwrap().into_raw_fd();
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
            let f = fixture_with(false, "");
            t.run(
                || {
                    let plan = f.plan(&[]);
                    assert!(plan.user.is_none(), "the config names no user");
                    apply(&plan)
                },
                || Ok(()),
            )
            .assert_setup_failed("no user to drop to");
        }
    }

    #[test]
    fn the_daemon_plan_is_built_from_the_config() {
        let f = fixture_with(true, "[sandbox]\nlandlock = \"required\"\n");
        let plan = f.plan_in(SeccompMode::Log, &[]);
        assert_eq!(plan.keep_fds, vec![f.listener.as_raw_fd()]);
        let user = plan.user.as_ref().expect("user from the config");
        assert_eq!((user.uid, user.gid), (NOBODY, NOBODY));
        assert_eq!(plan.read_only_paths[0], f.config.path);
        assert!(
            plan.read_only_paths
                .contains(&f.cert.parent().unwrap().to_owned()),
            "{:?}",
            plan.read_only_paths
        );
        assert!(!plan.read_only_paths.contains(&f.secret));
        assert_eq!(plan.ledd_socket, f.ledd_socket);
        assert_eq!(plan.landlock, LandlockPolicy::Required);
        assert_eq!(plan.seccomp, SeccompMode::Log);
    }
}

/// Step 3, `clear_capabilities`.
mod clear_capabilities {
    use super::*;

    tinsel_sandbox::attack! {
        /// Started without capabilities (an ordinary user; as root the test
        /// first becomes `nobody`): nothing to drop, and the report says so
        /// instead of warning about the bounding set it cannot drop.
        fn started_without_capabilities_the_report_says_nothing_was_dropped(t) {
            let f = fixture();
            t.run(
                || {
                    if as_root() {
                        let nobody = tinsel_sandbox::ids::Identity::from_ids(NOBODY, NOBODY);
                        tinsel_sandbox::ids::switch_to(&nobody).map_err(|e| e.to_string())?;
                    }
                    let report = sandbox::apply(&f.plan(&[])).map_err(|e| e.to_string())?;
                    let text = format!("{:?}", report.steps);
                    if report.started_without_capabilities
                        && text.contains("no capabilities held, nothing to drop")
                        && text.contains("bounding left as inherited (started without capabilities)")
                        && report.seccomp == Some(SeccompMode::Kill)
                    {
                        Ok(())
                    } else {
                        Err(format!("unexpected report: {text}"))
                    }
                },
                || attack::socket(libc::AF_INET, libc::SOCK_STREAM),
            )
            .assert_killed_by_sigsys();
        }
    }
}

/// Step 5, `restrict_filesystem_and_network`: files. On a kernel with
/// Landlock, EACCES; on one without, the report says so and a
/// world-readable file is readable (seccomp still forbids writing).
mod landlock_fs {
    use super::*;

    fn assert_fs_denied(run: &Run) {
        if tinsel_sandbox::landlock::probe().abi().is_some() {
            run.assert_denied(&[libc::EACCES]);
        } else {
            run.assert_succeeded();
        }
    }

    fn read_attack(t: &tinsel_sandbox::harness::Attack, path: impl Fn(&Fixture) -> PathBuf) -> Run {
        let f = fixture();
        let path = path(&f);
        t.run(
            || apply_and_check_landlock_report(&f.plan(&[])),
            || attack::read_file(path.to_str().unwrap()),
        )
    }

    tinsel_sandbox::attack! {
        fn reading_etc_passwd_is_denied(t) {
            assert_fs_denied(&read_attack(&t, |_| "/etc/passwd".into()));
        }

        /// Also DAC-denied to uid 65534, so EACCES on every kernel.
        fn reading_etc_shadow_is_denied(t) {
            attacked(&t, || attack::read_file("/etc/shadow")).assert_denied(&[libc::EACCES]);
        }

        fn reading_a_file_outside_the_plan_is_denied(t) {
            assert_fs_denied(&read_attack(&t, |f| f.secret.clone()));
        }

        /// What SIGHUP reload needs.
        fn the_config_file_and_certificate_stay_readable(t) {
            let f = fixture();
            let (config, cert) = (f.config.path.clone(), f.cert.clone());
            t.run(
                || apply(&f.plan(&[])),
                || {
                    attack::read_file(config.to_str().unwrap())?;
                    attack::read_file(cert.to_str().unwrap())?;
                    std::fs::read_dir(cert.parent().unwrap())
                        .map(|_| ())
                        .map_err(|e| e.raw_os_error().unwrap_or(-1))
                },
            )
            .assert_succeeded();
        }
    }
}

/// Step 5, `restrict_filesystem_and_network`: TCP (ABI ≥ 4), and ledd's
/// pathname socket, which Landlock does not mediate.
mod landlock_net {
    use super::*;

    tinsel_sandbox::attack! {
        /// webd cannot make a TCP socket (seccomp); this gives it one
        /// anyway, made before the sandbox, as a stronger attacker would
        /// have, and tries to reach a listener the test opened. Without
        /// Landlock TCP rules (no Landlock, or ABI < 4) the report says TCP
        /// confinement is off and the smuggled socket connects.
        fn tcp_connect_to_a_loopback_listener_is_denied(t) {
            let f = fixture();
            let target = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = target.local_addr().unwrap().port();
            let smuggled = attack::socket_fd(libc::AF_INET, libc::SOCK_STREAM).unwrap();
            let run = t.run(
                || apply_and_check_landlock_report(&f.plan(&[smuggled])),
                || attack::connect_tcp_v4(smuggled, port),
            );
            match tinsel_sandbox::landlock::probe().abi() {
                Some(v) if v >= tinsel_sandbox::landlock::TCP_ABI => {
                    run.assert_denied(&[libc::EACCES])
                }
                _ => run.assert_succeeded(),
            }
        }

        /// The TCP socket webd really holds: its listener.
        fn connect_through_the_listening_socket_is_denied(t) {
            let f = fixture();
            let target = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = target.local_addr().unwrap().port();
            let listener = f.listener.as_raw_fd();
            t.run(
                || apply(&f.plan(&[])),
                || attack::connect_tcp_v4(listener, port),
            )
            .assert_denied(&[libc::EACCES, libc::EISCONN, libc::EINVAL]);
        }

        fn ledd_socket_is_reachable(t) {
            let f = fixture();
            let path = f.ledd_socket.clone();
            t.run(|| apply(&f.plan(&[])), || attack::connect_unix(&path))
                .assert_succeeded();
        }
    }
}

/// Step 5 on kernels without Landlock or with an old ABI (simulated with
/// an injected probe), and `sandbox.landlock = "required"`.
mod landlock_fallbacks {
    use super::*;

    tinsel_sandbox::attack! {
        /// Honest fallback: without Landlock, a world-readable file is
        /// readable, and the report says Landlock is unavailable.
        fn kernel_without_landlock_runs_best_effort_and_says_so(t) {
            let f = fixture();
            t.run(
                || {
                    let report = sandbox::apply_with_probe(&f.plan(&[]), LandlockProbe::NotBuilt)
                        .map_err(|e| e.to_string())?;
                    let text = report.to_string();
                    if !text.contains("landlock: unavailable") {
                        return Err(format!("report hides the missing Landlock:\n{text}"));
                    }
                    Ok(())
                },
                || attack::read_file("/etc/passwd"),
            )
            .assert_succeeded();
        }

        fn kernel_without_landlock_still_kills_inet_sockets(t) {
            let f = fixture();
            t.run(
                || {
                    sandbox::apply_with_probe(&f.plan(&[]), LandlockProbe::NotBuilt)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                },
                || attack::socket(libc::AF_INET, libc::SOCK_STREAM),
            )
            .assert_killed_by_sigsys();
        }

        fn landlock_required_without_landlock_is_fatal(t) {
            let f = fixture_with(true, "[sandbox]\nlandlock = \"required\"\n");
            t.run(
                || {
                    sandbox::apply_with_probe(&f.plan(&[]), LandlockProbe::NotBuilt)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                },
                || Ok(()),
            )
            .assert_setup_failed("required");
        }

        fn landlock_required_with_an_old_abi_is_fatal(t) {
            let f = fixture_with(true, "[sandbox]\nlandlock = \"required\"\n");
            t.run(
                || {
                    sandbox::apply_with_probe(&f.plan(&[]), LandlockProbe::Abi(2))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                },
                || Ok(()),
            )
            .assert_setup_failed("ABI 2");
        }

        fn landlock_blocked_by_a_filter_is_fatal_even_best_effort(t) {
            let f = fixture();
            t.run(
                || {
                    sandbox::apply_with_probe(&f.plan(&[]), LandlockProbe::Blocked(libc::EPERM))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                },
                || Ok(()),
            )
            .assert_setup_failed("blocked");
        }

        fn landlock_required_on_this_kernel(t) {
            let f = fixture_with(true, "[sandbox]\nlandlock = \"required\"\n");
            let run = t.run(|| apply(&f.plan(&[])), || attack::read_file("/etc/passwd"));
            match tinsel_sandbox::landlock::probe().abi() {
                Some(v) if v >= 6 => run.assert_denied(&[libc::EACCES]),
                _ => run.assert_setup_failed("required"),
            }
        }
    }

    #[test]
    fn landlock_policy_parses_config_values() {
        assert_eq!(
            LandlockPolicy::parse(Some("required")),
            Ok(LandlockPolicy::Required)
        );
        assert_eq!(
            LandlockPolicy::parse(Some("best-effort")),
            Ok(LandlockPolicy::BestEffort)
        );
        assert!(LandlockPolicy::parse(Some("off")).is_err());
    }
}

/// Step 6, `install_seccomp`: each forbidden call kills webd with SIGSYS.
mod install_seccomp {
    use super::*;

    tinsel_sandbox::attack! {
        /// openat with O_WRONLY|O_CREAT fails seccomp's read-only flags check.
        fn writing_under_tmp_is_killed(t) {
            let path = format!("/tmp/tinsel-webd-sandbox-{}", std::process::id());
            attacked(&t, || attack::write_file(&path)).assert_killed_by_sigsys();
            assert!(!Path::new(&path).exists());
        }

        fn execve_bin_true_is_killed(t) {
            attacked(&t, || attack::exec("/bin/true")).assert_killed_by_sigsys();
        }

        fn ptrace_is_killed(t) {
            let target = Sleeper::start();
            let pid = target.pid();
            attacked(&t, || attack::ptrace_attach(pid)).assert_killed_by_sigsys();
        }

        fn setuid_root_is_killed(t) {
            attacked(&t, || attack::setuid(0)).assert_killed_by_sigsys();
        }

        fn mount_is_killed(t) {
            attacked(&t, || attack::mount_tmpfs("/tmp")).assert_killed_by_sigsys();
        }

        fn unshare_is_killed(t) {
            attacked(&t, || attack::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET))
                .assert_killed_by_sigsys();
        }

        fn kill_of_another_process_is_killed(t) {
            let mut sleeper = Sleeper::start();
            let pid = sleeper.pid();
            let run = attacked(&t, || attack::kill(pid, libc::SIGTERM));
            let still_running = sleeper.is_running();
            run.assert_killed_by_sigsys();
            assert!(still_running, "the sleeper was signalled");
        }

        fn tgkill_of_another_process_is_killed(t) {
            let sleeper = Sleeper::start();
            let pid = sleeper.pid();
            attacked(&t, || attack::tgkill(pid, libc::SIGTERM)).assert_killed_by_sigsys();
        }

        fn write_exec_mmap_is_killed(t) {
            attacked(&t, attack::mmap_write_exec).assert_killed_by_sigsys();
        }

        fn write_exec_mprotect_is_killed(t) {
            attacked(&t, attack::mprotect_write_exec).assert_killed_by_sigsys();
        }

        fn fork_is_killed(t) {
            attacked(&t, attack::fork).assert_killed_by_sigsys();
        }

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

        fn socket_af_packet_is_killed(t) {
            attacked(&t, || attack::socket(libc::AF_PACKET, libc::SOCK_RAW))
                .assert_killed_by_sigsys();
        }

        fn unix_datagram_socket_is_killed(t) {
            attacked(&t, || attack::socket(libc::AF_UNIX, libc::SOCK_DGRAM))
                .assert_killed_by_sigsys();
        }

        /// `--seccomp-log`: the daemon's plan in log mode lets the call through.
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

/// After every step: what the kernel reports (`/proc`), what webd reports,
/// and what `webd check` prints.
mod report {
    use super::*;

    thread_local! {
        static STATUS_FD: std::cell::Cell<RawFd> = const { std::cell::Cell::new(-1) };
    }

    tinsel_sandbox::attack! {
        fn proc_status_shows_every_layer(t) {
            let f = fixture();
            // Asked before the sandbox: getresuid is not in webd's allowlist.
            let ((uid, gid), root) = (sandboxed_ids(), as_root());
            let groups = f.plan(&[]).user.map(|u| u.groups).unwrap_or_default();
            t.run(
                || {
                    // Opened before Landlock (which denies /proc) and kept open.
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
                    assert_eq!(st.uid, [uid; 4], "uid");
                    assert_eq!(st.gid, [gid; 4], "gid");
                    if root {
                        assert_eq!(st.groups, groups, "groups: the configured user's");
                        assert_eq!(st.cap_bnd, 0, "CapBnd");
                    }
                    check::assert_confined("webd", &st);
                    Ok(())
                },
            )
            .assert_succeeded();
        }

        fn the_report_says_which_layers_are_live(t) {
            let f = fixture();
            let ((uid, _), root) = (sandboxed_ids(), as_root());
            t.run(
                || {
                    // Probe first: landlock_create_ruleset is not in the allowlist.
                    let probe = tinsel_sandbox::landlock::probe();
                    let report = sandbox::apply(&f.plan(&[])).map_err(|e| e.to_string())?;
                    let text = report.to_string();
                    eprintln!("{text}");
                    let ok = report.uid == uid
                        && report.bounding_empty == root
                        && report.seccomp == Some(SeccompMode::Kill)
                        && report.steps.len() == 7
                        && text.contains("seccomp: allowlist")
                        && match probe {
                            LandlockProbe::Abi(v) if v >= 6 => {
                                report.landlock.as_ref().is_some_and(|l| l.is_full())
                            }
                            LandlockProbe::Abi(_) => text.contains("OFF (kernel ABI too old)"),
                            _ => text.contains("unavailable"),
                        };
                    if ok {
                        Ok(())
                    } else {
                        Err(format!("unexpected report:\n{text}"))
                    }
                },
                || Ok(()),
            )
            .assert_succeeded();
        }
    }

    #[test]
    fn kernel_support_report_is_a_table() {
        let k = sandbox::report();
        let table = sandbox::check();
        assert!(table.contains("landlock"), "{table}");
        assert!(table.contains("seccomp"), "{table}");
        assert!(k.seccomp_kill_process);
        match k.landlock {
            LandlockProbe::Abi(v) => assert!(table.contains(&format!("ABI {v}")), "{table}"),
            // A kernel without Landlock: the table says NO and why.
            p => assert!(table.contains(&format!("NO: {p}")), "{table}"),
        }
    }
}

/// After every step: the runtime webd needs still works.
mod runtime {
    use super::*;

    tinsel_sandbox::attack! {
        /// The shape of webd after `apply`: a current-thread runtime, the
        /// inherited listener, a spawn_blocking thread, a timer, a Unix
        /// client, signal handling.
        fn a_tokio_runtime_serves_tcp_after_the_sandbox(t) {
            let f = fixture();
            let ledd = f.ledd_socket.clone();
            let port = f.listener.local_addr().unwrap().port();
            let std_listener = f.listener.try_clone().unwrap();
            std_listener.set_nonblocking(true).unwrap();
            let std_fd = std_listener.as_raw_fd();
            // Only the re-executed child's grandchild serves this listener.
            let client = check::client(
                &t,
                move || std::net::TcpStream::connect(("127.0.0.1", port)),
                b"ping",
                b"pong",
            );
            let run = t.run(
                || apply(&f.plan(&[std_fd])),
                move || {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    check::on_daemon_runtime(async move {
                        let listener =
                            tokio::net::TcpListener::from_std(std_listener).map_err(|_| 3)?;
                        let (mut conn, _) = listener.accept().await.map_err(|_| 4)?;
                        let mut buf = [0; 4];
                        conn.read_exact(&mut buf).await.map_err(|_| 5)?;
                        let n = tokio::task::spawn_blocking(|| 21 * 2)
                            .await
                            .map_err(|_| 6)?;
                        tokio::time::sleep(std::time::Duration::from_millis(n)).await;
                        tokio::net::UnixStream::connect(&ledd)
                            .await
                            .map_err(|_| 7)?;
                        conn.write_all(b"pong").await.map_err(|_| 8)?;
                        Ok(())
                    })
                },
            );
            run.assert_succeeded();
            // In the re-executed child the client talked to the grandchild;
            // in the original process the listener is only echoed through
            // the outcome.
            if let Some(client) = client {
                assert!(client.join().unwrap(), "client did not get pong");
            }
        }
    }
}

/// With `[page] enabled = true`: the devices directory is the one place
/// webd writes (Landlock's only writable rule, seccomp's only writing
/// `openat` form: a new file), and everything a device needs works there.
mod devices_dir {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt as _;

    /// A fixture with the page on and its devices directory made, owned by
    /// the user the sandbox ends as.
    fn page_fixture() -> (Fixture, PathBuf) {
        let f = fixture_with(true, "[page]\nenabled = true\ndevices_dir = \"devices\"\n");
        let dir = f.config.page.devices_dir.clone();
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let (uid, gid) = sandboxed_ids();
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        (f, dir)
    }

    fn errno(e: std::io::Error) -> i32 {
        e.raw_os_error().unwrap_or(-1)
    }

    /// `O_WRONLY | O_CREAT | O_EXCL`: the one way webd may open to write.
    fn create_new(path: &Path) -> Result<(), i32> {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map(|_| ())
            .map_err(errno)
    }

    /// Landlock denies it where the kernel has Landlock; without it, the
    /// unit's `ReadWritePaths=` is what stands (not tested here).
    fn assert_fs_denied(run: &Run) {
        if tinsel_sandbox::landlock::probe().abi().is_some() {
            run.assert_denied(&[libc::EACCES, libc::EXDEV]);
        } else {
            run.assert_succeeded();
        }
    }

    #[test]
    fn the_plan_names_the_devices_dir_as_its_one_writable_place() {
        let (f, dir) = page_fixture();
        assert_eq!(f.plan(&[]).writable_dirs, vec![dir]);
        assert!(fixture().plan(&[]).writable_dirs.is_empty());
    }

    tinsel_sandbox::attack! {
        /// Pairing and using a device, as webd does it, inside the sandbox.
        fn a_device_pairs_and_is_used_inside_the_sandbox(t) {
            let (f, dir) = page_fixture();
            let store = webd::devices::Store::new(&dir);
            let code = store.add_pairing("phone", 0, u64::MAX, 4).unwrap();
            t.run(
                || apply_and_check_landlock_report(&f.plan(&[])),
                move || {
                    let (found, cookie) =
                        store.redeem(&code, 1, 1000, 4).map_err(|_| 1)?;
                    store.authenticate(&cookie, 2).map_err(|_| 2)?.ok_or(3)?;
                    store.touch(&found, 1 + 2 * webd::devices::TOUCH_PERIOD).map_err(|_| 4)?;
                    (store.devices().map_err(|_| 5)?.len() == 1).then_some(()).ok_or(6)
                },
            )
            .assert_succeeded();
        }

        fn creating_a_file_beside_the_config_is_denied(t) {
            let (f, _) = page_fixture();
            let target = f.config.path.with_file_name("planted");
            let run = t.run(|| apply(&f.plan(&[])), || create_new(&target));
            assert_fs_denied(&run);
            if tinsel_sandbox::landlock::probe().abi().is_some() {
                assert!(!target.exists());
            }
        }

        fn creating_a_file_under_tmp_is_denied(t) {
            let (f, _) = page_fixture();
            let target = PathBuf::from(format!("/tmp/tinsel-webd-page-{}", std::process::id()));
            let run = t.run(|| apply(&f.plan(&[])), || create_new(&target));
            assert_fs_denied(&run);
            let _ = std::fs::remove_file(&target);
        }

        fn moving_a_device_file_out_of_the_dir_is_denied(t) {
            let (f, dir) = page_fixture();
            let inside = dir.join("device-0000000000000000");
            std::fs::write(&inside, "{}").unwrap();
            let (uid, gid) = sandboxed_ids();
            std::os::unix::fs::chown(&inside, Some(uid), Some(gid)).unwrap();
            let outside = f.config.path.with_file_name("moved");
            let run = t.run(
                || apply(&f.plan(&[])),
                || std::fs::rename(&inside, &outside).map_err(errno),
            );
            assert_fs_denied(&run);
        }

        fn removing_the_config_file_is_denied(t) {
            let (f, _) = page_fixture();
            let config = f.config.path.clone();
            let run = t.run(|| apply(&f.plan(&[])), || std::fs::remove_file(&config).map_err(errno));
            // As nobody, DAC denies it too (the directory is root's).
            if as_root() {
                run.assert_denied(&[libc::EACCES]);
            } else {
                assert_fs_denied(&run);
            }
            assert!(config.exists());
        }

        /// An existing file opened for writing (truncating): seccomp kills,
        /// even in the devices directory.
        fn truncating_a_file_in_the_devices_dir_is_killed(t) {
            let (f, dir) = page_fixture();
            let path = dir.join("device-0000000000000000");
            t.run(|| apply(&f.plan(&[])), || attack::write_file(path.to_str().unwrap()))
                .assert_killed_by_sigsys();
        }

        fn appending_to_a_file_in_the_devices_dir_is_killed(t) {
            let (f, dir) = page_fixture();
            let path = dir.join("device-0000000000000000");
            std::fs::write(&path, "{}").unwrap();
            t.run(
                || apply(&f.plan(&[])),
                || {
                    std::fs::OpenOptions::new()
                        .append(true)
                        .open(&path)
                        .map(|_| ())
                        .map_err(errno)
                },
            )
            .assert_killed_by_sigsys();
        }
    }
}
