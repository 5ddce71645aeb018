//! The credential a request presents: header lines, a blank line, then the
//! body. The body is parsed into its fields as webd does, then
//! `presented` picks the credential and the verifiers check it against a
//! bearer token and an HMAC key. Any panic is a bug; so is a credential
//! that is neither in the headers nor in the body.
#![no_main]

mod common;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use webd::domain::access::Access;
use webd::domain::token::{Scope, Token, TokenSecret};
use webd::http::auth::{Presented, find_bearer, presented, token_hash, verify_signed};
use webd::http::body::Fields;

/// The server's clock, fixed: signatures near it are in the window.
const NOW: u64 = 1_700_000_000;

static TOKENS: LazyLock<Vec<Token>> = LazyLock::new(|| {
    let token = |name: &str, secret| Token {
        name: name.into(),
        secret,
        scope: Scope::All,
        access: Access::default(),
        require_client_cert: false,
    };
    vec![
        token("bearer", TokenSecret::Sha256(token_hash("secret"))),
        token(
            "signer",
            TokenSecret::Hmac(b"0123456789abcdef0123456789abcdef".to_vec()),
        ),
    ]
});

fuzz_target!(|data: &[u8]| {
    let (headers, body) = common::head_and_body(data);
    let Ok(fields) = Fields::parse(&headers, body) else {
        return;
    };
    match presented(&headers, &fields) {
        Ok(Presented::Bearer(token)) => {
            let in_header = token.is_empty()
                || headers.get("authorization").is_some_and(|v| {
                    v.as_bytes()
                        .windows(token.len())
                        .any(|w| w == token.as_bytes())
                });
            assert!(in_header || fields.token.as_deref() == Some(token));
            let _ = find_bearer(&TOKENS, token);
        }
        Ok(Presented::Signed {
            timestamp,
            signature,
        }) => {
            assert!(fields.token.is_none() && headers.get("authorization").is_none());
            let _ = verify_signed(&TOKENS, timestamp, signature, body, NOW);
        }
        Err(_) => {}
    }
});
