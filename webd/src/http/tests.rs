//! Tests of the router: whole requests through [`app`](super::app) with
//! `oneshot`, against a fake ledd: the fixture, and the requests that
//! play, fail or are malformed. What failing costs a client is in
//! `failure_tests.rs`.

use super::*;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tinsel_client::fake::FakeLedd;
use tower::ServiceExt;

pub(super) const TOKEN: &str = "good-token";
pub(super) const SCOPED: &str = "scoped-token";
pub(super) const SIGNING_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

pub(super) fn config(ledd_socket: &Path) -> Config {
    use base64::Engine as _;
    let text = format!(
        r#"
ledd_socket = "{}"
trusted_proxies = ["10.0.0.1", "2001:db8:aaaa::1"]
[tls]
cert = "c.pem"
key = "k.pem"
[ban]
max_failures = 3
ban_secs = 60
[[tokens]]
name = "all"
sha256 = "{}"
hooks = ["*"]
[[tokens]]
name = "scoped"
sha256 = "{}"
hooks = ["rainbow"]
[[tokens]]
name = "signer"
hmac_secret = "{}"
hooks = ["*"]
[hooks.rainbow]
animation = "rainbow"
[hooks.color]
animation = "solid"
request_colors = ["red", "warm-white"]
[hooks.off]
animation = "off"
"#,
        ledd_socket.display(),
        crate::domain::token::to_hex(&auth::token_hash(TOKEN)),
        crate::domain::token::to_hex(&auth::token_hash(SCOPED)),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SIGNING_KEY),
    );
    Config::parse(&text, Path::new("/etc/webd/webd.toml")).unwrap()
}

pub(super) fn tls() -> Arc<rustls::ServerConfig> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    crate::tls::server_config(
        &crate::config::TlsPaths {
            cert: "c".into(),
            key: "k".into(),
        },
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
        &crate::tls::Resumption::new().unwrap(),
    )
    .unwrap()
}

pub(super) struct Fixture {
    router: Router,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// A fixture over `router`, keeping `dir` (ledd's socket) alive.
    pub(super) fn new(router: Router, dir: tempfile::TempDir) -> Fixture {
        Fixture { router, _dir: dir }
    }

    /// The router's whole answer to `r`.
    pub(super) async fn router_oneshot(&self, r: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(r).await.unwrap()
    }
}

pub(super) fn fixture(with_ledd: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ledd.sock");
    if with_ledd {
        FakeLedd::default().spawn(&sock);
    }
    let cfg = config(&sock);
    let ledd = crate::daemon::ledd_link(sock, Duration::from_millis(500));
    let state = AppState::new(
        Live {
            config: cfg,
            tls: tls(),
        },
        ledd,
    );
    Fixture {
        router: app(state),
        _dir: dir,
    }
}

/// The current Unix time in seconds, as the `X-Tinsel-Timestamp` value.
pub(super) fn now_unix() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

pub(super) fn req(path: &str, from: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut b = Request::post(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut r = b.body(Body::from(body.to_owned())).unwrap();
    let addr = SocketAddr::new(from.parse().unwrap(), 40000);
    r.extensions_mut().insert(client::PeerAddr(addr));
    r
}

pub(super) async fn send(
    f: &Fixture,
    r: Request<Body>,
) -> (StatusCode, serde_json::Value, Response<()>) {
    let resp = f.router.clone().oneshot(r).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (parts.status, json, Response::from_parts(parts, ()))
}

pub(super) const BEARER: (&str, &str) = ("authorization", "Bearer good-token");
pub(super) const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn bearer_and_body_tokens_play() {
    let f = fixture(true);
    let (s, j, resp) = send(&f, req("/hooks/rainbow", "192.0.2.1", &[BEARER], "")).await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert_eq!(j["animation"], "rainbow");
    for h in [
        "strict-transport-security",
        "x-content-type-options",
        "content-security-policy",
        "cache-control",
        "referrer-policy",
    ] {
        assert!(resp.headers().contains_key(h), "missing {h}");
    }
    let body = r#"{"token":"good-token","color":" Warm White "}"#;
    let (s, j, _) = send(&f, req("/hooks/color", "192.0.2.1", &[JSON], body)).await;
    assert_eq!(s, StatusCode::OK, "{j}");
    let form = "token=good-token&colour=red";
    let ct = ("content-type", "application/x-www-form-urlencoded");
    let (s, j, _) = send(&f, req("/hooks/color", "192.0.2.1", &[ct], form)).await;
    assert_eq!(s, StatusCode::OK, "{j}");
}

#[tokio::test]
async fn errors_are_json_and_name_the_problem() {
    let f = fixture(false);
    let ip = "192.0.2.2";
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            req("/hooks/rainbow", ip, &[], ""),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            req("/hooks/nope", ip, &[("authorization", "Bearer wrong")], ""),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            req("/hooks/nope", ip, &[BEARER], ""),
            StatusCode::NOT_FOUND,
            "no_such_hook",
        ),
        (
            req(
                "/hooks/color",
                ip,
                &[("authorization", "Bearer scoped-token")],
                "",
            ),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            req("/hooks/color", ip, &[BEARER, JSON], r#"{"color":"blue"}"#),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            req(
                "/hooks/color",
                ip,
                &[BEARER, ("content-type", "text/plain")],
                "red",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            req("/hooks/color", ip, &[BEARER, JSON], &"x".repeat(5000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            req("/hooks/rainbow", ip, &[BEARER], ""),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        ),
        (
            req("/nowhere", ip, &[], ""),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (r, status, code) in cases {
        let path = r.uri().to_string();
        let (s, j, resp) = send(&f, r).await;
        assert_eq!(s, status, "{path}: {j}");
        assert_eq!(j["error"], code, "{path}: {j}");
        assert!(resp.headers().contains_key("x-content-type-options"));
        if s == StatusCode::SERVICE_UNAVAILABLE {
            assert!(resp.headers().contains_key("retry-after"));
        }
    }
}

#[tokio::test]
async fn bad_fields_are_named() {
    let f = fixture(false);
    let ip = "192.0.2.3";
    for (body, field) in [
        (r#"{"color":"blue"}"#, "color"),
        (r#"{"color":"plaid"}"#, "color"),
        (r#"{"speed":50}"#, "speed"),
        (r#"{"color":["red"]}"#, "color"),
        (r#"[1]"#, "body"),
        (r#"{"color":"#, "body"),
    ] {
        let (s, j, _) = send(&f, req("/hooks/color", ip, &[BEARER, JSON], body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {j}");
        assert_eq!(j["field"], field, "{body}: {j}");
    }
    // Unknown fields pass validation (and here reach the absent ledd).
    let (s, j, _) = send(
        &f,
        req("/hooks/color", ip, &[BEARER, JSON], r#"{"value1":1}"#),
    )
    .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{j}");
    let (s, j, _) = send(&f, req("/hooks/rainbow?token=good-token", ip, &[], "")).await;
    assert_eq!(
        (s, j["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("token"))
    );
    let both = r#"{"token":"good-token"}"#;
    let (s, j, _) = send(&f, req("/hooks/rainbow", ip, &[BEARER, JSON], both)).await;
    assert_eq!(
        (s, j["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("token"))
    );
}

#[tokio::test]
async fn signed_requests_work_once() {
    let f = fixture(true);
    let body = r#"{"color":"red"}"#;
    let ts = now_unix();
    let sig = auth::sign(SIGNING_KEY, &ts, body.as_bytes());
    let h = [
        JSON,
        ("x-tinsel-timestamp", ts.as_str()),
        ("x-tinsel-signature", sig.as_str()),
    ];
    let (s, j, _) = send(&f, req("/hooks/color", "192.0.2.5", &h, body)).await;
    assert_eq!(s, StatusCode::OK, "{j}");
    let (s, j, _) = send(&f, req("/hooks/color", "192.0.2.5", &h, body)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{j}");
    assert!(j["message"].as_str().unwrap().contains("already used"));
    // A tampered body fails, and the expected signature is not echoed.
    let h2 = [
        JSON,
        ("x-tinsel-timestamp", ts.as_str()),
        ("x-tinsel-signature", sig.as_str()),
    ];
    let tampered = r#"{"color":"warm-white"}"#;
    let resp = f
        .router
        .clone()
        .oneshot(req("/hooks/color", "192.0.2.5", &h2, tampered))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let good = auth::sign(SIGNING_KEY, &ts, tampered.as_bytes());
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(&good[7..]), "{text}");
    assert!(!text.contains(&sig[7..]), "{text}");
}

#[tokio::test]
async fn healthz_and_methods() {
    let f = fixture(false);
    let mut r = Request::get("/healthz").body(Body::empty()).unwrap();
    r.extensions_mut()
        .insert(client::PeerAddr("127.0.0.1:1".parse().unwrap()));
    let (s, j, _) = send(&f, r).await;
    assert_eq!((s, j["status"].as_str()), (StatusCode::OK, Some("ok")));
    let mut r = Request::get("/hooks/rainbow").body(Body::empty()).unwrap();
    r.extensions_mut()
        .insert(client::PeerAddr("127.0.0.1:1".parse().unwrap()));
    let (s, _, _) = send(&f, r).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
}
