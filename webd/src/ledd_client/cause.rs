//! Why ledd cannot be reached, told from the error of a connect or a
//! handshake, and what to change for each cause: the text webd logs and
//! `webd --check-config` prints.

use std::path::Path;
use std::time::Duration;

use tinsel_proto::ErrorReply;
use tinsel_proto::handshake::HandshakeError;

use super::wire::LinkError;

/// Why webd cannot use ledd: each cause says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// The socket path does not exist (`ENOENT`).
    NoSocket,
    /// `connect()` was refused by the file permissions (`EACCES`).
    PermissionDenied,
    /// The file exists but nothing listens on it (`ECONNREFUSED`).
    NotListening,
    /// ledd answered `Hello` with "no role for this uid".
    NoRole(String),
    /// ledd speaks another protocol version.
    Version {
        /// webd's.
        ours: u16,
        /// ledd's.
        theirs: u16,
    },
    /// ledd refused the handshake for another reason (busy, ...).
    Refused(ErrorReply),
    /// ledd did not finish the handshake in time.
    Timeout(Duration),
    /// ledd closed the connection during the handshake, or sent garbage.
    Protocol(String),
    /// Any other OS error.
    Os(String),
}

impl Unreachable {
    pub(super) fn from_io(e: &std::io::Error) -> Unreachable {
        match e.kind() {
            std::io::ErrorKind::NotFound => Unreachable::NoSocket,
            std::io::ErrorKind::PermissionDenied => Unreachable::PermissionDenied,
            std::io::ErrorKind::ConnectionRefused => Unreachable::NotListening,
            _ => Unreachable::Os(e.to_string()),
        }
    }

    pub(super) fn from_link(e: LinkError) -> Unreachable {
        match e {
            LinkError::Io(e) => Unreachable::from_io(&e),
            LinkError::Handshake(HandshakeError::NoRole(message)) => Unreachable::NoRole(message),
            LinkError::Handshake(HandshakeError::Refused(r)) => Unreachable::Refused(r),
            LinkError::Handshake(HandshakeError::Version { ours, theirs }) => {
                Unreachable::Version { ours, theirs }
            }
            e @ (LinkError::Frame(_)
            | LinkError::Closed
            | LinkError::Handshake(HandshakeError::Unexpected(_))) => {
                Unreachable::Protocol(e.to_string())
            }
        }
    }

    /// What is wrong and how to fix it, for `socket`, as the current
    /// process (its uid and gid are named).
    pub fn explain(&self, socket: &Path) -> String {
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        let sock = socket.display();
        match self {
            Unreachable::NoSocket => format!(
                "{sock} does not exist: start ledd (systemctl start ledd.socket), and check that webd's `ledd_socket` is ledd's `socket`"
            ),
            Unreachable::PermissionDenied => format!(
                "permission denied on {sock} for uid {uid} gid {gid}: in ledd's config set `socket_group` to webd's group (e.g. \"tinsel\") and `socket_mode = \"0660\"` (under systemd: SocketGroup= and SocketMode= in ledd.socket), and let that group search the socket's directory"
            ),
            Unreachable::NotListening => format!(
                "nothing listens on {sock} (a file left by a stopped ledd?): start or restart ledd"
            ),
            Unreachable::NoRole(msg) => format!(
                "ledd gives uid {uid} gid {gid} no role ({msg}): in ledd's config add webd's user to `[access] hooks_users` (or its group to `hooks_groups`), then reload ledd (systemctl reload ledd)"
            ),
            Unreachable::Version { ours, theirs } => format!(
                "ledd at {sock} speaks protocol version {theirs}, webd {ours}: install matching versions of ledd and webd"
            ),
            Unreachable::Refused(r) => format!("ledd at {sock} refused the handshake: {r}"),
            Unreachable::Timeout(t) => format!(
                "ledd at {sock} accepted but did not answer the handshake within {t:?}: see `journalctl -u ledd`"
            ),
            Unreachable::Protocol(what) => {
                format!("{sock}: {what}: is it ledd's socket? check `ledd_socket`")
            }
            Unreachable::Os(e) => format!("{sock}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permission_denied_socket_names_the_socket_settings() {
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let cause = Unreachable::from_io(&e);
        assert_eq!(cause, Unreachable::PermissionDenied);
        let text = cause.explain(Path::new("/run/tinsel/ledd.sock"));
        assert!(text.contains("/run/tinsel/ledd.sock"), "{text}");
        assert!(
            text.contains("socket_group") && text.contains("socket_mode"),
            "{text}"
        );
    }
}
