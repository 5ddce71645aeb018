//! The tree's own page (`[page] enabled = true`): `GET /` (and `GET
//! /pair`, the same document) with its assets under `/page/`, embedded in
//! the binary; and the three routes a paired device may call:
//! `GET /page/state`, `POST /page/play`, `POST /page/off`. Pairing itself
//! (`POST /pair`) is in [`pair`](super::pair).
//!
//! A device route's steps, in order: ban check; the request comes from the
//! page itself ([`same_origin`]: `Sec-Fetch-Site`, and for a POST `Origin`
//! and a JSON body, which a cross-site form cannot send), refused with
//! 403 and never counted (another site could otherwise get a visitor's
//! address banned); the device cookie (none: 401, not counted; a wrong,
//! expired or revoked one: 401, counted like a bad token); `[page]
//! allow_from` (403, counted); `[page] rate`, per device (429); then the
//! request's own checks and ledd. A device may play the page's animations
//! with the parameters each takes, turn the tree off and read the state;
//! nothing else (no hook, no brightness, no admin).
//!
//! The document's Content-Security-Policy allows its own script, style,
//! manifest and icon and nothing else: no inline code, no `eval`, no other
//! origin, no framing.

use crate::domain::date::now_unix;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tinsel_proto::{Animation, Param, PlayParams, PlaySeconds, Speed};

use super::body::{echo, read_body};
use super::client::Client;
use super::error::{ApiError, json_response};
use super::gate::Route;
use super::state::state_json;
use super::{AppState, Live};
use crate::devices::{Found, Store};
use crate::domain::page::Page;
use crate::domain::token::{Scope, Token, TokenSecret};

/// The device cookie. `__Host-`: the browser keeps it only if it is
/// `Secure`, has `Path=/` and no `Domain`, so no other host can set it.
pub const COOKIE: &str = "__Host-tinsel-device";

/// The page's Content-Security-Policy.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The longest timed play the page offers, in minutes: a day, as
/// [`PlaySeconds`] allows.
pub const MAX_PLAY_MINUTES: u32 = 24 * 60;

const INDEX: &str = include_str!("page/index.html");

/// The embedded assets: path, type, bytes.
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "/page/app.js",
        "text/javascript; charset=utf-8",
        include_str!("page/app.js"),
    ),
    (
        "/page/app.css",
        "text/css; charset=utf-8",
        include_str!("page/app.css"),
    ),
    (
        "/page/manifest.webmanifest",
        "application/manifest+json",
        include_str!("page/manifest.webmanifest"),
    ),
    (
        "/page/icon.svg",
        "image/svg+xml",
        include_str!("page/icon.svg"),
    ),
];

/// How long a browser may keep an asset without asking again. Short: a
/// new webd brings new assets under the same names.
const ASSET_CACHE: &str = "max-age=300";

fn text_response(content_type: &'static str, body: &'static str, cache: &'static str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    resp
}

/// `GET /` and `GET /pair`: the page's document; 404 while the page is off.
pub async fn index(State(state): State<AppState>) -> Result<Response, ApiError> {
    if !state.live().config.page.enabled {
        return Err(ApiError::NotFound);
    }
    Ok(text_response("text/html; charset=utf-8", INDEX, "no-store"))
}

/// `GET /page/{asset}`: the page's script, style, manifest and icon.
pub async fn asset(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    if !state.live().config.page.enabled {
        return Err(ApiError::NotFound);
    }
    let path = req.uri().path();
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .ok_or(ApiError::NotFound)?;
    Ok(text_response(content_type, body, ASSET_CACHE))
}

/// Whether a page request comes from the page itself. A browser says
/// where a request comes from in `Sec-Fetch-Site` (every current one) and,
/// for a POST, in `Origin`: a POST must name this host as its origin
/// (`https://` + `Host`). A missing `Origin` on a POST is refused too: the
/// page's `fetch` always sends it.
pub fn same_origin(headers: &HeaderMap, post: bool) -> bool {
    let one = |name: &str| {
        let mut all = headers.get_all(name).iter();
        match (all.next(), all.next()) {
            (Some(v), None) => Some(v.to_str().ok()),
            (None, _) => None,
            // Given twice: neither is believed.
            (Some(_), Some(_)) => Some(None),
        }
    };
    match one("sec-fetch-site") {
        None | Some(Some("same-origin")) => {}
        Some(_) => return false,
    }
    if !post {
        return true;
    }
    let (Some(Some(origin)), Some(Some(host))) = (one("origin"), one("host")) else {
        return false;
    };
    origin.strip_prefix("https://") == Some(host)
}

/// A POST's body must be JSON, which a plain cross-site form cannot send
/// (its types are form, multipart and text/plain).
fn json_body(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType {
            message: "the page's requests are JSON: send Content-Type: application/json".into(),
        })
    }
}

/// The value of the device cookie, if the request has exactly one.
pub fn device_cookie(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=')
                && name == COOKIE
            {
                if found.is_some() {
                    return Err(ApiError::bad(
                        "Cookie",
                        "the device cookie is given twice: clear this site's cookies and pair again",
                    ));
                }
                found = Some(value);
            }
        }
    }
    Ok(found)
}

/// The token the gate's checks see for a device: its id as the name (for
/// the rate and the audit log; never the device's name, which the admin
/// typed), no hooks, the page's `allow_from` and `rate`.
fn device_token(found: &Found, page: &Page) -> Token {
    Token {
        name: format!("device:{}", found.id),
        secret: TokenSecret::Sha256([0; 32]),
        scope: Scope::Only(Default::default()),
        access: page.access.clone(),
        require_client_cert: false,
    }
}

/// A request a paired device made, past the checks every device route
/// runs.
pub(super) struct DeviceRequest {
    pub(super) live: std::sync::Arc<Live>,
    pub(super) ip: Client,
    pub(super) token: Token,
    pub(super) found: Found,
    pub(super) body: Vec<u8>,
}

/// The steps every device route runs, in the module's order.
async fn device(
    state: &AppState,
    req: Request,
    route: Route<'static>,
    post: bool,
) -> Result<DeviceRequest, ApiError> {
    let (live, ip) = state.admit(&req)?;
    let config = &live.config;
    if !config.page.enabled {
        return Err(ApiError::NotFound);
    }
    if !same_origin(req.headers(), post) {
        route.audit("-", ip, "cross_origin");
        return Err(ApiError::CrossOrigin);
    }
    let (parts, body): (_, Body) = req.into_parts();
    let body = if post {
        json_body(&parts.headers)?;
        read_body(&parts.headers, body, config.limits.max_body_bytes).await?
    } else {
        Vec::new()
    };
    let Some(cookie) = device_cookie(&parts.headers)? else {
        return Err(ApiError::NotPaired);
    };
    let store = Store::new(&config.page.devices_dir);
    let now = now_unix();
    let found = match store.authenticate(cookie, now) {
        Ok(Some(found)) => found,
        Ok(None) => {
            route.audit("-", ip, "bad_device");
            if let Some(retry_after) =
                state.failure(ip, route, "unknown, revoked or expired device", config)
            {
                return Err(ApiError::GlobalLimit { retry_after });
            }
            return Err(ApiError::Unauthorized {
                hint: Some(
                    "this device is not paired (or was revoked, or expired): pair it again with `webd pair --name NAME` on the tree",
                ),
            });
        }
        Err(e) => {
            tracing::error!("page: {e}");
            return Err(ApiError::Storage);
        }
    };
    let token = device_token(&found, &config.page);
    state.check_from(&token, ip, route, config)?;
    if let Err(e) = state.take_rates(&token, None) {
        route.audit(&token.name, ip, "rate_limited");
        return Err(e);
    }
    if let Err(e) = store.touch(&found, now) {
        tracing::warn!("page: cannot record that a device was used: {e}");
    }
    Ok(DeviceRequest {
        live: live.clone(),
        ip,
        token,
        found,
        body,
    })
}

/// What the page may offer: each animation with the parameters it takes,
/// and the bounds of speed and of a timed play.
pub fn offer(page: &Page) -> Value {
    let animations: Vec<Value> = page
        .animations
        .iter()
        .map(|a| {
            let takes = a.accepts();
            json!({
                "name": a.name(),
                "color": takes.contains(Param::Color),
                "speed": takes.contains(Param::Speed),
            })
        })
        .collect();
    json!({
        "animations": animations,
        "speed": { "min": Speed::MIN, "max": Speed::MAX, "default": Speed::DEFAULT.get() },
        "max_minutes": MAX_PLAY_MINUTES,
    })
}

/// `GET /page/state`: what plays (`/state`'s JSON, or `null` while ledd
/// is away), what the page may offer, and which device this is. A browser
/// with no device cookie gets `{"paired": false}` with 200: the page asks
/// this on every load, and an unpaired browser is not an error.
pub async fn state(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let route = Route::Page("GET /page/state");
    let d = match device(&state, req, route, false).await {
        Ok(d) => d,
        Err(ApiError::NotPaired) => {
            return Ok(json_response(
                StatusCode::OK,
                &json!({ "paired": false, "state": null }),
            ));
        }
        Err(e) => return Err(e),
    };
    // The state ledd pushed, as `/state` answers it: a poll costs ledd
    // nothing.
    let shown = match super::state::status(&state).await {
        Ok(status) => state_json(&status, now_unix()),
        Err(_) => Value::Null,
    };
    // Not audited when it succeeds: an open page asks every 2 s.
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "paired": true,
            "state": shown,
            "page": offer(&d.live.config.page),
            "device": { "name": d.found.device.name, "expires": d.found.device.expires },
        }),
    ))
}

/// The body of `POST /page/play`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Play {
    animation: String,
    color: Option<String>,
    speed: Option<u32>,
    minutes: Option<u32>,
}

/// The ledd request for `body`, if the page may send it.
fn play_request(page: &Page, body: &[u8]) -> Result<tinsel_proto::Request, ApiError> {
    let play: Play = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad(
            "body",
            format!(
                "{e}: send {{\"animation\": NAME, \"color\": \"#rrggbb\", \"speed\": N, \"minutes\": N}}"
            ),
        )
    })?;
    let animation: Animation = play
        .animation
        .parse()
        .ok()
        .filter(|a| page.animations.contains(a))
        .ok_or_else(|| {
            ApiError::bad(
                "animation",
                format!(
                    "`{}` is not one of the page's animations",
                    echo(&play.animation)
                ),
            )
        })?;
    let takes = animation.accepts();
    let mut params = PlayParams::default();
    if let Some(text) = &play.color {
        if !takes.contains(Param::Color) {
            return Err(ApiError::bad(
                "color",
                format!("{} takes no colour", animation.name()),
            ));
        }
        params.color = Some(
            text.parse()
                .map_err(|e| ApiError::bad("color", format!("`{}`: {e}", echo(text))))?,
        );
    }
    if let Some(speed) = play.speed {
        if !takes.contains(Param::Speed) {
            return Err(ApiError::bad(
                "speed",
                format!("{} takes no speed", animation.name()),
            ));
        }
        let speed = u16::try_from(speed).unwrap_or(u16::MAX);
        params.speed = Speed::new(speed).map_err(|e| ApiError::bad("speed", e.to_string()))?;
    }
    if let Some(minutes) = play.minutes {
        if !(1..=MAX_PLAY_MINUTES).contains(&minutes) {
            return Err(ApiError::bad(
                "minutes",
                format!("{minutes} is out of range: play for 1 to {MAX_PLAY_MINUTES} minutes"),
            ));
        }
        params.duration = Some(
            PlaySeconds::new(minutes * 60).map_err(|e| ApiError::bad("minutes", e.to_string()))?,
        );
    }
    Ok(tinsel_proto::Request::Play { animation, params })
}

/// `POST /page/play`: `{"animation", "color"?, "speed"?, "minutes"?}`.
pub async fn play(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let route = Route::Page("POST /page/play");
    let d = device(&state, req, route, true).await?;
    let request = play_request(&d.live.config.page, &d.body).inspect_err(|_| {
        route.audit(&d.token.name, d.ip, "bad_request");
    })?;
    send(&state, &d, route, request).await
}

/// `POST /page/off`: a body of `{}`.
pub async fn off(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let route = Route::Page("POST /page/off");
    let d = device(&state, req, route, true).await?;
    let empty = serde_json::from_slice::<serde_json::Map<String, Value>>(&d.body)
        .is_ok_and(|m| m.is_empty());
    if !empty {
        return Err(ApiError::bad("body", "off takes no parameters: send {}"));
    }
    send(&state, &d, route, tinsel_proto::Request::Off).await
}

async fn send(
    state: &AppState,
    d: &DeviceRequest,
    route: Route<'static>,
    request: tinsel_proto::Request,
) -> Result<Response, ApiError> {
    match state.ledd().request(request).await {
        Ok(_) => {
            route.audit(&d.token.name, d.ip, "ok");
            Ok(json_response(StatusCode::OK, &json!({ "ok": true })))
        }
        Err(e) => {
            route.audit(&d.token.name, d.ip, "ledd_error");
            match e.retry_after() {
                Some(retry_after) => Err(ApiError::LeddUnavailable { retry_after }),
                None => {
                    tracing::warn!("ledd refused the page's request: {e}");
                    Err(ApiError::LeddRefused)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_the_page_itself_may_post() {
        let ok = [
            ("host", "tree.local:8443"),
            ("origin", "https://tree.local:8443"),
            ("sec-fetch-site", "same-origin"),
        ];
        assert!(same_origin(&headers(&ok), true));
        assert!(same_origin(&headers(&ok[..2]), true));
        for bad in [
            vec![("host", "tree.local:8443")],
            vec![
                ("host", "tree.local:8443"),
                ("origin", "https://evil.example"),
            ],
            vec![
                ("host", "tree.local:8443"),
                ("origin", "http://tree.local:8443"),
            ],
            vec![("host", "tree.local:8443"), ("origin", "null")],
            vec![
                ("host", "tree.local:8443"),
                ("origin", "https://tree.local:8443"),
                ("sec-fetch-site", "cross-site"),
            ],
            vec![
                ("host", "tree.local:8443"),
                ("origin", "https://tree.local:8443"),
                ("sec-fetch-site", "same-site"),
            ],
            vec![
                ("host", "tree.local:8443"),
                ("origin", "https://tree.local:8443"),
                ("origin", "https://tree.local:8443"),
            ],
        ] {
            assert!(!same_origin(&headers(&bad), true), "{bad:?}");
        }
        // A GET only needs Sec-Fetch-Site, when sent, to say same-origin.
        assert!(same_origin(&headers(&[]), false));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            false
        ));
    }

    #[test]
    fn the_device_cookie_is_read_once() {
        let h = headers(&[("cookie", "a=b; __Host-tinsel-device=0123.abc; c=d")]);
        assert_eq!(device_cookie(&h).unwrap(), Some("0123.abc"));
        assert_eq!(device_cookie(&headers(&[("cookie", "a=b")])).unwrap(), None);
        let twice = headers(&[
            ("cookie", "__Host-tinsel-device=1.a"),
            ("cookie", "__Host-tinsel-device=2.b"),
        ]);
        assert!(device_cookie(&twice).is_err());
    }

    #[test]
    fn the_page_plays_only_what_it_offers() {
        let page = Page {
            animations: vec![Animation::Rainbow, Animation::Solid],
            ..Page::default()
        };
        let ok = play_request(
            &page,
            br#"{"animation":"rainbow","speed":200,"minutes":10}"#,
        );
        let Ok(tinsel_proto::Request::Play { animation, params }) = ok else {
            panic!("{ok:?}");
        };
        assert_eq!(animation, Animation::Rainbow);
        assert_eq!(params.speed.get(), 200);
        assert_eq!(params.duration.map(|d| d.get()), Some(600));
        for (body, field) in [
            (r#"{"animation":"fire"}"#, "animation"),
            (r#"{"animation":"selftest"}"#, "animation"),
            (r#"{"animation":"rainbow","color":"red"}"#, "color"),
            (r#"{"animation":"solid","speed":100}"#, "speed"),
            (r#"{"animation":"rainbow","speed":5}"#, "speed"),
            (r#"{"animation":"rainbow","minutes":0}"#, "minutes"),
            (r#"{"animation":"rainbow","minutes":1441}"#, "minutes"),
            (r#"{"animation":"solid","color":"plaid"}"#, "color"),
            (r#"{"animation":"solid","brightness":100}"#, "body"),
            (r#"{"animation":"solid","animation":"solid"}"#, "body"),
        ] {
            match play_request(&page, body.as_bytes()) {
                Err(ApiError::BadRequest { field: f, .. }) => assert_eq!(f, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}
