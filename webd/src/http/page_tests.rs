//! The page's routes through the router, attacked: pairing codes forged,
//! reused and expired; requests from another origin; a revoked device; a
//! device trying what only tokens may; the document's headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tinsel_client::fake::FakeLedd;

use super::tests::{BEARER, Fixture, req, send, tls};
use super::*;
use crate::devices::Store;

const HOST: &str = "tree.test:8443";
const ORIGIN: &str = "https://tree.test:8443";
const IP: &str = "192.0.2.50";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Page {
    f: Fixture,
    store: Store,
    _devices: tempfile::TempDir,
}

/// webd with the page on, `extra` lines in `[page]`, over a fake ledd.
fn page_with(extra: &str) -> Page {
    let dir = tempfile::tempdir().unwrap();
    let devices = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ledd.sock");
    FakeLedd::default().spawn(&sock);
    let text = format!(
        "ledd_socket = {sock:?}\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n[ban]\nmax_failures = 3\nban_secs = 60\n[[tokens]]\nname = \"all\"\nsha256 = \"{}\"\nhooks = [\"*\"]\nstate = true\n[hooks.rainbow]\nanimation = \"rainbow\"\n[page]\nenabled = true\ndevices_dir = {:?}\nanimations = [\"rainbow\", \"solid\"]\n{extra}\n",
        crate::domain::token::to_hex(&auth::token_hash(super::tests::TOKEN)),
        devices.path(),
    );
    let config = Config::parse(&text, std::path::Path::new("/etc/webd/webd.toml")).unwrap();
    let ledd = crate::daemon::ledd_link(sock, Duration::from_millis(500));
    let state = AppState::new(Live { config, tls: tls() }, ledd);
    Page {
        f: Fixture::new(app(state), dir),
        store: Store::new(devices.path()),
        _devices: devices,
    }
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut r = req(path, IP, headers, "");
    *r.method_mut() = axum::http::Method::GET;
    r
}

/// A POST as the page sends it: this origin, JSON.
fn post(path: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
    let c = cookie.map(|c| format!("{}={c}", page::COOKIE));
    let mut h = vec![
        ("host", HOST),
        ("origin", ORIGIN),
        ("sec-fetch-site", "same-origin"),
        ("content-type", "application/json"),
    ];
    if let Some(c) = &c {
        h.push(("cookie", c.as_str()));
    }
    req(path, IP, &h, body)
}

impl Page {
    fn code(&self, name: &str) -> String {
        self.store
            .add_pairing(name, now(), now() + 600, 32)
            .unwrap()
    }

    /// Pairs `name`; returns the cookie's value.
    async fn pair(&self, name: &str) -> String {
        let code = self.code(name);
        let body = format!(r#"{{"code":"{code}"}}"#);
        let (s, j, resp) = send(&self.f, post("/pair", None, &body)).await;
        assert_eq!(s, StatusCode::OK, "{j}");
        let set = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
        let value = set.split(';').next().unwrap();
        value
            .strip_prefix(&format!("{}=", page::COOKIE))
            .unwrap()
            .to_owned()
    }

    async fn play(&self, cookie: &str) -> (StatusCode, serde_json::Value) {
        let (s, j, _) = send(
            &self.f,
            post("/page/play", Some(cookie), r#"{"animation":"rainbow"}"#),
        )
        .await;
        (s, j)
    }
}

#[tokio::test]
async fn with_the_page_off_none_of_its_routes_exist() {
    let f = super::tests::fixture(true);
    for path in ["/", "/pair", "/page/app.js"] {
        let (s, _, _) = send(&f, get(path, &[])).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, _, _) = send(&f, post("/pair", None, r#"{"code":"x"}"#)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_document_has_a_strict_csp_and_cannot_be_framed() {
    let p = page_with("");
    for (path, ty) in [
        ("/", "text/html; charset=utf-8"),
        ("/pair", "text/html; charset=utf-8"),
        ("/page/app.js", "text/javascript; charset=utf-8"),
        ("/page/app.css", "text/css; charset=utf-8"),
        ("/page/manifest.webmanifest", "application/manifest+json"),
        ("/page/icon.svg", "image/svg+xml"),
    ] {
        let resp = p.f.router_oneshot(get(path, &[])).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers();
        assert_eq!(h["content-type"], ty, "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert_eq!(csp, page::PAGE_CSP);
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"));
        assert!(!csp.contains("http"), "no other origin: {csp}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
    let (s, _, _) = send(&p.f, get("/page/nope.js", &[])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Every other answer keeps webd's own policy, which allows nothing.
    let (_, _, resp) = send(&p.f, get("/healthz", &[])).await;
    assert_eq!(
        resp.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[tokio::test]
async fn pairing_sets_a_strict_cookie_and_a_code_works_once() {
    let p = page_with("");
    let code = p.code("Anna's phone");
    let body = format!(r#"{{"code":"{code}"}}"#);
    let (s, j, resp) = send(&p.f, post("/pair", None, &body)).await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert_eq!(j["device"], "Anna's phone");
    let set = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(set.starts_with("__Host-tinsel-device="), "{set}");
    for attr in [
        "; Secure",
        "; HttpOnly",
        "; SameSite=Strict",
        "; Path=/",
        "; Max-Age=",
    ] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    // Used: the same code again pairs nothing.
    let (s, j, resp) = send(&p.f, post("/pair", None, &body)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{j}");
    assert_eq!(j["error"], "bad_pairing_code");
    assert!(!resp.headers().contains_key("set-cookie"));
    assert_eq!(p.store.devices().unwrap().len(), 1);
}

#[tokio::test]
async fn forged_and_expired_codes_are_refused_and_counted() {
    let p = page_with("");
    let expired = p.store.add_pairing("late", 0, 1, 32).unwrap();
    let (s, j, _) = send(
        &p.f,
        post("/pair", None, &format!(r#"{{"code":"{expired}"}}"#)),
    )
    .await;
    assert_eq!(
        (s, j["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_pairing_code"))
    );
    let (s, _, _) = send(
        &p.f,
        post("/pair", None, r#"{"code":"AAAAAAAAAAAAAAAAAAAAAAAA"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = send(&p.f, post("/pair", None, r#"{"code":"../../etc/passwd"}"#)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Three failures ([ban] max_failures): the client is banned, and even
    // a good code is refused before it is read (and stays good).
    let good = p.code("phone");
    let (s, j, _) = send(
        &p.f,
        post("/pair", None, &format!(r#"{{"code":"{good}"}}"#)),
    )
    .await;
    assert_eq!(
        (s, j["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("banned"))
    );
    assert!(p.store.devices().unwrap().is_empty());
}

#[tokio::test]
async fn another_origin_cannot_play_pair_or_get_anyone_banned() {
    let p = page_with("");
    let cookie = p.pair("phone").await;
    let c = format!("{}={cookie}", page::COOKIE);
    let body = r#"{"animation":"rainbow"}"#;
    let attacks: Vec<Vec<(&str, &str)>> = vec![
        // A script on another site (CORS would hide the answer, not stop the POST).
        vec![
            ("host", HOST),
            ("origin", "https://evil.example"),
            ("content-type", "application/json"),
            ("cookie", &c),
        ],
        vec![
            ("host", HOST),
            ("origin", ORIGIN),
            ("sec-fetch-site", "cross-site"),
            ("content-type", "application/json"),
            ("cookie", &c),
        ],
        vec![
            ("host", HOST),
            ("origin", ORIGIN),
            ("sec-fetch-site", "same-site"),
            ("content-type", "application/json"),
            ("cookie", &c),
        ],
        vec![
            ("host", HOST),
            ("origin", "null"),
            ("content-type", "application/json"),
            ("cookie", &c),
        ],
        // No Origin at all.
        vec![
            ("host", HOST),
            ("content-type", "application/json"),
            ("cookie", &c),
        ],
    ];
    for _ in 0..5 {
        for h in &attacks {
            let (s, j, _) = send(&p.f, req("/page/play", IP, h, body)).await;
            assert_eq!(
                (s, j["error"].as_str()),
                (StatusCode::FORBIDDEN, Some("cross_origin")),
                "{h:?}"
            );
            let (s, _, _) = send(
                &p.f,
                req("/pair", IP, h, r#"{"code":"AAAAAAAAAAAAAAAAAAAAAAAA"}"#),
            )
            .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{h:?}");
        }
    }
    // A plain cross-site form: even with the right origin, not JSON.
    for ct in [
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
    ] {
        let h = [
            ("host", HOST),
            ("origin", ORIGIN),
            ("content-type", ct),
            ("cookie", c.as_str()),
        ];
        let (s, _, _) = send(&p.f, req("/page/play", IP, &h, "animation=rainbow")).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
    }
    // None of it was counted: the device still plays.
    assert_eq!(p.play(&cookie).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_device_is_refused_at_once_and_the_others_stay() {
    let p = page_with("");
    let anna = p.pair("anna").await;
    let ben = p.pair("ben").await;
    assert_eq!(p.play(&anna).await.0, StatusCode::OK);
    assert_eq!(p.store.revoke("anna").unwrap(), 1);
    let (s, j) = p.play(&anna).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{j}");
    let c = format!("{}={anna}", page::COOKIE);
    let (s, _, _) = send(&p.f, get("/page/state", &[("cookie", &c)])).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(p.play(&ben).await.0, StatusCode::OK);
    let c = format!("{}={ben}", page::COOKIE);
    let (s, j, _) = send(&p.f, get("/page/state", &[("cookie", &c)])).await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert_eq!(j["device"]["name"], "ben");
    assert_eq!(j["page"]["animations"][0]["name"], "rainbow");
    assert_eq!(j["state"]["on"], false);
}

#[tokio::test]
async fn a_device_does_only_what_the_page_may() {
    let p = page_with("");
    let cookie = p.pair("phone").await;
    let c = format!("{}={cookie}", page::COOKIE);
    // No hook, no /state: those take tokens.
    let (s, _, _) = send(&p.f, req("/hooks/rainbow", IP, &[("cookie", &c)], "")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = send(&p.f, get("/state", &[("cookie", &c)])).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Not an animation the page offers, nor brightness.
    for body in [
        r#"{"animation":"fire"}"#,
        r#"{"animation":"solid","brightness":100}"#,
    ] {
        let (s, j, _) = send(&p.f, post("/page/play", Some(&cookie), body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {j}");
    }
    // A token still works beside the page.
    let (s, _, _) = send(&p.f, req("/hooks/rainbow", IP, &[BEARER], "")).await;
    assert_eq!(s, StatusCode::OK);
    // Off passes the page's checks (the fake ledd never answers `Off`,
    // so it times out there: 503) and takes no parameters.
    let (s, j, _) = send(&p.f, post("/page/off", Some(&cookie), "{}")).await;
    assert_eq!(
        (s, j["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"))
    );
    let (s, j, _) = send(
        &p.f,
        post("/page/off", Some(&cookie), r#"{"animation":"fire"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{j}");
}

#[tokio::test]
async fn an_unpaired_browser_is_told_so_without_being_counted() {
    let p = page_with("");
    for _ in 0..10 {
        let (s, j, _) = send(&p.f, get("/page/state", &[])).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(j["paired"], false);
        let (s, j, _) = send(&p.f, post("/page/play", None, r#"{"animation":"rainbow"}"#)).await;
        assert_eq!(
            (s, j["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("not_paired"))
        );
    }
    // A forged cookie is a guess, counted like a bad token.
    for _ in 0..3 {
        let (s, _) = p.play("0000000000000000.forged").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        p.play("0000000000000000.forged").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn allow_from_and_rate_apply_to_devices() {
    let p = page_with("allow_from = [\"192.0.2.0/24\"]\nrate = \"2/min\"");
    let cookie = p.pair("phone").await;
    assert_eq!(p.play(&cookie).await.0, StatusCode::OK);
    let c = format!("{}={cookie}", page::COOKIE);
    let h = [
        ("host", HOST),
        ("origin", ORIGIN),
        ("content-type", "application/json"),
        ("cookie", c.as_str()),
    ];
    let (s, _, _) = send(
        &p.f,
        req(
            "/page/play",
            "198.51.100.1",
            &h,
            r#"{"animation":"rainbow"}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(p.play(&cookie).await.0, StatusCode::OK);
    assert_eq!(p.play(&cookie).await.0, StatusCode::TOO_MANY_REQUESTS);
    // Pairing from outside allow_from is refused before the code is spent.
    let code = p.code("laptop");
    let h = [
        ("host", HOST),
        ("origin", ORIGIN),
        ("content-type", "application/json"),
    ];
    let (s, _, _) = send(
        &p.f,
        req(
            "/pair",
            "198.51.100.2",
            &h,
            &format!(r#"{{"code":"{code}"}}"#),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = send(
        &p.f,
        post("/pair", None, &format!(r#"{{"code":"{code}"}}"#)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}
