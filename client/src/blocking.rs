//! A blocking connection to ledd: connect, `Hello`, then one request and
//! its answer at a time. ledctl is built on it, and so is every daemon's
//! `--check-config` probe ([`probe`]); it needs no async runtime.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use tinsel_proto::handshake;
use tinsel_proto::{FrameReader, MAX_WIRE_LEN, Request, Response, Welcome};

use crate::wire::{encode, peer_closed, timed_out};
use crate::{Cause, LeddError};

/// A greeted connection to ledd.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    reader: Box<FrameReader>,
    wbuf: Box<[u8; MAX_WIRE_LEN]>,
    /// ledd's side of the handshake.
    pub welcome: Welcome,
}

impl Client {
    /// Connects to `socket` and says `Hello`; every read and write of the
    /// connection then times out after `timeout`. A failure before the
    /// session begins is [`LeddError::Unreachable`] with its cause.
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Client, LeddError> {
        let unreachable = |e: std::io::Error| {
            LeddError::Unreachable(if timed_out(&e) {
                Cause::Timeout(timeout)
            } else {
                Cause::from_io(&e)
            })
        };
        let stream = UnixStream::connect(socket).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(unreachable)?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(unreachable)?;
        let mut client = Client {
            stream,
            reader: Box::new(FrameReader::new()),
            wbuf: Box::new([0; MAX_WIRE_LEN]),
            // Replaced by ledd's below, before the client is handed out.
            welcome: Welcome {
                version: 0,
                role: tinsel_proto::Role::Hooks,
                led_count: 0,
                animations: tinsel_proto::AnimationSet::default(),
                white: false,
            },
        };
        let reply = client.exchange(&handshake::hello()).map_err(|e| {
            LeddError::Unreachable(match e {
                LeddError::Timeout => Cause::Timeout(timeout),
                LeddError::Unreachable(cause) => cause,
                other => Cause::Protocol(other.to_string()),
            })
        })?;
        client.welcome = handshake::check_welcome(reply, tinsel_proto::VERSION)
            .map_err(|e| LeddError::Unreachable(Cause::from_handshake(e)))?;
        Ok(client)
    }

    /// Sends `request` without reading (a stream's start: `Watch`).
    pub fn send(&mut self, request: &Request) -> Result<(), LeddError> {
        let bytes = encode(request, &mut self.wbuf)?;
        self.stream.write_all(bytes).map_err(lost)
    }

    /// Reads the next answer; an error reply is [`LeddError::Refused`].
    pub fn recv(&mut self) -> Result<Response, LeddError> {
        match self.answer()? {
            Response::Error(e) => Err(LeddError::Refused(e)),
            other => Ok(other),
        }
    }

    /// Sends `request` and reads its answer (an error reply is
    /// [`LeddError::Refused`]).
    pub fn request(&mut self, request: &Request) -> Result<Response, LeddError> {
        match self.exchange(request)? {
            Response::Error(e) => Err(LeddError::Refused(e)),
            other => Ok(other),
        }
    }

    /// Sends `request` and reads the next frame as it is. If the send
    /// fails because ledd already closed (it refused this peer), ledd's
    /// reason is read instead.
    fn exchange(&mut self, request: &Request) -> Result<Response, LeddError> {
        let bytes = encode(request, &mut self.wbuf)?;
        if let Err(e) = self.stream.write_all(bytes)
            && !peer_closed(&e)
        {
            return Err(lost(e));
        }
        self.answer()
    }

    /// The next frame from ledd.
    fn answer(&mut self) -> Result<Response, LeddError> {
        loop {
            if let Some(resp) = self
                .reader
                .next_frame::<Response>()
                .map_err(|e| LeddError::Protocol(e.to_string()))?
            {
                return Ok(resp);
            }
            match self.stream.read(self.reader.spare()) {
                Ok(0) => return Err(LeddError::Lost("ledd closed the connection".into())),
                Ok(n) => self.reader.filled(n),
                Err(e) => return Err(lost(e)),
            }
        }
    }
}

/// A failed read or write: the socket's timeout, or a broken connection.
fn lost(e: std::io::Error) -> LeddError {
    if timed_out(&e) {
        LeddError::Timeout
    } else {
        LeddError::Lost(e.to_string())
    }
}

/// Connects to `socket` and says `Hello`, each step within `limit`: what
/// `--check-config` reports, run as the daemon's user.
pub fn probe(socket: &Path, limit: Duration) -> Result<Welcome, Cause> {
    match Client::connect(socket, limit) {
        Ok(client) => Ok(client.welcome),
        Err(LeddError::Unreachable(cause)) => Err(cause),
        Err(other) => Err(Cause::Protocol(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use tinsel_proto::{AnimationSet, ErrorCode, ErrorReply, Role, VERSION};

    /// Runs a one-connection server at a temp path that reads the Hello
    /// and answers `reply`; returns what [`Client::connect`] made of it.
    fn connect_to_one_reply(reply: Response) -> Result<Client, LeddError> {
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
            role: Role::Admin,
            led_count: 8,
            animations: AnimationSet::default(),
            white: false,
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
        assert_eq!(
            err,
            LeddError::Unreachable(Cause::Version {
                ours: VERSION,
                theirs
            })
        );
        let msg = err.to_string();
        assert!(msg.contains(&format!("version {theirs}")), "{msg}");
        assert!(msg.contains(&format!("client {VERSION}")), "{msg}");
    }

    #[test]
    fn a_handshake_answered_with_something_else_is_a_protocol_cause() {
        let err = connect_to_one_reply(Response::Ok).unwrap_err();
        assert!(
            matches!(err, LeddError::Unreachable(Cause::Protocol(_))),
            "{err:?}"
        );
    }

    #[test]
    fn no_role_is_its_own_cause() {
        let reply = Response::Error(ErrorReply::new(ErrorCode::NotAllowed, "uid 5: no role"));
        let err = connect_to_one_reply(reply).unwrap_err();
        assert_eq!(
            err,
            LeddError::Unreachable(Cause::NoRole("uid 5: no role".into()))
        );
    }

    #[test]
    fn the_probe_tells_a_missing_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledd.sock");
        let limit = Duration::from_millis(200);
        assert_eq!(probe(&path, limit), Err(Cause::NoSocket));
    }

    #[test]
    #[cfg_attr(
        target_arch = "arm",
        ignore = "in the emulated Pi Zero the socket timeout did not end a read from a listener that never accepts: to be understood on a real Pi"
    )]
    fn the_probe_gives_up_on_a_silent_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledd.sock");
        let limit = Duration::from_millis(200);
        // Accepts (the backlog does) but never answers the Hello.
        let _listener = UnixListener::bind(&path).unwrap();
        assert_eq!(probe(&path, limit), Err(Cause::Timeout(limit)));
    }
}
