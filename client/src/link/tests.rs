//! Tests of the link, alone and behind a [`Handle`]: keepalive,
//! reconnection, the logged causes, timeouts; against the fake ledd.

use super::*;
use crate::Handle;
use crate::fake::{FakeLedd, dark};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tinsel_proto::Role;

const PEER: Peer = Peer::daemon("webd", "tinsel-web");

fn link(path: &Path, request: Duration) -> Link {
    let timing = Timing {
        request,
        ..Timing::default()
    };
    Link::with_timing(path.to_owned(), PEER, timing)
}

/// Collects what the link logs on this thread (tokio's current-thread
/// test runtime runs every task here).
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

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
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn warnings(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains("WARN"))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn an_idle_healthy_link_is_kept_alive_without_warnings() {
    let logs = Logs::default();
    let _guard = logs.capture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    // ledd closes connections silent for 1 s; the keepalive is shorter, as
    // KEEPALIVE (30 s) is to ledd's IDLE_TIMEOUT (60 s).
    let idle = Duration::from_secs(1);
    let fake = FakeLedd {
        idle_timeout: Some(idle),
        ..FakeLedd::default()
    };
    let hellos = fake.hellos.clone();
    fake.spawn(&path);
    let timing = Timing {
        request: Duration::from_secs(1),
        keepalive: idle / 4,
        ..Timing::default()
    };
    let client = Handle::spawn(Link::with_timing(path, PEER, timing));
    assert_eq!(
        client.request(Request::Status).await,
        Ok(Response::Status(dark()))
    );
    // Two idle periods and more, with no request.
    tokio::time::sleep(idle * 2 + idle / 2).await;
    assert_eq!(
        client.request(Request::Status).await,
        Ok(Response::Status(dark()))
    );
    assert_eq!(
        logs.warnings(),
        Vec::<String>::new(),
        "an idle, healthy link must not warn"
    );
    assert_eq!(
        hellos.load(Ordering::SeqCst),
        1,
        "the keepalive holds the first connection open"
    );
}

#[tokio::test]
async fn each_cause_is_logged_once_with_its_fix_and_again_when_it_changes() {
    let logs = Logs::default();
    let _guard = logs.capture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    let client = Handle::spawn(link(&path, Duration::from_millis(500)));
    let logged = |n: usize| {
        let logs = logs.clone();
        async move {
            for _ in 0..200 {
                if logs.warnings().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    // The first failure, then several retries (100, 200, 400 ms...)
    // with the socket still missing.
    logged(1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let warnings = logs.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("does not exist"), "{warnings:#?}");
    assert!(warnings[0].contains("ledd_socket"), "{warnings:#?}");

    // ledd appears but gives the peer's uid no role: a new cause, once.
    FakeLedd {
        no_role: true,
        ..FakeLedd::default()
    }
    .spawn(&path);
    logged(2).await;
    // More refused retries (the backoff is at most 2 s) add nothing.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let err = client.request(Request::Status).await.unwrap_err();
    assert!(err.retry_after().is_some(), "{err:?}");
    let warnings = logs.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings[1].contains("no role"), "{warnings:#?}");
    assert!(
        warnings[1].contains("[access] hooks_users"),
        "{warnings:#?}"
    );
    assert!(warnings[1].contains("tinsel-web"), "{warnings:#?}");
}

#[tokio::test]
async fn away_then_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    let client = Handle::spawn(link(&path, Duration::from_millis(300)));
    let err = client.request(Request::Status).await.unwrap_err();
    let Some(retry) = err.retry_after() else {
        panic!("{err:?}")
    };
    assert!(retry >= Duration::from_secs(1), "{retry:?}");

    let fake = FakeLedd::default();
    let served = fake.served.clone();
    let server = fake.spawn(&path);
    // The background loop finds ledd within its backoff, without being asked.
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if served.load(Ordering::SeqCst) >= 1 {
            ok = true;
            break;
        }
    }
    assert!(ok, "no handshake within 5 s");
    assert_eq!(
        client.request(Request::Status).await,
        Ok(Response::Status(dark()))
    );
    let refused = client
        .request(Request::SetBrightness(Default::default()))
        .await;
    assert!(matches!(refused, Err(LeddError::Refused(_))), "{refused:?}");

    // ledd goes away: requests fail fast with a retry time.
    server.abort();
    let _ = server.await;
    std::fs::remove_file(&path).unwrap();
    let mut saw_unavailable = false;
    for _ in 0..20 {
        match client.request(Request::Status).await {
            Err(LeddError::Unavailable { .. }) => {
                saw_unavailable = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(saw_unavailable);
}

#[tokio::test]
async fn a_silent_ledd_times_out_and_the_link_is_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    let fake = FakeLedd::default();
    let hellos = fake.hellos.clone();
    fake.spawn(&path);
    let client = Handle::spawn(link(&path, Duration::from_millis(200)));
    let start = std::time::Instant::now();
    // The fake never answers Off.
    assert_eq!(client.request(Request::Off).await, Err(LeddError::Timeout));
    assert!(start.elapsed() < Duration::from_secs(2));
    // A fresh connection serves the next request.
    let mut ok = false;
    for _ in 0..20 {
        if client.request(Request::Status).await == Ok(Response::Status(dark())) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok);
    assert!(
        hellos.load(Ordering::SeqCst) >= 2,
        "the first connection and the renewed one"
    );
}

#[tokio::test]
async fn a_link_owned_by_a_loop_fails_fast_then_comes_back_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    let mut ledd = link(&path, Timing::REQUEST);
    // No socket: the first attempt fails with the cause, the next request
    // within the backoff fails at once.
    let err = ledd.request(&Request::Status).await.unwrap_err();
    assert!(matches!(err, LeddError::Unavailable { .. }), "{err:?}");
    assert_eq!(ledd.cause, Some(Cause::NoSocket));
    assert!(!ledd.take_fresh());
    let server = FakeLedd::default().spawn(&path);
    // `due` says when to try, `run` tries.
    let due = tokio::time::timeout(Timing::MAX_BACKOFF * 2, ledd.due()).await;
    assert_eq!(due, Ok(Due::Connect));
    assert!(ledd.run(Due::Connect).await, "a new connection");
    assert!(ledd.take_fresh() && !ledd.take_fresh(), "fresh once");
    assert_eq!(ledd.welcome().map(|w| w.role), Some(Role::Hooks));
    assert_eq!(
        ledd.request(&Request::Status).await,
        Ok(Response::Status(dark()))
    );
    // ledd goes away: the idle link sees the hang-up by itself.
    server.abort();
    let _ = server.await;
    std::fs::remove_file(&path).unwrap();
    let due = tokio::time::timeout(Duration::from_secs(2), ledd.due()).await;
    assert_eq!(due, Ok(Due::Readable));
    assert!(!ledd.run(Due::Readable).await);
    assert!(!ledd.is_connected());
    assert!(ledd.next_attempt().is_some());
}

#[test]
fn the_blocking_probe_reports_the_role_or_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    let limit = Duration::from_secs(2);
    assert_eq!(crate::blocking::probe(&path, limit), Err(Cause::NoSocket));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _serving = rt.enter();
    let server = FakeLedd::default().spawn(&path);
    let thread = std::thread::spawn({
        let path = path.clone();
        move || crate::blocking::probe(&path, limit)
    });
    let welcome = rt.block_on(async {
        loop {
            if thread.is_finished() {
                return thread.join().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert_eq!(welcome.map(|w| w.role), Ok(Role::Hooks));
    server.abort();
}

/// Drives `link` by `due` and `run` until it holds a pushed state.
async fn next_pushed(link: &mut Link) -> Status {
    let wait = async {
        loop {
            if let Some(s) = link.take_pushed() {
                return s;
            }
            let due = link.due().await;
            link.run(due).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(3), wait)
        .await
        .expect("a pushed state within 3 s")
}

#[tokio::test]
async fn a_subscribing_link_yields_pushed_states_and_subscribes_again_after_a_reconnect() {
    use tinsel_proto::{Animation, PlayParams, Playing};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    let fake = FakeLedd::default();
    let server = fake.clone().spawn(&path);
    let mut ledd = link(&path, Timing::REQUEST).subscribing();
    // The first state is the status at subscription.
    assert_eq!(next_pushed(&mut ledd).await, dark());
    assert!(ledd.take_pushed().is_none());
    let fire = Status {
        playing: Some(Playing {
            animation: Animation::Fire,
            params: PlayParams::default(),
            remaining_secs: None,
        }),
        ..dark()
    };
    fake.set_status(fire);
    assert_eq!(next_pushed(&mut ledd).await, fire);
    // A state that arrives while a request waits is kept, never taken for
    // the answer.
    let dark_again = dark();
    fake.set_status(dark_again);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let statuses = fake.statuses.load(Ordering::SeqCst);
    assert_eq!(
        ledd.request(&Request::Status).await,
        Ok(Response::Status(dark_again))
    );
    assert_eq!(fake.statuses.load(Ordering::SeqCst), statuses + 1);
    assert_eq!(ledd.due().await, Due::Pushed);
    assert_eq!(ledd.take_pushed(), Some(dark_again));
    // ledd restarts: the link reconnects and subscribes again by itself.
    server.abort();
    let _ = server.await;
    std::fs::remove_file(&path).unwrap();
    fake.set_status(fire);
    let _server = fake.clone().spawn(&path);
    assert_eq!(next_pushed(&mut ledd).await, fire);
    assert_eq!(fake.hellos.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_link_that_does_not_subscribe_gets_no_states() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    let fake = FakeLedd::default();
    fake.clone().spawn(&path);
    let mut ledd = link(&path, Timing::REQUEST);
    assert!(ledd.connect_if_due().await);
    fake.set_status(dark());
    let until = Instant::now() + Duration::from_millis(300);
    while let Ok(due) = tokio::time::timeout_at(until, ledd.due()).await {
        assert_ne!(due, Due::Pushed);
        ledd.run(due).await;
        assert!(ledd.is_connected());
    }
    assert!(ledd.take_pushed().is_none());
}

/// Waits until `handle`'s kept state satisfies `pred`.
async fn state_when(handle: &Handle, what: &str, pred: impl Fn(Option<Status>) -> bool) {
    let wait = async {
        while !pred(handle.state()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(3), wait)
        .await
        .is_err()
    {
        panic!(
            "the handle's state never became {what}: {:?}",
            handle.state()
        );
    }
}

#[tokio::test]
async fn a_subscribing_handle_keeps_the_newest_state_only_while_connected() {
    use tinsel_proto::{Animation, PlayParams, Playing};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    let fake = FakeLedd::default();
    let server = fake.clone().spawn(&path);
    let handle = Handle::spawn_subscribing(link(&path, Timing::REQUEST));
    state_when(&handle, "dark", |s| s == Some(dark())).await;
    let fire = Status {
        playing: Some(Playing {
            animation: Animation::Fire,
            params: PlayParams::default(),
            remaining_secs: None,
        }),
        ..dark()
    };
    fake.set_status(fire);
    state_when(&handle, "fire", |s| s == Some(fire)).await;
    // Requests still go through, and reading the state asked nothing.
    assert_eq!(fake.statuses.load(Ordering::SeqCst), 0);
    assert_eq!(
        handle.request(Request::Status).await,
        Ok(Response::Status(fire))
    );
    assert_eq!(fake.statuses.load(Ordering::SeqCst), 1);

    // ledd goes away: what it last pushed is not kept as if current.
    server.abort();
    let _ = server.await;
    state_when(&handle, "none", |s| s.is_none()).await;
    assert!(matches!(
        handle.request(Request::Status).await,
        Err(LeddError::Unavailable { .. })
    ));
    // It comes back with another state: the handle resubscribes by itself.
    std::fs::remove_file(&path).unwrap();
    fake.set_status(dark());
    let _server = fake.clone().spawn(&path);
    state_when(&handle, "dark again", |s| s == Some(dark())).await;
}

#[tokio::test]
async fn a_handle_that_does_not_subscribe_keeps_no_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    let fake = FakeLedd::default();
    fake.clone().spawn(&path);
    let handle = Handle::spawn(link(&path, Timing::REQUEST));
    assert!(matches!(
        handle.request(Request::Status).await,
        Ok(Response::Status(_))
    ));
    fake.set_status(dark());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(handle.state(), None);
}
