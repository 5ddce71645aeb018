//! Which credential a request presents, parsed once by [`presented`]: a
//! bearer token (header or body field, never both, never in the URL) or a
//! signature with its timestamp, each header at most once. Then
//! [`verify`] finds the matching token, one arm per kind of credential.
//!
//! Adding a way to authenticate is one [`Presented`] variant, one arm in
//! [`presented`]'s `match` (where it stands decides what it excludes), and
//! one arm in [`verify`] with its verifier.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, header};

use super::{SIGNATURE_HEADER, SignError, TIMESTAMP_HEADER};
use crate::config::Config;
use crate::domain::token::Token;
use crate::http::AppState;
use crate::http::body::{Fields, header_twice, single_header};
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

/// The credential a request presents, not yet checked against any token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'r> {
    /// A bearer token, from `Authorization: Bearer` or the body's `token`.
    Bearer(&'r str),
    /// `X-Tinsel-Signature` over the body, with `X-Tinsel-Timestamp`.
    Signed {
        /// The timestamp header's text.
        timestamp: &'r str,
        /// The signature header's text (empty when not ASCII: it then
        /// fails as malformed).
        signature: &'r str,
    },
}

/// Why a request presents no usable credential. A 400 is a request that
/// could be read two ways (never counted as a guess); a 401 is counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// A credential header given more than once.
    #[error("the {0} header is given more than once")]
    HeaderTwice(&'static str),
    /// A signature beside a token (`field` is where the token was).
    #[error("a signature and a token ({0}) both sent")]
    SignedWithToken(&'static str),
    /// A signature without its timestamp (or one that is not text).
    #[error("a signed request without X-Tinsel-Timestamp")]
    NoTimestamp,
    /// `Authorization` that is not text or has no scheme.
    #[error("malformed Authorization header")]
    MalformedAuthorization,
    /// `Authorization` with a scheme other than Bearer.
    #[error("Authorization scheme is not Bearer")]
    NotBearer,
    /// A token in the header and in the body.
    #[error("a token in the header and in the body")]
    TokenTwice,
    /// Nothing at all.
    #[error("no credential")]
    NoToken,
}

impl CredentialError {
    /// The answer and the reason for the failure log.
    pub(crate) fn answer(&self) -> (ApiError, &'static str) {
        let unauthorized = |reason| (ApiError::Unauthorized { hint: None }, reason);
        match *self {
            CredentialError::HeaderTwice(shown) => (header_twice(shown), "header sent twice"),
            CredentialError::SignedWithToken(field) => (
                ApiError::bad(
                    field,
                    "a signed request carries no token: send the signature or the token, not both",
                ),
                "token and signature both sent",
            ),
            CredentialError::NoTimestamp => (
                ApiError::bad("X-Tinsel-Timestamp", "a signed request needs this header"),
                "signed request without a timestamp",
            ),
            CredentialError::MalformedAuthorization => {
                unauthorized("malformed Authorization header")
            }
            CredentialError::NotBearer => unauthorized("Authorization scheme is not Bearer"),
            CredentialError::TokenTwice => (
                ApiError::bad(
                    "token",
                    "send the token once: in the Authorization header or in the body, not both",
                ),
                "token sent twice",
            ),
            CredentialError::NoToken => unauthorized("no token"),
        }
    }
}

/// The credential `headers` and the body's `fields` present. Pure: no
/// token, clock or state is consulted. Precedence and mutual exclusion are
/// the one `match` below: a signature excludes every token; a token is
/// taken from the header or the body, not both.
pub fn presented<'r>(
    headers: &'r HeaderMap,
    fields: &'r Fields,
) -> Result<Presented<'r>, CredentialError> {
    // A credential header given twice is ambiguous, not a guess: 400.
    let once = |name, shown| {
        single_header(headers, name, shown).map_err(|_| CredentialError::HeaderTwice(shown))
    };
    let signature = once(SIGNATURE_HEADER, "X-Tinsel-Signature")?;
    let timestamp = once(TIMESTAMP_HEADER, "X-Tinsel-Timestamp")?;
    let authorization = once(header::AUTHORIZATION.as_str(), "Authorization")?;
    match (signature, authorization, fields.token.as_deref()) {
        // A signed request proves itself; a token beside it is a second,
        // competing credential.
        (Some(_), Some(_), _) => Err(CredentialError::SignedWithToken("Authorization")),
        (Some(_), None, Some(_)) => Err(CredentialError::SignedWithToken("token")),
        (Some(signature), None, None) => Ok(Presented::Signed {
            timestamp: timestamp
                .and_then(|v| v.to_str().ok())
                .ok_or(CredentialError::NoTimestamp)?,
            signature: signature.to_str().unwrap_or(""),
        }),
        // The header is read before the body's token is weighed: a
        // malformed header is a 401 whatever the body holds.
        (None, Some(authorization), body) => match (bearer(authorization)?, body) {
            (_, Some(_)) => Err(CredentialError::TokenTwice),
            (token, None) => Ok(Presented::Bearer(token)),
        },
        (None, None, Some(token)) => Ok(Presented::Bearer(token)),
        (None, None, None) => Err(CredentialError::NoToken),
    }
}

/// The token of `Authorization: Bearer TOKEN` (scheme in any case).
fn bearer(value: &HeaderValue) -> Result<&str, CredentialError> {
    let value = value
        .to_str()
        .map_err(|_| CredentialError::MalformedAuthorization)?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(CredentialError::MalformedAuthorization)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(CredentialError::NotBearer);
    }
    Ok(token.trim())
}

/// Finds the token the request proves it holds: [`presented`], then the
/// verifier of what it presents. The error's second part is the reason
/// for the log.
pub(crate) fn authenticate<'a>(
    state: &AppState,
    config: &'a Config,
    headers: &HeaderMap,
    fields: &Fields,
    body: &[u8],
) -> Result<&'a Token, (ApiError, &'static str)> {
    let credential = presented(headers, fields).map_err(|e| e.answer())?;
    verify(state, config, credential, body)
}

/// The token `credential` proves, refused when expired.
fn verify<'a>(
    state: &AppState,
    config: &'a Config,
    credential: Presented<'_>,
    body: &[u8],
) -> Result<&'a Token, (ApiError, &'static str)> {
    let now_unix = unix_now();
    let token = match credential {
        Presented::Bearer(token) => {
            let token = super::find_bearer(&config.tokens, token)
                .ok_or((ApiError::Unauthorized { hint: None }, "bad token"))?;
            refuse_expired(token, now_unix)?;
            token
        }
        Presented::Signed {
            timestamp,
            signature,
        } => {
            let (token, sig) =
                super::verify_signed(&config.tokens, timestamp, signature, body, now_unix)
                    .map_err(sign_err)?;
            refuse_expired(token, now_unix)?;
            // Remembered only once the token is known to be valid, so
            // that a stranger's garbage fills no replay slot.
            state
                .guard()
                .replay
                .remember(sig, Instant::now())
                .map_err(sign_err)?;
            token
        }
    };
    Ok(token)
}

/// The answer to a refused signature.
fn sign_err(e: SignError) -> (ApiError, &'static str) {
    let reason = match e {
        SignError::Stale => "stale signature timestamp",
        SignError::Replayed => "replayed signature",
        SignError::Mismatch => "bad signature",
        SignError::Full => "replay cache full",
        SignError::BadTimestamp | SignError::BadSignatureFormat => "malformed signature",
    };
    // Saying why a signature failed helps a sender with a wrong clock and
    // tells an attacker nothing about the key.
    let hint = match e {
        SignError::Stale => Some(
            "the X-Tinsel-Timestamp is more than 5 minutes from the server's clock: check the sender's clock",
        ),
        SignError::Replayed => {
            Some("this signed request was already used: sign each request afresh")
        }
        SignError::Full => Some("too many signed requests: try again later"),
        SignError::Mismatch => None,
        SignError::BadTimestamp => Some("X-Tinsel-Timestamp must be a Unix time in seconds"),
        SignError::BadSignatureFormat => {
            Some("X-Tinsel-Signature must be sha256= followed by 64 hex digits")
        }
    };
    (ApiError::Unauthorized { hint }, reason)
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

#[cfg(test)]
mod tests {
    use axum::http::HeaderName;

    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        h
    }

    fn body_token(t: &str) -> Fields {
        Fields {
            token: Some(t.into()),
            ..Fields::default()
        }
    }

    type Header = (&'static str, &'static [u8]);

    const SIG: (&str, &[u8]) = ("x-tinsel-signature", b"sha256=00");
    const TS: (&str, &[u8]) = ("x-tinsel-timestamp", b"1700000000");

    #[test]
    fn each_way_of_presenting_parses() {
        let none = Fields::default();
        let h = headers(&[("authorization", b"Bearer  abc ")]);
        assert_eq!(presented(&h, &none), Ok(Presented::Bearer("abc")));
        let h = headers(&[("authorization", b"bEaReR abc")]);
        assert_eq!(presented(&h, &none), Ok(Presented::Bearer("abc")));
        let body = body_token("xyz");
        assert_eq!(
            presented(&HeaderMap::new(), &body),
            Ok(Presented::Bearer("xyz"))
        );
        let h = headers(&[SIG, TS]);
        assert_eq!(
            presented(&h, &none),
            Ok(Presented::Signed {
                timestamp: "1700000000",
                signature: "sha256=00"
            })
        );
        // A timestamp alone is no credential and does not stop a token.
        let h = headers(&[TS, ("authorization", b"Bearer abc")]);
        assert_eq!(presented(&h, &none), Ok(Presented::Bearer("abc")));
    }

    #[test]
    fn what_excludes_what() {
        use CredentialError::*;
        let none = Fields::default();
        let body = body_token("xyz");
        let cases: [(&[Header], &Fields, CredentialError); 10] = [
            (&[], &none, NoToken),
            (&[SIG, SIG, TS], &none, HeaderTwice("X-Tinsel-Signature")),
            (&[SIG, TS, TS], &none, HeaderTwice("X-Tinsel-Timestamp")),
            (
                &[
                    ("authorization", b"Bearer a"),
                    ("authorization", b"Bearer b"),
                ],
                &none,
                HeaderTwice("Authorization"),
            ),
            (
                &[SIG, TS, ("authorization", b"Bearer a")],
                &none,
                SignedWithToken("Authorization"),
            ),
            // The signature wins over a malformed header too: 400, not 401.
            (
                &[SIG, TS, ("authorization", b"junk")],
                &body,
                SignedWithToken("Authorization"),
            ),
            (&[SIG, TS], &body, SignedWithToken("token")),
            (&[SIG], &none, NoTimestamp),
            (&[("authorization", b"Bearer a")], &body, TokenTwice),
            // A malformed header is a 401 whatever the body holds.
            (&[("authorization", b"Basic a")], &body, NotBearer),
        ];
        for (h, fields, want) in cases {
            assert_eq!(presented(&headers(h), fields), Err(want.clone()), "{h:?}");
        }
        let h = headers(&[("authorization", b"Bearer")]);
        assert_eq!(presented(&h, &none), Err(MalformedAuthorization));
        let h = headers(&[("authorization", b"Bearer \xff")]);
        assert_eq!(presented(&h, &none), Err(MalformedAuthorization));
    }

    #[test]
    fn only_a_guess_is_counted() {
        use CredentialError::*;
        let counted = |e: CredentialError| matches!(e.answer().0, ApiError::Unauthorized { .. });
        for e in [MalformedAuthorization, NotBearer, NoToken] {
            assert!(counted(e.clone()), "{e}");
        }
        for e in [
            HeaderTwice("Authorization"),
            SignedWithToken("token"),
            NoTimestamp,
            TokenTwice,
        ] {
            assert!(!counted(e.clone()), "{e}");
        }
    }
}
