//! The engine: one named OS thread that owns the strip, renders the current
//! animation at absolute deadlines, crossfades between scenes, runs the
//! output stage and keeps the timing statistics.
//!
//! The socket server holds only an [`EngineHandle`] (or a [`Sender`] cloned
//! from it): commands go in without waiting, the loop picks them up once per
//! frame without waiting either, and replies go back on a oneshot. The
//! pixels after the output stage are published in a mutex that the loop
//! only ever `try_lock`s: a slow watcher skips a copy, it never delays a
//! frame.
//!
//! Per frame the loop allocates nothing and makes no system call besides the
//! strip write, the sleep and two clock reads (which are vDSO calls where
//! the kernel offers them).
//!
//! One job per file:
//! - `mod.rs`: [`EngineHandle`] (start, sender, stop) and the public types.
//! - `queue.rs`: [`Command`], the bounded queue and the latest-wins slot for
//!   Play/Off, behind [`Sender::send`].
//! - `pipeline.rs`: [`Pipeline`]: scenes, timed plays, render, crossfade.
//! - `output.rs`: [`OutputStage`]: gamma, brightness, current limit,
//!   channel order, and the wire buffer's size.
//! - `stats.rs`: frame rate, late frames, lateness, render time and command
//!   latency percentiles.
//! - `frame_loop.rs`: the `ledd-frames` thread and its state: deadlines,
//!   commands between frames, strip write, publishing, watchdog pings,
//!   blanking at the end.
//! - `rt.rs`: the clock, the sleep, SCHED_FIFO and locked memory; the
//!   engine's only `unsafe`.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tinsel_proto::{Rgb, Status};
use tokio::sync::broadcast;
use tracing::warn;

use crate::config::{ChannelOrder, Config, OutputConfig};
use crate::notify::Watchdog;
use crate::strip::StripError;

mod frame_loop;
mod output;
mod pipeline;
mod queue;
// sched_setscheduler, mlockall and RLIMIT_MEMLOCK for the frame thread.
#[allow(unsafe_code)]
mod rt;
mod stats;

pub use output::OutputStage;
pub use pipeline::{FADE_NS, Pipeline};
pub use queue::{Busy, Command, Latest, QUEUE_DEPTH, Sender};
pub use rt::now_ns;

/// States one subscriber may have waiting in ledd before it counts as
/// fallen behind and is closed. A state is a whole status, so a subscriber
/// that reads needs only the newest; sixteen cover a burst of changes (one
/// per frame at most) while its connection task is busy.
pub const SUBSCRIBER_QUEUE: usize = 16;

/// The engine failed to start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The strip backend could not be opened.
    #[error(transparent)]
    Strip(#[from] StripError),
    /// The frame loop thread could not be started.
    #[error("cannot start the frame loop thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// The frame loop thread died before it reported.
    #[error("the frame loop thread exited during start-up")]
    Died,
    /// The frame loop thread could not drop its capabilities.
    #[error("the frame loop thread: {0}")]
    Capabilities(#[source] crate::harden::HardenError),
}

/// The settings a running loop can change without a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSettings {
    /// Gamma, brightness and current limit.
    pub output: OutputConfig,
    /// Channel order.
    pub order: ChannelOrder,
    /// Frames per second.
    pub fps: u16,
}

impl LiveSettings {
    /// The live part of `config`.
    pub fn of(config: &Config) -> LiveSettings {
        LiveSettings {
            output: config.output.clone(),
            order: config.strip.order,
            fps: config.strip.fps,
        }
    }
}

/// Pixels after the output stage, shared with watchers.
#[derive(Debug, Default)]
pub struct Published {
    /// The frame number they belong to.
    pub frame: u64,
    /// The pixels, RGB.
    pub pixels: Vec<Rgb>,
}

/// The socket server's side of the engine.
#[derive(Debug)]
pub struct EngineHandle {
    tx: Option<Sender>,
    published: Arc<Mutex<Published>>,
    states: broadcast::Sender<Status>,
    thread: Option<JoinHandle<()>>,
    /// The number of LEDs.
    pub led_count: u16,
    /// The frame rate at start.
    pub fps: u16,
    /// Whether the strip has a white channel (SK6812 RGBW).
    pub white: bool,
}

impl EngineHandle {
    /// Starts the frame loop thread, opens the strip on it, and returns
    /// once the strip is open (or the error if it could not be opened).
    pub fn start(config: &Config, watchdog: Option<Watchdog>) -> Result<EngineHandle, EngineError> {
        EngineHandle::start_with(config, watchdog, None)
    }

    /// As [`EngineHandle::start`], and then the frame loop thread drops its
    /// own capabilities down to `keep` before this returns: after opening
    /// the strip and asking for SCHED_FIFO and mlockall (which need
    /// `CAP_SYS_NICE` and `CAP_IPC_LOCK`). Capabilities are per thread, so
    /// only the thread itself can do it; [`crate::harden::harden`] then
    /// finds no thread holding more.
    pub fn start_dropping_caps(
        config: &Config,
        watchdog: Option<Watchdog>,
        keep: tinsel_sandbox::caps::CapMask,
    ) -> Result<EngineHandle, EngineError> {
        EngineHandle::start_with(config, watchdog, Some(keep))
    }

    fn start_with(
        config: &Config,
        watchdog: Option<Watchdog>,
        keep_caps: Option<tinsel_sandbox::caps::CapMask>,
    ) -> Result<EngineHandle, EngineError> {
        let (tx, inbox) = queue::channel(QUEUE_DEPTH);
        let count = config.strip.count;
        let published = Arc::new(Mutex::new(Published {
            frame: 0,
            pixels: vec![Rgb::BLACK; usize::from(count)],
        }));
        let (states, _) = broadcast::channel(SUBSCRIBER_QUEUE);
        let thread = frame_loop::spawn(
            config,
            inbox,
            Arc::clone(&published),
            states.clone(),
            watchdog,
            keep_caps,
        )?;
        Ok(EngineHandle {
            tx: Some(tx),
            published,
            states,
            thread: Some(thread),
            led_count: count,
            fps: config.strip.fps,
            white: config.strip.order.channels() == 4,
        })
    }

    /// A sender for the server's tasks ([`Sender::send`] is the one way
    /// to send a command); `None` once stopped.
    pub fn sender(&self) -> Option<Sender> {
        self.tx.clone()
    }

    /// The published pixels.
    pub fn published(&self) -> Arc<Mutex<Published>> {
        Arc::clone(&self.published)
    }

    /// The channel the loop tells subscribers' connections about changes
    /// on: `subscribe` to it before asking for the status, so that no
    /// change falls between the two.
    pub fn states(&self) -> broadcast::Sender<Status> {
        self.states.clone()
    }

    /// Stops the loop (it blanks the strip first) and waits for it.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(t) = self.thread.take() {
            // A full queue still ends the loop: the sender is dropped with
            // the handle and the loop treats a closed queue as Stop.
            if let Some(tx) = self.tx.take() {
                let _ = tx.send(Command::Stop);
            }
            if t.join().is_err() {
                warn!("the frame loop thread panicked");
            }
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Backend, Overrides};
    use pipeline::tests::red;
    use tinsel_proto::Animation;
    use tokio::sync::oneshot;

    #[test]
    fn the_loop_keeps_time_answers_status_and_blanks_on_stop() {
        let mut config = Config::load(None, &Overrides::default()).unwrap();
        config.strip.count = 30;
        config.strip.fps = 100;
        let engine = EngineHandle::start(&config, None).unwrap();
        let sender = engine.sender().unwrap();
        sender
            .send(Command::Play {
                animation: Animation::Solid,
                params: red(),
                received_ns: now_ns(),
            })
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(600));
        let (tx, rx) = oneshot::channel();
        sender.send(Command::Status(tx)).unwrap();
        let status = rx.blocking_recv().unwrap();
        assert_eq!(status.led_count, 30);
        assert_eq!(status.target_fps, 100);
        assert!(status.stats.frames >= 30, "{:?}", status.stats);
        assert_eq!(status.stats.command_p50_us, status.stats.command_p99_us);
        assert!(status.stats.command_p50_us < 50_000, "{:?}", status.stats);
        assert_eq!(status.playing.unwrap().animation, Animation::Solid);
        let published = engine.published();
        assert!(published.lock().unwrap().pixels[0].r > 0);
        engine.stop();
    }

    #[test]
    fn the_engine_says_whether_the_strip_has_a_white_channel() {
        use crate::config::ChannelOrder;
        let mut config = Config::load(None, &Overrides::default()).unwrap();
        config.strip.count = 4;
        let engine = EngineHandle::start(&config, None).unwrap();
        assert!(!engine.white, "the default strip is three-channel");
        engine.stop();
        config.strip.order = ChannelOrder::parse("grbw").unwrap();
        let engine = EngineHandle::start(&config, None).unwrap();
        assert!(engine.white, "an RGBW order");
        engine.stop();
    }

    #[test]
    fn a_backend_that_cannot_run_fails_start() {
        let mut config = Config::load(None, &Overrides::default()).unwrap();
        config.strip.backend = Backend::Ws281x;
        let err = EngineHandle::start(&config, None).unwrap_err();
        if cfg!(feature = "ws281x") {
            // Built in, but this machine has no PWM/DMA hardware for it.
            assert!(matches!(
                err,
                EngineError::Strip(StripError::Unavailable { .. })
            ));
        } else {
            assert!(matches!(
                err,
                EngineError::Strip(StripError::NotBuilt { .. })
            ));
        }
    }
}
