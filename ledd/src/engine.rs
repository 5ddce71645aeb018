//! The frame loop: one named OS thread that owns the strip, renders the
//! current animation at absolute deadlines, crossfades between scenes, runs
//! the output stage (gamma, brightness, current limit, channel order) and
//! keeps the timing statistics.
//!
//! The socket server holds only an [`EngineHandle`]: commands go in through
//! a bounded channel that the loop drains with `try_recv` once per frame, so
//! the loop never waits on a client; replies go back on a oneshot. The
//! pixels after the output stage are published in a mutex that the loop
//! only ever `try_lock`s: a slow watcher skips a copy, it never delays a
//! frame.
//!
//! Per frame the loop allocates nothing and makes no system call besides the
//! strip write, the sleep and two clock reads (which are vDSO calls where
//! the kernel offers them).

use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nix::time::{ClockId, ClockNanosleepFlags, clock_gettime, clock_nanosleep};
use tinsel_proto::{Animation, Brightness, FrameStats, PlayParams, Playing, Power, Rgb, Status};
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::animation;
use crate::config::{ChannelOrder, Config, OutputConfig};
use crate::notify::Watchdog;
use crate::strip::kind::extract_white;
use crate::strip::{self, StripError};

/// How long a crossfade between two scenes takes.
pub const FADE_NS: u64 = 400_000_000;
/// Commands that may wait for the loop; more are refused as busy.
pub const QUEUE_DEPTH: usize = 32;
/// Samples kept for the lateness and render-time percentiles.
const WINDOW: usize = 512;
/// Samples kept for the command-latency percentiles.
const COMMAND_WINDOW: usize = 64;
/// The real-time priority asked for when root (of 1..=99; low, because
/// anything above the kernel's own threaded IRQs gains nothing).
const RT_PRIORITY: i32 = 10;

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

/// A command for the frame loop.
#[derive(Debug)]
pub enum Command {
    /// Crossfade to an animation.
    Play {
        /// Which animation.
        animation: Animation,
        /// Its parameters.
        params: PlayParams,
        /// When the server received the request ([`now_ns`]).
        received_ns: u64,
    },
    /// Fade to dark.
    Off {
        /// When the server received the request.
        received_ns: u64,
    },
    /// Set the global brightness.
    SetBrightness(Brightness),
    /// Answer with the status.
    Status(oneshot::Sender<Status>),
    /// Apply new output settings (SIGHUP).
    Reconfigure(Box<LiveSettings>),
    /// Blank the strip and end the loop.
    Stop,
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

/// The monotonic clock in nanoseconds. The same clock the loop sleeps on.
pub fn now_ns() -> u64 {
    match clock_gettime(ClockId::CLOCK_MONOTONIC) {
        Ok(ts) => (ts.tv_sec() as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec() as u64),
        // CLOCK_MONOTONIC cannot fail on Linux; 0 keeps the loop running.
        Err(_) => 0,
    }
}

/// Sleeps until the monotonic clock reads `deadline_ns` (absolute, so a
/// late wake-up never shifts the frames after it).
fn sleep_until(deadline_ns: u64) {
    let ts = nix::sys::time::TimeSpec::new(
        (deadline_ns / 1_000_000_000) as _,
        (deadline_ns % 1_000_000_000) as _,
    );
    // Bounded: each EINTR is a delivered signal; the deadline does not move.
    for _ in 0..16 {
        match clock_nanosleep(
            ClockId::CLOCK_MONOTONIC,
            ClockNanosleepFlags::TIMER_ABSTIME,
            &ts,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return,
        }
    }
}

/// The output stage: gamma and brightness through one lookup table, the
/// current limiter, and the channel order for the wire.
#[derive(Debug, Clone)]
pub struct OutputStage {
    lut: [u8; 256],
    gamma: f32,
    brightness: Brightness,
    order: ChannelOrder,
    budget_ma: u32,
    ma_per_led: u32,
    /// The limiter's view of the last frame.
    pub power: Power,
}

impl OutputStage {
    /// An output stage for `output` and `order`.
    pub fn new(output: &OutputConfig, order: ChannelOrder) -> OutputStage {
        let mut stage = OutputStage {
            lut: [0; 256],
            gamma: output.gamma,
            brightness: output.brightness,
            order,
            budget_ma: output.max_milliamps,
            ma_per_led: u32::from(output.milliamps_per_led),
            power: Power {
                budget_milliamps: output.max_milliamps,
                ..Power::default()
            },
        };
        stage.build_lut();
        stage
    }

    /// Rebuilds the table. Floating point here is fine: it runs when the
    /// brightness or gamma changes, not per frame.
    fn build_lut(&mut self) {
        let b = f32::from(self.brightness.get()) / 100.0;
        for (v, out) in self.lut.iter_mut().enumerate() {
            let x = (v as f32 / 255.0).powf(self.gamma);
            *out = (x * b * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
        }
    }

    /// Sets the global brightness.
    pub fn set_brightness(&mut self, b: Brightness) {
        if b != self.brightness {
            self.brightness = b;
            self.build_lut();
        }
    }

    /// The global brightness.
    pub fn brightness(&self) -> Brightness {
        self.brightness
    }

    /// Runs the stage: `frame` → `shown` (RGB after gamma, brightness and
    /// limit) and `wire` (the same in the strip's channel order).
    pub fn apply(&mut self, frame: &[Rgb], shown: &mut [Rgb], wire: &mut [u8]) {
        let mut sum = 0u32;
        for (src, dst) in frame.iter().zip(shown.iter_mut()) {
            let px = Rgb::new(
                self.lut[usize::from(src.r)],
                self.lut[usize::from(src.g)],
                self.lut[usize::from(src.b)],
            );
            sum += u32::from(px.r) + u32::from(px.g) + u32::from(px.b);
            *dst = px;
        }
        // Each channel at 255 draws a third of a LED's full-white current
        // (for RGBW parts, see below: the white die takes the common part).
        let mut ma = (u64::from(sum) * u64::from(self.ma_per_led) / (3 * 255)) as u32;
        let limited = self.budget_ma > 0 && ma > self.budget_ma;
        if limited {
            // A 1/256 fixed-point factor, rounded down so the result fits.
            let s = (self.budget_ma << 8) / ma.max(1);
            for px in shown.iter_mut() {
                let c = [px.r, px.g, px.b].map(|v| ((u32::from(v) * s) >> 8) as u8);
                *px = Rgb::new(c[0], c[1], c[2]);
            }
            ma = (ma * s) >> 8;
        }
        let order = self.order.wire.map(usize::from);
        if self.order.channels() == 4 {
            // RGBW: the common part of r, g and b moves to the white die,
            // which draws like one colour channel instead of three. Estimate
            // with four channels of `ma_per_led / 4` each.
            let mut sum4 = 0u32;
            for (px, w) in shown.iter().zip(wire.chunks_exact_mut(4)) {
                let c = extract_white(px.r, px.g, px.b);
                sum4 += c.iter().map(|&v| u32::from(v)).sum::<u32>();
                w[0] = c[order[0]];
                w[1] = c[order[1]];
                w[2] = c[order[2]];
                w[3] = c[order[3]];
            }
            ma = (u64::from(sum4) * u64::from(self.ma_per_led) / (4 * 255)) as u32;
        } else {
            let [o0, o1, o2, _] = order;
            for (px, w) in shown.iter().zip(wire.chunks_exact_mut(3)) {
                let c = [px.r, px.g, px.b];
                w[0] = c[o0];
                w[1] = c[o1];
                w[2] = c[o2];
            }
        }
        self.power.milliamps = ma;
        self.power.limited = limited;
        self.power.budget_milliamps = self.budget_ma;
    }
}

/// What plays: an animation with its parameters and start time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scene {
    animation: Animation,
    params: PlayParams,
    started_ns: u64,
    /// When a timed play ends.
    until_ns: Option<u64>,
}

impl Scene {
    /// Animation time in ms at `now_ns`, scaled by the speed.
    fn t_ms(&self, now_ns: u64) -> u64 {
        let us = now_ns.saturating_sub(self.started_ns) / 1000;
        us.saturating_mul(u64::from(self.params.speed.get())) / 100_000
    }
}

/// The rendering part of the loop, without thread, clock or strip: scenes,
/// crossfades and the output stage. The benchmark drives it directly.
#[derive(Debug)]
pub struct Pipeline {
    frame: Vec<Rgb>,
    from: Vec<Rgb>,
    shown: Vec<Rgb>,
    wire: Vec<u8>,
    /// The output stage.
    pub output: OutputStage,
    current: Option<Scene>,
    /// While a timed play runs: what to go back to.
    resume: Option<Option<Scene>>,
    fade_start: Option<u64>,
    /// The brightness the config file gave, to tell a changed file on reload.
    file_brightness: Brightness,
}

impl Pipeline {
    /// A dark pipeline for `count` LEDs.
    pub fn new(count: u16, output: &OutputConfig, order: ChannelOrder) -> Pipeline {
        let n = usize::from(count);
        Pipeline {
            frame: vec![Rgb::BLACK; n],
            from: vec![Rgb::BLACK; n],
            shown: vec![Rgb::BLACK; n],
            wire: vec![0; n * order.channels()],
            output: OutputStage::new(output, order),
            current: None,
            resume: None,
            fade_start: None,
            file_brightness: output.brightness,
        }
    }

    /// Starts a crossfade from the frame last rendered.
    fn start_fade(&mut self, now_ns: u64) {
        self.from.copy_from_slice(&self.frame);
        self.fade_start = Some(now_ns);
    }

    /// Plays `animation` from `now_ns`. With a duration, what plays now
    /// comes back when it ends.
    pub fn play(&mut self, now_ns: u64, animation: Animation, params: PlayParams) {
        let until_ns = params
            .duration
            .map(|d| now_ns.saturating_add(u64::from(d.get()) * 1_000_000_000));
        if until_ns.is_some() {
            // A timed play over a timed play returns to the untimed one below.
            if self.resume.is_none() {
                self.resume = Some(self.current);
            }
        } else {
            self.resume = None;
        }
        self.current = Some(Scene {
            animation,
            params,
            started_ns: now_ns,
            until_ns,
        });
        self.start_fade(now_ns);
    }

    /// Fades to dark.
    pub fn off(&mut self, now_ns: u64) {
        self.current = None;
        self.resume = None;
        self.start_fade(now_ns);
    }

    /// What plays at `now_ns`.
    pub fn playing(&self, now_ns: u64) -> Option<Playing> {
        self.current.map(|s| Playing {
            animation: s.animation,
            params: s.params,
            remaining_secs: s
                .until_ns
                .map(|u| (u.saturating_sub(now_ns).div_ceil(1_000_000_000)) as u32),
        })
    }

    /// Renders the frame for `now_ns` through the output stage; returns the
    /// bytes for the strip.
    pub fn render(&mut self, now_ns: u64) -> &[u8] {
        if let Some(until) = self.current.and_then(|s| s.until_ns)
            && now_ns >= until
        {
            self.current = self.resume.take().flatten();
            self.start_fade(now_ns);
        }
        match self.current {
            Some(s) => {
                animation::render(s.animation, s.params.color, s.t_ms(now_ns), &mut self.frame)
            }
            None => self.frame.fill(Rgb::BLACK),
        }
        if let Some(start) = self.fade_start {
            let elapsed = now_ns.saturating_sub(start);
            if elapsed >= FADE_NS {
                self.fade_start = None;
            } else {
                let mix = (elapsed * 256 / FADE_NS) as u32;
                for (px, old) in self.frame.iter_mut().zip(&self.from) {
                    *px = animation::lerp(*old, *px, mix);
                }
            }
        }
        self.output
            .apply(&self.frame, &mut self.shown, &mut self.wire);
        &self.wire
    }

    /// The pixels of the last frame after the output stage, in RGB.
    pub fn shown(&self) -> &[Rgb] {
        &self.shown
    }

    /// Applies new live settings. The brightness an admin set at run time
    /// stays, unless the file's own brightness changed.
    pub fn reconfigure(&mut self, s: &LiveSettings) {
        let running = self.output.brightness();
        let file_changed = s.output.brightness != self.file_brightness;
        self.file_brightness = s.output.brightness;
        // The number of channels sizes the wire buffer: a strip type change
        // waits for a restart (the daemon says so).
        let order = if s.order.channels() == self.output.order.channels() {
            s.order
        } else {
            self.output.order
        };
        self.output = OutputStage::new(&s.output, order);
        if !file_changed {
            self.output.set_brightness(running);
        }
    }
}

/// A fixed window of recent samples (µs) for percentiles.
#[derive(Debug)]
struct Samples<const N: usize> {
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

    fn push(&mut self, v: u32) {
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
struct Stats {
    frames: u64,
    late_frames: u64,
    worst_late_us: u32,
    late: Samples<WINDOW>,
    render: Samples<WINDOW>,
    command: Samples<COMMAND_WINDOW>,
    window_start_ns: u64,
    window_frames: u64,
    fps_milli: u32,
}

impl Stats {
    fn new(now: u64) -> Self {
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

    fn frame_done(&mut self, now: u64) {
        self.frames += 1;
        self.window_frames += 1;
        let elapsed = now.saturating_sub(self.window_start_ns);
        if elapsed >= 1_000_000_000 {
            self.fps_milli = (self.window_frames * 1_000_000_000_000 / elapsed) as u32;
            self.window_frames = 0;
            self.window_start_ns = now;
        }
    }

    fn snapshot(&self) -> FrameStats {
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
    thread: Option<JoinHandle<()>>,
    /// The number of LEDs.
    pub led_count: u16,
    /// The frame rate at start.
    pub fps: u16,
}

/// The command queue is full: the loop is behind or stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the frame loop is busy: try again")]
pub struct Busy;

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
        let (tx, rx) = mpsc::sync_channel(QUEUE_DEPTH);
        let latest = Arc::new(Mutex::new(Latest::default()));
        let loop_latest = Arc::clone(&latest);
        let (ready_tx, ready_rx) = mpsc::channel();
        let count = config.strip.count;
        let published = Arc::new(Mutex::new(Published {
            frame: 0,
            pixels: vec![Rgb::BLACK; usize::from(count)],
        }));
        let strip_config = config.strip.clone();
        let live = LiveSettings::of(config);
        let shared = Arc::clone(&published);
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
                let mut lp = FrameLoop::new(strip, count, &live, rx, shared, watchdog);
                lp.latest = loop_latest;
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
                Ok(EngineHandle {
                    tx: Some(Sender { tx, latest }),
                    published,
                    thread: Some(thread),
                    led_count: count,
                    fps: config.strip.fps,
                })
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

    /// Queues a command without waiting.
    pub fn send(&self, cmd: Command) -> Result<(), Busy> {
        send(self.tx.as_ref().ok_or(Busy)?, cmd)
    }

    /// A sender for the server's tasks; `None` once stopped.
    pub fn sender(&self) -> Option<Sender> {
        self.tx.clone()
    }

    /// The published pixels.
    pub fn published(&self) -> Arc<Mutex<Published>> {
        Arc::clone(&self.published)
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
                let _ = tx.tx.try_send(Command::Stop);
            }
            if t.join().is_err() {
                warn!("the frame loop thread panicked");
            }
        }
    }
}

/// The server's side of the frame loop: a bounded queue for everything but
/// Play and Off, and a latest-wins slot for those two. A flood of webhooks
/// then never fills the queue (only the newest animation can be shown in the
/// next frame anyway), and the loop's work per frame does not grow with it.
#[derive(Debug, Clone)]
pub struct Sender {
    tx: SyncSender<Command>,
    latest: Arc<Mutex<Latest>>,
}

/// The Play/Off commands not yet applied, coalesced without losing meaning:
/// the newest untimed Play or Off (`base`), and a timed Play sent after it
/// (`timed`), which must know what plays before it to return there. The loop
/// applies `base`, then `timed`.
#[derive(Debug, Default)]
pub struct Latest {
    base: Option<Command>,
    timed: Option<Command>,
}

impl Latest {
    fn put(&mut self, cmd: Command) {
        match cmd {
            Command::Play { params, .. } if params.duration.is_some() => self.timed = Some(cmd),
            cmd => {
                // An untimed Play or Off replaces a timed one too.
                self.base = Some(cmd);
                self.timed = None;
            }
        }
    }

    fn take(&mut self) -> [Option<Command>; 2] {
        [self.base.take(), self.timed.take()]
    }
}

/// Queues `cmd` without waiting; Play and Off replace those not yet applied.
pub fn send(tx: &Sender, cmd: Command) -> Result<(), Busy> {
    match cmd {
        Command::Play { .. } | Command::Off { .. } => match tx.latest.lock() {
            Ok(mut slot) => {
                slot.put(cmd);
                Ok(())
            }
            Err(_) => Err(Busy),
        },
        cmd => tx.tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) | TrySendError::Disconnected(_) => Busy,
        }),
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The loop itself, owned by its thread.
struct FrameLoop {
    strip: Box<dyn strip::Strip>,
    pipeline: Pipeline,
    rx: Receiver<Command>,
    /// The newest Play/Off, taken once per frame (`try_lock`: never waits).
    latest: Arc<Mutex<Latest>>,
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
}

impl FrameLoop {
    fn new(
        strip: Box<dyn strip::Strip>,
        count: u16,
        live: &LiveSettings,
        rx: Receiver<Command>,
        published: Arc<Mutex<Published>>,
        watchdog: Option<Watchdog>,
    ) -> FrameLoop {
        FrameLoop {
            strip,
            pipeline: Pipeline::new(count, &live.output, live.order),
            rx,
            latest: Arc::new(Mutex::new(Latest::default())),
            published,
            watchdog,
            period_ns: 1_000_000_000 / u64::from(live.fps.max(1)),
            fps: live.fps,
            count,
            stats: Stats::new(now_ns()),
            pending_command: None,
            write_failed: false,
            status_cache: None,
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
            Command::Off { received_ns } => {
                self.pipeline.off(now);
                self.pending_command = Some(received_ns);
            }
            Command::SetBrightness(b) => self.pipeline.output.set_brightness(b),
            Command::Status(reply) => {
                // Percentiles sort a window: at most once per frame, however
                // many status requests a client queues.
                let stats = match self.status_cache {
                    Some((frame, stats)) if frame == self.stats.frames => stats,
                    _ => {
                        let stats = self.stats.snapshot();
                        self.status_cache = Some((self.stats.frames, stats));
                        stats
                    }
                };
                let _ = reply.send(Status {
                    playing: self.pipeline.playing(now),
                    brightness: self.pipeline.output.brightness(),
                    led_count: self.count,
                    target_fps: self.fps,
                    stats,
                    power: self.pipeline.output.power,
                });
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
                .latest
                .try_lock()
                .map(|mut slot| slot.take())
                .unwrap_or_default();
            for cmd in newest.into_iter().flatten() {
                self.handle(cmd, now);
            }
            loop {
                match self.rx.try_recv() {
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

    /// Writes a dark frame: the last thing the loop does.
    fn blank(&mut self) {
        let dark = vec![0u8; usize::from(self.count) * 3];
        match self.strip.write(&dark) {
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

/// SCHED_FIFO for this thread and locked memory, so page faults and
/// ordinary processes do not delay frames. Under ledd.service the service
/// manager starts ledd SCHED_FIFO (`CPUSchedulingPolicy=fifo`; the unit's
/// `RestrictRealtime=yes` forbids asking for it later) and this thread
/// inherits the policy; the thread that started it then leaves it
/// ([`leave_realtime`]). Otherwise it is asked for when root, or when
/// `RLIMIT_RTPRIO` allows it. Refusal is logged once and the loop runs as an
/// ordinary thread.
fn try_realtime() {
    let root = nix::unistd::geteuid().is_root();
    if let Some(priority) = realtime_priority() {
        info!(
            priority,
            "frame loop runs SCHED_FIFO (set by the service manager)"
        );
    } else if root || rtprio_limit() >= RT_PRIORITY as libc::rlim_t {
        let param = libc::sched_param {
            sched_priority: RT_PRIORITY,
        };
        // SAFETY: `sched_setscheduler` with pid 0 changes the calling thread
        // only, and reads `param` (a valid, initialised struct) during the call.
        // JUSTIFICATION: nix offers no wrapper for sched_setscheduler.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
        if rc != 0 {
            warn!(
                "SCHED_FIFO refused ({}); the frame loop runs at normal priority (under systemd: CPUSchedulingPolicy=fifo in ledd.service)",
                std::io::Error::last_os_error()
            );
        } else {
            info!(priority = RT_PRIORITY, "frame loop runs SCHED_FIFO");
        }
    }
    if !root && !unlimited_memlock() {
        return;
    }
    use nix::sys::mman::{MlockAllFlags, mlockall};
    // MCL_FUTURE locks every later mapping too (the server's buffers, new
    // thread stacks). Once ledd drops CAP_IPC_LOCK (hardening), locked
    // memory counts against RLIMIT_MEMLOCK and a mapping over it fails: a
    // malloc that aborts ledd under load. So lift the limit while root may,
    // and lock future mappings only when it is unlimited.
    let flags = if unlimited_memlock() {
        MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE
    } else {
        warn!(
            "RLIMIT_MEMLOCK is limited and cannot be raised: locking current memory only (set LimitMEMLOCK=infinity)"
        );
        MlockAllFlags::MCL_CURRENT
    };
    // MCL_ONFAULT: lock pages as they are touched, not every page of every
    // mapping (all of libc, libm, the binary, 2 MiB thread stacks): the
    // loop's pages are touched in its first frame and stay locked after.
    let flags = flags | MlockAllFlags::from_bits_retain(libc::MCL_ONFAULT);
    if let Err(e) = mlockall(flags) {
        warn!("mlockall refused ({e}); pages may fault in during frames");
    }
}

/// The calling thread's real-time priority, if it runs SCHED_FIFO or
/// SCHED_RR.
fn realtime_priority() -> Option<i32> {
    // SAFETY: sched_getscheduler(0) only reads the calling thread's policy.
    let policy = unsafe { libc::sched_getscheduler(0) };
    if policy != libc::SCHED_FIFO && policy != libc::SCHED_RR {
        return None;
    }
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_getparam(0) writes one `sched_param` into `param`, a live local.
    let rc = unsafe { libc::sched_getparam(0, &mut param) };
    Some(if rc == 0 { param.sched_priority } else { 0 })
}

/// The soft RLIMIT_RTPRIO: the highest real-time priority a thread without
/// `CAP_SYS_NICE` may take (`LimitRTPRIO=`).
fn rtprio_limit() -> libc::rlim_t {
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into `now`, a live local.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_RTPRIO, &mut now) };
    if rc == 0 { now.rlim_cur } else { 0 }
}

/// Returns the calling thread to SCHED_OTHER if it runs real-time. Under
/// ledd.service every thread starts SCHED_FIFO; only the frame loop keeps
/// it: the socket server at the loop's own priority could hold a frame back
/// for as long as it runs, and every thread it starts would inherit the
/// policy. Runs on the thread that started the frame loop, before the
/// server's runtime exists. Leaving real-time needs no privilege, only
/// `sched_setscheduler` (the unit allows it; `RestrictRealtime=yes` still
/// refuses every real-time policy).
fn leave_realtime() {
    if realtime_priority().is_none() {
        return;
    }
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: as in `try_realtime`: the calling thread only, `param` is valid.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
    if rc != 0 {
        warn!(
            "cannot return the socket server to SCHED_OTHER ({}); it may delay frames (allow sched_setscheduler in ledd.service's SystemCallFilter=)",
            std::io::Error::last_os_error()
        );
    } else {
        info!("socket server runs SCHED_OTHER; only the frame loop is real-time");
    }
}

/// Raises RLIMIT_MEMLOCK to unlimited (needs CAP_SYS_RESOURCE) and says
/// whether it is unlimited now.
fn unlimited_memlock() -> bool {
    let inf = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads one valid, initialised `rlimit` during the
    // call. JUSTIFICATION: ledd's nix is built without the `resource`
    // feature; one call does not warrant it.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &inf) } == 0 {
        return true;
    }
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into `now`, a live local.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut now) };
    rc == 0 && now.rlim_cur == libc::RLIM_INFINITY
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Backend, Overrides};

    const MS: u64 = 1_000_000;

    fn output(brightness: u8, gamma: f32, max_milliamps: u32) -> OutputConfig {
        OutputConfig {
            brightness: Brightness::new(brightness).unwrap(),
            gamma,
            max_milliamps,
            milliamps_per_led: 60,
        }
    }

    fn red() -> PlayParams {
        PlayParams {
            color: Some(Rgb::new(255, 0, 0)),
            ..PlayParams::default()
        }
    }

    #[test]
    fn output_stage_applies_gamma_brightness_and_order() {
        let rgb = ChannelOrder::parse("rgb").unwrap();
        let mut s = OutputStage::new(&output(100, 1.0, 0), rgb);
        let frame = [Rgb::new(10, 128, 255)];
        let (mut shown, mut wire) = ([Rgb::BLACK], [0u8; 3]);
        s.apply(&frame, &mut shown, &mut wire);
        assert_eq!(shown[0], frame[0], "gamma 1 at 100 % is the identity");
        assert_eq!(wire, [10, 128, 255]);

        let mut s = OutputStage::new(&output(50, 2.2, 0), ChannelOrder::GRB);
        s.apply(&frame, &mut shown, &mut wire);
        // 128/255 ^ 2.2 * 0.5 * 255 = 27.6; 255 -> 127.5; 10 -> 0.
        assert_eq!(shown[0], Rgb::new(0, 28, 128));
        assert_eq!(wire, [28, 0, 128], "green first on the wire");

        s.set_brightness(Brightness::new(0).unwrap());
        s.apply(&frame, &mut shown, &mut wire);
        assert_eq!(wire, [0, 0, 0]);
        assert_eq!(s.power.milliamps, 0);
    }

    #[test]
    fn current_limiter_scales_down_to_the_budget() {
        let rgb = ChannelOrder::parse("rgb").unwrap();
        // 10 LEDs of full white draw 600 mA; the budget is 300.
        let mut s = OutputStage::new(&output(100, 1.0, 300), rgb);
        let frame = [Rgb::new(255, 255, 255); 10];
        let mut shown = [Rgb::BLACK; 10];
        let mut wire = [0u8; 30];
        s.apply(&frame, &mut shown, &mut wire);
        assert!(s.power.limited);
        assert!(
            s.power.milliamps <= 300 && s.power.milliamps >= 290,
            "{:?}",
            s.power
        );
        assert_eq!(s.power.budget_milliamps, 300);
        assert_eq!(shown[0], Rgb::new(127, 127, 127));
        assert!(wire.iter().all(|&b| b == 127));
        // Under budget: untouched.
        let dim = [Rgb::new(100, 0, 0); 10];
        s.apply(&dim, &mut shown, &mut wire);
        assert!(!s.power.limited);
        assert_eq!(shown[0], Rgb::new(100, 0, 0));
        assert_eq!(s.power.milliamps, 10 * 100 * 60 / 765);
    }

    #[test]
    fn pipeline_crossfades_and_goes_dark() {
        let mut p = Pipeline::new(3, &output(100, 1.0, 0), ChannelOrder::parse("rgb").unwrap());
        let t0 = 1000 * MS;
        assert_eq!(p.render(t0), &[0; 9]);
        p.play(t0, Animation::Solid, red());
        p.render(t0 + 200 * MS);
        assert_eq!(
            p.shown()[0],
            Rgb::new(127, 0, 0),
            "half way through the fade"
        );
        p.render(t0 + 400 * MS);
        assert_eq!(p.shown()[0], Rgb::new(255, 0, 0));
        assert_eq!(p.playing(t0).unwrap().animation, Animation::Solid);
        p.off(t0 + 500 * MS);
        assert!(p.playing(t0 + 500 * MS).is_none());
        p.render(t0 + 600 * MS);
        assert_eq!(p.shown()[0], Rgb::new(191, 0, 0), "a quarter of the fade");
        assert_eq!(p.render(t0 + 900 * MS), &[0; 9]);
    }

    #[test]
    fn timed_play_returns_to_what_played_before() {
        let mut p = Pipeline::new(2, &output(100, 1.0, 0), ChannelOrder::parse("rgb").unwrap());
        let t0 = 5 * MS;
        p.play(t0, Animation::Solid, red());
        let blue = PlayParams {
            color: Some(Rgb::new(0, 0, 255)),
            duration: Some(tinsel_proto::PlaySeconds::new(2).unwrap()),
            ..PlayParams::default()
        };
        p.play(t0 + 1000 * MS, Animation::Solid, blue);
        p.render(t0 + 1500 * MS);
        assert_eq!(p.shown()[0], Rgb::new(0, 0, 255));
        assert_eq!(p.playing(t0 + 1500 * MS).unwrap().remaining_secs, Some(2));
        // A second timed play still returns to red, not to blue.
        let green = PlayParams {
            color: Some(Rgb::new(0, 255, 0)),
            duration: Some(tinsel_proto::PlaySeconds::new(1).unwrap()),
            ..PlayParams::default()
        };
        p.play(t0 + 1600 * MS, Animation::Solid, green);
        p.render(t0 + 2100 * MS);
        assert_eq!(p.shown()[0], Rgb::new(0, 255, 0));
        p.render(t0 + 2600 * MS); // ends here, fade back starts
        p.render(t0 + 3100 * MS);
        assert_eq!(p.shown()[0], Rgb::new(255, 0, 0));
        assert_eq!(p.playing(t0 + 3100 * MS).unwrap().remaining_secs, None);
    }

    #[test]
    fn reload_keeps_a_runtime_brightness_unless_the_file_changed_it() {
        let order = ChannelOrder::GRB;
        let mut p = Pipeline::new(1, &output(50, 2.2, 0), order);
        p.output.set_brightness(Brightness::new(20).unwrap());
        let same_file = LiveSettings {
            output: output(50, 2.0, 0),
            order,
            fps: 30,
        };
        p.reconfigure(&same_file);
        assert_eq!(p.output.brightness().get(), 20);
        let new_file = LiveSettings {
            output: output(70, 2.0, 0),
            order,
            fps: 30,
        };
        p.reconfigure(&new_file);
        assert_eq!(p.output.brightness().get(), 70);
    }

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

    #[test]
    fn the_loop_keeps_time_answers_status_and_blanks_on_stop() {
        let mut config = Config::load(None, &Overrides::default()).unwrap();
        config.strip.count = 30;
        config.strip.fps = 100;
        let engine = EngineHandle::start(&config, None).unwrap();
        engine
            .send(Command::Play {
                animation: Animation::Solid,
                params: red(),
                received_ns: now_ns(),
            })
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(600));
        let (tx, rx) = oneshot::channel();
        engine.send(Command::Status(tx)).unwrap();
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
    fn coalesced_plays_keep_what_a_timed_play_returns_to() {
        let play = |a: Animation, secs: Option<u32>| Command::Play {
            animation: a,
            params: PlayParams {
                duration: secs.map(|s| tinsel_proto::PlaySeconds::new(s).unwrap()),
                ..PlayParams::default()
            },
            received_ns: 0,
        };
        let name = |c: &Option<Command>| match c {
            Some(Command::Play { animation, .. }) => Some(*animation),
            _ => None,
        };
        let mut l = Latest::default();
        l.put(play(Animation::Fire, None));
        l.put(play(Animation::Solid, None));
        l.put(play(Animation::SelfTest, Some(5)));
        let [base, timed] = l.take();
        assert_eq!(
            name(&base),
            Some(Animation::Solid),
            "the newest untimed play"
        );
        assert_eq!(
            name(&timed),
            Some(Animation::SelfTest),
            "then the timed one"
        );
        // An untimed play after a timed one replaces both.
        l.put(play(Animation::SelfTest, Some(5)));
        l.put(play(Animation::Comet, None));
        let [base, timed] = l.take();
        assert_eq!(name(&base), Some(Animation::Comet));
        assert!(timed.is_none());
        assert!(l.take().iter().all(Option::is_none), "taken once");
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
