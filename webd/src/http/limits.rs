//! Bounds and hygiene that apply to every request: the security headers
//! and the request timeout. (The rate limit on log lines an attacker can
//! trigger is the daemon kit's `tinsel_daemon::log::Gate`.) Who the client
//! is lives in [`super::client`].

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// The headers on every response.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("strict-transport-security", "max-age=31536000"),
    ("x-content-type-options", "nosniff"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-store"),
    ("referrer-policy", "no-referrer"),
];

/// Middleware: bounds the request's time, then adds the security headers
/// to whatever answers (including errors and 404s). A response that set
/// its own `content-security-policy` or `cache-control` keeps it (the
/// page's, which loads its own script and style and may be cached).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.live().config.limits.request_timeout;
    let mut resp = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout.into_response(),
    };
    let h = resp.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        let name = HeaderName::from_static(name);
        let own = matches!(name.as_str(), "content-security-policy" | "cache-control");
        if !(own && h.contains_key(&name)) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    resp
}
