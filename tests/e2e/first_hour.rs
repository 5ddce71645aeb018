//! The first hour with tinsel, end to end: what a new owner runs, in the
//! order the docs give it. A self-signed certificate and a signed token made
//! by webd itself, a config checked by `webd --check-config`, webd started
//! by hand as root (so that it drops to its user), a certificate renewed and
//! reloaded; the messages that must teach rather than puzzle (TOML errors, a
//! user that does not exist, ledd refusing webd); and `--help`.
//!
//! Tests that start webd as root (to watch it drop to nobody) say so and
//! fail without root. Every server binds 127.0.0.1; every wait is bounded.
//!
//! Over 500 lines on purpose: each test drives the real binaries through
//! one step of the documented first hour, in the docs' order, so the file
//! reads as that path; a topic that grows a set of its own moves to a file
//! of its own (as `admission.rs` and `credentials.rs` did).

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::fixtures::{Ledd, LeddBuilder, agent, chmod, free_port, is_root, nogroup, user_lines};
use crate::harness::{Daemon, bin, run, stderr, stdout, wait_for};

#[track_caller]
fn require_root(what: &str) {
    assert!(is_root(), "this test {what}: run it as root (CI does)");
}

fn gid_of(group: &str) -> u32 {
    let groups = std::fs::read_to_string("/etc/group").expect("/etc/group");
    groups
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(group))
                .then(|| f.nth(1).and_then(|g| g.parse().ok()))
                .flatten()
        })
        .unwrap_or_else(|| panic!("no group {group} in /etc/group"))
}

fn webd(args: &[&str]) -> Output {
    run(Command::new(bin("webd")).args(args))
}

fn check_config(config: &Path) -> Output {
    run(Command::new(bin("webd")).arg("--check-config").arg(config))
}

/// The ledd of these tests: 10 LEDs, `socket_mode` and `[access]` as given.
fn small_ledd(socket_mode: &str, access: &str) -> LeddBuilder {
    Ledd::builder()
        .leds(10)
        .socket_mode(socket_mode)
        .access(access)
}

/// The config a new owner writes: their names, the [tls] lines `webd cert
/// self-signed` printed, the [[tokens]] lines `webd token new` printed.
fn webd_config(dir: &Path, port: u16, users: &str, tls: &str, tokens: &str) -> PathBuf {
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\nledd_socket = \"{sock}\"\n{users}\n{tls}\n\n{tokens}\n[hooks.rainbow]\nanimation = \"rainbow\"\n",
        sock = dir.join("ledd.sock").display(),
    );
    let path = dir.join("webd.toml");
    std::fs::write(&path, text).expect("write webd.toml");
    path
}

fn healthy(agent: &ureq::Agent, port: u16) -> bool {
    agent
        .get(format!("https://localhost:{port}/healthz"))
        .call()
        .is_ok_and(|r| r.status() == 200)
}

/// `webd cert self-signed` as the docs give it, plus `--group`.
fn self_signed(tls: &Path, group: &str) -> (String, Vec<u8>) {
    let out = webd(&[
        "cert",
        "self-signed",
        "--force",
        "--out",
        tls.to_str().expect("utf-8 path"),
        "--group",
        group,
    ]);
    assert!(out.status.success(), "cert self-signed: {}", stderr(&out));
    let pem = std::fs::read(tls.join("fullchain.pem")).expect("fullchain.pem");
    (stdout(&out), pem)
}

#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: webd is started as root and drops to its user"
)]
fn as_root_reload_works_for_a_webd_started_as_root_after_following_the_docs() {
    require_root("starts webd as root so that it drops to nobody before reloading");
    let dir = tempfile::tempdir().expect("tempdir");
    chmod(dir.path(), 0o755);
    let group = nogroup();
    let _ledd = small_ledd("0660", "hooks_users = [\"nobody\"]").start_in(dir.path());
    // ledd's socket group is root's here; the mode lets nobody in.
    chmod(&dir.path().join("ledd.sock"), 0o666);

    // The docs' steps: certificate, signed token, config readable by
    // root and webd's group only.
    let tls = dir.path().join("tls");
    let (tls_lines, pem) = self_signed(&tls, group);
    let key = std::fs::metadata(tls.join("privkey.pem")).expect("key");
    assert_eq!(
        key.mode() & 0o777,
        0o640,
        "the key is readable by webd's group"
    );
    assert_eq!(key.gid(), gid_of(group));
    let token = webd(&["token", "new", "docs", "--signed"]);
    assert!(token.status.success(), "{}", stderr(&token));
    let advice = stderr(&token);
    assert!(advice.contains("chmod 0640"), "{advice}");
    let token_lines = stdout(&token)
        .split_once('\n')
        .map(|(_, rest)| rest.trim().to_owned())
        .expect("token lines");
    let port = free_port();
    let users = format!("user = \"nobody\"\ngroup = \"{group}\"");
    let config = webd_config(dir.path(), port, &users, &tls_lines, &token_lines);
    std::os::unix::fs::chown(&config, Some(0), Some(gid_of(group))).expect("chown");
    chmod(&config, 0o640);

    let check = check_config(&config);
    assert!(check.status.success(), "check-config: {}", stderr(&check));
    assert!(
        !stderr(&check).contains("warning"),
        "nothing to warn about: {}",
        stderr(&check)
    );
    assert!(stdout(&check).contains("role hooks"), "{}", stdout(&check));

    let log = dir.path().join("webd.log");
    let mut webd = Daemon::spawn(
        "webd",
        Command::new(bin("webd"))
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file")),
    );
    let old = agent(&pem);
    wait_for(Duration::from_secs(10), || {
        assert!(
            webd.is_running(),
            "webd exited: {:?}",
            std::fs::read_to_string(&log)
        );
        healthy(&old, port).then_some(())
    })
    .expect("webd answers within 10 s");

    // A new certificate, made the same way, then SIGHUP: webd (now nobody)
    // re-reads the config, the certificate and the key.
    let (_, new_pem) = self_signed(&tls, group);
    webd.signal("HUP");
    let new = agent(&new_pem);
    let reloaded = wait_for(Duration::from_secs(30), || {
        healthy(&new, port).then_some(())
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        reloaded.is_some(),
        "the new certificate is not served after SIGHUP; webd said:\n{text}"
    );
    assert!(!text.contains("reload failed"), "{text}");
}

#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: webd checks files as the user it drops to"
)]
fn as_root_check_config_names_a_file_webds_user_could_not_reread_and_the_fix() {
    require_root("checks what webd's user (nobody) may read, which only root can set up");
    let dir = tempfile::tempdir().expect("tempdir");
    chmod(dir.path(), 0o755);
    let group = nogroup();
    let tls = dir.path().join("tls");
    let (tls_lines, _) = self_signed(&tls, group);
    let key = tls.join("privkey.pem");
    // As `cert self-signed` used to leave it: root-only.
    std::os::unix::fs::chown(&key, Some(0), Some(0)).expect("chown");
    chmod(&key, 0o600);
    let (_, token_lines) = {
        let out = webd(&["token", "new", "t"]);
        let text = stdout(&out);
        let (t, rest) = text.split_once('\n').expect("token");
        (t.to_owned(), rest.trim().to_owned())
    };
    let users = format!("user = \"nobody\"\ngroup = \"{group}\"");
    let config = webd_config(dir.path(), free_port(), &users, &tls_lines, &token_lines);
    chmod(&config, 0o644);

    let check = check_config(&config);
    let err = stderr(&check);
    assert!(check.status.success(), "a warning, not a refusal: {err}");
    let warning = err
        .lines()
        .find(|l| l.contains("warning") && l.contains("privkey.pem"))
        .unwrap_or_else(|| panic!("no warning about the key in:\n{err}"));
    for needle in [
        "nobody",
        "owner uid 0 gid 0",
        "mode 0600",
        "SIGHUP",
        "chmod 0640",
    ] {
        assert!(
            warning.contains(needle),
            "`{needle}` missing from: {warning}"
        );
    }
}

#[test]
fn check_config_refuses_a_user_or_group_that_does_not_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = webd(&[
        "cert",
        "self-signed",
        "--out",
        dir.path().join("tls").to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tls = stdout(&out);
    for (users, key) in [
        ("user = \"no-such-user-tinsel\"", "`user`"),
        (
            "user = \"root\"\ngroup = \"no-such-group-tinsel\"",
            "`group`",
        ),
    ] {
        let config = webd_config(dir.path(), free_port(), users, &tls, "");
        let check = check_config(&config);
        let err = stderr(&check);
        assert_eq!(check.status.code(), Some(78), "{users}: {err}");
        assert!(err.contains(key), "{err}");
        assert!(err.contains(&config.display().to_string()), "{err}");
        // The daemon stops with the same config error, before serving.
        let mut daemon = Daemon::spawn(
            "webd",
            Command::new(bin("webd"))
                .arg("--config")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let status = daemon.wait_timeout(Duration::from_secs(10));
        assert_eq!(status.and_then(|s| s.code()), Some(78), "{users}");
    }
}

#[test]
fn the_tls_lines_cert_self_signed_prints_work_in_a_config_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(Command::new(bin("webd"))
        .args(["cert", "self-signed", "--out", "tls"])
        .current_dir(dir.path()));
    assert!(out.status.success(), "{}", stderr(&out));
    let conf_dir = dir.path().join("etc");
    std::fs::create_dir(&conf_dir).expect("mkdir");
    let config = webd_config(&conf_dir, free_port(), &user_lines(), &stdout(&out), "");
    let check = check_config(&config);
    assert!(check.status.success(), "{}", stderr(&check));
}

#[test]
fn check_config_accepts_the_packaged_config_whose_key_is_a_systemd_credential() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = webd(&[
        "cert",
        "self-signed",
        "--out",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // As packaging/webd.toml has it: the key from LoadCredential=.
    let tls = format!(
        "[tls]\ncert = \"{}\"\nkey = \"/run/credentials/webd.service/tls.key\"\n",
        dir.path().join("fullchain.pem").display()
    );
    let config = webd_config(dir.path(), free_port(), &user_lines(), &tls, "");
    let check = check_config(&config);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(
        stdout(&check).contains("systemd credential"),
        "{}",
        stdout(&check)
    );
    // The certificate is still checked.
    std::fs::write(dir.path().join("fullchain.pem"), "not a certificate").expect("write");
    assert_eq!(check_config(&config).status.code(), Some(78));
}

#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: tries ledd's socket as nobody, which needs root to become"
)]
fn as_root_check_config_tries_ledd_as_webds_user_and_names_each_refusal() {
    require_root("tries ledd's socket as nobody, which needs root to become");
    let dir = tempfile::tempdir().expect("tempdir");
    chmod(dir.path(), 0o755);
    let group = nogroup();
    let sock = dir.path().join("ledd.sock");
    let out = webd(&[
        "cert",
        "self-signed",
        "--out",
        dir.path().join("tls").to_str().expect("utf-8"),
        "--group",
        group,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let users = format!("user = \"nobody\"\ngroup = \"{group}\"");
    let config = webd_config(dir.path(), free_port(), &users, &stdout(&out), "");
    chmod(&config, 0o644);
    let ledd_says = |want: &str| {
        let check = check_config(&config);
        assert!(check.status.success(), "{}", stderr(&check));
        format!("{}{}", stdout(&check), stderr(&check)).contains(want)
    };

    // No ledd at all.
    let check = check_config(&config);
    assert!(
        stderr(&check).contains("does not exist"),
        "{}",
        stderr(&check)
    );

    // ledd's socket is root's only.
    let ledd = small_ledd("0600", "").start_in(dir.path());
    let check = check_config(&config);
    let err = stderr(&check);
    assert!(err.contains("permission denied"), "{err}");
    assert!(
        err.contains("socket_group") && err.contains("socket_mode"),
        "{err}"
    );

    // Reachable, but ledd gives nobody no role.
    chmod(&sock, 0o666);
    let check = check_config(&config);
    let err = stderr(&check);
    assert!(err.contains("no role"), "{err}");
    assert!(err.contains("[access] hooks_users"), "{err}");

    // Listed: the hooks role. ledd applies access changes on SIGHUP.
    small_ledd("0600", "hooks_users = [\"nobody\"]").write_config(dir.path());
    ledd.daemon.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(30), || ledd_says("role hooks")
            .then_some(()))
        .is_some(),
        "{}",
        stdout(&check_config(&config))
    );
}

#[test]
fn toml_errors_show_the_line_and_a_caret_for_webd_and_ledd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let webd_conf = dir.path().join("webd.toml");
    std::fs::write(&webd_conf, "ledd_socket = \"s\"\nlisten = 8443\n").expect("write");
    let ledd_conf = dir.path().join("ledd.toml");
    std::fs::write(&ledd_conf, "[strip]\ncount = \"many\"\n").expect("write");
    chmod(&ledd_conf, 0o644);
    let outs = [
        (
            "webd",
            check_config(&webd_conf),
            "listen = 8443",
            "8443",
            &webd_conf,
        ),
        (
            "ledd",
            run(Command::new(bin("ledd"))
                .arg("--check-config")
                .arg(&ledd_conf)),
            "count = \"many\"",
            "\"many\"",
            &ledd_conf,
        ),
    ];
    for (name, out, source, spot, file) in outs {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(78), "{name}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        let first = lines
            .iter()
            .position(|l| l.contains(&file.display().to_string()))
            .unwrap_or_else(|| panic!("{name}: the file is not named:\n{err}"));
        assert!(lines[first].contains("line 2"), "{name}:\n{err}");
        let at = lines
            .iter()
            .position(|l| l.ends_with(&format!("| {source}")))
            .unwrap_or_else(|| panic!("{name}: no source line:\n{err}"));
        assert!(
            at > first,
            "{name}: the excerpt follows the message:\n{err}"
        );
        assert_eq!(
            lines.get(at + 1).and_then(|l| l.find('^')),
            lines[at].find(spot),
            "{name}: the caret sits under the value:\n{err}"
        );
    }
}

#[test]
fn help_teaches_examples_exit_codes_and_formats() {
    let help = |bin_name: &str, args: &[&str]| {
        let out = run(Command::new(bin(bin_name)).args(args));
        assert!(
            out.status.success(),
            "{bin_name} {args:?}: {}",
            stderr(&out)
        );
        stdout(&out)
    };
    let top = help("webd", &["--help"]);
    for needle in [
        "Examples:",
        "Exit codes:",
        "78",
        "webd token new",
        "--check-config",
    ] {
        assert!(top.contains(needle), "webd --help lacks `{needle}`:\n{top}");
    }
    let token = help("webd", &["token", "new", "--help"]);
    for needle in ["--signed", "X-Tinsel-Signature", "SHA-256", "--hook"] {
        assert!(
            token.contains(needle),
            "token new --help lacks `{needle}`:\n{token}"
        );
    }
    let cert = help("webd", &["cert", "self-signed", "--help"]);
    for needle in ["--group", "0640", "--name", "Example:"] {
        assert!(
            cert.contains(needle),
            "cert self-signed --help lacks `{needle}`:\n{cert}"
        );
    }
    let play = help("ledctl", &["play", "--help"]);
    for needle in ["warm-white", "#rrggbb", "15m", "10 to 1000"] {
        assert!(
            play.contains(needle),
            "ledctl play --help lacks `{needle}`:\n{play}"
        );
    }
}

/// The repository's root (this package is `tests/`).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_owned()
}

#[test]
fn the_docs_a_pi_owner_follows_agree_with_the_package() {
    let read = |p: &str| std::fs::read_to_string(repo().join(p)).expect(p);
    // The docs the .deb ships, from its assets.
    let manifest = read("ledd/Cargo.toml");
    let shipped: Vec<String> = manifest
        .lines()
        .filter(|l| l.contains("usr/share/doc/tinsel/"))
        .filter_map(|l| l.split('"').nth(1))
        .map(|p| p.trim_start_matches("../").to_owned())
        .collect();
    assert!(shipped.iter().any(|p| p == "README.md"), "{shipped:?}");
    // Every document a shipped one links to is shipped too.
    for doc in &shipped {
        let text = read(doc);
        let dir = Path::new(doc).parent().unwrap_or(Path::new(""));
        for link in text.split("](").skip(1) {
            let target = link.split([')', '#']).next().unwrap_or_default();
            if target.ends_with(".md") && !target.contains("://") {
                let path = dir.join(target);
                let path = path.to_str().expect("utf-8");
                assert!(
                    shipped.iter().any(|s| s == path),
                    "{doc} links to {path}, which the .deb does not ship: add it to the assets in ledd/Cargo.toml"
                );
            }
        }
    }
    // Nothing points outside the repository.
    for doc in [
        "README.md",
        "docs/install.md",
        "docs/pi-zero.md",
        "docs/webd.md",
    ] {
        assert!(
            !read(doc).contains("../shared"),
            "{doc} points outside the repository"
        );
    }
    // The binaries are where the units start them.
    for unit in ["systemd/ledd.service", "systemd/webd.service"] {
        assert!(read(unit).contains("ExecStart=/usr/bin/"), "{unit}");
    }
    for doc in ["README.md", "docs/install.md", "docs/pi-zero.md"] {
        assert!(
            !read(doc).contains("/usr/local/bin"),
            "{doc} installs to /usr/local/bin, but the units start /usr/bin/"
        );
    }
    // README and webd.md give IFTTT the same advice: the token in the body,
    // no headers.
    for doc in ["README.md", "docs/webd.md"] {
        let text = read(doc);
        assert!(
            text.contains("Additional Headers") && text.contains("\"token\": \"YOUR_TOKEN\""),
            "{doc}: IFTTT's Additional Headers stay empty, the token goes in the body"
        );
        assert!(!text.contains("cannot set headers"), "{doc}");
    }
    // The 64-bit build is complete wherever it is given.
    for doc in ["docs/install.md", "docs/pi-zero.md"] {
        let text = read(doc);
        for needle in [
            "rustup target add aarch64-unknown-linux-gnu",
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc",
            "libclang-dev",
        ] {
            assert!(text.contains(needle), "{doc} lacks `{needle}`");
        }
    }
    assert!(read("docs/install.md").contains("duckdns.org/update?domains="));
    assert!(!read("docs/ledd.md").contains("a later release"));
}
