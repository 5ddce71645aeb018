//! TLS: a rustls server configuration (ring provider) from PEM files.
//!
//! TLS 1.3 and 1.2, ALPN `http/1.1` only (a client that offers only `h2`
//! is refused in the handshake; see docs/webd.md, "HTTP/1.1 only"), session
//! resumption by both tickets and a session-id cache. The ticket key and
//! the cache live in [`Resumption`], made once and shared by every
//! configuration built after a SIGHUP, so clients resume across
//! certificate reloads. ECDSA P-256 certificates are the cheap choice on a
//! Pi Zero; RSA works too.
//!
//! Client certificates (`tls.client_cert`, `tls.client_ca`) are checked
//! by rustls' WebPKI verifier against the CA file, re-read with the rest on
//! SIGHUP. When the CA or the mode changes, the ticket key and the cache
//! are replaced: a session made under the old CA must not resume under the
//! new one. [`client_identity`] names the certificate a connection
//! presented, for the requests that come over it.
//!
//! [`Expiry`]: when the server certificate runs out, read with
//! `x509-parser`, so webd can warn [`EXPIRY_WARNING_DAYS`] ahead.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{
    ProducesTickets, ServerSessionMemoryCache, StoresServerSessions, WebPkiClientVerifier,
};
use rustls::{RootCertStore, ServerConfig};
use sha2::{Digest as _, Sha256};

use crate::config::{ClientAuth, TlsPaths};

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
    /// `tls.client_ca` could not be read.
    #[error("{}: `tls.client_ca`: cannot read: {source}; check the path and that webd may read it", path.display())]
    ClientCaRead {
        /// The CA file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `tls.client_ca` holds no usable CA certificate.
    #[error("{}: `tls.client_ca`: {reason}", path.display())]
    ClientCa {
        /// The CA file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// What makes session resumption survive a reload: the ticket key and the
/// session cache, kept while the client-certificate trust stays the same.
#[derive(Clone)]
pub struct Resumption(Arc<Mutex<Keys>>);

#[derive(Clone)]
struct Keys {
    ticketer: Arc<dyn ProducesTickets>,
    cache: Arc<dyn StoresServerSessions>,
    /// The SHA-256 of the client-certificate mode and CA these were made
    /// under: a resumed session skips certificate verification, so it must
    /// not outlive a change of CA.
    trust: [u8; 32],
}

impl Keys {
    fn fresh(trust: [u8; 32]) -> Result<Keys, TlsError> {
        Ok(Keys {
            ticketer: rustls::crypto::ring::Ticketer::new().map_err(TlsError::Ticketer)?,
            cache: ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES),
            trust,
        })
    }
}

impl std::fmt::Debug for Resumption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resumption").finish_non_exhaustive()
    }
}

impl Resumption {
    /// A fresh ticket key (rotated by rustls every few hours) and cache.
    pub fn new() -> Result<Resumption, TlsError> {
        Ok(Resumption(Arc::new(Mutex::new(Keys::fresh(trust(
            "off", b"",
        ))?))))
    }

    /// The ticket key and cache for `trust`, fresh ones if it changed.
    fn keys(&self, trust: [u8; 32]) -> Result<Keys, TlsError> {
        let mut keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.trust != trust {
            *keys = Keys::fresh(trust)?;
        }
        Ok(keys.clone())
    }
}

fn trust(mode: &str, ca_pem: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(mode.as_bytes());
    h.update([0]);
    h.update(ca_pem);
    h.finalize().into()
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

/// Reads the PEM files named by `paths` and `client` and builds a server
/// configuration.
pub fn load(
    paths: &TlsPaths,
    client: &ClientAuth,
    resumption: &Resumption,
) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_pem = read(&paths.cert)?;
    let key_pem = read(&paths.key)?;
    let (verifier, trust) = match client.ca() {
        None => (None, trust("off", b"")),
        Some(ca) => {
            let pem = std::fs::read(ca).map_err(|source| TlsError::ClientCaRead {
                path: ca.to_owned(),
                source,
            })?;
            (
                Some(client_verifier(client, ca, &pem)?),
                trust(client.mode(), &pem),
            )
        }
    };
    build(paths, &cert_pem, &key_pem, verifier, trust, resumption)
}

/// The verifier for `client`'s mode over the CA certificates in `ca_pem`
/// (read from `ca`, which only names it in errors).
pub fn client_verifier(
    client: &ClientAuth,
    ca: &Path,
    ca_pem: &[u8],
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let bad = |reason: String| TlsError::ClientCa {
        path: ca.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(ca_pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| bad("no PEM certificate found (expected -----BEGIN CERTIFICATE-----): give the CA that signs the client certificates, e.g. the ca.pem of `webd cert client NAME --dir DIR`".to_owned()))?;
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots.add(c).map_err(|e| {
            bad(format!(
                "not a usable CA certificate: {e}; give the CA that signs the client certificates"
            ))
        })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = match client {
        ClientAuth::Optional(_) => builder.allow_unauthenticated(),
        _ => builder,
    };
    builder.build().map_err(|e| bad(format!("{e}")))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Builds a server configuration from PEM bytes, asking for no client
/// certificate; `paths` only name them in errors.
pub fn server_config(
    paths: &TlsPaths,
    cert_pem: &[u8],
    key_pem: &[u8],
    resumption: &Resumption,
) -> Result<Arc<ServerConfig>, TlsError> {
    build(
        paths,
        cert_pem,
        key_pem,
        None,
        trust("off", b""),
        resumption,
    )
}

fn build(
    paths: &TlsPaths,
    cert_pem: &[u8],
    key_pem: &[u8],
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    trust: [u8; 32],
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
    let builder = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(refused)?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(refused)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let keys = resumption.keys(trust)?;
    config.ticketer = keys.ticketer;
    config.session_storage = keys.cache;
    Ok(Arc::new(config))
}

/// The client certificate a connection presented and the verifier
/// accepted, named by its subject's common name. Put into the extensions
/// of every request that came over that connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity(pub Arc<str>);

/// The identity of the verified client certificate on `conn`, if it sent
/// one. rustls only completes a handshake whose certificate the verifier
/// accepted, so any certificate here chains to `tls.client_ca`.
pub fn client_identity(conn: &rustls::ServerConnection) -> Option<ClientIdentity> {
    let leaf = conn.peer_certificates()?.first()?;
    let name = match x509_parser::parse_x509_certificate(leaf) {
        Ok((_, cert)) => {
            let subject = cert.subject();
            match subject.iter_common_name().next().map(|cn| cn.as_str()) {
                Some(Ok(cn)) => cn.to_owned(),
                _ => subject.to_string(),
            }
        }
        Err(_) => "?".to_owned(),
    };
    // Whatever a CA put into the name, a log line stays one line.
    Some(ClientIdentity(name.escape_debug().to_string().into()))
}

/// How many days ahead webd starts warning that its certificate expires.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Seconds in a day.
const DAY_SECS: i64 = 86_400;

/// When a certificate stops being valid (its `notAfter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// `notAfter` in seconds since the Unix epoch.
    pub not_after: i64,
    /// `notAfter` written out, e.g. `2026-12-04 12:00 UTC`.
    pub date: String,
}

impl Expiry {
    /// The `notAfter` of the first (leaf) certificate in `cert_pem`.
    pub fn of_pem(cert_pem: &[u8]) -> Option<Expiry> {
        let leaf = CertificateDer::pem_slice_iter(cert_pem).next()?.ok()?;
        let (_, cert) = x509_parser::parse_x509_certificate(&leaf).ok()?;
        let not_after = cert.validity().not_after;
        let t = not_after.to_datetime();
        Some(Expiry {
            not_after: not_after.timestamp(),
            date: format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute()),
        })
    }

    /// Whole days from `now` until it expires; negative once expired.
    pub fn days_left(&self, now: SystemTime) -> i64 {
        let now = match now.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        };
        self.not_after.saturating_sub(now).div_euclid(DAY_SECS)
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: SystemTime) -> bool {
        self.days_left(now) < 0
    }

    /// One line: the date and the days left, as `--check-config` prints it.
    pub fn describe(&self, now: SystemTime) -> String {
        match self.days_left(now) {
            // Whole days since: -1 is less than a day ago.
            d if d < 0 => format!("expired on {} ({} day(s) ago)", self.date, -(d + 1)),
            d => format!("valid until {} ({d} day(s) left)", self.date),
        }
    }

    /// The warning for the certificate in `path` when it expires within
    /// [`EXPIRY_WARNING_DAYS`] of `now` or has expired, with the fix.
    pub fn warning(&self, path: &Path, now: SystemTime) -> Option<String> {
        if self.days_left(now) >= EXPIRY_WARNING_DAYS {
            return None;
        }
        let what = if self.expired(now) {
            "has EXPIRED: clients refuse it"
        } else {
            "expires soon: clients will refuse it then"
        };
        Some(format!(
            "{}: the certificate {what} ({}); renew it (Let's Encrypt: `certbot renew`, then reload or restart webd) or make a new one (`webd cert self-signed --force --out DIR`, then `systemctl reload webd`)",
            path.display(),
            self.describe(now)
        ))
    }
}

/// The expiry of the certificate in `path`.
pub fn expiry(path: &Path) -> Result<Expiry, TlsError> {
    Expiry::of_pem(&read(path)?).ok_or_else(|| TlsError::NoCertificate {
        path: path.to_owned(),
    })
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
        assert_eq!(c.alpn_protocols, [b"http/1.1"]);
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
    #[test]
    fn the_client_ca_must_hold_a_certificate() {
        let ca = Path::new("/etc/webd/clients/ca.pem");
        let mode = ClientAuth::Required(ca.to_owned());
        let err = client_verifier(&mode, ca, b"junk").err().unwrap();
        assert!(matches!(err, TlsError::ClientCa { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("/etc/webd/clients/ca.pem") && msg.contains("`tls.client_ca`"),
            "{msg}"
        );
        let (cert, _) = pair();
        assert!(client_verifier(&mode, ca, cert.as_bytes()).is_ok());
        let err = load(
            &paths(),
            &ClientAuth::Optional("/nonexistent/ca.pem".into()),
            &Resumption::new().unwrap(),
        )
        .unwrap_err();
        // The server certificate is read first; either way the file is named.
        assert!(
            err.to_string().contains("fullchain.pem") || err.to_string().contains("ca.pem"),
            "{err}"
        );
    }

    #[test]
    fn a_new_client_ca_gets_a_new_ticket_key() {
        let r = Resumption::new().unwrap();
        let key = |mode: &str, ca: &[u8]| r.keys(trust(mode, ca)).unwrap().ticketer;
        let off = key("off", b"");
        assert!(Arc::ptr_eq(&off, &key("off", b"")), "same trust, same key");
        let ca1 = key("required", b"ca one");
        assert!(!Arc::ptr_eq(&off, &ca1));
        let ca2 = key("required", b"ca two");
        assert!(!Arc::ptr_eq(&ca1, &ca2));
        let optional = key("optional", b"ca two");
        assert!(!Arc::ptr_eq(&ca2, &optional), "a change of mode counts too");
    }

    #[test]
    fn expiry_is_read_from_the_leaf_and_warned_about_within_14_days() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2030, 6, 15);
        let pem = params.self_signed(&key).unwrap().pem();
        let e = Expiry::of_pem(pem.as_bytes()).unwrap();
        assert_eq!(e.date, "2030-06-15 00:00 UTC");
        let at = |secs: i64| UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
        let path = Path::new("/etc/tinsel/tls/fullchain.pem");
        let day = DAY_SECS;
        assert_eq!(e.days_left(at(e.not_after - 5 * day - 60)), 5);
        assert_eq!(e.days_left(at(e.not_after - 20 * day)), 20);
        assert!(
            e.warning(path, at(e.not_after - EXPIRY_WARNING_DAYS * day))
                .is_none()
        );
        let w = e.warning(path, at(e.not_after - 5 * day - 60)).unwrap();
        for part in [
            "/etc/tinsel/tls/fullchain.pem",
            "2030-06-15",
            "5 day(s) left",
            "certbot renew",
            "webd cert self-signed",
        ] {
            assert!(w.contains(part), "{part}: {w}");
        }
        let now = at(e.not_after + 2 * day + 1);
        assert!(e.expired(now));
        let w = e.warning(path, now).unwrap();
        assert!(w.contains("EXPIRED") && w.contains("2 day(s) ago"), "{w}");
        assert!(Expiry::of_pem(b"junk").is_none());
    }
}
