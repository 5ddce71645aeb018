//! Each confinement step on its own, proven by an attack in a fresh
//! single-threaded process (see `tinsel_sandbox::harness`), one module per
//! step in the order of docs/sandbox.md's table (one file, longer than
//! most, so the steps read in order around one fixture). Landlock,
//! seccomp and no_new_privs need no privilege: those tests run as any user.
//! The tests named `as_root_*` change uids or need capabilities and drop to
//! uid/gid 65534; built by an ordinary user they are reported as ignored,
//! with the reason (`build/unprivileged.rs`). CI and the emulated Pi Zero
//! run them as root.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tinsel_sandbox::caps;
use tinsel_sandbox::harness::{self, Sleeper, attack};
use tinsel_sandbox::ids::{self, Identity};
use tinsel_sandbox::landlock::{self as ll, LandlockPolicy, Probe};
use tinsel_sandbox::libc;
use tinsel_sandbox::process::{self, Status};
use tinsel_sandbox::seccomp::{self, Action, Filter};
use tinsel_sandbox::syscalls as groups;

const NOBODY: u32 = 65534;

fn nobody() -> Identity {
    Identity::from_ids(NOBODY, NOBODY)
}

fn ok(r: std::io::Result<()>, what: &str) -> Result<(), String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// A world-readable temporary directory with a config file, a secret file
/// and a Unix socket anyone may connect to.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    secret: PathBuf,
    socket: PathBuf,
    _listener: std::os::unix::net::UnixListener,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let allowed = root.join("etc");
    std::fs::create_dir(&allowed).unwrap();
    std::fs::set_permissions(&allowed, std::fs::Permissions::from_mode(0o777)).unwrap();
    let config = allowed.join("webd.toml");
    std::fs::write(&config, "listen = []\n").unwrap();
    let secret = root.join("secret");
    std::fs::write(&secret, "not for the sandbox\n").unwrap();
    for f in [&config, &secret] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let socket = root.join("ledd.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    Fixture {
        _dir: dir,
        root,
        config,
        secret,
        socket,
        _listener: listener,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Step `drop_privileges`: the uid/gid change and its proof.
mod privileges {
    use super::*;

    tinsel_sandbox::attack! {
        as_root("needs root: drops to uid 65534")
        fn as_root_dropped_uid_cannot_return_to_root(t) {
            t.run(
                || ids::switch_to(&nobody()).map_err(|e| e.to_string()),
                attack::setresuid_root,
            )
            .assert_denied(&[libc::EPERM]);
        }

        as_root("needs root: drops to uid 65534")
        fn as_root_prove_irreversible_passes_after_the_drop(t) {
            t.run(
                || {
                    ids::switch_to(&nobody()).map_err(|e| e.to_string())?;
                    ids::prove_irreversible().map_err(|e| e.to_string())
                },
                || {
                    assert_eq!(ids::resuid(), (NOBODY, NOBODY, NOBODY));
                    assert_eq!(ids::resgid(), (NOBODY, NOBODY, NOBODY));
                    Ok(())
                },
            )
            .assert_succeeded();
        }
    }

    #[test]
    fn switching_to_root_is_refused() {
        assert!(matches!(
            ids::switch_to(&Identity::from_ids(0, 0)),
            Err(ids::IdError::TargetIsRoot)
        ));
    }

    #[test]
    fn nobody_resolves_by_name() {
        let id = Identity::from_names("nobody", None).unwrap();
        assert_eq!(id.uid, NOBODY);
        assert!(matches!(
            Identity::from_names("no-such-user-tinsel", None),
            Err(ids::IdError::NoSuchUser(_))
        ));
    }
}

/// Step `clear_capabilities` (and the bounding set of `drop_privileges`).
mod capabilities {
    use super::*;

    tinsel_sandbox::attack! {
        /// uid stays 0: proves capabilities, not the uid, are what is
        /// dropped (ledd stays root and relies on exactly this).
        as_root("needs root: drops the capabilities of uid 0")
        fn as_root_root_without_capabilities_cannot_bind_a_privileged_port(t) {
            t.run(
                || {
                    ok(caps::drop_bounding_set(0), "bounding")?;
                    ok(caps::clear_ambient(), "ambient")?;
                    ok(caps::restrict_sets(0), "capset")
                },
                || {
                    let st = Status::current().unwrap();
                    assert_eq!(st.uid[1], 0, "still root");
                    assert_eq!(
                        (st.cap_eff, st.cap_prm, st.cap_inh, st.cap_bnd, st.cap_amb),
                        (0, 0, 0, 0, 0)
                    );
                    std::net::TcpListener::bind("127.0.0.1:81")
                        .map(|_| ())
                        .map_err(|e| e.raw_os_error().unwrap_or(-1))
                },
            )
            .assert_denied(&[libc::EACCES]);
        }

        as_root("needs root: drops the bounding set and the uid")
        fn as_root_capabilities_stay_cleared_after_the_uid_change(t) {
            t.run(
                || {
                    ok(caps::drop_bounding_set(0), "bounding")?;
                    ids::switch_to(&nobody()).map_err(|e| e.to_string())?;
                    ok(caps::restrict_sets(0), "capset")
                },
                || {
                    assert_eq!(caps::get().unwrap(), caps::CapSets::default());
                    assert_eq!(caps::bounding_set().unwrap(), 0);
                    assert!(caps::ambient_is_empty().unwrap());
                    // Raising anything back must fail.
                    caps::set(caps::CapSets {
                        effective: 1,
                        permitted: 1,
                        inheritable: 0,
                    })
                    .map_err(|e| e.raw_os_error().unwrap_or(-1))
                },
            )
            .assert_denied(&[libc::EPERM]);
        }
    }
}

/// Step `set_no_new_privs`: a setuid-root binary, with and without it.
mod no_new_privs {
    use super::*;

    /// A setuid-root copy of `id` in a temporary directory (nothing system-wide).
    fn setuid_id(dir: &Path) -> PathBuf {
        let target = dir.join("setuid-id");
        std::fs::copy("/usr/bin/id", &target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o4755)).unwrap();
        target
    }

    fn euid_of(exe: &Path) -> Result<(), i32> {
        let out = std::process::Command::new(exe)
            .arg("-u")
            .output()
            .map_err(|e| e.raw_os_error().unwrap_or(-1))?;
        let euid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        // "attack succeeded" means: the setuid bit made us root again.
        if euid == "0" {
            Ok(())
        } else {
            Err(1000 + euid.parse::<i32>().unwrap_or(0) % 1000)
        }
    }

    tinsel_sandbox::attack! {
        /// The control for the next test: the setuid copy really works.
        as_root("needs root: makes a setuid-root binary")
        fn as_root_without_no_new_privs_a_setuid_binary_regains_root(t) {
            let f = fixture();
            let exe = setuid_id(&f.root);
            t.run(
                || ids::switch_to(&nobody()).map_err(|e| e.to_string()),
                || euid_of(&exe),
            )
            .assert_succeeded();
        }

        as_root("needs root: makes a setuid-root binary")
        fn as_root_no_new_privs_stops_a_setuid_binary(t) {
            let f = fixture();
            let exe = setuid_id(&f.root);
            t.run(
                || {
                    ok(caps::set_no_new_privs(), "no_new_privs")?;
                    ids::switch_to(&nobody()).map_err(|e| e.to_string())
                },
                || euid_of(&exe),
            )
            // id printed 65534: errno-like code 1000 + 65534 % 1000.
            .assert_denied(&[1000 + (NOBODY as i32 % 1000)]);
        }
    }
}

/// Step `close_inherited_fds`.
mod close_inherited_fds {
    use super::*;

    tinsel_sandbox::attack! {
        fn inherited_descriptors_are_closed_except_the_kept_ones(t) {
            let f = fixture();
            t.run(
                || Ok(()),
                || {
                    use std::os::fd::IntoRawFd;
                    let leaked = std::fs::File::open(&f.config).unwrap().into_raw_fd();
                    let kept = std::fs::File::open(&f.config).unwrap().into_raw_fd();
                    process::close_inherited_fds(&[kept]).unwrap();
                    let open = process::open_fds().unwrap();
                    assert!(open.contains(&kept), "kept fd {kept} closed: {open:?}");
                    assert!(
                        open.iter().all(|&fd| fd <= 2 || fd == kept),
                        "extra fds open: {open:?}"
                    );
                    attack::fd_is_open(leaked)
                },
            )
            .assert_denied(&[libc::EBADF]);
        }
    }
}

// ---- Landlock -----------------------------------------------------------

fn landlock_rules(f: &Fixture) -> ll::Rules {
    ll::Rules {
        read_only: vec![f.config.clone()],
        read_write: vec![],
        deny_tcp: true,
        connect_tcp: Vec::new(),
        scope: true,
    }
}

/// The first ABI with filesystem rules: every Landlock kernel has them.
const FS_ABI: i32 = 1;

/// The outcome best-effort [`ll::restrict`] of [`landlock_rules`] must
/// report on a kernel that answers the probe with `probe`, as the value and
/// as the exact text: enforced with the parts its ABI has, or unavailable.
/// `None` for a blocked call, which is an error instead.
fn expected_outcome(probe: Probe) -> Option<(ll::Outcome, String)> {
    match probe {
        Probe::Abi(abi) => {
            let on = |min: i32| {
                if abi >= min {
                    "on"
                } else {
                    "OFF (kernel ABI too old)"
                }
            };
            let text = format!(
                "enforced (ABI {abi}): filesystem on, TCP {}, scopes {}",
                on(ll::TCP_ABI),
                on(ll::SCOPE_ABI)
            );
            let outcome = ll::Outcome::Enforced {
                abi,
                fs: true,
                tcp: abi >= ll::TCP_ABI,
                scopes: abi >= ll::SCOPE_ABI,
            };
            Some((outcome, text))
        }
        Probe::NotBuilt | Probe::NotEnabled => Some((
            ll::Outcome::Unavailable(probe),
            format!("unavailable: {probe}"),
        )),
        Probe::Blocked(_) => None,
    }
}

/// Best-effort Landlock with [`landlock_rules`]; the setup fails unless the
/// outcome, and its report, are exactly what this kernel offers.
fn landlocked(f: &Fixture) -> Result<(), String> {
    let probe = ll::probe();
    let out = ll::restrict(&landlock_rules(f), LandlockPolicy::BestEffort, probe)
        .map_err(|e| e.to_string())?;
    let (expected, text) = expected_outcome(probe)
        .ok_or_else(|| format!("restrict ignored a blocked probe: {out}"))?;
    if out != expected || out.to_string() != text {
        return Err(format!(
            "on this kernel ({probe}) the report should be {text:?}, got {out:?}: {out}"
        ));
    }
    Ok(())
}

/// How an attack on Landlock must end on this kernel: denied with one of
/// `errnos` when the kernel's ABI has the rule (`min_abi` or later);
/// otherwise (an older ABI, or no Landlock, which [`landlocked`] checked
/// the report states) the attack succeeds; a blocked call fails the setup.
#[track_caller]
fn assert_landlock_outcome(report: &harness::Report, min_abi: i32, errnos: &[i32]) {
    match ll::probe() {
        Probe::Abi(abi) if abi >= min_abi => report.assert_denied(errnos),
        Probe::Abi(_) | Probe::NotBuilt | Probe::NotEnabled => report.assert_succeeded(),
        Probe::Blocked(_) => report.assert_setup_failed("is blocked"),
    }
}

/// Step `restrict_filesystem_and_network`, filesystem rules (ABI 1–5).
/// With Landlock each forbidden access is EACCES; on a kernel without it
/// the setup checks the report says "unavailable" and the access succeeds
/// (the fixture's files are world-readable, the config writable by its
/// owner, `/tmp` writable by all).
mod landlock_fs {
    use super::*;

    tinsel_sandbox::attack! {
        fn landlock_allows_the_config_file(t) {
            let f = fixture();
            t.run(|| landlocked(&f), || attack::read_file(s(&f.config)))
                .assert_succeeded();
        }

        fn landlock_denies_reading_outside_the_allowed_paths(t) {
            let f = fixture();
            let report = t.run(|| landlocked(&f), || attack::read_file(s(&f.secret)));
            assert_landlock_outcome(&report, FS_ABI, &[libc::EACCES]);
        }

        fn landlock_denies_etc_passwd_even_to_root(t) {
            let f = fixture();
            let report = t.run(|| landlocked(&f), || attack::read_file("/etc/passwd"));
            assert_landlock_outcome(&report, FS_ABI, &[libc::EACCES]);
        }

        fn landlock_denies_writing_the_allowed_config(t) {
            let f = fixture();
            let target = f.config.clone();
            let report = t.run(
                || landlocked(&f),
                || {
                    std::fs::OpenOptions::new()
                        .append(true)
                        .open(&target)
                        .map(|_| ())
                        .map_err(|e| e.raw_os_error().unwrap_or(-1))
                },
            );
            assert_landlock_outcome(&report, FS_ABI, &[libc::EACCES]);
        }

        fn landlock_denies_creating_files_under_tmp(t) {
            let f = fixture();
            let path = format!("/tmp/tinsel-landlock-{}", std::process::id());
            let report = t.run(|| landlocked(&f), || attack::write_file(&path));
            // Without Landlock the file was made: do not leave it behind.
            let _ = std::fs::remove_file(&path);
            assert_landlock_outcome(&report, FS_ABI, &[libc::EACCES]);
        }
    }

    #[test]
    fn landlock_missing_path_is_an_error_not_a_skipped_rule() {
        let f = fixture();
        let rules = ll::Rules {
            read_only: vec![f.root.join("does-not-exist")],
            read_write: vec![],
            deny_tcp: true,
            connect_tcp: Vec::new(),
            scope: true,
        };
        // Fails before restricting anything, so it can run in-process. A
        // kernel without Landlock has no rule to skip: best effort reports
        // it unavailable and never opens the paths.
        let probe = ll::probe();
        let result = ll::restrict(&rules, LandlockPolicy::BestEffort, probe);
        match probe {
            Probe::Abi(_) => {
                assert!(
                    matches!(result, Err(ll::LandlockError::Path { .. })),
                    "{result:?}"
                )
            }
            Probe::NotBuilt | Probe::NotEnabled => {
                assert_eq!(result.unwrap(), ll::Outcome::Unavailable(probe))
            }
            Probe::Blocked(_) => {
                assert!(
                    matches!(result, Err(ll::LandlockError::Blocked(_))),
                    "{result:?}"
                )
            }
        }
    }
}

/// Step `restrict_filesystem_and_network`, network: TCP rules (ABI ≥ 4)
/// and what Landlock does not mediate (pathname Unix sockets). Below ABI 4
/// (the Pi Zero's ABI 2) or without Landlock the setup checks the report
/// says TCP is off or Landlock unavailable, and TCP works: seccomp's
/// socket() rule carries the weight there.
mod landlock_net {
    use super::*;

    tinsel_sandbox::attack! {
        /// The documented fact webd relies on to reach ledd with no rule for it.
        fn landlock_does_not_mediate_connecting_to_a_pathname_unix_socket(t) {
            let f = fixture();
            if let Probe::Abi(abi) = ll::probe() {
                assert!(
                    abi < 9,
                    "ABI {abi} mediates Unix connect (RESOLVE_UNIX): add a rule for ledd's socket"
                );
            }
            t.run(|| landlocked(&f), || attack::connect_unix(&f.socket))
                .assert_succeeded();
        }

        fn landlock_denies_tcp_connect_to_a_loopback_listener(t) {
            let f = fixture();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let report = t.run(
                || landlocked(&f),
                || {
                    let fd = attack::socket_fd(libc::AF_INET, libc::SOCK_STREAM)?;
                    attack::connect_tcp_v4(fd, port)
                },
            );
            assert_landlock_outcome(&report, ll::TCP_ABI, &[libc::EACCES]);
        }

        fn landlock_denies_tcp_bind(t) {
            let f = fixture();
            let report = t.run(
                || landlocked(&f),
                || {
                    std::net::TcpListener::bind("127.0.0.1:0")
                        .map(|_| ())
                        .map_err(|e| e.raw_os_error().unwrap_or(-1))
                },
            );
            assert_landlock_outcome(&report, ll::TCP_ABI, &[libc::EACCES]);
        }
    }
}

/// Step `restrict_filesystem_and_network`, scopes (ABI ≥ 6): signals and
/// abstract Unix sockets stay inside the sandbox. Below ABI 6 or without
/// Landlock the setup checks the report says scopes are off or Landlock
/// unavailable, and the signal and the connection get through.
mod landlock_scopes {
    use super::*;

    tinsel_sandbox::attack! {
        fn landlock_scopes_signals_to_the_sandbox(t) {
            let f = fixture();
            let sleeper = Sleeper::start();
            let pid = sleeper.pid();
            let report = t.run(|| landlocked(&f), || attack::kill(pid, libc::SIGTERM));
            drop(sleeper);
            assert_landlock_outcome(&report, ll::SCOPE_ABI, &[libc::EPERM]);
        }

        fn landlock_scopes_abstract_unix_sockets(t) {
            let f = fixture();
            use std::os::linux::net::SocketAddrExt;
            let name = format!("tinsel-test-{}", std::process::id());
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            let _listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
            let report = t.run(
                || landlocked(&f),
                || {
                    std::os::unix::net::UnixStream::connect_addr(&addr)
                        .map(|_| ())
                        .map_err(|e| e.raw_os_error().unwrap_or(-1))
                },
            );
            assert_landlock_outcome(&report, ll::SCOPE_ABI, &[libc::EPERM]);
        }
    }
}

/// Step `restrict_filesystem_and_network` on kernels without Landlock, with
/// an old ABI, or with the call blocked. The simulated ones fail or return
/// before any Landlock syscall, so they run in-process.
mod landlock_fallbacks {
    use super::*;

    fn no_paths() -> ll::Rules {
        ll::Rules {
            read_only: vec![],
            read_write: vec![],
            deny_tcp: true,
            connect_tcp: Vec::new(),
            scope: true,
        }
    }

    #[test]
    fn kernel_without_landlock_is_reported_in_best_effort() {
        for probe in [Probe::NotBuilt, Probe::NotEnabled] {
            let out = ll::restrict(&no_paths(), LandlockPolicy::BestEffort, probe).unwrap();
            assert_eq!(out, ll::Outcome::Unavailable(probe));
            assert!(!out.is_full());
            assert!(out.to_string().contains("unavailable"), "{out}");
        }
    }

    #[test]
    fn kernel_without_landlock_is_fatal_when_required() {
        for probe in [Probe::NotBuilt, Probe::NotEnabled] {
            let err = ll::restrict(&no_paths(), LandlockPolicy::Required, probe).unwrap_err();
            assert!(matches!(err, ll::LandlockError::Missing(_)), "{err}");
            assert!(err.to_string().contains("required"), "{err}");
        }
    }

    #[test]
    fn a_blocked_landlock_call_is_always_fatal() {
        for policy in [LandlockPolicy::BestEffort, LandlockPolicy::Required] {
            let err = ll::restrict(&no_paths(), policy, Probe::Blocked(libc::EPERM)).unwrap_err();
            assert!(matches!(err, ll::LandlockError::Blocked(_)), "{err}");
            assert!(err.to_string().contains("seccomp"), "{err}");
        }
    }

    #[test]
    fn an_old_landlock_abi_is_partial_and_fatal_when_required() {
        for abi in [1, 2, 3, 4, 5] {
            let err =
                ll::restrict(&no_paths(), LandlockPolicy::Required, Probe::Abi(abi)).unwrap_err();
            assert!(
                matches!(err, ll::LandlockError::Partial { .. }),
                "ABI {abi}: {err}"
            );
        }
    }

    /// The tests above choose their expected outcome from the probe: it
    /// must give an ABI or say the kernel lacks Landlock. A blocked call
    /// (a filter around the test run) would make them expect the wrong thing.
    #[test]
    fn the_probe_on_this_machine_tells_what_the_kernel_has() {
        let probe = ll::probe();
        assert!(
            matches!(probe, Probe::Abi(v) if v >= FS_ABI) || probe.kernel_lacks_it(),
            "{probe}"
        );
    }

    tinsel_sandbox::attack! {
        fn landlock_required_on_this_kernel_is_fully_enforced(t) {
            let f = fixture();
            let report = t.run(
                || {
                    let out =
                        ll::restrict(&landlock_rules(&f), LandlockPolicy::Required, ll::probe())
                            .map_err(|e| e.to_string())?;
                    if out.is_full() {
                        Ok(())
                    } else {
                        Err(format!("not full: {out}"))
                    }
                },
                || attack::read_file("/etc/passwd"),
            );
            // Below the target ABI, or without Landlock, `required` is fatal
            // and the error names what this kernel lacks.
            match ll::probe() {
                Probe::Abi(abi) if abi >= ll::TARGET_ABI_NUMBER => {
                    report.assert_denied(&[libc::EACCES])
                }
                Probe::Abi(abi) => report.assert_setup_failed(&format!(
                    "Landlock ABI {abi} < {}",
                    ll::TARGET_ABI_NUMBER
                )),
                p @ (Probe::NotBuilt | Probe::NotEnabled) => {
                    report.assert_setup_failed(&format!("but Landlock is {p}"))
                }
                Probe::Blocked(_) => report.assert_setup_failed("is blocked"),
            }
        }
    }
}

/// Step `install_seccomp`: a small allowlist built from the shared groups.
mod seccomp_filter {
    use super::*;

    fn small_filter(default: Action) -> Filter {
        let mut v = groups::runtime(std::process::id(), &groups::BASE_IOCTLS);
        v.extend(groups::unix_client());
        Filter::new(v, default)
    }

    fn seccomped(default: Action) -> Result<(), String> {
        ok(caps::set_no_new_privs(), "no_new_privs")?;
        seccomp::install(&small_filter(default))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    tinsel_sandbox::attack! {
        fn seccomp_allows_unix_sockets(t) {
            t.run(
                || seccomped(Action::KillProcess),
                || attack::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC),
            )
            .assert_succeeded();
        }

        fn seccomp_kills_inet_sockets(t) {
            t.run(
                || seccomped(Action::KillProcess),
                || attack::socket(libc::AF_INET, libc::SOCK_STREAM),
            )
            .assert_killed_by_sigsys();
        }

        fn seccomp_log_mode_logs_instead_of_killing(t) {
            t.run(
                || seccomped(Action::Log),
                || attack::socket(libc::AF_INET, libc::SOCK_STREAM),
            )
            .assert_succeeded();
        }

        fn seccomp_needs_no_new_privs_first(t) {
            t.run(
                || {
                    seccomp::install(&small_filter(Action::KillProcess))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                },
                || Ok(()),
            )
            .assert_setup_failed("no_new_privs");
        }

        /// TSYNC: a thread that exists before the filter is filtered too.
        /// The setup itself dies, so the outcome is a SIGSYS before "armed".
        fn seccomp_covers_threads_started_before_it(t) {
            let report = t.run(
                || {
                    let (tx, rx) = std::sync::mpsc::channel::<()>();
                    let handle = std::thread::spawn(move || {
                        rx.recv().unwrap();
                        let _ = attack::socket(libc::AF_INET, libc::SOCK_STREAM);
                    });
                    seccomped(Action::KillProcess)?;
                    tx.send(()).unwrap();
                    let _ = handle.join();
                    Err("the older thread's socket(AF_INET) was not killed".into())
                },
                || Ok(()),
            );
            assert_eq!(
                report.outcome,
                harness::Outcome::Crashed("killed by signal 31 before the sandbox was armed".into()),
                "{}",
                report.output
            );
        }

        fn seccomp_threads_can_still_be_spawned(t) {
            t.run(
                || seccomped(Action::KillProcess),
                || {
                    let h = std::thread::Builder::new()
                        .name("after".into())
                        .spawn(|| 7)
                        .map_err(|e| e.raw_os_error().unwrap_or(-1))?;
                    assert_eq!(h.join().unwrap(), 7);
                    Ok(())
                },
            )
            .assert_succeeded();
        }

        fn seccomp_kills_fork(t) {
            t.run(|| seccomped(Action::KillProcess), attack::fork)
                .assert_killed_by_sigsys();
        }

        fn seccomp_kills_write_exec_mappings(t) {
            t.run(|| seccomped(Action::KillProcess), attack::mmap_write_exec)
                .assert_killed_by_sigsys();
        }

        fn seccomp_kills_opening_for_write(t) {
            let path = format!("/tmp/tinsel-seccomp-{}", std::process::id());
            t.run(
                || seccomped(Action::KillProcess),
                || attack::write_file(&path),
            )
            .assert_killed_by_sigsys();
        }

        fn seccomp_kills_unix_datagram_sockets_for_clients(t) {
            t.run(
                || seccomped(Action::KillProcess),
                || attack::socket(libc::AF_UNIX, libc::SOCK_DGRAM),
            )
            .assert_killed_by_sigsys();
        }
    }
}

/// `webd check`'s table: which of the layers above this kernel has.
mod support {
    #[test]
    fn kernel_support_table_names_every_layer() {
        let k = tinsel_sandbox::support::probe();
        let t = k.to_string();
        for word in ["no_new_privs", "landlock", "seccomp", "close_range"] {
            assert!(t.contains(word), "{t}");
        }
        assert!(k.seccomp_kill_process, "{t}");
        assert!(k.no_new_privs, "{t}");
    }
}

/// The harness itself: the name `attack!` derives is the one libtest runs.
mod harness_names {
    use super::*;

    tinsel_sandbox::attack! {
        fn the_derived_name_is_the_libtest_name(t) {
            assert_eq!(t.name(), "harness_names::the_derived_name_is_the_libtest_name");
            // The re-executed child runs exactly this test: an errno the
            // attack returns comes back as the outcome.
            let report = t.run(|| Ok(()), || Err(libc::ENOTRECOVERABLE));
            assert_eq!(report.outcome, harness::Outcome::Denied(libc::ENOTRECOVERABLE), "{}", report.output);
        }
    }
}
