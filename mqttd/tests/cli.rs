//! mqttd's command line, as a user meets it: the exit codes and messages
//! of `--check-config`, `--example-config` and `--help`.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn mqttd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqttd"))
        .args(args)
        .output()
        .expect("run mqttd")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

/// `nobody`'s group: `nogroup` on Debian, `nobody` elsewhere.
fn nogroup() -> &'static str {
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    match groups.lines().any(|l| l.starts_with("nogroup:")) {
        true => "nogroup",
        false => "nobody",
    }
}

/// A config that checks out, as root too (`user` and `group` both set).
fn good() -> String {
    format!(
        "ledd_socket = \"ledd.sock\"\nname = \"t\"\nuser = \"nobody\"\ngroup = \"{}\"\n[broker]\nhost = \"127.0.0.1\"\n",
        nogroup()
    )
}

#[test]
fn an_unknown_key_exits_78_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "mqttd.toml",
        &format!("{}password = \"hunter2\"\n", good()),
    );
    let out = mqttd(&["--check-config", &path]);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&path) && err.contains("password"), "{err}");
}

#[test]
fn a_bad_value_exits_78_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "mqttd.toml",
        &good().replace("name = \"t\"\n", "group_topic = \"tinsel/#\"\n"),
    );
    let out = mqttd(&["--check-config", &path]);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("`group_topic`"));
}

#[test]
fn a_good_config_checks_out_and_says_where_ledd_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "mqttd.toml", &good());
    let out = mqttd(&["--check-config", &path]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("broker: 127.0.0.1:1883"), "{text}");
    assert!(
        text.contains("discovery homeassistant/light/t/config"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not exist: is ledd running?")
            && err.contains("systemctl start ledd.socket"),
        "{err}"
    );
}

#[test]
fn the_example_config_checks_out_and_the_password_has_no_flag() {
    let out = mqttd(&["--example-config"]);
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "mqttd.toml",
        &String::from_utf8_lossy(&out.stdout)
            .replace("host = \"localhost\"", "host = \"127.0.0.1\"")
            .replace("# user = \"tinsel-mqtt\"", "user = \"nobody\"")
            .replace(
                "# group = \"tinsel\"",
                &format!("group = \"{}\"", nogroup()),
            ),
    );
    let out = mqttd(&["--check-config", &path]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = mqttd(&["--config", &path, "--password", "x"]);
    assert_eq!(out.status.code(), Some(64), "{out:?}");
}

#[test]
fn help_teaches_with_examples_and_exit_codes() {
    let out = mqttd(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for part in [
        "--example-config",
        "mosquitto_pub",
        "group_topic",
        "78",
        "docs/mqtt.md",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
}

/// A daemon flag before a subcommand would be ignored by it: refused, as
/// webd and schedd refuse it (the daemon kit's one parser).
#[test]
fn a_daemon_flag_before_a_subcommand_is_a_usage_error() {
    for flags in [
        &["--config", "x.toml"][..],
        &["--check-config", "x.toml"],
        &["--example-config"],
    ] {
        let mut args = flags.to_vec();
        args.push("check");
        let out = mqttd(&args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("`check` takes no --config, --check-config or --example-config"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "check must not run: {out:?}");
    }
}
