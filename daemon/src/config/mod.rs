//! A daemon's config file: reading it, parsing it and the errors that
//! name the file and, for a bad value, the key. ledd, webd, schedd and
//! mqttd read their config the same way:
//!
//! - `read.rs`: [`read`], the one reader: a regular file of at most
//!   [`MAX_BYTES`], owned by root (or by the user running the daemon) and
//!   not writable by group or others, checked on the open descriptor;
//! - `excerpt.rs`: [`toml_error`], a parser error as its line and column
//!   and the offending line with a caret under the spot, bounded whatever
//!   the file holds;
//! - `identity.rs`: [`identity`] and [`start_identity`], the `user` and
//!   `group` rule of the daemons that drop root (webd, schedd, mqttd);
//! - `common.rs`: [`Common`], the keys every client of ledd has
//!   (`ledd_socket`, `user`, `group`, `[sandbox] landlock`), validated once;
//! - this file: [`ConfigError`] (webd's, schedd's and mqttd's; ledd wraps
//!   the reader's), [`Validate`] and [`parse`].

mod common;
mod excerpt;
mod identity;
mod read;

pub use self::common::{Common, DEFAULT_LEDD_SOCKET, RawCommon, RawSandbox};
pub use self::excerpt::{EXCERPT_CHARS, MESSAGE_CHARS, toml_error};
pub use self::identity::{Account, identity, start_identity};
pub use self::read::{MAX_BYTES, read};

use std::path::{Path, PathBuf};

/// A config that could not be loaded. The message names the file and, for
/// a bad value, the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be opened or read.
    #[error("{}: cannot read the config file: {source}; check the path and its permissions", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The path names something other than a regular file.
    #[error("{}: the config file is {what}, not a regular file: name the config file itself", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is (`a directory`, `a FIFO`, `a device`, `a socket`).
        what: &'static str,
    },
    /// The file is larger than any config: the wrong file, or a mistake.
    #[error("{}: the config file is at least {size} bytes, over the {} KiB a config may be: is it the right file?", path.display(), MAX_BYTES / 1024)]
    TooLarge {
        /// The config file.
        path: PathBuf,
        /// Its size, or what was read of it.
        size: u64,
    },
    /// Someone other than root (or the user running the daemon) owns the
    /// file or may write it: whoever can edit it decides what the daemon
    /// does.
    #[error("{}: the config file is owned by uid {uid} with mode {mode:04o}: {}", path.display(), read::trusted_owner_and_fix(path, *uid, *euid))]
    Untrusted {
        /// The config file.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// Its permission bits.
        mode: u32,
        /// The user the daemon runs as.
        euid: u32,
    },
    /// The file is not valid TOML, or has an unknown key or a wrong type.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The TOML parser's message, which names the key and the line.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{}: `{key}`: {message}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The key, dotted (`hooks.color.request_colors`, `broker.port`,
        /// `entries[2].animation`).
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
}

impl ConfigError {
    /// The exit code a start that fails on this config ends with: 77 when
    /// the file may not be read (`EX_NOPERM`), 78 for everything else
    /// about it (`EX_CONFIG`).
    pub fn exit(&self) -> crate::exit::Exit {
        match self {
            ConfigError::Read { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                crate::exit::Exit::Permission
            }
            _ => crate::exit::Exit::Config,
        }
    }

    /// The key at fault, when the error is about one value.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// What every daemon's config validator shares: errors that name the file
/// and the key, paths relative to the config file, ranges. A validator
/// gives its file; the rest comes with the trait.
pub trait Validate {
    /// The config file being validated.
    fn file(&self) -> &Path;

    /// A [`ConfigError::Invalid`] naming the file and `key`.
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.file().to_owned(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// `p`, relative paths taken from the config file's directory.
    fn relative(&self, p: PathBuf) -> PathBuf {
        if p.is_absolute() {
            return p;
        }
        match self.file().parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(p),
            _ => p,
        }
    }

    /// `v` if within `min..=max`, else an error naming `key` and the range.
    fn range<T: PartialOrd + std::fmt::Display + Copy>(
        &self,
        key: &str,
        v: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError> {
        if v < min || v > max {
            return Err(self.err(key, format!("{v} is out of range: use {min} to {max}")));
        }
        Ok(v)
    }
}

/// Parses `text`, the config file at `path`, into its raw form; a failure
/// is a [`ConfigError::Parse`] naming the file, with [`toml_error`]'s
/// excerpt.
pub fn parse<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: toml_error(&e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest file the reader takes, all one invalid line: its error
    /// names the file and the spot in well under a KiB.
    #[test]
    fn the_largest_readable_single_line_file_gives_a_short_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one-line.toml");
        let mut text = "a = \"".to_owned();
        text.push_str(&"x".repeat(MAX_BYTES as usize / 2));
        text.push_str("\" = ");
        text.push_str(&"y".repeat(MAX_BYTES as usize - text.len()));
        std::fs::write(&path, &text).unwrap();
        let text = read(&path).unwrap();
        let err = parse::<toml::Table>(&text, &path).unwrap_err().to_string();
        assert!(err.len() < 1024, "{} bytes:\n{err}", err.len());
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("line 1, column"), "{err}");
        assert!(err.contains('^'), "{err}");
    }
}
