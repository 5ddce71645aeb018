//! The one connection to ledd, owned by the daemon's loop: requests go one
//! at a time (the protocol answers in order), each within a timeout. When
//! ledd is away (restarting, not started yet), requests fail at once and
//! the link tries again with a capped exponential backoff; why it cannot
//! connect is logged once per distinct cause, with the fix.
//!
//! The link polls `Status` every `limits.status_interval`, so it is never
//! idle long enough for ledd's idle timeout.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tinsel_proto::handshake::{self, HandshakeError};
use tinsel_proto::{FrameReader, MAX_WIRE_LEN, Request, Response, Welcome};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::time::{Instant, timeout};

/// The first retry after a failed connect.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between attempts: ledd is local and a restarted ledd
/// should be found fast.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long one request (or the handshake) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Why ledd cannot be used; each cause says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The socket does not exist.
    NoSocket,
    /// The socket's permissions refuse mqttd's user.
    PermissionDenied,
    /// Nothing listens on the socket.
    NotListening,
    /// ledd gives mqttd's user no role.
    NoRole(String),
    /// Anything else (version, busy, timeout, protocol).
    Other(String),
}

impl Cause {
    fn from_io(e: &io::Error) -> Cause {
        match e.kind() {
            io::ErrorKind::NotFound => Cause::NoSocket,
            io::ErrorKind::PermissionDenied => Cause::PermissionDenied,
            io::ErrorKind::ConnectionRefused => Cause::NotListening,
            _ => Cause::Other(e.to_string()),
        }
    }

    fn from_handshake(e: HandshakeError) -> Cause {
        match e {
            HandshakeError::NoRole(m) => Cause::NoRole(m),
            other => Cause::Other(other.to_string()),
        }
    }

    /// What is wrong with `socket` and how to fix it.
    pub fn explain(&self, socket: &Path) -> String {
        let uid = rustix::process::getuid().as_raw();
        let sock = socket.display();
        match self {
            Cause::NoSocket => format!(
                "{sock} does not exist: start ledd (systemctl start ledd.socket) and check that `ledd_socket` is ledd's socket"
            ),
            Cause::PermissionDenied => format!(
                "permission denied on {sock} for uid {uid}: give mqttd's user ledd's socket group (tinsel)"
            ),
            Cause::NotListening => {
                format!("nothing listens on {sock}: start or restart ledd")
            }
            Cause::NoRole(m) => format!(
                "ledd gives uid {uid} no role ({m}): add mqttd's user (tinsel-mqtt) to `[access] hooks_users` in ledd's config, then reload ledd"
            ),
            Cause::Other(m) => format!("{sock}: {m}"),
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeddError {
    /// Not connected; the link retries by itself.
    #[error("ledd is not reachable")]
    Unavailable,
    /// The link broke or ledd did not answer in time.
    #[error("ledd did not answer: {0}")]
    Lost(String),
    /// ledd refused the request.
    #[error("ledd refused: {0}")]
    Refused(tinsel_proto::ErrorReply),
}

/// An open, greeted connection.
#[derive(Debug)]
struct Conn {
    stream: UnixStream,
    reader: Box<FrameReader>,
}

/// The link to ledd.
#[derive(Debug)]
pub struct Ledd {
    socket: PathBuf,
    conn: Option<Conn>,
    backoff: Duration,
    next_attempt: Instant,
    cause: Option<Cause>,
    /// The last Welcome: ledd's animations.
    welcome: Option<Welcome>,
    /// Set when a new connection was made; the daemon clears it.
    fresh: bool,
}

impl Ledd {
    /// A link to `socket`; it connects at the first request.
    pub fn new(socket: PathBuf) -> Ledd {
        Ledd {
            socket,
            conn: None,
            backoff: MIN_BACKOFF,
            next_attempt: Instant::now(),
            cause: None,
            welcome: None,
            fresh: false,
        }
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// ledd's last Welcome.
    pub fn welcome(&self) -> Option<&Welcome> {
        self.welcome.as_ref()
    }

    /// True once after each new connection.
    pub fn take_fresh(&mut self) -> bool {
        std::mem::take(&mut self.fresh)
    }

    /// Sends `request` and waits for the answer, connecting first if the
    /// backoff allows.
    pub async fn request(&mut self, request: &Request) -> Result<Response, LeddError> {
        if self.conn.is_none() {
            if Instant::now() < self.next_attempt {
                return Err(LeddError::Unavailable);
            }
            self.connect().await;
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(LeddError::Unavailable);
        };
        match timeout(REQUEST_TIMEOUT, exchange(conn, request)).await {
            Ok(Ok(Response::Error(e))) => Err(LeddError::Refused(e)),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => {
                self.lost();
                Err(LeddError::Lost(e.to_string()))
            }
            Err(_) => {
                self.lost();
                Err(LeddError::Lost(format!(
                    "no answer within {REQUEST_TIMEOUT:?}"
                )))
            }
        }
    }

    fn lost(&mut self) {
        tracing::debug!("ledd link lost; reconnecting");
        self.conn = None;
        self.backoff = MIN_BACKOFF;
        self.next_attempt = Instant::now() + MIN_BACKOFF;
    }

    async fn connect(&mut self) {
        let result = match timeout(REQUEST_TIMEOUT, handshake(&self.socket)).await {
            Ok(r) => r,
            Err(_) => Err(Cause::Other(format!(
                "ledd accepted but did not answer the handshake within {REQUEST_TIMEOUT:?}: see journalctl -u ledd"
            ))),
        };
        match result {
            Ok((conn, welcome)) => {
                if welcome.role != tinsel_proto::Role::Hooks {
                    tracing::warn!(
                        role = welcome.role.name(),
                        "ledd gives mqttd more than the hooks role: mqttd needs only hooks; list its user under `[access] hooks_users`, not as an admin"
                    );
                }
                if self.cause.take().is_some() || self.welcome.is_none() {
                    tracing::info!(
                        socket = %self.socket.display(),
                        leds = welcome.led_count,
                        role = welcome.role.name(),
                        "connected to ledd"
                    );
                }
                self.conn = Some(conn);
                self.welcome = Some(welcome);
                self.fresh = true;
                self.backoff = MIN_BACKOFF;
            }
            Err(cause) => {
                if self.cause.as_ref() != Some(&cause) {
                    tracing::warn!(
                        "ledd is not reachable: {}; retrying in the background",
                        cause.explain(&self.socket)
                    );
                    self.cause = Some(cause);
                }
                self.next_attempt = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Connects and says `Hello`, blocking: `mqttd --check-config`'s probe. The
/// cause when it fails.
pub fn connect_blocking(socket: &Path) -> Result<(std::os::unix::net::UnixStream, Welcome), Cause> {
    use std::io::{Read as _, Write as _};
    let io = |e: io::Error| Cause::from_io(&e);
    let mut stream = std::os::unix::net::UnixStream::connect(socket).map_err(io)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT)).map_err(io)?;
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = tinsel_proto::encode_into(&handshake::hello(), &mut buf)
        .map_err(|e| Cause::Other(e.to_string()))?;
    // A refusal may be waiting even if the write fails (ledd answers, then
    // closes).
    let _ = stream.write_all(&buf[..n]);
    let mut reader = FrameReader::new();
    loop {
        if let Some(reply) = reader
            .next_frame::<Response>()
            .map_err(|e| Cause::Other(e.to_string()))?
        {
            let welcome = handshake::check_welcome(reply, tinsel_proto::VERSION)
                .map_err(Cause::from_handshake)?;
            stream.set_read_timeout(None).map_err(io)?;
            return Ok((stream, welcome));
        }
        match stream.read(reader.spare()) {
            Ok(0) => return Err(Cause::Other("ledd closed the connection".into())),
            Ok(n) => reader.filled(n),
            Err(e) => return Err(io(e)),
        }
    }
}

async fn handshake(socket: &Path) -> Result<(Conn, Welcome), Cause> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| Cause::from_io(&e))?;
    let mut conn = Conn {
        stream,
        reader: Box::new(FrameReader::new()),
    };
    let reply = exchange(&mut conn, &handshake::hello())
        .await
        .map_err(|e| Cause::Other(e.to_string()))?;
    let welcome =
        handshake::check_welcome(reply, tinsel_proto::VERSION).map_err(Cause::from_handshake)?;
    Ok((conn, welcome))
}

async fn exchange(conn: &mut Conn, request: &Request) -> io::Result<Response> {
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = tinsel_proto::encode_into(request, &mut buf).map_err(io::Error::other)?;
    if let Err(e) = conn.stream.write_all(&buf[..n]).await
        && !matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        )
    {
        return Err(e);
    }
    loop {
        if let Some(resp) = conn
            .reader
            .next_frame::<Response>()
            .map_err(io::Error::other)?
        {
            return Ok(resp);
        }
        conn.stream.readable().await?;
        match conn.stream.try_read(conn.reader.spare()) {
            Ok(0) => return Err(io::Error::other("ledd closed the connection")),
            Ok(n) => conn.reader.filled(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinsel_proto::{AnimationSet, Role};
    use tokio::io::AsyncReadExt;
    use tokio::net::UnixListener;

    /// A fake ledd: welcomes as hooks, answers `Ok` to everything. Its
    /// connections end with it (a JoinSet aborts them on drop).
    async fn fake_ledd(listener: UnixListener) {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            conns.spawn(async move {
                let mut reader = FrameReader::new();
                loop {
                    while let Ok(Some(req)) = reader.next_frame::<Request>() {
                        let resp = match req {
                            Request::Hello { version } => Response::Welcome(Welcome {
                                version,
                                role: Role::Hooks,
                                led_count: 5,
                                animations: AnimationSet::all(),
                            }),
                            _ => Response::Ok,
                        };
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

    #[tokio::test]
    async fn away_fails_fast_then_the_link_comes_back_by_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledd.sock");
        let mut ledd = Ledd::new(path.clone());
        // No socket: the first attempt fails with the cause, the next
        // request within the backoff fails at once.
        let err = ledd.request(&Request::Status).await.unwrap_err();
        assert_eq!(err, LeddError::Unavailable);
        assert_eq!(ledd.cause, Some(Cause::NoSocket));
        assert!(
            Cause::NoSocket.explain(&path).contains("start ledd"),
            "the cause says the fix"
        );
        let server = tokio::spawn(fake_ledd(UnixListener::bind(&path).unwrap()));
        tokio::time::sleep(MAX_BACKOFF).await;
        assert_eq!(ledd.request(&Request::Status).await, Ok(Response::Ok));
        assert!(ledd.take_fresh() && !ledd.take_fresh(), "fresh once");
        assert_eq!(ledd.welcome().map(|w| w.role), Some(Role::Hooks));
        // ledd goes away: the link notices at the next request.
        server.abort();
        let _ = server.await;
        std::fs::remove_file(&path).unwrap();
        let mut failed = false;
        for _ in 0..3 {
            if ledd.request(&Request::Status).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "a request to a vanished ledd fails");
    }
}
