//! schedd: the scheduler daemon of tinsel. It plays ledd's named
//! animations (or switches off) by time of day and by sunrise and sunset,
//! on chosen weekdays and between chosen days of the year, as an
//! unprivileged client holding ledd's `hooks` role, with no network.
//!
//! The crate is a library so that tests can drive every part; `main.rs` is
//! a thin shell. Modules:
//! - [`schedule`]: the pure core: when entries fire, the scheduled state at
//!   an instant, the next fires. Time is always passed in.
//! - [`sun`]: sunrise and sunset for a place and a date.
//! - [`config`]: the TOML file, validated into a [`schedule::Schedule`].
//! - [`clock`]: the "is the clock synchronised yet" gate.
//! - the connection to ledd is `tinsel_client::Link`, owned by [`daemon`]'s loop.
//! - [`daemon`]: the run loop that ties them together.
//! - [`cli`]: `schedd next` and `--check-config`.
//! - [`start`]: what the daemon kit runs, in its fixed order.
//! - [`sandbox`]: the confinement applied before the runtime starts.

pub mod args;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod sandbox;
pub mod schedule;
pub mod start;
pub mod sun;
