//! The one-shot commands: `webd token new NAME` and `webd cert self-signed
//! --out DIR`. They print or write and exit; nothing here runs in the
//! daemon.

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::config::{MIN_HMAC_SECRET_BYTES, to_hex};
use crate::http::auth::token_hash;

/// Random bytes in a token: 256 bits, beyond any guessing.
pub const TOKEN_BYTES: usize = 32;

/// The file names Let's Encrypt uses, so configs read the same either way.
pub const CERT_FILE: &str = "fullchain.pem";
/// The key file name.
pub const KEY_FILE: &str = "privkey.pem";

/// A one-shot command that failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A token name that would not fit the config.
    #[error("token name `{0}`: use 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'")]
    BadName(String),
    /// A hook name in `--hook` that is not one.
    #[error("hook name `{0}`: use 1 to 64 of a-z, 0-9, - and _, or *")]
    BadHook(String),
    /// No randomness.
    #[error("cannot get random bytes from the OS: {0}")]
    Random(getrandom::Error),
    /// rcgen failed.
    #[error("cannot create the certificate: {0}")]
    Cert(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The files exist already.
    #[error("{} already exists: pass --force to replace it", .0.display())]
    Exists(PathBuf),
}

/// A fresh token and the config lines that store its hash (or, signed, its
/// key).
#[derive(Debug)]
pub struct NewToken {
    /// The token (bearer) or signing key (signed), to give to the sender.
    pub secret: String,
    /// The `[[tokens]]` table for the config.
    pub config: String,
}

fn valid_token_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Makes a token named `name` for `hooks` (`*` for all). A signed token's
/// secret is an HMAC key and has to be stored in the config itself.
pub fn new_token(name: &str, hooks: &[String], signed: bool) -> Result<NewToken, CliError> {
    if !valid_token_name(name) {
        return Err(CliError::BadName(name.to_owned()));
    }
    for h in hooks {
        if h != "*" && !crate::config::valid_hook_name(h) {
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

/// Writes a self-signed ECDSA P-256 certificate for `names` (DNS names or
/// IP addresses) and its key into `dir`, as `fullchain.pem` and
/// `privkey.pem`. The key file is created with mode 0600.
pub fn self_signed(
    dir: &Path,
    names: &[String],
    force: bool,
) -> Result<(PathBuf, PathBuf), CliError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tinsel webd (self-signed)");
    let cert = params.self_signed(&key)?;
    std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    if !force {
        for p in [&cert_path, &key_path] {
            if p.exists() {
                return Err(CliError::Exists(p.clone()));
            }
        }
    }
    write(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok((cert_path, key_path))
}

fn write(path: &Path, data: &[u8], mode: u32) -> Result<(), CliError> {
    let err = |source| CliError::Write {
        path: path.to_owned(),
        source,
    };
    // Remove first so an existing file's looser mode is not kept.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    f.write_all(data).map_err(err)?;
    f.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn self_signed_writes_a_usable_pair() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let (cert, key) = self_signed(dir.path(), &names, false).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let paths = crate::config::TlsPaths { cert, key };
        crate::tls::load(&paths, &crate::tls::Resumption::new().unwrap()).unwrap();
        assert!(matches!(
            self_signed(dir.path(), &names, false),
            Err(CliError::Exists(_))
        ));
        assert!(self_signed(dir.path(), &names, true).is_ok());
    }
}
