//! tinsel-sandbox: confinement, and only confinement: the building blocks
//! every tinsel daemon's sandbox is made of (ledd's hardening after
//! start-up, and the seven steps of webd, schedd and mqttd), and the
//! harness whose attacks prove each of them. What a daemon needs besides
//! (its command line, logs, exit codes, config reading) is the daemon kit,
//! `tinsel-daemon`.
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
//!   mqttd) applies, in order, to its [`confine::Plan`].
//!
//! Every step is a small function; the daemons compose them in order
//! (webd, schedd, mqttd: [`confine::apply`], ledd: `ledd::harden::harden`).

pub mod arch;
pub mod caps;
pub mod confine;
// Tests only: it forks, attacks and asserts by design.
#[cfg(feature = "harness")]
#[allow(unsafe_code, clippy::expect_used)]
pub mod harness;
pub mod ids;
// The ABI probe: `landlock_create_ruleset` with no attribute, no crate has it.
#[allow(unsafe_code)]
pub mod landlock;
pub mod mode;
// fcntl and close_range on inherited descriptors (nix has no close_range).
#[allow(unsafe_code)]
pub mod process;
pub mod seccomp;
// A close_range probe that closes nothing.
#[allow(unsafe_code)]
pub mod support;
pub mod syscalls;

/// Re-exported so tests and the daemons' syscall lists use the same `libc`.
pub use libc;
