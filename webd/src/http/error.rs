//! Every error a client can see, as JSON: `{"error": CODE, "message": TEXT}`
//! plus `"field"` for a 400. Messages say what was wrong and what to do;
//! none carries internal detail (paths, ledd's words, Rust errors).

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: a field of the request is wrong.
    BadRequest {
        /// The field (body field or header) at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// 401: no token, a bad token, or no such hook; the client cannot
    /// tell which.
    Unauthorized {
        /// Why, when it reveals nothing (a stale signature timestamp).
        hint: Option<&'static str>,
    },
    /// 403: the token may not call this hook.
    Forbidden,
    /// 403: the token may not read `GET /state`.
    StateForbidden,
    /// 403: the token may not be used from this address (`allow_from`).
    AddressForbidden,
    /// 429: the token's or the hook's `rate` is spent.
    RateLimited {
        /// Time until one more request fits.
        retry_after: Duration,
        /// Whether the hook's rate (else the token's) is spent.
        of_hook: bool,
    },
    /// 403: the token has `require_client_cert`, and the connection
    /// presented no client certificate.
    ClientCertRequired,
    /// 404 after auth: no such hook.
    NoSuchHook,
    /// 404: no such path.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 408: the request took too long.
    Timeout,
    /// 413: the body is over the limit.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: the body is neither JSON nor a form, or its `Content-Type`
    /// does not say which it is.
    UnsupportedMediaType {
        /// What is wrong with the `Content-Type`, and what to send.
        message: String,
    },
    /// 429: this client is banned.
    Banned {
        /// Time left.
        retry_after: Duration,
    },
    /// 429: too many failures from everyone.
    GlobalLimit {
        /// Time until requests are taken again.
        retry_after: Duration,
    },
    /// 502: ledd refused the request (a hook whose animation this ledd
    /// does not offer, say). The detail goes to the log, not the client.
    LeddRefused,
    /// 503: ledd is away.
    LeddUnavailable {
        /// When to try again.
        retry_after: Duration,
    },
    /// 403: a page request from another origin (or one that does not say
    /// where it comes from). Never counted: another site could otherwise
    /// get a visitor's address banned.
    CrossOrigin,
    /// 401: a page request without a device cookie: this browser is not
    /// paired. Not counted: it guesses nothing.
    NotPaired,
    /// 401: a pairing code that is unknown, used or expired (counted).
    BadPairingCode,
    /// 409: `[page] max_devices` are paired already.
    DevicesFull {
        /// The limit.
        max: u32,
    },
    /// 503: the devices directory cannot be read or written.
    Storage,
    /// 500: a bug.
    Internal,
}

impl ApiError {
    /// A 400 about `field`.
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::NotPaired | ApiError::BadPairingCode => StatusCode::UNAUTHORIZED,
            ApiError::DevicesFull { .. } => StatusCode::CONFLICT,
            ApiError::Storage => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Forbidden
            | ApiError::CrossOrigin
            | ApiError::StateForbidden
            | ApiError::AddressForbidden
            | ApiError::ClientCertRequired => StatusCode::FORBIDDEN,
            ApiError::NoSuchHook | ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Banned { .. }
            | ApiError::GlobalLimit { .. }
            | ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::LeddRefused => StatusCode::BAD_GATEWAY,
            ApiError::LeddUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::Forbidden | ApiError::StateForbidden | ApiError::AddressForbidden => {
                "forbidden"
            }
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::ClientCertRequired => "client_cert_required",
            ApiError::NoSuchHook => "no_such_hook",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Timeout => "timeout",
            ApiError::TooLarge { .. } => "body_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::Banned { .. } => "banned",
            ApiError::GlobalLimit { .. } => "too_many_failures",
            ApiError::LeddRefused => "refused",
            ApiError::LeddUnavailable { .. } => "unavailable",
            ApiError::CrossOrigin => "cross_origin",
            ApiError::NotPaired => "not_paired",
            ApiError::BadPairingCode => "bad_pairing_code",
            ApiError::DevicesFull { .. } => "too_many_devices",
            ApiError::Storage => "storage",
            ApiError::Internal => "internal",
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::BadRequest { message, .. } => message.clone(),
            ApiError::Unauthorized { hint: Some(h) } => (*h).to_owned(),
            ApiError::Unauthorized { hint: None } => "missing or invalid token, or no such hook: send the token as `Authorization: Bearer TOKEN` or a `token` field in the body".to_owned(),
            ApiError::Forbidden => "this token may not call this hook: add the hook to the token's `hooks` in the config".to_owned(),
            ApiError::StateForbidden => "this token may not read the state: add `state = true` to the token in the config".to_owned(),
            ApiError::AddressForbidden => "this token may not be used from this address: send from a network in the token's `allow_from`, or widen it in the config".to_owned(),
            ApiError::RateLimited { of_hook: false, .. } => "this token's `rate` is spent: wait for Retry-After seconds, or raise the token's rate in the config".to_owned(),
            ApiError::RateLimited { of_hook: true, .. } => "this hook's `rate` is spent: wait for Retry-After seconds, or raise the hook's rate in the config".to_owned(),
            ApiError::ClientCertRequired => "this token is only taken over a connection with a client certificate: connect with the certificate and key from `webd cert client NAME` (curl --cert NAME.pem --key NAME-key.pem)".to_owned(),
            ApiError::NoSuchHook => "no such hook: check the name after /hooks/".to_owned(),
            ApiError::NotFound => "not found: webhooks are POST /hooks/NAME".to_owned(),
            ApiError::MethodNotAllowed => "method not allowed: use POST for /hooks/NAME, GET for /state and /healthz".to_owned(),
            ApiError::Timeout => "the request took too long: send it in one go".to_owned(),
            ApiError::TooLarge { limit } => format!("the body is over {limit} bytes"),
            ApiError::UnsupportedMediaType { message } => message.clone(),
            ApiError::Banned { .. } => "too many failed attempts from this address: wait for Retry-After seconds".to_owned(),
            ApiError::GlobalLimit { .. } => "too many failed attempts: wait for Retry-After seconds".to_owned(),
            ApiError::LeddRefused => "the LED daemon refused this hook: check the hook's config and ledd's log".to_owned(),
            ApiError::LeddUnavailable { .. } => "the LED daemon is not reachable: try again after Retry-After seconds".to_owned(),
            ApiError::CrossOrigin => "refused: the page's requests come from the page itself; open the tree's page and use it there".to_owned(),
            ApiError::NotPaired => "this browser is not paired: run `webd pair --name NAME` on the tree and open the link it prints".to_owned(),
            ApiError::BadPairingCode => "this pairing code is unknown, used or expired: run `webd pair --name NAME` on the tree for a new one".to_owned(),
            ApiError::DevicesFull { max } => format!("{max} devices are paired already: revoke one with `webd revoke NAME`, or raise [page] max_devices"),
            ApiError::Storage => "the devices directory cannot be used: see webd's log".to_owned(),
            ApiError::Internal => "internal error".to_owned(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Banned { retry_after }
            | ApiError::GlobalLimit { retry_after }
            | ApiError::LeddUnavailable { retry_after }
            | ApiError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "error": self.code(),
            "message": self.message(),
        });
        if let (ApiError::BadRequest { field, .. }, Some(obj)) = (&self, body.as_object_mut()) {
            obj.insert("field".to_owned(), field.clone().into());
        }
        let mut resp = json_response(self.status(), &body);
        let h = resp.headers_mut();
        if let Some(d) = self.retry_after() {
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(d)));
        }
        if matches!(self, ApiError::Unauthorized { .. }) {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Whole seconds for a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// A JSON response with `status`.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let text = body.to_string();
    let mut resp = (status, text).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3600)), 3600);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
