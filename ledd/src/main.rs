//! The `ledd` binary: a thin shell over [`ledd::daemon`].

use std::process::ExitCode;

fn main() -> ExitCode {
    ledd::daemon::main(std::env::args_os()).into()
}
