//! The messages. A connection starts with [`Request::Hello`], answered by
//! [`Response::Welcome`]; then each request gets one response, except
//! [`Request::Watch`], which turns the connection into a stream of
//! [`Response::Frame`] chunks until the client hangs up.
//!
//! After [`Request::Subscribe`] ledd also sends [`Response::State`] unasked,
//! whenever what plays or the brightness changes. Answers still come one per
//! request and in order, and no request is ever answered with `State`
//! (`Status` answers [`Request::Status`]): a client takes every `State` as a
//! push and every other response as the answer to its oldest open request.
//!
//! Every enum here is append-only: new variants go at the end, and the
//! golden-bytes tests in `tests/golden.rs` fail if an existing encoding moves.
//! A struct's fields are frozen with the protocol version: changing one means
//! bumping [`crate::VERSION`].

use serde::{Deserialize, Serialize};

use crate::animation::{Animation, AnimationSet};
use crate::params::{Brightness, FadeMillis, Pixels, PlayParams};

/// What a peer may do, decided by ledd from the peer's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// root or a configured admin user or group: every request.
    Admin,
    /// The web daemon's user or group (and the scheduler's, mqttd's): play,
    /// off, fade off, status, subscribe.
    Hooks,
}

impl Role {
    /// Whether this role may send `request`.
    pub fn allows(self, request: &Request) -> bool {
        match request {
            Request::Hello { .. }
            | Request::Play { .. }
            | Request::Off
            | Request::Status
            | Request::Subscribe
            | Request::FadeOff(_) => true,
            Request::SetBrightness(_) | Request::Watch { .. } | Request::Snapshot => {
                self == Role::Admin
            }
        }
    }

    /// The lower-case name ("admin", "hooks").
    pub const fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Hooks => "hooks",
        }
    }
}

/// A request from a client to ledd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Must be the first request on a connection. Stays variant 0 with
    /// `version` as its first field in every protocol version, so that a
    /// mismatch is always recognised.
    Hello {
        /// The client's [`crate::VERSION`].
        version: u16,
    },
    /// Play an animation, crossfading from what plays now.
    Play {
        /// Which animation.
        animation: Animation,
        /// Its parameters.
        params: PlayParams,
    },
    /// Fade to dark.
    Off,
    /// Set the global brightness (admin only).
    SetBrightness(Brightness),
    /// Ask for a [`Status`].
    Status,
    /// Stream the strip's pixels after the output stage (admin only).
    Watch {
        /// Frames per second wanted, 1 or more; ledd caps it at its own
        /// frame rate.
        fps: u8,
    },
    /// One copy of the strip's current pixels, as [`Response::Frame`]
    /// chunks (admin only).
    Snapshot,
    /// Tell me when what plays or the brightness changes. Answered `Ok`,
    /// then at once [`Response::State`] with the status now, and again after
    /// each change (play, off, a timed play ending, brightness, a reload),
    /// never for frame statistics alone. The connection still takes
    /// requests. A subscriber that does not read its states is closed.
    Subscribe,
    /// Fade to dark over the given time (`Off` keeps ledd's own fade).
    FadeOff(FadeMillis),
}

/// A response from ledd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The answer to a good [`Request::Hello`].
    Welcome(Welcome),
    /// The request was done.
    Ok,
    /// The answer to [`Request::Status`].
    Status(Status),
    /// A part of a frame, for [`Request::Watch`] and [`Request::Snapshot`].
    Frame(FrameChunk),
    /// The request failed.
    Error(ErrorReply),
    /// Pushed after [`Request::Subscribe`], never an answer: what plays
    /// and the brightness changed (the statistics are as of that frame).
    State(Status),
}

/// ledd's side of the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// ledd's [`crate::VERSION`].
    pub version: u16,
    /// What this connection may do.
    pub role: Role,
    /// The number of LEDs on the strip.
    pub led_count: u16,
    /// The animations ledd offers.
    pub animations: AnimationSet,
    /// Whether the strip has a white channel (SK6812 RGBW): ledd moves the
    /// common part of red, green and blue to it, so a client may offer an
    /// RGBW light.
    pub white: bool,
}

/// What is playing, and how well the frame loop keeps time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The animation playing now; `None` when off.
    pub playing: Option<Playing>,
    /// The global brightness set by an admin.
    pub brightness: Brightness,
    /// The number of LEDs on the strip.
    pub led_count: u16,
    /// The frame rate the loop aims for.
    pub target_fps: u16,
    /// Frame loop statistics.
    pub stats: FrameStats,
    /// The current limiter's view of the last frame.
    pub power: Power,
}

/// The animation playing, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playing {
    /// Which animation.
    pub animation: Animation,
    /// Its parameters.
    pub params: PlayParams,
    /// Seconds left when it was started with a duration.
    pub remaining_secs: Option<u32>,
}

/// Frame loop statistics since ledd started. Times are in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FrameStats {
    /// Frames written to the strip.
    pub frames: u64,
    /// Frames per second measured over the last second, times 1000.
    pub fps_milli: u32,
    /// Frames that started after their deadline by more than a tenth of a
    /// period.
    pub late_frames: u64,
    /// The largest lateness seen.
    pub worst_late_us: u32,
    /// The 99th percentile lateness over the recent window.
    pub p99_late_us: u32,
    /// Median time to render one frame and run the output stage.
    pub render_p50_us: u32,
    /// Largest render time over the recent window.
    pub render_max_us: u32,
    /// Median time from a command reaching the loop's queue to the first
    /// frame that shows it.
    pub command_p50_us: u32,
    /// 99th percentile of the same.
    pub command_p99_us: u32,
}

/// The estimated current draw and the limiter's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Power {
    /// Estimated current of the last frame, in milliamps, after limiting.
    pub milliamps: u32,
    /// The configured budget in milliamps; 0 means no limit.
    pub budget_milliamps: u32,
    /// Whether the limiter scaled the last frame down.
    pub limited: bool,
}

/// Part of a frame: `pixels` are the LEDs from `offset` on, of `total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameChunk {
    /// The frame number the pixels belong to.
    pub frame: u64,
    /// The index of the first LED in `pixels`.
    pub offset: u16,
    /// The number of LEDs in the whole frame.
    pub total: u16,
    /// The pixels, at most [`crate::MAX_CHUNK_PIXELS`].
    pub pixels: Pixels,
}

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong and what to do, for people. Never contains internal
    /// state beyond what the code implies.
    pub message: String,
}

/// Machine-readable error codes. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The peer's protocol version is not ledd's.
    VersionMismatch,
    /// The first request was not `Hello`, or `Hello` came twice.
    HelloExpected,
    /// The peer's uid and groups map to no role.
    NotAllowed,
    /// The role may not send this request.
    Forbidden,
    /// The length prefix exceeds [`crate::MAX_FRAME_LEN`].
    FrameTooLong,
    /// The payload does not decode as a request.
    BadRequest,
    /// A parameter was refused by ledd's own checks.
    InvalidParameter,
    /// Too many connections, or too many errors on this one.
    Busy,
    /// Something failed inside ledd.
    Internal,
    /// The animation is not offered by this ledd.
    UnknownAnimation,
}

impl ErrorCode {
    /// The snake-case name for logs and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::VersionMismatch => "version_mismatch",
            ErrorCode::HelloExpected => "hello_expected",
            ErrorCode::NotAllowed => "not_allowed",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::FrameTooLong => "frame_too_long",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
            ErrorCode::UnknownAnimation => "unknown_animation",
        }
    }
}

impl ErrorReply {
    /// Builds an error reply.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorReply {
            code,
            message: message.into(),
        }
    }
}

impl core::fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.name())
    }
}

impl std::error::Error for ErrorReply {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_role_is_limited() {
        let play = Request::Play {
            animation: Animation::Fire,
            params: PlayParams::default(),
        };
        let fade_off = Request::FadeOff(FadeMillis::DEFAULT);
        for r in [
            &play,
            &Request::Off,
            &Request::Status,
            &Request::Subscribe,
            &fade_off,
        ] {
            assert!(Role::Hooks.allows(r));
            assert!(Role::Admin.allows(r));
        }
        for r in [
            &Request::SetBrightness(Brightness::DEFAULT),
            &Request::Watch { fps: 30 },
            &Request::Snapshot,
        ] {
            assert!(!Role::Hooks.allows(r), "hooks may not send {r:?}");
            assert!(Role::Admin.allows(r));
        }
    }
}
