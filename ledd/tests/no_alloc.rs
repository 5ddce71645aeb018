//! The frame pipeline allocates nothing per frame: render, crossfade,
//! output stage and the sim strip's write, for every animation, counted by
//! a global allocator on the test's own thread (the harness's other threads
//! may allocate meanwhile). Its own test binary, because the allocator is
//! process-wide.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// It attacks or measures the process itself: raw syscalls, by design.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ledd::config::{ChannelOrder, OutputConfig};
use ledd::engine::Pipeline;
use ledd::strip::Strip;
use ledd::strip::sim::SimStrip;
use tinsel_proto::{Animation, Brightness, PlayParams, PlaySeconds};

struct Counting;

thread_local! {
    /// Allocations made by this thread. A const-initialised `Cell` never
    /// allocates itself.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds GlobalAlloc's contract; the thread-local counter has no effect on
// memory and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's layout is passed through as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for dealloc; `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn frames_do_not_allocate() {
    let output = OutputConfig {
        brightness: Brightness::new(80).unwrap(),
        gamma: 2.2,
        max_milliamps: 1000,
        milliamps_per_led: 60,
    };
    let mut pipeline = Pipeline::new(300, &output, ChannelOrder::GRB);
    let mut strip = SimStrip::new(300, 3);
    let period = 16_666_667u64;
    let mut now = 0u64;
    let before = ALLOCATIONS.with(Cell::get);
    for (k, animation) in Animation::ALL.into_iter().enumerate() {
        let params = PlayParams {
            // Every other one timed, so the return path runs too.
            duration: (k % 2 == 1).then(|| PlaySeconds::new(1).unwrap()),
            ..PlayParams::default()
        };
        pipeline.play(now, animation, params);
        // 90 frames: the crossfade, the steady state and a timed return.
        for _ in 0..90 {
            now += period;
            let wire = pipeline.render(now);
            strip.write(wire).unwrap();
        }
        pipeline
            .output
            .set_brightness(Brightness::new(20 + k as u8).unwrap());
    }
    pipeline.off(now, None);
    for _ in 0..30 {
        now += period;
        strip.write(pipeline.render(now)).unwrap();
    }
    let after = ALLOCATIONS.with(Cell::get);
    assert_eq!(after - before, 0, "the frame pipeline allocated");
    assert!(strip.wire().iter().all(|&b| b == 0), "off goes dark");
    assert_eq!(strip.writes(), Animation::ALL.len() as u64 * 90 + 30);
}
