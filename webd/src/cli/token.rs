//! `webd token new NAME`: a random token printed once, and the
//! `[[tokens]]` lines that store only its SHA-256 (or, `--signed`, the HMAC
//! key itself).

use base64::Engine as _;

use super::CliError;
use crate::domain::token::{MIN_HMAC_SECRET_BYTES, check_token_name, to_hex};
use crate::http::auth::token_hash;
use tinsel_daemon::exit::Exit;

/// Random bytes in a token: 256 bits, beyond any guessing.
pub const TOKEN_BYTES: usize = 32;

/// A fresh token and the config lines that store its hash (or, signed, its
/// key).
#[derive(Debug)]
pub struct NewToken {
    /// The token (bearer) or signing key (signed), to give to the sender.
    pub secret: String,
    /// The `[[tokens]]` table for the config.
    pub config: String,
}

/// Makes a token named `name` for `hooks` (`*` for all). A signed token's
/// secret is an HMAC key and has to be stored in the config itself.
pub fn new_token(name: &str, hooks: &[String], signed: bool) -> Result<NewToken, CliError> {
    check_token_name(name)?;
    for h in hooks {
        if h != "*" && !crate::domain::hook::valid_hook_name(h) {
            return Err(CliError::BadHook(h.clone()));
        }
    }
    const _: () = assert!(TOKEN_BYTES >= MIN_HMAC_SECRET_BYTES);
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(CliError::Random)?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hooks = if hooks.is_empty() {
        "\"*\"".to_owned()
    } else {
        hooks
            .iter()
            .map(|h| format!("\"{h}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let line = if signed {
        format!("hmac_secret = \"{secret}\"")
    } else {
        format!("sha256 = \"{}\"", to_hex(&token_hash(&secret)))
    };
    let config = format!("[[tokens]]\nname = \"{name}\"\n{line}\nhooks = [{hooks}]\n");
    Ok(NewToken { secret, config })
}

/// `webd token new`: prints the secret alone on stdout's first line, then
/// the config lines; exits 64 for a bad name or hook.
pub fn run(name: &str, hooks: &[String], signed: bool) -> Exit {
    match new_token(name, hooks, signed) {
        Ok(t) => {
            // The secret alone on stdout's first line, so scripts can take it.
            println!("{}\n\n{}", t.secret, t.config);
            if signed {
                eprintln!(
                    "webd: the first line is the signing key for \"{name}\"; the config must hold it too, so keep the config readable only by root and webd's group (webd re-reads it after dropping root): chown root:tinsel /etc/tinsel/webd.toml && chmod 0640 /etc/tinsel/webd.toml"
                );
            } else {
                eprintln!(
                    "webd: the first line is the token for \"{name}\", shown only now; add the [[tokens]] lines to the config (they hold only its SHA-256) and send SIGHUP"
                );
            }
            Exit::Ok
        }
        Err(e) => {
            eprintln!("webd: {e}");
            Exit::Usage
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    #[test]
    fn a_new_token_matches_its_config_line() {
        let t = new_token("ifttt", &["color".into()], false).unwrap();
        assert_eq!(t.secret.len(), 43, "32 bytes in base64url");
        let text = format!(
            "ledd_socket = \"s\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n[hooks.color]\nanimation = \"solid\"\n{}",
            t.config
        );
        let c = Config::parse(&text, Path::new("webd.toml")).unwrap();
        let found = crate::http::auth::find_bearer(&c.tokens, &t.secret).unwrap();
        assert_eq!(found.name, "ifttt");
        assert!(
            !t.config.contains(&t.secret),
            "the config must not hold the token"
        );
        assert_ne!(new_token("x", &[], false).unwrap().secret, t.secret);
    }

    #[test]
    fn signed_tokens_store_the_key() {
        let t = new_token("gh", &[], true).unwrap();
        assert!(t.config.contains(&t.secret));
        let text = format!(
            "ledd_socket = \"s\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n{}",
            t.config
        );
        assert!(Config::parse(&text, Path::new("webd.toml")).is_ok());
    }

    #[test]
    fn names_are_checked() {
        assert!(matches!(
            new_token("a b", &[], false),
            Err(CliError::BadName(_))
        ));
        assert!(matches!(
            new_token("a\"", &[], false),
            Err(CliError::BadName(_))
        ));
        assert!(matches!(
            new_token("a", &["X".into()], false),
            Err(CliError::BadHook(_))
        ));
    }
}
