//! The wire contract between ledd and its clients (`ledctl`, webd).
//!
//! This crate owns the message types, their bounds and the framing. It does
//! no I/O and has no async runtime: both daemons depend on it, neither
//! depends on the other. See DESIGN.md, "The protocol".
//!
//! Everything that decodes is bounded: frames are at most [`MAX_FRAME_LEN`]
//! bytes, parameters are types that cannot hold out-of-range values, and
//! animations are named by an enum, never by text.
//!
//! [`handshake`] is the client's check of ledd's answer to `Hello`, shared
//! by `ledctl` and webd.

#![forbid(unsafe_code)]

mod animation;
mod frame;
pub mod handshake;
mod message;
mod params;

pub use animation::{Animation, AnimationSet, UnknownAnimation, UnusedParams};
pub use frame::{
    Decoded, FrameError, FrameReader, LEN_PREFIX, MAX_FRAME_LEN, MAX_WIRE_LEN, decode, encode,
    encode_into,
};
pub use message::{
    ErrorCode, ErrorReply, FrameChunk, FrameStats, Playing, Power, Request, Response, Role, Status,
    Welcome,
};
pub use params::{
    BadColor, Brightness, FadeMillis, MAX_CHUNK_PIXELS, OutOfRange, Param, ParamSet, Pixels,
    PlayParams, PlaySeconds, Rgb, Speed,
};

/// The protocol version. Bump it when a struct's fields change; appending an
/// enum variant does not need a bump.
///
/// 2: `PlayParams::fade`, `Welcome::white`; `Request::Subscribe`,
/// `Request::FadeOff` and `Response::State` appended.
pub const VERSION: u16 = 2;
