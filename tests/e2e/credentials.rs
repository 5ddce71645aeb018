//! webd's request path end to end, where it could be turned against its
//! users: who the client is behind a trusted proxy, credentials given
//! twice, a failure flood against a valid token, and a JSON body labelled
//! as a form.
//!
//! Real `ledd` (simulated strip) and `webd` processes; webd trusts
//! loopback as its proxy, so each request's `X-Forwarded-For` plays the
//! client. Every server binds 127.0.0.1; every loop is bounded in count.

use std::time::Duration;

use serde_json::Value;

use crate::fixtures::Webd;
use crate::harness::wait_for;

/// Failures from one client before it is banned, in the test config.
const MAX_FAILURES: usize = 3;

/// A running ledd + webd pair behind a "proxy" on loopback.
struct Stack {
    w: Webd,
    token: String,
    http: ureq::Agent,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    json: Value,
}

impl Stack {
    /// Starts ledd and webd; `global` is `ban.global_failures_per_minute`.
    fn start(global: u32) -> Stack {
        let w = Webd::builder()
            .top(r#"trusted_proxies = ["127.0.0.1", "::1"]"#)
            .token("e2e", &[])
            .sections(&format!(
                r#"[ban]
max_failures = {MAX_FAILURES}
window_secs = 60
ban_secs = 60
global_failures_per_minute = {global}

[hooks.fire]
animation = "fire"

[hooks.color]
animation = "solid"
color = "warm-white"
request_colors = ["red", "warm-white"]
"#
            ))
            .start();
        Stack {
            token: w.tokens[0].clone(),
            http: w.agent(),
            w,
        }
    }

    /// POSTs to `path` with these headers (repeats kept) and body.
    fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut req = self.http.post(self.w.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req
            .send(body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Reply {
            status: resp.status().as_u16(),
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// The status a valid bearer token gets for the client named by `xff`
    /// (or, with `None`, for a request with no forwarding header).
    fn valid_from(&self, xff: Option<&str>) -> u16 {
        let bearer = self.bearer();
        let mut h = vec![("authorization", bearer.as_str())];
        h.extend(xff.map(|v| ("x-forwarded-for", v)));
        self.post("/hooks/fire", &h, "").status
    }

    /// What ledd plays now.
    fn playing(&self) -> Value {
        self.w.ledd.status()["playing"].clone()
    }
}

#[test]
fn a_garbage_forwarded_entry_bans_the_guesser_never_the_proxy() {
    let st = Stack::start(0);
    let wrong = ("authorization", "Bearer wrong");
    // The client wrote garbage to the left of the proxy's entry.
    for _ in 0..MAX_FAILURES {
        let r = st.post(
            "/hooks/fire",
            &[wrong, ("x-forwarded-for", "garbage, 198.51.100.30")],
            "",
        );
        assert_eq!(r.status, 401, "{r:?}");
    }
    assert_eq!(st.valid_from(Some("198.51.100.30")), 429, "the guesser");
    assert_eq!(st.valid_from(Some("198.51.100.31")), 200, "another client");
    assert_eq!(st.valid_from(None), 200, "the proxy's own requests");
    // A right-most entry that is no address: unidentified, and banned as
    // such, without the proxy or its identified clients.
    for _ in 0..MAX_FAILURES {
        let r = st.post(
            "/hooks/fire",
            &[wrong, ("x-forwarded-for", "198.51.100.32, unknown")],
            "",
        );
        assert_eq!(r.status, 401, "{r:?}");
    }
    assert_eq!(st.valid_from(None), 429, "unidentified clients");
    assert_eq!(st.valid_from(Some("198.51.100.32")), 200);
    assert_eq!(st.valid_from(Some("[2001:db8::1]:443")), 200);
}

#[test]
fn ambiguous_credentials_and_mislabelled_bodies_are_refused_and_not_counted() {
    let st = Stack::start(0);
    let client = ("x-forwarded-for", "198.51.100.40");
    let bearer = st.bearer();
    let auth = ("authorization", bearer.as_str());
    assert_eq!(st.valid_from(Some("198.51.100.40")), 200);
    wait_for(Duration::from_secs(3), || {
        (st.playing()["animation"] == "fire").then_some(())
    })
    .expect("ledd plays fire");
    let dup_token = format!(r#"{{"token":"wrong","token":"{}"}}"#, st.token);
    let ifttt_as_form = format!(r#"{{"token":"{}","color":"red"}}"#, st.token);
    let form = ("content-type", "application/x-www-form-urlencoded");
    let json = ("content-type", "application/json");
    // (what, path, headers, body, status, field or message word)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a str,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "a JSON token given twice",
            "/hooks/fire",
            vec![json],
            &dup_token,
            400,
            "token",
        ),
        (
            "two Authorization headers",
            "/hooks/fire",
            vec![("authorization", "Bearer wrong"), auth],
            "",
            400,
            "Authorization",
        ),
        (
            "curl -H 'Authorization: Bearer T' -d '{\"color\":\"red\"}'",
            "/hooks/color",
            vec![auth, form],
            r#"{"color":"red"}"#,
            415,
            "Content-Type",
        ),
        (
            "curl -d '{\"token\":\"T\",\"color\":\"red\"}'",
            "/hooks/color",
            vec![form],
            &ifttt_as_form,
            415,
            "Content-Type",
        ),
        (
            "JSON with no Content-Type",
            "/hooks/color",
            vec![],
            &ifttt_as_form,
            415,
            "Content-Type",
        ),
    ];
    for (what, path, mut headers, body, status, named) in cases {
        headers.push(client);
        // More than max_failures each: none of them may count.
        for _ in 0..=MAX_FAILURES {
            let r = st.post(path, &headers, body);
            assert_eq!(r.status, status, "{what}: {r:?}");
            let said = if status == 400 {
                r.json["field"].as_str().unwrap_or_default().to_owned()
            } else {
                r.json["message"].as_str().unwrap_or_default().to_owned()
            };
            assert!(said.contains(named), "{what}: {r:?}");
        }
    }
    // Nothing played, and the client is not banned.
    assert_eq!(st.playing()["animation"], "fire", "{}", st.playing());
    assert_eq!(st.valid_from(Some("198.51.100.40")), 200);
    // Labelled right, the same body plays red.
    let r = st.post("/hooks/color", &[json, client], &ifttt_as_form);
    assert_eq!(r.status, 200, "{r:?}");
    let red = wait_for(Duration::from_secs(3), || {
        let p = st.playing();
        (p["animation"] == "solid" && p["color"] == "#ff0000").then_some(())
    });
    assert!(red.is_some(), "{}", st.playing());
}

#[test]
fn a_failure_flood_from_many_addresses_does_not_lock_out_a_valid_token() {
    const BUDGET: u32 = 10;
    let st = Stack::start(BUDGET);
    let wrong = ("authorization", "Bearer wrong");
    // One wrong token from each of BUDGET fresh IPv6 /64s spends the budget.
    for i in 0..BUDGET {
        let from = format!("2001:db8:{i:x}::1");
        let r = st.post("/hooks/fire", &[wrong, ("x-forwarded-for", &from)], "");
        assert_eq!(r.status, 401, "{from}: {r:?}");
    }
    let r = st.post(
        "/hooks/fire",
        &[wrong, ("x-forwarded-for", "2001:db8:ff::1")],
        "",
    );
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (429, Some("too_many_failures")),
        "{r:?}"
    );
    // The owner's token, from a fresh address, is served and plays.
    assert_eq!(st.valid_from(Some("198.51.100.50")), 200);
    wait_for(Duration::from_secs(3), || {
        (st.playing()["animation"] == "fire").then_some(())
    })
    .expect("ledd plays fire");
    // A wrong token still gets 429.
    let r = st.post(
        "/hooks/fire",
        &[wrong, ("x-forwarded-for", "198.51.100.51")],
        "",
    );
    assert_eq!(r.status, 429, "{r:?}");
}
