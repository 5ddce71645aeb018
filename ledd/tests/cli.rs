//! ledd's command line: help, the example config, config checking and the
//! exit codes for bad configs and missing backends. Runs the real binary.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn ledd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledd"))
        .args(args)
        .output()
        .expect("running ledd")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn help_teaches_and_lists_exit_codes() {
    let out = ledd(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "--config",
        "--check-config",
        "--example-config",
        "Examples:",
        "78",
        "69",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let ctl = Command::new(env!("CARGO_BIN_EXE_ledctl"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(ctl.status.success());
    let help = text(&ctl.stdout);
    for needle in ["watch", "play", "Exit codes", "77", "ledctl play fire"] {
        assert!(
            help.contains(needle),
            "ledctl --help lacks {needle}:\n{help}"
        );
    }
}

#[test]
fn bad_usage_exits_64() {
    assert_eq!(ledd(&["--no-such-flag"]).status.code(), Some(64));
    let ctl = Command::new(env!("CARGO_BIN_EXE_ledctl"))
        .args(["play", "disco"])
        .output()
        .unwrap();
    assert_eq!(ctl.status.code(), Some(64));
    assert!(
        text(&ctl.stderr).contains("rainbow-cycle"),
        "lists the animations"
    );
}

#[test]
fn the_example_config_checks_out() {
    let out = ledd(&["--example-config"]);
    assert!(out.status.success());
    let example = text(&out.stdout);
    for key in [
        "socket_mode",
        "[strip]",
        "order",
        "max_milliamps",
        "hooks_groups",
    ] {
        assert!(example.contains(key), "example lacks {key}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "ledd.toml", &example);
    let check = ledd(&["--check-config", &path]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("ok (150 LEDs, sim backend"));
}

#[test]
fn bad_configs_exit_78_naming_key_value_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("unknown.toml", "[strip]\nbrightnes = 3\n", "brightnes"),
        ("range.toml", "[strip]\ncount = 5000\n", "strip.count"),
        ("fps.toml", "[strip]\ncount = 300\nfps = 200\n", "strip.fps"),
        (
            "type.toml",
            "[output]\nbrightness = \"full\"\n",
            "brightness",
        ),
    ];
    for (name, body, key) in cases {
        let path = write(dir.path(), name, body);
        let out = ledd(&["--check-config", &path]);
        assert_eq!(out.status.code(), Some(78), "{name}");
        let err = text(&out.stderr);
        assert!(err.contains(key) && err.contains(&path), "{name}: {err}");
    }
    let err = text(
        &ledd(&[
            "--check-config",
            &write(dir.path(), "v.toml", "[strip]\ncount = 5000\n"),
        ])
        .stderr,
    );
    assert!(err.contains("5000"), "names the value: {err}");
    // The daemon itself refuses the same way, before touching anything.
    let out = ledd(&["--config", &write(dir.path(), "d.toml", "sockett = 1\n")]);
    assert_eq!(out.status.code(), Some(78));
    let missing = ledd(&["--check-config", "/nonexistent/ledd.toml"]);
    assert_eq!(missing.status.code(), Some(78));
}

#[test]
fn a_hardware_backend_not_built_in_exits_69_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ledd.sock");
    for backend in ["ws281x", "spi"] {
        let out = ledd(&["--backend", backend, "--socket", sock.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(69), "{backend}");
        let err = text(&out.stderr);
        let built = match backend {
            "ws281x" => cfg!(feature = "ws281x"),
            _ => cfg!(feature = "spi"),
        };
        if built {
            // Built in, but this machine lacks the hardware: the message says
            // what is missing and what to do.
            assert!(err.contains("cannot run here"), "{err}");
        } else {
            assert!(err.contains("not built") && err.contains("sim"), "{err}");
        }
        assert!(!sock.exists(), "no socket is created when the strip fails");
    }
}
