//! Decoding hostile bytes: never a panic, never an allocation past the frame
//! cap. A counting global allocator measures what each decode reserves on
//! its own thread.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// A counting global allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;
use tinsel_proto::*;

struct Counting;

thread_local! {
    /// Bytes requested by this thread since the last reset.
    static REQUESTED: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` unchanged; the only addition is a
// thread-local counter that never allocates (const-initialised `Cell`).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = REQUESTED.try_with(|r| r.set(r.get() + layout.size()));
        // SAFETY: same contract as ours, passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours, passed through.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = REQUESTED.try_with(|r| r.set(r.get() + new_size));
        // SAFETY: same contract as ours, passed through.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns what it returned and the bytes it asked to allocate.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    REQUESTED.with(|r| r.set(0));
    let out = f();
    (out, REQUESTED.with(|r| r.get()))
}

#[test]
fn a_maximal_length_prefix_reserves_nothing() {
    let (r, bytes) = measure(|| decode::<Request>(&[0xff, 0xff]));
    assert_eq!(r, Err(FrameError::TooLong { len: 65535 }));
    assert_eq!(bytes, 0);

    let mut reader = FrameReader::new();
    let (r, bytes) = measure(|| {
        reader.spare()[..2].copy_from_slice(&[0xff, 0xff]);
        reader.filled(2);
        reader.next_frame::<Request>()
    });
    assert_eq!(r, Err(FrameError::TooLong { len: 65535 }));
    assert_eq!(bytes, 0);
    assert!(
        reader.is_mid_frame(),
        "the announced bytes are still to be skipped"
    );
}

#[test]
fn forged_inner_lengths_reserve_nothing() {
    // An error message claiming 2^32 bytes, and pixels claiming 2^28, in a
    // tiny frame: postcard checks them against the bytes present.
    let msg = [9, 0, 4, 3, 0xff, 0xff, 0xff, 0xff, 0x0f, b'x', b'y'];
    let (r, bytes) = measure(|| decode::<Response>(&msg));
    assert!(r.is_err());
    assert_eq!(bytes, 0);
    let px = [8, 0, 3, 7, 2, 4, 0xff, 0xff, 0xff, 0x7f];
    let (r, bytes) = measure(|| decode::<Response>(&px));
    assert!(r.is_err());
    assert_eq!(bytes, 0);
}

/// Bytes that look like a frame: a prefix that is usually honest, then a
/// known tag, then noise.
fn framed_noise() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..8,
        prop::collection::vec(any::<u8>(), 0..1100),
        any::<bool>(),
    )
        .prop_map(|(tag, body, honest)| {
            let len = if honest {
                body.len() + 1
            } else {
                body.len() * 7 + 3
            };
            let mut v = (len.min(65535) as u16).to_le_bytes().to_vec();
            v.push(tag);
            v.extend(body);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decoding_arbitrary_bytes_is_bounded(bytes in prop::collection::vec(any::<u8>(), 0..2100)) {
        let (_, req_bytes) = measure(|| decode::<Request>(&bytes));
        let (_, resp_bytes) = measure(|| decode::<Response>(&bytes));
        prop_assert!(req_bytes <= MAX_FRAME_LEN, "request decode asked for {req_bytes} bytes");
        prop_assert!(resp_bytes <= MAX_FRAME_LEN, "response decode asked for {resp_bytes} bytes");
    }

    #[test]
    fn decoding_framed_noise_is_bounded(bytes in framed_noise()) {
        let (r, req_bytes) = measure(|| decode::<Request>(&bytes));
        let (_, resp_bytes) = measure(|| decode::<Response>(&bytes));
        prop_assert!(req_bytes <= MAX_FRAME_LEN);
        prop_assert!(resp_bytes <= MAX_FRAME_LEN);
        if let Ok(Decoded::Frame { consumed, .. }) = r {
            prop_assert!(consumed <= MAX_WIRE_LEN);
        }
    }

    #[test]
    fn the_reader_survives_any_stream(
        stream in prop::collection::vec(any::<u8>(), 0..4000),
        cuts in prop::collection::vec(1usize..600, 1..20),
    ) {
        let mut reader = FrameReader::new();
        let mut rest = &stream[..];
        let mut cut = cuts.iter().cycle();
        let mut frames = 0usize;
        while !rest.is_empty() {
            let spare = reader.spare();
            prop_assert!(!spare.is_empty(), "reader wedged with a full buffer");
            let n = (*cut.next().unwrap()).min(spare.len()).min(rest.len());
            spare[..n].copy_from_slice(&rest[..n]);
            reader.filled(n);
            rest = &rest[n..];
            let (_, bytes) = measure(|| {
                // Bounded: each call consumes a frame, a prefix, or stops.
                for _ in 0..MAX_WIRE_LEN {
                    match reader.next_frame::<Request>() {
                        Ok(None) => break,
                        Ok(Some(_)) | Err(_) => frames += 1,
                    }
                }
            });
            prop_assert!(bytes <= MAX_FRAME_LEN);
        }
        // Every frame consumes at least its two-byte prefix.
        prop_assert!(frames <= stream.len() / LEN_PREFIX);
    }
}
