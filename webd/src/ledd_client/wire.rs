//! One request and its answer on ledd's socket: the connection, the
//! `Hello` exchange, and how a closed or broken link is told apart.

use std::path::Path;

use tinsel_proto::handshake::{self, HandshakeError};
use tinsel_proto::{FrameReader, MAX_WIRE_LEN, Request, Response, Welcome};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

/// An open, greeted connection to ledd.
pub(super) struct Conn {
    pub(super) stream: UnixStream,
    pub(super) reader: Box<FrameReader>,
}

/// Whether a failed write means only that ledd has closed its side (after
/// sending a reply, perhaps).
pub(super) fn peer_closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
    )
}

/// Whether a readable idle connection means ledd is gone.
pub(super) fn peer_gone(conn: &mut Conn) -> bool {
    match conn.stream.try_read(conn.reader.spare()) {
        Ok(0) => true,
        // Unasked bytes: ledd broke the protocol.
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

#[derive(Debug, thiserror::Error)]
pub(super) enum LinkError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Frame(#[from] tinsel_proto::FrameError),
    #[error("ledd closed the connection")]
    Closed,
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
}

pub(super) async fn handshake(socket: &Path) -> Result<(Conn, Welcome), LinkError> {
    let stream = UnixStream::connect(socket).await?;
    let mut conn = Conn {
        stream,
        reader: Box::new(FrameReader::new()),
    };
    let reply = exchange(&mut conn, &handshake::hello()).await?;
    Ok((conn, welcome(reply)?))
}

/// ledd's answer to `Hello`, checked.
pub(super) fn welcome(reply: Response) -> Result<Welcome, LinkError> {
    Ok(handshake::check_welcome(reply, tinsel_proto::VERSION)?)
}

pub(super) async fn exchange(conn: &mut Conn, request: &Request) -> Result<Response, LinkError> {
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = tinsel_proto::encode_into(request, &mut buf)?;
    if let Err(e) = conn.stream.write_all(&buf[..n]).await {
        // ledd answers a peer it refuses (no role) before reading, then
        // closes: the write may fail, but the answer is there to read.
        if !peer_closed(&e) {
            return Err(e.into());
        }
    }
    loop {
        if let Some(resp) = conn.reader.next_frame::<Response>()? {
            return Ok(resp);
        }
        conn.stream.readable().await?;
        match conn.stream.try_read(conn.reader.spare()) {
            Ok(0) => return Err(LinkError::Closed),
            Ok(n) => conn.reader.filled(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
    }
}
