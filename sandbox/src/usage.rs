//! A bad command line, said the same way by every daemon: what is wrong,
//! the usage line of the command it was given to, and where to learn more.
//! The daemons parse their flags with `lexopt` (a few flags need no more,
//! and a daemon's code is resident memory: docs/benchmarks.md, "Memory").

use std::fmt;

/// A command line the daemon cannot run; exits 64 (`EX_USAGE`).
#[derive(Debug, PartialEq, Eq)]
pub struct Usage {
    /// What is wrong, naming the flag or value.
    pub message: String,
    /// The usage line of the (sub)command, e.g. `ledd [OPTIONS]`.
    pub usage: &'static str,
}

impl Usage {
    pub fn new(usage: &'static str, message: impl Into<String>) -> Usage {
        Usage {
            message: message.into(),
            usage,
        }
    }

    /// A `lexopt` error (an unknown flag, a missing value) for `usage`.
    pub fn lexopt(usage: &'static str) -> impl Fn(lexopt::Error) -> Usage {
        move |e| Usage::new(usage, e.to_string())
    }

    /// The command the usage line is for: the words before the first
    /// `[` or `<`.
    fn command(&self) -> &str {
        let end = [" [", " <"]
            .iter()
            .filter_map(|m| self.usage.find(m))
            .min()
            .unwrap_or(self.usage.len());
        &self.usage[..end]
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error: {}\n\nUsage: {}\n\nFor more information, try '{} --help'.",
            self.message,
            self.usage,
            self.command()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_problem_the_usage_and_the_help_of_that_command() {
        let u = Usage::new("webd token new [OPTIONS] <NAME>", "a NAME is required");
        assert_eq!(
            u.to_string(),
            "error: a NAME is required\n\nUsage: webd token new [OPTIONS] <NAME>\n\nFor more information, try 'webd token new --help'."
        );
        assert!(
            Usage::new("ledd", "x")
                .to_string()
                .ends_with("try 'ledd --help'.")
        );
    }
}
