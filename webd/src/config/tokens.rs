//! `[[tokens]]`: each token's name, secret (a SHA-256 or an HMAC key) and
//! the hooks it may call, validated into [`crate::http::auth::Token`],
//! whose home is next to the code that checks requests against it.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;

use super::ConfigError;
use super::hooks::Hook;
use super::raw::RawToken;
use super::validate::Validator;
use crate::http::auth::{MIN_HMAC_SECRET_BYTES, Scope, Token, TokenSecret, parse_hex32};

impl Validator<'_> {
    /// The tokens in file order; a name used twice is refused.
    pub(super) fn tokens(
        &self,
        raw: Vec<RawToken>,
        hooks: &BTreeMap<String, Hook>,
    ) -> Result<Vec<Token>, ConfigError> {
        let mut tokens: Vec<Token> = Vec::new();
        for (i, t) in raw.into_iter().enumerate() {
            let token = self.token(i, t, hooks)?;
            if tokens.iter().any(|o| o.name == token.name) {
                return Err(self.err(
                    format!("tokens[{i}].name"),
                    format!(
                        "`{}` is used twice: give each token its own name",
                        token.name
                    ),
                ));
            }
            tokens.push(token);
        }
        Ok(tokens)
    }

    fn token(
        &self,
        i: usize,
        t: RawToken,
        hooks: &BTreeMap<String, Hook>,
    ) -> Result<Token, ConfigError> {
        let key = |k: &str| format!("tokens[{i}].{k}");
        if t.name.is_empty() || t.name.len() > 64 || !t.name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(self.err(
                key("name"),
                "a token name is 1 to 64 printable ASCII characters without spaces",
            ));
        }
        let secret = match (t.sha256, t.hmac_secret) {
            (Some(hex), None) => TokenSecret::Sha256(parse_hex32(hex.trim()).ok_or_else(|| {
                self.err(
                    key("sha256"),
                    "is not 64 hex digits: paste the line `webd token new NAME` printed",
                )
            })?),
            (None, Some(secret)) => {
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(secret.trim_end_matches('='))
                    .map_err(|_| {
                        self.err(
                            key("hmac_secret"),
                            "is not base64url: paste the line `webd token new NAME --signed` printed",
                        )
                    })?;
                if bytes.len() < MIN_HMAC_SECRET_BYTES {
                    return Err(self.err(
                        key("hmac_secret"),
                        format!(
                            "is {} bytes; use at least {MIN_HMAC_SECRET_BYTES} (`webd token new NAME --signed`)",
                            bytes.len()
                        ),
                    ));
                }
                TokenSecret::Hmac(bytes)
            }
            (Some(_), Some(_)) => {
                return Err(self.err(
                    key("sha256"),
                    "a token has either sha256 (bearer) or hmac_secret (signed), not both",
                ));
            }
            (None, None) => {
                return Err(self.err(
                    key("sha256"),
                    "is missing: give sha256 (bearer) or hmac_secret (signed)",
                ));
            }
        };
        let scope = if t.hooks.iter().any(|h| h == "*") {
            Scope::All
        } else {
            let mut set = BTreeSet::new();
            for (j, h) in t.hooks.iter().enumerate() {
                if !hooks.contains_key(h) {
                    return Err(self.err(
                        format!("tokens[{i}].hooks[{j}]"),
                        format!("no hook named `{h}`: define [hooks.{h}] or remove it"),
                    ));
                }
                set.insert(h.clone());
            }
            if set.is_empty() {
                return Err(self.err(
                    key("hooks"),
                    "is empty: list the hooks this token may call, or [\"*\"] for all",
                ));
            }
            Scope::Only(set)
        };
        Ok(Token {
            name: t.name,
            secret,
            scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{MINIMAL, parse};

    #[test]
    fn duplicate_token_names_are_refused() {
        let tok = "[[tokens]]\nname = \"a\"\nsha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"\nhooks = [\"*\"]\n";
        let err = parse(&format!("{MINIMAL}\n{tok}{tok}")).unwrap_err();
        assert_eq!(err.key(), Some("tokens[1].name"));
    }
}
