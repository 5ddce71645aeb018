//! webd end to end: real `ledd` (simulated strip) and `webd` processes, a
//! self-signed certificate made by `webd cert self-signed`, tokens made by
//! `webd token new`, and real HTTPS clients (ureq over rustls, and raw
//! rustls connections where a test needs to misbehave on purpose).
//!
//! Every server binds 127.0.0.1; every loop is bounded in count and time.
//!
//! Over 500 lines on purpose: each test here drives real processes end to
//! end and reads as one behaviour of the daemon, so the file is that
//! daemon's list of promises; a topic that grows a set of its own moves to
//! a file of its own (as `admission.rs`, `credentials.rs` and
//! `admin_slots.rs` did).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;
use tinsel_tests::https::{Tls, client_config, read_head, status_of, tls_from};

use crate::fixtures::{Webd, new_token, self_signed, user_lines};
use crate::harness::{Daemon, wait_for};

/// The header timeout in the test config: short, so the slowloris test is
/// quick, and within webd's 5 s cap.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// The ban length in the test config.
const BAN: Duration = Duration::from_secs(2);

/// A running ledd + webd pair in a temporary directory.
struct Stack {
    w: Webd,
    /// A token for every hook.
    token: String,
    /// A token for `rainbow` only.
    scoped: String,
    http: ureq::Agent,
}

impl std::ops::Deref for Stack {
    type Target = Webd;

    fn deref(&self) -> &Webd {
        &self.w
    }
}

impl std::ops::DerefMut for Stack {
    fn deref_mut(&mut self) -> &mut Webd {
        &mut self.w
    }
}

impl Stack {
    /// Starts ledd and webd with the test config.
    fn start() -> Stack {
        let w = Webd::builder()
            .token("e2e", &[])
            .token("scoped", &["rainbow"])
            .sections(&format!(
                r#"[limits]
header_timeout_secs = {header}
handshake_timeout_secs = 2
ledd_timeout_ms = 1000
shutdown_grace_secs = 3

[ban]
max_failures = 3
window_secs = 60
ban_secs = {ban}
global_failures_per_minute = 0

[hooks.rainbow]
animation = "rainbow"

[hooks.fire]
animation = "fire"

[hooks.color]
animation = "solid"
color = "white"
request_colors = ["red", "green", "blue", "warm-white"]

[hooks.off]
animation = "off"
"#,
                header = HEADER_TIMEOUT.as_secs(),
                ban = BAN.as_secs(),
            ))
            .start();
        Stack {
            token: w.tokens[0].clone(),
            scoped: w.tokens[1].clone(),
            http: w.agent(),
            w,
        }
    }

    /// Writes a fresh certificate and key over webd's, sends SIGHUP, and
    /// returns a client config that trusts only the new certificate.
    fn replace_certificate_and_reload(&self) -> Arc<rustls::ClientConfig> {
        let fresh_dir = self.dir.path().join("fresh");
        let new_pem = self_signed(&fresh_dir);
        for f in ["fullchain.pem", "privkey.pem"] {
            let to = self.dir.path().join("tls").join(f);
            std::fs::copy(fresh_dir.join(f), &to).expect("copy");
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        self.webd.signal("HUP");
        client_config(&new_pem, &[b"http/1.1"])
    }

    /// POSTs `body` (with its content type) and the given headers.
    fn post(&self, path: &str, headers: &[(&str, &str)], body: Option<(&str, &str)>) -> Reply {
        let mut req = self.http.post(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = match body {
            Some((ct, b)) => req.header("content-type", ct).send(b),
            None => req.send_empty(),
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after");
        let security = [
            "strict-transport-security",
            "x-content-type-options",
            "content-security-policy",
            "cache-control",
            "referrer-policy",
        ]
        .iter()
        .all(|h| header(h).is_some());
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            retry_after,
            security,
            json,
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    fn status(&self) -> Value {
        self.ledd.status()
    }

    /// Waits until ledd reports `animation` playing (commands reach the
    /// frame loop within a frame or two).
    fn playing(&self, animation: &str) -> Value {
        wait_for(Duration::from_secs(3), || {
            let s = self.status();
            (s["playing"]["animation"] == animation).then_some(s)
        })
        .unwrap_or_else(|| panic!("ledd is not playing {animation}: {}", self.status()))
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    retry_after: Option<String>,
    security: bool,
    json: Value,
}

// ---------------------------------------------------------------------------
// A raw TLS client, for the tests that hold a connection or misbehave.

/// A TLS connection from 127.0.0.1, handshake done.
fn tls_connect(port: u16, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    tls_from(Ipv4Addr::LOCALHOST, port, cfg, Duration::from_secs(5))
}

/// Sends one keep-alive HTTP/1.1 request on `s` and returns the status.
fn raw_request(s: &mut Tls, path: &str, token: &str) -> std::io::Result<u16> {
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
    )?;
    s.flush()?;
    let head = read_head(s)?.to_ascii_lowercase();
    let status = status_of(&head).unwrap_or(0);
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    s.read_exact(&mut body)?;
    Ok(status)
}

/// Reads until the server closes `s`; returns how long that took, or
/// `None` if it stayed open for `limit`.
fn time_until_closed(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    let mut buf = [0u8; 512];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

// ---------------------------------------------------------------------------
// The tests.

#[test]
fn bearer_token_plays_the_hook() {
    let st = Stack::start();
    let r = st.post("/hooks/fire", &[("authorization", &st.bearer())], None);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["animation"], "fire");
    assert!(r.security, "security headers missing: {r:?}");
    st.playing("fire");
    // The form of a curl one-liner works too.
    let form = format!("token={}", st.token);
    let r = st.post(
        "/hooks/rainbow",
        &[],
        Some(("application/x-www-form-urlencoded", &form)),
    );
    assert_eq!(r.status, 200, "{r:?}");
    st.playing("rainbow");
    // webd serves from one thread: the sandbox relies on it.
    let threads = std::fs::read_dir(format!("/proc/{}/task", st.webd.pid()))
        .expect("/proc")
        .count();
    assert_eq!(threads, 1, "webd runs {threads} threads");
}

#[test]
fn ifttt_json_body_token_with_a_text_ingredient_as_colour() {
    let st = Stack::start();
    // IFTTT "Make a web request": URL https://HOST/hooks/color, method POST,
    // content type application/json, body with {{TextField}} from Google
    // Assistant ("set the tree to warm white").
    let body = format!(r#"{{"token":"{}","color":" Warm White "}}"#, st.token);
    let r = st.post("/hooks/color", &[], Some(("application/json", &body)));
    assert_eq!(r.status, 200, "{r:?}");
    let s = st.playing("solid");
    assert_eq!(s["playing"]["color"], "#ff9329", "{s}");
    // A colour outside the hook's allowlist is refused and named.
    let body = format!(r#"{{"token":"{}","color":"purple"}}"#, st.token);
    let r = st.post("/hooks/color", &[], Some(("application/json", &body)));
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (400, Some("color")),
        "{r:?}"
    );
}

#[test]
fn home_assistant_rest_command() {
    let st = Stack::start();
    // rest_command:
    //   tree_color:
    //     url: https://HOST/hooks/color
    //     method: post
    //     headers: { authorization: "Bearer TOKEN" }
    //     content_type: "application/json"
    //     payload: '{"color": "{{ color }}"}'
    let r = st.post(
        "/hooks/color",
        &[
            ("authorization", &st.bearer()),
            ("user-agent", "HomeAssistant/2025.12 aiohttp/3.11"),
        ],
        Some(("application/json", r#"{"color": "red"}"#)),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let s = st.playing("solid");
    assert_eq!(s["playing"]["color"], "#ff0000", "{s}");
    let r = st.post("/hooks/off", &[("authorization", &st.bearer())], None);
    assert_eq!(r.status, 200, "{r:?}");
    let off = wait_for(Duration::from_secs(3), || {
        st.status()["playing"].is_null().then_some(())
    });
    assert!(off.is_some(), "still playing after off: {}", st.status());
}

#[test]
fn error_statuses() {
    let st = Stack::start();
    let bearer = st.bearer();
    let auth = [("authorization", bearer.as_str())];
    let scoped = format!("Bearer {}", st.scoped);
    let big = format!(r#"{{"color":"{}"}}"#, "x".repeat(5000));
    // (path, headers, body with its content type, status, error code)
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        Option<(&'a str, &'a str)>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        ("/hooks/fire", vec![], None, 401, "unauthorized"),
        (
            "/hooks/nope",
            vec![("authorization", "Bearer not-a-token")],
            None,
            401,
            "unauthorized",
        ),
        (
            "/hooks/fire",
            vec![("authorization", &scoped)],
            None,
            403,
            "forbidden",
        ),
        ("/hooks/nope", auth.to_vec(), None, 404, "no_such_hook"),
        (
            "/hooks/color",
            auth.to_vec(),
            Some(("application/json", r#"{"color":"mauve"}"#)),
            400,
            "bad_request",
        ),
        (
            "/hooks/color",
            auth.to_vec(),
            Some(("application/json", &big)),
            413,
            "body_too_large",
        ),
        (
            "/hooks/color",
            auth.to_vec(),
            Some(("text/plain", "red")),
            415,
            "unsupported_media_type",
        ),
    ];
    for (path, headers, body, status, code) in cases {
        let r = st.post(path, &headers, body);
        assert_eq!(r.status, status, "{path}: {r:?}");
        assert_eq!(r.json["error"], code, "{path}: {r:?}");
        assert!(r.security, "{path}: security headers missing");
    }
    // The scoped token does work for its own hook.
    let r = st.post("/hooks/rainbow", &[("authorization", &scoped)], None);
    assert_eq!(r.status, 200, "{r:?}");
    // 400 names the field.
    let r = st.post(
        "/hooks/color",
        &auth,
        Some(("application/json", r#"{"color":"plaid","value1":3}"#)),
    );
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (400, Some("color")),
        "{r:?}"
    );
    // Fields webd does not know (IFTTT's value1, a "source") are ignored.
    let r = st.post(
        "/hooks/color",
        &auth,
        Some((
            "application/json",
            r#"{"value1":"x","source":"ifttt","color":"red"}"#,
        )),
    );
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn failures_ban_then_the_ban_ends() {
    let st = Stack::start();
    for i in 0..3 {
        let r = st.post("/hooks/fire", &[("authorization", "Bearer wrong")], None);
        assert_eq!(r.status, 401, "failure {i}: {r:?}");
    }
    // Banned now, even with the right token.
    let r = st.post("/hooks/fire", &[("authorization", &st.bearer())], None);
    assert_eq!(r.status, 429, "{r:?}");
    let retry: u64 = r
        .retry_after
        .as_deref()
        .and_then(|s| s.parse().ok())
        .expect("Retry-After");
    assert!((1..=BAN.as_secs()).contains(&retry), "Retry-After {retry}");
    // After the ban: served again.
    std::thread::sleep(BAN + Duration::from_millis(300));
    let r = st.post("/hooks/fire", &[("authorization", &st.bearer())], None);
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn slowloris_and_silent_connections_are_closed() {
    let st = Stack::start();
    let cfg = client_config(&st.cert_pem, &[b"http/1.1"]);
    // Headers trickled one line at a time never finish.
    let mut tls = tls_connect(st.port, cfg).expect("connect");
    write!(tls, "POST /hooks/fire HTTP/1.1\r\nHost: localhost\r\n").expect("write");
    tls.flush().expect("flush");
    let mut tls = Some(tls);
    let mut n = 0;
    let start = Instant::now();
    let mut closed = None;
    while start.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(250));
        n += 1;
        let Some(s) = tls.as_mut() else { break };
        let alive = write!(s, "X-Slow-{n}: 1\r\n")
            .and_then(|()| s.flush())
            .is_ok();
        // A closed TLS connection shows as a read of 0 or an error.
        s.sock
            .set_read_timeout(Some(Duration::from_millis(10)))
            .ok();
        let mut buf = [0u8; 64];
        let read_closed = match s.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        if !alive || read_closed {
            closed = Some(start.elapsed());
            tls = None;
        }
    }
    let closed = closed.expect("the slow connection was never closed");
    assert!(
        closed <= HEADER_TIMEOUT + Duration::from_millis(1500),
        "closed after {closed:?}, header timeout {HEADER_TIMEOUT:?}"
    );
    assert!(
        closed >= HEADER_TIMEOUT - Duration::from_millis(500),
        "closed too early: {closed:?}"
    );

    // A TCP connection that never starts TLS is closed by the handshake
    // timeout (2 s in the test config).
    let mut tcp = TcpStream::connect(("127.0.0.1", st.port)).expect("connect");
    let t = time_until_closed(&mut tcp, Duration::from_secs(6))
        .expect("silent connection never closed");
    assert!(t <= Duration::from_millis(3500), "{t:?}");

    // Meanwhile webd serves others.
    let r = st.post("/hooks/fire", &[("authorization", &st.bearer())], None);
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn tls_speaks_http1_only_and_resumes_sessions() {
    let st = Stack::start();
    // A client that would take h2 gets HTTP/1.1 ...
    let cfg = client_config(&st.cert_pem, &[b"h2", b"http/1.1"]);
    let s = tls_connect(st.port, cfg).expect("connect");
    assert_eq!(s.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    drop(s);
    // ... and one that speaks only h2 is refused in the handshake.
    let h2_only = client_config(&st.cert_pem, &[b"h2"]);
    let refused = tls_connect(st.port, h2_only);
    assert!(
        refused.is_err(),
        "a client offering only h2 completed a handshake"
    );
    let cfg = client_config(&st.cert_pem, &[b"http/1.1"]);
    let mut first = tls_connect(st.port, cfg.clone()).expect("connect");
    assert_eq!(first.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    // Reading a response also takes in the session tickets.
    assert_eq!(
        raw_request(&mut first, "/hooks/fire", &st.token).expect("request"),
        200
    );
    let second = tls_connect(st.port, cfg).expect("reconnect");
    assert_eq!(
        second.conn.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    // TLS 1.2 is offered too.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&st.cert_pem) {
        roots.add(c.expect("PEM")).expect("root");
    }
    let tls12 = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("tls12")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let s = tls_connect(st.port, Arc::new(tls12)).expect("TLS 1.2");
    assert_eq!(
        s.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

#[test]
fn sighup_reloads_the_certificate_without_dropping_connections() {
    let mut st = Stack::start();
    let old_cfg = client_config(&st.cert_pem, &[b"http/1.1"]);
    let mut held = tls_connect(st.port, old_cfg).expect("connect");
    assert_eq!(
        raw_request(&mut held, "/hooks/fire", &st.token).expect("request"),
        200
    );

    // A new certificate in place of the old, then SIGHUP.
    let new_cfg = st.replace_certificate_and_reload();
    let reloaded = wait_for(Duration::from_secs(5), || {
        tls_connect(st.port, new_cfg.clone()).ok()
    });
    assert!(
        reloaded.is_some(),
        "the new certificate was not served after SIGHUP"
    );
    // The old certificate is no longer served to new connections (a fresh
    // client: one with a cached session would resume without looking)...
    let old_fresh = client_config(&st.cert_pem, &[b"http/1.1"]);
    assert!(tls_connect(st.port, old_fresh).is_err());
    // ...but the connection made before the reload still works.
    assert_eq!(
        raw_request(&mut held, "/hooks/rainbow", &st.token).expect("held"),
        200
    );

    // A broken file on the next reload keeps the running certificate.
    std::fs::write(st.dir.path().join("tls/fullchain.pem"), "not a certificate").expect("write");
    st.webd.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    let mut s = tls_connect(st.port, new_cfg).expect("still the good certificate");
    assert_eq!(
        raw_request(&mut s, "/hooks/fire", &st.token).expect("request"),
        200
    );
    assert!(st.webd.is_running());
}

#[test]
fn ledd_restart_under_load_gives_503_then_recovers() {
    let mut st = Stack::start();
    // The test holds ledd itself, so the load threads can share the stack.
    let mut ledd = std::mem::replace(
        &mut st.ledd.daemon,
        Daemon {
            child: None,
            name: "ledd",
        },
    );
    let bearer = st.bearer();
    let auth = [("authorization", bearer.as_str())];
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut statuses = Vec::new();
    let start = Instant::now();
    let mut killed_at = None;
    let mut restarted = false;
    let mut recovered = false;
    let background: Vec<u16> = std::thread::scope(|scope| {
        // Background load on other connections: healthz and hooks, until
        // told to stop (bounded by the same 30 s).
        let load = scope.spawn(|| {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && start.elapsed() < Duration::from_secs(30)
            {
                seen.push(st.post("/hooks/color", &auth, None).status);
                let health = st.http.get(st.url("/healthz")).call().expect("healthz");
                assert_eq!(health.status(), 200);
            }
            seen
        });
        // Requests back to back; ledd is killed after 1 s and restarted
        // 1.5 s later. Bounded: 30 s and 2000 requests at most.
        while start.elapsed() < Duration::from_secs(30) && statuses.len() < 2000 {
            let hook = if statuses.len() % 2 == 0 {
                "/hooks/fire"
            } else {
                "/hooks/rainbow"
            };
            let r = st.post(hook, &auth, None);
            if r.status == 503 {
                let retry: u64 = r
                    .retry_after
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .expect("Retry-After on 503");
                assert!(retry >= 1);
            }
            statuses.push(r.status);
            let t = start.elapsed();
            if killed_at.is_none() && t > Duration::from_secs(1) {
                // Dropping the daemon kills it (SIGKILL): no goodbye to webd.
                ledd = Daemon {
                    child: None,
                    name: "ledd",
                };
                killed_at = Some(statuses.len());
            }
            if let Some(k) = killed_at
                && !restarted
                && t > Duration::from_millis(2500)
            {
                assert!(
                    statuses[k..].contains(&503),
                    "no 503 while ledd was down: {statuses:?}"
                );
                ledd = Webd::default_ledd().start_in(st.dir.path()).daemon;
                restarted = true;
            }
            if restarted && r.status == 200 {
                recovered = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        load.join().expect("load thread")
    });
    let killed_at = killed_at.expect("ledd was killed");
    assert!(recovered, "webd did not recover: {statuses:?}");
    // Every request got an answer, and only "ok" or "try later".
    for s in statuses.iter().chain(&background) {
        assert!(*s == 200 || *s == 503, "{statuses:?} {background:?}");
    }
    assert!(
        statuses[..killed_at].iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    assert!(background.contains(&200), "{background:?}");
    // The new ledd serves webhooks as before.
    st.ledd.daemon = ledd;
    assert_eq!(st.post("/hooks/fire", &auth, None).status, 200);
    st.playing("fire");
    // webd itself never went away.
    assert!(st.webd.is_running());
}

#[test]
fn sigterm_stops_webd_cleanly() {
    let mut st = Stack::start();
    let r = st.post("/hooks/fire", &[("authorization", &st.bearer())], None);
    assert_eq!(r.status, 200);
    st.webd.signal("TERM");
    let status = st
        .webd
        .wait_timeout(Duration::from_secs(6))
        .expect("webd exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
    // The animation keeps playing without webd.
    st.playing("fire");
}

#[test]
fn sighup_reloads_tokens_and_keeps_them_when_the_new_config_is_bad() {
    let mut st = Stack::start();
    let config = st.config();
    let (late, late_lines) = new_token("late", &["fire"]);
    let late_bearer = format!("Bearer {late}");
    let auth = [("authorization", late_bearer.as_str())];
    assert_eq!(st.post("/hooks/fire", &auth, None).status, 401);
    let mut text = std::fs::read_to_string(&config).expect("read config");
    text.push_str(&format!("\n{late_lines}\n"));
    std::fs::write(&config, &text).expect("write config");
    st.webd.signal("HUP");
    let ok = wait_for(Duration::from_secs(5), || {
        (st.post("/hooks/fire", &auth, None).status == 200).then_some(())
    });
    assert!(ok.is_some(), "the new token was not accepted after SIGHUP");
    // A broken config is refused; the running one stays.
    std::fs::write(&config, format!("{text}\nnot_a_key = 1\n")).expect("write config");
    st.webd.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(st.webd.is_running());
    assert_eq!(st.post("/hooks/fire", &auth, None).status, 200);
    assert_eq!(st.post("/hooks/rainbow", &auth, None).status, 403);
}

/// The fields of /proc/PID/status that show the sandbox.
fn proc_status(pid: u32) -> std::collections::HashMap<String, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: webd starts as root and drops to nobody"
)]
fn as_root_the_fully_sandboxed_webd_serves_reaches_ledd_and_reloads_its_certificate() {
    assert!(
        !user_lines().is_empty(),
        "this test starts webd as root so that it drops to nobody: run the suite as root (CI does)"
    );
    let mut st = Stack::start();

    // Every layer is live in the running daemon.
    let status = proc_status(st.webd.pid());
    let uids: Vec<&str> = status["Uid"].split_whitespace().collect();
    assert_eq!(
        uids, ["65534"; 4],
        "real, effective, saved, fs uid: {status:?}"
    );
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status[set], "0000000000000000", "{set}");
    }
    assert_eq!(status["NoNewPrivs"], "1");
    assert_eq!(status["Seccomp"], "2", "seccomp filter mode");
    assert_eq!(
        status["Threads"], "1",
        "one thread: nothing escaped the sandbox"
    );

    // It serves HTTPS and reaches ledd.
    let r = st.post(
        "/hooks/fire",
        &[("authorization", st.bearer().as_str())],
        None,
    );
    assert_eq!(r.status, 200, "{:?}", r.json);
    st.playing("fire");

    // And re-reads its certificate on SIGHUP from inside Landlock.
    let new_cfg = st.replace_certificate_and_reload();
    let mut s = wait_for(Duration::from_secs(5), || {
        tls_connect(st.port, new_cfg.clone()).ok()
    })
    .expect("the new certificate is served after SIGHUP");
    assert_eq!(
        raw_request(&mut s, "/hooks/rainbow", &st.token).expect("request"),
        200
    );
    st.playing("rainbow");
    assert!(st.webd.is_running(), "no syscall of the reload was killed");
}
