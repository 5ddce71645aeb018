//! webd's command line: a thin shell over the library. The daemon path is
//! three steps in a fixed order: prepare (files and listeners, one thread),
//! sandbox, run (runtime and serving).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use webd::exit::Exit;

/// The HTTPS webhook daemon of tinsel: turns authenticated webhooks into
/// named animations on ledd.
#[derive(Debug, Parser)]
#[command(name = "webd", version, max_term_width = 100)]
struct Cli {
    /// Run the daemon with this config file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check_config", "example_config"])]
    config: Option<PathBuf>,
    /// Check a config file (and the certificate and key it names), then exit.
    #[arg(long, value_name = "FILE", conflicts_with = "example_config")]
    check_config: Option<PathBuf>,
    /// Print a commented example config and exit.
    #[arg(long)]
    example_config: bool,
    /// Log debug detail too.
    #[arg(short, long)]
    verbose: bool,
    /// Debugging only: log syscalls outside the seccomp allowlist to the
    /// kernel audit log (`journalctl -k | grep type=1326`) instead of
    /// killing webd. Every other sandbox layer stays on.
    #[arg(long, requires = "config")]
    seccomp_log: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print which sandbox layers this kernel supports (Landlock ABI,
    /// seccomp, no_new_privs), then exit.
    Check,
    /// Tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Certificates.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print a new random token once, and the config lines that store only
    /// its SHA-256. The token goes to the first line of stdout.
    New {
        /// The token's name, for logs.
        name: String,
        /// A hook the token may call; repeat for more. Default: all.
        #[arg(long = "hook", value_name = "HOOK")]
        hooks: Vec<String>,
        /// Make an HMAC signing key instead: requests carry X-Tinsel-Signature.
        #[arg(long)]
        signed: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Write a self-signed ECDSA P-256 certificate and key (fullchain.pem,
    /// privkey.pem) into DIR.
    SelfSigned {
        /// The directory to write into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A DNS name or IP address for the certificate; repeat for more.
        #[arg(long = "name", value_name = "NAME", default_values = ["localhost", "127.0.0.1", "::1"])]
        names: Vec<String>,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors.
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    init_logging(cli.verbose);
    run(cli).into()
}

fn init_logging(verbose: bool) {
    use std::io::IsTerminal as _;
    let level = if verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run(cli: Cli) -> Exit {
    if let Some(command) = cli.command {
        if cli.config.is_some() || cli.check_config.is_some() || cli.example_config {
            eprintln!("webd: a subcommand takes no --config, --check-config or --example-config");
            return Exit::Usage;
        }
        return match command {
            Command::Check => {
                print!("{}", webd::sandbox::check());
                Exit::Ok
            }
            Command::Token {
                command:
                    TokenCommand::New {
                        name,
                        hooks,
                        signed,
                    },
            } => token_new(&name, &hooks, signed),
            Command::Cert {
                command: CertCommand::SelfSigned { out, names, force },
            } => cert_self_signed(&out, &names, force),
        };
    }
    if cli.example_config {
        print!("{}", webd::config::EXAMPLE);
        return Exit::Ok;
    }
    if let Some(path) = cli.check_config {
        return check_config(&path);
    }
    let Some(path) = cli.config else {
        eprintln!("webd: nothing to do: give --config FILE (or see --help)");
        return Exit::Usage;
    };
    daemon(&path, cli.seccomp_log)
}

fn daemon(path: &std::path::Path, seccomp_log: bool) -> Exit {
    // Read every file and obtain the listeners while single-threaded.
    let prepared = match webd::daemon::prepare(path) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return e.exit();
        }
    };

    // The sandbox, before any thread starts: a thread created earlier would
    // keep its capabilities and escape Landlock and seccomp.
    if let Err(exit) = sandbox(&prepared, seccomp_log) {
        return exit;
    }

    // Build the single-threaded runtime and serve.
    webd::daemon::run(prepared)
}

/// Builds the sandbox plan from the prepared state and applies it.
fn sandbox(prepared: &webd::daemon::Prepared, seccomp_log: bool) -> Result<(), Exit> {
    use std::os::fd::AsRawFd as _;
    let config = &prepared.config;
    let fail = |e: &dyn std::fmt::Display| {
        tracing::error!("sandbox: {e}");
        Exit::Sandbox
    };
    let user = match &config.user {
        Some(user) => Some(
            webd::sandbox::Identity::from_names(user, config.group.as_deref())
                .map_err(|e| fail(&e))?,
        ),
        None => None,
    };
    let plan = webd::sandbox::Plan {
        keep_fds: prepared.listeners.iter().map(|l| l.as_raw_fd()).collect(),
        user,
        read_only_paths: webd::sandbox::reload_paths(
            &config.path,
            &config.tls.cert,
            &config.tls.key,
        ),
        ledd_socket: config.ledd_socket.clone(),
        landlock: config.landlock,
        seccomp: if seccomp_log {
            webd::sandbox::SeccompMode::Log
        } else {
            webd::sandbox::SeccompMode::Kill
        },
    };
    webd::sandbox::apply(&plan).map(drop).map_err(|e| fail(&e))
}

fn check_config(path: &std::path::Path) -> Exit {
    let config = match webd::config::Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("webd: {e}");
            return webd::daemon::StartError::from(e).exit();
        }
    };
    let resumption = match webd::tls::Resumption::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("webd: {e}");
            return Exit::Internal;
        }
    };
    if let Err(e) = webd::tls::load(&config.tls, &resumption) {
        eprintln!("webd: {e}");
        return webd::daemon::StartError::from(e).exit();
    }
    println!(
        "{}: OK ({} token(s), {} hook(s); certificate {})",
        path.display(),
        config.tokens.len(),
        config.hooks.len(),
        config.tls.cert.display()
    );
    Exit::Ok
}

fn token_new(name: &str, hooks: &[String], signed: bool) -> Exit {
    match webd::cli::new_token(name, hooks, signed) {
        Ok(t) => {
            // The secret alone on stdout's first line, so scripts can take it.
            println!("{}\n\n{}", t.secret, t.config);
            if signed {
                eprintln!(
                    "webd: the first line is the signing key for \"{name}\"; the config must hold it too, so keep the config readable by root only"
                );
            } else {
                eprintln!(
                    "webd: the first line is the token for \"{name}\", shown only now; add the [[tokens]] lines to the config (they hold only its SHA-256) and send SIGHUP"
                );
            }
            Exit::Ok
        }
        Err(e) => {
            eprintln!("webd: {e}");
            Exit::Usage
        }
    }
}

fn cert_self_signed(out: &std::path::Path, names: &[String], force: bool) -> Exit {
    match webd::cli::self_signed(out, names, force) {
        Ok((cert, key)) => {
            println!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"",
                cert.display(),
                key.display()
            );
            eprintln!(
                "webd: wrote a self-signed ECDSA P-256 certificate for {}; clients need it as their CA (curl --cacert {})",
                names.join(", "),
                cert.display()
            );
            Exit::Ok
        }
        Err(webd::cli::CliError::Exists(p)) => {
            eprintln!(
                "webd: {} already exists: pass --force to replace it",
                p.display()
            );
            Exit::Usage
        }
        Err(e @ webd::cli::CliError::Write { .. }) => {
            eprintln!("webd: {e}");
            Exit::Permission
        }
        Err(e) => {
            eprintln!("webd: {e}");
            Exit::Internal
        }
    }
}
