//! Bounds and hygiene that apply to every request: the security headers,
//! the request timeout, and the rate limit on log lines an attacker can
//! trigger. Who the client is lives in [`super::client`].

use std::time::Instant;

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
/// to whatever answers (including errors and 404s).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.live().config.limits.request_timeout;
    let mut resp = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout.into_response(),
    };
    let h = resp.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    resp
}

/// A token bucket for log lines an attacker can cause: a burst, then a
/// steady trickle; what is dropped is counted and reported with the next
/// line that gets through.
#[derive(Debug)]
pub struct LogLimiter {
    tokens: f64,
    at: Option<Instant>,
    suppressed: u64,
}

/// Lines in a burst.
const LOG_BURST: f64 = 20.0;
/// Lines per second after the burst.
const LOG_PER_SEC: f64 = 2.0;

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter {
            tokens: LOG_BURST,
            at: None,
            suppressed: 0,
        }
    }
}

impl LogLimiter {
    /// `Some(n)` if a line may be written now, `n` lines having been
    /// suppressed since the last one; `None` to drop this one.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if let Some(at) = self.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * LOG_PER_SEC;
            self.tokens = (self.tokens + refill).min(LOG_BURST);
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn log_lines_are_rate_limited_and_the_gap_is_counted() {
        let mut l = LogLimiter::default();
        let now = Instant::now();
        let allowed = (0..100).filter(|_| l.allow(now).is_some()).count();
        assert_eq!(allowed, LOG_BURST as usize);
        assert_eq!(l.allow(now + Duration::from_secs(1)), Some(80));
    }
}
