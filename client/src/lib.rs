//! tinsel-client: the one client of ledd's socket. Every program that talks
//! to ledd (ledctl, webd, schedd, mqttd, and each daemon's
//! `--check-config` probe) connects, greets and reads answers through this
//! crate, so they time out, retry and explain a refusal alike.
//!
//! - [`blocking::Client`]: a blocking connection, for ledctl and the
//!   probes: connect, `Hello`, request, answer.
//! - [`Link`]: the async connection a daemon's loop owns: connects lazily,
//!   reconnects with a capped backoff when ledd goes away, keeps an idle
//!   connection alive, notices a hang-up, and logs why ledd cannot be
//!   reached once per distinct [`Cause`], with the fix.
//! - [`Handle`]: a [`Link`] in a task of its own behind a bounded queue,
//!   for a daemon whose many tasks share one connection (webd).
//! - [`LeddError`]: the one way a conversation with ledd fails.
//!
//! The wire format and the handshake's decision are `tinsel_proto`'s; this
//! crate moves the bytes. The only thing any client connects to is the
//! socket path it is given.

pub mod blocking;
mod cause;
mod error;
#[cfg(feature = "fake")]
pub mod fake;
mod handle;
mod link;
mod wire;

pub use cause::{Cause, Peer};
pub use error::LeddError;
pub use handle::Handle;
pub use link::{Due, Link, PUSHED_KEEP, Timing};
