//! `[tls]`: where the certificate chain and key are, relative paths taken
//! from the config file's directory.

use std::path::PathBuf;

use super::raw::RawTls;
use super::validate::Validator;

/// Where the PEM files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// The certificate chain, leaf first (Let's Encrypt's `fullchain.pem`).
    pub cert: PathBuf,
    /// The private key (`privkey.pem`).
    pub key: PathBuf,
}

impl Validator<'_> {
    pub(super) fn tls(&self, t: RawTls) -> TlsPaths {
        TlsPaths {
            cert: self.relative(t.cert),
            key: self.relative(t.key),
        }
    }
}
