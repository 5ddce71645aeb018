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
//! The body's parsing is in [`body`](super::body), the credential's
//! extraction in [`auth`](super::auth).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tinsel_proto::{PlaySeconds, Speed};

use super::auth::narrow::RateKey;
use super::auth::{authenticate, refuse_query_token};
use super::ban::{Recorded, Verdict};
use super::body::{echo, read_body};
use super::client::{Client, PeerAddr, client_ip};
use super::error::{ApiError, json_response};
use super::{AppState, Live};
use crate::config::{Action, ColorChoice, Config, Hook, Token, valid_hook_name};
use crate::tls::ClientIdentity;

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
    // A banned client is refused whatever it sends, before anything is read.
    let (live, ip) = state.admit(&req)?;
    let config = &live.config;
    refuse_query_token(req.uri().query())?;
    let (parts, body) = req.into_parts();
    let bytes = read_body(&parts.headers, body, config.limits.max_body_bytes).await?;
    let fields = Fields::parse(&parts.headers, &bytes)?;

    // An undecodable path segment names no hook: treat it like an unknown one.
    let name = name.map(|Path(n)| n).unwrap_or_default();
    let token = state.authenticate_counted(config, &parts.headers, &fields, &bytes, ip, &name)?;
    check_client_cert(token, &parts.extensions, ip, &name)?;
    state.check_from(token, ip, &name, config)?;
    let Some(hook) = config.hooks.get(&name) else {
        audit(&token.name, ip, &name, "no_such_hook");
        return Err(ApiError::NoSuchHook);
    };
    if !token.scope.allows(&name) {
        audit(&token.name, ip, &name, "forbidden");
        return Err(ApiError::Forbidden);
    }
    if let Err(e) = state.take_rates(token, Some((&name, hook))) {
        audit(&token.name, ip, &name, "rate_limited");
        return Err(e);
    }
    let request = match build_request(&name, hook, &fields) {
        Ok(r) => r,
        Err(e) => {
            audit(&token.name, ip, &name, "bad_request");
            return Err(e);
        }
    };
    match state.ledd().request(request).await {
        Ok(_) => {
            audit(&token.name, ip, &name, "ok");
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
            audit(&token.name, ip, &name, "ledd_error");
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

/// One audit line per authenticated webhook.
/// A token with `require_client_cert` is taken only over a connection
/// that presented a certificate `tls.client_ca` signed: 403 otherwise, not
/// counted as a failure (the sender proved the token, not the device).
pub(super) fn check_client_cert(
    token: &Token,
    extensions: &axum::http::Extensions,
    ip: Client,
    route: &str,
) -> Result<(), ApiError> {
    if token.require_client_cert && extensions.get::<ClientIdentity>().is_none() {
        audit(&token.name, ip, route, "no_client_cert");
        return Err(ApiError::ClientCertRequired);
    }
    Ok(())
}

fn audit(token: &str, ip: Client, hook: &str, result: &str) {
    let hook = if valid_hook_name(hook) { hook } else { "-" };
    tracing::info!(target: "webd::audit", token, %ip, hook, result, "webhook");
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
    pub(super) fn authenticate_counted<'a>(
        &self,
        config: &'a Config,
        headers: &HeaderMap,
        fields: &Fields,
        body: &[u8],
        ip: Client,
        route: &str,
    ) -> Result<&'a Token, ApiError> {
        authenticate(self, config, headers, fields, body).map_err(|(err, reason)| {
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
        hook: &str,
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
        // The hook name came from the client: log it only if it could be one.
        let hook = if valid_hook_name(hook) || hook == super::state::ROUTE {
            hook
        } else {
            "-"
        };
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
}

impl AppState {
    /// Refuses a valid token used from outside its `allow_from` with 403,
    /// and counts it as a failed login: a token showing up from a network
    /// its owner never uses is a stolen token, and its user should be
    /// banned like a guesser before trying the other hooks. Checked before
    /// the rates, so that such requests spend no budget of the owner's.
    pub(super) fn check_from(
        &self,
        token: &Token,
        ip: Client,
        route: &str,
        config: &Config,
    ) -> Result<(), ApiError> {
        let addr = match ip {
            Client::Addr(a) => Some(a),
            Client::Unidentified { .. } => None,
        };
        if token.access.allows_from(addr) {
            return Ok(());
        }
        audit(&token.name, ip, route, "outside_allow_from");
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
