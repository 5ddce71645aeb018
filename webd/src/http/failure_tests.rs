//! Router tests of what failing costs a client: bans (behind a trusted
//! proxy too), the global failure budget, and the refusals that are never
//! counted as failures (credentials given twice, a mislabelled body).

use super::tests::*;
use super::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};

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
    let ts = now_unix();
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
    let ts = now_unix();
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
