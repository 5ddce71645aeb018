//! Narrow tokens end to end: `allow_from`, `rate` (per token and per
//! hook) and `expires`, against the real webd over HTTPS. All traffic is
//! from 127.0.0.1; "outside" means outside a token's `allow_from`.

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fixtures::Webd;
use crate::harness::{Daemon, bin, wait_for};
use crate::state::{HA_HOOKS, Reply, STRICT_BAN, send, token_with};

/// The rate of the `party` hook in these tests: one a minute, so the
/// second call is refused however slow the machine is.
const HOOK_RATE: &str = "\n[hooks.party]\nanimation = \"rainbow-cycle\"\nrate = \"1/min\"\n";

/// Restarts `w`'s webd with its stderr in `DIR/webd.log`, on a new port,
/// and returns the log's path. The fixture leaves webd's stderr to the
/// test's; these tests read what webd logged.
fn with_log(w: &mut Webd) -> std::path::PathBuf {
    let port = crate::fixtures::free_port();
    let text = std::fs::read_to_string(w.config()).expect("webd.toml");
    let text = text.replace(
        &format!("listen = \"127.0.0.1:{}\"", w.port),
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let config = w.dir.path().join("webd-logged.toml");
    std::fs::write(&config, text).expect("write config");
    let log = w.dir.path().join("webd.log");
    w.webd = Daemon::spawn(
        "webd",
        Command::new(bin("webd"))
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create webd.log")),
    );
    w.port = port;
    let http = w.agent();
    let up = wait_for(Duration::from_secs(10), || {
        let r = http.get(w.url("/healthz")).call().ok()?;
        (r.status().as_u16() == 200).then_some(())
    });
    assert!(up.is_some(), "webd did not come back: {}", read(&log));
    log
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn post(http: &ureq::Agent, w: &Webd, hook: &str, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    send(
        http,
        w,
        "POST",
        &format!("/hooks/{hook}"),
        &[("authorization", &auth)],
        None,
    )
}

fn get_state(http: &ureq::Agent, w: &Webd, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    send(http, w, "GET", "/state", &[("authorization", &auth)], None)
}

#[test]
fn allow_from_refuses_a_valid_token_from_outside_and_counts_it() {
    let (lan, lan_lines) = token_with(
        "lan-only",
        &[],
        "state = true\nallow_from = [\"10.0.0.0/8\"]",
    );
    let (home, home_lines) = token_with("home", &[], "allow_from = [\"127.0.0.0/8\", \"::1\"]");
    let mut w = Webd::builder()
        .sections(STRICT_BAN)
        .sections(HA_HOOKS)
        .sections(&lan_lines)
        .sections(&home_lines)
        .start();
    let log = with_log(&mut w);
    let http = w.agent();

    // Inside its allow_from, a token works.
    let r = post(&http, &w, "rainbow", &home);
    assert_eq!(r.status, 200, "{}", r.json);

    // 127.0.0.1 is outside 10.0.0.0/8: 403 on the hooks and on /state,
    // and nothing reaches ledd.
    let r = post(&http, &w, "fire", &lan);
    assert_eq!(r.status, 403, "{}", r.json);
    assert_eq!(r.json["error"], "forbidden");
    assert!(
        r.json["message"]
            .as_str()
            .unwrap_or("")
            .contains("allow_from"),
        "{}",
        r.json
    );
    assert_eq!(w.ledd.status()["playing"]["animation"], "rainbow");
    let r = get_state(&http, &w, &lan);
    assert_eq!(r.status, 403, "{}", r.json);
    // A forwarding header from a peer that is not a trusted proxy changes
    // nothing: this is the same failure, the third, and bans.
    let auth = format!("Bearer {lan}");
    let spoofed = [
        ("authorization", auth.as_str()),
        ("x-forwarded-for", "10.1.2.3"),
    ];
    let r = send(&http, &w, "POST", "/hooks/fire", &spoofed, None);
    assert_eq!(r.status, 403, "{}", r.json);
    assert!(
        read(&log).contains("valid token used from outside its allow_from"),
        "{}",
        read(&log)
    );

    // Each counted as a failed login: the third (max_failures = 3) banned
    // the address, and now even the good token is refused.
    let r = post(&http, &w, "rainbow", &home);
    assert_eq!(r.status, 429, "{}", r.json);
    assert_eq!(r.json["error"], "banned");
}

#[test]
fn allow_from_checks_the_client_a_trusted_proxy_names() {
    let (lan, lan_lines) = token_with("lan-only", &[], "allow_from = [\"10.0.0.0/8\"]");
    let w = Webd::builder()
        .top("trusted_proxies = [\"127.0.0.1\"]")
        .sections(STRICT_BAN)
        .sections(HA_HOOKS)
        .sections(&lan_lines)
        .start();
    let http = w.agent();
    let auth = format!("Bearer {lan}");
    let via = |xff: Option<&str>| {
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(x) = xff {
            headers.push(("x-forwarded-for", x));
        }
        send(&http, &w, "POST", "/hooks/rainbow", &headers, None).status
    };
    // The proxy (127.0.0.1) names a client in 10.0.0.0/8: served.
    assert_eq!(via(Some("10.1.2.3")), 200);
    // A client outside, or one the proxy does not name: refused. Each is
    // counted against that client, not against the proxy or 10.1.2.3.
    assert_eq!(via(Some("192.0.2.7")), 403);
    assert_eq!(via(None), 403);
    assert_eq!(via(Some("192.0.2.7")), 403);
    assert_eq!(via(Some("192.0.2.7")), 403);
    assert_eq!(via(Some("192.0.2.7")), 429);
    assert_eq!(via(Some("10.1.2.3")), 200);
}

#[test]
fn a_token_rate_answers_429_with_retry_after_then_recovers() {
    // A burst of 10, then one every 6 s.
    let (tok, lines) = token_with("metered", &[], "rate = \"10/min\"");
    let (other, other_lines) = token_with("other", &[], "");
    let w = Webd::builder()
        .sections(STRICT_BAN)
        .sections(HA_HOOKS)
        .sections(HOOK_RATE)
        .sections(&lines)
        .sections(&other_lines)
        .start();
    let http = w.agent();

    let mut served = 0;
    let limited = (0..40).find_map(|_| {
        let r = post(&http, &w, "rainbow", &tok);
        match r.status {
            200 => {
                served += 1;
                None
            }
            429 => Some(r),
            s => panic!("unexpected {s}: {}", r.json),
        }
    });
    let limited = limited.expect("no 429 within 40 requests");
    // The whole burst was served first (a slow machine gets a few more as
    // the budget refills).
    assert!(served >= 10, "only {served} served before the 429");
    assert_eq!(limited.json["error"], "rate_limited");
    let retry: u64 = limited
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=6).contains(&retry), "Retry-After {retry}");

    // More 429s are not failed logins (max_failures = 3): no ban follows,
    // and another token is served meanwhile.
    for _ in 0..4 {
        let r = post(&http, &w, "rainbow", &tok);
        assert!(matches!(r.status, 200 | 429), "{}", r.json);
    }
    assert_eq!(post(&http, &w, "fire", &other).status, 200);

    // After Retry-After, the token is served again.
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    let r = post(&http, &w, "rainbow", &tok);
    assert_eq!(r.status, 200, "after {:?}: {}", start.elapsed(), r.json);
}

#[test]
fn a_hook_rate_holds_for_every_token_and_is_not_a_failure() {
    let (a, a_lines) = token_with("a", &[], "");
    let (b, b_lines) = token_with("b", &[], "");
    let w = Webd::builder()
        .sections(STRICT_BAN)
        .sections(HA_HOOKS)
        .sections(HOOK_RATE)
        .sections(&a_lines)
        .sections(&b_lines)
        .start();
    let http = w.agent();
    assert_eq!(post(&http, &w, "party", &a).status, 200);
    for token in [&a, &b, &a, &b] {
        let r = post(&http, &w, "party", token);
        assert_eq!(r.status, 429, "{}", r.json);
        assert_eq!(r.json["error"], "rate_limited");
        assert!(
            r.json["message"].as_str().unwrap_or("").contains("hook"),
            "{}",
            r.json
        );
        let retry: u64 = r
            .retry_after
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
    }
    // Other hooks are not held back, and four 429s banned nobody.
    assert_eq!(post(&http, &w, "fire", &b).status, 200);
    assert_eq!(w.ledd.status()["playing"]["animation"], "fire");
}

#[test]
fn an_expired_token_is_refused_like_a_bad_one_and_logged_as_expired() {
    let (old, old_lines) = token_with("old", &[], "state = true\nexpires = 2020-01-06");
    let (fresh, fresh_lines) = token_with("fresh", &[], "state = true\nexpires = \"9999-12-31\"");
    let mut w = Webd::builder()
        .sections(STRICT_BAN)
        .sections(HA_HOOKS)
        .sections(&old_lines)
        .sections(&fresh_lines)
        .start();
    let log = with_log(&mut w);
    let http = w.agent();

    assert_eq!(post(&http, &w, "rainbow", &fresh).status, 200);
    assert_eq!(get_state(&http, &w, &fresh).status, 200);

    let expired = post(&http, &w, "fire", &old);
    let bad = post(&http, &w, "fire", "not-a-token");
    assert_eq!(expired.status, 401, "{}", expired.json);
    // Nothing tells the expired token from a wrong one.
    assert_eq!(expired.json, bad.json);
    assert_ne!(w.ledd.status()["playing"]["animation"], Value::from("fire"));
    let logged = read(&log);
    assert!(
        logged
            .lines()
            .any(|l| l.contains("authentication failure from 127.0.0.1")
                && l.contains("(hook fire): expired")),
        "{logged}"
    );

    // Counted: with the bad token above, the third failure bans.
    assert_eq!(get_state(&http, &w, &old).status, 401);
    assert_eq!(get_state(&http, &w, &fresh).status, 429);
}

#[test]
fn a_bad_narrowing_value_exits_78_naming_the_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("webd.toml");
    let token = "[[tokens]]\nname = \"a\"\nsha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"\nhooks = [\"*\"]\n";
    for (line, key) in [
        ("allow_from = [\"10.0.0.0/40\"]", "tokens[0].allow_from[0]"),
        ("rate = \"lots\"", "tokens[0].rate"),
        ("expires = \"2027-13-01\"", "tokens[0].expires"),
        ("state = \"yes\"", "state"),
    ] {
        std::fs::write(
            &path,
            format!(
                "ledd_socket = \"ledd.sock\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n{token}{line}\n"
            ),
        )
        .expect("write");
        for flag in ["--check-config", "--config"] {
            let out = crate::harness::run(Command::new(bin("webd")).arg(flag).arg(&path));
            let err = crate::harness::stderr(&out);
            assert_eq!(out.status.code(), Some(78), "{flag} {line}: {err}");
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains(key), "{line}: {err}");
        }
    }
}
