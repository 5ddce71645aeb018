//! The devices directory (`[page] devices_dir`): the one place webd
//! writes. It holds two kinds of small JSON files, each written atomically
//! (a new `0600` file, `fsync`, then `rename` over the final name):
//!
//! - `pair-HASH`: a pairing code `webd pair` (root, on the Pi) made, stored
//!   as the SHA-256 of the code with the device's name and the code's
//!   expiry. webd redeems it by *removing* the file first: of two requests
//!   with one code, only the one whose `unlink` succeeds pairs, so a code is
//!   single-use even across a webd restart.
//! - `device-ID`: a paired device: its name, when it was paired, when it
//!   expires, when it was last used, and the SHA-256 of its secret. The
//!   browser holds `ID.SECRET` in an `HttpOnly` cookie; webd reads this one
//!   file per request, so `webd revoke` (which removes it) takes effect on
//!   the next request, with nothing cached.
//!
//! Why files and not a socket between `webd pair` and webd: webd may not
//! bind anything (its seccomp filter refuses `bind`), and a file the
//! admin writes into a directory only root and webd's user can enter needs
//! no new channel. webd's own writes are bounded: at most
//! `max_devices` device files of at most [`MAX_FILE_BYTES`] each, a pairing
//! file removed when redeemed, and `last_used` rewritten at most once per
//! [`TOUCH_PERIOD`].
//!
//! Passkeys (later) will add a `passkey` entry to a device file: the
//! credential id, public key and sign counter that a device registers.

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::domain::token::{parse_hex32, to_hex};

/// The largest file in the directory webd reads, in bytes.
pub const MAX_FILE_BYTES: u64 = 4096;

/// How often a device's `last_used` is rewritten at most, in seconds.
pub const TOUCH_PERIOD: u64 = 3600;

/// The random bytes of a pairing code: 144 bits, 24 base64url characters.
pub const CODE_BYTES: usize = 18;

/// The random bytes of a device's secret.
pub const SECRET_BYTES: usize = 32;

/// The random bytes of a device's id (its file name; not a secret).
pub const ID_BYTES: usize = 8;

/// The longest device name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// The device-name rule, as errors state it.
pub const NAME_RULE: &str =
    "a device name is 1 to 64 characters, no control characters, not only blanks";

const PAIR_PREFIX: &str = "pair-";
const DEVICE_PREFIX: &str = "device-";
const TMP_PREFIX: &str = ".tmp-";

/// What went wrong with the directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or the directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file that is not what webd wrote.
    #[error("{}: not a device or pairing file webd wrote ({reason}); remove it", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A device name that breaks the rule.
    #[error("`{}` is not a valid device name: {NAME_RULE}", .0.escape_debug())]
    BadName(String),
    /// The name is taken.
    #[error(
        "a device or pending pairing is named `{0}` already: pick another name, or `webd revoke {0}` first"
    )]
    NameTaken(String),
    /// `max_devices` reached.
    #[error(
        "{0} devices are paired already: revoke one with `webd revoke NAME`, or raise [page] max_devices"
    )]
    Full(u32),
    /// No randomness.
    #[error("cannot get random bytes from the kernel (getrandom)")]
    Random,
}

/// Why a pairing code was not redeemed.
#[derive(Debug, PartialEq, Eq)]
pub enum Redeem {
    /// Not a code, unknown, used or expired: all the same to the client,
    /// counted as a failed login.
    BadCode,
    /// `max_devices` reached.
    Full(u32),
    /// The directory failed; logged.
    Storage,
}

/// A paired device, as its file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// The name `webd pair --name` gave it.
    pub name: String,
    /// When it was paired (Unix seconds).
    pub created: u64,
    /// From when it is refused (Unix seconds).
    pub expires: u64,
    /// When it last made a request, to [`TOUCH_PERIOD`].
    pub last_used: Option<u64>,
    /// SHA-256 of its secret, hex.
    secret_sha256: String,
}

/// A pending pairing, as its file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pairing {
    name: String,
    expires: u64,
}

/// A device found by its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its id (the file name's tail).
    pub id: String,
    /// Its file's contents.
    pub device: Device,
}

/// Checks a device name against [`NAME_RULE`].
pub fn check_name(name: &str) -> Result<(), StoreError> {
    let chars = name.chars().count();
    if (1..=MAX_NAME_CHARS).contains(&chars)
        && !name.chars().any(char::is_control)
        && !name.trim().is_empty()
    {
        Ok(())
    } else {
        Err(StoreError::BadName(name.to_owned()))
    }
}

/// `N` random bytes from ring (rustls's provider), which asks the kernel
/// with the `getrandom` syscall directly. Not the `getrandom` crate's 0.3
/// API: in the static release build it finds no libc `getrandom` symbol and
/// falls back to opening /dev/urandom, which the sandboxed webd may not
/// (the packaged unit's container test caught it).
fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut b = [0u8; N];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut b)
        .map_err(|_| StoreError::Random)?;
    Ok(b)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The devices directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, path: &Path) -> impl Fn(io::Error) -> StoreError {
        let path = path.to_owned();
        move |source| StoreError::Io {
            path: path.clone(),
            source,
        }
    }

    /// Reads `path`, at most [`MAX_FILE_BYTES`]; `None` if it is gone.
    fn read<T: serde::de::DeserializeOwned>(&self, path: &Path) -> Result<Option<T>, StoreError> {
        // Never through a symlink: `webd devices` and `webd pair` read
        // this directory as root, and webd's user can write into it.
        let file = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(tinsel_sandbox::libc::O_NOFOLLOW)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(path)(e)),
        };
        let mut text = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(self.io(path))?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(StoreError::Corrupt {
                path: path.to_owned(),
                reason: format!("over {MAX_FILE_BYTES} bytes"),
            });
        }
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path: path.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Writes `value` to `name` atomically: a new `0600` file beside it,
    /// flushed, then renamed over it. Created `O_WRONLY|O_CREAT|O_EXCL`,
    /// the one writing `openat` webd's seccomp filter allows. As root (the
    /// admin's `webd pair`), the file is given to the directory's owner,
    /// the user webd runs as.
    fn write<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        let path = self.dir.join(name);
        let tmp = self
            .dir
            .join(format!("{TMP_PREFIX}{}", to_hex(&random::<8>()?)));
        let text = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            if rustix::process::geteuid().is_root() {
                let dir = fs::metadata(&self.dir)?;
                std::os::unix::fs::fchown(&f, Some(dir.uid()), Some(dir.gid()))?;
            }
            f.write_all(&text)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(self.io(&path))
    }

    /// Removes `path`: `Ok(false)` if it was gone already.
    fn remove(&self, path: &Path) -> Result<bool, StoreError> {
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io(path)(e)),
        }
    }

    /// The file names in the directory with `prefix`, sorted.
    fn names(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(self.io(&self.dir))? {
            let entry = entry.map_err(self.io(&self.dir))?;
            if let Some(name) = entry.file_name().to_str()
                && name.starts_with(prefix)
            {
                out.push(name.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// The paired devices, by id.
    pub fn devices(&self) -> Result<Vec<Found>, StoreError> {
        let mut out = Vec::new();
        for name in self.names(DEVICE_PREFIX)? {
            let id = name[DEVICE_PREFIX.len()..].to_owned();
            if let Some(device) = self.read(&self.dir.join(&name))? {
                out.push(Found { id, device });
            }
        }
        Ok(out)
    }

    /// The pending pairings' names and expiries, removing expired ones.
    fn pairings(&self, now: u64) -> Result<Vec<Pairing>, StoreError> {
        let mut out = Vec::new();
        for name in self.names(PAIR_PREFIX)? {
            let path = self.dir.join(&name);
            match self.read::<Pairing>(&path) {
                Ok(Some(p)) if p.expires > now => out.push(p),
                Ok(Some(_)) | Err(StoreError::Corrupt { .. }) => {
                    self.remove(&path)?;
                }
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// A new pairing code for a device named `name`, good until `expires`
    /// (the admin's side: `webd pair`). Refused when the name is taken or
    /// `max_devices` devices (paired or pending) exist.
    pub fn add_pairing(
        &self,
        name: &str,
        now: u64,
        expires: u64,
        max_devices: u32,
    ) -> Result<String, StoreError> {
        check_name(name)?;
        let devices = self.devices()?;
        let pending = self.pairings(now)?;
        if devices.iter().any(|d| d.device.name == name) || pending.iter().any(|p| p.name == name) {
            return Err(StoreError::NameTaken(name.to_owned()));
        }
        if devices.len() + pending.len() >= max_devices as usize {
            return Err(StoreError::Full(max_devices));
        }
        let code = b64(&random::<CODE_BYTES>()?);
        let file = format!("{PAIR_PREFIX}{}", to_hex(&sha256(code.as_bytes())));
        self.write(
            &file,
            &Pairing {
                name: name.to_owned(),
                expires,
            },
        )?;
        Ok(code)
    }

    /// Removes the device named `name` and any pending pairing for it.
    /// Returns how many files went.
    pub fn revoke(&self, name: &str) -> Result<usize, StoreError> {
        let mut removed = 0;
        for found in self.devices()? {
            if found.device.name == name
                && self.remove(&self.dir.join(format!("{DEVICE_PREFIX}{}", found.id)))?
            {
                removed += 1;
            }
        }
        for file in self.names(PAIR_PREFIX)? {
            let path = self.dir.join(&file);
            if let Ok(Some(p)) = self.read::<Pairing>(&path)
                && p.name == name
                && self.remove(&path)?
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Redeems `code` (webd's side: `POST /pair`): removes its file first
    /// (single use), then creates the device. Returns the device and the
    /// cookie value `ID.SECRET` that proves it.
    pub fn redeem(
        &self,
        code: &str,
        now: u64,
        lifetime_secs: u64,
        max_devices: u32,
    ) -> Result<(Found, String), Redeem> {
        let storage = |e: StoreError| {
            tracing::error!("pairing: {e}");
            Redeem::Storage
        };
        let well_formed = code.len() == b64(&[0; CODE_BYTES]).len()
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(Redeem::BadCode);
        }
        let path = self
            .dir
            .join(format!("{PAIR_PREFIX}{}", to_hex(&sha256(code.as_bytes()))));
        let pairing = match self.read::<Pairing>(&path) {
            Ok(Some(p)) => p,
            Ok(None) => return Err(Redeem::BadCode),
            Err(e) => return Err(storage(e)),
        };
        // Whoever removes the file owns the code; a second request with it
        // finds nothing.
        if !self.remove(&path).map_err(storage)? {
            return Err(Redeem::BadCode);
        }
        if pairing.expires <= now {
            return Err(Redeem::BadCode);
        }
        let devices = self.devices().map_err(storage)?;
        if devices.len() >= max_devices as usize {
            return Err(Redeem::Full(max_devices));
        }
        let id = to_hex(&random::<ID_BYTES>().map_err(storage)?);
        let secret = b64(&random::<SECRET_BYTES>().map_err(storage)?);
        let device = Device {
            name: pairing.name,
            created: now,
            expires: now.saturating_add(lifetime_secs),
            last_used: Some(now),
            secret_sha256: to_hex(&sha256(secret.as_bytes())),
        };
        self.write(&format!("{DEVICE_PREFIX}{id}"), &device)
            .map_err(storage)?;
        let cookie = format!("{id}.{secret}");
        Ok((Found { id, device }, cookie))
    }

    /// The device whose cookie value is `cookie`, if it is paired, its
    /// secret matches and it has not expired. `Err` only when the
    /// directory fails.
    pub fn authenticate(&self, cookie: &str, now: u64) -> Result<Option<Found>, StoreError> {
        let Some((id, secret)) = cookie.split_once('.') else {
            return Ok(None);
        };
        // The id becomes a file name: hex of the right length only.
        if id.len() != ID_BYTES * 2
            || !id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Ok(None);
        }
        let Some(device) = self.read::<Device>(&self.dir.join(format!("{DEVICE_PREFIX}{id}")))?
        else {
            return Ok(None);
        };
        let Some(want) = parse_hex32(&device.secret_sha256) else {
            return Ok(None);
        };
        let matches: bool = sha256(secret.as_bytes()).ct_eq(&want).into();
        if !matches || device.expires <= now {
            return Ok(None);
        }
        Ok(Some(Found {
            id: id.to_owned(),
            device,
        }))
    }

    /// Records that `found` was used at `now`, at most once per
    /// [`TOUCH_PERIOD`]. A device revoked meanwhile stays revoked: the
    /// file is rewritten only if it is still there.
    pub fn touch(&self, found: &Found, now: u64) -> Result<(), StoreError> {
        if found
            .device
            .last_used
            .is_some_and(|t| now < t.saturating_add(TOUCH_PERIOD))
        {
            return Ok(());
        }
        let name = format!("{DEVICE_PREFIX}{}", found.id);
        if !self.dir.join(&name).exists() {
            return Ok(());
        }
        let mut device = found.device.clone();
        device.last_used = Some(now);
        self.write(&name, &device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        (dir, store)
    }

    #[test]
    fn a_code_pairs_one_device_once() {
        let (_dir, s) = store();
        let code = s.add_pairing("Anna's phone", 100, 700, 32).unwrap();
        assert!(code.len() >= 22, "≥ 128 bits: {code}");
        let (found, cookie) = s.redeem(&code, 200, 365 * DAY, 32).unwrap();
        assert_eq!(found.device.name, "Anna's phone");
        // Used: the same code again is refused.
        assert_eq!(s.redeem(&code, 201, DAY, 32), Err(Redeem::BadCode));
        let again = s.authenticate(&cookie, 300).unwrap().unwrap();
        assert_eq!(again.id, found.id);
        // No secret is stored: only hashes.
        for entry in fs::read_dir(s.dir()).unwrap() {
            let text = fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!text.contains(&code) && !text.contains(cookie.split_once('.').unwrap().1));
        }
    }

    #[test]
    fn forged_and_expired_codes_are_refused() {
        let (_dir, s) = store();
        let code = s.add_pairing("phone", 100, 700, 32).unwrap();
        for forged in [
            "",
            "../../etc/passwd",
            "AAAAAAAAAAAAAAAAAAAAAAAA",
            &code[1..],
        ] {
            assert_eq!(
                s.redeem(forged, 200, DAY, 32),
                Err(Redeem::BadCode),
                "{forged}"
            );
        }
        assert_eq!(s.redeem(&code, 700, DAY, 32), Err(Redeem::BadCode));
        // Expired and refused: the file is gone too.
        assert_eq!(s.redeem(&code, 200, DAY, 32), Err(Redeem::BadCode));
        assert!(s.devices().unwrap().is_empty());
    }

    #[test]
    fn revoking_one_device_leaves_the_others() {
        let (_dir, s) = store();
        let a = s.add_pairing("a", 0, 600, 32).unwrap();
        let b = s.add_pairing("b", 0, 600, 32).unwrap();
        let (_, ca) = s.redeem(&a, 1, DAY, 32).unwrap();
        let (_, cb) = s.redeem(&b, 1, DAY, 32).unwrap();
        assert_eq!(s.revoke("a").unwrap(), 1);
        assert_eq!(s.authenticate(&ca, 2).unwrap(), None);
        assert!(s.authenticate(&cb, 2).unwrap().is_some());
        assert_eq!(s.revoke("a").unwrap(), 0);
    }

    #[test]
    fn cookies_that_do_not_match_are_refused() {
        let (_dir, s) = store();
        let code = s.add_pairing("a", 0, 600, 32).unwrap();
        let (found, cookie) = s.redeem(&code, 1, DAY, 32).unwrap();
        let id = &found.id;
        for bad in [
            "".to_owned(),
            "nodot".to_owned(),
            format!("{id}.wrong"),
            format!("../{id}.x"),
            format!("{}.x", id.to_uppercase()),
            format!("{id}/..{}", &cookie[id.len()..]),
        ] {
            assert_eq!(s.authenticate(&bad, 2).unwrap(), None, "{bad}");
        }
        // Expired after its lifetime.
        assert_eq!(s.authenticate(&cookie, 1 + DAY).unwrap(), None);
    }

    #[test]
    fn names_are_unique_and_devices_bounded() {
        let (_dir, s) = store();
        s.add_pairing("a", 0, 600, 2).unwrap();
        assert!(matches!(
            s.add_pairing("a", 0, 600, 2),
            Err(StoreError::NameTaken(_))
        ));
        s.add_pairing("b", 0, 600, 2).unwrap();
        assert!(matches!(
            s.add_pairing("c", 0, 600, 2),
            Err(StoreError::Full(2))
        ));
        // Expired pairings free their place.
        s.add_pairing("c", 600, 1200, 2).unwrap();
        for bad in ["", " ", "a\nb", "\u{1b}[2J", &"x".repeat(65)] {
            assert!(
                matches!(check_name(bad), Err(StoreError::BadName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn files_are_private_and_bounded() {
        use std::os::unix::fs::PermissionsExt as _;
        let (_dir, s) = store();
        s.add_pairing("a", 0, 600, 32).unwrap();
        for entry in fs::read_dir(s.dir()).unwrap() {
            let meta = entry.unwrap().metadata().unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        let big = s.dir().join(format!("{DEVICE_PREFIX}0000000000000000"));
        fs::write(&big, vec![b' '; MAX_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            s.authenticate("0000000000000000.x", 1),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_planted_symlink_is_not_followed() {
        let (dir, s) = store();
        let secret = dir.path().join("secret");
        fs::write(&secret, r#"{"name":"x","expires":99999999999}"#).unwrap();
        let link = dir.path().join(format!(
            "{PAIR_PREFIX}{}",
            to_hex(&sha256(b"AAAAAAAAAAAAAAAAAAAAAAAA"))
        ));
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        assert_eq!(
            s.redeem("AAAAAAAAAAAAAAAAAAAAAAAA", 1, DAY, 32),
            Err(Redeem::Storage)
        );
        std::os::unix::fs::symlink(
            &secret,
            dir.path().join(format!("{DEVICE_PREFIX}0000000000000000")),
        )
        .unwrap();
        assert!(s.devices().is_err());
        assert!(fs::read_to_string(&secret).unwrap().contains("expires"));
    }

    #[test]
    fn last_used_is_written_at_most_once_per_period() {
        let (_dir, s) = store();
        let code = s.add_pairing("a", 0, 600, 32).unwrap();
        let (found, cookie) = s.redeem(&code, 10, DAY, 32).unwrap();
        s.touch(&found, 20).unwrap();
        assert_eq!(
            s.authenticate(&cookie, 30)
                .unwrap()
                .unwrap()
                .device
                .last_used,
            Some(10)
        );
        s.touch(&found, 10 + TOUCH_PERIOD).unwrap();
        assert_eq!(
            s.authenticate(&cookie, 30)
                .unwrap()
                .unwrap()
                .device
                .last_used,
            Some(10 + TOUCH_PERIOD)
        );
        // A revoked device is not brought back by a late touch.
        s.revoke("a").unwrap();
        s.touch(&found, 20 * TOUCH_PERIOD).unwrap();
        assert!(s.devices().unwrap().is_empty());
    }
}
