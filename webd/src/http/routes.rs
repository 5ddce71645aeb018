//! The routes: `POST /hooks/{name}` and `GET /healthz`, and the steps of a
//! webhook in order: ban check, body bounds, body parse, authentication
//! (and, only when it fails, the global failure budget; an expired token
//! fails like a bad one), the token's `allow_from`, hook lookup and scope,
//! the token's and the hook's `rate`, parameters, ledd. `GET /state` is in
//! [`state`](super::state) and shares these checks.
//!
//! The order is the point. Anything that depends on the hook name comes
//! after authentication, so an unauthenticated client learns nothing about
//! which hooks exist: a bad token and an unknown hook are both 401. A
//! banned client is refused before anything is read; a spent global budget
//! refuses failed attempts only, so a valid token is served while strangers
//! fail. A request whose credentials or body could be read two ways (a
//! token or credential header given twice, a JSON key given twice, a JSON
//! body labelled as a form) is refused with 400 or 415 and never counted
//! as a failed login: webd does not guess which one the sender meant.
//!
//! The steps up to the token's `allow_from` are the [`gate`](super::gate)
//! every authenticated route passes; the body's parsing is in
//! [`body`](super::body), the credential's extraction in
//! [`auth`](super::auth).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use tinsel_proto::{PlaySeconds, Speed};

use super::AppState;
use super::body::echo;
use super::error::{ApiError, json_response};
use super::gate::{self, Passed, Route};
use crate::domain::hook::{Action, ColorChoice, Hook};

pub use super::body::Fields;

/// `GET /healthz`: 200 while webd serves. Says nothing about ledd, the
/// config or the version.
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// Any path that is not a route.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// A route with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// `POST /hooks/{name}`.
pub async fn hook(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    // An undecodable path segment names no hook: treat it like an unknown one.
    let name = name.map(|Path(n)| n).unwrap_or_default();
    let route = Route::Hook(&name);
    let Passed {
        live,
        ip,
        token,
        fields,
    } = gate::pass(&state, req, route).await?;
    let audit = |result| route.audit(&token.name, ip, result);
    let Some(hook) = live.config.hooks.get(&name) else {
        audit("no_such_hook");
        return Err(ApiError::NoSuchHook);
    };
    if !token.scope.allows(&name) {
        audit("forbidden");
        return Err(ApiError::Forbidden);
    }
    if let Err(e) = state.take_rates(&token, Some((&name, hook))) {
        audit("rate_limited");
        return Err(e);
    }
    let request = match build_request(&name, hook, &fields) {
        Ok(r) => r,
        Err(e) => {
            audit("bad_request");
            return Err(e);
        }
    };
    match state.ledd().request(request).await {
        Ok(_) => {
            audit("ok");
            let action = match hook.action {
                Action::Play { animation, .. } => animation.name(),
                Action::Off => "off",
            };
            Ok(json_response(
                StatusCode::OK,
                &serde_json::json!({ "ok": true, "hook": name, "animation": action }),
            ))
        }
        Err(e) => {
            audit("ledd_error");
            match e.retry_after() {
                Some(retry_after) => {
                    tracing::debug!("ledd: {e}");
                    Err(ApiError::LeddUnavailable { retry_after })
                }
                None => {
                    tracing::warn!(hook = %name, "ledd refused the hook's request: {e}");
                    Err(ApiError::LeddRefused)
                }
            }
        }
    }
}

/// The ledd request for `hook`, with the parameters the request may set.
fn build_request(
    name: &str,
    hook: &Hook,
    fields: &Fields,
) -> Result<tinsel_proto::Request, ApiError> {
    let (animation, mut params) = match hook.action {
        Action::Off => {
            if let Some(field) = fields.first_param() {
                return Err(ApiError::bad(
                    field,
                    format!("hook `{name}` turns the tree off and takes no parameters"),
                ));
            }
            return Ok(tinsel_proto::Request::Off);
        }
        Action::Play { animation, params } => (animation, params),
    };
    if let Some(text) = &fields.color {
        let rgb = text
            .parse::<tinsel_proto::Rgb>()
            .map_err(|e| ApiError::bad("color", format!("`{}`: {e}", echo(text))))?;
        match &hook.request_colors {
            ColorChoice::None => {
                return Err(ApiError::bad(
                    "color",
                    format!("hook `{name}` does not take a colour from the request"),
                ));
            }
            choice if !choice.allows(rgb) => {
                let allowed = match choice {
                    ColorChoice::Only(list) => list
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => String::new(),
                };
                return Err(ApiError::bad(
                    "color",
                    format!(
                        "`{}` is not allowed for hook `{name}`: use one of {allowed}",
                        echo(text)
                    ),
                ));
            }
            _ => params.color = Some(rgb),
        }
    }
    if let Some(speed) = fields.speed {
        if !hook.request_speed {
            return Err(ApiError::bad(
                "speed",
                format!("hook `{name}` does not take a speed from the request"),
            ));
        }
        let speed = u16::try_from(speed).unwrap_or(u16::MAX);
        params.speed = Speed::new(speed).map_err(|e| ApiError::bad("speed", e.to_string()))?;
    }
    if let Some(duration) = fields.duration {
        if !hook.request_duration {
            return Err(ApiError::bad(
                "duration",
                format!("hook `{name}` does not take a duration from the request"),
            ));
        }
        let secs = u32::try_from(duration).unwrap_or(u32::MAX);
        params.duration =
            Some(PlaySeconds::new(secs).map_err(|e| ApiError::bad("duration", e.to_string()))?);
    }
    Ok(tinsel_proto::Request::Play { animation, params })
}
