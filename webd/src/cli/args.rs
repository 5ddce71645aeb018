//! webd's command line, parsed with `lexopt`: the daemon's flags and the
//! one-shot subcommands (`token new`, `cert self-signed`, `cert client`,
//! `check`, and the hidden `probe-ledd` child of `--check-config`). Each
//! (sub)command has its own `--help`; a bad command line is a
//! [`Usage`] naming the flag or value and the usage line (exit 64).

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::{Arg, Parser, ValueExt as _};
use tinsel_daemon::usage::{self, ProbeArgs, Program, Step, Usage};

use super::cert::DEFAULT_CLIENT_DAYS;

mod help;

/// What the command line asks for.
pub type Parsed = usage::Parsed<Command>;
/// The daemon's flags and the subcommand, if any.
pub type Cli = usage::Cli<Command>;

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Check,
    TokenNew {
        name: String,
        hooks: Vec<String>,
        signed: bool,
    },
    CertSelfSigned {
        out: PathBuf,
        names: Vec<String>,
        group: Option<String>,
        force: bool,
    },
    CertClient {
        name: String,
        dir: PathBuf,
        days: u32,
        force: bool,
    },
    ProbeLedd(ProbeArgs),
    /// `webd pair --name NAME`.
    Pair {
        config: PathBuf,
        name: String,
        url: Option<String>,
    },
    /// `webd devices`.
    Devices {
        config: PathBuf,
    },
    /// `webd revoke NAME`.
    Revoke {
        config: PathBuf,
        name: String,
    },
}

/// The config the page's commands read unless `--config` says.
pub const DEFAULT_CONFIG: &str = "/etc/tinsel/webd.toml";

/// `cert self-signed`'s names when no `--name` is given.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// The longest `cert client --days`.
pub const MAX_CLIENT_DAYS: u32 = 3650;

const USAGE: &str = "webd [OPTIONS] [COMMAND]";
const TOKEN_USAGE: &str = "webd token <COMMAND>";
const TOKEN_NEW_USAGE: &str = "webd token new [OPTIONS] <NAME>";
const CERT_USAGE: &str = "webd cert <COMMAND>";
const SELF_SIGNED_USAGE: &str = "webd cert self-signed [OPTIONS] --out <DIR>";
const CLIENT_USAGE: &str = "webd cert client [OPTIONS] --dir <DIR> <NAME>";
const CHECK_USAGE: &str = "webd check";
const PAIR_USAGE: &str = "webd pair [--config <FILE>] [--url <URL>] --name <NAME>";
const DEVICES_USAGE: &str = "webd devices [--config <FILE>]";
const REVOKE_USAGE: &str = "webd revoke [--config <FILE>] <NAME>";
const PROBE_USAGE: &str = "webd probe-ledd --socket <PATH> [--user <USER> [--group <GROUP>]]";

const PROGRAM: Program = Program {
    name: "webd",
    version: env!("CARGO_PKG_VERSION"),
    usage: USAGE,
    help: help::TOP,
};

/// Parses webd's arguments (the first one is the program's name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, Usage> {
    usage::parse_daemon(args, PROGRAM, |name, p| match name {
        "check" => usage::bare(p, CHECK_USAGE, help::CHECK, Command::Check),
        "token" => token(p),
        "cert" => cert(p),
        "pair" => page_command(p, PageCommand::Pair),
        "devices" => page_command(p, PageCommand::Devices),
        "revoke" => page_command(p, PageCommand::Revoke),
        "probe-ledd" => Ok(Step::Run(Command::ProbeLedd(usage::probe_ledd(
            p,
            PROBE_USAGE,
        )?))),
        other => Err(Usage::new(
            USAGE,
            format!(
                "unknown command '{other}'; the commands are check, token, cert, pair, devices and revoke"
            ),
        )),
    })
}

fn token(p: &mut Parser) -> Result<Step<Command>, Usage> {
    let bad = Usage::lexopt(TOKEN_USAGE);
    match p.next().map_err(&bad)? {
        Some(Arg::Value(v)) if v == "new" => token_new(p),
        Some(Arg::Short('h') | Arg::Long("help")) => Ok(Step::Help(help::TOKEN)),
        None => Err(Usage::new(TOKEN_USAGE, "a command is required: new")),
        Some(other) => Err(bad(other.unexpected())),
    }
}

fn token_new(p: &mut Parser) -> Result<Step<Command>, Usage> {
    let bad = Usage::lexopt(TOKEN_NEW_USAGE);
    let (mut name, mut hooks, mut signed) = (None, Vec::new(), false);
    while let Some(arg) = p.next().map_err(&bad)? {
        match arg {
            Arg::Long("hook") => hooks.push(p.value().map_err(&bad)?.string().map_err(&bad)?),
            Arg::Long("signed") => signed = true,
            Arg::Short('h') | Arg::Long("help") => return Ok(Step::Help(help::TOKEN_NEW)),
            Arg::Value(v) if name.is_none() => name = Some(v.string().map_err(&bad)?),
            other => return Err(bad(other.unexpected())),
        }
    }
    let name = name.ok_or_else(|| Usage::new(TOKEN_NEW_USAGE, "the token's NAME is required"))?;
    Ok(Step::Run(Command::TokenNew {
        name,
        hooks,
        signed,
    }))
}

#[derive(Clone, Copy)]
enum PageCommand {
    Pair,
    Devices,
    Revoke,
}

/// `pair`, `devices` and `revoke`: the page's commands, each reading the
/// config for `[page]`.
fn page_command(p: &mut Parser, which: PageCommand) -> Result<Step<Command>, Usage> {
    let (usage, help) = match which {
        PageCommand::Pair => (PAIR_USAGE, help::PAIR),
        PageCommand::Devices => (DEVICES_USAGE, help::DEVICES),
        PageCommand::Revoke => (REVOKE_USAGE, help::REVOKE),
    };
    let bad = Usage::lexopt(usage);
    let (mut config, mut name, mut url) = (PathBuf::from(DEFAULT_CONFIG), None, None);
    while let Some(arg) = p.next().map_err(&bad)? {
        match arg {
            Arg::Long("config") => config = PathBuf::from(p.value().map_err(&bad)?),
            Arg::Long("name") if matches!(which, PageCommand::Pair) => {
                name = Some(p.value().map_err(&bad)?.string().map_err(&bad)?);
            }
            Arg::Long("url") if matches!(which, PageCommand::Pair) => {
                url = Some(p.value().map_err(&bad)?.string().map_err(&bad)?);
            }
            Arg::Value(v) if matches!(which, PageCommand::Revoke) && name.is_none() => {
                name = Some(v.string().map_err(&bad)?);
            }
            Arg::Short('h') | Arg::Long("help") => return Ok(Step::Help(help)),
            other => return Err(bad(other.unexpected())),
        }
    }
    let command = match which {
        PageCommand::Pair => Command::Pair {
            config,
            name: name.ok_or_else(|| Usage::new(usage, "--name <NAME> is required"))?,
            url,
        },
        PageCommand::Devices => Command::Devices { config },
        PageCommand::Revoke => Command::Revoke {
            config,
            name: name.ok_or_else(|| Usage::new(usage, "the device's NAME is required"))?,
        },
    };
    Ok(Step::Run(command))
}

fn cert(p: &mut Parser) -> Result<Step<Command>, Usage> {
    let bad = Usage::lexopt(CERT_USAGE);
    match p.next().map_err(&bad)? {
        Some(Arg::Value(v)) if v == "self-signed" => self_signed(p),
        Some(Arg::Value(v)) if v == "client" => client(p),
        Some(Arg::Short('h') | Arg::Long("help")) => Ok(Step::Help(help::CERT)),
        None => Err(Usage::new(
            CERT_USAGE,
            "a command is required: self-signed or client",
        )),
        Some(other) => Err(bad(other.unexpected())),
    }
}

fn self_signed(p: &mut Parser) -> Result<Step<Command>, Usage> {
    let bad = Usage::lexopt(SELF_SIGNED_USAGE);
    let (mut out, mut names, mut group, mut force) = (None, Vec::new(), None, false);
    while let Some(arg) = p.next().map_err(&bad)? {
        match arg {
            Arg::Long("out") => out = Some(PathBuf::from(p.value().map_err(&bad)?)),
            Arg::Long("name") => names.push(p.value().map_err(&bad)?.string().map_err(&bad)?),
            Arg::Long("group") => group = Some(p.value().map_err(&bad)?.string().map_err(&bad)?),
            Arg::Long("force") => force = true,
            Arg::Short('h') | Arg::Long("help") => return Ok(Step::Help(help::SELF_SIGNED)),
            other => return Err(bad(other.unexpected())),
        }
    }
    let out = out.ok_or_else(|| Usage::new(SELF_SIGNED_USAGE, "--out <DIR> is required"))?;
    if names.is_empty() {
        names = DEFAULT_NAMES.iter().map(|n| (*n).to_owned()).collect();
    }
    Ok(Step::Run(Command::CertSelfSigned {
        out,
        names,
        group,
        force,
    }))
}

fn client(p: &mut Parser) -> Result<Step<Command>, Usage> {
    let bad = Usage::lexopt(CLIENT_USAGE);
    let (mut name, mut dir, mut days, mut force) = (None, None, DEFAULT_CLIENT_DAYS, false);
    while let Some(arg) = p.next().map_err(&bad)? {
        match arg {
            Arg::Long("dir") => dir = Some(PathBuf::from(p.value().map_err(&bad)?)),
            Arg::Long("days") => {
                let v = p.value().map_err(&bad)?.string().map_err(&bad)?;
                days = v
                    .parse()
                    .ok()
                    .filter(|d| (1..=MAX_CLIENT_DAYS).contains(d))
                    .ok_or_else(|| {
                        Usage::new(
                            CLIENT_USAGE,
                            format!("invalid value '{v}' for '--days <DAYS>': give 1 to {MAX_CLIENT_DAYS}"),
                        )
                    })?;
            }
            Arg::Long("force") => force = true,
            Arg::Short('h') | Arg::Long("help") => return Ok(Step::Help(help::CLIENT)),
            Arg::Value(v) if name.is_none() => name = Some(v.string().map_err(&bad)?),
            other => return Err(bad(other.unexpected())),
        }
    }
    let name = name.ok_or_else(|| Usage::new(CLIENT_USAGE, "the client's NAME is required"))?;
    let dir = dir.ok_or_else(|| Usage::new(CLIENT_USAGE, "--dir <DIR> is required"))?;
    Ok(Step::Run(Command::CertClient {
        name,
        dir,
        days,
        force,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Parsed, Usage> {
        parse(usage::words("webd", args))
    }

    fn run(args: &[&str]) -> Cli {
        match parse_str(args) {
            Ok(Parsed::Run(cli)) => cli,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn printed(args: &[&str]) -> String {
        match parse_str(args) {
            Ok(Parsed::Print(text)) => text,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn refused(args: &[&str]) -> String {
        match parse_str(args) {
            Err(e) => e.to_string(),
            Ok(p) => panic!("{args:?} parsed as {p:?}"),
        }
    }

    #[test]
    fn the_daemon_and_its_flags() {
        let cli = run(&["--config=/etc/tinsel/webd.toml", "-v", "--seccomp-log"]);
        assert_eq!(cli.flags.config, Some("/etc/tinsel/webd.toml".into()));
        assert!(cli.flags.verbose && cli.flags.seccomp_log && cli.command.is_none());
        assert_eq!(
            run(&["--check-config", "w.toml"]).flags.check_config,
            Some("w.toml".into())
        );
        assert!(run(&["--example-config"]).flags.example_config);
    }

    #[test]
    fn subcommands_with_their_defaults() {
        assert_eq!(
            run(&["token", "new", "ifttt", "--hook", "color", "--hook=off"]).command,
            Some(Command::TokenNew {
                name: "ifttt".into(),
                hooks: vec!["color".into(), "off".into()],
                signed: false,
            })
        );
        assert_eq!(
            run(&["cert", "self-signed", "--out", "tls"]).command,
            Some(Command::CertSelfSigned {
                out: "tls".into(),
                names: DEFAULT_NAMES.map(String::from).to_vec(),
                group: None,
                force: false,
            })
        );
        assert_eq!(
            run(&[
                "cert", "client", "phone", "--dir", "c", "--days", "30", "--force"
            ])
            .command,
            Some(Command::CertClient {
                name: "phone".into(),
                dir: "c".into(),
                days: 30,
                force: true,
            })
        );
        let Some(Command::CertClient { days, .. }) =
            run(&["cert", "client", "p", "--dir", "c"]).command
        else {
            panic!("cert client");
        };
        assert_eq!(days, DEFAULT_CLIENT_DAYS);
        assert_eq!(run(&["check"]).command, Some(Command::Check));
        assert_eq!(
            run(&["pair", "--name", "Anna's phone"]).command,
            Some(Command::Pair {
                config: DEFAULT_CONFIG.into(),
                name: "Anna's phone".into(),
                url: None,
            })
        );
        assert_eq!(
            run(&["revoke", "--config", "w.toml", "phone"]).command,
            Some(Command::Revoke {
                config: "w.toml".into(),
                name: "phone".into(),
            })
        );
        assert_eq!(
            run(&["devices"]).command,
            Some(Command::Devices {
                config: DEFAULT_CONFIG.into()
            })
        );
        assert_eq!(
            run(&["probe-ledd", "--socket", "s", "--user", "webd"]).command,
            Some(Command::ProbeLedd(ProbeArgs {
                socket: "s".into(),
                user: Some("webd".into()),
                group: None,
            }))
        );
    }

    #[test]
    fn each_command_has_its_own_help() {
        assert!(printed(&["--help"]).contains("Exit codes:"));
        assert!(printed(&["token", "new", "--help"]).contains("X-Tinsel-Signature"));
        assert!(printed(&["cert", "self-signed", "-h"]).contains("--group <GROUP>"));
        let client = printed(&["cert", "client", "--help"]);
        assert!(
            client.contains(&format!(
                "1 to\n                     {MAX_CLIENT_DAYS}; default {DEFAULT_CLIENT_DAYS})"
            )),
            "the help states the real range and default:\n{client}"
        );
        assert!(printed(&["token", "--help"]).contains("webd token new"));
        assert!(printed(&["cert", "--help"]).contains("self-signed"));
        assert!(printed(&["check", "--help"]).contains("Landlock"));
        assert_eq!(
            printed(&["-V"]),
            format!("webd {}\n", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn bad_command_lines_name_the_problem_and_the_usage() {
        let e = refused(&["--bogus"]);
        assert!(
            e.contains("'--bogus'") && e.contains("Usage: webd [OPTIONS] [COMMAND]"),
            "{e}"
        );
        let e = refused(&["token", "new"]);
        assert!(
            e.contains("NAME is required") && e.contains("try 'webd token new --help'"),
            "{e}"
        );
        assert!(refused(&["token", "new", "a", "b"]).contains("\"b\""));
        assert!(refused(&["token"]).contains("new"));
        assert!(refused(&["cert"]).contains("self-signed or client"));
        assert!(refused(&["cert", "self-signed"]).contains("--out <DIR> is required"));
        assert!(refused(&["cert", "client", "p"]).contains("--dir <DIR> is required"));
        for days in ["0", "3651", "ten"] {
            let e = refused(&["cert", "client", "p", "--dir", "c", "--days", days]);
            assert!(
                e.contains(&format!("'{days}'")) && e.contains("1 to 3650"),
                "{e}"
            );
        }
        assert!(refused(&["frobnicate"]).contains("unknown command 'frobnicate'"));
        assert!(
            refused(&["--config", "a", "--check-config", "b"])
                .contains("--config cannot be used with --check-config")
        );
        assert!(
            refused(&["--check-config", "a", "--example-config"])
                .contains("cannot be used with --example-config")
        );
        assert!(refused(&["--seccomp-log"]).contains("needs --config"));
        assert!(
            refused(&["probe-ledd", "--socket", "s", "--group", "g"])
                .contains("--group needs --user")
        );
        assert!(refused(&["check", "extra"]).contains("\"extra\""));
        assert!(refused(&["pair"]).contains("--name <NAME> is required"));
        assert!(refused(&["revoke"]).contains("NAME is required"));
        assert!(refused(&["devices", "--name", "x"]).contains("--name"));
    }
}
