//! tinsel-sandbox: the confinement building blocks webd and ledd share
//! without depending on each other (and without putting I/O or `unsafe`
//! into `proto`).
//!
//! - [`seccomp`]: seccomp filters from a small rule API, compiled with
//!   `seccompiler` and installed, one code path on x86_64, aarch64 and
//!   32-bit ARM ([`arch`] has the per-architecture facts);
//! - [`caps`]: capability sets, the bounding set, ambient, no_new_privs;
//! - [`ids`]: resolving a user (with `nix`) and dropping to it irreversibly;
//! - [`process`]: thread count, closing inherited descriptors, `/proc/self/status`;
//! - [`landlock`]: the Landlock layer with a probe that tells "kernel lacks
//!   it" from "a filter blocked it";
//! - [`syscalls`]: allowlist groups the daemons compose;
//! - [`support`]: what the running kernel supports (`webd check`);
//! - `harness` (feature `harness`, enabled only by dev-dependencies): run a
//!   sandbox and one attack in a fresh process, for tests;
//! - [`mode`]: the seccomp mode, kill or `--seccomp-log`;
//! - [`confine`]: the seven steps every unprivileged daemon (webd, schedd,
//!   mqttd) applies, in order, to its [`confine::Plan`];
//! - [`exit`], [`log`], [`signals`], [`config_error`], [`probe`],
//!   [`usage`]: what the daemons' `main` needs besides the sandbox: the
//!   exit codes and the one-thread runtime, the log set-up,
//!   SIGTERM/SIGINT/SIGHUP, reading, parsing and validating a config file
//!   (and how a TOML error is shown), `--check-config`'s try of ledd's
//!   socket as the daemon's user, and how a bad command line is told.
//!
//! Every step is a small function; the daemons compose them in order
//! (webd, schedd, mqttd: [`confine::apply`], ledd: `ledd::harden::harden`).

pub mod arch;
pub mod caps;
pub mod config_error;
pub mod confine;
pub mod exit;
#[cfg(feature = "harness")]
pub mod harness;
pub mod ids;
pub mod landlock;
pub mod log;
pub mod mode;
pub mod probe;
pub mod process;
pub mod seccomp;
pub mod signals;
pub mod support;
pub mod syscalls;
pub mod usage;

/// Re-exported so tests and the daemons' syscall lists use the same `libc`.
pub use libc;
