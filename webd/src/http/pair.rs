//! `POST /pair`: a browser redeems the one-time code `webd pair` printed
//! and becomes a paired device.
//!
//! The code reaches webd only in this POST's JSON body: the link carries
//! it in its fragment (`/pair#CODE`), which browsers never send, so it is
//! in no server log, `Referer` or proxy; the page removes it from the
//! address bar and history (`history.replaceState`) before posting it.
//!
//! The steps, in order: ban check; the request comes from the page itself
//! (as the device routes check it, [`same_origin`]; not counted); a JSON
//! body; `[page] allow_from` (403, counted); then the code: not one,
//! unknown, used or expired are one answer, 401, counted against the
//! client like a bad token (so guessing is banned long before it could
//! succeed, at 144 bits); then `max_devices`. A redeemed code's file is
//! gone before the device exists, so a code pairs at most once.
//!
//! The answer sets the device cookie: `__Host-`, `Secure`, `HttpOnly`
//! (no script reads it), `SameSite=Strict` (no other site's request
//! carries it), `Path=/`, and `Max-Age` of `[page] device_days`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::body::read_body;
use super::error::{ApiError, json_response};
use super::gate::Route;
use super::page::{COOKIE, same_origin};
use crate::devices::{Redeem, Store};
use crate::domain::token::{Scope, Token, TokenSecret};

/// The body of `POST /pair`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    code: String,
}

/// `POST /pair`: `{"code": CODE}`.
pub async fn redeem(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let route = Route::Page("POST /pair");
    let (live, ip) = state.admit(&req)?;
    let config = &live.config;
    let page = &config.page;
    if !page.enabled {
        return Err(ApiError::NotFound);
    }
    if !same_origin(req.headers(), true) {
        route.audit("-", ip, "cross_origin");
        return Err(ApiError::CrossOrigin);
    }
    let (parts, body) = req.into_parts();
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .split(';')
        .next()
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("application/json"))
    {
        return Err(ApiError::UnsupportedMediaType {
            message: "send the pairing code as JSON: Content-Type: application/json".into(),
        });
    }
    let body = read_body(&parts.headers, body, config.limits.max_body_bytes).await?;
    // Checked before the code is spent: a code tried from outside the
    // page's networks stays good for its owner.
    let pairing = Token {
        name: "pairing".to_owned(),
        secret: TokenSecret::Sha256([0; 32]),
        scope: Scope::Only(Default::default()),
        access: page.access.clone(),
        require_client_cert: false,
    };
    state.check_from(&pairing, ip, route, config)?;
    let Ok(Code { code }) = serde_json::from_slice::<Code>(&body) else {
        return Err(ApiError::bad(
            "body",
            "send the pairing code as {\"code\": CODE}",
        ));
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let lifetime = page.device_lifetime().as_secs();
    let store = Store::new(&page.devices_dir);
    match store.redeem(&code, now, lifetime, page.max_devices) {
        Ok((found, cookie)) => {
            route.audit(&format!("device:{}", found.id), ip, "paired");
            let mut resp = json_response(
                StatusCode::OK,
                &json!({ "ok": true, "device": found.device.name }),
            );
            let value = format!(
                "{COOKIE}={cookie}; Max-Age={lifetime}; Path=/; Secure; HttpOnly; SameSite=Strict"
            );
            let value = HeaderValue::from_str(&value).map_err(|_| ApiError::Internal)?;
            resp.headers_mut().insert(header::SET_COOKIE, value);
            Ok(resp)
        }
        Err(Redeem::BadCode) => {
            route.audit("-", ip, "bad_pairing_code");
            if let Some(retry_after) =
                state.failure(ip, route, "unknown, used or expired pairing code", config)
            {
                return Err(ApiError::GlobalLimit { retry_after });
            }
            Err(ApiError::BadPairingCode)
        }
        Err(Redeem::Full(max)) => {
            route.audit("-", ip, "too_many_devices");
            Err(ApiError::DevicesFull { max })
        }
        Err(Redeem::Storage) => Err(ApiError::Storage),
    }
}
