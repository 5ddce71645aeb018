//! `GET /state`: what the tree shows, for Home Assistant's REST sensor.
//!
//! The steps, in order: ban check, no token in the URL, a bearer token in
//! the `Authorization` header (a failure counts as on the webhook route),
//! the token's `allow_from` (refused: 403, counted), its `state` scope
//! (refused: 403, not counted: the holder proved the token), its `rate`
//! (429, not counted), then ledd's state.
//!
//! Only a bearer token reads state: a GET has no body, so a signature
//! would cover nothing but a timestamp. The steps up to `allow_from` are
//! the [`gate`](super::gate)'s.
//!
//! The state is the one ledd pushed last to webd's subscribing link
//! ([`tinsel_client::Handle::state`]), so a poll costs ledd nothing and
//! never waits behind webhooks in the link's queue (each request to ledd
//! waits for a frame: 48 connections polling through it held webhooks up
//! for 0.8 s). While the link has no state (ledd away, or not connected
//! yet) webd asks ledd, and answers as a request to an absent ledd does:
//! 503 with `Retry-After`.

use crate::domain::date::now_unix;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use tinsel_proto::{Rgb, Status};

use super::AppState;
use super::error::{ApiError, json_response};
use super::gate::{self, Passed, Route};
use crate::domain::date::rfc3339;

/// `GET /state`.
pub async fn state(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let route = Route::State;
    let Passed { ip, token, .. } = gate::pass(&state, req, route).await?;
    let audit = |result| route.audit(&token.name, ip, result);
    if !token.access.state {
        audit("forbidden");
        return Err(ApiError::StateForbidden);
    }
    if let Err(e) = state.take_rates(&token, None) {
        audit("rate_limited");
        return Err(e);
    }
    match status(&state).await {
        Ok(status) => {
            audit("ok");
            Ok(json_response(
                StatusCode::OK,
                &state_json(&status, now_unix()),
            ))
        }
        Err(e) => {
            audit("ledd_error");
            Err(e)
        }
    }
}

/// ledd's state: the one it pushed last, else its answer to `Status`.
pub(super) async fn status(state: &AppState) -> Result<Status, ApiError> {
    if let Some(status) = state.ledd().state() {
        return Ok(status);
    }
    match state.ledd().request(tinsel_proto::Request::Status).await {
        Ok(tinsel_proto::Response::Status(status)) => Ok(status),
        Ok(other) => {
            tracing::warn!("ledd answered Status with {other:?}");
            Err(ApiError::LeddRefused)
        }
        Err(e) => match e.retry_after() {
            Some(retry_after) => Err(ApiError::LeddUnavailable { retry_after }),
            None => {
                tracing::warn!("ledd refused Status: {e}");
                Err(ApiError::LeddRefused)
            }
        },
    }
}

/// A colour as webd accepts it: its name when it has one, else `#rrggbb`.
pub fn color_text(c: Rgb) -> String {
    Rgb::NAMED
        .iter()
        .find(|(_, rgb)| *rgb == c)
        .map_or_else(|| c.to_string(), |(name, _)| (*name).to_owned())
}

/// The `/state` answer for `status` at `now_unix`. Every key is present
/// in every answer (`null` when it does not apply), so a template never
/// meets a missing key.
pub fn state_json(status: &Status, now_unix: u64) -> Value {
    let playing = status.playing.as_ref();
    let color = playing.and_then(|p| p.params.color);
    let remaining = playing.and_then(|p| p.remaining_secs);
    json!({
        "on": playing.is_some(),
        "animation": playing.map(|p| p.animation.name()),
        "color": color.map(color_text),
        "color_hex": color.map(|c| c.to_string()),
        "rgb": color.map(|c| [c.r, c.g, c.b]),
        "speed": playing.map(|p| p.params.speed.get()),
        "brightness": status.brightness.get(),
        "timed": remaining.is_some(),
        "remaining_secs": remaining,
        "until": remaining.map(|r| rfc3339(now_unix + u64::from(r))),
        "led_count": status.led_count,
    })
}

#[cfg(test)]
mod tests {
    use tinsel_proto::{
        Animation, Brightness, FrameStats, PlayParams, Playing, Power, Speed, Status,
    };

    use super::*;

    fn status(playing: Option<Playing>) -> Status {
        Status {
            playing,
            brightness: Brightness::new(40).unwrap(),
            led_count: 30,
            target_fps: 60,
            stats: FrameStats::default(),
            power: Power::default(),
        }
    }

    #[test]
    fn off_has_every_key_and_nulls() {
        let v = state_json(&status(None), 0);
        assert_eq!(
            v,
            json!({
                "on": false, "animation": null, "color": null, "color_hex": null,
                "rgb": null, "speed": null, "brightness": 40, "timed": false,
                "remaining_secs": null, "until": null, "led_count": 30,
            })
        );
    }

    #[test]
    fn a_timed_play_says_what_and_until_when() {
        let p = Playing {
            animation: Animation::Solid,
            params: PlayParams {
                color: Some(Rgb::new(255, 147, 41)),
                speed: Speed::DEFAULT,
                duration: None,
                fade: None,
            },
            remaining_secs: Some(90),
        };
        let v = state_json(&status(Some(p)), 1_799_280_000);
        assert_eq!(v["on"], true);
        assert_eq!(v["animation"], "solid");
        assert_eq!(v["color"], "warm-white");
        assert_eq!(v["color_hex"], "#ff9329");
        assert_eq!(v["rgb"], json!([255, 147, 41]));
        assert_eq!(v["speed"], 100);
        assert_eq!(v["timed"], true);
        assert_eq!(v["remaining_secs"], 90);
        assert_eq!(v["until"], "2027-01-07T00:01:30Z");
        // A colour without a name is hex, which webd also accepts.
        assert_eq!(color_text(Rgb::new(1, 2, 3)), "#010203");
        assert_eq!(
            color_text(Rgb::new(1, 2, 3)).parse::<Rgb>(),
            Ok(Rgb::new(1, 2, 3))
        );
    }
}
