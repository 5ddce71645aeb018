//! webd's connection admission end to end: connections that never send a
//! byte, connections that trickle a request head and never finish it,
//! HTTP/2 (refused), and a client over its
//! allowance, all against a real webd with few slots, while a legitimate
//! client on another loopback address sends webhooks over real HTTPS.
//!
//! Clients bind their source address inside 127.0.0.0/8 (every address
//! there is the local host on Linux), so one machine plays several
//! clients. Every loop is bounded in count and time.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tinsel_tests::https::{self, Tls, client_config, read_head};

use crate::fixtures::{self, free_port, self_signed, user_lines};
use crate::harness::{Daemon, bin, wait_for};

/// webd's slots in these tests: few, so a handful of sockets fill them.
const SLOTS: usize = 8;
/// Per-client allowance in these tests.
const PER_CLIENT: usize = 4;
/// `handshake_timeout_secs` and `first_request_timeout_secs` here.
const DEADLINE: Duration = Duration::from_secs(3);
/// How long the legitimate client's webhook may take under attack: well
/// under `DEADLINE`, which is what a queue behind silent connections costs.
/// The emulated Pi Zero is about 20 times slower at the TLS handshake.
const PROMPT: Duration = if cfg!(target_arch = "arm") {
    Duration::from_millis(2500)
} else {
    Duration::from_millis(1500)
};

/// The legitimate client's address.
const GOOD: &str = "127.0.0.3";

struct Webd {
    w: fixtures::Webd,
    token: String,
    client: Arc<rustls::ClientConfig>,
}

impl std::ops::Deref for Webd {
    type Target = fixtures::Webd;

    fn deref(&self) -> &fixtures::Webd {
        &self.w
    }
}

impl std::ops::DerefMut for Webd {
    fn deref_mut(&mut self) -> &mut fixtures::Webd {
        &mut self.w
    }
}

impl Webd {
    /// ledd (simulated strip) and webd with `SLOTS` slots, `PER_CLIENT`
    /// per client, short deadlines, and `extra` lines at the top level.
    fn start(top: &str) -> Webd {
        let deadline = DEADLINE.as_secs();
        let w = fixtures::Webd::builder()
            .ledd(fixtures::Webd::default_ledd().leds(10))
            .top(top)
            .token("e2e", &[])
            .sections(&format!(
                r#"[limits]
max_connections = {SLOTS}
max_connections_per_client = {PER_CLIENT}
max_handshakes_per_client = {PER_CLIENT}
proxy_max_connections = {SLOTS}
handshake_timeout_secs = {deadline}
first_request_timeout_secs = {deadline}
shutdown_grace_secs = 1

[ban]
global_failures_per_minute = 0

[hooks.fire]
animation = "fire"
"#
            ))
            .start();
        let mut w = Webd {
            token: w.tokens[0].clone(),
            client: client_config(&w.cert_pem, &[b"http/1.1"]),
            w,
        };
        let up = wait_for(Duration::from_secs(10), || {
            assert!(w.webd.is_running(), "webd exited during start-up");
            w.webhook_from(GOOD).ok().filter(|s| *s == 200)
        });
        assert!(up.is_some(), "webd did not serve a webhook within 10 s");
        w
    }

    /// A webhook on a new connection from `src`: the HTTP status.
    fn webhook_from(&self, src: &str) -> std::io::Result<u16> {
        let mut s = tls_from(src, self.port, self.client.clone())?;
        write!(
            s,
            "POST /hooks/fire HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.token
        )?;
        s.flush()?;
        let head = read_head(&mut s)?;
        Ok(status_of(&head))
    }

    /// Asserts a webhook from the legitimate address gets 200 promptly.
    fn webhook_is_prompt(&self, under: &str) {
        let start = Instant::now();
        let status = self.webhook_from(GOOD);
        let took = start.elapsed();
        assert!(
            matches!(status, Ok(200)) && took <= PROMPT,
            "under {under}, a webhook from {GOOD} got {status:?} after {took:?} (want 200 within {PROMPT:?})"
        );
    }
}

/// A TCP connection from `src` (an address in 127.0.0.0/8) to webd.
fn connect_from(src: &str, port: u16) -> std::io::Result<TcpStream> {
    let src = src.parse().expect("source address");
    https::tcp_from(src, port, Duration::from_secs(5))
}

fn tls_from(src: &str, port: u16, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    https::handshake(connect_from(src, port)?, cfg)
}

fn status_of(head: &str) -> u16 {
    https::status_of(head).unwrap_or(0)
}

/// Whether the peer has closed `s`, looking for at most `wait`.
fn closed(mut s: &TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).expect("timeout");
    let mut buf = [0u8; 256];
    let start = Instant::now();
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) if start.elapsed() < wait => {}
            Ok(_) => return false,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// `n` silent TCP connections from `src`.
fn silent(src: &str, port: u16, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| connect_from(src, port).expect("connect"))
        .collect()
}

#[test]
fn silent_connections_do_not_delay_a_webhook_from_another_address() {
    let w = Webd::start("");
    // One address: its allowance, and the rest closed at once.
    let mine = silent("127.0.0.2", w.port, PER_CLIENT);
    let over = silent("127.0.0.2", w.port, 4);
    std::thread::sleep(Duration::from_millis(300));
    let refused = over
        .iter()
        .filter(|s| closed(s, Duration::from_millis(200)))
        .count();
    assert_eq!(
        refused, 4,
        "connections over 127.0.0.2's allowance of {PER_CLIENT} must be closed at once"
    );
    assert!(
        !mine.iter().any(|s| closed(s, Duration::from_millis(10))),
        "connections within the allowance stay open"
    );
    // More addresses fill every slot and then some.
    let others: Vec<TcpStream> = ["127.0.0.4", "127.0.0.5", "127.0.0.6"]
        .iter()
        .flat_map(|a| silent(a, w.port, PER_CLIENT))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    w.webhook_is_prompt(&format!(
        "{} silent connections from four addresses",
        mine.len() + others.len()
    ));
    // A second one too: the newcomer is never the first to go.
    w.webhook_is_prompt("the same flood");
    drop(others);
}

/// An HTTP/1.1 connection that trickles a request head a byte at a time
/// and never finishes it.
struct Trickler {
    s: Tls,
    sent: usize,
    opened: Instant,
    closed: Option<Duration>,
}

impl Trickler {
    fn open(src: &str, w: &Webd) -> Trickler {
        let s = tls_from(src, w.port, w.client.clone()).expect("connect");
        Trickler {
            s,
            sent: 0,
            opened: Instant::now(),
            closed: None,
        }
    }

    /// Sends the next byte of the head and looks for the server's close.
    fn trickle(&mut self) {
        if self.closed.is_some() {
            return;
        }
        let byte = https::trickled_byte(self.sent);
        self.sent += 1;
        let sent = self.s.write_all(&[byte]).and_then(|()| self.s.flush());
        if sent.is_err() || closed(&self.s.sock, Duration::from_millis(5)) {
            self.closed = Some(self.opened.elapsed());
        }
    }
}

#[test]
fn a_trickled_request_head_keeps_no_connection_alive() {
    let mut w = Webd::start("");
    let mut tricklers: Vec<Trickler> = ["127.0.0.2", "127.0.0.4"]
        .iter()
        .flat_map(|a| (0..PER_CLIENT).map(move |_| *a))
        .map(|a| Trickler::open(a, &w))
        .collect();
    assert_eq!(tricklers.len(), SLOTS);
    for t in &mut tricklers {
        t.trickle();
    }
    // Every slot is held by a connection that talks and never asks: a
    // newcomer takes one.
    w.webhook_is_prompt("connections that trickle a request head");
    // A byte every 250 ms does not keep them: each is closed once it has
    // gone `first_request_timeout_secs` without a request.
    let limit = DEADLINE + Duration::from_millis(1500);
    let start = Instant::now();
    while start.elapsed() < limit + Duration::from_secs(1)
        && tricklers.iter().any(|t| t.closed.is_none())
    {
        for t in &mut tricklers {
            t.trickle();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    for (i, t) in tricklers.iter().enumerate() {
        let closed = t.closed.unwrap_or_else(|| {
            panic!(
                "trickling connection {i} was still open after {:?}",
                t.opened.elapsed()
            )
        });
        assert!(
            closed <= limit,
            "connection {i} closed only after {closed:?}"
        );
    }
    assert!(w.webd.is_running());
}

#[test]
fn http2_is_refused_at_the_handshake_or_its_first_bytes() {
    let w = Webd::start("");
    // A client that offers only h2 does not finish the handshake.
    let h2_only = client_config(&w.cert_pem, &[b"h2"]);
    assert!(
        tls_from("127.0.0.2", w.port, h2_only).is_err(),
        "webd agreed to speak h2"
    );
    // One that starts HTTP/2 without asking (the prior-knowledge preface)
    // on an HTTP/1.1 connection gets an error and the connection closed.
    let mut s = tls_from("127.0.0.2", w.port, w.client.clone()).expect("connect");
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .and_then(|()| s.flush())
        .expect("preface");
    let started = Instant::now();
    let head = read_head(&mut s).unwrap_or_default();
    assert!(
        !head.starts_with("HTTP/1.1 2") && closed(&s.sock, Duration::from_secs(2)),
        "the HTTP/2 preface got {head:?} and the connection stayed open"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    w.webhook_is_prompt("an HTTP/2 preface");
}

#[test]
fn a_trusted_proxy_gets_its_larger_allowance() {
    let w = Webd::start("trusted_proxies = [\"127.0.0.7\"]\n");
    let direct = silent("127.0.0.2", w.port, PER_CLIENT + 2);
    std::thread::sleep(Duration::from_millis(300));
    let refused = direct
        .iter()
        .filter(|s| closed(s, Duration::from_millis(200)))
        .count();
    assert_eq!(refused, 2, "a direct client is held to {PER_CLIENT}");
    let proxied = silent("127.0.0.7", w.port, SLOTS - 2);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !proxied.iter().any(|s| closed(s, Duration::from_millis(10))),
        "the proxy may hold {} connections, more than a client's {PER_CLIENT}",
        SLOTS - 2
    );
}

/// Replies hyper writes itself, before any request reaches webd's router,
/// are as docs/webd.md describes them: the status, an empty body, and none
/// of the security headers the router adds to its own answers.
#[test]
fn replies_to_unparsable_requests_are_as_documented() {
    let w = Webd::start("");
    let big = "a".repeat(1024);
    let heads = [
        ("GARBAGE\r\n\r\n".to_owned(), 400),
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
                (0..20)
                    .map(|i| format!("x-pad-{i}: {big}\r\n"))
                    .collect::<String>()
            ),
            431,
        ),
    ];
    for (request, want) in heads {
        let mut s = tls_from(GOOD, w.port, w.client.clone()).expect("connect");
        s.write_all(request.as_bytes()).expect("write");
        s.flush().expect("flush");
        let head = read_head(&mut s).expect("a reply").to_ascii_lowercase();
        assert_eq!(status_of(&head), want, "{head}");
        assert!(head.contains("content-length: 0"), "{head}");
        for h in [
            "strict-transport-security",
            "x-content-type-options",
            "content-security-policy",
        ] {
            assert!(
                !head.contains(h),
                "docs/webd.md says hyper's own {want} carries no {h}; update the docs: {head}"
            );
        }
    }
    // The router's answers do carry them, 404 included.
    let mut s = tls_from(GOOD, w.port, w.client.clone()).expect("connect");
    write!(
        s,
        "GET /nowhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    s.flush().expect("flush");
    let head = read_head(&mut s).expect("a reply").to_ascii_lowercase();
    assert_eq!(status_of(&head), 404, "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
}

/// webd makes room for its sockets at start: it raises a low soft
/// `RLIMIT_NOFILE` to what `max_connections` needs, and refuses to start,
/// naming the key, when the hard limit is too low (rather than meet EMFILE
/// under load).
#[test]
fn the_descriptor_limit_fits_max_connections_or_webd_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    self_signed(&dir.path().join("tls"));
    let config = |max: usize| {
        let path = dir.path().join(format!("webd-{max}.toml"));
        std::fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:{}\"\nledd_socket = \"ledd.sock\"\n{}[tls]\ncert = \"tls/fullchain.pem\"\nkey = \"tls/privkey.pem\"\n[limits]\nmax_connections = {max}\n",
                free_port(),
                user_lines()
            ),
        )
        .expect("config");
        path
    };
    // 64 slots need 2 x 64 + 64 = 192 descriptors; 100 slots need 264.
    let under_limits = |path: &Path| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("ulimit -Sn 100 && ulimit -Hn 200 && exec \"$0\" --config \"$1\"")
            .arg(bin("webd"))
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    };
    let mut webd = Daemon::spawn("webd", &mut under_limits(&config(64)));
    let raised = wait_for(Duration::from_secs(10), || {
        assert!(webd.is_running(), "webd exited under a hard limit of 200");
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", webd.pid())).ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        let soft: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
        (soft >= 192).then_some(soft)
    });
    assert!(
        raised.is_some(),
        "webd did not raise its soft descriptor limit to 192"
    );
    drop(webd);

    let out = under_limits(&config(100)).output().expect("webd");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("limits.max_connections") && err.contains("264"),
        "{err}"
    );
}
