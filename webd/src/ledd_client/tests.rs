//! Tests of the link task: keepalive, reconnection, the logged causes,
//! timeouts; and the fake ledd they (and the router's tests) talk to.

use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tinsel_proto::{AnimationSet, ErrorCode, Role};
use tinsel_proto::{FrameReader, Welcome};
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

/// A fake ledd that answers Hello, then `Ok` to everything, except
/// `Off`, which it never answers (to test the timeout).
pub(crate) async fn fake_ledd(listener: UnixListener, served: Arc<AtomicUsize>) {
    fake_ledd_with(listener, served, FakeLedd::default()).await
}

/// How a fake ledd differs from the plain one.
#[derive(Clone, Default)]
struct FakeLedd {
    /// Close a connection silent this long, as ledd's `IDLE_TIMEOUT`.
    idle_timeout: Option<Duration>,
    /// Refuse every `Hello` with `NotAllowed`, as ledd does for a uid
    /// with no role.
    no_role: bool,
    /// Counts the handshakes answered.
    hellos: Arc<AtomicUsize>,
}

async fn fake_ledd_with(listener: UnixListener, served: Arc<AtomicUsize>, fake: FakeLedd) {
    // Connections die with the server task (a JoinSet aborts on drop).
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let served = served.clone();
        let fake = fake.clone();
        conns.spawn(async move {
                let mut reader = FrameReader::new();
                loop {
                    while let Ok(Some(req)) = reader.next_frame::<Request>() {
                        let resp = match req {
                            Request::Hello { .. } if fake.no_role => {
                                Response::Error(ErrorReply::new(
                                    ErrorCode::NotAllowed,
                                    "uid 1 (gid 1) may not use ledd: add the user or one of its groups to [access] in ledd's config",
                                ))
                            }
                            Request::Hello { version } => {
                                fake.hellos.fetch_add(1, Ordering::SeqCst);
                                Response::Welcome(Welcome {
                                    version,
                                    role: Role::Hooks,
                                    led_count: 10,
                                    animations: AnimationSet::all(),
                                })
                            }
                            Request::Off => continue,
                            Request::SetBrightness(_) => {
                                Response::Error(ErrorReply::new(ErrorCode::Forbidden, "no"))
                            }
                            _ => Response::Ok,
                        };
                        served.fetch_add(1, Ordering::SeqCst);
                        let frame = tinsel_proto::encode(&resp).unwrap();
                        if s.write_all(&frame).await.is_err() {
                            return;
                        }
                    }
                    let read = s.read(reader.spare());
                    let read = match fake.idle_timeout {
                        Some(idle) => match timeout(idle, read).await {
                            Ok(r) => r,
                            Err(_) => return,
                        },
                        None => read.await,
                    };
                    match read {
                        Ok(0) | Err(_) => return,
                        Ok(n) => reader.filled(n),
                    }
                }
            });
    }
}

/// Collects what webd logs on this thread (tokio's current-thread test
/// runtime runs every task here).
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
    // ledd closes connections silent for 300 ms; webd's keepalive is
    // shorter, as KEEPALIVE (30 s) is to ledd's IDLE_TIMEOUT (60 s).
    let idle = Duration::from_secs(1);
    let fake = FakeLedd {
        idle_timeout: Some(idle),
        ..FakeLedd::default()
    };
    let hellos = fake.hellos.clone();
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(fake_ledd_with(listener, Arc::default(), fake));
    let client = LeddClient::spawn_with_keepalive(path, Duration::from_secs(1), idle / 4);
    assert_eq!(client.request(Request::Status).await, Ok(Response::Ok));
    // Two idle periods and more, with no request.
    tokio::time::sleep(idle * 2 + idle / 2).await;
    assert_eq!(client.request(Request::Status).await, Ok(Response::Ok));
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
    let client = LeddClient::spawn(path.clone(), Duration::from_millis(500));
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

    // ledd appears but gives webd's uid no role: a new cause, once.
    let fake = FakeLedd {
        no_role: true,
        ..FakeLedd::default()
    };
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(fake_ledd_with(listener, Arc::default(), fake));
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
}

/// Starts a fake ledd on `path` in the current runtime; returns the
/// count of requests it answered.
pub(crate) fn spawn_fake_ledd(path: &std::path::Path) -> Arc<AtomicUsize> {
    let served = Arc::new(AtomicUsize::new(0));
    tokio::spawn(fake_ledd(UnixListener::bind(path).unwrap(), served.clone()));
    served
}

#[tokio::test]
async fn away_then_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledd.sock");
    let client = LeddClient::spawn(path.clone(), Duration::from_millis(300));
    let err = client.request(Request::Status).await.unwrap_err();
    let Some(retry) = err.retry_after() else {
        panic!("{err:?}")
    };
    assert!(retry >= Duration::from_secs(1), "{retry:?}");

    let served = Arc::new(AtomicUsize::new(0));
    let server = tokio::spawn(fake_ledd(
        UnixListener::bind(&path).unwrap(),
        served.clone(),
    ));
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
    assert_eq!(client.request(Request::Status).await, Ok(Response::Ok));
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
    let served = Arc::new(AtomicUsize::new(0));
    tokio::spawn(fake_ledd(
        UnixListener::bind(&path).unwrap(),
        served.clone(),
    ));
    let client = LeddClient::spawn(path, Duration::from_millis(200));
    let start = std::time::Instant::now();
    assert_eq!(client.request(Request::Off).await, Err(LeddError::Timeout));
    assert!(start.elapsed() < Duration::from_secs(2));
    // A fresh connection serves the next request.
    let mut ok = false;
    for _ in 0..20 {
        if client.request(Request::Status).await == Ok(Response::Ok) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok);
    // Two handshakes at least: the first connection and the renewed one.
    assert!(served.load(Ordering::SeqCst) >= 3);
}
