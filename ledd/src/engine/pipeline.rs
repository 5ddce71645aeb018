//! The rendering part of the frame loop, without thread, clock or strip:
//! what plays (scenes, timed plays and what they return to), the render of
//! each frame, the crossfade between scenes, and the output stage run over
//! the result. The benchmark and the allocation test drive it directly.

use tinsel_proto::{Animation, Brightness, FadeMillis, PlayParams, Playing, Rgb};

use super::LiveSettings;
use super::output::{OutputStage, wire_buffer};
use crate::animation;
use crate::config::{ChannelOrder, OutputConfig};

/// How long a crossfade between two scenes takes when the change names no
/// fade of its own ([`PlayParams::fade`], `FadeOff`), and when a timed play
/// ends.
pub const FADE_NS: u64 = FadeMillis::DEFAULT.as_nanos();

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
    /// How long the running crossfade takes.
    fade_ns: u64,
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
            wire: wire_buffer(count, order),
            output: OutputStage::new(output, order),
            current: None,
            resume: None,
            fade_start: None,
            fade_ns: FADE_NS,
            file_brightness: output.brightness,
        }
    }

    /// Starts a crossfade of `fade_ns` from the frame last rendered.
    fn start_fade(&mut self, now_ns: u64, fade_ns: u64) {
        self.from.copy_from_slice(&self.frame);
        self.fade_start = Some(now_ns);
        self.fade_ns = fade_ns;
    }

    /// Plays `animation` from `now_ns`, crossfading for `params.fade` (or
    /// [`FADE_NS`]). With a duration, what plays now comes back when it
    /// ends.
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
        self.start_fade(now_ns, fade_ns(params.fade));
    }

    /// Fades to dark over `fade` (or [`FADE_NS`]).
    pub fn off(&mut self, now_ns: u64, fade: Option<FadeMillis>) {
        self.current = None;
        self.resume = None;
        self.start_fade(now_ns, fade_ns(fade));
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
            self.start_fade(now_ns, FADE_NS);
        }
        match self.current {
            Some(s) => {
                animation::render(s.animation, s.params.color, s.t_ms(now_ns), &mut self.frame)
            }
            None => self.frame.fill(Rgb::BLACK),
        }
        if let Some(start) = self.fade_start {
            let elapsed = now_ns.saturating_sub(start);
            // A fade of 0 ends here, before the division.
            if elapsed >= self.fade_ns {
                self.fade_start = None;
            } else {
                let mix = (elapsed * 256 / self.fade_ns) as u32;
                for (px, old) in self.frame.iter_mut().zip(&self.from) {
                    *px = animation::lerp(*old, *px, mix);
                }
            }
        }
        self.output
            .apply(&self.frame, &mut self.shown, &mut self.wire);
        &self.wire
    }

    /// A dark frame: the wire buffer, zeroed, at the one length the strip
    /// accepts ([`wire_buffer`]). The last frame the loop writes.
    pub(super) fn blank(&mut self) -> &[u8] {
        self.wire.fill(0);
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

/// The crossfade a change asks for, in nanoseconds.
fn fade_ns(fade: Option<FadeMillis>) -> u64 {
    fade.map_or(FADE_NS, FadeMillis::as_nanos)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::engine::output::tests::output;

    const MS: u64 = 1_000_000;

    /// Solid red parameters.
    pub(in crate::engine) fn red() -> PlayParams {
        PlayParams {
            color: Some(Rgb::new(255, 0, 0)),
            ..PlayParams::default()
        }
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
        p.off(t0 + 500 * MS, None);
        assert!(p.playing(t0 + 500 * MS).is_none());
        p.render(t0 + 600 * MS);
        assert_eq!(p.shown()[0], Rgb::new(191, 0, 0), "a quarter of the fade");
        assert_eq!(p.render(t0 + 900 * MS), &[0; 9]);
    }

    #[test]
    fn a_change_takes_the_fade_it_names() {
        let mut p = Pipeline::new(1, &output(100, 1.0, 0), ChannelOrder::parse("rgb").unwrap());
        let t0 = 1000 * MS;
        let fade = |ms| Some(FadeMillis::new(ms).unwrap());
        // Two seconds into red: a quarter at 500 ms, half at 1 s.
        p.play(
            t0,
            Animation::Solid,
            PlayParams {
                fade: fade(2000),
                ..red()
            },
        );
        p.render(t0 + 500 * MS);
        assert_eq!(p.shown()[0], Rgb::new(63, 0, 0));
        p.render(t0 + 1000 * MS);
        assert_eq!(p.shown()[0], Rgb::new(127, 0, 0));
        p.render(t0 + 2000 * MS);
        assert_eq!(p.shown()[0], Rgb::new(255, 0, 0));
        // A fade of 0 switches in the next frame.
        let blue = PlayParams {
            color: Some(Rgb::new(0, 0, 255)),
            fade: fade(0),
            ..PlayParams::default()
        };
        p.play(t0 + 3000 * MS, Animation::Solid, blue);
        p.render(t0 + 3000 * MS);
        assert_eq!(p.shown()[0], Rgb::new(0, 0, 255));
        // Off over a minute: a tenth gone after six seconds.
        p.off(t0 + 4000 * MS, fade(60_000));
        p.render(t0 + 10_000 * MS);
        assert_eq!(p.shown()[0], Rgb::new(0, 0, 230));
        p.render(t0 + 64_000 * MS);
        assert_eq!(p.shown()[0], Rgb::BLACK);
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
}
