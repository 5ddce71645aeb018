//! A real server for the tests of this module: a temporary socket, served
//! by [`run`] over a real frame loop on a simulated strip, and helpers that
//! speak the wire format byte by byte. The test's own uid is admin, so it
//! runs as any user.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tinsel_proto::{ErrorReply, Request, Response, VERSION};
use tokio::net::UnixListener;
use tokio::sync::watch;

use super::{State, bind, run};
use crate::config::Access;
use crate::engine;

/// A real server on a temporary socket, over a real frame loop on a
/// simulated strip; the test's own uid is admin, so it runs as any user.
pub(super) struct TestServer {
    _dir: tempfile::TempDir,
    path: PathBuf,
    stop: Option<watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
    engine: Option<engine::EngineHandle>,
}

impl TestServer {
    pub(super) fn start() -> TestServer {
        use crate::config::{Config, Overrides};
        let mut config = Config::load(None, &Overrides::default()).unwrap();
        config.strip.count = 10;
        let engine = engine::EngineHandle::start(&config, None).unwrap();
        let access = Access {
            admin_uids: vec![nix::unistd::getuid().as_raw()],
            ..Access::default()
        };
        let state = Arc::new(State::new(&engine, access).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledd.sock");
        let listener = bind(&path, 0o600, None).unwrap();
        let (stop, rx) = watch::channel(false);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let listener = UnixListener::from_std(listener.socket).unwrap();
                run(listener, state, rx).await;
            });
        });
        TestServer {
            _dir: dir,
            path,
            stop: Some(stop),
            thread: Some(thread),
            engine: Some(engine),
        }
    }

    /// A raw connection that has said Hello.
    pub(super) fn hello(&self) -> std::os::unix::net::UnixStream {
        let mut s = self.raw();
        send(
            &mut s,
            &tinsel_proto::encode(&Request::Hello { version: VERSION }).unwrap(),
        );
        assert!(matches!(recv(&mut s), Some(Response::Welcome(_))));
        s
    }

    pub(super) fn raw(&self) -> std::os::unix::net::UnixStream {
        let s = std::os::unix::net::UnixStream::connect(&self.path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(e) = self.engine.take() {
            e.stop();
        }
    }
}

pub(super) fn send(s: &mut std::os::unix::net::UnixStream, bytes: &[u8]) {
    use std::io::Write;
    s.write_all(bytes).unwrap();
}

/// The next response, `None` once ledd closed the connection.
pub(super) fn recv(s: &mut std::os::unix::net::UnixStream) -> Option<Response> {
    use std::io::Read;
    let mut prefix = [0u8; 2];
    s.read_exact(&mut prefix).ok()?;
    let mut frame = prefix.to_vec();
    frame.resize(2 + usize::from(u16::from_le_bytes(prefix)), 0);
    s.read_exact(&mut frame[2..]).unwrap();
    match tinsel_proto::decode::<Response>(&frame) {
        Ok(tinsel_proto::Decoded::Frame { msg, .. }) => Some(msg),
        other => panic!("ledd sent {other:?}"),
    }
}

pub(super) fn refusal(r: Option<Response>) -> ErrorReply {
    match r {
        Some(Response::Error(e)) => e,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

/// `msg` framed with `garbage` after it, inside the same frame.
pub(super) fn with_trailing(msg: &Request, garbage: &[u8]) -> Vec<u8> {
    let wire = tinsel_proto::encode(msg).unwrap();
    let mut payload = wire[tinsel_proto::LEN_PREFIX..].to_vec();
    payload.extend_from_slice(garbage);
    let mut framed = (payload.len() as u16).to_le_bytes().to_vec();
    framed.extend(payload);
    framed
}
