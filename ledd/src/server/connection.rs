//! One connection, from the Hello to the hang-up: frames read with
//! [`tinsel_proto::FrameReader`] (one fixed buffer per connection, never
//! more), the error budget, the Hello, idle, partial-frame and write
//! timeouts, requests checked against the peer's role and turned into
//! engine commands (each accepted change recorded in the change log), the
//! hooks role's brightness ceiling, and the watch stream of frames.
//!
//! Nothing here can block the frame loop: commands are queued with
//! `try_send`, and pixels are copied out of a mutex the loop only
//! `try_lock`s.

use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tinsel_proto::{
    AnimationSet, Brightness, ErrorCode, ErrorReply, FrameChunk, FrameError, FrameReader,
    MAX_CHUNK_PIXELS, MAX_WIRE_LEN, Pixels, Request, Response, Rgb, Role, VERSION, Welcome,
    encode_into,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
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
/// How long to wait for the frame loop's answer to a status request.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);

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
    role: Role,
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
                self.command(Command::Off { received_ns }, Some(Change::Off))
                    .await
            }
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
            Request::Status => {
                let (tx, rx) = oneshot::channel();
                if self.state.engine.send(Command::Status(tx)).is_err() {
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
}
