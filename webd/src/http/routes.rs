//! The routes: `POST /hooks/{name}` and `GET /healthz`, and the steps of a
//! webhook in order: ban check, body bounds, body parse, authentication
//! (and, only when it fails, the global failure budget), hook lookup and
//! scope, parameters, ledd.
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

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt as _;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use tinsel_proto::{PlaySeconds, Speed};

use super::AppState;
use super::auth::{self, SIGNATURE_HEADER, SignError, TIMESTAMP_HEADER};
use super::ban::{Recorded, Verdict};
use super::client::{Client, PeerAddr, client_ip};
use super::error::{ApiError, json_response};
use crate::config::{Action, ColorChoice, Config, Hook, Token, valid_hook_name};

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
    let peer = req
        .extensions()
        .get::<PeerAddr>()
        .ok_or(ApiError::Internal)?
        .0;
    let live = state.live();
    let config = &live.config;
    let ip = client_ip(peer.ip(), req.headers(), &config.trusted_proxies);
    // A banned client is refused whatever it sends, before anything is read.
    if let Verdict::Banned { retry_after } = state.guard().bans.check(ip, Instant::now()) {
        return Err(ApiError::Banned { retry_after });
    }
    refuse_query_token(req.uri().query())?;
    let (parts, body) = req.into_parts();
    let bytes = read_body(&parts.headers, body, config.limits.max_body_bytes).await?;
    let fields = Fields::parse(&parts.headers, &bytes)?;

    // An undecodable path segment names no hook: treat it like an unknown one.
    let name = name.map(|Path(n)| n).unwrap_or_default();
    let token = match authenticate(&state, config, &parts.headers, &fields, &bytes) {
        Ok(t) => t,
        Err((err, reason)) => {
            // A malformed request (400) is not a guess at a token.
            if matches!(err, ApiError::Unauthorized { .. })
                && let Some(retry_after) = state.failure(ip, &name, reason, config)
            {
                return Err(ApiError::GlobalLimit { retry_after });
            }
            return Err(err);
        }
    };
    let Some(hook) = config.hooks.get(&name) else {
        audit(&token.name, ip, &name, "no_such_hook");
        return Err(ApiError::NoSuchHook);
    };
    if !token.scope.allows(&name) {
        audit(&token.name, ip, &name, "forbidden");
        return Err(ApiError::Forbidden);
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
fn audit(token: &str, ip: Client, hook: &str, result: &str) {
    let hook = if valid_hook_name(hook) { hook } else { "-" };
    tracing::info!(target: "webd::audit", token, %ip, hook, result, "webhook");
}

impl AppState {
    /// Counts an authentication failure and writes its (rate-limited) log
    /// line, which names the client IP for an external fail2ban. Returns
    /// the time until the global failure budget has room if it was spent
    /// before this failure: the answer is then 429, not 401.
    fn failure(
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
        let hook = if valid_hook_name(hook) { hook } else { "-" };
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

fn refuse_query_token(query: Option<&str>) -> Result<(), ApiError> {
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

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::TooLarge { limit }),
        Err(_) => Err(ApiError::bad("body", "the body could not be read")),
    }
}

/// What a request body may carry.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fields {
    /// The token, when not in the `Authorization` header.
    pub token: Option<String>,
    /// A colour name or `#rrggbb`.
    pub color: Option<String>,
    /// Speed in percent.
    pub speed: Option<u64>,
    /// Duration in seconds.
    pub duration: Option<u64>,
}

/// The longest field name echoed back in an error.
const MAX_ECHO: usize = 40;

fn echo(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_ECHO)
        .collect()
}

/// The value of a header that may appear at most once: two of them are a
/// 400 naming the header, since webd would have to guess which one counts.
fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
    shown: &str,
) -> Result<Option<&'h HeaderValue>, ApiError> {
    let mut all = headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (first, None) => Ok(first),
        _ => Err(ApiError::bad(
            shown,
            format!("the {shown} header is given more than once: send it once"),
        )),
    }
}

/// Whether a body is plainly JSON: its first non-blank byte opens an object
/// or an array. A form never starts so (a form encoder escapes `{` and `[`).
fn looks_like_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

impl Fields {
    /// Parses a JSON object or a form, as the `Content-Type` says. An empty
    /// body is no fields. A body whose type is missing or contradicts it
    /// (JSON labelled as a form, as curl's `-d` does) is refused with 415
    /// naming the header, rather than read one way and its fields dropped.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Fields, ApiError> {
        let content_type = single_header(headers, header::CONTENT_TYPE.as_str(), "Content-Type")?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields::default());
        }
        let essence = content_type.map(|v| {
            v.to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        let unsupported = |message: String| ApiError::UnsupportedMediaType { message };
        match essence.as_deref() {
            Some("application/json") => Fields::parse_json(body),
            Some("application/x-www-form-urlencoded") if looks_like_json(body) => Err(unsupported(
                "the body is JSON but its Content-Type says application/x-www-form-urlencoded (curl's -d does that): send `Content-Type: application/json`".to_owned(),
            )),
            Some("application/x-www-form-urlencoded") => Fields::parse_form(body),
            None if looks_like_json(body) => Err(unsupported(
                "the body is JSON but has no Content-Type: send `Content-Type: application/json`".to_owned(),
            )),
            None => Err(unsupported(
                "the body has no Content-Type: send `Content-Type: application/json` or `Content-Type: application/x-www-form-urlencoded`".to_owned(),
            )),
            Some(other) => Err(unsupported(format!(
                "Content-Type `{}` is not supported: send `Content-Type: application/json` or `Content-Type: application/x-www-form-urlencoded`",
                echo(other)
            ))),
        }
    }

    fn parse_form(body: &[u8]) -> Result<Fields, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| ApiError::bad("body", "the body is not a valid form"))?;
        let mut fields = Fields::default();
        for (k, v) in pairs {
            fields.set(&k, v)?;
        }
        Ok(fields)
    }

    /// Reads a JSON object straight into the fields, refusing a key given
    /// twice (a map type would keep one of them silently).
    fn parse_json(body: &[u8]) -> Result<Fields, ApiError> {
        let mut fields = Fields::default();
        let mut refused = None;
        let mut de = serde_json::Deserializer::from_slice(body);
        let seed = JsonObject {
            fields: &mut fields,
            refused: &mut refused,
        };
        let parsed = seed.deserialize(&mut de).and_then(|()| de.end());
        if let Some(e) = refused {
            return Err(e);
        }
        match parsed {
            Ok(()) => Ok(fields),
            Err(e) if e.is_data() => Err(ApiError::bad("body", "the body must be a JSON object")),
            Err(e) => Err(ApiError::bad(
                "body",
                format!(
                    "the body is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )),
        }
    }

    /// One JSON member: `null` is absent, strings and numbers are text,
    /// anything else is a 400 naming the key.
    fn set_json(&mut self, key: &str, value: serde_json::Value) -> Result<(), ApiError> {
        let text = match value {
            serde_json::Value::Null => return Ok(()),
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(ApiError::bad(echo(key), "must be a string or a number")),
        };
        self.set(key, text)
    }

    fn set(&mut self, key: &str, value: String) -> Result<(), ApiError> {
        let number = |field: &str, v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::bad(field, format!("`{}` is not a whole number", echo(v))))
        };
        let dup = || ApiError::bad(echo(key), "is given twice");
        // An empty value (an IFTTT ingredient that was blank) counts as absent.
        if value.trim().is_empty() && key != "token" {
            return Ok(());
        }
        let replaced = match key {
            "token" => self.token.replace(value).is_some(),
            "color" | "colour" => self.color.replace(value).is_some(),
            "speed" => self.speed.replace(number("speed", &value)?).is_some(),
            "duration" => self.duration.replace(number("duration", &value)?).is_some(),
            // Senders add fields of their own (IFTTT ingredients such as
            // value1, a "source"): ignored, never echoed. The body is already
            // bounded by limits.max_body_bytes.
            _ => false,
        };
        if replaced {
            return Err(dup());
        }
        Ok(())
    }

    fn first_param(&self) -> Option<&'static str> {
        if self.color.is_some() {
            Some("color")
        } else if self.speed.is_some() {
            Some("speed")
        } else if self.duration.is_some() {
            Some("duration")
        } else {
            None
        }
    }
}

/// Deserializes a top-level JSON object into [`Fields`] member by member.
/// The first refusal is kept in `refused` (the JSON error that stops the
/// parse carries no field name).
struct JsonObject<'a> {
    fields: &'a mut Fields,
    refused: &'a mut Option<ApiError>,
}

impl<'de> DeserializeSeed<'de> for JsonObject<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for JsonObject<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys as the sender meant them (escapes resolved), so `"tok\u0065n"`
        // is `token` too. Bounded by the body limit.
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: serde_json::Value = map.next_value()?;
            let result = if seen.contains(&key) {
                Err(ApiError::bad(
                    echo(&key),
                    "is given twice: send each field once",
                ))
            } else {
                let r = self.fields.set_json(&key, value);
                seen.insert(key);
                r
            };
            if let Err(e) = result {
                *self.refused = Some(e);
                return Err(de::Error::custom("refused member"));
            }
        }
        Ok(())
    }
}

/// Finds the token the request proves it holds. The error's second part is
/// the reason for the log.
fn authenticate<'a>(
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
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
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
            auth::verify_signed(&config.tokens, ts, sig, body, now_unix).map_err(sign_err)?;
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
    auth::find_bearer(&config.tokens, presented).ok_or_else(|| unauthorized("bad token"))
}

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
