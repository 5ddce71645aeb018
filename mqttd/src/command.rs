//! A command from the broker, as Home Assistant's MQTT JSON light sends it
//! (`{"state":"ON","effect":"fire","color":{"r":255,"g":0,"b":0}}`), parsed
//! strictly and turned into at most one ledd request.
//!
//! The payload is size-capped before parsing; unknown fields are ignored
//! (Home Assistant adds some, e.g. `color_mode`); a field of the wrong type,
//! a state other than ON/OFF or an effect this tree does not expose drops
//! the whole command, with the reason for the log. Nothing from the payload
//! reaches ledd but an [`Animation`] from the exposed list, a colour and
//! `Off`: the same requests a webhook may make.
//!
//! Brightness: a value other than ledd's is asked of ledd, which takes it
//! from the hooks role under its `[access] hooks_max_brightness` (the
//! package's ledd.toml sets 100; its current budget bounds the power) and
//! refuses it without; a refusal is logged and the state published again
//! so the slider goes back.
//!
//! Transition: Home Assistant sends `"transition": 5.0` (seconds, a float)
//! with ON and OFF. With ON it becomes the crossfade into what the command
//! plays ([`PlayParams::fade`], rounded to the millisecond); with OFF,
//! [`Request::FadeOff`]. ledd fades over 0 to 60 s ([`FadeMillis`]); a
//! transition outside that, or not a finite number, is dropped with its
//! reason and ledd's own crossfade (400 ms) used. A transition with
//! nothing to play (a brightness alone, ON of a lit tree) changes nothing.
//!
//! RGBW: Home Assistant's `rgbw` colour mode sends `"color":
//! {"r":..,"g":..,"b":..,"w":..}`. ledd takes one RGB colour and, on an
//! RGBW strip, moves its common part `min(r, g, b)` to the white die. So
//! `(r, g, b, w)` is asked of ledd as `(r + w, g + w, b + w)`, each capped
//! at 255 ([`Color::to_rgb`]): exact when `min(r, g, b)` is 0 (what Home
//! Assistant's colour wheel and white slider send) and no channel passes
//! 255; otherwise the common part of `r, g, b` joins the white.
//!
//! Flash: Home Assistant's JSON light sends `"flash": 2` (short) or
//! `"flash": 10` (long), the seconds of the discovery config's
//! `flash_time_short`/`flash_time_long`; `"short"` and `"long"` are taken
//! too (other JSON lights' form, handy with `mosquitto_pub`). A flash is a
//! timed play of [`Animation::Breathe`] at [`FLASH_SPEED`] (the whole tree
//! pulses once a second, well under the 3 Hz where flashing light becomes
//! a photosensitivity risk) in the colour showing, for that many seconds;
//! then ledd returns to what played before, dark if the tree was dark. It
//! is played after the rest of the command, so `effect` + `flash` flashes
//! and then shows the new effect.

use serde::Deserialize;
use tinsel_proto::{
    Animation, Brightness, FadeMillis, Param, PlayParams, PlaySeconds, Playing, Request, Rgb, Speed,
};

/// Home Assistant's default `flash_time_short`, in seconds, which the
/// discovery config states.
pub const FLASH_SHORT_SECS: u32 = 2;
/// Home Assistant's default `flash_time_long`, in seconds.
pub const FLASH_LONG_SECS: u32 = 10;
/// The longest flash taken, in seconds: a flash is a signal, not a mode
/// (a longer one is dropped with its reason).
pub const MAX_FLASH_SECS: u32 = 60;
/// The speed of the flash's breathe, in percent: its 4 s cycle becomes 1 s.
pub const FLASH_SPEED: Speed = match Speed::new(400) {
    Ok(s) => s,
    Err(_) => panic!("the flash's speed is out of Speed's range"),
};

/// A command payload, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct Command {
    /// "ON" or "OFF".
    pub state: Option<String>,
    /// 0 to 100 (the discovery config sets `brightness_scale: 100`).
    pub brightness: Option<u32>,
    /// The colour, in the `rgb` colour mode.
    pub color: Option<Color>,
    /// An effect from the effect list.
    pub effect: Option<String>,
    /// Seconds: the crossfade into what plays, or to dark with OFF.
    pub transition: Option<f64>,
    /// A flash: seconds, or "short"/"long".
    pub flash: Option<Flash>,
}

/// `"flash"` as sent: Home Assistant sends seconds, other clients a name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Flash {
    /// Seconds (Home Assistant's `flash_time_short`/`flash_time_long`).
    Seconds(f64),
    /// "short" or "long".
    Named(String),
}

impl Flash {
    /// How long to flash, or why not.
    fn seconds(&self) -> Result<PlaySeconds, String> {
        let secs = match self {
            Flash::Named(n) if n == "short" => FLASH_SHORT_SECS,
            Flash::Named(n) if n == "long" => FLASH_LONG_SECS,
            Flash::Named(n) => {
                return Err(format!(
                    "flash {n:?}: give \"short\", \"long\" or seconds (1-{MAX_FLASH_SECS})"
                ));
            }
            Flash::Seconds(s) if (0.5..MAX_FLASH_SECS as f64 + 0.5).contains(s) => {
                // In range, so the rounded value fits.
                s.round() as u32
            }
            Flash::Seconds(s) => {
                return Err(format!("flash {s} s: not within 1-{MAX_FLASH_SECS} s"));
            }
        };
        PlaySeconds::new(secs).map_err(|e| format!("flash {secs} s: {e}"))
    }
}

/// `{"r":..,"g":..,"b":..}`, with `"w"` in the `rgbw` colour mode; other
/// channels (`h`, `s`, `x`...) are ignored.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Color {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
    /// White, in the `rgbw` colour mode.
    pub w: Option<u8>,
}

impl Color {
    /// The RGB colour ledd is asked for: white added to each channel,
    /// capped at 255, so that ledd's white extraction puts (at least) `w`
    /// on an RGBW strip's white die (see the module's notes on RGBW).
    pub fn to_rgb(self) -> Rgb {
        let w = self.w.unwrap_or(0);
        Rgb::new(
            self.r.saturating_add(w),
            self.g.saturating_add(w),
            self.b.saturating_add(w),
        )
    }
}

/// What Home Assistant's `rgbw` mode shows for ledd's RGB colour `c`: the
/// part ledd puts on the white die, `w = min(r, g, b)`, and the rest. The
/// reverse of [`Color::to_rgb`] wherever that is exact.
pub fn rgbw_of(c: Rgb) -> [u8; 4] {
    let w = c.r.min(c.g).min(c.b);
    [c.r - w, c.g - w, c.b - w, w]
}

/// The crossfade for Home Assistant's `transition` (seconds), or why not.
fn fade(transition: f64) -> Result<FadeMillis, String> {
    let max = FadeMillis::MAX;
    let ms = transition * 1000.0;
    if !ms.is_finite() || !(0.0..f64::from(max) + 0.5).contains(&ms) {
        return Err(format!(
            "transition {transition} s: not within 0-{} s (ledd's longest crossfade)",
            max / 1000
        ));
    }
    // In range, so the rounded value fits.
    let ms = (ms.round() as u16).min(max);
    FadeMillis::new(ms).map_err(|e| format!("transition {transition} s: {e}"))
}

/// Why a command was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Over `limits.max_payload_bytes`.
    #[error("payload of {0} bytes is over limits.max_payload_bytes ({1})")]
    TooLarge(usize, usize),
    /// Not JSON of the expected shape.
    #[error("not a JSON light command ({0}); send e.g. {{\"state\":\"ON\",\"effect\":\"fire\"}}")]
    Json(String),
    /// `state` is neither ON nor OFF.
    #[error("state {0:?} is neither \"ON\" nor \"OFF\"")]
    State(String),
    /// The effect is not an animation, or not exposed.
    #[error("effect {0:?} is not in this tree's effect list")]
    Effect(String),
    /// Nothing to do.
    #[error("the command asks for nothing (no state, effect or colour)")]
    Empty,
}

/// What ledd shows now, as far as mqttd knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The animation playing, `None` when off.
    pub playing: Option<Playing>,
    /// ledd's global brightness.
    pub brightness: Brightness,
}

/// What to do for one command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// A new brightness for ledd, asked before `request`. ledd takes it
    /// from the hooks role only under its `[access] hooks_max_brightness`
    /// (and lowers it to that ceiling).
    pub brightness: Option<Brightness>,
    /// The request for ledd, if anything changes.
    pub request: Option<Request>,
    /// A flash, played after `request`: a timed play, after which ledd
    /// returns to what played before it.
    pub flash: Option<Request>,
    /// Parts that were dropped, each with its reason, for the log.
    pub dropped: Vec<String>,
    /// Publish the state again even if ledd's does not change (a dropped
    /// part: Home Assistant must see the real state).
    pub republish: bool,
}

/// Parses a payload of at most `max` bytes.
pub fn parse(payload: &[u8], max: usize) -> Result<Command, Refused> {
    if payload.len() > max {
        return Err(Refused::TooLarge(payload.len(), max));
    }
    serde_json::from_slice(payload).map_err(|e| Refused::Json(e.to_string()))
}

/// Turns `cmd` into a plan, given what plays (`view`), the exposed
/// animations and what to play for a bare ON when nothing plays
/// (`resume`).
pub fn plan(
    cmd: &Command,
    view: &View,
    exposed: &[Animation],
    resume: Option<Playing>,
) -> Result<Plan, Refused> {
    let on = match cmd.state.as_deref() {
        Some("ON") => true,
        Some("OFF") => {
            // Off wins: a flash would light the tree it turns off.
            let mut dropped: Vec<String> = cmd
                .flash
                .iter()
                .map(|_| "flash: the command turns the tree off".to_owned())
                .collect();
            let request = match cmd.transition.map(fade) {
                None => Request::Off,
                Some(Ok(ms)) => Request::FadeOff(ms),
                Some(Err(why)) => {
                    dropped.push(why);
                    Request::Off
                }
            };
            return Ok(Plan {
                request: Some(request),
                dropped,
                ..Plan::default()
            });
        }
        Some(other) => return Err(Refused::State(other.to_owned())),
        None => false,
    };
    let effect = match &cmd.effect {
        Some(name) => {
            let a: Animation = name.parse().map_err(|_| Refused::Effect(name.clone()))?;
            if !exposed.contains(&a) {
                return Err(Refused::Effect(name.clone()));
            }
            Some(a)
        }
        None => None,
    };
    if !on
        && effect.is_none()
        && cmd.color.is_none()
        && cmd.brightness.is_none()
        && cmd.flash.is_none()
    {
        return Err(Refused::Empty);
    }
    let mut plan = Plan::default();
    if let Some(b) = cmd.brightness
        && b != u32::from(view.brightness.get())
    {
        match u8::try_from(b).ok().and_then(|b| Brightness::new(b).ok()) {
            Some(b) => plan.brightness = Some(b),
            None => {
                plan.dropped
                    .push(format!("brightness {b}: not within 0-100"));
                plan.republish = true;
            }
        }
    }
    let color = cmd.color.map(Color::to_rgb);
    let takes_color = |a: Animation| a.accepts().contains(Param::Color);
    let play = |animation, color| Request::Play {
        animation,
        params: PlayParams {
            color,
            ..PlayParams::default()
        },
    };
    plan.request = match (effect, color) {
        (Some(a), Some(c)) if takes_color(a) => Some(play(a, Some(c))),
        (Some(a), Some(c)) => {
            plan.dropped
                .push(format!("color {c}: {a} has its own colours"));
            Some(play(a, None))
        }
        (Some(a), None) => Some(play(a, None)),
        (None, Some(c)) => match view.playing {
            // Recolour what plays, keeping its speed.
            Some(p) if takes_color(p.animation) && exposed.contains(&p.animation) => {
                Some(Request::Play {
                    animation: p.animation,
                    params: PlayParams {
                        color: Some(c),
                        speed: p.params.speed,
                        duration: None,
                        fade: None,
                    },
                })
            }
            _ if exposed.contains(&Animation::Solid) => Some(play(Animation::Solid, Some(c))),
            _ => {
                plan.dropped.push(format!(
                    "color {c}: solid is not in this tree's effect list"
                ));
                plan.republish = true;
                None
            }
        },
        // A flash alone returns to what showed before it, dark included.
        (None, None) if on && view.playing.is_none() && cmd.flash.is_none() => {
            let p = resume
                .filter(|p| exposed.contains(&p.animation))
                .map(|p| Request::Play {
                    animation: p.animation,
                    params: PlayParams {
                        duration: None,
                        ..p.params
                    },
                });
            p.or_else(|| exposed.first().map(|a| play(*a, None)))
        }
        (None, None) => None,
    };
    match cmd.transition.map(fade) {
        Some(Ok(ms)) => {
            if let Some(Request::Play { params, .. }) = &mut plan.request {
                params.fade = Some(ms);
            }
        }
        Some(Err(why)) => plan.dropped.push(why),
        None => {}
    }
    if let Some(f) = &cmd.flash {
        match f.seconds() {
            Ok(secs) => plan.flash = Some(flash(secs, plan.request.as_ref(), view)),
            Err(why) => {
                plan.dropped.push(why);
                plan.republish = true;
            }
        }
    }
    if plan.request.is_none() && plan.brightness.is_none() && plan.flash.is_none() {
        plan.republish = true;
    }
    Ok(plan)
}

/// The flash's request: breathe for `secs` in the colour that will show
/// after `request` (or shows now), else breathe's own.
fn flash(secs: PlaySeconds, request: Option<&Request>, view: &View) -> Request {
    let color = match request {
        Some(Request::Play { params, .. }) => params.color,
        Some(_) => None,
        None => view.playing.and_then(|p| p.params.color),
    };
    Request::Play {
        animation: Animation::Breathe,
        params: PlayParams {
            color,
            speed: FLASH_SPEED,
            duration: Some(secs),
            ..PlayParams::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinsel_proto::Speed;

    fn view(playing: Option<Playing>) -> View {
        View {
            playing,
            brightness: Brightness::new(50).unwrap(),
        }
    }

    fn playing(animation: Animation, color: Option<Rgb>) -> Playing {
        Playing {
            animation,
            params: PlayParams {
                color,
                speed: Speed::new(200).unwrap(),
                duration: None,
                fade: None,
            },
            remaining_secs: None,
        }
    }

    fn run(json: &str, v: &View) -> Result<Plan, Refused> {
        plan(&parse(json.as_bytes(), 1024)?, v, &Animation::ALL, None)
    }

    #[test]
    fn on_with_an_effect_plays_it() {
        let p = run(
            r#"{"state":"ON","effect":"fire","color_mode":"rgb"}"#,
            &view(None),
        )
        .unwrap();
        assert_eq!(
            p.request,
            Some(Request::Play {
                animation: Animation::Fire,
                params: PlayParams::default()
            })
        );
        assert!(p.dropped.is_empty());
    }

    #[test]
    fn off_is_off() {
        let p = run(r#"{"state":"OFF","effect":"nonsense"}"#, &view(None)).unwrap();
        assert_eq!(p.request, Some(Request::Off));
    }

    #[test]
    fn a_colour_recolours_what_plays_if_it_takes_one_else_plays_solid() {
        let red = r#"{"state":"ON","color":{"r":255,"g":0,"b":0}}"#;
        let v = view(Some(playing(Animation::Comet, Some(Rgb::new(0, 0, 255)))));
        let Some(Request::Play { animation, params }) = run(red, &v).unwrap().request else {
            panic!()
        };
        assert_eq!(animation, Animation::Comet);
        assert_eq!(params.color, Some(Rgb::new(255, 0, 0)));
        assert_eq!(params.speed, Speed::new(200).unwrap(), "speed kept");
        let v = view(Some(playing(Animation::Fire, None)));
        let Some(Request::Play { animation, params }) = run(red, &v).unwrap().request else {
            panic!()
        };
        assert_eq!(animation, Animation::Solid);
        assert_eq!(params.color, Some(Rgb::new(255, 0, 0)));
    }

    #[test]
    fn a_colour_for_an_effect_with_its_own_palette_is_dropped_with_a_reason() {
        let p = run(
            r#"{"state":"ON","effect":"rainbow","color":{"r":1,"g":2,"b":3}}"#,
            &view(None),
        )
        .unwrap();
        assert_eq!(
            p.request,
            Some(Request::Play {
                animation: Animation::Rainbow,
                params: PlayParams::default()
            })
        );
        assert_eq!(p.dropped.len(), 1, "{:?}", p.dropped);
        // What the request carries is what ledd accepts.
        if let Some(Request::Play { animation, params }) = p.request {
            animation.check(&params).unwrap();
        }
    }

    #[test]
    fn a_new_brightness_is_asked_of_ledd_and_one_out_of_range_is_dropped() {
        // ledd's own value (50 in `view`): nothing to ask.
        let p = run(r#"{"state":"ON","brightness":50}"#, &view(None)).unwrap();
        assert!(p.dropped.is_empty());
        assert_eq!(p.brightness, None);
        let p = run(r#"{"state":"ON","brightness":80}"#, &view(None)).unwrap();
        assert_eq!(p.brightness, Some(Brightness::new(80).unwrap()));
        assert!(p.dropped.is_empty(), "{:?}", p.dropped);
        // ON still turns the tree on.
        assert!(matches!(p.request, Some(Request::Play { .. })));
        // Brightness alone is a command (Home Assistant's slider).
        let p = run(r#"{"brightness":20}"#, &view(None)).unwrap();
        assert_eq!(p.brightness, Some(Brightness::new(20).unwrap()));
        assert!(!p.republish);
        for bad in [101, 255, 70000] {
            let p = run(
                &format!(r#"{{"state":"ON","brightness":{bad}}}"#),
                &view(None),
            )
            .unwrap();
            assert_eq!(p.brightness, None);
            assert!(
                p.dropped[0].contains(&format!("brightness {bad}")),
                "{:?}",
                p.dropped
            );
            assert!(p.republish);
        }
    }

    #[test]
    fn a_bare_on_resumes_what_played_last_and_is_a_no_op_when_on() {
        let last = playing(Animation::Snowfall, Some(Rgb::new(1, 1, 1)));
        let cmd = parse(br#"{"state":"ON"}"#, 1024).unwrap();
        let p = plan(&cmd, &view(None), &Animation::ALL, Some(last)).unwrap();
        assert!(
            matches!(
                p.request,
                Some(Request::Play {
                    animation: Animation::Snowfall,
                    ..
                })
            ),
            "{p:?}"
        );
        let p = plan(&cmd, &view(Some(last)), &Animation::ALL, None).unwrap();
        assert_eq!(p.request, None);
    }

    #[test]
    fn bad_commands_are_refused_with_a_reason() {
        let v = view(None);
        assert!(matches!(run("{", &v), Err(Refused::Json(_))));
        assert!(matches!(run("[1]", &v), Err(Refused::Json(_))));
        assert!(matches!(
            run(r#"{"state":"on"}"#, &v),
            Err(Refused::State(_))
        ));
        assert!(matches!(
            run(r#"{"state":"ON","color":{"r":256,"g":0,"b":0}}"#, &v),
            Err(Refused::Json(_))
        ));
        assert!(matches!(
            run(r#"{"state":"ON","effect":"../../etc"}"#, &v),
            Err(Refused::Effect(_))
        ));
        assert_eq!(run("{}", &v), Err(Refused::Empty));
        assert_eq!(
            parse(&[b' '; 2000], 1024).unwrap_err(),
            Refused::TooLarge(2000, 1024)
        );
        // Unknown fields are ignored.
        assert!(run(r#"{"state":"ON","x":{"y":1}}"#, &v).is_ok());
        assert!(matches!(
            run(r#"{"state":"ON","flash":[1]}"#, &v),
            Err(Refused::Json(_))
        ));
    }

    #[test]
    fn effects_outside_the_exposed_list_are_refused() {
        let cmd = parse(br#"{"state":"ON","effect":"selftest"}"#, 1024).unwrap();
        let err = plan(&cmd, &view(None), &[Animation::Fire], None).unwrap_err();
        assert_eq!(err, Refused::Effect("selftest".into()));
    }

    fn flash_of(p: &Plan) -> (Option<Rgb>, u32) {
        match p.flash {
            Some(Request::Play {
                animation: Animation::Breathe,
                params,
            }) => {
                // What ledd would accept.
                Animation::Breathe.check(&params).unwrap();
                assert_eq!(params.speed, FLASH_SPEED);
                (params.color, params.duration.unwrap().get())
            }
            ref other => panic!("no flash: {other:?}"),
        }
    }

    #[test]
    fn a_flash_is_a_timed_breathe_in_the_colour_showing_and_nothing_else() {
        let blue = Rgb::new(0, 0, 255);
        let lit = view(Some(playing(Animation::Comet, Some(blue))));
        // Home Assistant's short and long flash (its defaults, seconds).
        for (json, secs) in [
            (r#"{"state":"ON","flash":2}"#, 2),
            (r#"{"state":"ON","flash":10}"#, 10),
            (r#"{"state":"ON","flash":"short"}"#, FLASH_SHORT_SECS),
            (r#"{"state":"ON","flash":"long"}"#, FLASH_LONG_SECS),
            (r#"{"state":"ON","flash":2.4}"#, 2),
        ] {
            let p = run(json, &lit).unwrap();
            assert_eq!(p.request, None, "{json}: what plays stays");
            assert_eq!(flash_of(&p), (Some(blue), secs), "{json}");
            assert!(p.dropped.is_empty() && !p.republish, "{json}: {p:?}");
        }
        // A dark tree flashes and goes dark again: no resume first.
        let p = run(r#"{"state":"ON","flash":2}"#, &view(None)).unwrap();
        assert_eq!(p.request, None);
        assert_eq!(flash_of(&p), (None, 2));
        // An animation without a colour: breathe's own.
        let p = run(
            r#"{"state":"ON","flash":2}"#,
            &view(Some(playing(Animation::Fire, None))),
        )
        .unwrap();
        assert_eq!(flash_of(&p).0, None);
        // With a new effect and colour: those, then the flash in that colour.
        let p = run(
            r#"{"state":"ON","effect":"comet","color":{"r":9,"g":8,"b":7},"flash":10}"#,
            &view(None),
        )
        .unwrap();
        assert!(matches!(
            p.request,
            Some(Request::Play {
                animation: Animation::Comet,
                ..
            })
        ));
        assert_eq!(flash_of(&p), (Some(Rgb::new(9, 8, 7)), 10));
        // Flash alone (no state) is a command too.
        assert!(run(r#"{"flash":2}"#, &lit).unwrap().flash.is_some());
    }

    fn fade_of(p: &Plan) -> Option<FadeMillis> {
        match p.request {
            Some(Request::Play { params, .. }) => params.fade,
            ref other => panic!("no play: {other:?}"),
        }
    }

    #[test]
    fn a_transition_is_the_crossfade_into_what_plays_and_off_fades_over_it() {
        let ms = |n| Some(FadeMillis::new(n).unwrap());
        for (t, want) in [
            ("5.0", ms(5000)),
            ("5", ms(5000)),
            ("0", ms(0)),
            ("0.0015", ms(2)),
            ("59.9996", ms(60_000)),
            ("60", ms(60_000)),
        ] {
            let json = format!(r#"{{"state":"ON","effect":"rainbow","transition":{t}}}"#);
            let p = run(&json, &view(None)).unwrap();
            assert_eq!(fade_of(&p), want, "{json}");
            assert!(p.dropped.is_empty(), "{json}: {:?}", p.dropped);
        }
        // A colour and a resumed animation fade in too.
        let lit = view(Some(playing(Animation::Comet, None)));
        let p = run(
            r#"{"state":"ON","color":{"r":1,"g":0,"b":0},"transition":2}"#,
            &lit,
        )
        .unwrap();
        assert_eq!(fade_of(&p), ms(2000));
        let cmd = parse(br#"{"state":"ON","transition":3}"#, 1024).unwrap();
        let last = playing(Animation::Snowfall, None);
        let p = plan(&cmd, &view(None), &Animation::ALL, Some(last)).unwrap();
        assert_eq!(fade_of(&p), ms(3000));
        // Nothing to play: nothing to fade, nothing dropped.
        let p = run(r#"{"state":"ON","transition":3}"#, &lit).unwrap();
        assert_eq!(p.request, None);
        assert!(p.dropped.is_empty());
        // OFF with a transition fades to dark; without, ledd's own.
        let p = run(r#"{"state":"OFF","transition":1.5}"#, &lit).unwrap();
        assert_eq!(
            p.request,
            Some(Request::FadeOff(FadeMillis::new(1500).unwrap()))
        );
        let p = run(r#"{"state":"OFF"}"#, &lit).unwrap();
        assert_eq!(p.request, Some(Request::Off));
    }

    #[test]
    fn a_transition_out_of_range_is_dropped_with_its_reason() {
        let lit = view(Some(playing(Animation::Comet, None)));
        for bad in ["-1", "60.001", "6553", "1e308"] {
            let p = run(
                &format!(r#"{{"state":"ON","effect":"fire","transition":{bad}}}"#),
                &lit,
            )
            .unwrap();
            assert_eq!(fade_of(&p), None, "{bad}: ledd's own fade");
            assert!(
                p.dropped[0].starts_with("transition") && p.dropped[0].contains("0-60 s"),
                "{bad}: {:?}",
                p.dropped
            );
            let p = run(&format!(r#"{{"state":"OFF","transition":{bad}}}"#), &lit).unwrap();
            assert_eq!(p.request, Some(Request::Off), "{bad}");
            assert_eq!(p.dropped.len(), 1, "{bad}");
        }
        // Not a number at all: the whole command, as any wrong type.
        assert!(matches!(
            run(r#"{"state":"ON","transition":"slow"}"#, &lit),
            Err(Refused::Json(_))
        ));
        // JSON has no NaN or infinity; a float that overflows is refused.
        assert!(run(r#"{"state":"ON","transition":1e999}"#, &lit).is_err());
        assert!(fade(f64::NAN).is_err() && fade(f64::INFINITY).is_err());
    }

    #[test]
    fn white_is_added_to_each_channel_so_ledd_puts_it_on_the_white_die() {
        let rgbw = |r, g, b, w| Color {
            r,
            g,
            b,
            w: Some(w),
        };
        // ledd's extraction, `w = min(r, g, b)`, undoes the mapping where
        // min(r, g, b) is 0 and nothing saturates.
        for c in [
            rgbw(0, 0, 0, 200),
            rgbw(255, 0, 0, 0),
            rgbw(0, 100, 155, 100),
            rgbw(12, 0, 34, 56),
        ] {
            assert_eq!(rgbw_of(c.to_rgb()), [c.r, c.g, c.b, c.w.unwrap()], "{c:?}");
        }
        // The limits: white beside a common part joins it; 255 caps.
        assert_eq!(rgbw(10, 20, 30, 5).to_rgb(), Rgb::new(15, 25, 35));
        assert_eq!(rgbw_of(Rgb::new(15, 25, 35)), [0, 10, 20, 15]);
        assert_eq!(rgbw(255, 0, 0, 100).to_rgb(), Rgb::new(255, 100, 100));
        assert_eq!(rgbw_of(Rgb::new(255, 100, 100)), [155, 0, 0, 100]);
        // Without white, the colour as given.
        let plain = Color {
            r: 1,
            g: 2,
            b: 3,
            w: None,
        };
        assert_eq!(plain.to_rgb(), Rgb::new(1, 2, 3));
        let p = run(
            r#"{"state":"ON","color":{"r":0,"g":0,"b":0,"w":200}}"#,
            &view(None),
        )
        .unwrap();
        assert_eq!(
            p.request,
            Some(Request::Play {
                animation: Animation::Solid,
                params: PlayParams {
                    color: Some(Rgb::new(200, 200, 200)),
                    ..PlayParams::default()
                }
            })
        );
        assert!(
            run(
                r#"{"state":"ON","color":{"r":0,"g":0,"b":0,"w":256}}"#,
                &view(None)
            )
            .is_err()
        );
    }

    #[test]
    fn a_bad_flash_is_dropped_with_its_reason_and_off_wins() {
        let lit = view(Some(playing(Animation::Comet, None)));
        for bad in ["0", "61", "-2", "1e9", "\"medium\""] {
            let p = run(&format!(r#"{{"state":"ON","flash":{bad}}}"#), &lit).unwrap();
            assert_eq!(p.flash, None, "{bad}");
            assert!(p.dropped[0].starts_with("flash"), "{bad}: {:?}", p.dropped);
            assert!(p.republish, "{bad}");
        }
        let p = run(r#"{"state":"OFF","flash":2}"#, &lit).unwrap();
        assert_eq!((p.request, p.flash), (Some(Request::Off), None));
        assert_eq!(p.dropped.len(), 1, "{:?}", p.dropped);
        assert!(PlaySeconds::new(MAX_FLASH_SECS).is_ok());
    }
}
