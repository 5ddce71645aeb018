//! The one-shot commands: `webd token new NAME`, `webd cert self-signed
//! --out DIR`, `webd cert client NAME --dir DIR`, and `webd --check-config
//! FILE` (with the `webd probe-ledd` child it starts). They print or write
//! and exit; nothing here runs in the daemon. `main.rs` parses the command
//! line with [`args`] and calls the `run` function of the matching file:
//!
//! - [`token`]: `token new`, a random token and its `[[tokens]]` lines.
//! - [`cert`]: `cert self-signed`, a certificate and key for a first test;
//!   `cert client`, a client CA and a client certificate for mTLS.
//! - [`pair`]: `pair`, `devices`, `revoke`: the page's paired devices.
//! - [`check`]: `--check-config`: the certificate and key, whether webd's
//!   user can re-read its files on reload, and which role ledd gives it.

pub mod args;
pub mod cert;
pub mod check;
pub mod pair;
pub mod token;

use std::io;
use std::path::PathBuf;

pub use self::cert::{CERT_FILE, DEFAULT_KEY_GROUP, GROUP_KEY_MODE, KEY_FILE, self_signed};
pub use self::check::{Unreadable, unreadable_on_reload};
pub use self::token::{NewToken, TOKEN_BYTES, new_token};
use crate::domain::token::BadTokenName;

/// A one-shot command that failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A token name that breaks the token-name rule.
    #[error(transparent)]
    BadName(#[from] BadTokenName),
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
    /// A `webd cert client` NAME whose files would be the client CA's.
    #[error("client name `{0}`: its files would be the client CA's ({ca}, {key}), which `webd cert client` keeps whatever --force says; pick another name (e.g. `{0}-client`)", ca = cert::CA_FILE, key = cert::CA_KEY_FILE)]
    CaName(String),
    /// The client CA in a `webd cert client` directory cannot sign.
    #[error("{}: {message}", path.display())]
    Ca {
        /// The CA file or its key.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
}
