//! The frame loop thread: one named OS thread (`ledd-frames`) that opens
//! and owns the strip, and its state. Each frame it takes the newest
//! Play/Off from the latest-wins slot (`try_lock`) and drains the queue
//! (`try_recv`) without ever waiting for a client, renders through the
//! [`Pipeline`], writes the strip, records the statistics, publishes the
//! pixels (`try_lock`: a slow watcher skips a copy), tells subscribers when
//! what plays or the brightness changed, and pings the watchdog; then it
//! sleeps to the next absolute deadline. Stop, or a closed queue, blanks the
//! strip and ends the thread.

use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tinsel_proto::{Animation, Brightness, FrameStats, PlayParams, Status};
use tokio::sync::broadcast;
use tracing::{info, warn};

use super::pipeline::Pipeline;
use super::queue::{Command, Inbox};
use super::rt::{leave_realtime, now_ns, sleep_until, try_realtime};
use super::stats::Stats;
use super::{EngineError, LiveSettings, Published};
use crate::config::Config;
use crate::notify::Watchdog;
use crate::strip;

/// Starts the frame loop thread for `config`: it opens the strip, builds its
/// buffers, asks for real time, drops its capabilities down to `keep_caps`
/// when given, reports, and then runs on `inbox` until Stop. Returns once it
/// has reported: the thread, or why it could not start.
pub(super) fn spawn(
    config: &Config,
    inbox: Inbox,
    published: Arc<Mutex<Published>>,
    states: broadcast::Sender<Status>,
    watchdog: Option<Watchdog>,
    keep_caps: Option<tinsel_sandbox::caps::CapMask>,
) -> Result<JoinHandle<()>, EngineError> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let count = config.strip.count;
    let strip_config = config.strip.clone();
    let live = LiveSettings::of(config);
    let thread = std::thread::Builder::new()
        .name("ledd-frames".into())
        .spawn(move || {
            // The strip is opened on this thread and never leaves it.
            let strip = match strip::open(&strip_config) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(EngineError::Strip(e)));
                    return;
                }
            };
            // The loop's buffers first, so that mlockall locks them.
            let mut lp = FrameLoop::new(strip, count, &live, inbox, published, watchdog);
            lp.states = Some(states);
            // Still privileged: the last moment for the real-time
            // requests, then (when hardening) give the privileges up.
            try_realtime();
            if let Some(keep) = keep_caps
                && let Err(e) = crate::harden::drop_thread_capabilities(keep)
            {
                let _ = ready_tx.send(Err(EngineError::Capabilities(e)));
                return;
            }
            let _ = ready_tx.send(Ok(()));
            lp.run();
        })
        .map_err(EngineError::Spawn)?;
    match ready_rx.recv() {
        Ok(Ok(())) => {
            // The frame loop holds (or was refused) real-time now: the
            // starting thread, which goes on to serve the socket, leaves it.
            leave_realtime();
            Ok(thread)
        }
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(EngineError::Died)
        }
    }
}

/// The loop itself, owned by its thread.
struct FrameLoop {
    strip: Box<dyn strip::Strip>,
    pipeline: Pipeline,
    /// The queue and the latest-wins slot, read without waiting.
    inbox: Inbox,
    published: Arc<Mutex<Published>>,
    watchdog: Option<Watchdog>,
    period_ns: u64,
    fps: u16,
    count: u16,
    stats: Stats,
    /// When the last applied command was received, until its first frame.
    pending_command: Option<u64>,
    write_failed: bool,
    /// The statistics as computed for the last status request, by frame.
    status_cache: Option<(u64, FrameStats)>,
    /// Subscribers' states: `send` never waits (a subscriber that falls
    /// behind loses the oldest and is closed by its connection).
    states: Option<broadcast::Sender<Status>>,
    /// What the last state sent said plays, and the brightness.
    last_state: Option<StateKey>,
}

/// What a subscriber is told about: what plays (not the seconds left) and
/// the brightness. Frame statistics alone are no change.
type StateKey = (Option<(Animation, PlayParams)>, Brightness);

impl FrameLoop {
    fn new(
        strip: Box<dyn strip::Strip>,
        count: u16,
        live: &LiveSettings,
        inbox: Inbox,
        published: Arc<Mutex<Published>>,
        watchdog: Option<Watchdog>,
    ) -> FrameLoop {
        FrameLoop {
            strip,
            pipeline: Pipeline::new(count, &live.output, live.order),
            inbox,
            published,
            watchdog,
            period_ns: 1_000_000_000 / u64::from(live.fps.max(1)),
            fps: live.fps,
            count,
            stats: Stats::new(now_ns()),
            pending_command: None,
            write_failed: false,
            status_cache: None,
            states: None,
            last_state: None,
        }
    }

    /// The status at `now`; the percentiles are sorted at most once per
    /// frame, however many requests and subscribers ask.
    fn status(&mut self, now: u64) -> Status {
        let stats = match self.status_cache {
            Some((frame, stats)) if frame == self.stats.frames => stats,
            _ => {
                let stats = self.stats.snapshot();
                self.status_cache = Some((self.stats.frames, stats));
                stats
            }
        };
        Status {
            playing: self.pipeline.playing(now),
            brightness: self.pipeline.output.brightness(),
            led_count: self.count,
            target_fps: self.fps,
            stats,
            power: self.pipeline.output.power,
        }
    }

    /// Sends the status to subscribers when what plays or the brightness
    /// differs from what they were last told. Once per frame, after the
    /// render (a timed play ends there); `send` only writes into the
    /// channel's ring, whoever reads or not.
    fn tell_subscribers(&mut self, now: u64) {
        let Some(states) = &self.states else {
            return;
        };
        let key: StateKey = (
            self.pipeline.playing(now).map(|p| (p.animation, p.params)),
            self.pipeline.output.brightness(),
        );
        if self.last_state == Some(key) {
            return;
        }
        self.last_state = Some(key);
        if states.receiver_count() > 0 {
            let status = self.status(now);
            if let Some(states) = &self.states {
                // No subscriber left since: nothing to tell.
                let _ = states.send(status);
            }
        }
    }

    /// Handles one command; false means stop.
    fn handle(&mut self, cmd: Command, now: u64) -> bool {
        match cmd {
            Command::Play {
                animation,
                params,
                received_ns,
            } => {
                self.pipeline.play(now, animation, params);
                self.pending_command = Some(received_ns);
            }
            Command::Off { fade, received_ns } => {
                self.pipeline.off(now, fade);
                self.pending_command = Some(received_ns);
            }
            Command::SetBrightness(b) => self.pipeline.output.set_brightness(b),
            Command::Status(reply) => {
                let _ = reply.send(self.status(now));
            }
            Command::Reconfigure(s) => {
                self.pipeline.reconfigure(&s);
                self.fps = s.fps;
                self.period_ns = 1_000_000_000 / u64::from(s.fps.max(1));
                info!(fps = s.fps, "frame loop reconfigured");
            }
            Command::Stop => return false,
        }
        true
    }

    fn run(&mut self) {
        block_signals();
        let mut deadline = now_ns();
        let mut now = deadline;
        loop {
            // 1. Commands, without ever waiting for one: the newest Play/Off
            // first, then the queue (a Status then sees it applied).
            let newest = self
                .inbox
                .latest
                .try_lock()
                .map(|mut slot| slot.take())
                .unwrap_or_default();
            for cmd in newest.into_iter().flatten() {
                self.handle(cmd, now);
            }
            loop {
                match self.inbox.rx.try_recv() {
                    Ok(cmd) => {
                        if !self.handle(cmd, now) {
                            return self.blank();
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return self.blank(),
                }
            }
            // 2. Render and write.
            let wire = self.pipeline.render(now);
            let rendered = now_ns();
            if let Err(e) = self.strip.write(wire)
                && !self.write_failed
            {
                warn!("{e}; will keep trying every frame");
                self.write_failed = true;
            }
            self.stats
                .render
                .push((rendered.saturating_sub(now) / 1000) as u32);
            if let Some(received) = self.pending_command.take() {
                self.stats
                    .command
                    .push((rendered.saturating_sub(received) / 1000) as u32);
            }
            self.stats.frame_done(rendered);
            self.publish();
            self.tell_subscribers(now);
            if let Some(wd) = &mut self.watchdog {
                wd.tick(rendered);
            }
            // 3. Sleep to the next absolute deadline.
            deadline += self.period_ns;
            sleep_until(deadline);
            now = now_ns();
            let late = now.saturating_sub(deadline);
            let late_us = (late / 1000).min(u64::from(u32::MAX)) as u32;
            self.stats.late.push(late_us);
            self.stats.worst_late_us = self.stats.worst_late_us.max(late_us);
            if late > self.period_ns / 10 {
                self.stats.late_frames += 1;
            }
            if late > self.period_ns {
                // Far behind (a stall): start afresh rather than burst to
                // catch up.
                deadline = now;
            }
        }
    }

    /// Copies the shown pixels for watchers, unless one holds the lock.
    fn publish(&mut self) {
        if let Ok(mut p) = self.published.try_lock() {
            p.frame = self.stats.frames;
            p.pixels.copy_from_slice(self.pipeline.shown());
        }
    }

    /// Writes a dark frame: the last thing the loop does. It is the loop's
    /// own wire buffer, zeroed: `count * channels` bytes like every frame
    /// (four per LED on an RGBW strip), the only length a backend accepts.
    fn blank(&mut self) {
        let dark = self.pipeline.blank();
        match self.strip.write(dark) {
            Ok(()) => info!("strip blanked"),
            Err(e) => warn!("blanking the strip failed: {e}"),
        }
    }
}

/// Keeps SIGTERM, SIGINT and SIGHUP off this thread, so they reach the
/// server's handlers and never interrupt the loop's sleep.
fn block_signals() {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    if let Err(e) = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None) {
        warn!("cannot block signals on the frame loop thread: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::FADE_NS;
    use crate::engine::output::tests::output;
    use crate::engine::queue;
    use crate::strip::StripError;
    use tinsel_proto::{Animation, PlayParams, Rgb};

    /// A strip that records every frame and, like every backend, refuses a
    /// frame that is not `count * channels` bytes.
    struct Recording {
        len: usize,
        bytes: usize,
        frames: std::rc::Rc<std::cell::RefCell<Vec<Vec<u8>>>>,
    }

    impl strip::Strip for Recording {
        fn len(&self) -> usize {
            self.len
        }

        fn write(&mut self, wire: &[u8]) -> Result<(), StripError> {
            if wire.len() != self.bytes {
                return Err(StripError::Length {
                    got: wire.len(),
                    want: self.bytes,
                });
            }
            self.frames.borrow_mut().push(wire.to_vec());
            Ok(())
        }
    }

    #[test]
    fn blank_writes_a_dark_frame_of_the_strip_length_for_every_strip_type() {
        use crate::strip::kind::StripKind;
        for kind in StripKind::ALL {
            let count = 7u16;
            let order = crate::config::ChannelOrder::parse(kind.default_order()).unwrap();
            let bytes = usize::from(count) * kind.channels();
            let frames = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let strip = Recording {
                len: usize::from(count),
                bytes,
                frames: std::rc::Rc::clone(&frames),
            };
            let live = LiveSettings {
                output: output(100, 1.0, 0),
                order,
                fps: 60,
            };
            let (_tx, inbox) = queue::channel(1);
            let published = Arc::new(Mutex::new(Published {
                frame: 0,
                pixels: vec![Rgb::BLACK; usize::from(count)],
            }));
            let mut lp = FrameLoop::new(Box::new(strip), count, &live, inbox, published, None);
            // Full white, faded in: every byte on the wire is lit.
            lp.pipeline.play(
                0,
                Animation::Solid,
                PlayParams {
                    color: Some(Rgb::new(255, 255, 255)),
                    ..PlayParams::default()
                },
            );
            let lit = lp.pipeline.render(FADE_NS).to_vec();
            lp.strip.write(&lit).unwrap();
            assert!(lit.iter().any(|&b| b > 0), "{kind}: lit before blanking");
            lp.blank();
            let frames = frames.borrow();
            assert_eq!(frames.len(), 2, "{kind}: the blanking frame was refused");
            let last = frames.last().unwrap();
            assert_eq!(last.len(), bytes, "{kind}");
            assert!(last.iter().all(|&b| b == 0), "{kind}: {last:?}");
        }
    }
}
