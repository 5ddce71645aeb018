//! One connection, from the Hello to the hang-up: frames read with
//! [`tinsel_proto::FrameReader`] (one fixed buffer per connection, never
//! more), the error budget, the Hello, idle, partial-frame and write
//! timeouts, requests checked against the peer's role and turned into
//! engine commands (each accepted change recorded in the change log), the
//! hooks role's brightness ceiling, the watch stream of frames, and the
//! states pushed to a subscriber.
//!
//! Nothing here can block the frame loop: commands are queued with
//! `try_send`, pixels are copied out of a mutex the loop only `try_lock`s,
//! and a subscriber's states come from a broadcast ring the loop writes
//! without waiting. A subscriber that falls behind (its ring overflows, or
//! a state cannot be written within [`PUSH_TIMEOUT`]) is closed, with one
//! log line naming it.

use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tinsel_proto::{
    AnimationSet, Brightness, ErrorCode, ErrorReply, FrameChunk, FrameError, FrameReader,
    MAX_CHUNK_PIXELS, MAX_WIRE_LEN, Pixels, Request, Response, Rgb, Role, Status, VERSION, Welcome,
    encode_into,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::{oneshot, watch};
use tracing::{debug, warn};

use super::State;
use super::change_log::Change;
use super::log_limit::peer_warn;
use crate::engine::{self, Command};

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
/// How long a pushed state may wait for room in a subscriber's socket:
/// longer, and the subscriber has stopped reading.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(1);
/// A subscriber's socket send buffer, in bytes (the kernel doubles it and
/// counts each queued write with its overhead): a handful of unread states
/// fill it, so "behind" means behind by a few states, not by the ~200 KiB
/// of a default Unix socket buffer.
pub const SUBSCRIBER_SNDBUF: usize = 4096;
/// How long to wait for the frame loop's answer to a status request.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a connection ended.
#[derive(Debug)]
enum End {
    Closed,
    Timeout(&'static str),
    Io(io::Error),
    Done,
    /// A subscriber that stopped reading its states.
    Behind(&'static str),
}

/// What the session waits for next.
enum Event {
    Request(Result<Result<Request, FrameError>, End>),
    State(Result<Status, RecvError>),
}

/// One connection: its stream, reader, write buffer and error count.
struct Conn<'a> {
    stream: UnixStream,
    reader: Box<FrameReader>,
    wbuf: Box<[u8; MAX_WIRE_LEN]>,
    errors: u32,
    state: &'a State,
    uid: u32,
    role: Role,
    /// When the frame being read began to arrive (survives a `select!`
    /// that cancels a read: states pushed meanwhile do not reset it).
    frame_started: Option<Instant>,
    /// When the last request arrived (the idle timeout runs from it).
    last_request: Instant,
}

/// Serves one accepted connection of a peer of `role` until it ends.
pub(super) async fn serve(
    stream: UnixStream,
    uid: u32,
    role: Role,
    state: &State,
    shutdown: watch::Receiver<bool>,
) {
    let mut conn = Conn {
        stream,
        reader: Box::new(FrameReader::new()),
        wbuf: Box::new([0; MAX_WIRE_LEN]),
        errors: 0,
        state,
        uid,
        role,
        frame_started: None,
        last_request: Instant::now(),
    };
    debug!(uid, role = role.name(), "connection");
    let end = conn.session(role, shutdown).await;
    match end {
        End::Closed | End::Done => {}
        End::Behind(why) => peer_warn!(
            state,
            uid,
            role = role.name(),
            "subscriber closed: {why}; it must read the states ledd pushes"
        ),
        End::Timeout(what) => debug!(uid, "connection closed: {what} timeout"),
        End::Io(e) => debug!(uid, "connection closed: {e}"),
    }
}

impl Conn<'_> {
    async fn send(&mut self, msg: &Response) -> Result<(), End> {
        self.send_within(msg, WRITE_TIMEOUT, End::Timeout("write"))
            .await
    }

    /// Writes `msg` within `limit`, else ends the connection with `late`.
    async fn send_within(&mut self, msg: &Response, limit: Duration, late: End) -> Result<(), End> {
        let n = match encode_into(msg, &mut self.wbuf) {
            Ok(n) => n,
            Err(e) => {
                warn!("cannot encode a reply: {e}");
                return Err(End::Done);
            }
        };
        match tokio::time::timeout(limit, self.stream.write_all(&self.wbuf[..n])).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(End::Io(e)),
            Err(_) => Err(late),
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
    /// reader stays in step), `Err(_)` when the connection ends. `idle`
    /// counts from the last request. Cancel-safe: bytes read stay in the
    /// reader, and the timers in `self`.
    async fn next(&mut self, idle: Duration) -> Result<Result<Request, FrameError>, End> {
        loop {
            let frame = self.reader.next_frame::<Request>();
            if !matches!(frame, Ok(None)) {
                self.frame_started = None;
                self.last_request = Instant::now();
            }
            match frame {
                Ok(Some(req)) => return Ok(Ok(req)),
                Err(e) => return Ok(Err(e)),
                Ok(None) => {}
            }
            let limit = if self.reader.is_mid_frame() {
                let started = *self.frame_started.get_or_insert_with(Instant::now);
                PARTIAL_TIMEOUT.saturating_sub(started.elapsed())
            } else {
                self.frame_started = None;
                idle.saturating_sub(self.last_request.elapsed())
            };
            let what = if self.frame_started.is_some() {
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
        // Set by Subscribe: the states the frame loop pushes.
        let mut states: Option<broadcast::Receiver<Status>> = None;
        loop {
            let event = match states.as_mut() {
                None => Event::Request(self.next(IDLE_TIMEOUT).await),
                Some(rx) => tokio::select! {
                    r = self.next(IDLE_TIMEOUT) => Event::Request(r),
                    s = rx.recv() => Event::State(s),
                },
            };
            let req = match event {
                Event::Request(Ok(Ok(req))) => req,
                Event::Request(Ok(Err(e))) => {
                    let (code, msg) = frame_error(&e);
                    if let Err(end) = self.fault(code, msg).await {
                        return end;
                    }
                    continue;
                }
                Event::Request(Err(end)) => return end,
                Event::State(state) => {
                    if let Err(end) = self.push(state).await {
                        return end;
                    }
                    continue;
                }
            };
            let result = match req {
                // Every role may subscribe (checked by `Role::allows`).
                Request::Subscribe => self.subscribe().await.map(|rx| states = Some(rx)),
                req => self.request(role, req, &shutdown).await,
            };
            if let Err(end) = result {
                return end;
            }
        }
    }

    /// Subscribes this connection: a small send buffer, then the channel
    /// (before the status, so no change falls between), `Ok`, and the
    /// status now as the first state.
    async fn subscribe(&mut self) -> Result<broadcast::Receiver<Status>, End> {
        if let Err(e) = nix::sys::socket::setsockopt(
            &self.stream,
            nix::sys::socket::sockopt::SndBuf,
            &SUBSCRIBER_SNDBUF,
        ) {
            debug!(
                uid = self.uid,
                "cannot shrink a subscriber's send buffer: {e}"
            );
        }
        let rx = self.state.states.subscribe();
        let Some(status) = self.status().await else {
            self.reply_error(ErrorCode::Internal, "the frame loop did not answer")
                .await?;
            return Err(End::Done);
        };
        self.send(&Response::Ok).await?;
        self.send(&Response::State(status)).await?;
        Ok(rx)
    }

    /// Writes a state the frame loop pushed, or ends a subscriber that
    /// fell behind.
    async fn push(&mut self, state: Result<Status, RecvError>) -> Result<(), End> {
        match state {
            Ok(status) => {
                self.send_within(
                    &Response::State(status),
                    PUSH_TIMEOUT,
                    End::Behind("its socket stayed full of unread states"),
                )
                .await
            }
            Err(RecvError::Lagged(_)) => Err(End::Behind("more states waited than ledd keeps")),
            Err(RecvError::Closed) => Err(End::Done),
        }
    }

    /// The status, from the frame loop; `None` when it does not answer.
    async fn status(&mut self) -> Option<Status> {
        let (tx, rx) = oneshot::channel();
        self.state.engine.send(Command::Status(tx)).ok()?;
        tokio::time::timeout(STATUS_TIMEOUT, rx).await.ok()?.ok()
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
                    white: self.state.white,
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
        // Brightness is decided below, with the hooks ceiling.
        let allowed = match req {
            Request::SetBrightness(_) => true,
            _ => role.allows(&req),
        };
        if !allowed {
            return self
                .fault(
                    ErrorCode::Forbidden,
                    format!(
                        "the {} role may not do that: only admin peers (root, [access] admin_users or admin_groups) may read frames",
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
                // A parameter the animation does not use would be reported
                // in status and ignored by the pixels: refused instead,
                // naming what the animation takes.
                if let Err(unused) = animation.check(&params) {
                    return self
                        .fault(ErrorCode::InvalidParameter, unused.to_string())
                        .await;
                }
                self.command(
                    Command::Play {
                        animation,
                        params,
                        received_ns,
                    },
                    Some(Change::Play { animation, params }),
                )
                .await
            }
            Request::Off => {
                let off = Command::Off {
                    fade: None,
                    received_ns,
                };
                self.command(off, Some(Change::Off)).await
            }
            Request::FadeOff(fade) => {
                let off = Command::Off {
                    fade: Some(fade),
                    received_ns,
                };
                self.command(off, Some(Change::Off)).await
            }
            // Answered in `session`, which keeps the subscription.
            Request::Subscribe => Ok(()),
            Request::SetBrightness(asked) => {
                let ceiling = self.state.access().and_then(|a| a.hooks_max_brightness);
                let Some(set) = brightness_for(role, asked, ceiling) else {
                    return self
                        .fault(
                            ErrorCode::Forbidden,
                            "the hooks role may not set brightness: set [access] hooks_max_brightness in ledd's config to let hooks peers set it up to that ceiling",
                        )
                        .await;
                };
                let change = Change::Brightness {
                    set,
                    asked: (set != asked).then_some(asked),
                };
                self.command(Command::SetBrightness(set), Some(change))
                    .await
            }
            Request::Status => match self.status().await {
                Some(status) => self.send(&Response::Status(status)).await,
                None => {
                    self.reply_error(ErrorCode::Busy, "the frame loop did not answer: try again")
                        .await
                }
            },
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

    /// Sends `cmd` to the frame loop; once it is queued, `change` (what it
    /// changes for the viewer) goes to the change log.
    async fn command(&mut self, cmd: Command, change: Option<Change>) -> Result<(), End> {
        match self.state.engine.send(cmd) {
            Ok(()) => {
                if let Some(change) = change {
                    self.state.changes.record(self.uid, self.role, change);
                }
                self.send(&Response::Ok).await
            }
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

/// The brightness a peer of `role` asking for `asked` gets, with the hooks
/// role's `ceiling` (`[access] hooks_max_brightness`): an admin gets what
/// it asks; a hooks peer gets at most the ceiling, and `None` (refused)
/// when there is none. A request above the ceiling is lowered rather than
/// refused: a home-automation slider at 100 % then means "as bright as
/// allowed". The output stage's current limit applies after this either
/// way.
fn brightness_for(
    role: Role,
    asked: Brightness,
    ceiling: Option<Brightness>,
) -> Option<Brightness> {
    match role {
        Role::Admin => Some(asked),
        Role::Hooks => ceiling.map(|max| asked.min(max)),
    }
}

/// The error code and message for a refused frame.
fn frame_error(e: &FrameError) -> (ErrorCode, String) {
    match e {
        FrameError::TooLong { .. } => (ErrorCode::FrameTooLong, e.to_string()),
        FrameError::Trailing { extra } => (
            ErrorCode::BadRequest,
            format!(
                "the request has {extra} bytes after its message (a frame carries exactly one): use a client from the same tinsel release"
            ),
        ),
        FrameError::Decode(_) | FrameError::Encode(_) => (
            ErrorCode::BadRequest,
            "the request does not decode: use a client from the same tinsel release".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::testing::{TestServer, recv, refusal, send, with_trailing};

    #[test]
    fn a_frame_with_bytes_after_its_message_is_an_error_reply() {
        let server = TestServer::start();
        // A Hello with garbage after it is not a Hello.
        let mut s = server.raw();
        send(
            &mut s,
            &with_trailing(&Request::Hello { version: VERSION }, &[0xde, 0xad]),
        );
        let e = refusal(recv(&mut s));
        assert_eq!(e.code, ErrorCode::BadRequest, "{e}");
        assert!(e.message.contains("2 bytes after its message"), "{e}");
        assert!(recv(&mut s).is_none(), "closed: no handshake");

        // After the handshake: an error reply, the connection stays in
        // step, and each such frame counts against the error budget.
        let mut s = server.hello();
        send(&mut s, &with_trailing(&Request::Status, &[0]));
        assert_eq!(refusal(recv(&mut s)).code, ErrorCode::BadRequest);
        send(&mut s, &tinsel_proto::encode(&Request::Status).unwrap());
        assert!(matches!(recv(&mut s), Some(Response::Status(_))));
        for _ in 1..ERROR_BUDGET {
            send(&mut s, &with_trailing(&Request::Off, &[1, 2, 3]));
        }
        let mut codes = Vec::new();
        while let Some(r) = recv(&mut s) {
            codes.push(refusal(Some(r)).code);
            assert!(codes.len() <= ERROR_BUDGET as usize);
        }
        assert_eq!(codes.len(), ERROR_BUDGET as usize, "{codes:?}");
        assert_eq!(codes.last(), Some(&ErrorCode::Busy), "{codes:?}");
    }

    #[test]
    fn hooks_brightness_is_refused_without_a_ceiling_and_bounded_by_one() {
        let b = |n| Brightness::new(n).unwrap();
        assert_eq!(brightness_for(Role::Hooks, b(30), None), None);
        assert_eq!(brightness_for(Role::Hooks, b(30), Some(b(40))), Some(b(30)));
        assert_eq!(
            brightness_for(Role::Hooks, b(100), Some(b(40))),
            Some(b(40))
        );
        assert_eq!(brightness_for(Role::Hooks, b(100), Some(b(0))), Some(b(0)));
        assert_eq!(brightness_for(Role::Admin, b(100), None), Some(b(100)));
        assert_eq!(
            brightness_for(Role::Admin, b(100), Some(b(40))),
            Some(b(100))
        );
    }

    #[test]
    fn play_refuses_a_parameter_the_animation_does_not_use() {
        use tinsel_proto::{Animation, PlayParams, Speed};
        let server = TestServer::start();
        let mut s = server.hello();
        let play =
            |animation, params| tinsel_proto::encode(&Request::Play { animation, params }).unwrap();
        let red = PlayParams {
            color: Some(Rgb::new(255, 0, 0)),
            ..PlayParams::default()
        };
        send(&mut s, &play(Animation::Rainbow, red));
        let e = refusal(recv(&mut s));
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert!(
            e.message
                .contains("rainbow takes speed and duration, not color"),
            "{e}"
        );
        // Nothing played.
        send(&mut s, &tinsel_proto::encode(&Request::Status).unwrap());
        match recv(&mut s) {
            Some(Response::Status(st)) => assert_eq!(st.playing, None),
            other => panic!("{other:?}"),
        }
        let fast = PlayParams {
            speed: Speed::new(300).unwrap(),
            ..PlayParams::default()
        };
        send(&mut s, &play(Animation::Gradient, fast));
        let e = refusal(recv(&mut s));
        assert!(
            e.message
                .contains("gradient takes color and duration, not speed"),
            "{e}"
        );
        // What the animation uses is played.
        send(&mut s, &play(Animation::Rainbow, fast));
        assert_eq!(recv(&mut s), Some(Response::Ok));
        send(&mut s, &play(Animation::Solid, red));
        assert_eq!(recv(&mut s), Some(Response::Ok));
    }

    fn req(r: &Request) -> Vec<u8> {
        tinsel_proto::encode(r).unwrap()
    }

    /// A connection that has subscribed, with the first state read.
    fn subscriber(server: &TestServer) -> (std::os::unix::net::UnixStream, Status) {
        let mut s = server.hello();
        send(&mut s, &req(&Request::Subscribe));
        assert_eq!(recv(&mut s), Some(Response::Ok));
        match recv(&mut s) {
            Some(Response::State(st)) => (s, st),
            other => panic!("the state now after Ok, got {other:?}"),
        }
    }

    fn status(s: &mut std::os::unix::net::UnixStream) -> Status {
        send(s, &req(&Request::Status));
        match recv(s) {
            Some(Response::Status(st)) => st,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_subscriber_sees_a_play_within_one_frame_and_still_gets_answers() {
        use tinsel_proto::{Animation, FadeMillis, PlayParams};
        let server = TestServer::start();
        let (mut sub, first) = subscriber(&server);
        assert_eq!(first.playing, None);
        let mut admin = server.hello();
        let before = status(&mut admin);
        let sent = Instant::now();
        let play = Request::Play {
            animation: Animation::Rainbow,
            params: PlayParams::default(),
        };
        send(&mut admin, &req(&play));
        assert_eq!(recv(&mut admin), Some(Response::Ok));
        let pushed = match recv(&mut sub) {
            Some(Response::State(st)) => st,
            other => panic!("{other:?}"),
        };
        assert_eq!(pushed.playing.unwrap().animation, Animation::Rainbow);
        // The frame that applied the play pushed it: the one after the
        // status, or the next if the play missed its start.
        assert!(
            pushed.stats.frames <= before.stats.frames + 2,
            "pushed at frame {}, status was at {}",
            pushed.stats.frames,
            before.stats.frames
        );
        assert!(
            sent.elapsed() < Duration::from_millis(500),
            "{:?}",
            sent.elapsed()
        );

        // Frames alone, and a brightness set to what it is, push nothing:
        // the subscriber's next frame is the answer to its own request.
        send(&mut admin, &req(&Request::SetBrightness(pushed.brightness)));
        assert_eq!(recv(&mut admin), Some(Response::Ok));
        std::thread::sleep(Duration::from_millis(100));
        let asked = status(&mut sub);
        assert_eq!(asked.playing.unwrap().animation, Animation::Rainbow);

        // A brightness change and a fade to dark are pushed, in order.
        let dim = Brightness::new(7).unwrap();
        send(&mut admin, &req(&Request::SetBrightness(dim)));
        assert_eq!(recv(&mut admin), Some(Response::Ok));
        match recv(&mut sub) {
            Some(Response::State(st)) => assert_eq!(st.brightness, dim),
            other => panic!("{other:?}"),
        }
        send(
            &mut sub,
            &req(&Request::FadeOff(FadeMillis::new(0).unwrap())),
        );
        // The answer and the push may come in either order; both come.
        let mut got = [recv(&mut sub), recv(&mut sub)];
        got.sort_by_key(|r| matches!(r, Some(Response::State(_))));
        assert_eq!(got[0], Some(Response::Ok));
        assert!(
            matches!(got[1], Some(Response::State(st)) if st.playing.is_none()),
            "{got:?}"
        );
    }

    #[test]
    fn a_subscriber_that_never_reads_is_closed_and_the_loop_keeps_time() {
        use std::io::Read;
        let server = TestServer::start();
        let (mut sub, _) = subscriber(&server);
        let mut admin = server.hello();
        let start = status(&mut admin);
        let fps = u64::from(start.target_fps);
        let t0 = Instant::now();
        // One change per frame, until ledd gives up on the subscriber that
        // reads none of them: SUBSCRIBER_QUEUE states plus a full socket,
        // or PUSH_TIMEOUT.
        let mut changes = 0u32;
        while t0.elapsed() < PUSH_TIMEOUT * 3 {
            let b = Brightness::new(10 + (changes % 2) as u8).unwrap();
            send(&mut admin, &req(&Request::SetBrightness(b)));
            assert_eq!(recv(&mut admin), Some(Response::Ok));
            changes += 1;
            std::thread::sleep(Duration::from_micros(1_000_000 / fps + 2_000));
        }
        let elapsed = t0.elapsed();
        // What ledd had written before it closed, then the end of stream.
        let mut states = 0u32;
        while let Some(r) = recv(&mut sub) {
            assert!(matches!(r, Response::State(_)), "{r:?}");
            states += 1;
        }
        assert!(
            matches!(sub.read(&mut [0u8; 1]), Ok(0)),
            "ledd closed the subscriber"
        );
        assert!(
            states < changes / 2,
            "{states} of {changes} states were written to a peer that read none"
        );
        // Meanwhile the frame loop kept its pace.
        let end = status(&mut admin);
        let frames = end.stats.frames - start.stats.frames;
        let expected = elapsed.as_millis() as u64 * fps / 1000;
        assert!(
            frames * 10 >= expected * 8,
            "{frames} frames in {elapsed:?} at {fps} fps"
        );
        assert_eq!(end.brightness.get(), 10 + ((changes - 1) % 2) as u8);
    }

    #[test]
    fn a_subscription_takes_a_connection_slot() {
        use crate::server::MAX_CONNECTIONS;
        let server = TestServer::start();
        // The test's uid is admin: the shared pool and the admin reserve.
        let mut held: Vec<_> = (1..MAX_CONNECTIONS).map(|_| server.hello()).collect();
        let (sub, _) = subscriber(&server);
        let mut one_more = server.raw();
        send(&mut one_more, &req(&Request::Hello { version: VERSION }));
        let e = refusal(recv(&mut one_more));
        assert_eq!(e.code, ErrorCode::Busy, "{e}");
        // The subscriber hangs up: its slot is free again.
        drop(sub);
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let mut s = server.raw();
            send(&mut s, &req(&Request::Hello { version: VERSION }));
            match recv(&mut s) {
                Some(Response::Welcome(_)) => break,
                other => {
                    assert!(Instant::now() < deadline, "still refused: {other:?}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        held.clear();
    }
}
