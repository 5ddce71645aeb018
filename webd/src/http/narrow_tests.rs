//! Router tests of narrow tokens where the end-to-end tests cannot reach:
//! clients that are not 127.0.0.1 (IPv6 networks, a proxy that names no
//! client), signed tokens that expired, and `/state` refusals that must
//! not count.

use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;

use super::tests::{Fixture, SIGNING_KEY, now_unix, req, send, tls};
use super::*;
use tinsel_client::fake::FakeLedd;

const LAN: &str = "lan-token";
const OLD: &str = "old-token";
const READER: &str = "reader-token";

fn fixture() -> Fixture {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ledd.sock");
    FakeLedd::default().spawn(&sock);
    let hash = |t: &str| crate::domain::token::to_hex(&auth::token_hash(t));
    let text = format!(
        r#"
ledd_socket = "{sock}"
trusted_proxies = ["10.0.0.1"]
[tls]
cert = "c.pem"
key = "k.pem"
[ban]
max_failures = 3
ban_secs = 60
[[tokens]]
name = "lan"
sha256 = "{lan}"
hooks = ["*"]
state = true
allow_from = ["2001:db8::/32", "192.168.1.0/24"]
[[tokens]]
name = "old"
sha256 = "{old}"
hooks = ["*"]
state = true
expires = 2020-01-06
[[tokens]]
name = "old-signer"
hmac_secret = "{key}"
hooks = ["*"]
expires = 2020-01-06
[[tokens]]
name = "hooks-only"
sha256 = "{reader}"
hooks = ["*"]
[hooks.rainbow]
animation = "rainbow"
"#,
        sock = sock.display(),
        lan = hash(LAN),
        old = hash(OLD),
        reader = hash(READER),
        key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SIGNING_KEY),
    );
    let config = Config::parse(&text, Path::new("/etc/webd/webd.toml")).unwrap();
    let ledd = crate::daemon::ledd_link(sock, Duration::from_millis(500));
    let state = AppState::new(Live { config, tls: tls() }, ledd);
    Fixture::new(app(state), dir)
}

fn get(path: &str, from: &str, headers: &[(&str, &str)]) -> axum::http::Request<axum::body::Body> {
    let mut r = req(path, from, headers, "");
    *r.method_mut() = axum::http::Method::GET;
    r
}

#[tokio::test]
async fn allow_from_takes_ipv6_networks_and_ipv4_mapped_addresses() {
    let f = fixture();
    let bearer = ("authorization", "Bearer lan-token");
    for from in ["2001:db8:1::7", "192.168.1.20", "::ffff:192.168.1.20"] {
        let (s, j, _) = send(&f, req("/hooks/rainbow", from, &[bearer], "")).await;
        assert_eq!(s, StatusCode::OK, "{from}: {j}");
    }
    for from in ["2001:db9::1", "192.168.2.1"] {
        let (s, j, _) = send(&f, req("/hooks/rainbow", from, &[bearer], "")).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{from}: {j}");
        assert!(j["message"].as_str().unwrap().contains("allow_from"), "{j}");
    }
}

#[tokio::test]
async fn a_proxy_that_names_no_client_cannot_use_an_allow_from_token() {
    let f = fixture();
    let bearer = ("authorization", "Bearer lan-token");
    let named = [bearer, ("x-forwarded-for", "192.168.1.20")];
    let (s, j, _) = send(&f, req("/hooks/rainbow", "10.0.0.1", &named, "")).await;
    assert_eq!(s, StatusCode::OK, "{j}");
    // No forwarding header: the proxy's own address is not the client's.
    let (s, j, _) = send(&f, req("/hooks/rainbow", "10.0.0.1", &[bearer], "")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{j}");
}

#[tokio::test]
async fn an_expired_signing_key_is_refused_like_a_bad_signature() {
    let f = fixture();
    let ts = now_unix();
    let sig = auth::sign(SIGNING_KEY, &ts, b"");
    let headers = [
        ("x-tinsel-timestamp", ts.as_str()),
        ("x-tinsel-signature", sig.as_str()),
    ];
    let (s, expired, _) = send(&f, req("/hooks/rainbow", "192.0.2.9", &headers, "")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{expired}");
    let (s, bad, _) = send(
        &f,
        req(
            "/hooks/rainbow",
            "192.0.2.9",
            &[("authorization", "Bearer nope")],
            "",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(expired, bad);
    // Counted: the third failure (the expired bearer token) bans.
    let old = [("authorization", "Bearer old-token")];
    let (s, _, _) = send(&f, get("/state", "192.0.2.9", &old)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, j, _) = send(
        &f,
        get(
            "/state",
            "192.0.2.9",
            &[("authorization", "Bearer lan-token")],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{j}");
}

#[tokio::test]
async fn state_without_the_scope_is_403_and_never_a_ban() {
    let f = fixture();
    let reader = [("authorization", "Bearer reader-token")];
    for _ in 0..6 {
        let (s, j, _) = send(&f, get("/state", "192.0.2.10", &reader)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{j}");
        assert!(
            j["message"].as_str().unwrap().contains("state = true"),
            "{j}"
        );
    }
    // Six refusals with max_failures = 3, and the address is not banned.
    let (s, _, _) = send(&f, req("/hooks/rainbow", "192.0.2.10", &reader, "")).await;
    assert_eq!(s, StatusCode::OK);
}

/// What webd logs on this thread while the guard lives.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || logs.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A `/state` request refused by the gate is logged as `GET /state`, in
/// the failure log and in its audit line: the route names itself, it is not
/// taken for a webhook with a nameless hook.
#[tokio::test]
async fn a_state_refusal_is_logged_under_its_route() {
    let f = fixture();
    let logs = Logs::default();
    let _guard = logs.capture();
    let bearer = ("authorization", "Bearer lan-token");
    let (s, j, _) = send(&f, get("/state", "192.168.2.1", &[bearer])).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{j}");
    let text = logs.text();
    let audit = text
        .lines()
        .find(|l| l.contains("outside_allow_from"))
        .unwrap_or_else(|| panic!("no audit line:\n{text}"));
    assert!(audit.contains("webd::audit: state"), "{audit}");
    assert!(!audit.contains("webhook"), "{audit}");
    assert!(
        text.contains("(hook GET /state): valid token used from outside its allow_from"),
        "{text}"
    );
}
