//! The one persistent connection to ledd.
//!
//! A single task owns the Unix socket and serves requests one at a time
//! from a bounded queue (the protocol answers in order, and webhooks are
//! rare). It connects lazily, says `Hello`, and reconnects with exponential
//! backoff when ledd goes away, in the background, so webd recovers by
//! itself. While ledd is away, [`LeddClient::request`] fails at once with
//! [`LeddError::Unavailable`] and a retry time, which the HTTP layer turns
//! into 503 with `Retry-After`.
//!
//! The only outbound connection webd ever makes is `connect()` on this
//! socket path.

use std::path::PathBuf;
use std::time::Duration;

use tinsel_proto::{ErrorReply, FrameReader, MAX_WIRE_LEN, Request, Response, Role, Welcome};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout};

/// The first retry after a failed connect.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between connection attempts: ledd is local, an attempt
/// costs one failed `connect()`, and a restarted ledd should be found fast.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Requests waiting for the connection; more wait for room, each bounded by
/// its request timeout.
const QUEUE: usize = 32;

/// Why a request to ledd failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeddError {
    /// ledd is not connected; the next attempt is in `retry_after`.
    #[error("ledd is not reachable")]
    Unavailable {
        /// When to try again.
        retry_after: Duration,
    },
    /// ledd did not answer within the per-request timeout.
    #[error("ledd did not answer in time")]
    Timeout,
    /// Too many requests are already waiting.
    #[error("too many requests are waiting for ledd")]
    Busy,
    /// ledd answered with an error.
    #[error("ledd refused the request: {0}")]
    Refused(ErrorReply),
    /// ledd answered something that is not an answer to the request.
    #[error("ledd sent an unexpected reply")]
    Protocol,
}

impl LeddError {
    /// Whether the HTTP answer should be 503 (try again later).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LeddError::Unavailable { retry_after } => Some(*retry_after),
            LeddError::Timeout | LeddError::Busy | LeddError::Protocol => {
                Some(Duration::from_secs(1))
            }
            LeddError::Refused(_) => None,
        }
    }
}

struct Job {
    request: Request,
    reply: oneshot::Sender<Result<Response, LeddError>>,
}

/// A handle on the connection task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LeddClient {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("request", &self.request)
            .finish()
    }
}

impl LeddClient {
    /// Starts the connection task on the current tokio runtime. It connects
    /// at once and keeps trying in the background.
    pub fn spawn(socket: PathBuf, request_timeout: Duration) -> LeddClient {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(
            Link {
                socket,
                request_timeout,
                conn: None,
                backoff: MIN_BACKOFF,
                next_attempt: Instant::now(),
                warned: false,
            }
            .run(rx),
        );
        LeddClient { jobs }
    }

    /// Sends `request` and waits for ledd's answer.
    pub async fn request(&self, request: Request) -> Result<Response, LeddError> {
        let (reply, rx) = oneshot::channel();
        // Wait for room rather than fail: at most max_connections requests
        // (x 8 HTTP/2 streams) are in flight, each bounded by its request
        // timeout, so a burst queues here instead of getting 503s.
        self.jobs
            .send(Job { request, reply })
            .await
            .map_err(|_| LeddError::Busy)?;
        rx.await.unwrap_or(Err(LeddError::Protocol))
    }
}

enum Event {
    Job(Option<Job>),
    Retry,
    Readable,
}

struct Conn {
    stream: UnixStream,
    reader: Box<FrameReader>,
}

struct Link {
    socket: PathBuf,
    request_timeout: Duration,
    conn: Option<Conn>,
    backoff: Duration,
    next_attempt: Instant,
    /// Whether "ledd is away" was logged since the last connection, so a
    /// long absence logs once, not once per attempt.
    warned: bool,
}

impl Link {
    async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        loop {
            let event = match self.conn.as_mut() {
                None => tokio::select! {
                    job = jobs.recv() => Event::Job(job),
                    () = sleep_until(self.next_attempt) => Event::Retry,
                },
                Some(conn) => tokio::select! {
                    job = jobs.recv() => Event::Job(job),
                    // ledd sends nothing unasked: readable here means it
                    // hung up (or broke the protocol). Either way, reconnect.
                    _ = conn.stream.readable() => Event::Readable,
                },
            };
            match event {
                Event::Job(None) => return,
                Event::Job(Some(job)) => {
                    if self.conn.is_none() && Instant::now() >= self.next_attempt {
                        self.connect().await;
                    }
                    self.handle(job).await;
                }
                Event::Retry => self.connect().await,
                Event::Readable => {
                    if self.conn.as_mut().is_some_and(peer_gone) {
                        tracing::warn!("ledd closed the connection; reconnecting");
                        self.lost();
                    }
                }
            }
        }
    }

    /// Drops the connection and schedules a prompt reconnect.
    fn lost(&mut self) {
        self.conn = None;
        self.backoff = MIN_BACKOFF;
        self.next_attempt = Instant::now() + MIN_BACKOFF;
    }

    async fn connect(&mut self) {
        match timeout(self.request_timeout, handshake(&self.socket)).await {
            Ok(Ok((conn, welcome))) => {
                tracing::info!(
                    socket = %self.socket.display(),
                    leds = welcome.led_count,
                    role = welcome.role.name(),
                    "connected to ledd"
                );
                self.conn = Some(conn);
                self.backoff = MIN_BACKOFF;
                self.warned = false;
            }
            Ok(Err(e)) => self.failed(&e),
            Err(_) => self.failed(&"the handshake timed out"),
        }
    }

    fn failed(&mut self, why: &dyn std::fmt::Display) {
        if !self.warned {
            tracing::warn!(
                socket = %self.socket.display(),
                "ledd is not reachable ({why}); answering 503 and retrying in the background"
            );
            self.warned = true;
        }
        self.next_attempt = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    async fn handle(&mut self, job: Job) {
        if job.reply.is_closed() {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            let wait = self.next_attempt.saturating_duration_since(Instant::now());
            // Retry-After is in whole seconds; never say 0.
            let retry_after = Duration::from_secs(wait.as_secs() + 1);
            let _ = job.reply.send(Err(LeddError::Unavailable { retry_after }));
            return;
        };
        let result = match timeout(self.request_timeout, exchange(conn, &job.request)).await {
            Ok(Ok(Response::Error(e))) => Err(LeddError::Refused(e)),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => {
                tracing::warn!("lost ledd during a request ({e}); reconnecting");
                self.lost();
                Err(LeddError::Unavailable {
                    retry_after: Duration::from_secs(1),
                })
            }
            Err(_) => {
                // The answer may still come and would then be taken for the
                // next request's: start a fresh connection instead.
                tracing::warn!(
                    "ledd did not answer within {:?}; reconnecting",
                    self.request_timeout
                );
                self.lost();
                Err(LeddError::Timeout)
            }
        };
        let _ = job.reply.send(result);
    }
}

/// Whether a readable idle connection means ledd is gone.
fn peer_gone(conn: &mut Conn) -> bool {
    match conn.stream.try_read(conn.reader.spare()) {
        Ok(0) => true,
        // Unasked bytes: ledd broke the protocol.
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Frame(#[from] tinsel_proto::FrameError),
    #[error("ledd closed the connection")]
    Closed,
    #[error("ledd refused the handshake: {0}")]
    Refused(ErrorReply),
    #[error("ledd speaks protocol version {theirs}, webd {ours}: install matching versions")]
    Version { ours: u16, theirs: u16 },
    #[error("ledd answered the handshake with something else")]
    Unexpected,
}

async fn handshake(socket: &std::path::Path) -> Result<(Conn, Welcome), LinkError> {
    let stream = UnixStream::connect(socket).await?;
    let mut conn = Conn {
        stream,
        reader: Box::new(FrameReader::new()),
    };
    let reply = exchange(
        &mut conn,
        &Request::Hello {
            version: tinsel_proto::VERSION,
        },
    )
    .await?;
    match reply {
        Response::Welcome(w) if w.version != tinsel_proto::VERSION => Err(LinkError::Version {
            ours: tinsel_proto::VERSION,
            theirs: w.version,
        }),
        Response::Welcome(w) => match w.role {
            Role::Hooks | Role::Admin => Ok((conn, w)),
        },
        Response::Error(e) => Err(LinkError::Refused(e)),
        _ => Err(LinkError::Unexpected),
    }
}

async fn exchange(conn: &mut Conn, request: &Request) -> Result<Response, LinkError> {
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = tinsel_proto::encode_into(request, &mut buf)?;
    conn.stream.write_all(&buf[..n]).await?;
    loop {
        if let Some(resp) = conn.reader.next_frame::<Response>()? {
            return Ok(resp);
        }
        conn.stream.readable().await?;
        match conn.stream.try_read(conn.reader.spare()) {
            Ok(0) => return Err(LinkError::Closed),
            Ok(n) => conn.reader.filled(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tinsel_proto::{AnimationSet, ErrorCode};
    use tokio::io::AsyncReadExt;
    use tokio::net::UnixListener;

    /// A fake ledd that answers Hello, then `Ok` to everything, except
    /// `Off`, which it never answers (to test the timeout).
    async fn fake_ledd(listener: UnixListener, served: Arc<AtomicUsize>) {
        // Connections die with the server task (a JoinSet aborts on drop).
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let served = served.clone();
            conns.spawn(async move {
                let mut reader = FrameReader::new();
                loop {
                    while let Ok(Some(req)) = reader.next_frame::<Request>() {
                        let resp = match req {
                            Request::Hello { version } => Response::Welcome(Welcome {
                                version,
                                role: Role::Hooks,
                                led_count: 10,
                                animations: AnimationSet::all(),
                            }),
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
                    match s.read(reader.spare()).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => reader.filled(n),
                    }
                }
            });
        }
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
}
