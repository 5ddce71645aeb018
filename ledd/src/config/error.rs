//! The config's error type and [`Origin`] (which file, for messages). A
//! TOML parser error is shown as every daemon shows it
//! ([`tinsel_daemon::config::toml_error`]): the problem and its line and
//! column first, then the offending line with a caret under the spot.

use std::fmt;
use std::path::PathBuf;

/// A configuration that could not be read or was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read, or is not one ledd trusts: not a
    /// regular file, over the size cap, or owned or writable by someone
    /// else ([`tinsel_daemon::config::read`], the reader of every daemon).
    #[error(transparent)]
    File(#[from] tinsel_daemon::config::ConfigError),
    /// The file is not valid TOML or has an unknown key or a wrong type.
    #[error("{origin}: {message}")]
    Parse {
        /// The file.
        origin: Origin,
        /// The parser's message, which names the key and the line.
        message: String,
    },
    /// A value is out of range or names nothing.
    #[error("{origin}: `{key}` = {value} is refused: {reason}")]
    Invalid {
        /// Where the value came from.
        origin: Origin,
        /// The key, dotted (`strip.count`).
        key: &'static str,
        /// The value as given.
        value: String,
        /// Why, and what to use instead.
        reason: String,
    },
}

/// Where a configuration came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file.
    File(PathBuf),
    /// No file: the built-in defaults and the command line.
    Defaults,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "config file {}", p.display()),
            Origin::Defaults => f.write_str("command line"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::load_text;

    #[test]
    fn toml_errors_keep_the_line_and_a_caret_under_the_spot() {
        let msg = load_text("[strip]\ncount = \"many\"\n")
            .unwrap_err()
            .to_string();
        let lines: Vec<&str> = msg.lines().collect();
        assert!(
            lines[0].starts_with("config file /etc/test.toml: "),
            "{msg}"
        );
        assert!(lines[0].contains("line 2, column 9"), "{msg}");
        let source = lines
            .iter()
            .position(|l| l.ends_with("| count = \"many\""))
            .unwrap_or_else(|| panic!("no source line in:\n{msg}"));
        let caret = lines.get(source + 1).copied().unwrap_or_default();
        assert_eq!(
            caret.find('^'),
            lines[source].find("\"many"),
            "the caret must sit under the value:\n{msg}"
        );
    }
}
