//! The Unix socket server: creates (or inherits from systemd) the socket,
//! maps each peer's credentials to a role, and turns requests into engine
//! commands.
//!
//! Every byte from a peer is hostile. Frames are read with
//! [`tinsel_proto::FrameReader`] (one fixed buffer per connection, never
//! more), connections are capped by a semaphore, each connection has an
//! error budget, an idle timeout and a partial-frame timeout, and the peer
//! credentials are checked before a single byte is read. Nothing here can
//! block the frame loop: commands are queued with `try_send`, and pixels are
//! copied out of a mutex the loop only `try_lock`s.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tinsel_proto::{
    AnimationSet, ErrorCode, ErrorReply, FrameChunk, FrameError, FrameReader, MAX_CHUNK_PIXELS,
    MAX_WIRE_LEN, Pixels, Request, Response, Rgb, Role, VERSION, Welcome, encode_into,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, oneshot, watch};
use tracing::{debug, info, warn};

use crate::config::Access;
use crate::engine::{self, Command, Published};

/// The most connections served at once; more are answered "busy" and
/// closed.
pub const MAX_CONNECTIONS: usize = 64;
/// Errors a connection may make before it is closed.
pub const ERROR_BUDGET: u32 = 8;
/// How long a connection may take to say Hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection may stay silent between requests.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a frame may take to arrive once its first byte has.
pub const PARTIAL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a write to a peer may take (a watcher that stops reading).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the frame loop's answer to a status request.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);
/// Peer-triggered log lines allowed per [`LOG_WINDOW`].
const LOG_BURST: u64 = 20;
const LOG_WINDOW: Duration = Duration::from_secs(10);

/// The socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Another process answers on the socket.
    #[error("{path} is in use: another ledd is running; stop it first")]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// The path exists and is not a socket (or is a symlink): never removed.
    #[error(
        "{path} exists and is not a socket (it is a {kind}); refusing to remove it: choose another `socket` path or remove it yourself"
    )]
    NotASocket {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A system call failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The socket systemd passed is not a Unix stream socket.
    #[error(
        "the socket passed by systemd (fd 3) is not a listening Unix stream socket: check ledd.socket has ListenStream=/path"
    )]
    BadActivation,
}

impl ServerError {
    /// Whether the failure is a permission problem.
    pub fn is_permission(&self) -> bool {
        matches!(self, ServerError::Io { source, .. }
            if matches!(source.kind(), io::ErrorKind::PermissionDenied))
    }
}

/// A listening socket and whether ledd created it (and so removes it).
#[derive(Debug)]
pub struct Listener {
    /// The socket, non-blocking.
    pub socket: std::os::unix::net::UnixListener,
    /// The path to remove at exit, when ledd created the socket.
    pub created: Option<PathBuf>,
}

/// Binds `path` safely: a stale socket is removed only if it is a socket
/// (not a symlink, not a file) and nobody answers on it. The socket is
/// created with no access for others, then given `group` and `mode`.
pub fn bind(path: &Path, mode: u32, group: Option<u32>) -> Result<Listener, ServerError> {
    let io_err = |what: &'static str| {
        move |source| ServerError::Io {
            what,
            path: path.to_owned(),
            source,
        }
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            let ft = meta.file_type();
            if ft.is_symlink() || !ft.is_socket() {
                let kind = if ft.is_symlink() {
                    "symlink"
                } else if ft.is_dir() {
                    "directory"
                } else {
                    "file"
                };
                return Err(ServerError::NotASocket {
                    path: path.to_owned(),
                    kind,
                });
            }
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(ServerError::InUse {
                    path: path.to_owned(),
                });
            }
            std::fs::remove_file(path).map_err(io_err("cannot remove the stale socket"))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("cannot inspect")(e)),
    }
    // Created owner-only so that nobody connects before mode and group are
    // set. umask is process-wide: this runs at start-up, before the server
    // and while no other thread creates files.
    use nix::sys::stat::{Mode, umask};
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = std::os::unix::net::UnixListener::bind(path);
    umask(old);
    let socket = bound.map_err(io_err("cannot bind"))?;
    if let Some(gid) = group {
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            None,
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err("cannot set the group of")(io::Error::from(e)))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_err("cannot set the mode of"))?;
    socket
        .set_nonblocking(true)
        .map_err(io_err("cannot make non-blocking"))?;
    Ok(Listener {
        socket,
        created: Some(path.to_owned()),
    })
}

/// The first fd systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// The socket systemd passed with socket activation, when `LISTEN_PID` is
/// this process and `LISTEN_FDS` is at least 1.
pub fn from_systemd() -> Result<Option<Listener>, ServerError> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !ours || fds < 1 {
        return Ok(None);
    }
    // SAFETY: LISTEN_PID names this process, so systemd passed fd 3 to it
    // and nothing in ledd has opened, closed or claimed fd 3 before this
    // call, which runs once at start-up. The borrow ends before the fd is
    // owned below.
    let borrowed = unsafe { BorrowedFd::borrow_raw(LISTEN_FDS_START) };
    use nix::sys::socket::{
        AddressFamily, SockType, SockaddrLike, UnixAddr, getsockname, getsockopt, sockopt,
    };
    let stream = matches!(
        getsockopt(&borrowed, sockopt::SockType),
        Ok(SockType::Stream)
    );
    let unix = getsockname::<UnixAddr>(borrowed.as_raw_fd())
        .map(|a| a.family() == Some(AddressFamily::Unix))
        .unwrap_or(false);
    let listening = matches!(getsockopt(&borrowed, sockopt::AcceptConn), Ok(true));
    if !(stream && unix && listening) {
        return Err(ServerError::BadActivation);
    }
    // SAFETY: as above; from here the OwnedFd is the only owner of fd 3.
    let owned = unsafe { OwnedFd::from_raw_fd(LISTEN_FDS_START) };
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|_| ServerError::BadActivation)?;
    let socket = std::os::unix::net::UnixListener::from(owned);
    // Sockets from systemd arrive blocking; tokio needs non-blocking.
    socket
        .set_nonblocking(true)
        .map_err(|source| ServerError::Io {
            what: "cannot make non-blocking",
            path: PathBuf::from("fd 3"),
            source,
        })?;
    Ok(Some(Listener {
        socket,
        created: None,
    }))
}

/// A log gate for lines a peer can trigger: at most [`LOG_BURST`] per
/// [`LOG_WINDOW`], then a count of what was dropped.
#[derive(Debug)]
pub struct LogLimiter {
    window: Mutex<(Instant, u64)>,
    dropped: AtomicU64,
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter {
            window: Mutex::new((Instant::now(), 0)),
            dropped: AtomicU64::new(0),
        }
    }
}

impl LogLimiter {
    /// Whether a line may be logged now.
    pub fn allow(&self) -> bool {
        let Ok(mut w) = self.window.lock() else {
            return false;
        };
        if w.0.elapsed() >= LOG_WINDOW {
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                warn!("{dropped} similar log lines were suppressed");
            }
            *w = (Instant::now(), 0);
        }
        if w.1 < LOG_BURST {
            w.1 += 1;
            true
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// Logs at warn level, rate-limited, for lines a peer can trigger.
macro_rules! peer_warn {
    ($state:expr, $($arg:tt)*) => {
        if $state.log.allow() {
            warn!($($arg)*);
        }
    };
}

/// What the connection tasks share.
#[derive(Debug)]
pub struct State {
    engine: engine::Sender,
    published: Arc<Mutex<Published>>,
    access: Mutex<Arc<Access>>,
    led_count: u16,
    fps: AtomicU16,
    log: LogLimiter,
}

impl State {
    /// Shared state over the engine's queue and published pixels.
    pub fn new(
        engine: engine::Sender,
        published: Arc<Mutex<Published>>,
        access: Access,
        led_count: u16,
        fps: u16,
    ) -> State {
        State {
            engine,
            published,
            access: Mutex::new(Arc::new(access)),
            led_count,
            fps: AtomicU16::new(fps),
            log: LogLimiter::default(),
        }
    }

    /// Replaces the access lists and frame rate (SIGHUP).
    pub fn reconfigure(&self, access: Access, fps: u16) {
        if let Ok(mut a) = self.access.lock() {
            *a = Arc::new(access);
        }
        self.fps.store(fps, Ordering::Relaxed);
    }

    fn access(&self) -> Option<Arc<Access>> {
        self.access.lock().ok().map(|a| Arc::clone(&a))
    }
}

/// Serves `listener` until `shutdown` turns true.
pub async fn run(listener: UnixListener, state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                peer_warn!(state, "accept failed: {e}");
                // Out of fds: give connections time to close.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            peer_warn!(
                state,
                "connection refused: {MAX_CONNECTIONS} connections already open"
            );
            refuse_now(
                &stream,
                ErrorCode::Busy,
                "too many connections to ledd: try again later",
            );
            continue;
        };
        let state = Arc::clone(&state);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            serve(stream, &state, shutdown).await;
            drop(permit);
        });
    }
}

/// Best-effort error frame on a connection not worth a task: one
/// non-blocking write, then the stream is dropped.
fn refuse_now(stream: &UnixStream, code: ErrorCode, message: &str) {
    let mut buf = [0u8; MAX_WIRE_LEN];
    if let Ok(n) = encode_into(&Response::Error(ErrorReply::new(code, message)), &mut buf) {
        let _ = stream.try_write(&buf[..n]);
    }
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    Closed,
    Timeout(&'static str),
    Io(io::Error),
    Done,
}

/// One connection: its stream, reader, write buffer and error count.
struct Conn<'a> {
    stream: UnixStream,
    reader: Box<FrameReader>,
    wbuf: Box<[u8; MAX_WIRE_LEN]>,
    errors: u32,
    state: &'a State,
    uid: u32,
}

async fn serve(stream: UnixStream, state: &State, shutdown: watch::Receiver<bool>) {
    let Ok(cred) = stream.peer_cred() else {
        return;
    };
    let (uid, gid) = (cred.uid(), cred.gid());
    let Some(access) = state.access() else {
        return;
    };
    // Supplementary groups from the socket, not the group database: no NSS
    // at run time (it may open sockets, which hardened ledd may not). A
    // kernel without SO_PEERGROUPS (< 4.13) leaves the primary group only.
    let groups = match peer_groups(&stream) {
        Ok(g) => g,
        Err(e) => {
            peer_warn!(state, uid, "SO_PEERGROUPS failed ({e}): primary group only");
            Vec::new()
        }
    };
    let role = access.role_of(uid, gid, &groups);
    let mut conn = Conn {
        stream,
        reader: Box::new(FrameReader::new()),
        wbuf: Box::new([0; MAX_WIRE_LEN]),
        errors: 0,
        state,
        uid,
    };
    let Some(role) = role else {
        peer_warn!(state, uid, gid, "refused a peer with no role");
        let msg = format!(
            "uid {uid} (gid {gid}) may not use ledd: add the user or one of its groups to [access] in ledd's config"
        );
        let _ = conn.reply_error(ErrorCode::NotAllowed, msg).await;
        return;
    };
    debug!(uid, role = role.name(), "connection");
    let end = conn.session(role, shutdown).await;
    match end {
        End::Closed | End::Done => {}
        End::Timeout(what) => debug!(uid, "connection closed: {what} timeout"),
        End::Io(e) => debug!(uid, "connection closed: {e}"),
    }
}

impl Conn<'_> {
    async fn send(&mut self, msg: &Response) -> Result<(), End> {
        let n = match encode_into(msg, &mut self.wbuf) {
            Ok(n) => n,
            Err(e) => {
                warn!("cannot encode a reply: {e}");
                return Err(End::Done);
            }
        };
        match tokio::time::timeout(WRITE_TIMEOUT, self.stream.write_all(&self.wbuf[..n])).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(End::Io(e)),
            Err(_) => Err(End::Timeout("write")),
        }
    }

    async fn reply_error(
        &mut self,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Result<(), End> {
        self.send(&Response::Error(ErrorReply::new(code, message)))
            .await
    }

    /// Answers an error that counts against the connection's budget.
    async fn fault(&mut self, code: ErrorCode, message: impl Into<String>) -> Result<(), End> {
        self.errors += 1;
        let message = message.into();
        peer_warn!(self.state, uid = self.uid, code = code.name(), "{message}");
        self.reply_error(code, message).await?;
        if self.errors >= ERROR_BUDGET {
            self.reply_error(
                ErrorCode::Busy,
                format!("{ERROR_BUDGET} errors on this connection: closing it"),
            )
            .await?;
            return Err(End::Done);
        }
        Ok(())
    }

    /// The next request: `Ok(Err(_))` for a frame that was refused (the
    /// reader stays in step), `Err(_)` when the connection ends.
    async fn next(&mut self, idle: Duration) -> Result<Result<Request, FrameError>, End> {
        let mut frame_started: Option<Instant> = None;
        loop {
            match self.reader.next_frame::<Request>() {
                Ok(Some(req)) => return Ok(Ok(req)),
                Err(e) => return Ok(Err(e)),
                Ok(None) => {}
            }
            let limit = if self.reader.is_mid_frame() {
                let started = *frame_started.get_or_insert_with(Instant::now);
                PARTIAL_TIMEOUT.saturating_sub(started.elapsed())
            } else {
                frame_started = None;
                idle
            };
            let what = if frame_started.is_some() {
                "partial frame"
            } else {
                "idle"
            };
            match tokio::time::timeout(limit, self.stream.read(self.reader.spare())).await {
                Err(_) => return Err(End::Timeout(what)),
                Ok(Ok(0)) => return Err(End::Closed),
                Ok(Ok(n)) => self.reader.filled(n),
                Ok(Err(e)) => return Err(End::Io(e)),
            }
        }
    }

    async fn session(&mut self, role: Role, shutdown: watch::Receiver<bool>) -> End {
        match self.handshake(role).await {
            Ok(()) => {}
            Err(end) => return end,
        }
        loop {
            let req = match self.next(IDLE_TIMEOUT).await {
                Ok(Ok(req)) => req,
                Ok(Err(e)) => {
                    let (code, msg) = frame_error(&e);
                    if let Err(end) = self.fault(code, msg).await {
                        return end;
                    }
                    continue;
                }
                Err(end) => return end,
            };
            if let Err(end) = self.request(role, req, &shutdown).await {
                return end;
            }
        }
    }

    async fn handshake(&mut self, role: Role) -> Result<(), End> {
        let first = self.next(HELLO_TIMEOUT).await?;
        match first {
            Ok(Request::Hello { version }) if version == VERSION => {
                let welcome = Welcome {
                    version: VERSION,
                    role,
                    led_count: self.state.led_count,
                    animations: AnimationSet::all(),
                };
                self.send(&Response::Welcome(welcome)).await
            }
            Ok(Request::Hello { version }) => {
                self.reply_error(
                    ErrorCode::VersionMismatch,
                    format!(
                        "ledd speaks protocol version {VERSION}, this client speaks {version}: use a client from the same tinsel release"
                    ),
                )
                .await?;
                Err(End::Done)
            }
            Ok(_) => {
                self.reply_error(
                    ErrorCode::HelloExpected,
                    "the first request must be Hello { version }",
                )
                .await?;
                Err(End::Done)
            }
            Err(e) => {
                let (code, msg) = frame_error(&e);
                self.reply_error(code, msg).await?;
                Err(End::Done)
            }
        }
    }

    async fn request(
        &mut self,
        role: Role,
        req: Request,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), End> {
        if !role.allows(&req) {
            return self
                .fault(
                    ErrorCode::Forbidden,
                    format!(
                        "the {} role may not do that: only admin peers (root, [access] admin_users or admin_groups) may set brightness or read frames",
                        role.name()
                    ),
                )
                .await;
        }
        let received_ns = engine::now_ns();
        match req {
            Request::Hello { .. } => {
                self.fault(
                    ErrorCode::HelloExpected,
                    "Hello was already sent on this connection",
                )
                .await
            }
            Request::Play { animation, params } => {
                // `params` are bounded types, checked when decoded; the
                // animation is an enum whose every value ledd offers.
                if !AnimationSet::all().contains(animation) {
                    return self
                        .fault(
                            ErrorCode::UnknownAnimation,
                            "ledd does not offer that animation",
                        )
                        .await;
                }
                self.command(Command::Play {
                    animation,
                    params,
                    received_ns,
                })
                .await
            }
            Request::Off => self.command(Command::Off { received_ns }).await,
            Request::SetBrightness(b) => self.command(Command::SetBrightness(b)).await,
            Request::Status => {
                let (tx, rx) = oneshot::channel();
                if engine::send(&self.state.engine, Command::Status(tx)).is_err() {
                    return self
                        .reply_error(ErrorCode::Busy, "the frame loop is busy: try again")
                        .await;
                }
                match tokio::time::timeout(STATUS_TIMEOUT, rx).await {
                    Ok(Ok(status)) => self.send(&Response::Status(status)).await,
                    _ => {
                        self.reply_error(ErrorCode::Internal, "the frame loop did not answer")
                            .await
                    }
                }
            }
            Request::Snapshot => {
                let mut pixels = Vec::new();
                let frame = self.copy_published(&mut pixels);
                self.send_frame(frame, &pixels).await
            }
            Request::Watch { fps } => {
                if fps == 0 {
                    return self
                        .fault(ErrorCode::InvalidParameter, "watch fps must be 1 or more")
                        .await;
                }
                self.watch(fps, shutdown.clone()).await
            }
        }
    }

    async fn command(&mut self, cmd: Command) -> Result<(), End> {
        match engine::send(&self.state.engine, cmd) {
            Ok(()) => self.send(&Response::Ok).await,
            Err(_) => {
                self.reply_error(ErrorCode::Busy, "the frame loop is busy: try again")
                    .await
            }
        }
    }

    fn copy_published(&self, into: &mut Vec<Rgb>) -> u64 {
        match self.state.published.lock() {
            Ok(p) => {
                into.clear();
                into.extend_from_slice(&p.pixels);
                p.frame
            }
            Err(_) => 0,
        }
    }

    async fn send_frame(&mut self, frame: u64, pixels: &[Rgb]) -> Result<(), End> {
        let total = pixels.len() as u16;
        for (i, chunk) in pixels.chunks(MAX_CHUNK_PIXELS).enumerate() {
            let Ok(px) = Pixels::from_rgb(chunk) else {
                return Err(End::Done);
            };
            let msg = Response::Frame(FrameChunk {
                frame,
                offset: (i * MAX_CHUNK_PIXELS) as u16,
                total,
                pixels: px,
            });
            self.send(&msg).await?;
        }
        Ok(())
    }

    /// Streams frames at `fps` (capped to the loop's rate) until the peer
    /// hangs up or ledd stops. Bytes the peer sends meanwhile are dropped.
    async fn watch(&mut self, fps: u8, mut shutdown: watch::Receiver<bool>) -> Result<(), End> {
        let loop_fps = self.state.fps.load(Ordering::Relaxed).max(1);
        let fps = u16::from(fps).min(loop_fps);
        let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / u64::from(fps)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut pixels = Vec::with_capacity(usize::from(self.state.led_count));
        let mut last = u64::MAX;
        let mut sink = [0u8; 64];
        loop {
            tokio::select! {
                _ = shutdown.changed() => return Err(End::Done),
                r = self.stream.read(&mut sink) => match r {
                    Ok(0) => return Err(End::Closed),
                    Ok(_) => {}
                    Err(e) => return Err(End::Io(e)),
                },
                _ = ticker.tick() => {
                    let frame = self.copy_published(&mut pixels);
                    if frame != last {
                        last = frame;
                        self.send_frame(frame, &pixels).await?;
                    }
                }
            }
        }
    }
}

/// The error code and message for a refused frame.
fn frame_error(e: &FrameError) -> (ErrorCode, String) {
    match e {
        FrameError::TooLong { .. } => (ErrorCode::FrameTooLong, e.to_string()),
        FrameError::Decode(_) | FrameError::Encode(_) => (
            ErrorCode::BadRequest,
            "the request does not decode: use a client from the same tinsel release".into(),
        ),
    }
}

/// The most supplementary groups a process can hold (`NGROUPS_MAX`,
/// include/uapi/linux/limits.h): bounds what [`peer_groups`] allocates.
const NGROUPS_MAX: usize = 65536;

/// The supplementary groups the peer held when it connected
/// (`SO_PEERGROUPS`, Linux 4.13), as the kernel recorded them: one
/// `getsockopt`, no NSS.
pub fn peer_groups(stream: &impl AsRawFd) -> io::Result<Vec<u32>> {
    // Most processes hold a handful; ERANGE says how many to make room for.
    let mut groups: Vec<libc::gid_t> = vec![0; 32];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: `groups` is a live buffer of `len` bytes that the kernel
        // fills with at most `len` bytes of gid_t values, and `len` is a
        // live socklen_t it updates. The fd is borrowed from `stream` for
        // the call only.
        // JUSTIFICATION: neither std, tokio nor nix 0.30 wraps SO_PEERGROUPS.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= NGROUPS_MAX {
            groups.resize(n, 0);
            continue;
        }
        return Err(e);
    }
}

/// Removes the socket ledd created, if it is still a socket.
pub fn remove_socket(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if let Err(e) = std::fs::remove_file(path) {
                warn!("cannot remove {}: {e}", path.display());
            } else {
                info!("removed {}", path.display());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn bind_sets_the_mode_and_replaces_only_a_stale_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledd.sock");
        // The caller's own group: any user may give a file it owns to it.
        let gid = nix::unistd::getegid().as_raw();
        let l = bind(&path, 0o640, Some(gid)).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o640);
        assert_eq!(meta.gid(), gid);
        assert_eq!(l.created.as_deref(), Some(path.as_path()));
        // Live: refused.
        assert!(matches!(
            bind(&path, 0o660, None),
            Err(ServerError::InUse { .. })
        ));
        drop(l);
        // Stale (nobody listens): replaced.
        let again = bind(&path, 0o660, None).unwrap();
        drop(again);
        remove_socket(&path);
        assert!(!path.exists());
    }

    #[test]
    fn peer_groups_are_the_groups_the_peer_holds() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut got = peer_groups(&a).unwrap();
        let mut want: Vec<u32> = nix::unistd::getgroups()
            .unwrap()
            .iter()
            .map(|g| g.as_raw())
            .collect();
        got.sort_unstable();
        want.sort_unstable();
        want.dedup();
        got.dedup();
        assert_eq!(got, want);
    }

    #[test]
    fn bind_never_removes_a_file_or_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"precious").unwrap();
        let err = bind(&file, 0o660, None).unwrap_err();
        assert!(
            matches!(err, ServerError::NotASocket { kind: "file", .. }),
            "{err}"
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let err = bind(&link, 0o660, None).unwrap_err();
        assert!(
            matches!(
                err,
                ServerError::NotASocket {
                    kind: "symlink",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"precious");
        // remove_socket leaves non-sockets alone too.
        remove_socket(&file);
        assert!(file.exists());
    }

    #[test]
    fn no_activation_without_listen_pid() {
        // The test process has no LISTEN_PID naming it.
        assert!(from_systemd().unwrap().is_none());
    }

    #[test]
    fn log_limiter_caps_a_burst() {
        let l = LogLimiter::default();
        let allowed = (0..100).filter(|_| l.allow()).count();
        assert_eq!(allowed as u64, LOG_BURST);
        assert_eq!(l.dropped.load(Ordering::Relaxed), 100 - LOG_BURST);
    }
}
