//! The `mqttd` binary: a thin shell over [`mqttd::start::Mqttd`], started
//! in the daemon kit's fixed order (`tinsel_daemon::start`).

fn main() -> std::process::ExitCode {
    tinsel_daemon::start::main::<mqttd::start::Mqttd>()
}
