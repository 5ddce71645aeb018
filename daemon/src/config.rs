//! The config error of webd, schedd and mqttd ([`ConfigError`]: every
//! message names the file and, for a bad value, the key), and how a TOML
//! parser error is shown in every tinsel config error: the problem and its
//! line and column first, then the offending line with a caret under the
//! spot.

use std::path::{Path, PathBuf};

use tinsel_sandbox::ids::{IdError, Identity};

/// A config that could not be loaded. The message names the file and, for
/// a bad value, the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the config file: {source}; check the path and its permissions", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
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

/// Reads the config file at `path`; a failure is a [`ConfigError::Read`]
/// naming it.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
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

/// Resolves a config's `user` and `group` to the ids a daemon drops to
/// when started as root (`None` when `user` is unset). A name that does not
/// exist is a config error naming the key (so `--check-config` catches it,
/// not the sandbox step at start); `package_user` is the user the
/// package's sysusers file makes for this daemon, for the fix.
pub fn identity(
    path: &Path,
    user: Option<&str>,
    group: Option<&str>,
    package_user: &str,
) -> Result<Option<Identity>, ConfigError> {
    let Some(user) = user else {
        return Ok(None);
    };
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        key: key.to_owned(),
        message,
    };
    Identity::from_names(user, group).map(Some).map_err(|e| match e {
        IdError::NoSuchUser(name) => invalid(
            "user",
            format!("no user named `{name}` in /etc/passwd: create it (the package's sysusers file makes {package_user}) or name an existing one"),
        ),
        IdError::NoSuchGroup(name) => invalid(
            "group",
            format!("no group named `{name}` in /etc/group: create it (the package's sysusers file makes tinsel) or name an existing one"),
        ),
        other => invalid("user", other.to_string()),
    })
}

/// A TOML error as `what is wrong (line L, column C)` on the first line,
/// then the parser's excerpt: the offending line with a caret under the
/// spot. (Squashed onto one line, the caret would point at nothing.)
pub fn toml_error(e: &toml::de::Error) -> String {
    let shown = e.to_string();
    let mut lines = shown.lines();
    let at = lines
        .next()
        .and_then(|l| l.strip_prefix("TOML parse error at "))
        .map(|pos| format!(" ({pos})"))
        .unwrap_or_default();
    let excerpt: Vec<&str> = lines
        .take_while(|l| {
            l.split_once('|')
                .is_some_and(|(gutter, _)| gutter.trim().chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    let message = e.message().trim().replace('\n', "; ");
    if excerpt.is_empty() {
        format!("{message}{at}")
    } else {
        format!("{message}{at}\n{}", excerpt.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_says_where_and_a_caret_sits_under_the_spot() {
        let err = toml::from_str::<toml::Table>("a = 1\nb = = 2\n").unwrap_err();
        let msg = toml_error(&err);
        let lines: Vec<&str> = msg.lines().collect();
        assert!(lines[0].contains("(line 2, column 5)"), "{msg}");
        assert!(!lines[0].contains("TOML parse error"), "{msg}");
        let source = lines
            .iter()
            .position(|l| l.ends_with("| b = = 2"))
            .unwrap_or_else(|| panic!("no source line in:\n{msg}"));
        let caret = lines.get(source + 1).copied().unwrap_or_default();
        assert_eq!(
            caret.find('^'),
            lines[source].rfind("= 2"),
            "the caret must sit under the second `=`:\n{msg}"
        );
    }
}
