//! The one connection to ledd: connect, say `Hello` (checked with
//! `tinsel_proto::handshake::check_welcome`, as ledctl and webd do), send
//! a request and read its answer, notice when ledd hangs up (a restart),
//! and reconnect with exponential backoff. ledd closes a connection that
//! stays silent for a minute, so an idle link sends `Status` every
//! [`KEEPALIVE`].
//!
//! The daemon's loop owns the [`Link`] and drives it: this module never
//! spawns a task. The only outbound connection schedd ever makes is
//! `connect()` on ledd's socket path.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tinsel_proto::handshake::{self, HandshakeError};
use tinsel_proto::{ErrorReply, FrameReader, MAX_WIRE_LEN, Request, Response, Welcome};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::time::{Instant, timeout};

/// The first retry after a failed connect.
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between attempts: ledd is local and a failed
/// `connect()` costs nothing, and a restarted ledd should get its state
/// back within seconds.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long the link may stay silent: half of ledd's idle timeout (60 s).
pub const KEEPALIVE: Duration = Duration::from_secs(30);
/// How long ledd may take to answer one request or the handshake.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request did not get done.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// ledd answered with an error (a bad parameter, no role...).
    #[error("ledd refused: {0}")]
    Refused(ErrorReply),
    /// There is no connection, or it broke; the link reconnects by itself.
    #[error("ledd is not connected")]
    NotConnected,
}

/// Why a connection or a request failed.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Frame(#[from] tinsel_proto::FrameError),
    #[error("ledd closed the connection")]
    Closed,
    #[error("{0}")]
    Handshake(#[from] HandshakeError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

struct Conn {
    stream: UnixStream,
    reader: Box<FrameReader>,
}

/// The connection to ledd, or the plan to make one.
pub struct Link {
    socket: PathBuf,
    conn: Option<Conn>,
    backoff: Duration,
    next_attempt: Instant,
    last_used: Instant,
    /// The failure last logged, so an outage logs once per cause.
    logged: Option<String>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("socket", &self.socket)
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

impl Link {
    /// A link to `socket`, not yet connected; the first attempt is due now.
    pub fn new(socket: PathBuf) -> Link {
        Link {
            socket,
            conn: None,
            backoff: MIN_BACKOFF,
            next_attempt: Instant::now(),
            last_used: Instant::now(),
            logged: None,
        }
    }

    /// Whether a greeted connection is open.
    pub fn connected(&self) -> bool {
        self.conn.is_some()
    }

    /// When to try connecting again (`None` while connected).
    pub fn next_attempt(&self) -> Option<Instant> {
        self.conn.is_none().then_some(self.next_attempt)
    }

    /// When the idle link needs a keepalive (`None` while disconnected).
    pub fn keepalive_at(&self) -> Option<Instant> {
        self.conn.as_ref().map(|_| self.last_used + KEEPALIVE)
    }

    /// Connects if there is no connection and an attempt is due. Returns
    /// true when a new connection was made: ledd may have restarted, so
    /// the caller puts the scheduled state back.
    pub async fn ensure(&mut self) -> bool {
        if self.conn.is_some() || Instant::now() < self.next_attempt {
            return false;
        }
        match timeout(REQUEST_TIMEOUT, connect(&self.socket)).await {
            Ok(Ok((conn, welcome))) => {
                tracing::info!(
                    socket = %self.socket.display(),
                    role = welcome.role.name(),
                    leds = welcome.led_count,
                    "connected to ledd"
                );
                self.conn = Some(conn);
                self.backoff = MIN_BACKOFF;
                self.last_used = Instant::now();
                self.logged = None;
                true
            }
            Ok(Err(e)) => {
                self.failed(&e);
                false
            }
            Err(_) => {
                self.failed(&LinkError::Timeout(REQUEST_TIMEOUT));
                false
            }
        }
    }

    /// Sends `request` and waits for ledd's answer.
    pub async fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(SendError::NotConnected);
        };
        self.last_used = Instant::now();
        match timeout(REQUEST_TIMEOUT, exchange(conn, request)).await {
            Ok(Ok(Response::Error(e))) => Err(SendError::Refused(e)),
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                tracing::warn!("lost ledd during a request ({e}); reconnecting");
                self.lost();
                Err(SendError::NotConnected)
            }
            Err(_) => {
                // A late answer would be taken for the next request's.
                tracing::warn!("ledd did not answer within {REQUEST_TIMEOUT:?}; reconnecting");
                self.lost();
                Err(SendError::NotConnected)
            }
        }
    }

    /// A `Status` request on the idle link, so ledd's idle timeout never
    /// closes it.
    pub async fn keepalive(&mut self) {
        match self.send(&Request::Status).await {
            Ok(_) => tracing::debug!("ledd keepalive: ok"),
            Err(SendError::Refused(e)) => {
                tracing::debug!("ledd keepalive refused ({e}); reconnecting");
                self.lost();
            }
            Err(SendError::NotConnected) => {}
        }
    }

    /// Resolves when ledd hangs up (or breaks the protocol by speaking
    /// unasked); never while there is no connection. The connection is
    /// dropped and a prompt reconnect planned.
    pub async fn hangup(&mut self) {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return std::future::pending().await;
            };
            if conn.stream.readable().await.is_err() || peer_gone(conn) {
                tracing::info!("ledd closed the connection (restarted?); reconnecting");
                self.lost();
                return;
            }
        }
    }

    fn lost(&mut self) {
        self.conn = None;
        self.backoff = MIN_BACKOFF;
        self.next_attempt = Instant::now() + MIN_BACKOFF;
    }

    fn failed(&mut self, e: &LinkError) {
        let cause = explain(e, &self.socket);
        if self.logged.as_deref() != Some(cause.as_str()) {
            tracing::warn!("ledd is not reachable: {cause}; retrying in the background");
            self.logged = Some(cause);
        }
        self.next_attempt = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

/// What is wrong and what to do about it.
fn explain(e: &LinkError, socket: &Path) -> String {
    let sock = socket.display();
    match e {
        LinkError::Io(e) if e.kind() == io::ErrorKind::NotFound => format!(
            "{sock} does not exist: start ledd (systemctl start ledd.socket), and check that `ledd_socket` is ledd's `socket`"
        ),
        LinkError::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => format!(
            "permission denied on {sock}: schedd's group must be ledd's socket group (tinsel), which must be able to search the socket's directory"
        ),
        LinkError::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            format!("nothing listens on {sock}: start ledd (systemctl start ledd.socket)")
        }
        LinkError::Handshake(HandshakeError::NoRole(m)) => format!(
            "ledd gives schedd no role ({m}): add its user to ledd's [access] hooks_users (e.g. \"tinsel-sched\"), then reload ledd"
        ),
        other => format!("{sock}: {other}"),
    }
}

async fn connect(socket: &Path) -> Result<(Conn, Welcome), LinkError> {
    let stream = UnixStream::connect(socket).await?;
    let mut conn = Conn {
        stream,
        reader: Box::new(FrameReader::new()),
    };
    let reply = exchange(&mut conn, &handshake::hello()).await?;
    let welcome = handshake::check_welcome(reply, tinsel_proto::VERSION)?;
    Ok((conn, welcome))
}

async fn exchange(conn: &mut Conn, request: &Request) -> Result<Response, LinkError> {
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = tinsel_proto::encode_into(request, &mut buf)?;
    if let Err(e) = conn.stream.write_all(&buf[..n]).await {
        // ledd answers a peer it refuses before reading, then closes: the
        // write may fail while the answer waits to be read.
        if !matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ) {
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
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether a readable idle connection means ledd is gone: end of stream,
/// an error, or bytes nobody asked for.
fn peer_gone(conn: &mut Conn) -> bool {
    !matches!(
        conn.stream.try_read(conn.reader.spare()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock
    )
}
