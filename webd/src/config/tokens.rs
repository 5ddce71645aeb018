//! `[[tokens]]`: each token's name, secret (a SHA-256 or an HMAC key) and
//! the hooks it may call, validated into [`crate::domain::token::Token`],
//! whose home is next to the code that checks requests against it.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;

use super::ConfigError;
use super::raw::RawToken;
use super::validate::Validator;
use crate::domain::access::{Access, DATE_RULE, Expiry, RATE_RULE, Rate};
use crate::domain::hook::Hook;
use crate::domain::net::IpNet;
use crate::domain::token::{
    MIN_HMAC_SECRET_BYTES, Scope, Token, TokenSecret, check_token_name, parse_hex32,
};
use tinsel_daemon::config::Validate;

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
        let access = self.access(i, &t)?;
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
            access,
            require_client_cert: t.require_client_cert,
        })
    }

    /// `state`, `allow_from`, `rate` and `expires` of `tokens[i]`.
    fn access(&self, i: usize, t: &RawToken) -> Result<Access, ConfigError> {
        let key = |k: &str| format!("tokens[{i}].{k}");
        let allow_from = self.allow_from(&format!("tokens[{i}]"), t.allow_from.as_deref())?;
        let rate = t
            .rate
            .as_deref()
            .map(|text| self.rate(&key("rate"), text))
            .transpose()?;
        let expires = match &t.expires {
            None => None,
            Some(value) => {
                let text = match value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Datetime(d) => d.to_string(),
                    toml::Value::Integer(n) => n.to_string(),
                    other => {
                        return Err(self.err(
                            key("expires"),
                            format!("a TOML {}, not a date: {DATE_RULE}", other.type_str()),
                        ));
                    }
                };
                Some(Expiry::parse(&text).ok_or_else(|| {
                    self.err(
                        key("expires"),
                        format!("`{text}` is not a date: {DATE_RULE}"),
                    )
                })?)
            }
        };
        if t.state && t.hmac_secret.is_some() {
            return Err(self.err(
                key("state"),
                "GET /state takes a bearer token, and this one signs: give state = true to a token made by `webd token new NAME` (no --signed)",
            ));
        }
        Ok(Access {
            state: t.state,
            allow_from,
            rate,
            expires,
        })
    }

    /// The `allow_from` of the table at `table` (`tokens[0]`, `page`):
    /// none is anywhere, an empty list is refused (it would refuse
    /// everywhere).
    pub(super) fn allow_from(
        &self,
        table: &str,
        list: Option<&[String]>,
    ) -> Result<Vec<IpNet>, ConfigError> {
        match list {
            None => Ok(Vec::new()),
            Some([]) => Err(self.err(
                format!("{table}.allow_from"),
                "is empty, which would refuse the token everywhere: list networks (e.g. [\"10.0.0.0/8\"]) or remove the key",
            )),
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    IpNet::parse(s).ok_or_else(|| {
                        self.err(
                            format!("{table}.allow_from[{j}]"),
                            format!("`{s}` is not an IP address or network (e.g. \"10.0.0.0/8\", \"2001:db8::/32\")"),
                        )
                    })
                })
                .collect(),
        }
    }

    /// A `rate` value (`10/min`), or an error naming `key`.
    pub(super) fn rate(&self, key: &str, text: &str) -> Result<Rate, ConfigError> {
        Rate::parse(text)
            .ok_or_else(|| self.err(key, format!("`{text}` is not a rate: {RATE_RULE}")))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{MINIMAL, parse};
    use crate::domain::token::TOKEN_NAME_RULE;

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

    const SHA: &str =
        "sha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"";

    #[test]
    fn narrowing_keys_parse() {
        let config = parse(&format!(
            "{MINIMAL}\n[hooks.x]\nanimation = \"rainbow\"\nrate = \"2/s\"\n\
             [[tokens]]\nname = \"ha\"\n{SHA}\nhooks = [\"x\"]\nstate = true\n\
             allow_from = [\"10.0.0.0/8\", \"fd00::/8\", \"192.168.1.7\"]\n\
             rate = \"10/min\"\nexpires = 2027-01-06\n\
             [[tokens]]\nname = \"plain\"\n{SHA}\nhooks = [\"*\"]\nexpires = \"2027-01-06\"\n"
        ))
        .unwrap();
        let ha = &config.tokens[0].access;
        assert!(ha.state);
        assert_eq!(ha.allow_from.len(), 3);
        assert_eq!(ha.rate.map(|r| r.to_string()).as_deref(), Some("10/min"));
        assert_eq!(
            ha.expires.as_ref().map(|e| e.refused_from),
            Some(1_799_280_000)
        );
        // The TOML date and the string are the same day.
        assert_eq!(config.tokens[1].access.expires, ha.expires);
        assert_eq!(
            config.hooks["x"].rate.map(|r| r.to_string()).as_deref(),
            Some("2/s")
        );
    }

    #[test]
    fn tokens_without_the_new_keys_keep_what_they_had() {
        let config = parse(&format!(
            "{MINIMAL}\n[[tokens]]\nname = \"old\"\n{SHA}\nhooks = [\"*\"]\n"
        ))
        .unwrap();
        assert_eq!(
            config.tokens[0].access,
            crate::domain::access::Access::default()
        );
        assert!(!config.tokens[0].access.state);
    }

    #[test]
    fn bad_narrowing_values_name_their_key() {
        let signed = "hmac_secret = \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"";
        let cases = [
            (
                format!("{SHA}\nallow_from = [\"10.0.0.0/8\", \"10.0.0.0/33\"]"),
                "tokens[0].allow_from[1]",
                "10.0.0.0/33",
            ),
            (
                format!("{SHA}\nallow_from = [\"lan\"]"),
                "tokens[0].allow_from[0]",
                "lan",
            ),
            (
                format!("{SHA}\nallow_from = []"),
                "tokens[0].allow_from",
                "is empty",
            ),
            (
                format!("{SHA}\nrate = \"10/day\""),
                "tokens[0].rate",
                "COUNT/UNIT",
            ),
            (
                format!("{SHA}\nrate = \"0/s\""),
                "tokens[0].rate",
                "COUNT/UNIT",
            ),
            (
                format!("{SHA}\nexpires = \"2027-02-30\""),
                "tokens[0].expires",
                "YYYY-MM-DD",
            ),
            (
                format!("{SHA}\nexpires = 2027-01-06T10:00:00Z"),
                "tokens[0].expires",
                "YYYY-MM-DD",
            ),
            (
                format!("{SHA}\nexpires = 20270106"),
                "tokens[0].expires",
                "`20270106` is not a date",
            ),
            (
                format!("{SHA}\nexpires = [2027]"),
                "tokens[0].expires",
                "a TOML array, not a date",
            ),
            (
                format!("{signed}\nstate = true"),
                "tokens[0].state",
                "bearer",
            ),
        ];
        for (lines, key, says) in cases {
            let text = format!("{MINIMAL}\n[[tokens]]\nname = \"a\"\n{lines}\nhooks = [\"*\"]\n");
            let err = parse(&text).expect_err(&lines);
            assert_eq!(err.key(), Some(key), "{err}");
            assert!(err.to_string().contains(says), "{err}");
            assert!(err.to_string().contains("/etc/webd/webd.toml"), "{err}");
        }
        let err = parse(&format!(
            "{MINIMAL}\n[hooks.x]\nanimation = \"rainbow\"\nrate = \"fast\"\n"
        ))
        .unwrap_err();
        assert_eq!(err.key(), Some("hooks.x.rate"), "{err}");
    }

    #[test]
    fn duplicate_token_names_are_refused() {
        let tok = "[[tokens]]\nname = \"a\"\nsha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"\nhooks = [\"*\"]\n";
        let err = parse(&format!("{MINIMAL}\n{tok}{tok}")).unwrap_err();
        assert_eq!(err.key(), Some("tokens[1].name"));
    }
}
