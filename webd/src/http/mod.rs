//! HTTP: the shared state, the axum router ([`app`]) and, in [`server`],
//! the TLS connection loop that feeds it.
//!
//! - [`routes`]: the webhook handler and the order of its checks.
//! - [`gate`]: the checks every authenticated route runs first, and the
//!   [`gate::Route`] type that names a route in the logs.
//! - [`auth`]: tokens, signatures, replay rejection.
//! - [`body`]: the body's size bound and its fields, parsed.
//! - [`ban`]: per-client failure counting and bans, the global budget.
//! - [`client`]: who the client is (peer or trusted proxy's header), CIDRs.
//! - [`state`]: `GET /state`, what plays, for Home Assistant.
//! - [`page`]: the page (`[page]`): its document and assets, and what a
//!   paired device may call; [`pair`]: `POST /pair`, pairing a browser.
//! - [`limits`]: security headers, request timeout, log limits.
//! - [`error`]: the JSON errors.
//! - [`admission`]: which connections are kept when clients compete for
//!   the connection slots.

pub mod admission;
pub mod auth;
pub mod ban;
pub mod body;
pub mod client;
pub mod error;
pub mod gate;
pub mod limits;
pub mod page;
pub mod pair;
pub mod routes;
pub mod server;
pub mod state;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::config::Config;

/// What a SIGHUP replaces: the config and the TLS configuration built from
/// it. Connections hold the `Arc` they started with.
#[derive(Debug)]
pub struct Live {
    /// The validated config.
    pub config: Config,
    /// The rustls configuration for new connections.
    pub tls: Arc<rustls::ServerConfig>,
}

/// State that survives reloads: failure counts, bans, replay cache.
#[derive(Debug, Default)]
pub struct Guard {
    /// Failure counts and bans.
    pub bans: ban::BanTable,
    /// Recently seen signatures.
    pub replay: auth::ReplayCache,
    /// The rate limit on failure log lines.
    pub failure_log: tinsel_daemon::log::Gate,
    /// The `rate` limits of tokens and hooks.
    pub rates: crate::domain::access::RateTable,
}

/// The state every request sees. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    live: RwLock<Arc<Live>>,
    guard: Mutex<Guard>,
    ledd: tinsel_client::Handle,
}

impl AppState {
    /// State over `live` that talks to ledd through `ledd`.
    pub fn new(live: Live, ledd: tinsel_client::Handle) -> AppState {
        AppState(Arc::new(Inner {
            live: RwLock::new(Arc::new(live)),
            guard: Mutex::new(Guard::default()),
            ledd,
        }))
    }

    /// The current config and TLS configuration.
    pub fn live(&self) -> Arc<Live> {
        // A poisoned lock only means a panic elsewhere while swapping an
        // `Arc`; the value inside is whole either way.
        self.0
            .live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Swaps in a reloaded config; requests and connections already running
    /// keep the old one.
    pub fn replace(&self, live: Live) {
        *self.0.live.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(live);
    }

    /// The failure counters. Never held across an `.await`.
    pub fn guard(&self) -> MutexGuard<'_, Guard> {
        self.0.guard.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ledd connection.
    pub fn ledd(&self) -> &tinsel_client::Handle {
        &self.0.ledd
    }
}

/// The router. Tests drive it with `tower::ServiceExt::oneshot`, putting a
/// [`client::PeerAddr`] into each request's extensions as the connection
/// loop does.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/hooks/{name}",
            post(routes::hook).fallback(routes::method_not_allowed),
        )
        .route(
            "/state",
            get(state::state).fallback(routes::method_not_allowed),
        )
        .route("/", get(page::index).fallback(routes::method_not_allowed))
        .route(
            "/pair",
            get(page::index)
                .post(pair::redeem)
                .fallback(routes::method_not_allowed),
        )
        .route(
            "/page/state",
            get(page::state).fallback(routes::method_not_allowed),
        )
        .route(
            "/page/play",
            post(page::play).fallback(routes::method_not_allowed),
        )
        .route(
            "/page/off",
            post(page::off).fallback(routes::method_not_allowed),
        )
        .route(
            "/page/{asset}",
            get(page::asset).fallback(routes::method_not_allowed),
        )
        .route(
            "/healthz",
            get(routes::healthz).fallback(routes::method_not_allowed),
        )
        .fallback(routes::not_found)
        .layer(from_fn_with_state(state.clone(), limits::guard))
        .with_state(state)
}

#[cfg(test)]
mod failure_tests;
#[cfg(test)]
mod narrow_tests;
#[cfg(test)]
mod page_tests;
#[cfg(test)]
mod state_tests;
#[cfg(test)]
mod tests;
