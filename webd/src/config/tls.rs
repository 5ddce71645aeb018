//! `[tls]`: where the certificate chain and key are, and whether clients
//! must present a certificate (`client_cert`, `client_ca`). Relative paths
//! are taken from the config file's directory.

use std::path::{Path, PathBuf};

use super::ConfigError;
use super::raw::RawTls;
use super::validate::Validator;
use crate::domain::token::Token;
use tinsel_daemon::config::Validate;

/// Where the PEM files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// The certificate chain, leaf first (Let's Encrypt's `fullchain.pem`).
    pub cert: PathBuf,
    /// The private key (`privkey.pem`).
    pub key: PathBuf,
}

/// `tls.client_cert` with its `tls.client_ca`: whether a TLS client must
/// prove itself with a certificate signed by the CA in that file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate is asked for (the default: IFTTT cannot send one).
    #[default]
    Off,
    /// A certificate is asked for and verified if sent; a connection
    /// without one is served, and only tokens with `require_client_cert`
    /// refuse it.
    Optional(PathBuf),
    /// The handshake fails without a certificate signed by the CA.
    Required(PathBuf),
}

/// The values `tls.client_cert` takes.
pub const CLIENT_CERT_MODES: &str = "\"off\", \"optional\" or \"required\"";

impl ClientAuth {
    /// The CA file, unless off.
    pub fn ca(&self) -> Option<&Path> {
        match self {
            ClientAuth::Off => None,
            ClientAuth::Optional(ca) | ClientAuth::Required(ca) => Some(ca),
        }
    }

    /// The mode as written in the config.
    pub fn mode(&self) -> &'static str {
        match self {
            ClientAuth::Off => "off",
            ClientAuth::Optional(_) => "optional",
            ClientAuth::Required(_) => "required",
        }
    }
}

impl Validator<'_> {
    pub(super) fn tls(&self, t: RawTls) -> Result<(TlsPaths, ClientAuth), ConfigError> {
        let paths = TlsPaths {
            cert: self.relative(t.cert),
            key: self.relative(t.key),
        };
        let ca = t.client_ca.map(|p| self.relative(p));
        let client = match (t.client_cert.as_deref().unwrap_or("off"), ca) {
            ("off", None) => ClientAuth::Off,
            ("off", Some(ca)) => {
                return Err(self.err(
                    "tls.client_ca",
                    format!(
                        "{} is set but tls.client_cert is \"off\", so no client certificate is asked for: set client_cert = \"optional\" or \"required\", or remove client_ca",
                        ca.display()
                    ),
                ));
            }
            ("optional" | "required", None) => {
                return Err(self.err(
                    "tls.client_ca",
                    "is missing: client certificates are checked against this CA file; `webd cert client NAME --dir DIR` makes one (DIR/ca.pem)",
                ));
            }
            ("optional", Some(ca)) => ClientAuth::Optional(ca),
            ("required", Some(ca)) => ClientAuth::Required(ca),
            (other, _) => {
                return Err(self.err(
                    "tls.client_cert",
                    format!("`{other}` is not a mode: use {CLIENT_CERT_MODES}"),
                ));
            }
        };
        Ok((paths, client))
    }

    /// A token with `require_client_cert` needs webd to ask for a
    /// certificate: without one asked for, no request could use it.
    pub(super) fn client_cert_tokens(
        &self,
        client: &ClientAuth,
        tokens: &[Token],
    ) -> Result<(), ConfigError> {
        let Some(i) = tokens.iter().position(|t| t.require_client_cert) else {
            return Ok(());
        };
        if *client == ClientAuth::Off {
            return Err(self.err(
                format!("tokens[{i}].require_client_cert"),
                "webd asks for no client certificate (tls.client_cert is \"off\"), so this token could never be used: set tls.client_cert = \"optional\" and tls.client_ca",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::ClientAuth;
    use crate::config::tests::{MINIMAL, parse};

    const TOKEN: &str = "[[tokens]]\nname = \"ha\"\nsha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"\nhooks = [\"*\"]\n";

    #[test]
    fn client_cert_modes_parse_with_the_ca_relative_to_the_config() {
        assert_eq!(parse(MINIMAL).unwrap().client_auth, ClientAuth::Off);
        let c = parse(&format!(
            "{MINIMAL}client_cert = \"required\"\nclient_ca = \"clients/ca.pem\"\n"
        ))
        .unwrap();
        assert_eq!(
            c.client_auth,
            ClientAuth::Required("/etc/webd/clients/ca.pem".into())
        );
        let c = parse(&format!(
            "{MINIMAL}client_cert = \"optional\"\nclient_ca = \"/ca.pem\"\n{TOKEN}require_client_cert = true\n"
        ))
        .unwrap();
        assert_eq!(c.client_auth.ca(), Some(Path::new("/ca.pem")));
        assert!(c.tokens[0].require_client_cert);
        let c = parse(&format!("{MINIMAL}{TOKEN}")).unwrap();
        assert!(!c.tokens[0].require_client_cert);
    }

    #[test]
    fn bad_client_cert_settings_name_their_key() {
        let cases = [
            (
                "client_cert = \"yes\"\nclient_ca = \"ca.pem\"\n",
                "tls.client_cert",
                "\"required\"",
            ),
            (
                "client_cert = \"required\"\n",
                "tls.client_ca",
                "webd cert client",
            ),
            (
                "client_cert = \"optional\"\n",
                "tls.client_ca",
                "is missing",
            ),
            (
                "client_ca = \"ca.pem\"\n",
                "tls.client_ca",
                "client_cert = \"optional\"",
            ),
            (
                "[[tokens]]\nname = \"ha\"\nsha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"\nhooks = [\"*\"]\nrequire_client_cert = true\n",
                "tokens[0].require_client_cert",
                "tls.client_cert",
            ),
        ];
        for (extra, key, fix) in cases {
            let err = parse(&format!("{MINIMAL}{extra}")).expect_err(extra);
            assert_eq!(err.key(), Some(key), "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains("/etc/webd/webd.toml") && msg.contains(fix),
                "{msg}"
            );
        }
    }
}
