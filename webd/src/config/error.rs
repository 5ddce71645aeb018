//! The config's error type. How a TOML parser error is shown (the problem
//! and its line and column first, then the offending line with a caret
//! under the spot) is [`tinsel_sandbox::config_error::toml_error`], written
//! once for both daemons.

use std::path::PathBuf;

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
        /// The key, dotted (`hooks.color.request_colors`).
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

/// How a TOML parser error is shown, as in every tinsel config error.
pub(super) use tinsel_sandbox::config_error::toml_error;

#[cfg(test)]
mod tests {
    use crate::config::tests::{MINIMAL, parse};

    #[test]
    fn toml_errors_keep_the_line_and_a_caret_under_the_spot() {
        let err = parse(&format!("{MINIMAL}listen_port = 3\n")).unwrap_err();
        let msg = err.to_string();
        let lines: Vec<&str> = msg.lines().collect();
        assert!(
            lines[0].starts_with("/etc/webd/webd.toml: unknown field `listen_port`"),
            "{msg}"
        );
        assert!(lines[0].contains("line 6, column 1"), "{msg}");
        let source = lines
            .iter()
            .position(|l| l.ends_with("| listen_port = 3"))
            .unwrap_or_else(|| panic!("no source line in:\n{msg}"));
        let caret = lines.get(source + 1).copied().unwrap_or_default();
        assert_eq!(
            caret.find('^'),
            lines[source].find("listen_port"),
            "the caret must sit under the key:\n{msg}"
        );
    }
}
