//! The blocking probe behind `webd --check-config`: the same connection
//! and handshake as the link, without a runtime.

use std::path::Path;
use std::time::Duration;

use tinsel_proto::handshake;
use tinsel_proto::{FrameReader, MAX_WIRE_LEN, Response, Welcome};

use super::Unreachable;
use super::wire::{LinkError, peer_closed, welcome};

/// Connects to `socket` and says `Hello`, blocking, each step within
/// `limit`: what `webd --check-config` reports, run as webd's user. Needs
/// no runtime.
pub fn probe(socket: &Path, limit: Duration) -> Result<Welcome, Unreachable> {
    use std::io::{Read as _, Write as _};
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            Unreachable::Timeout(limit)
        }
        _ => Unreachable::from_io(&e),
    };
    let mut stream = std::os::unix::net::UnixStream::connect(socket).map_err(io)?;
    stream.set_read_timeout(Some(limit)).map_err(io)?;
    stream.set_write_timeout(Some(limit)).map_err(io)?;
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = tinsel_proto::encode_into(&handshake::hello(), &mut buf)
        .map_err(|e| Unreachable::from_link(e.into()))?;
    if let Err(e) = stream.write_all(&buf[..n]) {
        // As in `exchange`: a refusal may already be waiting.
        if !peer_closed(&e) {
            return Err(io(e));
        }
    }
    let mut reader = FrameReader::new();
    loop {
        if let Some(reply) = reader
            .next_frame::<Response>()
            .map_err(|e| Unreachable::from_link(e.into()))?
        {
            return welcome(reply).map_err(Unreachable::from_link);
        }
        match stream.read(reader.spare()) {
            Ok(0) => return Err(Unreachable::from_link(LinkError::Closed)),
            Ok(n) => reader.filled(n),
            Err(e) => return Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledd_client::tests::fake_ledd;
    use std::sync::Arc;
    use tinsel_proto::Role;
    use tokio::net::UnixListener;

    #[test]
    fn the_blocking_probe_reports_the_role_or_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledd.sock");
        let limit = Duration::from_secs(2);
        assert_eq!(probe(&path, limit), Err(Unreachable::NoSocket));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _serving = rt.enter();
        let listener = UnixListener::bind(&path).unwrap();
        let server = rt.spawn(fake_ledd(listener, Arc::default()));
        let thread = std::thread::spawn({
            let path = path.clone();
            move || probe(&path, limit)
        });
        let welcome = rt.block_on(async {
            loop {
                if thread.is_finished() {
                    return thread.join().unwrap();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        assert_eq!(welcome.map(|w| w.role), Ok(Role::Hooks));
        server.abort();
    }
}
