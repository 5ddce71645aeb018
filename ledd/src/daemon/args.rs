//! ledd's flags, parsed with `lexopt`: eight flags need no more, and
//! every byte of a daemon's code is resident memory (docs/benchmarks.md,
//! "Memory"). `ledctl`, a short-lived CLI with many subcommands, keeps clap.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::{Arg, Parser, ValueExt as _};
use tinsel_daemon::usage::Usage;

use crate::config::Overrides;

const HELP: &str = "\
ledd: the root daemon that owns the LED strip and plays named animations
for ledctl and webd over a Unix socket.

Usage: ledd [OPTIONS]

Options:
      --config <FILE>              The config file (TOML). Without it the
                                   built-in defaults apply.
      --check-config <FILE>        Check FILE (with any overriding flags) and
                                   exit: 0 if valid, 78 if not.
      --example-config             Print a fully commented config with every
                                   default, and exit.
      --socket <PATH>              The socket path (overrides `socket`).
      --backend <sim|ws281x|spi>   The LED backend (overrides `strip.backend`).
      --leds <N>                   The number of LEDs (overrides `strip.count`).
      --seccomp-log                Debugging only: install the seccomp filter
                                   in log mode, so a syscall outside the
                                   allowlist is written to the kernel audit log
                                   instead of killing ledd. Not a sandbox.
  -v, --verbose                    Log debug detail.
  -h, --help                       Print help.
  -V, --version                    Print the version.

Examples:
  ledd --example-config > /etc/tinsel/ledd.toml
  ledd --check-config /etc/tinsel/ledd.toml
  ledd --config /etc/tinsel/ledd.toml
  ledd --socket /tmp/ledd.sock --backend sim --leds 50    (then: ledctl --socket /tmp/ledd.sock watch)

Signals: SIGTERM/SIGINT blank the strip and exit 0; SIGHUP re-reads the config
(applied only if valid).

Once the strip is open ledd hardens itself: no capabilities, no_new_privs and a
seccomp allowlist (no socket(), execve, unlink...). A violation kills ledd with
SIGSYS; --seccomp-log logs it to the kernel audit log instead (debugging only).

Exit codes:
  0   stopped cleanly, or the config checked out
  64  bad command line
  69  the LED backend is not available (e.g. not built into this binary)
  70  internal error
  71  sandbox / hardening failed
  77  permission denied (e.g. the socket path)
  78  bad config file (the message names the key, the value and the file)
";

/// ledd's command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// The config file (TOML). Without it the built-in defaults apply.
    pub config: Option<PathBuf>,
    /// Check this file (with any overriding flags) and exit.
    pub check_config: Option<PathBuf>,
    /// Print a fully commented config with every default, and exit.
    pub example_config: bool,
    /// The socket path (overrides `socket`).
    pub socket: Option<PathBuf>,
    /// The LED backend (overrides `strip.backend`).
    pub backend: Option<String>,
    /// The number of LEDs (overrides `strip.count`).
    pub leds: Option<i64>,
    /// Install the seccomp filter in log mode (debugging only).
    pub seccomp_log: bool,
    /// Log debug detail.
    pub verbose: bool,
}

impl Args {
    /// The flags that override the config file's keys.
    pub(super) fn overrides(&self) -> Overrides {
        Overrides {
            socket: self.socket.clone(),
            backend: self.backend.clone(),
            leds: self.leds,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Args),
    /// `--help` or `--version`: the text to print on stdout.
    Print(String),
}

/// Parses ledd's arguments (the first one is the program's name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, Usage> {
    let mut a = Args::default();
    let mut p = Parser::from_iter(args);
    while let Some(arg) = p.next().map_err(usage)? {
        match arg {
            Arg::Long("config") => a.config = Some(p.value().map_err(usage)?.into()),
            Arg::Long("check-config") => a.check_config = Some(p.value().map_err(usage)?.into()),
            Arg::Long("example-config") => a.example_config = true,
            Arg::Long("socket") => a.socket = Some(p.value().map_err(usage)?.into()),
            Arg::Long("backend") => {
                a.backend = Some(p.value().map_err(usage)?.string().map_err(usage)?)
            }
            Arg::Long("leds") => {
                let v = p.value().map_err(usage)?.string().map_err(usage)?;
                a.leds = Some(v.parse().map_err(|e| {
                    Usage::new(USAGE, format!("invalid value '{v}' for '--leds <N>': {e}"))
                })?);
            }
            Arg::Long("seccomp-log") => a.seccomp_log = true,
            Arg::Short('v') | Arg::Long("verbose") => a.verbose = true,
            Arg::Short('h') | Arg::Long("help") => return Ok(Parsed::Print(HELP.to_owned())),
            Arg::Short('V') | Arg::Long("version") => {
                return Ok(Parsed::Print(format!(
                    "ledd {}\n",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            other => return Err(usage(other.unexpected())),
        }
    }
    if a.check_config.is_some() {
        for (given, flag) in [
            (a.config.is_some(), "--config"),
            (a.example_config, "--example-config"),
        ] {
            if given {
                return Err(Usage::new(
                    USAGE,
                    format!(
                        "--check-config cannot be used with {flag}: it checks the file it names"
                    ),
                ));
            }
        }
    }
    Ok(Parsed::Run(a))
}

const USAGE: &str = "ledd [OPTIONS]";

fn usage(e: lexopt::Error) -> Usage {
    Usage::new(USAGE, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Parsed, Usage> {
        parse(tinsel_daemon::usage::words("ledd", args))
    }

    #[test]
    fn flags_and_their_values() {
        let Ok(Parsed::Run(a)) = parse_str(&[
            "--config",
            "/etc/tinsel/ledd.toml",
            "--socket=/tmp/l.sock",
            "--backend",
            "sim",
            "--leds",
            "50",
            "-v",
            "--seccomp-log",
        ]) else {
            panic!("did not parse");
        };
        assert_eq!(
            a,
            Args {
                config: Some("/etc/tinsel/ledd.toml".into()),
                socket: Some("/tmp/l.sock".into()),
                backend: Some("sim".into()),
                leds: Some(50),
                verbose: true,
                seccomp_log: true,
                ..Args::default()
            }
        );
    }

    #[test]
    fn help_and_version_are_printed_not_run() {
        let Ok(Parsed::Print(help)) = parse_str(&["--config", "x", "--help"]) else {
            panic!("--help");
        };
        assert!(help.contains("Usage: ledd [OPTIONS]") && help.contains("Exit codes:"));
        let Ok(Parsed::Print(v)) = parse_str(&["-V"]) else {
            panic!("-V");
        };
        assert_eq!(v, format!("ledd {}\n", env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn bad_usage_names_what_is_wrong() {
        let err = |args: &[&str]| match parse_str(args) {
            Err(e) => e.to_string(),
            Ok(p) => panic!("{args:?} parsed as {p:?}"),
        };
        assert!(err(&["--no-such-flag"]).contains("--no-such-flag"));
        assert!(err(&["stray"]).contains("stray"));
        assert!(
            err(&["--config"]).contains("--config"),
            "a value is missing"
        );
        let leds = err(&["--leds", "many"]);
        assert!(
            leds.contains("'--leds <N>'") && leds.contains("many"),
            "{leds}"
        );
        let both = err(&["--check-config", "a", "--config", "b"]);
        assert!(
            both.contains("--check-config cannot be used with --config"),
            "{both}"
        );
        assert!(err(&["--example-config", "--check-config", "a"]).contains("--example-config"));
        assert!(
            err(&["--verbose=yes"]).contains("--verbose"),
            "a flag takes no value"
        );
    }
}
