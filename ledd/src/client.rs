//! The client side of the protocol over a blocking Unix stream: connect,
//! say Hello, send requests and read responses. `ledctl` is built on it;
//! the tests use it to talk to a real ledd.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tinsel_proto::handshake::{self, HandshakeError};
use tinsel_proto::{
    ErrorReply, FrameError, FrameReader, MAX_WIRE_LEN, Request, Response, VERSION, Welcome,
    encode_into,
};

/// A conversation with ledd that failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached.
    #[error("cannot connect to ledd at {path}: {source} (is ledd running? is --socket right?)")]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Reading or writing failed.
    #[error("talking to ledd: {0}")]
    Io(#[from] io::Error),
    /// ledd's answer did not decode.
    #[error("ledd's answer does not decode: {0}")]
    Frame(#[from] FrameError),
    /// ledd closed the connection.
    #[error("ledd closed the connection")]
    Closed,
    /// ledd answered with an error.
    #[error("ledd refused: {0}")]
    Refused(ErrorReply),
    /// ledd answered something else than expected.
    #[error("unexpected answer from ledd: {0}")]
    Unexpected(String),
    /// ledd welcomed the client but speaks another protocol version.
    #[error("{0}")]
    Version(HandshakeError),
}

impl From<HandshakeError> for ClientError {
    /// An error reply stays [`ClientError::Refused`] (ledd's code decides
    /// the exit code), anything else is [`ClientError::Unexpected`], as
    /// for every other request.
    fn from(e: HandshakeError) -> ClientError {
        match e {
            HandshakeError::NoRole(message) => ClientError::Refused(ErrorReply {
                code: tinsel_proto::ErrorCode::NotAllowed,
                message,
            }),
            HandshakeError::Refused(reply) => ClientError::Refused(reply),
            HandshakeError::Unexpected(other) => ClientError::Unexpected(format!("{other:?}")),
            version @ HandshakeError::Version { .. } => ClientError::Version(version),
        }
    }
}

/// A connection to ledd after the handshake.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    reader: Box<FrameReader>,
    wbuf: Box<[u8; MAX_WIRE_LEN]>,
    /// ledd's side of the handshake.
    pub welcome: Welcome,
}

impl Client {
    /// Connects to `path` and says Hello. Reads time out after `timeout`.
    /// The per-user default socket is refused when its directory is not
    /// the user's own ([`check_user_socket`]).
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client, ClientError> {
        let connect_err = |source| ClientError::Connect {
            path: path.to_owned(),
            source,
        };
        check_user_socket(path).map_err(connect_err)?;
        let stream = UnixStream::connect(path).map_err(connect_err)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut c = Client {
            stream,
            reader: Box::new(FrameReader::new()),
            wbuf: Box::new([0; MAX_WIRE_LEN]),
            welcome: Welcome {
                version: 0,
                role: tinsel_proto::Role::Hooks,
                led_count: 0,
                animations: tinsel_proto::AnimationSet::default(),
            },
        };
        let reply = c.request(&handshake::hello())?;
        c.welcome = handshake::check_welcome(reply, VERSION)?;
        Ok(c)
    }

    /// Sends `req` without reading.
    pub fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        let n = encode_into(req, &mut self.wbuf)?;
        self.stream.write_all(&self.wbuf[..n])?;
        Ok(())
    }

    /// Reads the next response. An error reply is returned as
    /// [`ClientError::Refused`].
    pub fn recv(&mut self) -> Result<Response, ClientError> {
        loop {
            if let Some(resp) = self.reader.next_frame::<Response>()? {
                return match resp {
                    Response::Error(e) => Err(ClientError::Refused(e)),
                    other => Ok(other),
                };
            }
            let n = self.stream.read(self.reader.spare())?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            self.reader.filled(n);
        }
    }

    /// Sends `req` and reads one response. If the send fails because ledd
    /// already closed (it refused this peer), ledd's reason is read instead.
    pub fn request(&mut self, req: &Request) -> Result<Response, ClientError> {
        if let Err(e) = self.send(req) {
            return match self.recv() {
                Err(ClientError::Closed) | Err(ClientError::Io(_)) => Err(e),
                other => other,
            };
        }
        self.recv()
    }
}

/// For an ordinary user's default socket ([`crate::config::default_socket`]):
/// the directory holding it must be a directory of this user's that no one
/// else may write ([`crate::config::check_user_socket_dir`]); otherwise
/// another user could have put a socket of theirs where ledctl looks. A
/// missing directory passes (connecting then says ledd is not running).
/// Any other path (root's, `--socket`) is the caller's choice.
pub fn check_user_socket(path: &Path) -> io::Result<()> {
    let euid = nix::unistd::geteuid().as_raw();
    if euid == 0 || path != crate::config::default_socket() {
        return Ok(());
    }
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        _ => crate::config::check_user_socket_dir(dir, euid)
            .map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// Runs a one-connection server at a temp path that reads the Hello
    /// and answers `reply`; returns what [`Client::connect`] made of it.
    fn connect_to_one_reply(reply: Response) -> Result<Client, ClientError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledd.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = FrameReader::new();
            loop {
                if let Some(Request::Hello { .. }) = reader.next_frame::<Request>().unwrap() {
                    break;
                }
                let n = stream.read(reader.spare()).unwrap();
                assert_ne!(n, 0, "the client hung up before Hello");
                reader.filled(n);
            }
            stream
                .write_all(&tinsel_proto::encode(&reply).unwrap())
                .unwrap();
        });
        let client = Client::connect(&path, Duration::from_secs(5));
        server.join().unwrap();
        client
    }

    fn welcome(version: u16) -> Welcome {
        Welcome {
            version,
            role: tinsel_proto::Role::Admin,
            led_count: 8,
            animations: tinsel_proto::AnimationSet::default(),
        }
    }

    #[test]
    fn a_welcome_of_this_version_connects() {
        let client = connect_to_one_reply(Response::Welcome(welcome(VERSION))).unwrap();
        assert_eq!(client.welcome, welcome(VERSION));
    }

    #[test]
    fn a_welcome_of_another_version_is_refused_naming_both() {
        let theirs = VERSION + 1;
        let err = connect_to_one_reply(Response::Welcome(welcome(theirs))).unwrap_err();
        assert!(matches!(err, ClientError::Version(_)), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("version {theirs}")), "{msg}");
        assert!(msg.contains(&format!("client {VERSION}")), "{msg}");
    }

    #[test]
    fn a_handshake_answered_with_something_else_is_unexpected() {
        let err = connect_to_one_reply(Response::Ok).unwrap_err();
        assert!(matches!(err, ClientError::Unexpected(_)), "{err:?}");
    }
}
