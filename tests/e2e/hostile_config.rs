//! What every daemon does with a config file that is not one, and with a
//! `user` or `group` that would not drop root: the same answer from ledd,
//! webd, schedd and mqttd, since they share the reader and the identity
//! rule (`tinsel_daemon::config`). Exit 78 naming the file (and the key),
//! at once, in a few lines: never a hang on a FIFO, never megabytes of
//! error text, and `--check-config` refuses what the start refuses.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixtures::{chmod, is_root, nogroup};
use crate::harness::{Daemon, bin};

/// The daemons that read a config file.
const DAEMONS: [&str; 4] = ["ledd", "webd", "schedd", "mqttd"];

/// The daemons that drop root to a configured `user` and `group`.
const DROPPING: [&str; 3] = ["webd", "schedd", "mqttd"];

/// How long a refusal may take: it needs no more than an open and an
/// fstat (or a parse of at most 256 KiB).
const PROMPT: Duration = Duration::from_secs(5);

/// The most stderr a refusal may write.
const BRIEF: usize = 2048;

/// How a run of a daemon ended.
struct Ran {
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

/// Runs `daemon ARGS` with its output in files (so a flood of error text
/// cannot fill a pipe) and kills it after [`PROMPT`] twice over.
fn run(dir: &Path, daemon: &'static str, args: &[&str]) -> Ran {
    let err_path = dir.join(format!("{daemon}.stderr"));
    let err = std::fs::File::create(&err_path).expect("stderr file");
    let start = Instant::now();
    let mut child = Daemon::spawn(
        daemon,
        Command::new(bin(daemon))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err),
    );
    let status = child.wait_timeout(2 * PROMPT);
    let took = start.elapsed();
    drop(child);
    // Read at most a little more than BRIEF: the test fails on the length.
    let mut text = Vec::new();
    use std::io::Read as _;
    std::fs::File::open(&err_path)
        .expect("stderr file")
        .take(64 * 1024)
        .read_to_end(&mut text)
        .expect("read stderr");
    Ran {
        code: status.and_then(|s| s.code()),
        stderr: String::from_utf8_lossy(&text).into_owned(),
        took,
    }
}

/// Checks `daemon --check-config path` (and, for what no reader may
/// take, `--config path`) exits 78 promptly, naming `path` in a few lines.
fn refused(dir: &Path, daemon: &'static str, path: &Path, what: &str) -> String {
    let p = path.to_str().expect("utf-8 path");
    let ran = run(dir, daemon, &["--check-config", p]);
    assert_eq!(
        ran.code,
        Some(78),
        "{daemon} --check-config {what}: {}",
        ran.stderr
    );
    assert!(ran.took < PROMPT, "{daemon}, {what}: took {:?}", ran.took);
    assert!(
        ran.stderr.len() < BRIEF,
        "{daemon}, {what}: {} bytes of stderr",
        ran.stderr.len()
    );
    assert!(
        ran.stderr.contains(p),
        "{daemon}, {what}: the file is not named:\n{}",
        ran.stderr
    );
    ran.stderr
}

/// The hostile files: each path, what it is, and a word its refusal says.
fn hostile_files(dir: &Path) -> Vec<(PathBuf, &'static str, &'static str)> {
    let fifo = dir.join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let subdir = dir.join("dir.toml");
    std::fs::create_dir(&subdir).expect("mkdir");
    let huge = dir.join("huge.toml");
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(32 << 20))
        .expect("32 MiB file");
    let writable = dir.join("writable.toml");
    std::fs::write(&writable, "# a config\n").expect("write");
    chmod(&writable, 0o664);
    let one_line = dir.join("one-line.toml");
    let mut text = format!("a = \"{}\" = ", "x".repeat(128 * 1024));
    text.push_str(&"y".repeat(256 * 1024 - text.len()));
    std::fs::write(&one_line, text).expect("write");
    chmod(&one_line, 0o644);
    let zero_link = dir.join("zero-link.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero_link).expect("symlink");
    vec![
        (PathBuf::from("/dev/zero"), "/dev/zero", "a device"),
        (fifo, "a FIFO", "a FIFO"),
        (subdir, "a directory", "a directory"),
        (huge, "a 32 MiB file", "256 KiB"),
        (writable, "a group-writable file", "chmod go-w"),
        (one_line, "256 KiB of one invalid line", "line 1, column"),
        (zero_link, "a symlink to /dev/zero", "a device"),
    ]
}

#[test]
fn every_daemon_refuses_what_is_no_config_file_at_once_and_briefly() {
    let dir = tempfile::tempdir().expect("tempdir");
    chmod(dir.path(), 0o755);
    let files = hostile_files(dir.path());
    for daemon in DAEMONS {
        for (path, what, says) in &files {
            let err = refused(dir.path(), daemon, path, what);
            assert!(err.contains(says), "{daemon}, {what}: {err}");
        }
    }
    // The start refuses them as the check does.
    for daemon in DAEMONS {
        let (path, what, _) = &files[1];
        let p = path.to_str().expect("utf-8");
        let ran = run(dir.path(), daemon, &["--config", p]);
        assert_eq!(
            ran.code,
            Some(78),
            "{daemon} --config {what}: {}",
            ran.stderr
        );
        assert!(
            ran.took < PROMPT,
            "{daemon} --config {what}: {:?}",
            ran.took
        );
    }
}

/// A config of `daemon` that checks out apart from `users`.
fn config_of(dir: &Path, daemon: &str, users: &str) -> PathBuf {
    let text = match daemon {
        "webd" => {
            let tls = dir.join("tls");
            if !tls.exists() {
                let out = Command::new(bin("webd"))
                    .args(["cert", "self-signed", "--out"])
                    .arg(&tls)
                    .output()
                    .expect("webd cert self-signed");
                assert!(out.status.success());
            }
            format!(
                "listen = \"127.0.0.1:1\"\nledd_socket = \"ledd.sock\"\n{users}\n[tls]\ncert = \"tls/fullchain.pem\"\nkey = \"tls/privkey.pem\"\n"
            )
        }
        "schedd" => format!(
            "ledd_socket = \"ledd.sock\"\ntimezone = \"UTC\"\nrequire_synced_clock = false\n{users}\n"
        ),
        "mqttd" => format!(
            "ledd_socket = \"ledd.sock\"\nname = \"t\"\n{users}\n[broker]\nhost = \"127.0.0.1\"\n"
        ),
        other => panic!("no config for {other}"),
    };
    let path = dir.join(format!("{daemon}.toml"));
    std::fs::write(&path, text).expect("write config");
    chmod(&path, 0o644);
    path
}

/// `daemon --check-config` and `daemon --config` on a config with `users`
/// both exit 78 naming `key` and the file; the check's message is returned.
fn refused_for(dir: &Path, daemon: &'static str, users: &str, key: &str) -> String {
    let path = config_of(dir, daemon, users);
    let p = path.to_str().expect("utf-8");
    let mut check = String::new();
    for flag in ["--check-config", "--config"] {
        let ran = run(dir, daemon, &[flag, p]);
        assert_eq!(
            ran.code,
            Some(78),
            "{daemon} {flag} with {users:?}: {}",
            ran.stderr
        );
        assert!(
            ran.stderr.contains(&format!("`{key}`")) && ran.stderr.contains(p),
            "{daemon} {flag} with {users:?}: {}",
            ran.stderr
        );
        if flag == "--check-config" {
            check = ran.stderr;
        }
    }
    check
}

#[test]
fn check_config_and_the_start_refuse_root_s_user_and_group_in_every_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    chmod(dir.path(), 0o755);
    let group = nogroup();
    for daemon in DROPPING {
        let err = refused_for(
            dir.path(),
            daemon,
            &format!("user = \"root\"\ngroup = \"{group}\""),
            "user",
        );
        assert!(err.contains("uid 0"), "{daemon}: {err}");
        let err = refused_for(
            dir.path(),
            daemon,
            "user = \"nobody\"\ngroup = \"root\"",
            "group",
        );
        assert!(err.contains("gid 0"), "{daemon}: {err}");
    }
}

#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: only a daemon started as root needs a user and a group"
)]
fn as_root_every_daemon_needs_both_user_and_group() {
    assert!(
        is_root(),
        "this test checks as root: run it as root (CI does)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    chmod(dir.path(), 0o755);
    for daemon in DROPPING {
        for (users, key) in [("", "user"), ("user = \"nobody\"", "group")] {
            let err = refused_for(dir.path(), daemon, users, key);
            assert!(
                err.contains("started as root") && err.contains("group = \"tinsel\""),
                "{daemon} with {users:?}: {err}"
            );
        }
    }
}
