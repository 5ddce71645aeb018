//! The frame loop's statistics: frames and frame rate, late frames and the
//! worst lateness, and windows of recent samples for the lateness, render
//! time and command-to-frame latency percentiles. Recording a sample is a
//! store into a fixed array; the percentiles are sorted only for a status
//! request.

use tinsel_proto::FrameStats;

/// Samples kept for the lateness and render-time percentiles.
const WINDOW: usize = 512;
/// Samples kept for the command-latency percentiles.
const COMMAND_WINDOW: usize = 64;

/// A fixed window of recent samples (µs) for percentiles.
#[derive(Debug)]
pub(super) struct Samples<const N: usize> {
    buf: [u32; N],
    len: usize,
    next: usize,
}

impl<const N: usize> Samples<N> {
    const fn new() -> Self {
        Samples {
            buf: [0; N],
            len: 0,
            next: 0,
        }
    }

    pub(super) fn push(&mut self, v: u32) {
        self.buf[self.next] = v;
        self.next = (self.next + 1) % N;
        self.len = (self.len + 1).min(N);
    }

    /// The `pct` percentile (nearest rank) and the maximum; (0, 0) when
    /// empty. Runs on a status request, not per frame.
    fn percentile(&self, pct: usize) -> (u32, u32) {
        if self.len == 0 {
            return (0, 0);
        }
        let mut copy = self.buf;
        let s = &mut copy[..self.len];
        s.sort_unstable();
        let rank = (self.len * pct).div_ceil(100).clamp(1, self.len) - 1;
        (s[rank], s[self.len - 1])
    }
}

/// The loop's timing statistics.
#[derive(Debug)]
pub(super) struct Stats {
    pub(super) frames: u64,
    pub(super) late_frames: u64,
    pub(super) worst_late_us: u32,
    pub(super) late: Samples<WINDOW>,
    pub(super) render: Samples<WINDOW>,
    pub(super) command: Samples<COMMAND_WINDOW>,
    window_start_ns: u64,
    window_frames: u64,
    fps_milli: u32,
}

impl Stats {
    pub(super) fn new(now: u64) -> Self {
        Stats {
            frames: 0,
            late_frames: 0,
            worst_late_us: 0,
            late: Samples::new(),
            render: Samples::new(),
            command: Samples::new(),
            window_start_ns: now,
            window_frames: 0,
            fps_milli: 0,
        }
    }

    pub(super) fn frame_done(&mut self, now: u64) {
        self.frames += 1;
        self.window_frames += 1;
        let elapsed = now.saturating_sub(self.window_start_ns);
        if elapsed >= 1_000_000_000 {
            self.fps_milli = (self.window_frames * 1_000_000_000_000 / elapsed) as u32;
            self.window_frames = 0;
            self.window_start_ns = now;
        }
    }

    pub(super) fn snapshot(&self) -> FrameStats {
        let (p99_late_us, _) = self.late.percentile(99);
        let (render_p50_us, render_max_us) = self.render.percentile(50);
        let (command_p50_us, _) = self.command.percentile(50);
        let (command_p99_us, _) = self.command.percentile(99);
        FrameStats {
            frames: self.frames,
            fps_milli: self.fps_milli,
            late_frames: self.late_frames,
            worst_late_us: self.worst_late_us,
            p99_late_us,
            render_p50_us,
            render_max_us,
            command_p50_us,
            command_p99_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_window() {
        let mut s = Samples::<100>::new();
        assert_eq!(s.percentile(99), (0, 0));
        for v in 1..=100 {
            s.push(v);
        }
        assert_eq!(s.percentile(50), (50, 100));
        assert_eq!(s.percentile(99), (99, 100));
        for _ in 0..100 {
            s.push(7);
        }
        assert_eq!(s.percentile(99), (7, 7), "old samples rolled out");
    }
}
