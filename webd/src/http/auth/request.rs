//! Which credential a request presents: a bearer token (header or body
//! field, never both, never in the URL) or a signature with its
//! timestamp, each header at most once; then the matching token.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, header};

use super::{SIGNATURE_HEADER, SignError, TIMESTAMP_HEADER};
use crate::config::{Config, Token};
use crate::http::AppState;
use crate::http::body::{Fields, single_header};
use crate::http::error::ApiError;

/// Refuses a `token` in the query string: it would end up in logs.
pub(crate) fn refuse_query_token(query: Option<&str>) -> Result<(), ApiError> {
    let Some(q) = query else { return Ok(()) };
    let has_token = serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .map(|pairs| pairs.iter().any(|(k, _)| k == "token"))
        .unwrap_or(false);
    if has_token {
        return Err(ApiError::bad(
            "token",
            "tokens in the URL end up in logs and histories, so webd ignores them: send `Authorization: Bearer TOKEN` or a `token` field in the body",
        ));
    }
    Ok(())
}

/// Finds the token the request proves it holds. The error's second part is
/// the reason for the log.
pub(crate) fn authenticate<'a>(
    state: &AppState,
    config: &'a Config,
    headers: &HeaderMap,
    fields: &Fields,
    body: &[u8],
) -> Result<&'a Token, (ApiError, &'static str)> {
    let unauthorized = |reason| (ApiError::Unauthorized { hint: None }, reason);
    // A credential header given twice is ambiguous, not a guess: 400.
    let once =
        |name, shown| single_header(headers, name, shown).map_err(|e| (e, "header sent twice"));
    let signature = once(SIGNATURE_HEADER, "X-Tinsel-Signature")?;
    let timestamp = once(TIMESTAMP_HEADER, "X-Tinsel-Timestamp")?;
    let authorization = once(header::AUTHORIZATION.as_str(), "Authorization")?;
    if let Some(sig) = signature {
        // A signed request proves itself; a token beside it is a second,
        // competing credential.
        let extra = match (authorization, &fields.token) {
            (Some(_), _) => Some("Authorization"),
            (None, Some(_)) => Some("token"),
            (None, None) => None,
        };
        if let Some(field) = extra {
            return Err((
                ApiError::bad(
                    field,
                    "a signed request carries no token: send the signature or the token, not both",
                ),
                "token and signature both sent",
            ));
        }
        let sig = sig.to_str().unwrap_or("");
        let ts = timestamp.and_then(|v| v.to_str().ok()).ok_or((
            ApiError::bad("X-Tinsel-Timestamp", "a signed request needs this header"),
            "signed request without a timestamp",
        ))?;
        let now_unix = unix_now();
        let sign_err = |e: SignError| {
            let reason = match e {
                SignError::Stale => "stale signature timestamp",
                SignError::Replayed => "replayed signature",
                SignError::Mismatch => "bad signature",
                SignError::Full => "replay cache full",
                SignError::BadTimestamp | SignError::BadSignatureFormat => "malformed signature",
            };
            // Saying why a signature failed helps a sender with a wrong
            // clock and tells an attacker nothing about the key.
            let hint = match e {
                SignError::Stale => Some(
                    "the X-Tinsel-Timestamp is more than 5 minutes from the server's clock: check the sender's clock",
                ),
                SignError::Replayed => {
                    Some("this signed request was already used: sign each request afresh")
                }
                SignError::Full => Some("too many signed requests: try again later"),
                SignError::Mismatch => None,
                SignError::BadTimestamp => {
                    Some("X-Tinsel-Timestamp must be a Unix time in seconds")
                }
                SignError::BadSignatureFormat => {
                    Some("X-Tinsel-Signature must be sha256= followed by 64 hex digits")
                }
            };
            (ApiError::Unauthorized { hint }, reason)
        };
        let (token, sig) =
            super::verify_signed(&config.tokens, ts, sig, body, now_unix).map_err(sign_err)?;
        refuse_expired(token, now_unix)?;
        state
            .guard()
            .replay
            .remember(sig, Instant::now())
            .map_err(sign_err)?;
        return Ok(token);
    }
    let header_token = match authorization {
        None => None,
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| unauthorized("malformed Authorization header"))?;
            let (scheme, token) = v
                .split_once(' ')
                .ok_or_else(|| unauthorized("malformed Authorization header"))?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(unauthorized("Authorization scheme is not Bearer"));
            }
            Some(token.trim())
        }
    };
    let presented = match (header_token, fields.token.as_deref()) {
        (Some(_), Some(_)) => {
            return Err((
                ApiError::bad(
                    "token",
                    "send the token once: in the Authorization header or in the body, not both",
                ),
                "token sent twice",
            ));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(unauthorized("no token")),
    };
    let token =
        super::find_bearer(&config.tokens, presented).ok_or_else(|| unauthorized("bad token"))?;
    refuse_expired(token, unix_now())?;
    Ok(token)
}

/// An expired token is refused like a bad one (401, counted): the client
/// learns nothing it could not learn from a wrong token, and the log says
/// "expired", so the owner knows to mint a new one.
fn refuse_expired(token: &Token, now_unix: u64) -> Result<(), (ApiError, &'static str)> {
    match &token.access.expires {
        Some(e) if e.is_past(now_unix) => Err((ApiError::Unauthorized { hint: None }, "expired")),
        _ => Ok(()),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
