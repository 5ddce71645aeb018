//! The config's error type, shared with webd and schedd: every message
//! names the file and, for a bad value, the key.

pub use tinsel_daemon::config::ConfigError;
