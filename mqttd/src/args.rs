//! mqttd's command line, parsed with `lexopt`: the daemon's flags
//! ([`tinsel_daemon::usage::parse_daemon`]), `check`, and the hidden
//! `probe-ledd` child of `--check-config`. A bad command line is a
//! [`Usage`] naming the flag or value (exit 64).

use std::ffi::OsString;

use tinsel_daemon::usage::{self, ProbeArgs, Program, Step, Usage};

/// What the command line asks for.
pub type Parsed = usage::Parsed<Command>;
/// The daemon's flags and the subcommand, if any.
pub type Cli = usage::Cli<Command>;

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `check`: which sandbox layers this kernel supports.
    Check,
    /// `probe-ledd`: the child `--check-config` starts.
    ProbeLedd(ProbeArgs),
}

const USAGE: &str = "mqttd [OPTIONS] [COMMAND]";
const CHECK_USAGE: &str = "mqttd check";
const PROBE_USAGE: &str = "mqttd probe-ledd --socket <PATH> [--user <USER> [--group <GROUP>]]";

const PROGRAM: Program = Program {
    name: "mqttd",
    version: env!("CARGO_PKG_VERSION"),
    usage: USAGE,
    help: HELP,
};

/// Parses mqttd's arguments (the first one is the program's name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, Usage> {
    usage::parse_daemon(args, PROGRAM, |name, p| match name {
        "check" => usage::bare(p, CHECK_USAGE, CHECK_HELP, Command::Check),
        "probe-ledd" => Ok(Step::Run(Command::ProbeLedd(usage::probe_ledd(
            p,
            PROBE_USAGE,
        )?))),
        other => Err(Usage::new(
            USAGE,
            format!("unknown command '{other}'; the command is check"),
        )),
    })
}

const HELP: &str = "\
mqttd: the MQTT bridge of tinsel. Makes the tree a Home Assistant light
(MQTT discovery: on/off, effect, colour) and lets one message switch a house
of trees, from a sandbox: an unprivileged user, no capabilities, seccomp and
Landlock, outbound to the broker only.

Usage: mqttd [OPTIONS] [COMMAND]

Commands:
  check  Print which sandbox layers this kernel supports, then exit

Options:
      --config <FILE>        Run the daemon with this config file.
      --check-config <FILE>  Check a config file, then exit (0 or 78): its
                             keys, the password and CA files, the broker's
                             name, the user, and ledd's answer.
      --example-config       Print a commented example config (every key) and
                             exit.
  -v, --verbose              Log debug detail too (every command).
      --seccomp-log          Debugging only: log syscalls outside the seccomp
                             allowlist to the kernel audit log instead of
                             killing mqttd. Needs --config.
  -h, --help                 Print help.
  -V, --version              Print the version.

Examples:
  mqttd --example-config > /etc/tinsel/mqttd.toml   a commented config to edit
  mqttd --check-config /etc/tinsel/mqttd.toml       keys, files, broker name, ledd role
  mqttd --config /etc/tinsel/mqttd.toml             run (systemd: systemctl start mqttd)
  mqttd check                                       which sandbox layers this kernel has

Home Assistant finds the tree by itself (MQTT discovery): nothing to write
there. Try it from any machine with the broker:
  mosquitto_sub -v -t 'tinsel/#'                                   watch state and availability
  mosquitto_pub -t tinsel/tree/set -m '{\"state\":\"ON\",\"effect\":\"fire\"}'
  mosquitto_pub -t tinsel/tree/set -m '{\"color\":{\"r\":255,\"g\":0,\"b\":0}}'
  mosquitto_pub -t tinsel/all/set -m '{\"state\":\"OFF\"}'         every tree (group_topic)

The broker password is read from broker.password_file or the systemd
credential mqtt.password: never from the command line or the config itself.

Exit codes:
  0   stopped cleanly, or the check passed
  64  bad command line
  69  the broker's name does not resolve (yet): systemd tries again
  70  internal error
  71  the sandbox could not be applied
  77  permission denied on a file
  78  config error (or a file it names: CA, password): the message names
      the file and the key; systemd does not restart

See docs/mqtt.md (installed as /usr/share/doc/tinsel/mqtt.md).
";

const CHECK_HELP: &str = "\
Print which sandbox layers this kernel supports, then exit.

Usage: mqttd check
";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Parsed, Usage> {
        parse(usage::words("mqttd", args))
    }

    #[test]
    fn commands_helps_and_bad_command_lines() {
        let Ok(Parsed::Run(cli)) = parse_str(&["--config", "m.toml", "-v"]) else {
            panic!("the daemon");
        };
        assert_eq!(cli.flags.config, Some("m.toml".into()));
        assert!(cli.flags.verbose && cli.command.is_none());
        let Ok(Parsed::Run(cli)) = parse_str(&["check"]) else {
            panic!("check");
        };
        assert_eq!(cli.command, Some(Command::Check));
        let Ok(Parsed::Run(cli)) = parse_str(&["probe-ledd", "--socket", "s", "--user", "u"])
        else {
            panic!("probe-ledd");
        };
        assert!(
            matches!(cli.command, Some(Command::ProbeLedd(p)) if p.user.as_deref() == Some("u"))
        );
        let Ok(Parsed::Print(help)) = parse_str(&["--help"]) else {
            panic!("--help");
        };
        assert!(help.contains("mosquitto_pub") && help.contains("Exit codes:"));
        let Err(e) = parse_str(&["publish"]) else {
            panic!("an unknown command");
        };
        assert!(e.to_string().contains("unknown command 'publish'"), "{e}");
    }
}
