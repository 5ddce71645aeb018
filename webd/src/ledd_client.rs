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

use std::path::{Path, PathBuf};
use std::time::Duration;

use tinsel_proto::handshake::{self, HandshakeError};
use tinsel_proto::{ErrorReply, FrameReader, MAX_WIRE_LEN, Request, Response, Welcome};
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
/// How long the link may stay silent before webd sends a `Status` request:
/// half of ledd's idle timeout (60 s, `IDLE_TIMEOUT` in ledd's server), so
/// ledd never closes a healthy connection for silence.
pub const KEEPALIVE: Duration = Duration::from_secs(30);

/// Why webd cannot use ledd: each cause says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// The socket path does not exist (`ENOENT`).
    NoSocket,
    /// `connect()` was refused by the file permissions (`EACCES`).
    PermissionDenied,
    /// The file exists but nothing listens on it (`ECONNREFUSED`).
    NotListening,
    /// ledd answered `Hello` with "no role for this uid".
    NoRole(String),
    /// ledd speaks another protocol version.
    Version {
        /// webd's.
        ours: u16,
        /// ledd's.
        theirs: u16,
    },
    /// ledd refused the handshake for another reason (busy, ...).
    Refused(ErrorReply),
    /// ledd did not finish the handshake in time.
    Timeout(Duration),
    /// ledd closed the connection during the handshake, or sent garbage.
    Protocol(String),
    /// Any other OS error.
    Os(String),
}

impl Unreachable {
    fn from_io(e: &std::io::Error) -> Unreachable {
        match e.kind() {
            std::io::ErrorKind::NotFound => Unreachable::NoSocket,
            std::io::ErrorKind::PermissionDenied => Unreachable::PermissionDenied,
            std::io::ErrorKind::ConnectionRefused => Unreachable::NotListening,
            _ => Unreachable::Os(e.to_string()),
        }
    }

    fn from_link(e: LinkError) -> Unreachable {
        match e {
            LinkError::Io(e) => Unreachable::from_io(&e),
            LinkError::Handshake(HandshakeError::NoRole(message)) => Unreachable::NoRole(message),
            LinkError::Handshake(HandshakeError::Refused(r)) => Unreachable::Refused(r),
            LinkError::Handshake(HandshakeError::Version { ours, theirs }) => {
                Unreachable::Version { ours, theirs }
            }
            e @ (LinkError::Frame(_)
            | LinkError::Closed
            | LinkError::Handshake(HandshakeError::Unexpected(_))) => {
                Unreachable::Protocol(e.to_string())
            }
        }
    }

    /// What is wrong and how to fix it, for `socket`, as the current
    /// process (its uid and gid are named).
    pub fn explain(&self, socket: &Path) -> String {
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        let sock = socket.display();
        match self {
            Unreachable::NoSocket => format!(
                "{sock} does not exist: start ledd (systemctl start ledd.socket), and check that webd's `ledd_socket` is ledd's `socket`"
            ),
            Unreachable::PermissionDenied => format!(
                "permission denied on {sock} for uid {uid} gid {gid}: in ledd's config set `socket_group` to webd's group (e.g. \"tinsel\") and `socket_mode = \"0660\"` (under systemd: SocketGroup= and SocketMode= in ledd.socket), and let that group search the socket's directory"
            ),
            Unreachable::NotListening => format!(
                "nothing listens on {sock} (a file left by a stopped ledd?): start or restart ledd"
            ),
            Unreachable::NoRole(msg) => format!(
                "ledd gives uid {uid} gid {gid} no role ({msg}): in ledd's config add webd's user to `[access] hooks_users` (or its group to `hooks_groups`), then reload ledd (systemctl reload ledd)"
            ),
            Unreachable::Version { ours, theirs } => format!(
                "ledd at {sock} speaks protocol version {theirs}, webd {ours}: install matching versions of ledd and webd"
            ),
            Unreachable::Refused(r) => format!("ledd at {sock} refused the handshake: {r}"),
            Unreachable::Timeout(t) => format!(
                "ledd at {sock} accepted but did not answer the handshake within {t:?}: see `journalctl -u ledd`"
            ),
            Unreachable::Protocol(what) => {
                format!("{sock}: {what}: is it ledd's socket? check `ledd_socket`")
            }
            Unreachable::Os(e) => format!("{sock}: {e}"),
        }
    }
}

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
    Keepalive,
}

struct Conn {
    stream: UnixStream,
    reader: Box<FrameReader>,
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

/// Whether a failed write means only that ledd has closed its side (after
/// sending a reply, perhaps).
fn peer_closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
    )
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
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
}

async fn handshake(socket: &std::path::Path) -> Result<(Conn, Welcome), LinkError> {
    let stream = UnixStream::connect(socket).await?;
    let mut conn = Conn {
        stream,
        reader: Box::new(FrameReader::new()),
    };
    let reply = exchange(&mut conn, &handshake::hello()).await?;
    Ok((conn, welcome(reply)?))
}

/// ledd's answer to `Hello`, checked.
fn welcome(reply: Response) -> Result<Welcome, LinkError> {
    Ok(handshake::check_welcome(reply, tinsel_proto::VERSION)?)
}

/// Connects to `socket` and says `Hello`, blocking, each step within
/// `limit`: what `webd --check-config` reports, run as webd's user. Needs
/// no runtime.
pub fn probe(socket: &Path, limit: Duration) -> Result<Welcome, Unreachable> {
    use std::io::{Read as _, Write as _};
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            Unreachable::Timeout(limit)
        }
        _ => Unreachable::from_io(&e),
    };
    let mut stream = std::os::unix::net::UnixStream::connect(socket).map_err(io)?;
    stream.set_read_timeout(Some(limit)).map_err(io)?;
    stream.set_write_timeout(Some(limit)).map_err(io)?;
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = tinsel_proto::encode_into(&handshake::hello(), &mut buf)
        .map_err(|e| Unreachable::from_link(e.into()))?;
    if let Err(e) = stream.write_all(&buf[..n]) {
        // As in `exchange`: a refusal may already be waiting.
        if !peer_closed(&e) {
            return Err(io(e));
        }
    }
    let mut reader = FrameReader::new();
    loop {
        if let Some(reply) = reader
            .next_frame::<Response>()
            .map_err(|e| Unreachable::from_link(e.into()))?
        {
            return welcome(reply).map_err(Unreachable::from_link);
        }
        match stream.read(reader.spare()) {
            Ok(0) => return Err(Unreachable::from_link(LinkError::Closed)),
            Ok(n) => reader.filled(n),
            Err(e) => return Err(io(e)),
        }
    }
}

async fn exchange(conn: &mut Conn, request: &Request) -> Result<Response, LinkError> {
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = tinsel_proto::encode_into(request, &mut buf)?;
    if let Err(e) = conn.stream.write_all(&buf[..n]).await {
        // ledd answers a peer it refuses (no role) before reading, then
        // closes: the write may fail, but the answer is there to read.
        if !peer_closed(&e) {
            return Err(e.into());
        }
    }
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
    use tinsel_proto::{AnimationSet, ErrorCode, Role};
    use tokio::io::AsyncReadExt;
    use tokio::net::UnixListener;

    /// A fake ledd that answers Hello, then `Ok` to everything, except
    /// `Off`, which it never answers (to test the timeout).
    async fn fake_ledd(listener: UnixListener, served: Arc<AtomicUsize>) {
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

    #[test]
    fn a_permission_denied_socket_names_the_socket_settings() {
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let cause = Unreachable::from_io(&e);
        assert_eq!(cause, Unreachable::PermissionDenied);
        let text = cause.explain(Path::new("/run/tinsel/ledd.sock"));
        assert!(text.contains("/run/tinsel/ledd.sock"), "{text}");
        assert!(
            text.contains("socket_group") && text.contains("socket_mode"),
            "{text}"
        );
    }

    #[test]
    fn the_blocking_probe_reports_the_role_or_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledd.sock");
        let limit = Duration::from_secs(2);
        assert_eq!(probe(&path, limit), Err(Unreachable::NoSocket));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _serving = rt.enter();
        let listener = UnixListener::bind(&path).unwrap();
        let server = rt.spawn(fake_ledd(listener, Arc::default()));
        let thread = std::thread::spawn({
            let path = path.clone();
            move || probe(&path, limit)
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
