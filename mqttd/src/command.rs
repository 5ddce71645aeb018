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
//! Brightness: ledd lets only admins set it, so a brightness command is
//! accepted only when it asks for the brightness ledd already has (what
//! Home Assistant sends with every ON); any other value is logged and
//! dropped, and the state is published again so the slider goes back.
//! `transition` is accepted and ignored: ledd crossfades at its own pace.

use serde::Deserialize;
use tinsel_proto::{Animation, Brightness, Param, PlayParams, Playing, Request, Rgb};

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
    /// Seconds; accepted and ignored.
    pub transition: Option<f64>,
}

/// `{"r":..,"g":..,"b":..}`; other channels (`h`, `s`, `x`...) are ignored.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Color {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
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
            return Ok(Plan {
                request: Some(Request::Off),
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
    if !on && effect.is_none() && cmd.color.is_none() && cmd.brightness.is_none() {
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
    let color = cmd.color.map(|c| Rgb::new(c.r, c.g, c.b));
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
        (None, None) if on && view.playing.is_none() => {
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
    if plan.request.is_none() && plan.brightness.is_none() {
        plan.republish = true;
    }
    Ok(plan)
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
        assert!(run(r#"{"state":"ON","flash":"short","x":{"y":1}}"#, &v).is_ok());
    }

    #[test]
    fn effects_outside_the_exposed_list_are_refused() {
        let cmd = parse(br#"{"state":"ON","effect":"selftest"}"#, 1024).unwrap();
        let err = plan(&cmd, &view(None), &[Animation::Fire], None).unwrap_err();
        assert_eq!(err, Refused::Effect("selftest".into()));
    }
}
