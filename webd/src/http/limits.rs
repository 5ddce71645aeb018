//! Bounds and hygiene that apply to every request: who the client is
//! (socket address, or a trusted proxy's header), the security headers,
//! the request timeout, and the rate limit on log lines an attacker can
//! trigger.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::config::{IpNet, canonical};

/// The TCP peer of a connection, put into each request's extensions by the
/// connection loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Cloudflare's header with the original client address.
const CF_CONNECTING_IP: &str = "cf-connecting-ip";

/// The client's address: the socket's peer, unless the peer is a trusted
/// proxy, in which case `CF-Connecting-IP`, else the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy. Entries to
/// the left of that were written by the client and prove nothing.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    if let Some(ip) = headers
        .get(CF_CONNECTING_IP)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<IpAddr>().ok())
    {
        return canonical(ip);
    }
    let mut chosen = peer;
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    for ip in forwarded.into_iter().rev() {
        let ip = canonical(ip);
        chosen = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    chosen
}

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

/// Whole seconds for a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.7".parse().unwrap();
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        let h = headers(&[("x-forwarded-for", "198.51.100.1, 10.0.0.2")]);
        // A direct client cannot pick its address.
        assert_eq!(client_ip(stranger, &h, &trusted), stranger);
        // Via the proxy: the right-most untrusted entry.
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        // A client-written left part does not win.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.1")]);
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        let h = headers(&[("cf-connecting-ip", "2001:db8::5")]);
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "2001:db8::5".parse::<IpAddr>().unwrap()
        );
        // Garbage falls back to the peer.
        let h = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(client_ip(proxy, &h, &trusted), proxy);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[]), proxy);
    }

    #[test]
    fn log_lines_are_rate_limited_and_the_gap_is_counted() {
        let mut l = LogLimiter::default();
        let now = Instant::now();
        let allowed = (0..100).filter(|_| l.allow(now).is_some()).count();
        assert_eq!(allowed, LOG_BURST as usize);
        assert_eq!(l.allow(now + Duration::from_secs(1)), Some(80));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3600)), 3600);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
