//! Router tests of `GET /state` against the fake ledd: answered from the
//! state ledd pushes (no round trip per request), a change shown at once,
//! a timed play counting down, and an absent ledd answered as before.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use tinsel_client::fake::{FakeLedd, dark};
use tinsel_proto::{Animation, PlayParams, PlaySeconds, Playing, Rgb, Status};

use super::tests::{Fixture, req, send, tls};
use super::*;

const READER: &str = "reader-token";
const FROM: &str = "192.0.2.20";

/// A webd whose token `reader` may read state, over a fake ledd at
/// `dir/ledd.sock` (not started: the test starts it, or not).
fn state_fixture(dir: tempfile::TempDir) -> (Fixture, AppState) {
    let sock = dir.path().join("ledd.sock");
    let text = format!(
        r#"
ledd_socket = "{sock}"
[tls]
cert = "c.pem"
key = "k.pem"
[[tokens]]
name = "reader"
sha256 = "{reader}"
hooks = ["*"]
state = true
"#,
        sock = sock.display(),
        reader = crate::domain::token::to_hex(&auth::token_hash(READER)),
    );
    let config = Config::parse(&text, Path::new("/etc/webd/webd.toml")).unwrap();
    let ledd = crate::daemon::ledd_link(sock, Duration::from_millis(500));
    let state = AppState::new(Live { config, tls: tls() }, ledd);
    (Fixture::new(app(state.clone()), dir), state)
}

async fn get_state(f: &Fixture) -> (StatusCode, Value, axum::http::Response<()>) {
    let mut r = req(
        "/state",
        FROM,
        &[("authorization", &format!("Bearer {READER}"))],
        "",
    );
    *r.method_mut() = axum::http::Method::GET;
    send(f, r).await
}

/// Waits until `pred` holds of what the link keeps from ledd's pushes.
async fn pushed_when(state: &AppState, pred: impl Fn(Option<Status>) -> bool) {
    let wait = async {
        while !pred(state.ledd().state()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(3), wait)
        .await
        .expect("the pushed state within 3 s");
}

fn playing(animation: Animation, color: Option<Rgb>, secs: Option<u32>) -> Status {
    Status {
        playing: Some(Playing {
            animation,
            params: PlayParams {
                color,
                duration: secs.map(|s| PlaySeconds::new(s).unwrap()),
                ..PlayParams::default()
            },
            remaining_secs: secs,
        }),
        ..dark()
    }
}

#[tokio::test]
async fn state_is_answered_from_what_ledd_pushed_without_asking_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeLedd::default();
    fake.clone().spawn(&dir.path().join("ledd.sock"));
    let (f, state) = state_fixture(dir);
    pushed_when(&state, |s| s == Some(dark())).await;
    let asked = fake.statuses.load(Ordering::SeqCst);
    for _ in 0..50 {
        let (s, j, _) = get_state(&f).await;
        assert_eq!(s, StatusCode::OK, "{j}");
        assert_eq!(j["on"], false, "{j}");
    }
    assert_eq!(fake.statuses.load(Ordering::SeqCst), asked);

    // A change shows in the next answer once pushed, still unasked.
    fake.set_status(playing(Animation::Solid, Some(Rgb::new(255, 0, 0)), None));
    let wait = async {
        loop {
            let (s, j, _) = get_state(&f).await;
            assert_eq!(s, StatusCode::OK, "{j}");
            if j["animation"] == "solid" {
                return j;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let j = tokio::time::timeout(Duration::from_millis(500), wait)
        .await
        .expect("/state shows a pushed change within 500 ms");
    assert_eq!(j["color"], "red", "{j}");
    assert_eq!(fake.statuses.load(Ordering::SeqCst), asked);
}

#[tokio::test]
async fn a_timed_play_counts_down_from_when_it_was_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeLedd::default();
    fake.set_status(playing(Animation::Fire, None, Some(90)));
    fake.clone().spawn(&dir.path().join("ledd.sock"));
    let (f, state) = state_fixture(dir);
    pushed_when(&state, |s| s.is_some()).await;
    let (s, j, _) = get_state(&f).await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert_eq!(
        (j["timed"].clone(), j["remaining_secs"].clone()),
        (Value::Bool(true), 90.into())
    );
    // A second later the same pushed state says 89: the time left is now's,
    // not the push's.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, j, _) = get_state(&f).await;
    assert_eq!(j["remaining_secs"], 89, "{j}");
}

#[tokio::test]
async fn with_ledd_gone_state_answers_as_an_absent_ledd_does() {
    // What webd answers when ledd was never there.
    let dir = tempfile::tempdir().unwrap();
    let (never, _) = state_fixture(dir);
    let (s, absent, resp) = get_state(&never).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{absent}");
    let retry = resp.headers().get("retry-after").cloned();
    assert!(retry.is_some(), "{:?}", resp.headers());

    // A ledd that pushed a state, then went away: the state it left is not
    // shown as if current.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ledd.sock");
    let fake = FakeLedd::default();
    let server = fake.clone().spawn(&sock);
    let (f, state) = state_fixture(dir);
    pushed_when(&state, |s| s.is_some()).await;
    server.abort();
    let _ = server.await;
    pushed_when(&state, |s| s.is_none()).await;
    let (s, j, resp) = get_state(&f).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{j}");
    assert_eq!(j, absent);
    assert!(
        resp.headers().contains_key("retry-after"),
        "{:?}",
        resp.headers()
    );
}
