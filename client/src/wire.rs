//! What the blocking and the async connection share on the wire.

use tinsel_proto::{MAX_WIRE_LEN, Request};

use crate::LeddError;

/// `request` framed into `buf`.
pub(crate) fn encode<'b>(
    request: &Request,
    buf: &'b mut [u8; MAX_WIRE_LEN],
) -> Result<&'b [u8], LeddError> {
    let n = tinsel_proto::encode_into(request, buf)
        .map_err(|e| LeddError::Protocol(format!("cannot encode the request: {e}")))?;
    Ok(&buf[..n])
}

/// Whether a failed write means only that ledd has closed its side. ledd
/// answers a peer it refuses (no role) before reading, then closes: the
/// write fails, but the answer is there to read.
pub(crate) fn peer_closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
    )
}

/// Whether a read error is the socket's timeout running out.
pub(crate) fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
