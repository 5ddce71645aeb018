//! The types the config produces and the HTTP side consumes: tokens and
//! their scopes ([`token`]), what narrows a token and the rate state
//! ([`access`]: `state`, `allow_from`, `rate`, `expires`), networks and
//! addresses ([`net`]), hooks ([`hook`]), calendar days ([`date`]) and
//! what the page and its paired devices may do ([`page`]).
//!
//! Imports point down: [`crate::config`] builds these, [`crate::http`]
//! reads them, and nothing here imports either.

pub mod access;
pub mod date;
pub mod hook;
pub mod net;
pub mod page;
pub mod token;
