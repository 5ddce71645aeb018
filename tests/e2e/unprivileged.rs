//! ledd and ledctl run by an ordinary user: ledd hardens with what an
//! unprivileged process can apply (no_new_privs, seccomp) and says what it
//! skipped, and both find the same per-user socket by default.
//!
//! These run both as root and as an ordinary user: as root each process is
//! started as `nobody` with `setpriv` (which leaves it no capability, as an
//! ordinary user has), as an ordinary user as that user.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{Daemon, bin, run, stderr, stdout, wait_for};

/// The user the processes run as when the tests run as root.
const NOBODY: u32 = 65534;

fn as_root() -> bool {
    run(Command::new("id").arg("-u")).stdout.starts_with(b"0\n")
}

/// `program` run as an ordinary user: this one, or `nobody` when root.
fn ordinary(program: &Path) -> Command {
    if as_root() {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={NOBODY}"))
            .arg(format!("--regid={NOBODY}"))
            .arg("--clear-groups")
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A temporary directory the ordinary user owns.
fn owned_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    if as_root() {
        std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The `Name:`, `CapEff:` ... lines of every thread of `pid`.
fn thread_fields(pid: u32) -> Vec<std::collections::HashMap<String, String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let Ok(text) = std::fs::read_to_string(entry.unwrap().path().join("status")) else {
            continue;
        };
        out.push(
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
                .collect(),
        );
    }
    out
}

#[test]
fn an_ordinary_users_ledd_hardens_with_what_it_can_and_says_what_it_skipped() {
    let dir = owned_tempdir();
    let socket = dir.path().join("ledd.sock");
    let log = dir.path().join("ledd.log");
    let mut ledd = Daemon::spawn(
        "ledd",
        ordinary(&bin("ledd"))
            .arg("--socket")
            .arg(&socket)
            .args(["--leds", "10"])
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap()),
    );
    let ctl = |args: &[&str]| {
        run(ordinary(&bin("ledctl"))
            .arg("--socket")
            .arg(&socket)
            .args(args))
    };
    let ready = wait_for(Duration::from_secs(10), || {
        ctl(&["status"]).status.success().then_some(())
    });
    assert!(ready.is_some(), "ledd did not serve: {}", read(&log));
    // The user ledd runs as is its admin.
    let out = ctl(&["brightness", "40"]);
    assert!(out.status.success(), "{}", stderr(&out));

    for t in thread_fields(ledd.pid()) {
        for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
            assert_eq!(t[set], "0000000000000000", "{set}: {t:?}");
        }
        assert_eq!(t["NoNewPrivs"], "1", "{t:?}");
        assert_eq!(t["Seccomp"], "2", "{t:?}");
    }
    let text = read(&log);
    assert!(text.contains("nothing to drop"), "{text}");
    assert!(
        text.contains("live layers: no capabilities held (not root), no_new_privs, seccomp (kill on violation)"),
        "{text}"
    );
    assert_eq!(
        text.matches("SCHED_FIFO and mlockall need root").count(),
        1,
        "one line says the frame loop runs without real-time: {text}"
    );
    assert!(!text.contains("WARN"), "nothing to warn about: {text}");
    ledd.signal("TERM");
    let status = ledd.wait_timeout(Duration::from_secs(2)).expect("exits");
    assert_eq!(status.code(), Some(0), "{}", read(&log));
}

#[test]
fn ledd_and_ledctl_agree_on_a_per_user_socket_by_default() {
    let runtime = owned_tempdir();
    let log_dir = owned_tempdir();
    let log = log_dir.path().join("ledd.log");
    let mut ledd = Daemon::spawn(
        "ledd",
        ordinary(&bin("ledd"))
            .env("XDG_RUNTIME_DIR", runtime.path())
            .args(["--leds", "10"])
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap()),
    );
    let list = || {
        run(ordinary(&bin("ledctl"))
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env_remove("LEDD_SOCKET")
            .arg("list"))
    };
    let listed = wait_for(Duration::from_secs(10), || {
        let out = list();
        out.status.success().then(|| stdout(&out))
    });
    let listed = listed.unwrap_or_else(|| panic!("a bare ledctl list: {}", read(&log)));
    assert!(listed.contains("fire"), "{listed}");
    let dir = runtime.path().join("tinsel");
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o700,
        "{}",
        dir.display()
    );
    assert!(dir.join("ledd.sock").exists());
    assert!(read(&log).contains(&format!("listening on {}", dir.join("ledd.sock").display())));
    ledd.signal("TERM");
    ledd.wait_timeout(Duration::from_secs(2)).expect("exits");
}

#[test]
fn a_per_user_socket_directory_others_may_write_is_refused() {
    let runtime = owned_tempdir();
    let dir = runtime.path().join("tinsel");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    if as_root() {
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let out = run(ordinary(&bin("ledd"))
        .env("XDG_RUNTIME_DIR", runtime.path())
        .args(["--leds", "10"]));
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("writable by others") && err.contains(&format!("chmod 700 {}", dir.display())),
        "{err}"
    );
    assert!(!dir.join("ledd.sock").exists());
    let out = run(ordinary(&bin("ledctl"))
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env_remove("LEDD_SOCKET")
        .arg("status"));
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("writable by others"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_socket_directory_says_how_to_make_it() {
    let dir = owned_tempdir();
    let missing = dir.path().join("missing");
    let out = run(ordinary(&bin("ledd"))
        .arg("--socket")
        .arg(missing.join("ledd.sock"))
        .args(["--leds", "10"]));
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("is missing") && err.contains(&format!("mkdir -p {}", missing.display())),
        "{err}"
    );
    assert!(err.contains("--socket PATH"), "{err}");
}
