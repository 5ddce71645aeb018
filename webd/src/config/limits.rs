//! `[limits]`: sizes, connection counts and timeouts, their bounds and
//! defaults, and the validated [`Limits`].

use std::time::Duration;

use super::ConfigError;
use super::raw::RawLimits;
use super::validate::Validator;
use tinsel_daemon::config::Validate;

/// The largest body webd reads: webhooks are small, and a Pi Zero has
/// 512 MB.
pub const MAX_BODY_BYTES: usize = 4096;

/// The longest a client may take to send its request headers. Five seconds
/// is long enough for a slow phone link, short enough
/// that a slowloris client holds a connection slot only briefly.
pub const MAX_HEADER_TIMEOUT_SECS: u64 = 5;

/// The most connections `limits.max_connections` may allow: webd holds up
/// to twice as many sockets (the live ones and evicted ones being closed),
/// within a common `LimitNOFILE=` hard limit.
pub const MAX_CONNECTIONS: u32 = 4096;

/// Connections one client may hold by default: a webhook sender needs one
/// or two, a browser six.
pub const DEFAULT_CONNECTIONS_PER_CLIENT: u32 = 8;

/// TLS handshakes one client may have in progress by default. Each costs
/// real CPU time on a Pi Zero; a browser opens up to 6 connections to a
/// host at once (the page's cold load), and none may be refused.
pub const DEFAULT_HANDSHAKES_PER_CLIENT: u32 = 6;

/// Sizes and timeouts for connections and requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; a newcomer beyond takes the slot of the
    /// oldest connection not yet served (or the longest idle).
    pub max_connections: usize,
    /// Connections one client (address, IPv6 /64) may hold at once.
    pub max_connections_per_client: usize,
    /// Unfinished TLS handshakes one client may have at once.
    pub max_handshakes_per_client: usize,
    /// Connections (and handshakes) one trusted proxy address may hold.
    pub proxy_max_connections: usize,
    /// The largest request body (413 beyond).
    pub max_body_bytes: usize,
    /// Time to receive a request's headers, and the HTTP/1 keep-alive idle
    /// time before the next request's first byte.
    pub header_timeout: Duration,
    /// Time to finish the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time from opening to the first completed request.
    pub first_request_timeout: Duration,
    /// Time to read the body and answer.
    pub request_timeout: Duration,
    /// A connection with no request in flight is closed this long after
    /// its last answer; bytes of an unfinished request do not count.
    pub idle_timeout: Duration,
    /// How long in-flight requests may finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// How long to wait for ledd's answer.
    pub ledd_timeout: Duration,
}

impl Validator<'_> {
    pub(super) fn limits(&self, l: &RawLimits) -> Result<Limits, ConfigError> {
        let secs = Duration::from_secs;
        let max_connections = self.range(
            "limits.max_connections",
            l.max_connections,
            1,
            MAX_CONNECTIONS,
        )?;
        let per_client = self.range(
            "limits.max_connections_per_client",
            l.max_connections_per_client
                .unwrap_or(DEFAULT_CONNECTIONS_PER_CLIENT.min(max_connections)),
            1,
            max_connections,
        )?;
        let handshakes = self.range(
            "limits.max_handshakes_per_client",
            l.max_handshakes_per_client
                .unwrap_or(DEFAULT_HANDSHAKES_PER_CLIENT.min(per_client)),
            1,
            per_client,
        )?;
        let proxy = self.range(
            "limits.proxy_max_connections",
            l.proxy_max_connections
                .unwrap_or((max_connections / 2).max(1)),
            1,
            max_connections,
        )?;
        let handshake_timeout = self.range(
            "limits.handshake_timeout_secs",
            l.handshake_timeout_secs,
            1,
            60,
        )?;
        Ok(Limits {
            max_connections: max_connections as usize,
            max_connections_per_client: per_client as usize,
            max_handshakes_per_client: handshakes as usize,
            proxy_max_connections: proxy as usize,
            max_body_bytes: self.range(
                "limits.max_body_bytes",
                l.max_body_bytes,
                64,
                MAX_BODY_BYTES as u32,
            )? as usize,
            header_timeout: secs(self.range(
                "limits.header_timeout_secs",
                l.header_timeout_secs,
                1,
                MAX_HEADER_TIMEOUT_SECS,
            )?),
            handshake_timeout: secs(handshake_timeout),
            first_request_timeout: secs(self.range(
                "limits.first_request_timeout_secs",
                l.first_request_timeout_secs,
                handshake_timeout,
                600,
            )?),
            request_timeout: secs(self.range(
                "limits.request_timeout_secs",
                l.request_timeout_secs,
                1,
                60,
            )?),
            idle_timeout: secs(self.range(
                "limits.idle_timeout_secs",
                l.idle_timeout_secs,
                1,
                600,
            )?),
            shutdown_grace: secs(self.range(
                "limits.shutdown_grace_secs",
                l.shutdown_grace_secs,
                0,
                60,
            )?),
            ledd_timeout: Duration::from_millis(self.range(
                "limits.ledd_timeout_ms",
                l.ledd_timeout_ms,
                100,
                30_000,
            )?),
        })
    }
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_connections: 64,
            max_connections_per_client: None,
            max_handshakes_per_client: None,
            proxy_max_connections: None,
            max_body_bytes: MAX_BODY_BYTES as u32,
            header_timeout_secs: MAX_HEADER_TIMEOUT_SECS,
            handshake_timeout_secs: 3,
            first_request_timeout_secs: 10,
            request_timeout_secs: 10,
            idle_timeout_secs: 30,
            shutdown_grace_secs: 10,
            ledd_timeout_ms: 2000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{MINIMAL, parse};

    #[test]
    fn admission_limits_default_within_max_connections_and_are_checked() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.limits.max_connections_per_client, 8);
        assert_eq!(c.limits.max_handshakes_per_client, 6);
        assert_eq!(c.limits.proxy_max_connections, 32);
        assert_eq!(c.limits.handshake_timeout, Duration::from_secs(3));
        assert_eq!(c.limits.first_request_timeout, Duration::from_secs(10));
        // The defaults shrink with a small max_connections instead of
        // failing validation.
        let c = parse(&format!("{MINIMAL}\n[limits]\nmax_connections = 2\n")).unwrap();
        assert_eq!(
            (
                c.limits.max_connections_per_client,
                c.limits.max_handshakes_per_client,
                c.limits.proxy_max_connections
            ),
            (2, 2, 1)
        );
        for (extra, key) in [
            (
                "max_connections = 8\nmax_connections_per_client = 9",
                "limits.max_connections_per_client",
            ),
            (
                "max_connections_per_client = 2\nmax_handshakes_per_client = 3",
                "limits.max_handshakes_per_client",
            ),
            ("proxy_max_connections = 65", "limits.proxy_max_connections"),
            (
                "handshake_timeout_secs = 5\nfirst_request_timeout_secs = 4",
                "limits.first_request_timeout_secs",
            ),
            ("max_connections = 4097", "limits.max_connections"),
        ] {
            let err = parse(&format!("{MINIMAL}\n[limits]\n{extra}\n")).expect_err(extra);
            assert_eq!(err.key(), Some(key), "{err}");
        }
    }
}
