//! A fake ledd for tests (feature `fake`): welcomes every peer with the
//! hooks role and answers `Ok`, except `Off`, which it never answers (a
//! stuck ledd, for timeouts), `SetBrightness`, which it refuses, `Status`,
//! answered with [`FakeLedd::set_status`]'s status (and counted), and
//! `Subscribe`, answered `Ok` and then pushed that status at once and after
//! each [`FakeLedd::set_status`], as ledd does.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tinsel_proto::{
    AnimationSet, Brightness, ErrorCode, ErrorReply, FrameReader, FrameStats, Power, Request,
    Response, Role, Status, Welcome,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast;
use tokio::time::timeout;

/// How a fake ledd behaves, and what it counts.
#[derive(Debug, Clone, Default)]
pub struct FakeLedd {
    /// Close a connection silent this long, as ledd's `IDLE_TIMEOUT`.
    pub idle_timeout: Option<Duration>,
    /// Refuse every `Hello` with `NotAllowed`, as ledd does for a uid
    /// with no role.
    pub no_role: bool,
    /// The handshakes answered with a Welcome.
    pub hellos: Arc<AtomicUsize>,
    /// Every answer sent.
    pub served: Arc<AtomicUsize>,
    /// The `Status` requests answered.
    pub statuses: Arc<AtomicUsize>,
    /// The status it reports and pushes ([`FakeLedd::set_status`]).
    pub status: FakeStatus,
}

/// The fake's status and its subscribers, shared by its clones.
#[derive(Debug, Clone)]
pub struct FakeStatus {
    now: Arc<Mutex<Status>>,
    subscribers: Arc<Mutex<Option<broadcast::Sender<Status>>>>,
}

impl Default for FakeStatus {
    fn default() -> FakeStatus {
        FakeStatus {
            now: Arc::new(Mutex::new(dark())),
            subscribers: Arc::default(),
        }
    }
}

/// LEDs the fake ledd says it drives.
pub const LED_COUNT: u16 = 10;

/// The fake's status before any [`FakeLedd::set_status`]: dark, at the
/// default brightness.
pub fn dark() -> Status {
    Status {
        playing: None,
        brightness: Brightness::DEFAULT,
        led_count: LED_COUNT,
        target_fps: 60,
        stats: FrameStats::default(),
        power: Power::default(),
    }
}

impl FakeLedd {
    /// Makes `status` what it reports, and pushes it to every subscriber.
    pub fn set_status(&self, status: Status) {
        if let Ok(mut s) = self.status.now.lock() {
            *s = status;
        }
        if let Ok(tx) = self.status.subscribers.lock()
            && let Some(tx) = tx.as_ref()
        {
            let _ = tx.send(status);
        }
    }

    fn current(&self) -> Status {
        self.status.now.lock().map_or_else(|_| dark(), |s| *s)
    }

    fn subscribe(&self) -> broadcast::Receiver<Status> {
        match self.status.subscribers.lock() {
            Ok(mut tx) => tx
                .get_or_insert_with(|| broadcast::channel(16).0)
                .subscribe(),
            // A poisoned lock in a test: a channel that never sends.
            Err(_) => broadcast::channel(1).1,
        }
    }

    /// Serves `listener` until the task is dropped; its connections end
    /// with it.
    pub async fn serve(self, listener: UnixListener) {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            conns.spawn(self.clone().connection(stream));
        }
    }

    /// Binds `path` and serves it in a task of the current runtime.
    pub fn spawn(self, path: &Path) -> tokio::task::JoinHandle<()> {
        let listener = UnixListener::bind(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        tokio::spawn(self.serve(listener))
    }

    async fn connection(self, mut s: UnixStream) {
        let mut reader = FrameReader::new();
        let mut pushes: Option<broadcast::Receiver<Status>> = None;
        loop {
            while let Ok(Some(req)) = reader.next_frame::<Request>() {
                let subscribe = req == Request::Subscribe;
                if subscribe {
                    pushes = Some(self.subscribe());
                }
                let Some(resp) = self.answer(req) else {
                    continue;
                };
                self.served.fetch_add(1, Ordering::SeqCst);
                if !send(&mut s, &resp).await
                    || (subscribe && !send(&mut s, &Response::State(self.current())).await)
                {
                    return;
                }
            }
            let read = async {
                match pushes.as_mut() {
                    None => Ok(s.read(reader.spare()).await),
                    Some(rx) => tokio::select! {
                        r = s.read(reader.spare()) => Ok(r),
                        pushed = rx.recv() => Err(pushed),
                    },
                }
            };
            let read = match self.idle_timeout {
                Some(idle) => match timeout(idle, read).await {
                    Ok(r) => r,
                    Err(_) => return,
                },
                None => read.await,
            };
            match read {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(n)) => reader.filled(n),
                Err(Ok(status)) => {
                    if !send(&mut s, &Response::State(status)).await {
                        return;
                    }
                }
                Err(Err(_)) => return,
            }
        }
    }

    fn answer(&self, req: Request) -> Option<Response> {
        Some(match req {
            Request::Hello { .. } if self.no_role => Response::Error(ErrorReply::new(
                ErrorCode::NotAllowed,
                "uid 1 (gid 1) may not use ledd: add the user or one of its groups to [access] in ledd's config",
            )),
            Request::Hello { version } => {
                self.hellos.fetch_add(1, Ordering::SeqCst);
                Response::Welcome(Welcome {
                    version,
                    role: Role::Hooks,
                    led_count: LED_COUNT,
                    animations: AnimationSet::all(),
                    white: false,
                })
            }
            Request::Off => return None,
            Request::Status => {
                self.statuses.fetch_add(1, Ordering::SeqCst);
                Response::Status(self.current())
            }
            Request::SetBrightness(_) => {
                Response::Error(ErrorReply::new(ErrorCode::Forbidden, "no"))
            }
            _ => Response::Ok,
        })
    }
}

/// Writes `resp`; false when the peer is gone.
async fn send(s: &mut UnixStream, resp: &Response) -> bool {
    match tinsel_proto::encode(resp) {
        Ok(frame) => s.write_all(&frame).await.is_ok(),
        Err(_) => false,
    }
}
