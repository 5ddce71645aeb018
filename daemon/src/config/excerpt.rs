//! How a TOML parser error is shown in every tinsel config error: the
//! problem and its line and column first, then the offending line with a
//! caret under the spot.
//!
//! The text is bounded whatever the file holds: the parser quotes the
//! whole offending line and draws a caret line as wide, so one line of
//! 256 KiB would be half a MiB of journal. The line is cut to
//! [`EXCERPT_CHARS`] around the spot (with `…` where it was cut) and the
//! parser's message to [`MESSAGE_CHARS`] (it can quote a key of any
//! length). Control characters in the quoted line are shown as `�`, so a
//! config cannot write escape sequences to a terminal.

/// The most characters of the offending line shown, around the spot.
pub const EXCERPT_CHARS: usize = 200;

/// The most characters of the parser's message shown.
pub const MESSAGE_CHARS: usize = 300;

/// A TOML error as `what is wrong (line L, column C)` on the first line,
/// then the parser's excerpt: the offending line with a caret under the
/// spot. (Squashed onto one line, the caret would point at nothing.)
pub fn toml_error(e: &toml::de::Error) -> String {
    let shown = e.to_string();
    let mut lines = shown.lines();
    let at = lines
        .next()
        .and_then(|l| l.strip_prefix("TOML parse error at "))
        .map(|pos| format!(" ({})", cut(pos, 0, MESSAGE_CHARS)))
        .unwrap_or_default();
    let excerpt: Vec<(&str, &str)> = lines
        .map_while(|l| {
            l.split_once('|')
                .filter(|(gutter, _)| gutter.trim().chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    let message = cut(&e.message().trim().replace('\n', "; "), 0, MESSAGE_CHARS);
    if excerpt.is_empty() {
        return format!("{message}{at}");
    }
    // The parser writes `N | text`: the text after the bar starts with a
    // space, kept as it is; the rest is cut around the spot, where the
    // first caret line points (in characters).
    let spot = excerpt
        .iter()
        .map(|(_, text)| text.strip_prefix(' ').unwrap_or(text))
        .find_map(|text| is_caret_line(text).then(|| text.chars().position(|c| c == '^')))
        .flatten()
        .unwrap_or(0);
    // The window: `EXCERPT_CHARS` around the spot, within the longest line.
    let longest = excerpt
        .iter()
        .map(|(_, text)| text.chars().count().saturating_sub(1))
        .max()
        .unwrap_or(0);
    let start = spot
        .saturating_sub(EXCERPT_CHARS / 2)
        .min(longest.saturating_sub(EXCERPT_CHARS));
    let shown: Vec<String> = excerpt
        .iter()
        .map(|(gutter, text)| {
            let (lead, text) = match text.strip_prefix(' ') {
                Some(rest) => (" ", rest),
                None => ("", *text),
            };
            let text = if is_caret_line(text) {
                cut(text, start, EXCERPT_CHARS)
            } else {
                cut(&visible(text), start, EXCERPT_CHARS)
            };
            format!("{gutter}|{lead}{}", text.trim_end())
        })
        .collect();
    format!("{message}{at}\n{}", shown.join("\n"))
}

/// Whether an excerpt line is the caret line under the source.
fn is_caret_line(text: &str) -> bool {
    text.contains('^') && text.chars().all(|c| c == ' ' || c == '^')
}

/// `text` with control characters (tab aside) shown as `�`: one character
/// each, so the caret stays under the spot.
fn visible(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' => c,
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// At most `width` characters of `text` from character `start`, with `…`
/// where it was cut. A caret line cut at the same `start` as its source
/// line stays under the same character: both lose the same prefix and
/// both gain a one-character mark for it (`…`, or a space).
fn cut(text: &str, start: usize, width: usize) -> String {
    let len = text.chars().count();
    if len == 0 || (start == 0 && len <= width) {
        return text.to_owned();
    }
    let caret = is_caret_line(text);
    let mut out = String::with_capacity(width + 6);
    if start > 0 {
        out.push(if caret { ' ' } else { '…' });
    }
    out.extend(text.chars().skip(start).take(width));
    if start + width < len && !caret {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        toml_error(&toml::from_str::<toml::Table>(text).unwrap_err())
    }

    /// The source line and the caret line of an error's excerpt, as
    /// characters after the gutter.
    fn excerpt(msg: &str) -> (Vec<char>, Vec<char>) {
        let lines: Vec<&str> = msg.lines().collect();
        let source = lines
            .iter()
            .position(|l| l.split_once('|').is_some_and(|(g, _)| !g.trim().is_empty()))
            .unwrap_or_else(|| panic!("no source line in:\n{msg}"));
        let after = |l: &str| l.split_once('|').unwrap().1.chars().collect::<Vec<_>>();
        (after(lines[source]), after(lines[source + 1]))
    }

    #[test]
    fn the_first_line_says_where_and_a_caret_sits_under_the_spot() {
        let msg = error("a = 1\nb = = 2\n");
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

    #[test]
    fn a_long_line_is_cut_around_the_spot_and_the_caret_stays_under_it() {
        for (before, after) in [(100_000, 100_000), (10, 100_000), (100_000, 10), (10, 10)] {
            let text = format!(
                "a = \"{}\" = \"{}\"\n",
                "x".repeat(before),
                "y".repeat(after)
            );
            let msg = error(&text);
            assert!(msg.len() < 2 * (EXCERPT_CHARS + MESSAGE_CHARS) * 3, "{msg}");
            let (source, caret) = excerpt(&msg);
            assert!(source.len() <= EXCERPT_CHARS + 4, "{msg}");
            assert!(caret.len() <= EXCERPT_CHARS + 4, "{msg}");
            let at = caret.iter().position(|&c| c == '^').expect("a caret");
            assert_eq!(source[at], '=', "{before}/{after}:\n{msg}");
            assert_eq!(source[at - 1], ' ', "the second `=`:\n{msg}");
            assert_eq!(source[at + 1], ' ', "the second `=`:\n{msg}");
            assert_eq!(source[0], ' ', "{msg}");
            assert_eq!(source[1] == '…', before > 1_000, "{msg}");
            assert_eq!(source.last() == Some(&'…'), after > 1_000, "{msg}");
            assert!(
                msg.lines().all(|l| l.trim_end() != "  |…"),
                "the gutter's empty line stays empty:\n{msg}"
            );
        }
    }

    #[test]
    fn a_long_key_in_the_message_is_cut() {
        let key = "k".repeat(100_000);
        let msg = error(&format!("[t]\n{key} = 1\n[t]\n"));
        assert!(msg.len() < 2_000, "{} bytes", msg.len());
        let msg = error(&format!("{key}\n"));
        assert!(msg.len() < 2_000, "{} bytes", msg.len());
    }

    #[test]
    fn control_characters_in_the_line_are_not_echoed() {
        let msg = error("a = = \"\u{1b}[31m\"\n");
        assert!(!msg.contains('\u{1b}'), "{msg:?}");
        assert!(msg.contains('\u{fffd}'), "{msg:?}");
    }
}
