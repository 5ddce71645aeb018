//! Client certificates and certificate expiry, end to end: the real webd
//! with `[tls] client_cert`, certificates from the real `webd cert client`,
//! real TLS handshakes with and without them, SIGHUP with a new CA (inside
//! webd's sandbox, which must keep the CA readable), and a server
//! certificate that runs out in 5 days.
//!
//! webd is started here rather than by [`crate::fixtures::WebdBuilder`]:
//! with `client_cert = "required"` the fixture's start-up probe (no client
//! certificate) could never get in, and these tests read webd's log.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tinsel_tests::https::{client_config, client_config_with_cert, read_head, status_of, tls_from};

use crate::fixtures::{Ledd, Webd, chmod, free_port, new_token, self_signed, user_lines};
use crate::harness::{Daemon, bin, run, stderr, stdout, wait_for};

/// How long webd may take to start, or to apply a SIGHUP.
const PATIENCE: Duration = Duration::from_secs(10);

/// A ledd and a webd whose `[tls]` section the test chose, in one
/// temporary directory: `tls/` the server certificate, `webd.log` webd's
/// stderr.
struct Stack {
    _ledd: Ledd,
    webd: Daemon,
    port: u16,
    server_pem: Vec<u8>,
    /// The tokens, by name.
    tokens: Vec<(String, String)>,
    log: PathBuf,
    dir: tempfile::TempDir,
}

/// A directory for a test, readable by webd after it drops to `nobody`.
fn test_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    chmod(dir.path(), 0o755);
    dir
}

/// `webd cert client NAME --dir DIR`: (certificate PEM, key PEM).
fn client_cert(dir: &Path, name: &str) -> (Vec<u8>, Vec<u8>) {
    let out = run(Command::new(bin("webd"))
        .args(["cert", "client", name, "--dir"])
        .arg(dir));
    assert!(out.status.success(), "cert client: {}", stderr(&out));
    // The printed lines are the ones to paste into the config.
    let lines = stdout(&out);
    assert!(
        lines.contains(&format!("client_ca = \"{}\"", dir.join("ca.pem").display())),
        "{lines}"
    );
    assert!(lines.contains("require_client_cert = true"), "{lines}");
    assert!(stderr(&out).contains("--cert"), "{}", stderr(&out));
    let read = |f: String| std::fs::read(dir.join(&f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    (read(format!("{name}.pem")), read(format!("{name}-key.pem")))
}

impl Stack {
    /// Writes the config (`tls_lines` go into `[tls]`; each token is
    /// `(name, extra lines)`), checks it with `--check-config`, starts webd
    /// and waits until it says it is ready.
    fn start(dir: tempfile::TempDir, tls_lines: &str, tokens: &[(&str, &str)]) -> Stack {
        Stack::start_with(dir, tls_lines, tokens, |_| {})
    }

    /// As [`Stack::start`], with `prepare` called on the directory once the
    /// server certificate is in `tls/` and before webd starts.
    fn start_with(
        dir: tempfile::TempDir,
        tls_lines: &str,
        tokens: &[(&str, &str)],
        prepare: impl FnOnce(&Path),
    ) -> Stack {
        let ledd = Webd::default_ledd().start_in(dir.path());
        self_signed(&dir.path().join("tls"));
        chmod(&dir.path().join("tls"), 0o755);
        chmod(&dir.path().join("tls/privkey.pem"), 0o644);
        prepare(dir.path());
        let server_pem =
            std::fs::read(dir.path().join("tls/fullchain.pem")).expect("fullchain.pem");
        let mut token_lines = String::new();
        let mut secrets = Vec::new();
        for (name, extra) in tokens {
            let (token, lines) = new_token(name, &[]);
            token_lines.push_str(&format!("\n{lines}\n{extra}\n"));
            secrets.push(((*name).to_owned(), token));
        }
        let port = free_port();
        let config = format!(
            "listen = \"127.0.0.1:{port}\"\nledd_socket = \"ledd.sock\"\n{users}\n\
             [tls]\ncert = \"tls/fullchain.pem\"\nkey = \"tls/privkey.pem\"\n{tls_lines}\n\n\
             [hooks.off]\nanimation = \"off\"\n{token_lines}",
            users = user_lines(),
        );
        std::fs::write(dir.path().join("webd.toml"), config).expect("write webd.toml");
        let check = check_config(dir.path());
        assert!(check.status.success(), "check-config: {}", stderr(&check));
        let log = dir.path().join("webd.log");
        let webd = Daemon::spawn(
            "webd",
            Command::new(bin("webd"))
                .arg("--config")
                .arg(dir.path().join("webd.toml"))
                .stdout(Stdio::null())
                .stderr(File::create(&log).expect("create webd.log")),
        );
        let mut st = Stack {
            _ledd: ledd,
            webd,
            port,
            server_pem,
            tokens: secrets,
            log,
            dir,
        };
        let ready = wait_for(PATIENCE, || {
            assert!(st.webd.is_running(), "webd exited: {}", st.log());
            st.log().contains("webd ready").then_some(())
        });
        assert!(ready.is_some(), "webd did not start: {}", st.log());
        st
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn token(&self, name: &str) -> &str {
        &self
            .tokens
            .iter()
            .find(|(n, _)| n == name)
            .expect("token")
            .1
    }

    /// A client that trusts webd and presents no certificate.
    fn anonymous(&self) -> Arc<rustls::ClientConfig> {
        client_config(&self.server_pem, &[b"http/1.1"])
    }

    /// A client that trusts webd and presents `cert`.
    fn with(&self, cert: &(Vec<u8>, Vec<u8>)) -> Arc<rustls::ClientConfig> {
        client_config_with_cert(&self.server_pem, &[b"http/1.1"], &cert.0, &cert.1)
    }

    /// `POST /hooks/off` with token `name` on a new connection made with
    /// `cfg`: the status, or why there was none (a refused handshake shows
    /// on the first read: in TLS 1.3 the server checks the client's
    /// certificate after the client has finished its side).
    fn post(&self, cfg: Arc<rustls::ClientConfig>, name: &str) -> Result<u16, String> {
        let token = self.token(name);
        let mut s = tls_from(Ipv4Addr::LOCALHOST, self.port, cfg, Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "POST /hooks/off HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .and_then(|()| s.flush())
        .map_err(|e| e.to_string())?;
        let head = read_head(&mut s).map_err(|e| e.to_string())?;
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        status_of(&head).ok_or(head)
    }
}

/// `webd --check-config DIR/webd.toml`.
fn check_config(dir: &Path) -> Output {
    run(Command::new(bin("webd"))
        .arg("--check-config")
        .arg(dir.join("webd.toml")))
}

/// Asserts that `result` is a refused connection, not an HTTP answer. How
/// the refusal shows depends on timing: webd's alert
/// (`CertificateRequired`, `UnknownCA`...), or the closed socket under
/// the client's next write or read.
fn assert_refused(result: Result<u16, String>, what: &str) {
    if let Ok(status) = result {
        panic!("{what}: expected the handshake to fail, got HTTP {status}");
    }
}

#[test]
fn required_client_certs_refuse_handshakes_without_one_from_the_ca() {
    let dir = test_dir();
    let ours = client_cert(&dir.path().join("clients"), "ha");
    let theirs = client_cert(&dir.path().join("elsewhere"), "ha");
    let st = Stack::start(
        dir,
        "client_cert = \"required\"\nclient_ca = \"clients/ca.pem\"",
        &[("ifttt", "")],
    );
    assert_refused(st.post(st.anonymous(), "ifttt"), "no certificate");
    assert_refused(
        st.post(st.with(&theirs), "ifttt"),
        "another CA's certificate",
    );
    // The same client with the right certificate gets in: the refusals
    // were about the certificate.
    assert_eq!(st.post(st.with(&ours), "ifttt"), Ok(200));
    // The request's log line names the certificate it came with.
    let log = st.log();
    assert!(
        log.lines()
            .any(|l| l.contains("client_cn=ha") && l.contains("webd::audit")),
        "{log}"
    );
}

#[test]
fn optional_client_certs_serve_everyone_but_a_token_can_require_one() {
    let dir = test_dir();
    let ours = client_cert(&dir.path().join("clients"), "ha");
    let st = Stack::start(
        dir,
        "client_cert = \"optional\"\nclient_ca = \"clients/ca.pem\"",
        &[("ifttt", ""), ("ha", "require_client_cert = true")],
    );
    // IFTTT cannot present a certificate and is served.
    assert_eq!(st.post(st.anonymous(), "ifttt"), Ok(200));
    // The token that requires one is refused without it...
    assert_eq!(st.post(st.anonymous(), "ha"), Ok(403));
    // ...and served with it.
    assert_eq!(st.post(st.with(&ours), "ha"), Ok(200));
    assert!(
        st.log().contains("no_client_cert"),
        "the refusal is audited: {}",
        st.log()
    );
}

#[test]
fn sighup_swaps_in_a_new_client_ca_inside_the_sandbox() {
    let dir = test_dir();
    let old = client_cert(&dir.path().join("clients"), "ha");
    let new_dir = dir.path().join("new-ca");
    let new = client_cert(&new_dir, "ha");
    let mut st = Stack::start(
        dir,
        "client_cert = \"required\"\nclient_ca = \"clients/ca.pem\"",
        &[("ifttt", "")],
    );
    // One client config throughout: it keeps the session ticket it gets.
    let old_cfg = st.with(&old);
    assert_eq!(st.post(old_cfg.clone(), "ifttt"), Ok(200));
    assert_refused(st.post(st.with(&new), "ifttt"), "the new CA before SIGHUP");

    // The new CA in place of the old (the same path: the one the sandbox
    // was told to keep readable), then SIGHUP.
    let ca = st.dir.path().join("clients/ca.pem");
    std::fs::copy(new_dir.join("ca.pem"), &ca).expect("copy the new CA");
    st.webd.signal("HUP");
    let served = wait_for(PATIENCE, || st.post(st.with(&new), "ifttt").ok());
    assert_eq!(served, Some(200), "the new CA did not take: {}", st.log());
    assert!(st.webd.is_running());
    // The old CA's certificate is refused now, also by a client that holds
    // a session ticket from before: no session resumes across a CA change.
    assert_refused(
        st.post(old_cfg, "ifttt"),
        "the old CA's ticket after SIGHUP",
    );
    assert_refused(st.post(st.with(&old), "ifttt"), "the old CA after SIGHUP");
    assert!(
        !st.log().contains("reload failed"),
        "the CA must stay readable in the sandbox: {}",
        st.log()
    );
}

#[test]
fn bad_client_cert_settings_exit_78_naming_the_key_and_file() {
    let dir = test_dir();
    let cases = [
        (
            "client_cert = \"sometimes\"\nclient_ca = \"ca.pem\"",
            "tls.client_cert",
        ),
        (
            "client_cert = \"required\"\nclient_ca = \"missing/ca.pem\"",
            "missing/ca.pem",
        ),
        (
            "client_cert = \"required\"\nclient_ca = \"tls/privkey.pem\"",
            "tls.client_ca",
        ),
    ];
    self_signed(&dir.path().join("tls"));
    for (lines, named) in cases {
        std::fs::write(
            dir.path().join("webd.toml"),
            format!(
                "listen = \"127.0.0.1:{}\"\nledd_socket = \"ledd.sock\"\n{}\n[tls]\ncert = \"tls/fullchain.pem\"\nkey = \"tls/privkey.pem\"\n{lines}\n",
                free_port(),
                user_lines()
            ),
        )
        .expect("write webd.toml");
        for out in [
            check_config(dir.path()),
            run(Command::new(bin("webd"))
                .arg("--config")
                .arg(dir.path().join("webd.toml"))),
        ] {
            assert_eq!(out.status.code(), Some(78), "{lines}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains(named) && err.contains("tls.client_"),
                "{lines}: {err}"
            );
        }
    }
}

/// A self-signed server certificate for localhost valid `days` (and an
/// hour) from now, or that expired `-days` ago, written over DIR/tls.
fn certificate_expiring_in(dir: &Path, days: i64) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(30);
    params.not_after = now + time::Duration::days(days) + time::Duration::hours(1);
    let cert = params.self_signed(&key).expect("self-signed");
    let tls = dir.join("tls");
    std::fs::write(tls.join("fullchain.pem"), cert.pem()).expect("write cert");
    std::fs::write(tls.join("privkey.pem"), key.serialize_pem()).expect("write key");
    chmod(&tls.join("privkey.pem"), 0o644);
}

#[test]
fn a_certificate_expiring_in_5_days_is_warned_about() {
    let mut st = Stack::start(test_dir(), "", &[("ifttt", "")]);
    let cert = st.dir.path().join("tls/fullchain.pem");
    let fine = stdout(&check_config(st.dir.path()));
    assert!(fine.contains("day(s) left"), "{fine}");
    assert!(!st.log().contains("expires soon"), "{}", st.log());

    certificate_expiring_in(st.dir.path(), 5);
    // --check-config prints the days left and warns, but passes.
    let check = check_config(st.dir.path());
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(
        stdout(&check).contains("(5 day(s) left)"),
        "{}",
        stdout(&check)
    );
    let warning = stderr(&check);
    assert!(
        warning.contains("warning") && warning.contains("certbot renew"),
        "{warning}"
    );
    // The running webd warns on reload: the file, the date and the fix.
    st.webd.signal("HUP");
    let warned = wait_for(PATIENCE, || {
        st.log()
            .lines()
            .find(|l| l.contains("expires soon"))
            .map(str::to_owned)
    });
    let line = warned.unwrap_or_else(|| panic!("no expiry warning: {}", st.log()));
    let date =
        (time::OffsetDateTime::now_utc() + time::Duration::days(5) + time::Duration::hours(1))
            .date()
            .to_string();
    for part in [
        cert.display().to_string().as_str(),
        "WARN",
        &date,
        "5 day(s) left",
        "certbot renew",
        "webd cert self-signed",
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert!(st.webd.is_running());
    // It serves the new certificate: a warning, not an outage.
    st.server_pem = std::fs::read(&cert).expect("fullchain.pem");
    assert_eq!(st.post(st.anonymous(), "ifttt"), Ok(200));
}

#[test]
fn webd_started_with_an_expiring_certificate_warns_at_once() {
    let st = Stack::start_with(test_dir(), "", &[("ifttt", "")], |dir| {
        certificate_expiring_in(dir, 5);
    });
    let log = st.log();
    let line = log.lines().find(|l| l.contains("expires soon"));
    assert!(
        line.is_some_and(|l| l.contains("fullchain.pem") && l.contains("5 day(s) left")),
        "{log}"
    );
    assert_eq!(st.post(st.anonymous(), "ifttt"), Ok(200));
}

#[test]
fn check_config_fails_on_an_expired_certificate() {
    let dir = test_dir();
    self_signed(&dir.path().join("tls"));
    certificate_expiring_in(dir.path(), -3);
    std::fs::write(
        dir.path().join("webd.toml"),
        format!(
            "ledd_socket = \"ledd.sock\"\n{}[tls]\ncert = \"tls/fullchain.pem\"\nkey = \"tls/privkey.pem\"\n",
            user_lines()
        ),
    )
    .expect("write webd.toml");
    let out = check_config(dir.path());
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stdout(&out).contains("expired on"), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("EXPIRED") && err.contains("certbot renew"),
        "{err}"
    );
}
