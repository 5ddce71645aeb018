//! Tests of the router: whole requests through [`app`](super::app) with
//! `oneshot`, against a fake ledd.

use super::*;
use crate::ledd_client::tests::spawn_fake_ledd;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tower::ServiceExt;

const TOKEN: &str = "good-token";
const SCOPED: &str = "scoped-token";
const SIGNING_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn config(ledd_socket: &Path) -> Config {
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
        crate::config::to_hex(&auth::token_hash(TOKEN)),
        crate::config::to_hex(&auth::token_hash(SCOPED)),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SIGNING_KEY),
    );
    Config::parse(&text, Path::new("/etc/webd/webd.toml")).unwrap()
}

fn tls() -> Arc<rustls::ServerConfig> {
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

struct Fixture {
    router: Router,
    _dir: tempfile::TempDir,
}

fn fixture(with_ledd: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ledd.sock");
    if with_ledd {
        spawn_fake_ledd(&sock);
    }
    let cfg = config(&sock);
    let ledd = LeddClient::spawn(sock, Duration::from_millis(500));
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

fn req(path: &str, from: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut b = Request::post(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut r = b.body(Body::from(body.to_owned())).unwrap();
    let addr = SocketAddr::new(from.parse().unwrap(), 40000);
    r.extensions_mut().insert(client::PeerAddr(addr));
    r
}

async fn send(f: &Fixture, r: Request<Body>) -> (StatusCode, serde_json::Value, Response<()>) {
    let resp = f.router.clone().oneshot(r).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (parts.status, json, Response::from_parts(parts, ()))
}

const BEARER: (&str, &str) = ("authorization", "Bearer good-token");
const JSON: (&str, &str) = ("content-type", "application/json");

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
async fn failures_ban_the_client_ip_behind_a_trusted_proxy() {
    let f = fixture(true);
    let bad = ("authorization", "Bearer wrong");
    let xff = ("x-forwarded-for", "198.51.100.9");
    for _ in 0..3 {
        let (s, _, _) = send(&f, req("/hooks/rainbow", "10.0.0.1", &[bad, xff], "")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    // Banned, even with the right token now.
    let (s, j, resp) = send(&f, req("/hooks/rainbow", "10.0.0.1", &[BEARER, xff], "")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{j}");
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((59..=60).contains(&retry), "{retry}");
    // The proxy itself and other clients behind it are not banned.
    let (s, _, _) = send(&f, req("/hooks/rainbow", "10.0.0.1", &[BEARER], "")).await;
    assert_eq!(s, StatusCode::OK);
    // A client that is not a trusted proxy cannot pick its address.
    let spoof = ("x-forwarded-for", "203.0.113.50");
    for _ in 0..3 {
        send(&f, req("/hooks/rainbow", "192.0.2.77", &[bad, spoof], "")).await;
    }
    let (s, _, _) = send(&f, req("/hooks/rainbow", "192.0.2.77", &[BEARER], "")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
}

const PROXY: &str = "10.0.0.1";
const WRONG: (&str, &str) = ("authorization", "Bearer wrong");
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// Sends `n` wrong-token requests through `proxy` with this
/// `X-Forwarded-For` (or none) and checks each got 401.
async fn guess_via(f: &Fixture, proxy: &str, xff: Option<&str>, n: usize) {
    for i in 0..n {
        let mut h = vec![WRONG];
        h.extend(xff.map(|v| ("x-forwarded-for", v)));
        let (s, j, _) = send(f, req("/hooks/rainbow", proxy, &h, "")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{xff:?} #{i}: {j}");
    }
}

/// The status a valid token gets through `proxy` for this client.
async fn valid_via(f: &Fixture, proxy: &str, xff: Option<&str>) -> StatusCode {
    let mut h = vec![BEARER];
    h.extend(xff.map(|v| ("x-forwarded-for", v)));
    send(f, req("/hooks/rainbow", proxy, &h, "")).await.0
}

async fn guess_via_proxy(f: &Fixture, xff: Option<&str>, n: usize) {
    guess_via(f, PROXY, xff, n).await;
}

async fn valid_via_proxy(f: &Fixture, xff: Option<&str>) -> StatusCode {
    valid_via(f, PROXY, xff).await
}

#[tokio::test]
async fn an_unparsable_forwarded_entry_bans_the_guesser_never_the_proxy() {
    let f = fixture(true);
    // Garbage written by the client to the left of the proxy's entry:
    // the proxy's entry names the client, and the client is counted.
    for (xff, client) in [
        ("garbage, 198.51.100.30", "198.51.100.30"),
        ("unknown, 198.51.100.31", "198.51.100.31"),
        ("198.51.100.40:4711", "198.51.100.40"),
        ("198.51.100.41:4711, 10.0.0.1", "198.51.100.41"),
        ("[2001:db8::1]:443", "2001:db8::2"),
        (" [2001:db8:5::1] ", "2001:db8:5::9"),
    ] {
        guess_via_proxy(&f, Some(xff), 3).await;
        assert_eq!(
            valid_via_proxy(&f, Some(client)).await,
            StatusCode::TOO_MANY_REQUESTS,
            "{xff}: the guesser {client} must be banned"
        );
    }
    // Other clients behind the proxy are served.
    assert_eq!(
        valid_via_proxy(&f, Some("198.51.100.99")).await,
        StatusCode::OK
    );
    // A right-most entry that is no address at all: the client cannot
    // be identified, and guessing under that name bans neither the
    // proxy's identified clients nor anyone else.
    guess_via_proxy(&f, Some("198.51.100.50, garbage"), 3).await;
    assert_eq!(
        valid_via_proxy(&f, Some("198.51.100.50, garbage")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        valid_via_proxy(&f, Some("198.51.100.51")).await,
        StatusCode::OK
    );
    assert_eq!(
        valid_via_proxy(&f, Some("198.51.100.50")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_proxy_request_without_a_forwarding_header_does_not_ban_the_proxy() {
    let f = fixture(true);
    // An IPv6 proxy shares its /64 with the home network behind it:
    // had its own address been counted, its LAN clients would be
    // banned with it.
    let v6_proxy = "2001:db8:aaaa::1";
    for proxy in [PROXY, v6_proxy] {
        guess_via(&f, proxy, None, 3).await;
        // Still unidentified, and banned as such.
        assert_eq!(
            valid_via(&f, proxy, None).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        for client in ["198.51.100.60", "2001:db8:9::1", "2001:db8:aaaa::77"] {
            assert_eq!(
                valid_via(&f, proxy, Some(client)).await,
                StatusCode::OK,
                "{client} via {proxy}"
            );
        }
    }
    // A CF-Connecting-IP naming a trusted proxy names no client: the
    // forwarded list does.
    for (via, named) in [(v6_proxy, PROXY), (PROXY, v6_proxy)] {
        let h = [
            BEARER,
            ("cf-connecting-ip", named),
            ("x-forwarded-for", "198.51.100.61"),
        ];
        let (s, j, _) = send(&f, req("/hooks/rainbow", via, &h, "")).await;
        assert_eq!(s, StatusCode::OK, "{named} via {via}: {j}");
    }
}

/// Sends `r` four times (more than `max_failures`) from `ip`, checks
/// each answer, then checks that `ip` is not banned.
async fn refused_and_not_counted(
    f: &Fixture,
    ip: &str,
    make: impl Fn() -> Request<Body>,
    status: StatusCode,
    field: Option<&str>,
) {
    for _ in 0..4 {
        let r = make();
        let what = format!("{:?} {:?}", r.headers(), r.uri());
        let (s, j, _) = send(f, r).await;
        assert_eq!(s, status, "{what}: {j}");
        if let Some(field) = field {
            assert_eq!(j["field"], field, "{what}: {j}");
        }
    }
    let (s, j, _) = send(f, req("/hooks/rainbow", ip, &[BEARER], "")).await;
    assert_eq!(s, StatusCode::OK, "{ip} was counted: {j}");
}

#[tokio::test]
async fn credentials_given_twice_are_refused_and_not_counted() {
    let f = fixture(true);
    for body in [
        r#"{"token":"wrong","token":"good-token"}"#,
        r#"{"token":"good-token","token":"wrong"}"#,
        r#"{"token":"good-token","token":null}"#,
    ] {
        refused_and_not_counted(
            &f,
            "192.0.2.20",
            || req("/hooks/rainbow", "192.0.2.20", &[JSON], body),
            StatusCode::BAD_REQUEST,
            Some("token"),
        )
        .await;
    }
    // Any key given twice makes the object ambiguous.
    let (s, j, _) = send(
        &f,
        req(
            "/hooks/color",
            "192.0.2.20",
            &[BEARER, JSON],
            r#"{"color":"red","color":"warm-white"}"#,
        ),
    )
    .await;
    assert_eq!(
        (s, j["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("color"))
    );
    for pair in [[WRONG, BEARER], [BEARER, WRONG]] {
        refused_and_not_counted(
            &f,
            "192.0.2.21",
            || req("/hooks/rainbow", "192.0.2.21", &pair, ""),
            StatusCode::BAD_REQUEST,
            Some("Authorization"),
        )
        .await;
    }
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let sig = auth::sign(SIGNING_KEY, &ts, b"");
    let ts = ts.as_str();
    let sig = sig.as_str();
    let zero = "sha256=0000000000000000000000000000000000000000000000000000000000000000";
    for (headers, field) in [
        (
            vec![
                ("x-tinsel-timestamp", ts),
                ("x-tinsel-signature", zero),
                ("x-tinsel-signature", sig),
            ],
            "X-Tinsel-Signature",
        ),
        (
            vec![
                ("x-tinsel-timestamp", "1"),
                ("x-tinsel-timestamp", ts),
                ("x-tinsel-signature", sig),
            ],
            "X-Tinsel-Timestamp",
        ),
    ] {
        refused_and_not_counted(
            &f,
            "192.0.2.22",
            || req("/hooks/rainbow", "192.0.2.22", &headers, ""),
            StatusCode::BAD_REQUEST,
            Some(field),
        )
        .await;
    }
    // A signature beside a token, and two Content-Types, are ambiguous.
    let signed_and_bearer = [
        ("x-tinsel-timestamp", ts),
        ("x-tinsel-signature", sig),
        BEARER,
    ];
    let two_types = [BEARER, JSON, FORM];
    for (headers, body, field) in [
        (&signed_and_bearer[..], "", "Authorization"),
        (&two_types[..], "token=good-token", "Content-Type"),
    ] {
        refused_and_not_counted(
            &f,
            "192.0.2.23",
            || req("/hooks/rainbow", "192.0.2.23", headers, body),
            StatusCode::BAD_REQUEST,
            Some(field),
        )
        .await;
    }
    // The signature was never used: it still works once.
    let h = [("x-tinsel-timestamp", ts), ("x-tinsel-signature", sig)];
    let (s, j, _) = send(&f, req("/hooks/rainbow", "192.0.2.22", &h, "")).await;
    assert_eq!(s, StatusCode::OK, "{j}");
}

#[tokio::test]
async fn a_failure_flood_from_many_addresses_does_not_lock_out_a_valid_token() {
    let f = fixture(true);
    // The default budget, 120 failures a minute, spent by 120 fresh
    // IPv6 /64s with one wrong token each.
    for i in 0..120 {
        let from = format!("2001:db8:{i:x}::1");
        let (s, j, _) = send(&f, req("/hooks/rainbow", &from, &[WRONG], "")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{from}: {j}");
    }
    // Fail-closed for everyone else.
    let (s, j, resp) = send(&f, req("/hooks/rainbow", "192.0.2.30", &[WRONG], "")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{j}");
    assert_eq!(j["error"], "too_many_failures");
    assert!(resp.headers().contains_key("retry-after"));
    let (s, _, _) = send(&f, req("/hooks/rainbow", "192.0.2.31", &[], "")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // A valid token, in any form, from a fresh address, is served.
    let (s, j, _) = send(&f, req("/hooks/rainbow", "192.0.2.32", &[BEARER], "")).await;
    assert_eq!(s, StatusCode::OK, "bearer: {j}");
    let body = r#"{"token":"good-token"}"#;
    let (s, j, _) = send(&f, req("/hooks/rainbow", "192.0.2.33", &[JSON], body)).await;
    assert_eq!(s, StatusCode::OK, "body token: {j}");
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let sig = auth::sign(SIGNING_KEY, &ts, b"");
    let h = [
        ("x-tinsel-timestamp", ts.as_str()),
        ("x-tinsel-signature", sig.as_str()),
    ];
    let (s, j, _) = send(&f, req("/hooks/rainbow", "192.0.2.34", &h, "")).await;
    assert_eq!(s, StatusCode::OK, "signature: {j}");
    // A wrong token still is not.
    let (s, _, _) = send(&f, req("/hooks/rainbow", "192.0.2.35", &[WRONG], "")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_json_body_labelled_as_a_form_or_unlabelled_is_refused_and_not_counted() {
    let f = fixture(true);
    let ip = "192.0.2.40";
    for (headers, body) in [
        // curl -H "Authorization: Bearer T" -d '{"color":"red"}'
        (vec![BEARER, FORM], r#"{"color":"red"}"#),
        // curl -d '{"token":"T","color":"red"}'
        (vec![FORM], r#"{"token":"good-token","color":"red"}"#),
        (vec![FORM], "\r\n [\"token\"]"),
        (vec![BEARER], r#"{"color":"red"}"#),
        (vec![], r#"{"token":"good-token"}"#),
        (vec![], "token=good-token"),
    ] {
        refused_and_not_counted(
            &f,
            ip,
            || req("/hooks/color", ip, &headers, body),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        )
        .await;
        let (_, j, _) = send(&f, req("/hooks/color", ip, &headers, body)).await;
        let msg = j["message"].as_str().unwrap_or_default();
        assert!(msg.contains("Content-Type"), "{body}: {j}");
    }
    // A real form still works.
    let (s, j, _) = send(
        &f,
        req("/hooks/color", ip, &[FORM], "token=good-token&color=red"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{j}");
}

#[tokio::test]
async fn signed_requests_work_once() {
    let f = fixture(true);
    let body = r#"{"color":"red"}"#;
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
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
