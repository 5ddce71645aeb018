//! mqttd's exit codes: the daemons' shared [`tinsel_sandbox::exit::Exit`].
pub use tinsel_sandbox::exit::Exit;
