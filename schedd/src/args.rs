//! schedd's command line, parsed with `lexopt`: the daemon's flags
//! ([`tinsel_daemon::usage::parse_daemon`]) and the subcommands `next` and
//! `check`, each with its own `--help`. A bad command line is a [`Usage`]
//! naming the flag or value (exit 64).

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::{Arg, Parser, ValueExt as _};
use tinsel_daemon::usage::{self, Program, Step, Usage};

use crate::cli::MAX_COUNT;

/// What the command line asks for.
pub type Parsed = usage::Parsed<Command>;
/// The daemon's flags and the subcommand, if any.
pub type Cli = usage::Cli<Command>;

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `next`: the scheduled state now and the next fires.
    Next {
        config: PathBuf,
        count: usize,
        from: Option<String>,
    },
    /// `check`: which sandbox layers this kernel supports.
    Check,
}

/// The config file `next` reads when no `--config` is given.
pub const DEFAULT_CONFIG: &str = "/etc/tinsel/schedd.toml";
/// How many fires `next` prints when no `--count` is given.
pub const DEFAULT_COUNT: usize = 10;

const USAGE: &str = "schedd [OPTIONS] [COMMAND]";
const NEXT_USAGE: &str = "schedd next [OPTIONS]";
const CHECK_USAGE: &str = "schedd check";

const PROGRAM: Program = Program {
    name: "schedd",
    version: env!("CARGO_PKG_VERSION"),
    usage: USAGE,
    help: HELP,
};

/// Parses schedd's arguments (the first one is the program's name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, Usage> {
    usage::parse_daemon(args, PROGRAM, |name, p| match name {
        "next" => next(p),
        "check" => usage::bare(p, CHECK_USAGE, CHECK_HELP, Command::Check),
        other => Err(Usage::new(
            USAGE,
            format!("unknown command '{other}'; the commands are next and check"),
        )),
    })
}

/// `next`'s words.
fn next(p: &mut Parser) -> Result<Step<Command>, Usage> {
    let bad = Usage::lexopt(NEXT_USAGE);
    let (mut config, mut count, mut from) = (PathBuf::from(DEFAULT_CONFIG), DEFAULT_COUNT, None);
    while let Some(arg) = p.next().map_err(&bad)? {
        match arg {
            Arg::Long("config") => config = p.value().map_err(&bad)?.into(),
            Arg::Short('n') | Arg::Long("count") => {
                let v = p.value().map_err(&bad)?.string().map_err(&bad)?;
                count = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_COUNT).contains(n))
                    .ok_or_else(|| {
                        Usage::new(
                            NEXT_USAGE,
                            format!("invalid value '{v}' for '--count <N>': give 1 to {MAX_COUNT}"),
                        )
                    })?;
            }
            Arg::Long("from") => from = Some(p.value().map_err(&bad)?.string().map_err(&bad)?),
            Arg::Short('h') | Arg::Long("help") => return Ok(Step::Help(NEXT_HELP)),
            other => return Err(bad(other.unexpected())),
        }
    }
    Ok(Step::Run(Command::Next {
        config,
        count,
        from,
    }))
}

const HELP: &str = "\
schedd: the scheduler daemon of tinsel. Plays ledd's named animations (or
switches off) at times of day and at sunrise and sunset, as an unprivileged
user with no network, no capabilities, seccomp and Landlock.

Usage: schedd [OPTIONS] [COMMAND]

Commands:
  next   Print the scheduled state now and the next fires (time, entry,
         trigger, action), then exit. Changes nothing; needs no ledd
  check  Print which sandbox layers this kernel supports, then exit

Options:
      --config <FILE>        Run the daemon with this config file. Started as
                             root, schedd reads it, then drops to the config's
                             `user`/`group`.
      --check-config <FILE>  Check a config file, then exit (0 or 78): its
                             keys, entries, animations and parameters, time
                             zone, place, and that `user` and `group` exist.
      --example-config       Print a commented example config (every key) and
                             exit.
  -v, --verbose              Log debug detail too.
      --seccomp-log          Debugging only: log syscalls outside the seccomp
                             allowlist to the kernel audit log instead of
                             killing schedd. Every other layer stays. Needs
                             --config.
  -h, --help                 Print help (`schedd next --help` for next).
  -V, --version              Print the version.

Examples:
  schedd --example-config                     a commented config: holiday lights at sunset
  schedd --check-config /etc/tinsel/schedd.toml   check it (exit 0 or 78)
  schedd next --config /etc/tinsel/schedd.toml    what it does now and the next 10 fires
  schedd next --count 3 --from 2026-12-24T12:00:00+01:00
  schedd --config /etc/tinsel/schedd.toml     run (systemd: systemctl enable --now schedd)
  schedd check                                which sandbox layers this kernel has
  kill -HUP $(pidof schedd)                   re-read the config (systemctl reload schedd)

An entry fires at a time of day (\"07:30\") or at sunrise or sunset with an
offset (\"sunset+30m\"), on chosen weekdays and between two days of the year
(from = \"12-01\", until = \"01-06\" spans the new year). The tree does what
the entry that fired last says. schedd does nothing until the clock is
synchronised (/run/systemd/timesync/synchronized), since a Pi without a
real-time clock boots in the past; on a machine with one, set
require_synced_clock = false. When ledd restarts, schedd puts the scheduled
state back.

Exit codes:
  0   stopped cleanly, or the command or check passed
  64  bad command line
  70  internal error
  71  the sandbox could not be applied
  77  permission denied: the config file may not be read
  78  config error: the message names the file and the key

See docs/schedd.md (installed as /usr/share/doc/tinsel/schedd.md).
";

const NEXT_HELP: &str = "\
Print the scheduled state now and the next fires (time, entry, trigger,
action), then exit. Changes nothing; needs no ledd.

Usage: schedd next [OPTIONS]

Options:
      --config <FILE>  The config file [default: /etc/tinsel/schedd.toml]
  -n, --count <N>      How many fires to print (1 to 1000) [default: 10]
      --from <TIME>    Pretend it is this instant (RFC 3339, e.g.
                       2026-12-24T17:00:00+01:00) instead of now.
  -h, --help           Print help.
";

const CHECK_HELP: &str = "\
Print which sandbox layers this kernel supports, then exit.

Usage: schedd check
";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Parsed, Usage> {
        parse(usage::words("schedd", args))
    }

    fn command(args: &[&str]) -> Option<Command> {
        match parse_str(args) {
            Ok(Parsed::Run(cli)) => cli.command,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn next_with_its_defaults_and_values() {
        assert_eq!(
            command(&["next"]),
            Some(Command::Next {
                config: DEFAULT_CONFIG.into(),
                count: DEFAULT_COUNT,
                from: None,
            })
        );
        assert_eq!(
            command(&[
                "next",
                "--config",
                "s.toml",
                "-n",
                "3",
                "--from=2026-12-24T12:00:00+01:00"
            ]),
            Some(Command::Next {
                config: "s.toml".into(),
                count: 3,
                from: Some("2026-12-24T12:00:00+01:00".into()),
            })
        );
        assert_eq!(command(&["check"]), Some(Command::Check));
        assert_eq!(command(&[]), None);
    }

    #[test]
    fn helps_and_bad_command_lines() {
        let printed = |args: &[&str]| match parse_str(args) {
            Ok(Parsed::Print(t)) => t,
            other => panic!("{args:?}: {other:?}"),
        };
        assert!(printed(&["--help"]).contains("Exit codes:"));
        let next_help = printed(&["next", "--help"]);
        assert!(
            next_help.contains(&format!("(1 to {MAX_COUNT}) [default: {DEFAULT_COUNT}]"))
                && next_help.contains(&format!("[default: {DEFAULT_CONFIG}]")),
            "the help states the real range and defaults:\n{next_help}"
        );
        assert!(printed(&["check", "-h"]).contains("Usage: schedd check"));
        let refused = |args: &[&str]| match parse_str(args) {
            Err(e) => e.to_string(),
            Ok(p) => panic!("{args:?} parsed as {p:?}"),
        };
        for n in ["0", "1001", "many"] {
            let e = refused(&["next", "--count", n]);
            assert!(
                e.contains(&format!("'{n}'")) && e.contains("1 to 1000"),
                "{e}"
            );
        }
        assert!(refused(&["next", "--bogus"]).contains("try 'schedd next --help'"));
        assert!(refused(&["later"]).contains("unknown command 'later'"));
        assert!(refused(&["check", "x"]).contains("\"x\""));
    }
}
