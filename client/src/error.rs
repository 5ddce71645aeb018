//! The one way a conversation with ledd fails, for every client.

use std::path::Path;
use std::time::Duration;

use tinsel_proto::ErrorReply;

use crate::cause::{Cause, Peer};

/// Why a request to ledd, or a connection to it, failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeddError {
    /// ledd could not be reached or greeted; [`Cause::explain`] says what
    /// to change.
    #[error("cannot reach ledd: {0}")]
    Unreachable(Cause),
    /// The link is down and reconnects by itself; its next attempt is
    /// within `retry_after`.
    #[error("ledd is not reachable")]
    Unavailable {
        /// When to try again (whole seconds, never zero).
        retry_after: Duration,
    },
    /// ledd did not answer within the request timeout.
    #[error("ledd did not answer in time")]
    Timeout,
    /// Too many requests are already waiting for the shared link.
    #[error("too many requests are waiting for ledd")]
    Busy,
    /// ledd answered with an error.
    #[error("ledd refused: {0}")]
    Refused(ErrorReply),
    /// The connection broke during the request (ledd restarted?).
    #[error("lost ledd during the request: {0}")]
    Lost(String),
    /// ledd answered something that is not an answer to the request, or
    /// bytes that do not decode.
    #[error("unexpected answer from ledd: {0}")]
    Protocol(String),
}

impl LeddError {
    /// When a caller should try again (an HTTP `Retry-After`), or `None`
    /// when trying again would be refused again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LeddError::Unavailable { retry_after } => Some(*retry_after),
            LeddError::Unreachable(_)
            | LeddError::Timeout
            | LeddError::Busy
            | LeddError::Lost(_)
            | LeddError::Protocol(_) => Some(Duration::from_secs(1)),
            LeddError::Refused(_) => None,
        }
    }

    /// An answer that does not fit the request it came for.
    pub fn unexpected(answer: &tinsel_proto::Response) -> LeddError {
        LeddError::Protocol(format!("{answer:?}"))
    }

    /// The error as a user reads it: for an unreachable ledd, the cause
    /// with its fix for `peer` at `socket`.
    pub fn explain(&self, socket: &Path, peer: Peer) -> String {
        match self {
            LeddError::Unreachable(cause) => cause.explain(socket, peer),
            other => other.to_string(),
        }
    }
}
