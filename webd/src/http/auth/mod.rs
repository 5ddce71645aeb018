//! Who is calling: bearer tokens checked in constant time against stored
//! SHA-256 hashes, and HMAC-SHA256 signed requests with a time window and
//! replay rejection.
//!
//! Every stored token is compared, whatever matched first, so the time
//! taken does not tell which one nearly matched. Hashing the presented
//! token first means the comparison runs over a fixed 32 bytes whatever its
//! length.
//!
//! - `mod.rs` (this file): checking bearer tokens and signed requests, and
//!   the replay cache.
//! - `request.rs`: which credential a request presents.

mod request;

pub use request::{CredentialError, Presented, presented};
pub(crate) use request::{authenticate, refuse_query_token};

use crate::domain::token::{Token, TokenSecret, parse_hex32, to_hex};

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header with the request's Unix time, for signed requests.
pub const TIMESTAMP_HEADER: &str = "x-tinsel-timestamp";
/// The header with `sha256=<hex>` over `"<timestamp>." + body`.
pub const SIGNATURE_HEADER: &str = "x-tinsel-signature";
/// How far a signed request's timestamp may be from webd's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(300);
/// Signatures remembered for replay rejection. A signature is kept for
/// twice [`MAX_SKEW`] (the whole window its timestamp is accepted in).
pub const REPLAY_CAPACITY: usize = 4096;

/// The token whose hash matches `presented`, if any.
pub fn find_bearer<'a>(tokens: &'a [Token], presented: &str) -> Option<&'a Token> {
    let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for token in tokens {
        if let TokenSecret::Sha256(stored) = &token.secret
            && bool::from(stored.ct_eq(&hash))
        {
            found = Some(token);
        }
    }
    found
}

/// The SHA-256 of a token, as the config stores it.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The timestamp header is not a Unix time.
    #[error("X-Tinsel-Timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// The signature header is not `sha256=` and 64 hex digits.
    #[error("X-Tinsel-Signature is not sha256= followed by 64 hex digits")]
    BadSignatureFormat,
    /// The timestamp is outside the window.
    #[error("the timestamp is more than 5 minutes from the server's clock")]
    Stale,
    /// No signing key produces this signature.
    #[error("the signature does not match")]
    Mismatch,
    /// The same signature was seen before.
    #[error("this signed request was already used")]
    Replayed,
    /// Too many recent signatures to remember another.
    #[error("too many signed requests; try again later")]
    Full,
}

/// The signature of `body` at `timestamp` under `secret`, as the
/// `X-Tinsel-Signature` value.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body)
        .map(|m| to_hex(&m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("sha256={tag}")
}

/// The MAC state after `"<timestamp>." + body`. HMAC accepts keys of every
/// length, so `None` never happens in practice; callers treat it as "no
/// match" rather than panic.
fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    Some(m)
}

fn parse_signature(header: &str) -> Option<[u8; 32]> {
    parse_hex32(header.trim().strip_prefix("sha256=")?)
}

/// Checks a signed request; `now_unix` is the server's Unix time. Does not
/// record the signature: call [`ReplayCache::remember`] once the request is
/// otherwise valid, before acting on it.
pub fn verify_signed<'a>(
    tokens: &'a [Token],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now_unix: u64,
) -> Result<(&'a Token, [u8; 32]), SignError> {
    let ts: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignError::BadTimestamp)?;
    let sig = parse_signature(signature).ok_or(SignError::BadSignatureFormat)?;
    if ts.abs_diff(now_unix) > MAX_SKEW.as_secs() {
        return Err(SignError::Stale);
    }
    let mut found = None;
    for token in tokens {
        if let TokenSecret::Hmac(secret) = &token.secret
            && mac(secret, timestamp.trim(), body).is_some_and(|m| m.verify_slice(&sig).is_ok())
        {
            found = Some(token);
        }
    }
    found.map(|t| (t, sig)).ok_or(SignError::Mismatch)
}

/// Signatures seen within the acceptance window, to refuse replays.
#[derive(Debug, Default)]
pub struct ReplayCache {
    seen: HashMap<[u8; 32], Instant>,
}

impl ReplayCache {
    /// Records `sig`; refuses it if it was seen within the window.
    pub fn remember(&mut self, sig: [u8; 32], now: Instant) -> Result<(), SignError> {
        let keep = MAX_SKEW * 2;
        if self.seen.len() >= REPLAY_CAPACITY {
            self.seen
                .retain(|_, at| now.saturating_duration_since(*at) < keep);
        }
        match self.seen.get(&sig) {
            Some(at) if now.saturating_duration_since(*at) < keep => Err(SignError::Replayed),
            _ if self.seen.len() >= REPLAY_CAPACITY => Err(SignError::Full),
            _ => {
                self.seen.insert(sig, now);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::token::Scope;

    fn tokens() -> Vec<Token> {
        vec![
            Token {
                name: "a".into(),
                secret: TokenSecret::Sha256(token_hash("secret-a")),
                scope: Scope::All,
                access: crate::domain::access::Access::default(),
                require_client_cert: false,
            },
            Token {
                name: "b".into(),
                secret: TokenSecret::Sha256(token_hash("secret-b")),
                scope: Scope::All,
                access: crate::domain::access::Access::default(),
                require_client_cert: false,
            },
            Token {
                name: "signer".into(),
                secret: TokenSecret::Hmac(b"0123456789abcdef0123456789abcdef".to_vec()),
                scope: Scope::All,
                access: crate::domain::access::Access::default(),
                require_client_cert: false,
            },
        ]
    }

    #[test]
    fn bearer_tokens_match_by_hash() {
        let t = tokens();
        assert_eq!(
            find_bearer(&t, "secret-b").map(|t| t.name.as_str()),
            Some("b")
        );
        assert!(find_bearer(&t, "secret-c").is_none());
        assert!(find_bearer(&t, "").is_none());
        assert!(find_bearer(&t, "secret-a ").is_none());
        // The HMAC key is not a bearer token.
        assert!(find_bearer(&t, "0123456789abcdef0123456789abcdef").is_none());
    }

    #[test]
    fn signed_requests_verify_within_the_window() {
        let t = tokens();
        let key = b"0123456789abcdef0123456789abcdef";
        let body = br#"{"color":"red"}"#;
        let sig = sign(key, "1700000000", body);
        let (tok, _) = verify_signed(&t, "1700000000", &sig, body, 1_700_000_100).unwrap();
        assert_eq!(tok.name, "signer");
        // Skew both ways.
        assert!(verify_signed(&t, "1700000000", &sig, body, 1_699_999_701).is_ok());
        assert_eq!(
            verify_signed(&t, "1700000000", &sig, body, 1_700_000_301).unwrap_err(),
            SignError::Stale
        );
        // Body, timestamp and key are all covered.
        assert_eq!(
            verify_signed(&t, "1700000000", &sig, b"{}", 1_700_000_000).unwrap_err(),
            SignError::Mismatch
        );
        let other = sign(key, "1700000001", body);
        assert_eq!(
            verify_signed(&t, "1700000000", &other, body, 1_700_000_000).unwrap_err(),
            SignError::Mismatch
        );
        assert_eq!(
            verify_signed(&t, "soon", &sig, body, 1_700_000_000).unwrap_err(),
            SignError::BadTimestamp
        );
        assert_eq!(
            verify_signed(&t, "1700000000", "md5=00", body, 1_700_000_000).unwrap_err(),
            SignError::BadSignatureFormat
        );
    }

    #[test]
    fn replays_are_refused() {
        let mut cache = ReplayCache::default();
        let now = Instant::now();
        cache.remember([1; 32], now).unwrap();
        assert_eq!(
            cache.remember([1; 32], now + Duration::from_secs(599)),
            Err(SignError::Replayed)
        );
        assert!(cache.remember([2; 32], now).is_ok());
    }

    #[test]
    fn the_replay_cache_is_bounded() {
        let mut cache = ReplayCache::default();
        let now = Instant::now();
        for i in 0..REPLAY_CAPACITY as u32 {
            let mut sig = [0; 32];
            sig[..4].copy_from_slice(&i.to_le_bytes());
            cache.remember(sig, now).unwrap();
        }
        assert_eq!(cache.remember([0xff; 32], now), Err(SignError::Full));
        // Expired entries make room.
        assert!(cache.remember([0xff; 32], now + MAX_SKEW * 2).is_ok());
    }
}
