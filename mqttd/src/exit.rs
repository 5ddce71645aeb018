//! mqttd's exit codes: the daemons' shared [`tinsel_daemon::exit::Exit`].
pub use tinsel_daemon::exit::Exit;
