//! The daemons' command lines, parsed with `lexopt` (a few flags need no
//! more, and a daemon's code is resident memory: docs/benchmarks.md,
//! "Memory"): a bad command line said the same way by every daemon ([`Usage`]:
//! what is wrong, the usage line, where to learn more), the flags webd,
//! schedd and mqttd share before a subcommand ([`parse_daemon`]), and the `probe-ledd` child that `--check-config`
//! starts ([`probe_ledd`]).

use std::fmt;
use std::path::PathBuf;

use lexopt::{Arg, Parser, ValueExt as _};

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

/// A daemon, as its command line tells it.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// `webd`, `schedd`, `mqttd`.
    pub name: &'static str,
    /// `env!("CARGO_PKG_VERSION")` of the daemon.
    pub version: &'static str,
    /// Its usage line, e.g. `webd [OPTIONS] [COMMAND]`.
    pub usage: &'static str,
    /// Its `--help`.
    pub help: &'static str,
}

/// The flags webd, schedd and mqttd share, before any subcommand.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DaemonFlags {
    /// Run the daemon with this config file.
    pub config: Option<PathBuf>,
    /// Check this config file and exit.
    pub check_config: Option<PathBuf>,
    /// Print the commented example config and exit.
    pub example_config: bool,
    /// Log debug detail too.
    pub verbose: bool,
    /// Install the seccomp filter in log mode (debugging only).
    pub seccomp_log: bool,
}

impl DaemonFlags {
    /// The flags that cannot go together (`--config`, `--check-config`,
    /// `--example-config`) and the one that needs another (`--seccomp-log`
    /// needs `--config`).
    fn check(&self, usage: &'static str) -> Result<(), Usage> {
        let conflicting = [
            (
                self.config.is_some(),
                "--config",
                self.check_config.is_some(),
                "--check-config",
            ),
            (
                self.config.is_some(),
                "--config",
                self.example_config,
                "--example-config",
            ),
            (
                self.check_config.is_some(),
                "--check-config",
                self.example_config,
                "--example-config",
            ),
        ];
        for (a, a_name, b, b_name) in conflicting {
            if a && b {
                return Err(Usage::new(
                    usage,
                    format!("{a_name} cannot be used with {b_name}"),
                ));
            }
        }
        if self.seccomp_log && self.config.is_none() {
            return Err(Usage::new(
                usage,
                "--seccomp-log needs --config: it changes how the daemon's sandbox reacts",
            ));
        }
        Ok(())
    }
}

/// What a daemon's command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<C> {
    /// The daemon's flags, or a subcommand.
    Run(Cli<C>),
    /// `--help` or `--version`: the text to print on stdout.
    Print(String),
}

/// The daemon's flags and the subcommand, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct Cli<C> {
    pub flags: DaemonFlags,
    pub command: Option<C>,
}

/// What a subcommand's words ask for: to run it, or its help.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<C> {
    Run(C),
    Help(&'static str),
}

/// Parses a daemon's command line: the shared flags ([`DaemonFlags`]) up
/// to the first word that is not one, then the subcommand that word names,
/// read by `subcommand` from the words after it.
pub fn parse_daemon<C>(
    args: impl IntoIterator<Item = std::ffi::OsString>,
    program: Program,
    subcommand: impl FnOnce(&str, &mut Parser) -> Result<Step<C>, Usage>,
) -> Result<Parsed<C>, Usage> {
    let mut p = Parser::from_iter(args);
    let bad = Usage::lexopt(program.usage);
    let mut flags = DaemonFlags::default();
    let mut name = None;
    while let Some(arg) = p.next().map_err(&bad)? {
        match arg {
            Arg::Long("config") => flags.config = Some(p.value().map_err(&bad)?.into()),
            Arg::Long("check-config") => flags.check_config = Some(p.value().map_err(&bad)?.into()),
            Arg::Long("example-config") => flags.example_config = true,
            Arg::Long("seccomp-log") => flags.seccomp_log = true,
            Arg::Short('v') | Arg::Long("verbose") => flags.verbose = true,
            Arg::Short('h') | Arg::Long("help") => {
                return Ok(Parsed::Print(program.help.to_owned()));
            }
            Arg::Short('V') | Arg::Long("version") => {
                return Ok(Parsed::Print(format!(
                    "{} {}\n",
                    program.name, program.version
                )));
            }
            Arg::Value(v) => {
                name = Some(v.string().map_err(&bad)?);
                break;
            }
            other => return Err(bad(other.unexpected())),
        }
    }
    flags.check(program.usage)?;
    let Some(name) = name else {
        return Ok(Parsed::Run(Cli {
            flags,
            command: None,
        }));
    };
    // A subcommand is a one-shot command of its own: a daemon flag before
    // it would be silently ignored, so it is refused.
    if flags.config.is_some() || flags.check_config.is_some() || flags.example_config {
        return Err(Usage::new(
            program.usage,
            format!(
                "`{name}` takes no --config, --check-config or --example-config before it (a flag that `{name}` needs goes after it: `{} {name} --help`)",
                program.name
            ),
        ));
    }
    Ok(match subcommand(&name, &mut p)? {
        Step::Run(c) => Parsed::Run(Cli {
            flags,
            command: Some(c),
        }),
        Step::Help(text) => Parsed::Print(text.to_owned()),
    })
}

/// A subcommand that takes no words but `--help` (`check`).
pub fn bare<C>(
    p: &mut Parser,
    usage: &'static str,
    help: &'static str,
    command: C,
) -> Result<Step<C>, Usage> {
    let bad = Usage::lexopt(usage);
    match p.next().map_err(&bad)? {
        None => Ok(Step::Run(command)),
        Some(Arg::Short('h') | Arg::Long("help")) => Ok(Step::Help(help)),
        Some(other) => Err(bad(other.unexpected())),
    }
}

/// `probe-ledd --socket PATH [--user USER [--group GROUP]]`: the child
/// `--check-config` starts ([`crate::probe::run_child`]).
#[derive(Debug, PartialEq, Eq)]
pub struct ProbeArgs {
    pub socket: PathBuf,
    pub user: Option<String>,
    pub group: Option<String>,
}

/// Reads `probe-ledd`'s words; `usage` is e.g. `webd probe-ledd --socket
/// <PATH> [--user <USER> [--group <GROUP>]]`.
pub fn probe_ledd(p: &mut Parser, usage: &'static str) -> Result<ProbeArgs, Usage> {
    let bad = Usage::lexopt(usage);
    let (mut socket, mut user, mut group) = (None, None, None);
    while let Some(arg) = p.next().map_err(&bad)? {
        match arg {
            Arg::Long("socket") => socket = Some(PathBuf::from(p.value().map_err(&bad)?)),
            Arg::Long("user") => user = Some(p.value().map_err(&bad)?.string().map_err(&bad)?),
            Arg::Long("group") => group = Some(p.value().map_err(&bad)?.string().map_err(&bad)?),
            other => return Err(bad(other.unexpected())),
        }
    }
    let socket = socket.ok_or_else(|| Usage::new(usage, "--socket <PATH> is required"))?;
    if group.is_some() && user.is_none() {
        return Err(Usage::new(usage, "--group needs --user"));
    }
    Ok(ProbeArgs {
        socket,
        user,
        group,
    })
}

/// The words of a command line, program name first (for tests).
pub fn words(program: &str, args: &[&str]) -> Vec<std::ffi::OsString> {
    std::iter::once(program)
        .chain(args.iter().copied())
        .map(std::ffi::OsString::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: Program = Program {
        name: "d",
        version: "1.2.3",
        usage: "d [OPTIONS] [COMMAND]",
        help: "the help\n",
    };

    /// Parses `args`; a subcommand is its name and the word after it.
    fn top(args: &[&str]) -> Result<Parsed<(String, Option<String>)>, Usage> {
        parse_daemon(words("d", args), PROGRAM, |name, p| {
            let next = p.next().ok().flatten().map(|a| format!("{a:?}"));
            Ok(Step::Run((name.to_owned(), next)))
        })
    }

    #[test]
    fn daemon_flags_stop_at_the_subcommand() {
        let Ok(Parsed::Run(Cli { flags, command })) =
            top(&["--config=c.toml", "-v", "--seccomp-log"])
        else {
            panic!("flags");
        };
        assert_eq!(flags.config, Some("c.toml".into()));
        assert!(flags.verbose && flags.seccomp_log && command.is_none());
        let Ok(Parsed::Run(Cli { command, .. })) = top(&["-v", "next", "--count", "3"]) else {
            panic!("subcommand");
        };
        assert_eq!(
            command,
            Some(("next".to_owned(), Some("Long(\"count\")".to_owned()))),
            "the rest is the subcommand's"
        );
        assert_eq!(top(&["--help"]), Ok(Parsed::Print("the help\n".into())));
        assert_eq!(top(&["-V"]), Ok(Parsed::Print("d 1.2.3\n".into())));
    }

    #[test]
    fn daemon_flags_refuse_what_cannot_go_together() {
        let says = |args: &[&str], what: &str| match top(args) {
            Err(e) => assert!(e.to_string().contains(what), "{args:?}: {e}"),
            Ok(t) => panic!("{args:?} gave {t:?}"),
        };
        says(
            &["--config", "a", "--check-config", "b"],
            "--config cannot be used with --check-config",
        );
        says(
            &["--config", "a", "--example-config"],
            "--config cannot be used with --example-config",
        );
        says(
            &["--check-config", "a", "--example-config"],
            "--check-config cannot be used with --example-config",
        );
        says(&["--seccomp-log"], "--seccomp-log needs --config");
        for flag in [
            ["--config", "x"],
            ["--check-config", "x"],
            ["--example-config", "-v"],
        ] {
            says(
                &[flag[0], flag[1], "check"],
                "`check` takes no --config, --check-config or --example-config before it",
            );
        }
        says(&["--bogus"], "'--bogus'");
        says(&["--config"], "--config");
    }

    #[test]
    fn probe_ledd_needs_a_socket_and_a_user_for_a_group() {
        let usage = "d probe-ledd --socket <PATH>";
        let parse = |args: &[&str]| probe_ledd(&mut Parser::from_iter(words("d", args)), usage);
        assert_eq!(
            parse(&["--socket", "s", "--user", "u", "--group", "g"]),
            Ok(ProbeArgs {
                socket: "s".into(),
                user: Some("u".into()),
                group: Some("g".into()),
            })
        );
        assert!(
            parse(&["--user", "u"])
                .unwrap_err()
                .to_string()
                .contains("--socket <PATH> is required")
        );
        assert!(
            parse(&["--socket", "s", "--group", "g"])
                .unwrap_err()
                .to_string()
                .contains("--group needs --user")
        );
    }

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
