//! webd's command line, run as a process: help, the example config,
//! `--check-config` exit codes and messages, `token new`, `cert
//! self-signed`, and the refusal to start with a bad config.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const WEBD: &str = env!("CARGO_BIN_EXE_webd");

fn webd(args: &[&str]) -> Output {
    Command::new(WEBD).args(args).output().expect("run webd")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_lists_the_commands() {
    let out = webd(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in [
        "--config",
        "--check-config",
        "--example-config",
        "token",
        "cert",
    ] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
}

#[test]
fn usage_errors_exit_64() {
    assert_eq!(webd(&[]).status.code(), Some(64));
    assert_eq!(webd(&["--bogus"]).status.code(), Some(64));
    assert_eq!(webd(&["token", "new", "has space"]).status.code(), Some(64));
}

/// Whether the tests run as root.
fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The `user` and `group` lines a config needs when webd is started (or
/// checked) as root: `nobody` and its group. Empty otherwise.
fn users() -> String {
    if !is_root() {
        return String::new();
    }
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let group = match groups.lines().any(|l| l.starts_with("nogroup:")) {
        true => "nogroup",
        false => "nobody",
    };
    format!("user = \"nobody\"\ngroup = \"{group}\"\n")
}

fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let out = webd(&["cert", "self-signed", "--out", &dir.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = dir.join("webd.toml");
    let body = format!(
        "ledd_socket = \"ledd.sock\"\n{extra}\n[tls]\ncert = \"fullchain.pem\"\nkey = \"privkey.pem\"\n"
    );
    std::fs::write(&path, body).expect("write config");
    path
}

#[test]
fn example_config_checks_out_apart_from_its_pem_paths() {
    let out = webd(&["--example-config"]);
    assert!(out.status.success());
    let example = text(&out.stdout);
    assert!(example.contains("[hooks.color]"));
    // Point it at a real certificate, and it passes --check-config.
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = webd(&[
        "cert",
        "self-signed",
        "--out",
        &dir.path().display().to_string(),
    ]);
    assert!(cert.status.success());
    // The example's user and group exist where the package is installed;
    // --check-config refuses names that do not.
    let fixed = example
        .replace("/etc/tinsel/tls/fullchain.pem", "fullchain.pem")
        .replace("/etc/tinsel/tls/privkey.pem", "privkey.pem")
        .replace("user = \"tinsel-web\"\ngroup = \"tinsel\"\n", &users());
    let path = dir.path().join("webd.toml");
    std::fs::write(&path, fixed).expect("write");
    let out = webd(&["--check-config", &path.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("OK"));
}

#[test]
fn bad_configs_exit_78_naming_key_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), "listen = \"not-an-address\"");
    let p = path.display().to_string();
    for args in [
        vec!["--check-config", p.as_str()],
        vec!["--config", p.as_str()],
    ] {
        let out = webd(&args);
        assert_eq!(out.status.code(), Some(78), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("`listen`"), "{err}");
        assert!(err.contains(&p), "{err}");
    }
    // Unknown keys too.
    let path = write_config(dir.path().join("b").as_path(), "colour_of_tree = 1");
    let out = webd(&["--check-config", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(78));
    assert!(text(&out.stderr).contains("colour_of_tree"));
    // A broken certificate is a config error naming the file.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir2.path(), &users());
    std::fs::write(dir2.path().join("fullchain.pem"), "junk").expect("write");
    let out = webd(&["--check-config", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(78));
    assert!(text(&out.stderr).contains("fullchain.pem"));
    // A missing file is a config error too.
    let out = webd(&["--check-config", "/nonexistent/webd.toml"]);
    assert_eq!(out.status.code(), Some(78));
}

#[test]
fn check_config_says_where_the_page_keeps_its_devices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = format!(
        "{}[page]\nenabled = true\ndevices_dir = \"devices\"\n",
        users()
    );
    let path = write_config(dir.path(), &extra);
    let check = || {
        let out = webd(&["--check-config", &path.display().to_string()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert!(check().contains("does not exist yet"), "{}", check());
    std::fs::create_dir(dir.path().join("devices")).expect("mkdir");
    assert!(
        check().contains("page on: 0 device(s) paired in"),
        "{}",
        check()
    );
}

#[test]
fn token_new_prints_a_token_once_and_its_hash_line() {
    let a = webd(&["token", "new", "ifttt", "--hook", "color"]);
    assert!(a.status.success());
    let out = text(&a.stdout);
    let (token, config) = out.split_once('\n').expect("two parts");
    assert_eq!(token.len(), 43, "32 random bytes, base64url: {token}");
    assert!(config.contains("name = \"ifttt\""));
    assert!(config.contains("sha256 = \""));
    assert!(config.contains("hooks = [\"color\"]"));
    assert!(!config.contains(token));
    let b = webd(&["token", "new", "ifttt"]);
    assert_ne!(text(&b.stdout).lines().next(), Some(token));
}

#[test]
fn refuses_root_without_user_and_group() {
    let uid = Command::new("id").arg("-u").output().expect("id");
    if !uid.stdout.starts_with(b"0\n") {
        // Not root: webd must start far enough to fail on the socket path
        // instead; the root rule is covered where tests run as root (CI).
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_config(dir.path(), "listen = \"127.0.0.1:1\"");
        let out = webd(&["--config", &path.display().to_string()]);
        assert_eq!(out.status.code(), Some(77), "{}", text(&out.stderr));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), "listen = \"127.0.0.1:0\"");
    let out = webd(&["--config", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(78));
    let err = text(&out.stderr);
    assert!(err.contains("`user`") && err.contains("root"), "{err}");
}

#[test]
fn cert_client_never_writes_over_the_ca_whatever_name_and_force_say() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let made = webd(&["cert", "client", "phone", "--dir", &d]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let ca =
        || ["ca.pem", "ca-key.pem"].map(|f| std::fs::read(dir.path().join(f)).expect("CA file"));
    let before = ca();
    for name in ["ca", "ca-key", "CA"] {
        for force in [false, true] {
            let mut args = vec!["cert", "client", name, "--dir", &d];
            if force {
                args.push("--force");
            }
            let out = webd(&args);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
            assert!(err.contains(&format!("`{name}`")), "{err}");
            assert!(err.contains("pick another name"), "{err}");
            assert_eq!(ca(), before, "{args:?} changed the CA");
        }
    }
}
