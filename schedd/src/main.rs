//! The `schedd` binary: a thin shell over [`schedd::start::Schedd`],
//! started in the daemon kit's fixed order (`tinsel_daemon::start`).

fn main() -> std::process::ExitCode {
    tinsel_daemon::start::main::<schedd::start::Schedd>()
}
