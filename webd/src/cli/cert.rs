//! `webd cert self-signed --out DIR`: an ECDSA P-256 certificate and key
//! for a first test, the key readable by webd's group when run as root.
//!
//! `webd cert client NAME --dir DIR`: a client certificate and key for
//! NAME, signed by the CA in DIR (made on first use), for
//! `tls.client_cert` (mutual TLS). The CA's key never leaves DIR; webd
//! itself needs only `DIR/ca.pem`. No NAME and no `--force` can write over
//! the CA's files ([`ca_name_refused`]): NAME's files are `NAME.pem` and
//! `NAME-key.pem` beside them, so `ca` and `ca-key` are refused by name,
//! and any NAME whose file already is one of the CA's by path (a
//! case-insensitive file system, a hard link) when the files are written.

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::CliError;
use tinsel_daemon::exit::Exit;

/// The file names Let's Encrypt uses, so configs read the same either way.
pub const CERT_FILE: &str = "fullchain.pem";
/// The key file name.
pub const KEY_FILE: &str = "privkey.pem";

/// The group the key of `webd cert self-signed` is given to by default
/// when run as root: webd's group in the packaged setup (tinsel.sysusers).
pub const DEFAULT_KEY_GROUP: &str = "tinsel";

/// The key's mode when a group may read it: webd, started as root, drops to
/// its `user`/`group` before serving and re-reads the key on SIGHUP as
/// that user.
pub const GROUP_KEY_MODE: u32 = 0o640;

/// Writes a self-signed ECDSA P-256 certificate for `names` (DNS names or
/// IP addresses) and its key into `dir`, as `fullchain.pem` and
/// `privkey.pem`. The key file is created with mode 0600; with `key_group`
/// it is then given to that group and made 0640, so webd can re-read it
/// after dropping root.
pub fn self_signed(
    dir: &Path,
    names: &[String],
    force: bool,
    key_group: Option<u32>,
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
    let key_file = write(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    if let Some(gid) = key_group {
        // The group first, then the mode: the key is never readable by a
        // group it was not meant for.
        let err = |source| CliError::Write {
            path: key_path.clone(),
            source,
        };
        std::os::unix::fs::fchown(&key_file, None, Some(gid)).map_err(err)?;
        key_file
            .set_permissions(std::fs::Permissions::from_mode(GROUP_KEY_MODE))
            .map_err(err)?;
    }
    write(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok((cert_path, key_path))
}

fn write(path: &Path, data: &[u8], mode: u32) -> Result<std::fs::File, CliError> {
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
    f.sync_all().map_err(err)?;
    Ok(f)
}

/// `webd cert self-signed`: writes the pair, prints the `[tls]` lines and
/// says who can read the key.
pub fn run(out: &Path, names: &[String], group: Option<&str>, force: bool) -> Exit {
    let root = rustix::process::geteuid().is_root();
    let (group, explicit) = match group {
        Some(g) => (Some(g), true),
        None if root => (Some(DEFAULT_KEY_GROUP), false),
        None => (None, false),
    };
    let gid = match group.map(|g| (g, tinsel_sandbox::ids::group_id(g))) {
        None => None,
        Some((_, Ok(Some(gid)))) => Some(gid),
        Some((g, Ok(None))) if explicit => {
            eprintln!(
                "webd: --group: no group named `{g}`: give webd's `group` from its config, or leave --group out"
            );
            return Exit::Usage;
        }
        Some((_, Ok(None))) => None,
        Some((g, Err(e))) => {
            eprintln!("webd: --group {g}: {e}");
            return Exit::Usage;
        }
    };
    match self_signed(out, names, force, gid) {
        Ok((cert, key)) => {
            // Absolute, so the lines mean the same pasted into a config in
            // another directory (relative paths follow the config file).
            let cert = std::path::absolute(&cert).unwrap_or(cert);
            let key = std::path::absolute(&key).unwrap_or(key);
            println!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"",
                cert.display(),
                key.display()
            );
            eprintln!(
                "webd: wrote a self-signed ECDSA P-256 certificate for {}; clients need it as their CA (curl --cacert {})",
                names.join(", "),
                cert.display()
            );
            match (gid, group) {
                (Some(_), Some(g)) => eprintln!(
                    "webd: the key is 0640, group {g}: webd (group = \"{g}\") can re-read it on SIGHUP after dropping root"
                ),
                _ if root => eprintln!(
                    "webd: the key is 0600 root: a webd that drops to its user cannot re-read it on SIGHUP; pass --group with webd's group (or chown root:GROUP and chmod 0640 it)"
                ),
                _ => {}
            }
            Exit::Ok
        }
        Err(CliError::Exists(p)) => {
            eprintln!(
                "webd: {} already exists: pass --force to replace it",
                p.display()
            );
            Exit::Usage
        }
        Err(e @ CliError::Write { .. }) => {
            eprintln!("webd: {e}");
            Exit::Permission
        }
        Err(e) => {
            eprintln!("webd: {e}");
            Exit::Internal
        }
    }
}

/// The client CA's certificate in a `webd cert client` directory: what
/// `tls.client_ca` names.
pub const CA_FILE: &str = "ca.pem";
/// The client CA's key, which signs client certificates. webd never reads
/// it.
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// The client CA's subject.
pub const CA_NAME: &str = "tinsel webd client CA";
/// How long a new client CA is valid (about 10 years).
pub const CA_DAYS: u32 = 3650;
/// How long a client certificate is valid by default (about 2 years and 3
/// months, the longest the CA/Browser Forum once allowed).
pub const DEFAULT_CLIENT_DAYS: u32 = 825;

/// What `webd cert client` wrote.
#[derive(Debug, Clone)]
pub struct ClientFiles {
    /// The CA certificate (`tls.client_ca`).
    pub ca: PathBuf,
    /// Whether the CA was made now (else an existing one signed).
    pub ca_created: bool,
    /// The client certificate (`curl --cert`).
    pub cert: PathBuf,
    /// The client key (`curl --key`), mode 0600.
    pub key: PathBuf,
}

/// Writes a client certificate for `name` (its subject CN, shown in webd's
/// logs) and its key into `dir` as `NAME.pem` and `NAME-key.pem` (0600),
/// signed by the CA in `dir` (`ca.pem`, `ca-key.pem` 0600), which is made
/// first if missing. The new certificate is checked against `ca.pem` with
/// the verifier webd uses, so a CA file that does not belong to its key is
/// caught here rather than at the first handshake.
pub fn client(dir: &Path, name: &str, days: u32, force: bool) -> Result<ClientFiles, CliError> {
    crate::domain::token::check_token_name(name)?;
    ca_name_refused(name)?;
    create_dir(dir)?;
    let ca_path = dir.join(CA_FILE);
    let ca_key_path = dir.join(CA_KEY_FILE);
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    // Before "exists, pass --force": --force would not help.
    ca_path_refused(name, &[&cert_path, &key_path], &[&ca_path, &ca_key_path])?;
    if !force {
        for p in [&cert_path, &key_path] {
            if p.exists() {
                return Err(CliError::Exists(p.clone()));
            }
        }
    }
    let now = time::OffsetDateTime::now_utc();
    let (ca, ca_key, ca_created) = match (ca_path.exists(), ca_key_path.exists()) {
        (false, false) => {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let cert = ca_params(CA_NAME, now, Some(days_from(now, CA_DAYS)))?.self_signed(&key)?;
            write(&ca_key_path, key.serialize_pem().as_bytes(), 0o600)?;
            write(&ca_path, cert.pem().as_bytes(), 0o644)?;
            (cert, key, true)
        }
        (true, true) => {
            let (cert, key) = existing_ca(&ca_path, &ca_key_path, now)?;
            (cert, key, false)
        }
        (true, false) => {
            return Err(CliError::Ca {
                path: ca_key_path,
                message: format!(
                    "is missing, so {} cannot sign: restore it, or give another --dir for a new CA (and point tls.client_ca at it)",
                    ca_path.display()
                ),
            });
        }
        (false, true) => {
            return Err(CliError::Ca {
                path: ca_path,
                message: format!(
                    "is missing beside {}: restore it, or give another --dir for a new CA",
                    ca_key_path.display()
                ),
            });
        }
    };
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    // A little slack for a client whose clock is behind.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = days_from(now, days);
    let cert = params.signed_by(&key, &ca, &ca_key)?;
    check_chains(&ca_path, cert.der())?;
    // Again, now that the CA's files exist for certain (made just now).
    ca_path_refused(name, &[&cert_path, &key_path], &[&ca_path, &ca_key_path])?;
    write(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok(ClientFiles {
        ca: ca_path,
        ca_created,
        cert: cert_path,
        key: key_path,
    })
}

/// The client names whose files would be the CA's: `ca` (`ca.pem`,
/// `ca-key.pem`) and `ca-key` (`ca-key.pem`), in any case (a file system
/// may not tell `CA.pem` from `ca.pem`).
pub const CA_NAMES: [&str; 2] = ["ca", "ca-key"];

/// Refuses a client NAME whose files would be the CA's by name
/// ([`CA_NAMES`]), whatever `--force` says.
pub fn ca_name_refused(name: &str) -> Result<(), CliError> {
    match CA_NAMES.iter().any(|ca| name.eq_ignore_ascii_case(ca)) {
        true => Err(CliError::CaName(name.to_owned())),
        false => Ok(()),
    }
}

/// Refuses a client NAME when one of its files (`out`) already is one of
/// the CA's files (`ca`) by path: the same directory entry's file, found
/// with `lstat` (what [`write`] would remove and replace), compared by
/// device and inode.
fn ca_path_refused(name: &str, out: &[&Path], ca: &[&Path]) -> Result<(), CliError> {
    use std::os::unix::fs::MetadataExt as _;
    let id = |p: &Path| {
        std::fs::symlink_metadata(p)
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    let ca: Vec<(u64, u64)> = ca.iter().filter_map(|p| id(p)).collect();
    match out.iter().any(|p| id(p).is_some_and(|i| ca.contains(&i))) {
        true => Err(CliError::CaName(name.to_owned())),
        false => Ok(()),
    }
}

fn days_from(now: time::OffsetDateTime, days: u32) -> time::OffsetDateTime {
    now + time::Duration::days(i64::from(days))
}

/// The CA's parameters: a CA for client certificates only, no
/// intermediates below it.
fn ca_params(
    cn: &str,
    now: time::OffsetDateTime,
    not_after: Option<time::OffsetDateTime>,
) -> Result<rcgen::CertificateParams, CliError> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    params.not_before = now - time::Duration::hours(1);
    if let Some(t) = not_after {
        params.not_after = t;
    }
    Ok(params)
}

/// The CA in `dir`, as a signer: its key from `ca-key.pem`, and its name
/// from `ca.pem` (rcgen signs with a certificate object; one made again
/// from the same name and key gives client certificates that chain to the
/// file, which [`check_chains`] proves).
fn existing_ca(
    ca_path: &Path,
    ca_key_path: &Path,
    now: time::OffsetDateTime,
) -> Result<(rcgen::Certificate, rcgen::KeyPair), CliError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| CliError::Write {
            path: p.to_owned(),
            source,
        })
    };
    let key = rcgen::KeyPair::from_pem(&read(ca_key_path)?).map_err(|e| CliError::Ca {
        path: ca_key_path.to_owned(),
        message: format!(
            "not a PEM private key ({e}): restore the CA's key, or give another --dir for a new CA"
        ),
    })?;
    let pem = read(ca_path)?;
    let not_a_ca = |why: &str| CliError::Ca {
        path: ca_path.to_owned(),
        message: format!(
            "{why}: restore the CA made by `webd cert client`, or give another --dir for a new CA"
        ),
    };
    use rustls::pki_types::pem::PemObject as _;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| not_a_ca("no PEM certificate found"))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&der)
        .map_err(|_| not_a_ca("not an X.509 certificate"))?;
    let cn = parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or_else(|| not_a_ca("its subject has no common name"))?
        .to_owned();
    let cert = ca_params(&cn, now, None)?.self_signed(&key)?;
    Ok((cert, key))
}

/// Whether `leaf` chains to the CA in `ca_path`, by webd's own verifier.
fn check_chains(
    ca_path: &Path,
    leaf: &rustls::pki_types::CertificateDer<'_>,
) -> Result<(), CliError> {
    let pem = std::fs::read(ca_path).map_err(|source| CliError::Write {
        path: ca_path.to_owned(),
        source,
    })?;
    let mode = crate::config::ClientAuth::Required(ca_path.to_owned());
    let mismatch = |why: String| CliError::Ca {
        path: ca_path.to_owned(),
        message: format!(
            "a certificate signed with {CA_KEY_FILE} does not verify against it ({why}): the CA file and its key do not belong together; restore them, or give another --dir for a new CA"
        ),
    };
    let verifier =
        crate::tls::client_verifier(&mode, ca_path, &pem).map_err(|e| mismatch(e.to_string()))?;
    verifier
        .verify_client_cert(leaf, &[], rustls::pki_types::UnixTime::now())
        .map(drop)
        .map_err(|e| mismatch(e.to_string()))
}

/// Creates `dir` as 0755 if missing. Not 0700: webd, after dropping root,
/// re-reads `ca.pem` in it on SIGHUP. The keys are protected by their own
/// mode (0600).
fn create_dir(dir: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::DirBuilderExt as _;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(source) => Err(CliError::Write {
            path: dir.to_owned(),
            source,
        }),
    }
}

/// `webd cert client NAME --dir DIR`: writes the files, prints the config
/// lines and how curl and Home Assistant use them.
pub fn run_client(dir: &Path, name: &str, days: u32, force: bool) -> Exit {
    match client(dir, name, days, force) {
        Ok(files) => {
            let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
            let (ca, cert, key) = (abs(&files.ca), abs(&files.cert), abs(&files.key));
            let (ca, cert, key) = (ca.display(), cert.display(), key.display());
            println!(
                "[tls]\nclient_ca = \"{ca}\"\nclient_cert = \"optional\"   # or \"required\": no certificate, no handshake\n\n\
                 # and in the [[tokens]] entry of `{name}`:\nrequire_client_cert = true"
            );
            if files.ca_created {
                eprintln!(
                    "webd: made a new client CA: {ca} (webd reads this) and its key {} (0600: keep it here, webd never needs it)",
                    abs(&files.ca.with_file_name(CA_KEY_FILE)).display()
                );
            }
            eprintln!(
                "webd: wrote a client certificate for `{name}` (valid {days} days): {cert}, key {key} (0600)\n\
                 webd: curl:  curl --cacert fullchain.pem --cert {cert} --key {key} -H 'Authorization: Bearer TOKEN' -X POST https://HOST:8443/hooks/off\n\
                 webd: Home Assistant: rest_command has no client-certificate option; copy both files to /config/tinsel/ and use\n\
                 \x20 shell_command:\n\
                 \x20   tree_off: curl -sf --cacert /config/tinsel/fullchain.pem --cert /config/tinsel/{name}.pem --key /config/tinsel/{name}-key.pem -H 'Authorization: Bearer TOKEN' -X POST https://HOST:8443/hooks/off\n\
                 webd: then reload webd (systemctl reload webd): the CA is re-read on SIGHUP"
            );
            Exit::Ok
        }
        Err(CliError::Exists(p)) => {
            eprintln!(
                "webd: {} already exists: pass --force to replace it",
                p.display()
            );
            Exit::Usage
        }
        Err(e @ (CliError::BadName(_) | CliError::CaName(_))) => {
            eprintln!("webd: {e}");
            Exit::Usage
        }
        Err(e @ CliError::Write { .. }) => {
            eprintln!("webd: {e}");
            Exit::Permission
        }
        Err(e @ CliError::Ca { .. }) => {
            eprintln!("webd: {e}");
            Exit::Config
        }
        Err(e) => {
            eprintln!("webd: {e}");
            Exit::Internal
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use rustls::pki_types::pem::PemObject as _;

    use super::*;

    #[test]
    fn self_signed_writes_a_usable_pair() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let (cert, key) = self_signed(dir.path(), &names, false, None).unwrap();
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let paths = crate::config::TlsPaths { cert, key };
        crate::tls::load(
            &paths,
            &crate::config::ClientAuth::Off,
            &crate::tls::Resumption::new().unwrap(),
        )
        .unwrap();
        assert!(matches!(
            self_signed(dir.path(), &names, false, None),
            Err(CliError::Exists(_))
        ));
        assert!(self_signed(dir.path(), &names, true, None).is_ok());
    }

    #[test]
    fn a_key_for_a_group_is_0640_and_that_groups() {
        let dir = tempfile::tempdir().unwrap();
        // The process's own group: chown to it needs no privilege.
        let gid = rustix::process::getegid().as_raw();
        let (_, key) = self_signed(dir.path(), &["localhost".into()], false, Some(gid)).unwrap();
        let meta = std::fs::metadata(&key).unwrap();
        assert_eq!(meta.mode() & 0o777, GROUP_KEY_MODE);
        assert_eq!(meta.gid(), gid);
    }

    #[test]
    fn client_makes_a_ca_once_and_certificates_that_chain_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let clients = dir.path().join("clients");
        let a = client(&clients, "home-assistant", 30, false).unwrap();
        assert!(a.ca_created);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&clients), 0o755);
        assert_eq!(mode(&a.key), 0o600);
        assert_eq!(mode(&clients.join(CA_KEY_FILE)), 0o600);
        let ca_before = std::fs::read(&a.ca).unwrap();
        // A second client is signed by the same CA, which stays as it was.
        let b = client(&clients, "phone", 30, false).unwrap();
        assert!(!b.ca_created);
        assert_eq!(std::fs::read(&b.ca).unwrap(), ca_before);
        for f in [&a, &b] {
            let der = rustls::pki_types::CertificateDer::from_pem_file(&f.cert).unwrap();
            check_chains(&f.ca, &der).unwrap();
            let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
            let cn = parsed.subject().iter_common_name().next().unwrap();
            assert!(["home-assistant", "phone"].contains(&cn.as_str().unwrap()));
        }
        assert!(matches!(
            client(&clients, "phone", 30, false),
            Err(CliError::Exists(_))
        ));
        assert!(matches!(
            client(&clients, "a/b", 30, false),
            Err(CliError::BadName(_))
        ));
        // A CA file that is not the key's is caught before anything is written.
        let other = dir.path().join("other");
        client(&other, "x", 30, false).unwrap();
        std::fs::copy(other.join(CA_FILE), clients.join(CA_FILE)).unwrap();
        let err = client(&clients, "mixed", 30, false).unwrap_err();
        assert!(matches!(err, CliError::Ca { .. }), "{err}");
        assert!(!clients.join("mixed.pem").exists());
    }

    #[test]
    fn no_client_name_or_force_writes_over_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let clients = dir.path().join("clients");
        client(&clients, "phone", 30, false).unwrap();
        let files = || [CA_FILE, CA_KEY_FILE].map(|f| std::fs::read(clients.join(f)).unwrap());
        let before = files();
        for name in ["ca", "ca-key", "CA", "Ca-Key"] {
            for force in [false, true] {
                let err = client(&clients, name, 30, force).unwrap_err();
                assert!(matches!(err, CliError::CaName(_)), "{name} {force}: {err}");
                let msg = err.to_string();
                assert!(msg.contains(&format!("`{name}`")), "{msg}");
                assert!(msg.contains("pick another name"), "{msg}");
                assert_eq!(files(), before, "{name}, force {force}");
            }
        }
        // Nor on first use, before the CA exists.
        let fresh = dir.path().join("fresh");
        assert!(matches!(
            client(&fresh, "ca", 30, true),
            Err(CliError::CaName(_))
        ));
        assert!(!fresh.join(CA_FILE).exists());
        // By path: a NAME file that is the CA's key (here a hard link; a
        // case-insensitive file system does the same to `CA-key.pem`).
        std::fs::hard_link(clients.join(CA_KEY_FILE), clients.join("linked.pem")).unwrap();
        let err = client(&clients, "linked", 30, true).unwrap_err();
        assert!(matches!(err, CliError::CaName(_)), "{err}");
        assert_eq!(files(), before);
        // An ordinary name with --force is still fine, and the CA stays.
        client(&clients, "phone", 30, true).unwrap();
        assert_eq!(files(), before);
    }
}
