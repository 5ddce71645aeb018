//! Build script of every crate that has tests needing root (ledd, webd,
//! tinsel-sandbox, tinsel-tests): sets `cfg(tinsel_unprivileged)` when the
//! tests are built by a user other than root.
//!
//! Those tests are one group, each named `as_root_*` and marked
//! `#[cfg_attr(tinsel_unprivileged, ignore = "needs root: why")]`, so that
//! `cargo test` and `cargo nextest run` built by an ordinary user list them
//! as ignored (skipped) with the reason, instead of failing or passing
//! silently. Built by root, nothing is ignored and they all run.
//!
//! `TINSEL_TESTS=unprivileged` (or `root`) decides instead of the building
//! user: CI builds, as root, an archive of the tests for an ordinary user
//! to run.

use std::io::BufRead;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tinsel_unprivileged)");
    println!("cargo::rerun-if-changed=../build/unprivileged.rs");
    println!("cargo::rerun-if-env-changed=TINSEL_TESTS");
    // Another user building in the same target directory has another
    // USER and HOME: build again for them.
    println!("cargo::rerun-if-env-changed=USER");
    println!("cargo::rerun-if-env-changed=HOME");
    let unprivileged = match std::env::var("TINSEL_TESTS").as_deref() {
        Ok("unprivileged") => true,
        Ok("root") => false,
        Ok(other) => panic!("TINSEL_TESTS={other:?}: use \"unprivileged\" or \"root\""),
        Err(_) => effective_uid() != Some(0),
    };
    if unprivileged {
        println!("cargo::rustc-cfg=tinsel_unprivileged");
    }
}

/// The effective uid, from the `Uid:` line of `/proc/self/status`
/// (real, effective, saved, filesystem).
fn effective_uid() -> Option<u32> {
    let status = std::fs::File::open("/proc/self/status").ok()?;
    std::io::BufReader::new(status)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("Uid:").map(str::to_owned))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
