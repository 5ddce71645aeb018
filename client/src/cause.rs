//! Why ledd cannot be reached, told from the error of a connect or a
//! handshake, and what to change for each cause: the text a daemon logs
//! once per outage and `--check-config` prints.

use std::path::Path;
use std::time::Duration;

use tinsel_proto::ErrorReply;
use tinsel_proto::handshake::HandshakeError;

/// Who is connecting, for the fix a [`Cause`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The program, as messages name it: `webd`.
    pub program: &'static str,
    /// The user the package runs it as (`tinsel-web`); `None` for a
    /// program run by whoever calls it (ledctl).
    pub package_user: Option<&'static str>,
    /// Where the socket's path is set: `` `ledd_socket` `` or `--socket`.
    pub socket_setting: &'static str,
}

impl Peer {
    /// A daemon that the package runs as `package_user` and whose config
    /// names ledd's socket as `ledd_socket`.
    pub const fn daemon(program: &'static str, package_user: &'static str) -> Peer {
        Peer {
            program,
            package_user: Some(package_user),
            socket_setting: "`ledd_socket`",
        }
    }

    /// The user to name in a fix: the package's, or "this user".
    fn user(&self) -> String {
        match self.package_user {
            Some(user) => format!("{}'s user ({user})", self.program),
            None => "this user".to_owned(),
        }
    }
}

/// Why ledd cannot be used: each cause says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
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
        /// This client's.
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

impl Cause {
    /// The cause of a failed `connect()`, read or write.
    pub fn from_io(e: &std::io::Error) -> Cause {
        match e.kind() {
            std::io::ErrorKind::NotFound => Cause::NoSocket,
            std::io::ErrorKind::PermissionDenied => Cause::PermissionDenied,
            std::io::ErrorKind::ConnectionRefused => Cause::NotListening,
            _ => Cause::Os(e.to_string()),
        }
    }

    /// The cause of a `Hello` that did not open a session.
    pub fn from_handshake(e: HandshakeError) -> Cause {
        match e {
            HandshakeError::NoRole(message) => Cause::NoRole(message),
            HandshakeError::Refused(reply) => Cause::Refused(reply),
            HandshakeError::Version { ours, theirs } => Cause::Version { ours, theirs },
            e @ HandshakeError::Unexpected(_) => Cause::Protocol(e.to_string()),
        }
    }

    /// What is wrong with `socket` and how to fix it, for `peer` running
    /// as the current process (its uid and gid are named).
    pub fn explain(&self, socket: &Path, peer: Peer) -> String {
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        let sock = socket.display();
        let Peer {
            program,
            socket_setting,
            ..
        } = peer;
        let user = peer.user();
        match self {
            Cause::NoSocket => format!(
                "{sock} does not exist: is ledd running? start it (systemctl start ledd.socket), and check that {program}'s {socket_setting} is ledd's `socket`"
            ),
            Cause::PermissionDenied => format!(
                "permission denied on {sock} for uid {uid} gid {gid}: give {user} ledd's socket group: in ledd's config `socket_group` (\"tinsel\" as packaged) and `socket_mode = \"0660\"` (under systemd: SocketGroup= and SocketMode= in ledd.socket), and let that group search the socket's directory"
            ),
            Cause::NotListening => format!(
                "nothing listens on {sock}: is ledd running? (the file may be left by a stopped ledd): start or restart ledd"
            ),
            Cause::NoRole(msg) => format!(
                "ledd gives uid {uid} gid {gid} no role (not_allowed: {msg}): add {user} to `[access] hooks_users` in ledd's config (or its group to `hooks_groups`), then reload ledd (systemctl reload ledd)"
            ),
            Cause::Version { ours, theirs } => format!(
                "ledd at {sock} speaks protocol version {theirs}, {program} {ours}: install ledd and {program} from the same release"
            ),
            Cause::Refused(r) => format!("ledd at {sock} refused the handshake: {r}"),
            Cause::Timeout(t) => format!(
                "ledd at {sock} accepted but did not answer the handshake within {t:?}: see `journalctl -u ledd`"
            ),
            Cause::Protocol(what) => {
                format!("{sock}: {what}: is it ledd's socket? check {socket_setting}")
            }
            Cause::Os(e) => format!("{sock}: {e}"),
        }
    }
}

impl std::fmt::Display for Cause {
    /// The cause in a few words; [`Cause::explain`] adds the fix.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::NoSocket => f.write_str("no socket"),
            Cause::PermissionDenied => f.write_str("permission denied on the socket"),
            Cause::NotListening => f.write_str("nothing listens on the socket"),
            Cause::NoRole(msg) => write!(f, "no role ({msg})"),
            Cause::Version { ours, theirs } => {
                write!(
                    f,
                    "ledd speaks protocol version {theirs}, this client {ours}"
                )
            }
            Cause::Refused(r) => write!(f, "handshake refused: {r}"),
            Cause::Timeout(t) => write!(f, "no answer to the handshake within {t:?}"),
            Cause::Protocol(what) | Cause::Os(what) => f.write_str(what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEBD: Peer = Peer::daemon("webd", "tinsel-web");

    #[test]
    fn a_permission_denied_socket_names_the_socket_settings_and_the_user() {
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let cause = Cause::from_io(&e);
        assert_eq!(cause, Cause::PermissionDenied);
        let text = cause.explain(Path::new("/run/tinsel/ledd.sock"), WEBD);
        assert!(text.contains("/run/tinsel/ledd.sock"), "{text}");
        assert!(text.contains("tinsel-web"), "{text}");
        assert!(
            text.contains("socket_group") && text.contains("socket_mode"),
            "{text}"
        );
    }

    #[test]
    fn no_role_names_the_access_list_and_the_packaged_user() {
        let cause = Cause::from_handshake(HandshakeError::NoRole("uid 7".into()));
        let text = cause.explain(Path::new("/s"), Peer::daemon("mqttd", "tinsel-mqtt"));
        assert!(text.contains("[access] hooks_users"), "{text}");
        assert!(text.contains("tinsel-mqtt"), "{text}");
        assert!(text.contains("uid 7"), "{text}");
    }

    #[test]
    fn a_missing_socket_names_where_the_path_is_set() {
        let text = Cause::NoSocket.explain(Path::new("/s"), WEBD);
        assert!(text.contains("`ledd_socket`"), "{text}");
        assert!(text.contains("is ledd running?"), "{text}");
        let ledctl = Peer {
            program: "ledctl",
            package_user: None,
            socket_setting: "--socket",
        };
        let text = Cause::NoSocket.explain(Path::new("/s"), ledctl);
        assert!(text.contains("--socket"), "{text}");
    }
}
