//! Sans-IO framing: a little-endian `u16` payload length, then a postcard
//! payload of at most [`MAX_FRAME_LEN`] bytes.
//!
//! The length is checked before a single payload byte is buffered, and the
//! buffer is a fixed array: a peer that announces 65 535 bytes makes the
//! reader reserve nothing. "Need more bytes" is an ordinary answer, not an
//! error. After an over-long or undecodable frame the reader stays in step
//! with the stream (it skips the announced bytes), so a server can answer the
//! error and carry on, counting it against the connection.

use core::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest payload a frame may carry, in bytes. A full frame chunk of
/// [`crate::MAX_CHUNK_PIXELS`] pixels is 900 bytes plus a few of header.
pub const MAX_FRAME_LEN: usize = 1024;

/// The size of the length prefix.
pub const LEN_PREFIX: usize = 2;

/// The largest frame on the wire, prefix included.
pub const MAX_WIRE_LEN: usize = LEN_PREFIX + MAX_FRAME_LEN;

/// A frame that could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix announces more than [`MAX_FRAME_LEN`] bytes.
    TooLong {
        /// The announced payload length.
        len: usize,
    },
    /// The payload is not a valid message.
    Decode(postcard::Error),
    /// The payload holds a valid message and then `extra` more bytes: a
    /// frame carries exactly one message.
    Trailing {
        /// The bytes left over after the message.
        extra: usize,
    },
    /// The message does not fit in a frame (a bug on the sending side).
    Encode(postcard::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { len } => write!(
                f,
                "frame of {len} bytes exceeds the {MAX_FRAME_LEN}-byte limit"
            ),
            FrameError::Decode(e) => write!(f, "payload does not decode: {e}"),
            FrameError::Trailing { extra } => write!(
                f,
                "payload has {extra} bytes after its message: a frame carries exactly one message"
            ),
            FrameError::Encode(e) => write!(f, "message does not encode into a frame: {e}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::TooLong { .. } | FrameError::Trailing { .. } => None,
            FrameError::Decode(e) | FrameError::Encode(e) => Some(e),
        }
    }
}

/// The outcome of [`decode`] on a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A whole frame was decoded from the first `consumed` bytes.
    Frame {
        /// The message.
        msg: T,
        /// Bytes of the buffer it took, prefix included.
        consumed: usize,
    },
    /// The buffer holds only part of a frame: read at least `needed` more
    /// bytes.
    NeedMore {
        /// Bytes still missing for the frame (or its prefix).
        needed: usize,
    },
}

/// Encodes `msg` into `out` as one frame and returns the frame's length.
/// Allocates nothing.
pub fn encode_into<T: Serialize>(
    msg: &T,
    out: &mut [u8; MAX_WIRE_LEN],
) -> Result<usize, FrameError> {
    let (prefix, payload) = out.split_at_mut(LEN_PREFIX);
    let len = postcard::to_slice(msg, payload)
        .map_err(FrameError::Encode)?
        .len();
    // `len <= MAX_FRAME_LEN < u16::MAX`, so the cast is lossless.
    prefix.copy_from_slice(&(len as u16).to_le_bytes());
    Ok(LEN_PREFIX + len)
}

/// Encodes `msg` as one frame in a new vector.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = encode_into(msg, &mut buf)?;
    Ok(buf[..n].to_vec())
}

/// Reads the length prefix at the start of `buf`: `Ok(None)` when fewer than
/// two bytes are there.
fn payload_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.first_chunk::<LEN_PREFIX>() else {
        return Ok(None);
    };
    let len = usize::from(u16::from_le_bytes(*prefix));
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLong { len });
    }
    Ok(Some(len))
}

/// Decodes the first frame in `buf`, if it is all there.
///
/// An over-long prefix is refused as soon as its two bytes are seen. The
/// payload must decode to exactly one message: bytes left over after it are
/// [`FrameError::Trailing`], never silently dropped (a peer could otherwise
/// smuggle data past every check that reads the message alone).
pub fn decode<T: DeserializeOwned>(buf: &[u8]) -> Result<Decoded<T>, FrameError> {
    let Some(len) = payload_len(buf)? else {
        return Ok(Decoded::NeedMore {
            needed: LEN_PREFIX - buf.len(),
        });
    };
    let Some(payload) = buf.get(LEN_PREFIX..LEN_PREFIX + len) else {
        return Ok(Decoded::NeedMore {
            needed: LEN_PREFIX + len - buf.len(),
        });
    };
    let (msg, rest) = postcard::take_from_bytes(payload).map_err(FrameError::Decode)?;
    if !rest.is_empty() {
        return Err(FrameError::Trailing { extra: rest.len() });
    }
    Ok(Decoded::Frame {
        msg,
        consumed: LEN_PREFIX + len,
    })
}

/// A stream reader with a fixed buffer of one maximal frame.
///
/// The I/O loop reads into [`FrameReader::spare`], reports the count with
/// [`FrameReader::filled`], then calls [`FrameReader::next_frame`] until it
/// answers `Ok(None)`.
pub struct FrameReader {
    buf: [u8; MAX_WIRE_LEN],
    /// Start of unconsumed data in `buf`.
    start: usize,
    /// End of data in `buf`.
    end: usize,
    /// Payload bytes of a refused frame still to be thrown away.
    skip: usize,
}

impl fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &(self.end - self.start))
            .field("skip", &self.skip)
            .finish()
    }
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameReader {
    /// An empty reader.
    pub const fn new() -> Self {
        FrameReader {
            buf: [0; MAX_WIRE_LEN],
            start: 0,
            end: 0,
            skip: 0,
        }
    }

    /// The free space to read into. Never empty while
    /// [`FrameReader::next_frame`] has no whole frame to give.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// Records that `n` bytes were read into [`FrameReader::spare`].
    ///
    /// # Panics
    ///
    /// If `n` is larger than the spare space last handed out, which is a bug
    /// in the caller.
    pub fn filled(&mut self, n: usize) {
        assert!(self.end + n <= MAX_WIRE_LEN, "filled past the buffer");
        self.end += n;
        self.discard_skipped();
    }

    fn discard_skipped(&mut self) {
        let drop = self.skip.min(self.end - self.start);
        self.start += drop;
        self.skip -= drop;
    }

    /// Whether part of a frame is buffered or still being skipped: a server
    /// uses this to apply its partial-frame timeout.
    pub fn is_mid_frame(&self) -> bool {
        self.skip > 0 || self.end > self.start
    }

    /// The next whole frame, `Ok(None)` if more bytes are needed.
    ///
    /// On [`FrameError::TooLong`] the announced payload is skipped as it
    /// arrives; on [`FrameError::Decode`] or [`FrameError::Trailing`] the
    /// bad frame is dropped. Either
    /// way the reader stays in step and the caller may go on reading.
    pub fn next_frame<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        let data = &self.buf[self.start..self.end];
        match decode(data) {
            Ok(Decoded::Frame { msg, consumed }) => {
                self.start += consumed;
                Ok(Some(msg))
            }
            Ok(Decoded::NeedMore { .. }) => Ok(None),
            Err(FrameError::TooLong { len }) => {
                self.start += LEN_PREFIX;
                self.skip = len;
                self.discard_skipped();
                Err(FrameError::TooLong { len })
            }
            Err(e) => {
                // `decode` only fails on the payload after the whole frame is
                // buffered, so the prefix is readable here.
                let len = payload_len(data).ok().flatten().unwrap_or(0);
                self.start += LEN_PREFIX + len;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Request, Response};

    #[test]
    fn oversized_prefix_is_refused_from_two_bytes() {
        let r = decode::<Request>(&[0xff, 0xff]);
        assert_eq!(r, Err(FrameError::TooLong { len: 65535 }));
        let cap = (MAX_FRAME_LEN as u16).to_le_bytes();
        assert_eq!(
            decode::<Request>(&cap),
            Ok(Decoded::NeedMore {
                needed: MAX_FRAME_LEN
            })
        );
        let over = (MAX_FRAME_LEN as u16 + 1).to_le_bytes();
        assert!(matches!(
            decode::<Request>(&over),
            Err(FrameError::TooLong { .. })
        ));
    }

    #[test]
    fn need_more_counts_missing_bytes() {
        assert_eq!(decode::<Request>(&[]), Ok(Decoded::NeedMore { needed: 2 }));
        assert_eq!(decode::<Request>(&[5]), Ok(Decoded::NeedMore { needed: 1 }));
        assert_eq!(
            decode::<Request>(&[5, 0, 1]),
            Ok(Decoded::NeedMore { needed: 4 })
        );
    }

    #[test]
    fn reader_splits_and_joins_frames() {
        let mut wire = encode(&Request::Off).unwrap();
        wire.extend(encode(&Request::Status).unwrap());
        wire.extend(encode(&Request::Hello { version: 7 }).unwrap());
        let mut reader = FrameReader::new();
        let mut got = Vec::new();
        // Feed one byte at a time: every split point is exercised.
        for b in wire {
            reader.spare()[0] = b;
            reader.filled(1);
            while let Some(req) = reader.next_frame::<Request>().unwrap() {
                got.push(req);
            }
        }
        assert_eq!(
            got,
            vec![Request::Off, Request::Status, Request::Hello { version: 7 }]
        );
        assert!(!reader.is_mid_frame());
    }

    #[test]
    fn reader_skips_an_oversized_frame_and_stays_in_step() {
        let mut reader = FrameReader::new();
        let junk = 3000usize;
        let mut wire = (junk as u16).to_le_bytes().to_vec();
        wire.extend(std::iter::repeat_n(0xAA, junk));
        wire.extend(encode(&Request::Status).unwrap());
        let mut errors = 0;
        let mut got = Vec::new();
        for chunk in wire.chunks(700) {
            reader.spare()[..chunk.len()].copy_from_slice(chunk);
            reader.filled(chunk.len());
            loop {
                match reader.next_frame::<Request>() {
                    Ok(Some(r)) => got.push(r),
                    Ok(None) => break,
                    Err(FrameError::TooLong { len }) => {
                        assert_eq!(len, junk);
                        errors += 1;
                    }
                    Err(e) => panic!("unexpected {e}"),
                }
            }
        }
        assert_eq!(errors, 1);
        assert_eq!(got, vec![Request::Status]);
    }

    #[test]
    fn reader_drops_an_undecodable_frame() {
        let mut reader = FrameReader::new();
        let mut wire = vec![3, 0, 0xff, 0xff, 0xff];
        wire.extend(encode(&Request::Off).unwrap());
        reader.spare()[..wire.len()].copy_from_slice(&wire);
        reader.filled(wire.len());
        assert!(matches!(
            reader.next_frame::<Request>(),
            Err(FrameError::Decode(_))
        ));
        assert_eq!(reader.next_frame::<Request>(), Ok(Some(Request::Off)));
    }

    #[test]
    fn a_frame_decodes_to_exactly_one_message() {
        // A valid Hello (tag 0, version 1) and then two bytes of garbage,
        // inside one honest frame.
        let wire = [4, 0, 0, 1, 0xde, 0xad];
        assert_eq!(
            decode::<Request>(&wire),
            Err(FrameError::Trailing { extra: 2 })
        );
        // Two whole messages in one frame are refused the same way.
        let mut two = encode(&Request::Off).unwrap()[LEN_PREFIX..].to_vec();
        two.extend_from_slice(&encode(&Request::Status).unwrap()[LEN_PREFIX..]);
        let mut framed = (two.len() as u16).to_le_bytes().to_vec();
        framed.extend(&two);
        assert_eq!(
            decode::<Request>(&framed),
            Err(FrameError::Trailing { extra: 1 })
        );
        let msg = FrameError::Trailing { extra: 2 }.to_string();
        assert!(msg.contains("2 bytes after"), "{msg}");
    }

    #[test]
    fn reader_drops_a_frame_with_trailing_bytes_and_stays_in_step() {
        let mut reader = FrameReader::new();
        let mut wire = vec![4, 0, 0, 1, 0xde, 0xad];
        wire.extend(encode(&Request::Status).unwrap());
        reader.spare()[..wire.len()].copy_from_slice(&wire);
        reader.filled(wire.len());
        assert_eq!(
            reader.next_frame::<Request>(),
            Err(FrameError::Trailing { extra: 2 })
        );
        assert_eq!(reader.next_frame::<Request>(), Ok(Some(Request::Status)));
        assert!(!reader.is_mid_frame());
    }

    #[test]
    fn the_largest_message_fits() {
        use crate::{FrameChunk, MAX_CHUNK_PIXELS, Pixels, Rgb};
        let chunk = Response::Frame(FrameChunk {
            frame: u64::MAX,
            offset: u16::MAX,
            total: u16::MAX,
            pixels: Pixels::from_rgb(&[Rgb::new(255, 255, 255); MAX_CHUNK_PIXELS]).unwrap(),
        });
        let wire = encode(&chunk).unwrap();
        assert!(wire.len() <= MAX_WIRE_LEN);
    }
}
