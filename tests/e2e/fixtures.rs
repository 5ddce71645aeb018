//! The daemons as the end-to-end tests start them: a ledd on the simulated
//! strip ([`LeddBuilder`]) and webd in front of one ([`WebdBuilder`]), each
//! in a temporary directory, waited for until it answers, and killed when
//! dropped. A test says only what it needs different from the defaults.

use std::fs::File;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tinsel_tests::https::{client_config, read_head, status_of, tls_from};

use crate::harness::{Daemon, bin, run, stderr, stdout, wait_for};

/// How long a daemon may take to answer after it is started.
const START_LIMIT: Duration = Duration::from_secs(10);

/// Sets `path`'s permission bits.
pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    run(Command::new("id").arg("-u")).stdout.starts_with(b"0\n")
}

/// The unprivileged group of this system: `nogroup` (Debian) or `nobody`.
pub fn nogroup() -> &'static str {
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    if groups.lines().any(|l| l.starts_with("nogroup:")) {
        "nogroup"
    } else {
        "nobody"
    }
}

/// Who webd should drop to when the tests run as root (as in CI): empty
/// otherwise, since only root may change user.
pub fn user_lines() -> String {
    if !is_root() {
        return String::new();
    }
    format!("user = \"nobody\"\ngroup = \"{}\"\n", nogroup())
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local_addr").port()
}

// ---------------------------------------------------------------------------
// ledd

/// An `[output]` section of full brightness, no gamma and no current limit:
/// the frame is what the animation draws.
pub const PLAIN_OUTPUT: &str = "[output]\ngamma = 1.0\nbrightness = 100\nmax_milliamps = 0\n";

/// How to start a ledd: `Ledd::builder()...start()`.
#[derive(Debug, Clone)]
pub struct LeddBuilder {
    leds: usize,
    strip_type: Option<String>,
    socket_mode: Option<String>,
    access: String,
    sections: String,
    /// A whole config file (its `socket` line replaced), instead of the
    /// above.
    text: Option<String>,
}

/// A running ledd: its socket, config and log (its stderr) in `dir`.
#[derive(Debug)]
pub struct Ledd {
    pub daemon: Daemon,
    pub dir: PathBuf,
    pub socket: PathBuf,
    log: PathBuf,
    /// The temporary directory, when this ledd owns it.
    _tempdir: Option<tempfile::TempDir>,
}

impl LeddBuilder {
    /// The number of LEDs on the simulated strip (default 30).
    pub fn leds(mut self, count: usize) -> Self {
        self.leds = count;
        self
    }

    /// `[strip] type` (default: ledd's own default).
    pub fn strip_type(mut self, strip_type: &str) -> Self {
        self.strip_type = Some(strip_type.to_owned());
        self
    }

    /// `socket_mode`, e.g. `"0666"` so that other uids reach the socket
    /// and roles decide (default: ledd's own default).
    pub fn socket_mode(mut self, mode: &str) -> Self {
        self.socket_mode = Some(mode.to_owned());
        self
    }

    /// Lines for the `[access]` section.
    pub fn access(mut self, lines: &str) -> Self {
        self.access.push_str(lines);
        if !lines.ends_with('\n') {
            self.access.push('\n');
        }
        self
    }

    /// Further config sections, appended as they are.
    pub fn sections(mut self, text: &str) -> Self {
        self.sections.push_str(text);
        self
    }

    /// The whole config file `text` (e.g. the package's, with its names
    /// swapped for this machine's), with its `socket` line pointing at the
    /// test's socket. The other settings of the builder are not used.
    pub fn text(mut self, text: &str) -> Self {
        self.text = Some(text.to_owned());
        self
    }

    /// The config text for a socket at `socket`.
    pub fn config(&self, socket: &Path) -> String {
        if let Some(text) = &self.text {
            return text
                .lines()
                .map(|line| match line.split_once('=').map(|(k, _)| k.trim()) {
                    Some("socket") => format!("socket = \"{}\"\n", socket.display()),
                    _ => format!("{line}\n"),
                })
                .collect();
        }
        let mut text = format!("socket = \"{}\"\n", socket.display());
        if let Some(mode) = &self.socket_mode {
            text.push_str(&format!("socket_mode = \"{mode}\"\n"));
        }
        text.push_str(&format!(
            "[strip]\nbackend = \"sim\"\ncount = {}\n",
            self.leds
        ));
        if let Some(t) = &self.strip_type {
            text.push_str(&format!("type = \"{t}\"\n"));
        }
        if !self.access.is_empty() {
            text.push_str("[access]\n");
            text.push_str(&self.access);
        }
        text.push_str(&self.sections);
        text
    }

    /// Writes `DIR/ledd.toml` (socket `DIR/ledd.sock`) and returns its path.
    pub fn write_config(&self, dir: &Path) -> PathBuf {
        let config = dir.join("ledd.toml");
        std::fs::write(&config, self.config(&dir.join("ledd.sock"))).expect("write ledd.toml");
        // ledd (as root) trusts only a config that no one else can write.
        chmod(&config, 0o644);
        config
    }

    /// Starts ledd in a temporary directory of its own and waits until it
    /// answers.
    pub fn start(self) -> Ledd {
        let tempdir = tempfile::tempdir().expect("tempdir");
        let mut ledd = self.start_in(tempdir.path());
        ledd._tempdir = Some(tempdir);
        ledd
    }

    /// Starts ledd in `dir` (config `ledd.toml`, socket `ledd.sock`, log
    /// `ledd.log`) and waits until it answers.
    pub fn start_in(self, dir: &Path) -> Ledd {
        // Other uids (peers, webd after its drop) must reach the socket.
        chmod(dir, 0o755);
        let config = self.write_config(dir);
        let log = dir.join("ledd.log");
        let mut cmd = Command::new(bin("ledd"));
        cmd.arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create ledd.log"));
        let ledd = Ledd {
            daemon: Daemon::spawn("ledd", &mut cmd),
            dir: dir.to_owned(),
            socket: dir.join("ledd.sock"),
            log,
            _tempdir: None,
        };
        wait_for(START_LIMIT, || {
            ledd.ctl(&["status"]).status.success().then_some(())
        })
        .unwrap_or_else(|| panic!("ledd did not answer within 10 s: {}", ledd.log()));
        ledd
    }
}

impl Ledd {
    /// 30 LEDs, ledd's default socket mode, no roles beyond root's.
    pub fn builder() -> LeddBuilder {
        LeddBuilder {
            leds: 30,
            strip_type: None,
            socket_mode: None,
            access: String::new(),
            sections: String::new(),
            text: None,
        }
    }

    /// `ledctl --socket SOCKET ARGS...` as whoever runs the tests.
    pub fn ctl(&self, args: &[&str]) -> Output {
        run(Command::new(bin("ledctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args))
    }

    /// `ledctl` as `uid`:`gid` with no supplementary groups (needs root).
    pub fn ctl_as(&self, uid: u32, gid: u32, args: &[&str]) -> Output {
        run(Command::new("setpriv")
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg("--clear-groups")
            .arg(bin("ledctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args))
    }

    /// `ledctl ARGS...`, which must succeed: its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "ledctl {args:?} failed ({:?}): {}",
            out.status,
            stderr(&out)
        );
        stdout(&out)
    }

    /// `ledctl status --json`.
    pub fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status is JSON")
    }

    /// `ledctl frame --json`.
    pub fn frame(&self) -> Vec<[u8; 3]> {
        serde_json::from_str(&self.ok(&["frame", "--json"])).expect("frame is JSON")
    }

    /// What ledd has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------
// webd

/// How to start webd in front of a ledd: `Webd::builder()...start()`.
#[derive(Debug, Clone)]
pub struct WebdBuilder {
    ledd: LeddBuilder,
    top: String,
    sections: String,
    tokens: Vec<(String, Vec<String>)>,
}

/// A running ledd + webd pair sharing one temporary directory: webd's
/// config `webd.toml`, its certificate and key in `tls/`.
#[derive(Debug)]
pub struct Webd {
    pub ledd: Ledd,
    pub webd: Daemon,
    pub port: u16,
    /// The tokens asked for, in order.
    pub tokens: Vec<String>,
    /// The self-signed certificate webd serves.
    pub cert_pem: Vec<u8>,
    pub dir: tempfile::TempDir,
}

impl WebdBuilder {
    /// The ledd to start first (default: [`Webd::default_ledd`]).
    pub fn ledd(mut self, ledd: LeddBuilder) -> Self {
        self.ledd = ledd;
        self
    }

    /// Top-level config lines (e.g. `trusted_proxies`).
    pub fn top(mut self, lines: &str) -> Self {
        self.top.push_str(lines);
        if !lines.ends_with('\n') {
            self.top.push('\n');
        }
        self
    }

    /// Config sections (`[limits]`, `[ban]`, `[hooks.NAME]`...), as they are.
    pub fn sections(mut self, text: &str) -> Self {
        self.sections.push_str(text);
        self
    }

    /// A token minted by `webd token new NAME [--hook H]...`.
    pub fn token(mut self, name: &str, hooks: &[&str]) -> Self {
        self.tokens.push((
            name.to_owned(),
            hooks.iter().map(|h| (*h).to_owned()).collect(),
        ));
        self
    }

    /// Starts ledd, then webd with a fresh self-signed certificate, and
    /// waits until webd answers `GET /healthz` with 200.
    pub fn start(self) -> Webd {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledd = self.ledd.start_in(dir.path());
        let cert_pem = self_signed(&dir.path().join("tls"));
        let mut tokens = Vec::new();
        let mut token_lines = String::new();
        for (name, hooks) in &self.tokens {
            let hooks: Vec<&str> = hooks.iter().map(String::as_str).collect();
            let (token, lines) = new_token(name, &hooks);
            tokens.push(token);
            token_lines.push_str(&format!("\n{lines}\n"));
        }
        let port = free_port();
        let config = format!(
            "listen = \"127.0.0.1:{port}\"\nledd_socket = \"ledd.sock\"\n{users}{top}\n\
             [tls]\ncert = \"tls/fullchain.pem\"\nkey = \"tls/privkey.pem\"\n\n{sections}\n{token_lines}",
            users = user_lines(),
            top = self.top,
            sections = self.sections,
        );
        let config_path = dir.path().join("webd.toml");
        std::fs::write(&config_path, config).expect("write webd.toml");
        // Once webd's sandbox drops root, it re-reads these on SIGHUP as
        // nobody: make them readable (test material only).
        chmod(&dir.path().join("tls"), 0o755);
        chmod(&dir.path().join("tls/privkey.pem"), 0o644);
        let check = run(Command::new(bin("webd"))
            .arg("--check-config")
            .arg(&config_path));
        assert!(check.status.success(), "check-config: {}", stderr(&check));
        let webd = Daemon::spawn(
            "webd",
            Command::new(bin("webd"))
                .arg("--config")
                .arg(&config_path)
                .stdout(Stdio::null()),
        );
        let mut w = Webd {
            ledd,
            webd,
            port,
            tokens,
            cert_pem,
            dir,
        };
        let probe = client_config(&w.cert_pem, &[b"http/1.1"]);
        let up = wait_for(START_LIMIT, || {
            assert!(w.webd.is_running(), "webd exited during start-up");
            healthz(w.port, probe.clone()).filter(|s| *s == 200)
        });
        assert!(up.is_some(), "webd did not answer /healthz within 10 s");
        w
    }
}

/// `GET /healthz` on a connection of its own that the server closes after
/// answering, so no slot stays taken: the status.
fn healthz(port: u16, cfg: Arc<rustls::ClientConfig>) -> Option<u16> {
    use std::io::{Read as _, Write as _};
    let mut s = tls_from(
        std::net::Ipv4Addr::LOCALHOST,
        port,
        cfg,
        Duration::from_secs(5),
    )
    .ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    s.flush().ok()?;
    let status = status_of(&read_head(&mut s).ok()?)?;
    // Read to the end: webd has closed its side, and freed the slot.
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    Some(status)
}

impl Webd {
    /// 30 LEDs, socket mode 0666 and the hooks role for `nobody`, so that
    /// webd still connects once its sandbox drops to nobody.
    pub fn default_ledd() -> LeddBuilder {
        Ledd::builder()
            .socket_mode("0666")
            .access("hooks_users = [\"nobody\"]")
    }

    /// ledd as [`Webd::default_ledd`], no tokens, no hooks.
    pub fn builder() -> WebdBuilder {
        WebdBuilder {
            ledd: Webd::default_ledd(),
            top: String::new(),
            sections: String::new(),
            tokens: Vec::new(),
        }
    }

    /// `https://localhost:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// webd's config file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("webd.toml")
    }

    /// An HTTP client that trusts webd's certificate.
    pub fn agent(&self) -> ureq::Agent {
        agent(&self.cert_pem)
    }
}

/// An HTTP client that trusts only `cert_pem`, reports every status as a
/// reply (not an error), and gives up after 10 s.
pub fn agent(cert_pem: &[u8]) -> ureq::Agent {
    let cert = ureq::tls::Certificate::from_pem(cert_pem).expect("PEM");
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
        .build();
    let config = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build();
    ureq::Agent::new_with_config(config)
}

/// `webd cert self-signed --force --out OUT`: the certificate's PEM.
pub fn self_signed(out: &Path) -> Vec<u8> {
    let o = run(Command::new(bin("webd"))
        .args(["cert", "self-signed", "--force", "--out"])
        .arg(out));
    assert!(o.status.success(), "cert self-signed: {}", stderr(&o));
    std::fs::read(out.join("fullchain.pem")).expect("fullchain.pem")
}

/// Runs `webd token new NAME [--hook H]...` and returns (token, config lines).
pub fn new_token(name: &str, hooks: &[&str]) -> (String, String) {
    let mut cmd = Command::new(bin("webd"));
    cmd.args(["token", "new", name]);
    for h in hooks {
        cmd.args(["--hook", h]);
    }
    let out = run(&mut cmd);
    assert!(out.status.success(), "token new: {}", stderr(&out));
    let text = stdout(&out);
    let (token, rest) = text.split_once('\n').expect("token line");
    assert!(token.len() >= 43, "token too short: {token}");
    assert!(
        !rest.contains(token),
        "the config lines must not hold the token"
    );
    (token.to_owned(), rest.trim().to_owned())
}
