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
//! When ledd cannot be reached, the cause is logged once with its fix
//! ([`Unreachable`]: no socket, permission denied on it, no role for
//! webd's uid...), and again only when the cause changes. ledd closes a
//! connection that stays silent for a minute, so an idle link sends a
//! `Status` request every [`KEEPALIVE`]: a healthy, idle webd logs nothing.
//!
//! [`probe`] is the same connection and handshake, blocking, for
//! `webd --check-config`.
//!
//! The only outbound connection webd ever makes is `connect()` on this
//! socket path.
//!
//! This file is the link task and its handle; beside it, `cause.rs`
//! classifies why ledd cannot be reached and words the fix, `wire.rs` is
//! one request and its answer on the socket, and `probe.rs` the blocking
//! probe.

mod cause;
mod probe;
mod wire;

pub use cause::Unreachable;
pub use probe::probe;

use std::path::PathBuf;
use std::time::Duration;

use tinsel_proto::{ErrorReply, Request, Response};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout};

use wire::{Conn, exchange, handshake, peer_gone};

/// The first retry after a failed connect.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between connection attempts: ledd is local, an attempt
/// costs one failed `connect()`, and a restarted ledd should be found fast.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Requests waiting for the connection; more wait for room, each bounded by
/// its request timeout.
const QUEUE: usize = 32;
/// How long the link may stay silent before webd sends a `Status` request:
/// half of ledd's idle timeout (60 s, `IDLE_TIMEOUT` in ledd's server), so
/// ledd never closes a healthy connection for silence.
pub const KEEPALIVE: Duration = Duration::from_secs(30);

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
        LeddClient::spawn_with_keepalive(socket, request_timeout, KEEPALIVE)
    }

    /// [`LeddClient::spawn`] with another keepalive period (tests shorten
    /// it). It must be below ledd's idle timeout.
    pub fn spawn_with_keepalive(
        socket: PathBuf,
        request_timeout: Duration,
        keepalive: Duration,
    ) -> LeddClient {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(
            Link {
                socket,
                request_timeout,
                keepalive,
                conn: None,
                backoff: MIN_BACKOFF,
                next_attempt: Instant::now(),
                last_used: Instant::now(),
                cause: None,
                connected_once: false,
            }
            .run(rx),
        );
        LeddClient { jobs }
    }

    /// Sends `request` and waits for ledd's answer.
    pub async fn request(&self, request: Request) -> Result<Response, LeddError> {
        let (reply, rx) = oneshot::channel();
        // Wait for room rather than fail: at most max_connections requests
        // (one per HTTP/1.1 connection) are in flight, each bounded by its
        // request timeout, so a burst queues here instead of getting 503s.
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
    Keepalive,
}

struct Link {
    socket: PathBuf,
    request_timeout: Duration,
    /// Silence after which a `Status` request keeps the link alive.
    keepalive: Duration,
    conn: Option<Conn>,
    backoff: Duration,
    next_attempt: Instant,
    /// When the connection last carried a request.
    last_used: Instant,
    /// The cause last logged since the last connection, so a long absence
    /// logs once per distinct cause, not once per attempt.
    cause: Option<Unreachable>,
    /// Whether a connection was ever made (the first one is announced).
    connected_once: bool,
}

impl Link {
    async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        loop {
            let keepalive_at = self.last_used + self.keepalive;
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
                    () = sleep_until(keepalive_at) => Event::Keepalive,
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
                        // A restart of ledd, or its idle timeout: nothing
                        // to warn about unless reconnecting fails, which
                        // `connect` reports.
                        tracing::debug!("ledd closed the connection; reconnecting");
                        self.lost();
                    }
                }
                Event::Keepalive => self.keepalive().await,
            }
        }
    }

    /// A `Status` request on an idle link, so ledd's idle timeout never
    /// closes it. A failure drops the link quietly: the reconnect that
    /// follows warns if ledd is really gone.
    async fn keepalive(&mut self) {
        self.last_used = Instant::now();
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        match timeout(self.request_timeout, exchange(conn, &Request::Status)).await {
            Ok(Ok(Response::Error(e))) => {
                tracing::debug!("ledd keepalive: refused ({e}); reconnecting");
                self.lost();
            }
            Ok(Ok(_)) => tracing::debug!("ledd keepalive: ok"),
            Ok(Err(e)) => {
                tracing::debug!("ledd keepalive failed ({e}); reconnecting");
                self.lost();
            }
            Err(_) => {
                tracing::debug!("ledd keepalive: no answer in time; reconnecting");
                self.lost();
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
                // Quiet when the link merely came back (ledd's idle close, a
                // keepalive hiccup); said at the first connection and after
                // an outage that was logged.
                if self.cause.take().is_some() || !self.connected_once {
                    self.connected_once = true;
                    tracing::info!(
                        socket = %self.socket.display(),
                        leds = welcome.led_count,
                        role = welcome.role.name(),
                        "connected to ledd"
                    );
                } else {
                    tracing::debug!(
                        socket = %self.socket.display(),
                        leds = welcome.led_count,
                        role = welcome.role.name(),
                        "connected to ledd"
                    );
                }
                self.conn = Some(conn);
                self.backoff = MIN_BACKOFF;
                self.last_used = Instant::now();
            }
            Ok(Err(e)) => self.failed(Unreachable::from_link(e)),
            Err(_) => self.failed(Unreachable::Timeout(self.request_timeout)),
        }
    }

    fn failed(&mut self, cause: Unreachable) {
        if self.cause.as_ref() != Some(&cause) {
            tracing::warn!(
                "ledd is not reachable: {}; answering 503 and retrying in the background",
                cause.explain(&self.socket)
            );
            self.cause = Some(cause);
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
        self.last_used = Instant::now();
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

#[cfg(test)]
pub(crate) mod tests;
