//! What a token is: its name and the rule for names ([`check_token_name`],
//! the one rule both `webd token new` and the config's `[[tokens]] name`
//! use), how it proves itself ([`TokenSecret`]), what it may call
//! ([`Scope`]), and the hex form the config stores hashes in.

use std::collections::BTreeSet;
use std::fmt;

/// The longest token name, in bytes.
pub const MAX_TOKEN_NAME_LEN: usize = 64;

/// The shortest HMAC secret accepted, in bytes: as long as the hash.
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// The token-name rule, as error messages state it.
pub const TOKEN_NAME_RULE: &str = "a token name is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'";

/// A token name that breaks [`TOKEN_NAME_RULE`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{}` is not a valid token name: {TOKEN_NAME_RULE}; choose a name made of those",
    .0.escape_debug()
)]
pub struct BadTokenName(pub String);

/// Checks `name` against the one token-name rule: 1 to 64 of A-Z, a-z,
/// 0-9, '.', '_' and '-'. A name is written into logs, into a shell
/// command line (`webd token new NAME`) and, unescaped, into the TOML line
/// `name = "NAME"` that command prints; these characters need no quoting
/// in any of them.
pub fn check_token_name(name: &str) -> Result<(), BadTokenName> {
    let ok = (1..=MAX_TOKEN_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(BadTokenName(name.to_owned()))
    }
}

/// A token and what it may call.
#[derive(Clone)]
pub struct Token {
    /// Its name, for logs.
    pub name: String,
    /// How a request proves it holds the token.
    pub secret: TokenSecret,
    /// The hooks it may call.
    pub scope: Scope,
    /// `GET /state`, networks, rate and expiry.
    pub access: super::access::Access,
    /// Whether a request with it is refused (403) unless its connection
    /// presented a client certificate that `tls.client_ca` signed.
    pub require_client_cert: bool,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secrets, not even hashes, into a log.
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

/// What the config stores about a token.
#[derive(Clone)]
pub enum TokenSecret {
    /// A bearer token, stored as its SHA-256.
    Sha256([u8; 32]),
    /// A signing key: requests carry an HMAC-SHA256 over timestamp and body.
    Hmac(Vec<u8>),
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenSecret::Sha256(_) => "Sha256(..)",
            TokenSecret::Hmac(_) => "Hmac(..)",
        })
    }
}

/// The hooks a token may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every hook (`hooks = ["*"]`).
    All,
    /// Only these.
    Only(BTreeSet<String>),
}

impl Scope {
    /// Whether the token may call `hook`.
    pub fn allows(&self, hook: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(set) => set.contains(hook),
        }
    }
}

/// The 32 bytes written as 64 hex digits (either case), as the config's
/// `sha256` and the `X-Tinsel-Signature` header carry them.
pub fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_name_rule() {
        for good in [
            "a",
            "ifttt",
            "home-assistant",
            "Home_Assistant.2",
            &"x".repeat(64),
        ] {
            assert_eq!(check_token_name(good), Ok(()), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "a\"b",
            "a#b",
            "a=b",
            "a\\b",
            "é",
            "a\n",
            &"x".repeat(65),
        ] {
            let err = check_token_name(bad).unwrap_err();
            assert!(err.to_string().contains(TOKEN_NAME_RULE), "{err}");
        }
    }

    #[test]
    fn hex_round_trips() {
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
        assert_eq!(parse_hex32(&to_hex(&bytes)), Some(bytes));
        assert_eq!(parse_hex32(&to_hex(&bytes).to_uppercase()), Some(bytes));
        assert_eq!(parse_hex32("abc"), None);
        assert_eq!(parse_hex32(&"g".repeat(64)), None);
    }
}
