//! How a TOML parser error is shown in both daemons' config errors: the
//! problem and its line and column first, then the offending line with a
//! caret under the spot.

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
