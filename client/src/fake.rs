//! A fake ledd for tests (feature `fake`): welcomes every peer with the
//! hooks role and answers `Ok`, except `Off`, which it never answers (a
//! stuck ledd, for timeouts), and `SetBrightness`, which it refuses.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tinsel_proto::Welcome;
use tinsel_proto::{AnimationSet, ErrorCode, ErrorReply, FrameReader, Request, Response, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
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
}

/// LEDs the fake ledd says it drives.
pub const LED_COUNT: u16 = 10;

impl FakeLedd {
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
        loop {
            while let Ok(Some(req)) = reader.next_frame::<Request>() {
                let Some(resp) = self.answer(req) else {
                    continue;
                };
                self.served.fetch_add(1, Ordering::SeqCst);
                let Ok(frame) = tinsel_proto::encode(&resp) else {
                    return;
                };
                if s.write_all(&frame).await.is_err() {
                    return;
                }
            }
            let read = s.read(reader.spare());
            let read = match self.idle_timeout {
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
            Request::SetBrightness(_) => {
                Response::Error(ErrorReply::new(ErrorCode::Forbidden, "no"))
            }
            _ => Response::Ok,
        })
    }
}
