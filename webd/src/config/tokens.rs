//! `[[tokens]]`: each token's name, secret (a SHA-256 or an HMAC key) and
//! the hooks it may call, validated into [`crate::http::auth::Token`],
//! whose home is next to the code that checks requests against it.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;

use super::ConfigError;
use super::hooks::Hook;
use super::raw::RawToken;
use super::validate::Validator;
use crate::http::auth::{
    MIN_HMAC_SECRET_BYTES, Scope, Token, TokenSecret, check_token_name, parse_hex32,
};

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
        check_token_name(&t.name).map_err(|e| self.err(key("name"), e.to_string()))?;
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
            require_client_cert: t.require_client_cert,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{MINIMAL, parse};
    use crate::http::auth::TOKEN_NAME_RULE;

    /// `webd token new NAME` and the config's `[[tokens]] name` follow one
    /// rule: every name one accepts the other accepts, and both refuse the
    /// rest naming the rule.
    #[test]
    fn token_new_and_the_config_agree_on_every_name() {
        let long = "x".repeat(64);
        let too_long = "x".repeat(65);
        let names = [
            "a",
            "ifttt",
            "home-assistant",
            "Home_Assistant.2",
            "...",
            long.as_str(),
            too_long.as_str(),
            "",
            "a b",
            "a\"b",
            "a\\b",
            "a#b",
            "a=b",
            "ha@home",
            "a:b",
            "a/b",
            "$(reboot)",
            "a\tb",
            "caf\u{e9}",
        ];
        for name in names {
            let cli = crate::cli::new_token(name, &[], false);
            // The config side gets the name however it must be escaped.
            let quoted = serde_json::to_string(name).unwrap();
            let line =
                "sha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"";
            let config = parse(&format!(
                "{MINIMAL}\n[[tokens]]\nname = {quoted}\n{line}\nhooks = [\"*\"]\n"
            ));
            assert_eq!(
                cli.is_ok(),
                config.is_ok(),
                "{name:?}: token new says {:?}, the config says {:?}",
                cli.as_ref().err().map(ToString::to_string),
                config.as_ref().err().map(ToString::to_string)
            );
            if let (Err(cli), Err(config)) = (cli, config) {
                assert_eq!(config.key(), Some("tokens[0].name"), "{config}");
                for err in [cli.to_string(), config.to_string()] {
                    assert!(err.contains(TOKEN_NAME_RULE), "{name:?}: {err}");
                }
            }
        }
    }

    #[test]
    fn duplicate_token_names_are_refused() {
        let tok = "[[tokens]]\nname = \"a\"\nsha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"\nhooks = [\"*\"]\n";
        let err = parse(&format!("{MINIMAL}\n{tok}{tok}")).unwrap_err();
        assert_eq!(err.key(), Some("tokens[1].name"));
    }
}
