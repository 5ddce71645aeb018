//! TLS: a rustls server configuration (ring provider) from PEM files.
//!
//! TLS 1.3 and 1.2, ALPN `h2` then `http/1.1`, session resumption by both
//! tickets and a session-id cache. The ticket key and the cache live in
//! [`Resumption`], made once and shared by every configuration built after
//! a SIGHUP, so clients resume across certificate reloads. ECDSA P-256
//! certificates are the cheap choice on a Pi Zero; RSA works too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};

use crate::config::TlsPaths;

/// Session-id cache entries. Each is a few hundred bytes.
const SESSION_CACHE_ENTRIES: usize = 256;

/// A certificate or key that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{}: cannot read: {source}; check the path and that webd may read it", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{}: no PEM certificate found (expected -----BEGIN CERTIFICATE-----, e.g. Let's Encrypt's fullchain.pem)", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no usable PEM private key.
    #[error("{}: no PEM private key found (expected PKCS#8, SEC1 or PKCS#1, e.g. Let's Encrypt's privkey.pem)", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the pair (unsupported key type, key not matching the
    /// certificate...).
    #[error("{} with {}: {source}", cert.display(), key.display())]
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        #[source]
        source: rustls::Error,
    },
    /// The ticket key could not be made (no randomness).
    #[error("cannot create the session ticket key: {0}")]
    Ticketer(#[source] rustls::Error),
}

/// What makes session resumption survive a reload.
#[derive(Clone)]
pub struct Resumption {
    ticketer: Arc<dyn ProducesTickets>,
    cache: Arc<dyn StoresServerSessions>,
}

impl std::fmt::Debug for Resumption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resumption").finish_non_exhaustive()
    }
}

impl Resumption {
    /// A fresh ticket key (rotated by rustls every few hours) and cache.
    pub fn new() -> Result<Resumption, TlsError> {
        Ok(Resumption {
            ticketer: rustls::crypto::ring::Ticketer::new().map_err(TlsError::Ticketer)?,
            cache: ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES),
        })
    }
}

/// Where systemd puts a service's credentials (`LoadCredential=`). A key
/// there exists only inside the running service.
pub const CREDENTIALS_DIR: &str = "/run/credentials/";

/// Whether `key` is a systemd credential that this process cannot see
/// (outside the service, e.g. `webd --check-config` run from a shell).
pub fn is_absent_credential(key: &Path) -> bool {
    key.starts_with(CREDENTIALS_DIR) && !key.exists()
}

/// Reads and parses the certificate chain alone (for `--check-config` when
/// the key is a credential only the service sees).
pub fn check_certificate(path: &Path) -> Result<usize, TlsError> {
    let pem = read(path)?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|c| !c.is_empty())
        .map(|c| c.len())
        .ok_or_else(|| TlsError::NoCertificate {
            path: path.to_owned(),
        })
}

/// Reads the PEM files named by `paths` and builds a server configuration.
pub fn load(paths: &TlsPaths, resumption: &Resumption) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_pem = read(&paths.cert)?;
    let key_pem = read(&paths.key)?;
    server_config(paths, &cert_pem, &key_pem, resumption)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Builds a server configuration from PEM bytes; `paths` only name them in
/// errors.
pub fn server_config(
    paths: &TlsPaths,
    cert_pem: &[u8],
    key_pem: &[u8],
    resumption: &Resumption,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| TlsError::NoCertificate {
            path: paths.cert.clone(),
        })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::NoKey {
        path: paths.key.clone(),
    })?;
    let refused = |source| TlsError::Refused {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
        source,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(refused)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(refused)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ticketer = resumption.ticketer.clone();
    config.session_storage = resumption.cache.clone();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (String, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn paths() -> TlsPaths {
        TlsPaths {
            cert: "fullchain.pem".into(),
            key: "privkey.pem".into(),
        }
    }

    #[test]
    fn builds_with_alpn_and_resumption() {
        let (cert, key) = pair();
        let r = Resumption::new().unwrap();
        let c = server_config(&paths(), cert.as_bytes(), key.as_bytes(), &r).unwrap();
        assert_eq!(c.alpn_protocols[0], b"h2");
        assert!(c.ticketer.enabled());
    }

    #[test]
    fn refuses_missing_and_mismatched_material() {
        let (cert, key) = pair();
        let (_, other_key) = pair();
        let r = Resumption::new().unwrap();
        let err = server_config(&paths(), b"junk", key.as_bytes(), &r).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
        assert!(err.to_string().contains("fullchain.pem"));
        let err = server_config(&paths(), cert.as_bytes(), cert.as_bytes(), &r).unwrap_err();
        assert!(matches!(err, TlsError::NoKey { .. }), "{err}");
        let err = server_config(&paths(), cert.as_bytes(), other_key.as_bytes(), &r).unwrap_err();
        assert!(matches!(err, TlsError::Refused { .. }), "{err}");
    }
}
