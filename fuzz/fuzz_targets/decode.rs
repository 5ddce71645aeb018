//! Feeds arbitrary bytes to both decoders and to the stream reader, split at
//! a point the fuzzer chooses. Any panic is a bug; so is a frame reported
//! larger than the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinsel_proto::{Decoded, FrameReader, MAX_WIRE_LEN, Request, Response, decode};

fuzz_target!(|data: &[u8]| {
    if let Ok(Decoded::Frame { consumed, .. }) = decode::<Request>(data) {
        assert!(consumed <= MAX_WIRE_LEN);
    }
    if let Ok(Decoded::Frame { consumed, .. }) = decode::<Response>(data) {
        assert!(consumed <= MAX_WIRE_LEN);
    }
    let mut reader = FrameReader::new();
    let split = data.first().map_or(1, |b| usize::from(*b).max(1));
    for chunk in data.chunks(split) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let spare = reader.spare();
            assert!(!spare.is_empty());
            let n = spare.len().min(rest.len());
            spare[..n].copy_from_slice(&rest[..n]);
            reader.filled(n);
            rest = &rest[n..];
            while let Ok(Some(_)) | Err(_) = reader.next_frame::<Request>() {}
        }
    }
});
