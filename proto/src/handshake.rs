//! The client's half of the handshake, without I/O: the `Hello` to send
//! first and the check of ledd's answer. `ledctl` (blocking) and webd
//! (async) move the bytes their own way and share this decision.
//!
//! ledd answers `Hello` with [`Response::Welcome`] when the versions match
//! and the peer has a role, and with [`Response::Error`] otherwise
//! (`NotAllowed`: no role for this uid; `VersionMismatch`; `Busy`).

use crate::message::{ErrorCode, ErrorReply, Request, Response, Welcome};

/// The first request on a connection: `Hello` with this crate's
/// [`crate::VERSION`].
pub fn hello() -> Request {
    Request::Hello {
        version: crate::VERSION,
    }
}

/// Why ledd's answer to `Hello` does not open a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// ledd welcomed the peer but speaks another protocol version.
    Version {
        /// The client's version (the one it said `Hello` with).
        ours: u16,
        /// ledd's.
        theirs: u16,
    },
    /// ledd gives this peer's uid and groups no role (`NotAllowed`); ledd's
    /// message says which uid it saw.
    NoRole(String),
    /// ledd refused the handshake for another reason (its version differs,
    /// too many connections, ...).
    Refused(ErrorReply),
    /// ledd answered with something that is neither `Welcome` nor an error:
    /// not ledd, or a broken one.
    Unexpected(Box<Response>),
}

impl core::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HandshakeError::Version { ours, theirs } => write!(
                f,
                "ledd speaks protocol version {theirs}, this client {ours}: install ledd and its clients from the same release"
            ),
            HandshakeError::NoRole(message) => write!(
                f,
                "ledd gives this user no role ({message}): add the user or its group to ledd's `[access]` lists, then reload ledd"
            ),
            HandshakeError::Refused(reply) => write!(f, "ledd refused the handshake: {reply}"),
            HandshakeError::Unexpected(_) => {
                write!(f, "ledd answered the handshake with something else")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Checks ledd's answer to `Hello` for a client of version `ours`
/// (normally [`crate::VERSION`]): the [`Welcome`] when the session may
/// begin, else what went wrong.
pub fn check_welcome(reply: Response, ours: u16) -> Result<Welcome, HandshakeError> {
    match reply {
        Response::Welcome(w) if w.version != ours => Err(HandshakeError::Version {
            ours,
            theirs: w.version,
        }),
        Response::Welcome(w) => Ok(w),
        Response::Error(e) if e.code == ErrorCode::NotAllowed => {
            Err(HandshakeError::NoRole(e.message))
        }
        Response::Error(e) => Err(HandshakeError::Refused(e)),
        other => Err(HandshakeError::Unexpected(Box::new(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AnimationSet, Role, VERSION};

    fn welcome(version: u16) -> Welcome {
        Welcome {
            version,
            role: Role::Hooks,
            led_count: 50,
            animations: AnimationSet::default(),
            white: false,
        }
    }

    fn error(code: ErrorCode, message: &str) -> Response {
        Response::Error(ErrorReply {
            code,
            message: message.to_owned(),
        })
    }

    #[test]
    fn hello_says_this_version() {
        assert_eq!(hello(), Request::Hello { version: VERSION });
    }

    #[test]
    fn a_welcome_of_the_same_version_opens_the_session() {
        assert_eq!(
            check_welcome(Response::Welcome(welcome(VERSION)), VERSION),
            Ok(welcome(VERSION))
        );
    }

    #[test]
    fn another_version_names_both_and_the_fix() {
        let err = check_welcome(Response::Welcome(welcome(7)), 3).unwrap_err();
        assert_eq!(err, HandshakeError::Version { ours: 3, theirs: 7 });
        let msg = err.to_string();
        for part in ["version 7", "client 3", "same release"] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
    }

    #[test]
    fn not_allowed_is_a_role_error_with_ledds_words() {
        let err =
            check_welcome(error(ErrorCode::NotAllowed, "uid 1000: no role"), VERSION).unwrap_err();
        assert_eq!(err, HandshakeError::NoRole("uid 1000: no role".to_owned()));
        let msg = err.to_string();
        assert!(msg.contains("uid 1000: no role"), "{msg}");
        assert!(msg.contains("[access]"), "{msg}");
    }

    #[test]
    fn other_refusals_keep_ledds_reply() {
        let reply = ErrorReply {
            code: ErrorCode::Busy,
            message: "too many connections".to_owned(),
        };
        let err = check_welcome(Response::Error(reply.clone()), VERSION).unwrap_err();
        assert_eq!(err, HandshakeError::Refused(reply));
        assert!(
            err.to_string().contains("too many connections (busy)"),
            "{err}"
        );
    }

    #[test]
    fn anything_else_is_unexpected() {
        let err = check_welcome(Response::Ok, VERSION).unwrap_err();
        assert_eq!(err, HandshakeError::Unexpected(Box::new(Response::Ok)));
    }
}
