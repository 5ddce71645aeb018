//! The real mqttd sandbox, applied in a fresh single-threaded process, then
//! attacked: one forbidden operation per process (`tinsel_sandbox::harness`).
//! Each must be denied with the expected errno (Landlock, DAC) or kill the
//! process with SIGSYS (seccomp); a test fails if any succeeds. What mqttd
//! needs (its files, ledd's socket, TCP to the broker's port, a tokio
//! runtime) must still work.
//!
//! The plan attacked is the daemon's own: `mqttd::sandbox::daemon_plan`
//! built from a config file, as `main` builds it. Started as root the
//! sandbox drops to `nobody`; started by an ordinary user it stays that
//! user, and every other layer is the same, so these tests run either way.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// It attacks or measures the process itself: raw syscalls, by design.
#![allow(unsafe_code)]

use std::net::TcpListener;
use std::os::fd::RawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use mqttd::config::Config;
use mqttd::sandbox::{self, Plan, SeccompMode};
use tinsel_sandbox::harness::{Attack, Report as Run, attack, check};
use tinsel_sandbox::landlock::TCP_ABI;
use tinsel_sandbox::libc;

/// What a sandboxed mqttd holds: its config, CA and password files, a
/// secret it may not read, ledd's socket, and a "broker" listening on the
/// configured port.
struct Fixture {
    _dir: tempfile::TempDir,
    config: Config,
    ca: PathBuf,
    password: PathBuf,
    secret: PathBuf,
    ledd_socket: PathBuf,
    _ledd: UnixListener,
    broker: TcpListener,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let mode =
        |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    mode(&root, 0o755);
    let ca = root.join("ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let password = root.join("mqtt.password");
    std::fs::write(&password, "pw\n").unwrap();
    let secret = root.join("secret");
    std::fs::write(&secret, "secret\n").unwrap();
    let ledd_socket = root.join("ledd.sock");
    let broker = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = broker.local_addr().unwrap().port();
    let user = if as_root() { "user = \"nobody\"\n" } else { "" };
    let config_path = root.join("mqttd.toml");
    std::fs::write(
        &config_path,
        format!(
            "ledd_socket = {ledd_socket:?}\nname = \"t\"\n{user}[broker]\nhost = \"127.0.0.1\"\nport = {port}\ntls = true\nca_file = {ca:?}\nusername = \"u\"\npassword_file = {password:?}\n"
        ),
    )
    .unwrap();
    for f in [&config_path, &ca, &password, &secret] {
        mode(f, 0o644);
    }
    let config = Config::load(&config_path).unwrap();
    let ledd = UnixListener::bind(&ledd_socket).unwrap();
    mode(&ledd_socket, 0o777);
    Fixture {
        _dir: dir,
        config,
        ca,
        password,
        secret,
        ledd_socket,
        _ledd: ledd,
        broker,
    }
}

fn as_root() -> bool {
    tinsel_sandbox::ids::resuid().1 == 0
}

impl Fixture {
    fn plan(&self, keep: &[RawFd]) -> Plan {
        sandbox::daemon_plan(&self.config, keep, SeccompMode::Kill)
            .expect("the fixture's config names a user that exists")
    }

    fn port(&self) -> u16 {
        self.broker.local_addr().unwrap().port()
    }
}

fn apply(plan: &Plan) -> Result<(), String> {
    sandbox::apply(plan).map(|_| ()).map_err(|e| e.to_string())
}

/// The full sandbox, then `attack`.
fn attacked(t: &Attack, attack: impl FnOnce() -> Result<(), i32>) -> Run {
    let f = fixture();
    t.run(|| apply(&f.plan(&[])), attack)
}

/// `socket(AF_INET, SOCK_STREAM)` then `bind(127.0.0.1:port)`.
fn bind_tcp(port: u16) -> Result<(), i32> {
    attack::bind_tcp_v4(attack::socket_fd(libc::AF_INET, libc::SOCK_STREAM)?, port)
}

/// `listen()` on a fresh TCP socket (the kernel would bind it to an
/// ephemeral port).
fn listen_tcp() -> Result<(), i32> {
    attack::listen(attack::socket_fd(libc::AF_INET, libc::SOCK_STREAM)?)
}

/// What mqttd must still do.
mod allowed {
    use super::*;

    tinsel_sandbox::attack! {
        /// TCP to the broker's port: Landlock's one connect rule.
        fn tcp_connect_to_the_broker_port_works(t) {
            let f = fixture();
            let port = f.port();
            t.run(
                || apply(&f.plan(&[])),
                || {
                    let fd = attack::socket_fd(libc::AF_INET, libc::SOCK_STREAM)?;
                    attack::connect_tcp_v4(fd, port)
                },
            )
            .assert_succeeded();
        }

        fn ledd_socket_is_reachable(t) {
            let f = fixture();
            let path = f.ledd_socket.clone();
            t.run(|| apply(&f.plan(&[])), || attack::connect_unix(&path))
                .assert_succeeded();
        }

        fn the_config_ca_and_password_files_stay_readable(t) {
            let f = fixture();
            let files = [f.config.path.clone(), f.ca.clone(), f.password.clone()];
            t.run(
                || apply(&f.plan(&[])),
                || {
                    for file in &files {
                        attack::read_file(file.to_str().unwrap())?;
                    }
                    Ok(())
                },
            )
            .assert_succeeded();
        }

        /// The daemon's shape after `apply`: a current-thread runtime that
        /// reaches the broker over TCP and ledd over its Unix socket.
        fn a_tokio_runtime_reaches_the_broker_and_ledd(t) {
            let f = fixture();
            let port = f.port();
            let ledd = f.ledd_socket.clone();
            t.run(
                || apply(&f.plan(&[])),
                move || {
                    check::on_daemon_runtime(async move {
                        tokio::net::TcpStream::connect(("127.0.0.1", port))
                            .await
                            .map_err(|e| e.raw_os_error().unwrap_or(3))?;
                        tokio::net::UnixStream::connect(&ledd)
                            .await
                            .map_err(|e| e.raw_os_error().unwrap_or(4))?;
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        Ok(())
                    })
                },
            )
            .assert_succeeded();
        }
    }
}

/// Network: connect elsewhere, bind, listen, accept, other families.
mod network {
    use super::*;

    tinsel_sandbox::attack! {
        /// Landlock ABI ≥ 4 allows TCP connect to the broker's port only.
        /// Without it the report says TCP confinement is off, and the
        /// systemd unit's IPAddressAllow= carries this.
        fn tcp_connect_to_another_port_is_denied(t) {
            let f = fixture();
            let other = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = other.local_addr().unwrap().port();
            let run = t.run(
                || apply(&f.plan(&[])),
                || {
                    let fd = attack::socket_fd(libc::AF_INET, libc::SOCK_STREAM)?;
                    attack::connect_tcp_v4(fd, port)
                },
            );
            match tinsel_sandbox::landlock::probe().abi() {
                Some(v) if v >= TCP_ABI => run.assert_denied(&[libc::EACCES]),
                _ => run.assert_succeeded(),
            }
        }

        fn bind_is_killed(t) {
            attacked(&t, || bind_tcp(0)).assert_killed_by_sigsys();
        }

        fn listen_is_killed(t) {
            attacked(&t, listen_tcp).assert_killed_by_sigsys();
        }

        fn accept_is_killed(t) {
            let f = fixture();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
            t.run(|| apply(&f.plan(&[fd])), || attack::accept4(fd, 0))
                .assert_killed_by_sigsys();
        }

        /// No UDP: no DNS after the sandbox, no datagrams anywhere.
        fn udp_socket_is_killed(t) {
            attacked(&t, || attack::socket(libc::AF_INET, libc::SOCK_DGRAM))
                .assert_killed_by_sigsys();
        }

        fn netlink_socket_is_killed(t) {
            attacked(&t, || attack::socket(libc::AF_NETLINK, libc::SOCK_RAW))
                .assert_killed_by_sigsys();
        }

        fn packet_socket_is_killed(t) {
            attacked(&t, || attack::socket(libc::AF_PACKET, libc::SOCK_RAW))
                .assert_killed_by_sigsys();
        }
    }
}

/// Files: only the config, CA and password files.
mod files {
    use super::*;

    tinsel_sandbox::attack! {
        fn reading_a_file_outside_the_plan_is_denied(t) {
            let f = fixture();
            let secret = f.secret.clone();
            let run = t.run(|| apply(&f.plan(&[])), || attack::read_file(secret.to_str().unwrap()));
            if tinsel_sandbox::landlock::probe().abi().is_some() {
                run.assert_denied(&[libc::EACCES]);
            } else {
                run.assert_succeeded();
            }
        }

        fn reading_etc_shadow_is_denied(t) {
            attacked(&t, || attack::read_file("/etc/shadow")).assert_denied(&[libc::EACCES]);
        }

        fn writing_a_file_is_killed(t) {
            let path = format!("/tmp/tinsel-mqttd-sandbox-{}", std::process::id());
            attacked(&t, || attack::write_file(&path)).assert_killed_by_sigsys();
            assert!(!Path::new(&path).exists());
        }
    }
}

/// Processes and privileges.
mod processes {
    use super::*;

    tinsel_sandbox::attack! {
        fn execve_is_killed(t) {
            attacked(&t, || attack::exec("/bin/true")).assert_killed_by_sigsys();
        }

        fn fork_is_killed(t) {
            attacked(&t, attack::fork).assert_killed_by_sigsys();
        }

        fn setuid_root_is_killed(t) {
            attacked(&t, || attack::setuid(0)).assert_killed_by_sigsys();
        }

        fn threads_started_before_the_sandbox_are_refused(t) {
            let f = fixture();
            t.run(
                || tinsel_sandbox::harness::with_another_thread(|| apply(&f.plan(&[]))),
                || Ok(()),
            )
            .assert_setup_failed("threads running");
        }

        /// What the kernel reports for the sandboxed process, read through
        /// a descriptor opened before Landlock (which denies /proc).
        fn proc_status_shows_no_capabilities_no_new_privs_and_seccomp(t) {
            let f = fixture();
            // Asked before the sandbox: getresuid is not in the allowlist.
            let root = as_root();
            t.run(
                || {
                    let status =
                        std::fs::File::open("/proc/self/status").map_err(|e| e.to_string())?;
                    let fd = std::os::fd::IntoRawFd::into_raw_fd(status);
                    apply(&f.plan(&[fd]))?;
                    STATUS_FD.with(|c| c.set(fd));
                    Ok(())
                },
                move || {
                    use std::os::fd::FromRawFd;
                    let fd = STATUS_FD.with(|c| c.get());
                    // SAFETY: the descriptor opened in setup and kept by the plan.
                    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
                    let st = tinsel_sandbox::process::Status::read_from(&mut file).unwrap();
                    let caps = [st.cap_eff, st.cap_prm, st.cap_inh, st.cap_amb];
                    if caps != [0; 4] {
                        return Err(1);
                    }
                    if (st.no_new_privs, st.seccomp) != (1, 2) {
                        return Err(2);
                    }
                    if root && (st.uid != [65534; 4] || st.cap_bnd != 0) {
                        return Err(3);
                    }
                    Ok(())
                },
            )
            .assert_succeeded();
        }
    }

    thread_local! {
        static STATUS_FD: std::cell::Cell<RawFd> = const { std::cell::Cell::new(-1) };
    }

    #[test]
    fn the_daemon_plan_is_built_from_the_config() {
        let f = fixture();
        let plan = f.plan(&[7]);
        assert_eq!(plan.keep_fds, vec![7]);
        assert_eq!(plan.connect_tcp, vec![f.port()]);
        assert!(plan.read_only_paths.contains(&f.config.path));
        assert!(plan.read_only_paths.contains(&f.ca));
        assert!(plan.read_only_paths.contains(&f.password));
        assert!(!plan.read_only_paths.contains(&f.secret));
        assert_eq!(plan.user.is_some(), as_root());
    }
}
