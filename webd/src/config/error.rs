//! The config's error type, [`tinsel_daemon::config::ConfigError`],
//! shared with schedd and mqttd, as is how a TOML parser error is shown
//! (the problem and its line and column first, then the offending line
//! with a caret under the spot; `tinsel_daemon::config::parse`).

pub use tinsel_daemon::config::ConfigError;

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
