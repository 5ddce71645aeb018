//! The async connection to ledd that a daemon's loop owns.
//!
//! Requests go one at a time (the protocol answers in order), each within
//! [`Timing::request`]. The link connects lazily and says `Hello`; when
//! ledd goes away (a restart, not started yet) a request fails at once
//! with [`LeddError::Unavailable`] and a retry time, and the link tries
//! again with a capped exponential backoff. Why it cannot connect is
//! logged once per distinct [`Cause`], with the fix, and again only when
//! the cause changes.
//!
//! ledd closes a connection that stays silent for a minute, so an idle
//! link sends `Status` every [`Timing::keepalive`]. ledd sends nothing
//! unasked but the states of a subscription, so a readable idle connection
//! carries pushed states (a link made [`Link::subscribing`]) or means ledd
//! hung up.
//!
//! A subscribing link says `Subscribe` on every connection it makes, right
//! after `Hello`, and keeps the `State`s ledd pushes (the first is the
//! status at once, then one per change) for its owner to take with
//! [`Link::take_pushed`]; [`Link::due`] returns [`Due::Pushed`] while any
//! wait. States that arrive while a request waits for its answer are kept
//! the same way: an answer is never a `State`. Both happen
//! when the daemon's loop waits on [`Link::due`] and then calls
//! [`Link::run`]: the wait is cancel-safe (it goes in a `select!` beside
//! the daemon's other events), the work is not (a keepalive half-sent
//! would leave its answer to the next request), so it runs outside.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tinsel_proto::handshake;
use tinsel_proto::{FrameReader, MAX_WIRE_LEN, Request, Response, Status, Welcome};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::time::{Instant, sleep_until, timeout};

use crate::wire::{encode, peer_closed};
use crate::{Cause, LeddError, Peer};

/// How long a link waits for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long ledd may take to answer one request, or the handshake.
    pub request: Duration,
    /// How long the link may stay silent before it sends `Status`.
    pub keepalive: Duration,
    /// The first retry after a failed connect; doubled after each failure.
    pub min_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
}

impl Timing {
    /// ledd answers from memory within microseconds; two seconds is a
    /// stuck ledd, not a slow one.
    pub const REQUEST: Duration = Duration::from_secs(2);
    /// Half of ledd's idle timeout (60 s, `IDLE_TIMEOUT` in ledd's
    /// server), so ledd never closes a healthy connection for silence.
    pub const KEEPALIVE: Duration = Duration::from_secs(30);
    /// A retry soon after a hiccup.
    pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
    /// ledd is local and a failed `connect()` costs nothing: a restarted
    /// ledd is found within two seconds.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            request: Timing::REQUEST,
            keepalive: Timing::KEEPALIVE,
            min_backoff: Timing::MIN_BACKOFF,
            max_backoff: Timing::MAX_BACKOFF,
        }
    }
}

/// What a link has to do by itself ([`Link::due`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// No connection, and the next attempt is due.
    Connect,
    /// The idle connection needs a keepalive.
    Keepalive,
    /// The idle connection became readable: pushed states, or ledd hung up
    /// (or broke the protocol by speaking unasked).
    Readable,
    /// Pushed states wait for [`Link::take_pushed`].
    Pushed,
}

/// Pushed states a link keeps for its owner; past this the oldest go (each
/// state is whole: the newest says what plays now).
pub const PUSHED_KEEP: usize = 16;

/// An open, greeted connection.
#[derive(Debug)]
struct Conn {
    stream: UnixStream,
    reader: Box<FrameReader>,
}

/// The connection to ledd, or the plan to make one.
#[derive(Debug)]
pub struct Link {
    socket: PathBuf,
    peer: Peer,
    timing: Timing,
    conn: Option<Conn>,
    backoff: Duration,
    next_attempt: Instant,
    /// When the connection last carried a request.
    last_used: Instant,
    /// The cause logged since the last connection, so an outage logs once
    /// per distinct cause, not once per attempt.
    cause: Option<Cause>,
    /// ledd's last Welcome.
    welcome: Option<Welcome>,
    /// Set by each new connection; [`Link::take_fresh`] clears it.
    fresh: bool,
    /// Whether each connection subscribes to ledd's states.
    subscribe: bool,
    /// States ledd pushed, oldest first, at most [`PUSHED_KEEP`].
    pushed: VecDeque<Status>,
}

impl Link {
    /// A link to ledd's `socket` for `peer`, not yet connected; the first
    /// attempt is due now.
    pub fn new(socket: PathBuf, peer: Peer) -> Link {
        Link::with_timing(socket, peer, Timing::default())
    }

    /// [`Link::new`] with other timing (webd's configured request timeout;
    /// tests shorten the keepalive). The keepalive must stay below ledd's
    /// idle timeout.
    pub fn with_timing(socket: PathBuf, peer: Peer, timing: Timing) -> Link {
        Link {
            socket,
            peer,
            timing,
            conn: None,
            backoff: timing.min_backoff,
            next_attempt: Instant::now(),
            last_used: Instant::now(),
            cause: None,
            welcome: None,
            fresh: false,
            subscribe: false,
            pushed: VecDeque::new(),
        }
    }

    /// This link, subscribing on every connection it makes (again after
    /// each reconnect): ledd then pushes its state at once and after each
    /// change, and the owner takes them with [`Link::take_pushed`].
    pub fn subscribing(mut self) -> Link {
        self.subscribe = true;
        self
    }

    /// The oldest pushed state not yet taken.
    pub fn take_pushed(&mut self) -> Option<Status> {
        self.pushed.pop_front()
    }

    /// Whether a greeted connection is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// ledd's last Welcome (its LED count and animations).
    pub fn welcome(&self) -> Option<&Welcome> {
        self.welcome.as_ref()
    }

    /// True once after each new connection: ledd may have restarted, and a
    /// daemon that keeps state in ledd puts it back.
    pub fn take_fresh(&mut self) -> bool {
        std::mem::take(&mut self.fresh)
    }

    /// When the next connection attempt is due (`None` while connected).
    pub fn next_attempt(&self) -> Option<Instant> {
        self.conn.is_none().then_some(self.next_attempt)
    }

    /// Waits until the link has something to do by itself; cancel-safe.
    /// Hand the answer to [`Link::run`].
    pub async fn due(&mut self) -> Due {
        if !self.pushed.is_empty() {
            return Due::Pushed;
        }
        let keepalive_at = self.last_used + self.timing.keepalive;
        match self.conn.as_mut() {
            None => {
                sleep_until(self.next_attempt).await;
                Due::Connect
            }
            Some(conn) => tokio::select! {
                _ = conn.stream.readable() => Due::Readable,
                () = sleep_until(keepalive_at) => Due::Keepalive,
            },
        }
    }

    /// Does what [`Link::due`] found due. Returns true when it made a new
    /// connection (as [`Link::connect_if_due`]).
    pub async fn run(&mut self, due: Due) -> bool {
        match due {
            Due::Connect => return self.connect_if_due().await,
            Due::Keepalive => self.keepalive().await,
            Due::Readable => {
                let subscribed = self.subscribe.then_some(&mut self.pushed);
                if let Some(conn) = self.conn.as_mut()
                    && let Err(why) = read_pushed(conn, subscribed)
                {
                    // A restart of ledd, or its idle timeout: nothing to
                    // warn about unless reconnecting fails, which
                    // `connect_if_due` reports.
                    tracing::debug!("{why}; reconnecting");
                    self.lost();
                }
            }
            Due::Pushed => {}
        }
        false
    }

    /// Connects if there is no connection and an attempt is due. Returns
    /// true when a new connection was made.
    pub async fn connect_if_due(&mut self) -> bool {
        if self.conn.is_some() || Instant::now() < self.next_attempt {
            return false;
        }
        let subscribe = self.subscribe.then_some(&mut self.pushed);
        match timeout(self.timing.request, greet(&self.socket, subscribe)).await {
            Ok(Ok((conn, welcome))) => {
                self.connected(conn, welcome);
                true
            }
            Ok(Err(cause)) => {
                self.failed(cause);
                false
            }
            Err(_) => {
                self.failed(Cause::Timeout(self.timing.request));
                false
            }
        }
    }

    /// Sends `request` and waits for ledd's answer, connecting first if
    /// there is no connection and an attempt is due.
    pub async fn request(&mut self, request: &Request) -> Result<Response, LeddError> {
        self.connect_if_due().await;
        let Some(conn) = self.conn.as_mut() else {
            let wait = self.next_attempt.saturating_duration_since(Instant::now());
            // In whole seconds, as Retry-After is; never 0.
            let retry_after = Duration::from_secs(wait.as_secs() + 1);
            return Err(LeddError::Unavailable { retry_after });
        };
        self.last_used = Instant::now();
        let pushed = self.subscribe.then_some(&mut self.pushed);
        match timeout(self.timing.request, exchange(conn, request, pushed)).await {
            Ok(Ok(Response::Error(e))) => Err(LeddError::Refused(e)),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => {
                tracing::warn!("lost ledd during a request ({e}); reconnecting");
                self.lost();
                Err(e)
            }
            Err(_) => {
                // The answer may still come and would then be taken for
                // the next request's: start a fresh connection instead.
                tracing::warn!(
                    "ledd did not answer within {:?}; reconnecting",
                    self.timing.request
                );
                self.lost();
                Err(LeddError::Timeout)
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
        let pushed = self.subscribe.then_some(&mut self.pushed);
        match timeout(
            self.timing.request,
            exchange(conn, &Request::Status, pushed),
        )
        .await
        {
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

    fn connected(&mut self, conn: Conn, welcome: Welcome) {
        // Said at the first connection and after an outage that was
        // logged; quiet when the link merely came back (ledd's idle close,
        // a keepalive hiccup).
        let announce = self.cause.take().is_some() || self.welcome.is_none();
        let (socket, leds, role) = (self.socket.display(), welcome.led_count, welcome.role);
        if announce {
            tracing::info!(socket = %socket, leds, role = role.name(), "connected to ledd");
        } else {
            tracing::debug!(socket = %socket, leds, role = role.name(), "connected to ledd");
        }
        self.conn = Some(conn);
        self.welcome = Some(welcome);
        self.fresh = true;
        self.backoff = self.timing.min_backoff;
        self.last_used = Instant::now();
    }

    /// Drops the connection and plans a prompt reconnect.
    fn lost(&mut self) {
        self.conn = None;
        self.backoff = self.timing.min_backoff;
        self.next_attempt = Instant::now() + self.timing.min_backoff;
    }

    fn failed(&mut self, cause: Cause) {
        if self.cause.as_ref() != Some(&cause) {
            tracing::warn!(
                "ledd is not reachable: {}; retrying in the background",
                cause.explain(&self.socket, self.peer)
            );
            self.cause = Some(cause);
        }
        self.next_attempt = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(self.timing.max_backoff);
    }
}

/// Connects to `socket`, says `Hello` and, with `subscribe` (where pushed
/// states go), `Subscribe`.
async fn greet(
    socket: &Path,
    subscribe: Option<&mut VecDeque<Status>>,
) -> Result<(Conn, Welcome), Cause> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| Cause::from_io(&e))?;
    let mut conn = Conn {
        stream,
        reader: Box::new(FrameReader::new()),
    };
    let cause = |e: LeddError| match e {
        LeddError::Lost(what) | LeddError::Protocol(what) => Cause::Protocol(what),
        other => Cause::Protocol(other.to_string()),
    };
    let reply = exchange(&mut conn, &handshake::hello(), None)
        .await
        .map_err(cause)?;
    let welcome =
        handshake::check_welcome(reply, tinsel_proto::VERSION).map_err(Cause::from_handshake)?;
    if let Some(pushed) = subscribe {
        match exchange(&mut conn, &Request::Subscribe, Some(pushed)).await {
            Ok(Response::Ok) => {}
            Ok(other) => {
                return Err(Cause::Protocol(format!(
                    "ledd answered Subscribe with {other:?}"
                )));
            }
            Err(e) => return Err(cause(e)),
        }
    }
    Ok((conn, welcome))
}

/// Keeps `status` as the newest pushed state, dropping the oldest past
/// [`PUSHED_KEEP`].
fn keep(pushed: &mut VecDeque<Status>, status: Status) {
    if pushed.len() >= PUSHED_KEEP {
        pushed.pop_front();
    }
    pushed.push_back(status);
}

/// Sends `request` and reads the next frame that is not a pushed state;
/// with `pushed`, states met on the way are kept there (without, a state
/// is returned like any frame).
async fn exchange(
    conn: &mut Conn,
    request: &Request,
    mut pushed: Option<&mut VecDeque<Status>>,
) -> Result<Response, LeddError> {
    let mut buf = [0u8; MAX_WIRE_LEN];
    let bytes = encode(request, &mut buf)?;
    if let Err(e) = conn.stream.write_all(bytes).await
        && !peer_closed(&e)
    {
        return Err(LeddError::Lost(e.to_string()));
    }
    loop {
        match conn
            .reader
            .next_frame::<Response>()
            .map_err(|e| LeddError::Protocol(e.to_string()))?
        {
            Some(Response::State(status)) if pushed.is_some() => {
                if let Some(p) = pushed.as_deref_mut() {
                    keep(p, status);
                }
                continue;
            }
            Some(resp) => {
                // States read with the answer would wait in the reader,
                // unseen by `due`: keep them now.
                if let Some(p) = pushed {
                    drain_states(conn, p)?;
                }
                return Ok(resp);
            }
            None => {}
        }
        conn.stream
            .readable()
            .await
            .map_err(|e| LeddError::Lost(e.to_string()))?;
        match conn.stream.try_read(conn.reader.spare()) {
            Ok(0) => return Err(LeddError::Lost("ledd closed the connection".into())),
            Ok(n) => conn.reader.filled(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(LeddError::Lost(e.to_string())),
        }
    }
}

/// Keeps the states already read into `conn`'s reader; any other frame
/// there was sent unasked.
fn drain_states(conn: &mut Conn, pushed: &mut VecDeque<Status>) -> Result<(), LeddError> {
    loop {
        match conn.reader.next_frame::<Response>() {
            Ok(None) => return Ok(()),
            Ok(Some(Response::State(status))) => keep(pushed, status),
            Ok(Some(other)) => {
                return Err(LeddError::Protocol(format!("ledd sent {other:?} unasked")));
            }
            Err(e) => return Err(LeddError::Protocol(e.to_string())),
        }
    }
}

/// Reads what a readable idle connection holds: states pushed to a
/// subscriber (kept in `pushed`) are fine; end of stream, an error, or any
/// other frame nobody asked for means ledd is gone, and says why.
fn read_pushed(conn: &mut Conn, mut pushed: Option<&mut VecDeque<Status>>) -> Result<(), String> {
    match conn.stream.try_read(conn.reader.spare()) {
        Ok(0) => return Err("ledd closed the connection".into()),
        Ok(n) => conn.reader.filled(n),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
        Err(e) => return Err(format!("the connection to ledd failed: {e}")),
    }
    loop {
        match conn.reader.next_frame::<Response>() {
            Ok(None) => return Ok(()),
            Ok(Some(Response::State(status))) if pushed.is_some() => {
                if let Some(p) = pushed.as_deref_mut() {
                    keep(p, status);
                }
            }
            Ok(Some(other)) => return Err(format!("ledd sent {other:?} unasked")),
            Err(e) => return Err(format!("ledd sent an undecodable frame: {e}")),
        }
    }
}

#[cfg(test)]
mod tests;
