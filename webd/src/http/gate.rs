//! The gate every authenticated route passes, in this order: ban check (a
//! banned client is refused before anything is read), no token in the URL,
//! what the route reads (a webhook's body and its fields; `GET /state`
//! reads none and takes a bearer token only), authentication (a failure
//! counted against the client; a spent global budget turns the 401 into a
//! 429), the token's client certificate, then its `allow_from` (403,
//! counted). [`pass`] runs them for a [`Route`], which knows its own name
//! in the logs; the route then checks its scope and takes the rates
//! ([`AppState::take_rates`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::auth::{SIGNATURE_HEADER, TIMESTAMP_HEADER, authenticate, refuse_query_token};
use super::ban::{Recorded, Verdict};
use super::body::{Fields, read_body};
use super::client::{Client, PeerAddr, client_ip};
use super::error::ApiError;
use super::{AppState, Live};
use crate::config::Config;
use crate::domain::access::RateKey;
use crate::domain::hook::{Hook, valid_hook_name};
use crate::domain::token::Token;
use crate::tls::ClientIdentity;

/// An authenticated route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'r> {
    /// `POST /hooks/{name}`, with the name as the client sent it (not yet
    /// known to be a hook).
    Hook(&'r str),
    /// `GET /state`.
    State,
    /// One of the page's routes (`POST /pair`, `GET /page/state`, ...):
    /// its method and path.
    Page(&'static str),
}

impl Route<'_> {
    /// What the failure log calls the route. A hook name came from the
    /// client: it is logged only if it could be one.
    pub fn log_name(&self) -> &str {
        match *self {
            Route::Hook(name) if valid_hook_name(name) => name,
            Route::Hook(_) => "-",
            Route::State => "GET /state",
            Route::Page(route) => route,
        }
    }

    /// One audit line per authenticated request.
    pub fn audit(&self, token: &str, ip: Client, result: &str) {
        match self {
            Route::Hook(_) => {
                let hook = self.log_name();
                tracing::info!(target: "webd::audit", token, %ip, hook, result, "webhook");
            }
            Route::State => tracing::info!(target: "webd::audit", token, %ip, result, "state"),
            Route::Page(route) => {
                tracing::info!(target: "webd::audit", device = token, %ip, route, result, "page");
            }
        }
    }
}

/// A request that passed the gate: who sent it, the token it proved, and
/// what the route reads.
#[derive(Debug)]
pub(super) struct Passed {
    /// The config and TLS configuration that serve the request.
    pub(super) live: Arc<Live>,
    /// The client, through trusted proxies.
    pub(super) ip: Client,
    /// The token the request proved.
    pub(super) token: Token,
    /// The body's fields (none for `GET /state`).
    pub(super) fields: Fields,
}

/// Runs the gate's steps for `route`, in order.
pub(super) async fn pass(
    state: &AppState,
    req: Request,
    route: Route<'_>,
) -> Result<Passed, ApiError> {
    let (live, ip) = state.admit(&req)?;
    let config = &live.config;
    refuse_query_token(req.uri().query())?;
    let (parts, body) = req.into_parts();
    let (bytes, fields) = match route {
        Route::Hook(_) => {
            let bytes = read_body(&parts.headers, body, config.limits.max_body_bytes).await?;
            let fields = Fields::parse(&parts.headers, &bytes)?;
            (bytes, fields)
        }
        // No body: the token comes from the Authorization header alone.
        // (The page's routes take a device cookie and run their own steps,
        // in `page`; one sent here is refused like `GET /state`'s.)
        Route::State | Route::Page(_) => {
            refuse_signature(&parts.headers)?;
            (Vec::new(), Fields::default())
        }
    };
    let token = state.authenticate_counted(config, &parts, &fields, &bytes, ip, route)?;
    check_client_cert(token, &parts, ip, route)?;
    state.check_from(token, ip, route, config)?;
    let token = token.clone();
    Ok(Passed {
        live,
        ip,
        token,
        fields,
    })
}

/// `GET /state` takes a bearer token only: a GET has no body, so a
/// signature would cover nothing but a timestamp.
fn refuse_signature(headers: &HeaderMap) -> Result<(), ApiError> {
    for (name, shown) in [
        (SIGNATURE_HEADER, "X-Tinsel-Signature"),
        (TIMESTAMP_HEADER, "X-Tinsel-Timestamp"),
    ] {
        if headers.contains_key(name) {
            return Err(ApiError::bad(
                shown,
                "GET /state takes a bearer token only: send `Authorization: Bearer TOKEN` of a token with `state = true`",
            ));
        }
    }
    Ok(())
}

/// A token with `require_client_cert` is taken only over a connection
/// that presented a certificate `tls.client_ca` signed: 403 otherwise, not
/// counted as a failure (the sender proved the token, not the device).
fn check_client_cert(
    token: &Token,
    parts: &Parts,
    ip: Client,
    route: Route<'_>,
) -> Result<(), ApiError> {
    if token.require_client_cert && parts.extensions.get::<ClientIdentity>().is_none() {
        route.audit(&token.name, ip, "no_client_cert");
        return Err(ApiError::ClientCertRequired);
    }
    Ok(())
}

impl AppState {
    /// The first step of every authenticated route: the client behind
    /// `req` (through trusted proxies), refused before anything is read
    /// when banned, and the config that serves the request.
    pub(super) fn admit(&self, req: &Request) -> Result<(Arc<Live>, Client), ApiError> {
        let peer = req
            .extensions()
            .get::<PeerAddr>()
            .ok_or(ApiError::Internal)?
            .0;
        let live = self.live();
        let ip = client_ip(
            peer.ip(),
            req.headers(),
            &live.config.trusted_proxies,
            live.config.client_header,
        );
        if let Verdict::Banned { retry_after } = self.guard().bans.check(ip, Instant::now()) {
            return Err(ApiError::Banned { retry_after });
        }
        Ok((live, ip))
    }

    /// [`authenticate`], with a failed login counted against `ip` on
    /// `route` (a malformed request, 400, is not a guess at a token); a
    /// spent global budget turns the 401 into 429.
    fn authenticate_counted<'a>(
        &self,
        config: &'a Config,
        parts: &Parts,
        fields: &Fields,
        body: &[u8],
        ip: Client,
        route: Route<'_>,
    ) -> Result<&'a Token, ApiError> {
        authenticate(self, config, &parts.headers, fields, body).map_err(|(err, reason)| {
            if matches!(err, ApiError::Unauthorized { .. })
                && let Some(retry_after) = self.failure(ip, route, reason, config)
            {
                return ApiError::GlobalLimit { retry_after };
            }
            err
        })
    }

    /// Counts an authentication failure and writes its (rate-limited) log
    /// line, which names the client IP for an external fail2ban. Returns
    /// the time until the global failure budget has room if it was spent
    /// before this failure: the answer is then 429, not 401.
    pub(super) fn failure(
        &self,
        client: Client,
        route: Route<'_>,
        reason: &str,
        config: &Config,
    ) -> Option<Duration> {
        let now = Instant::now();
        let mut guard = self.guard();
        let over_budget = guard.bans.global_limit(now, &config.ban);
        let recorded = guard.bans.record_failure(client, now, &config.ban);
        let Some(suppressed) = guard.failure_log.allow(now) else {
            return over_budget;
        };
        drop(guard);
        let hook = route.log_name();
        let banned = match recorded {
            Recorded::Banned => format!("; banned for {}s", config.ban.ban.as_secs()),
            _ => String::new(),
        };
        match client {
            Client::Addr(ip) => tracing::warn!(
                target: "webd::auth",
                suppressed,
                "authentication failure from {ip} (hook {hook}): {reason}{banned}"
            ),
            // Worded so that a fail2ban `failure from <HOST>` never matches
            // it: the proxy's address is not the client's.
            Client::Unidentified { via } => tracing::warn!(
                target: "webd::auth",
                suppressed,
                "authentication failure by a client the trusted proxy {via} did not identify (hook {hook}): {reason}{banned}; configure the proxy to append the client's address to X-Forwarded-For"
            ),
        }
        over_budget
    }

    /// Refuses a valid token used from outside its `allow_from` with 403,
    /// and counts it as a failed login: a token showing up from a network
    /// its owner never uses is a stolen token, and its user should be
    /// banned like a guesser before trying the other hooks. Checked before
    /// the rates, so that such requests spend no budget of the owner's.
    pub(super) fn check_from(
        &self,
        token: &Token,
        ip: Client,
        route: Route<'_>,
        config: &Config,
    ) -> Result<(), ApiError> {
        let addr = match ip {
            Client::Addr(a) => Some(a),
            Client::Unidentified { .. } => None,
        };
        if token.access.allows_from(addr) {
            return Ok(());
        }
        route.audit(&token.name, ip, "outside_allow_from");
        let reason = "valid token used from outside its allow_from";
        if let Some(retry_after) = self.failure(ip, route, reason, config) {
            return Err(ApiError::GlobalLimit { retry_after });
        }
        Err(ApiError::AddressForbidden)
    }

    /// Takes one request from the token's `rate` and the hook's, if they
    /// have them: 429 with `Retry-After` when either is spent, never
    /// counted as a failure (the sender proved the token).
    pub(super) fn take_rates(
        &self,
        token: &Token,
        hook: Option<(&str, &Hook)>,
    ) -> Result<(), ApiError> {
        let mut limits = Vec::with_capacity(2);
        if let Some(rate) = token.access.rate {
            limits.push((RateKey::Token(token.name.clone()), rate));
        }
        if let Some((
            name,
            Hook {
                rate: Some(rate), ..
            },
        )) = hook
        {
            limits.push((RateKey::Hook(name.to_owned()), *rate));
        }
        if limits.is_empty() {
            return Ok(());
        }
        let taken = self.guard().rates.take(&limits, Instant::now());
        taken.map_err(|(retry_after, key)| ApiError::RateLimited {
            retry_after,
            of_hook: matches!(key, RateKey::Hook(_)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_knows_its_log_name() {
        assert_eq!(Route::Hook("fire").log_name(), "fire");
        // A name that could not be a hook is not echoed into the log.
        assert_eq!(Route::Hook("no such\nhook").log_name(), "-");
        assert_eq!(Route::Hook("").log_name(), "-");
        assert_eq!(Route::State.log_name(), "GET /state");
        assert_eq!(Route::Page("POST /pair").log_name(), "POST /pair");
    }
}
