//! ledd: the root daemon that owns the LED strip.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod harden;
