//! The `schedd` binary: a thin shell over [`schedd::start::Schedd`],
//! started in the daemon kit's fixed order (`tinsel_daemon::start`).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    tinsel_daemon::start::main::<schedd::start::Schedd>()
}
