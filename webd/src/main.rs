//! The `webd` binary: a thin shell over [`webd::start::Webd`], started in
//! the daemon kit's fixed order (`tinsel_daemon::start`).

fn main() -> std::process::ExitCode {
    tinsel_daemon::start::main::<webd::start::Webd>()
}
