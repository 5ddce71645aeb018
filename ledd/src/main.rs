//! The `ledd` binary: a thin shell over [`ledd::daemon`].
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

fn main() -> ExitCode {
    ledd::daemon::main(std::env::args_os()).into()
}
