//! fail2ban semantics, built in: failures are counted per client, too many
//! within a window ban the client for a while, and a global budget caps
//! failures from everyone together (a botnet gets no more guesses than one
//! client).
//!
//! A ban is checked before anything else; the global budget only once a
//! request has failed to authenticate. So a spent budget refuses every
//! failed attempt but never a valid token: tokens are 256-bit, the budget
//! is there to slow guessers, not to let them lock the owner out.
//!
//! Time is a parameter of every method, so tests drive a fake clock. IPv6
//! clients are counted per /64: one home connection owns a whole /64, and
//! counting single addresses would let one attacker rotate through 2^64 of
//! them. A client a trusted proxy did not identify is counted under a key
//! of its own per proxy, never under the proxy's address.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::client::Client;
use crate::config::BanPolicy;

/// Clients tracked at most. Past this, new clients are not counted (the
/// global budget still applies to them), so memory stays bounded whatever
/// the number of addresses an attacker has.
pub const MAX_TRACKED: usize = 10_000;

/// What to do with a request from a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on.
    Allowed,
    /// The client is banned for `retry_after` more.
    Banned {
        /// Time left.
        retry_after: Duration,
    },
}

/// What a recorded failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Counted: this many failures within the window now.
    Counted(u32),
    /// This failure got the client banned.
    Banned,
    /// The client was not counted: the table is full.
    Untracked,
}

#[derive(Debug, Default)]
struct Counts {
    /// Times of recent failures, oldest first, at most `max_failures`.
    failures: VecDeque<Instant>,
    banned_until: Option<Instant>,
}

/// Per-client failure counts and bans, and the global failure budget.
#[derive(Debug)]
pub struct BanTable {
    clients: HashMap<BanKey, Counts>,
    /// Global failure budget, a token bucket refilled at
    /// `global_failures_per_minute` per minute.
    budget: f64,
    budget_at: Option<Instant>,
}

impl Default for BanTable {
    fn default() -> Self {
        Self::new()
    }
}

/// What a client is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BanKey {
    /// An IPv4 address, or an IPv6 /64.
    Net(IpAddr),
    /// The clients a trusted proxy sent without saying who they are.
    Unidentified {
        /// The proxy.
        via: IpAddr,
    },
}

/// The key a client is counted under: the address, or its /64 for IPv6;
/// for an unidentified client, its proxy's key of its own.
pub fn ban_key(client: Client) -> BanKey {
    match client {
        Client::Addr(ip) => BanKey::Net(net_key(ip)),
        Client::Unidentified { via } => BanKey::Unidentified { via },
    }
}

/// The network one client owns: an IPv4 address, or the /64 of an IPv6
/// one (IPv4-mapped addresses are the IPv4 client).
pub fn net_key(ip: IpAddr) -> IpAddr {
    match crate::domain::net::canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

impl BanTable {
    /// An empty table.
    pub fn new() -> BanTable {
        BanTable {
            clients: HashMap::new(),
            budget: 0.0,
            budget_at: None,
        }
    }

    /// Whether a request from `client` may proceed: refused only while
    /// the client is banned. Checked before anything else, valid token or
    /// not.
    pub fn check(&self, client: Client, now: Instant) -> Verdict {
        match self
            .clients
            .get(&ban_key(client))
            .and_then(|c| c.banned_until)
            .filter(|until| *until > now)
        {
            Some(until) => Verdict::Banned {
                retry_after: until - now,
            },
            None => Verdict::Allowed,
        }
    }

    /// Whether everyone together has spent the failure budget: if so, the
    /// time until it has room for one more failure. Asked only about a
    /// request that failed to authenticate, so a valid token is never
    /// refused for what others did.
    pub fn global_limit(&mut self, now: Instant, policy: &BanPolicy) -> Option<Duration> {
        if policy.global_failures_per_minute == 0 {
            return None;
        }
        self.refill(now, policy);
        (self.budget < 1.0).then(|| {
            let per_sec = f64::from(policy.global_failures_per_minute) / 60.0;
            let secs = (1.0 - self.budget) / per_sec;
            Duration::from_secs_f64(secs.max(0.001))
        })
    }

    fn refill(&mut self, now: Instant, policy: &BanPolicy) {
        let cap = f64::from(policy.global_failures_per_minute);
        let per_sec = cap / 60.0;
        self.budget = match self.budget_at {
            None => cap,
            Some(at) => {
                (self.budget + now.saturating_duration_since(at).as_secs_f64() * per_sec).min(cap)
            }
        };
        self.budget_at = Some(now);
    }

    /// Counts a failure by `client`.
    pub fn record_failure(&mut self, client: Client, now: Instant, policy: &BanPolicy) -> Recorded {
        if policy.global_failures_per_minute > 0 {
            self.refill(now, policy);
            self.budget = (self.budget - 1.0).max(0.0);
        }
        // max_failures = 0: no per-client bans (the global budget still applies).
        if policy.max_failures == 0 {
            return Recorded::Untracked;
        }
        let key = ban_key(client);
        if !self.clients.contains_key(&key) && self.clients.len() >= MAX_TRACKED {
            self.prune(now, policy);
            if self.clients.len() >= MAX_TRACKED {
                return Recorded::Untracked;
            }
        }
        let client = self.clients.entry(key).or_default();
        while client
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= policy.window)
        {
            client.failures.pop_front();
        }
        client.failures.push_back(now);
        if client.failures.len() >= policy.max_failures as usize {
            client.failures.clear();
            client.banned_until = Some(now + policy.ban);
            return Recorded::Banned;
        }
        Recorded::Counted(client.failures.len() as u32)
    }

    /// Forgets clients with no ban and no failure within the window.
    pub fn prune(&mut self, now: Instant, policy: &BanPolicy) {
        self.clients.retain(|_, c| {
            c.banned_until.is_some_and(|u| u > now)
                || c.failures
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < policy.window)
        });
    }

    /// Clients tracked now.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether no client is tracked.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BanPolicy {
        BanPolicy {
            max_failures: 5,
            window: Duration::from_secs(600),
            ban: Duration::from_secs(3600),
            global_failures_per_minute: 0,
        }
    }

    const A: &str = "192.0.2.1";
    const B: &str = "192.0.2.2";

    fn ip(s: &str) -> Client {
        Client::Addr(s.parse().unwrap())
    }

    #[test]
    fn five_failures_in_ten_minutes_ban_for_an_hour() {
        let p = policy();
        let mut t = BanTable::new();
        let t0 = Instant::now();
        for i in 0..4 {
            let now = t0 + Duration::from_secs(i * 60);
            assert_eq!(
                t.record_failure(ip(A), now, &p),
                Recorded::Counted(i as u32 + 1)
            );
            assert_eq!(t.check(ip(A), now), Verdict::Allowed);
        }
        let fifth = t0 + Duration::from_secs(299);
        assert_eq!(t.record_failure(ip(A), fifth, &p), Recorded::Banned);
        assert_eq!(
            t.check(ip(A), fifth + Duration::from_secs(1)),
            Verdict::Banned {
                retry_after: Duration::from_secs(3599)
            }
        );
        // Another client is not affected.
        assert_eq!(t.check(ip(B), fifth), Verdict::Allowed);
        // The ban ends after an hour.
        assert_eq!(
            t.check(ip(A), fifth + Duration::from_secs(3600)),
            Verdict::Allowed
        );
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let p = policy();
        let mut t = BanTable::new();
        let t0 = Instant::now();
        for i in 0..20 {
            // One failure every 3 minutes: never 5 within 10 minutes.
            let now = t0 + Duration::from_secs(i * 180);
            assert_ne!(t.record_failure(ip(A), now, &p), Recorded::Banned, "at {i}");
        }
        assert_eq!(
            t.check(ip(A), t0 + Duration::from_secs(3600)),
            Verdict::Allowed
        );
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        let p = policy();
        let mut t = BanTable::new();
        let now = Instant::now();
        for i in 0..5 {
            t.record_failure(ip(&format!("2001:db8:1:2::{i}")), now, &p);
        }
        assert!(matches!(
            t.check(ip("2001:db8:1:2:ffff::1"), now),
            Verdict::Banned { .. }
        ));
        assert_eq!(t.check(ip("2001:db8:1:3::1"), now), Verdict::Allowed);
        // IPv4-mapped addresses are the IPv4 client.
        for _ in 0..5 {
            t.record_failure(ip("::ffff:192.0.2.9"), now, &p);
        }
        assert!(matches!(
            t.check(ip("192.0.2.9"), now),
            Verdict::Banned { .. }
        ));
    }

    #[test]
    fn the_global_budget_limits_everyone_and_refills() {
        let p = BanPolicy {
            global_failures_per_minute: 6,
            ..policy()
        };
        let mut t = BanTable::new();
        let now = Instant::now();
        // Six different clients, one failure each: nobody banned, budget gone.
        for i in 0..6 {
            t.record_failure(ip(&format!("198.51.100.{i}")), now, &p);
        }
        let retry_after = t.global_limit(now, &p).expect("global limit");
        // One failure's worth refills in 10 s.
        assert!(retry_after <= Duration::from_secs(10), "{retry_after:?}");
        assert_eq!(t.global_limit(now + Duration::from_secs(10), &p), None);
        // Off when 0.
        let off = BanPolicy {
            global_failures_per_minute: 0,
            ..policy()
        };
        assert_eq!(t.global_limit(now, &off), None);
    }

    #[test]
    fn a_spent_global_budget_does_not_ban_anyone() {
        let p = BanPolicy {
            global_failures_per_minute: 6,
            ..policy()
        };
        let mut t = BanTable::new();
        let now = Instant::now();
        for i in 0..10 {
            t.record_failure(ip(&format!("2001:db8:{i}::1")), now, &p);
        }
        assert!(t.global_limit(now, &p).is_some());
        // The check before authentication is about this client only.
        assert_eq!(t.check(ip(B), now), Verdict::Allowed);
        assert_eq!(t.check(ip("2001:db8:1::1"), now), Verdict::Allowed);
    }

    #[test]
    fn an_unidentified_client_is_counted_apart_from_its_proxy() {
        let p = policy();
        let mut t = BanTable::new();
        let now = Instant::now();
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..5 {
            t.record_failure(Client::Unidentified { via: proxy }, now, &p);
        }
        assert!(matches!(
            t.check(Client::Unidentified { via: proxy }, now),
            Verdict::Banned { .. }
        ));
        // Neither the proxy's address nor another proxy's unidentified
        // clients are banned.
        assert_eq!(t.check(Client::Addr(proxy), now), Verdict::Allowed);
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            t.check(Client::Unidentified { via: other }, now),
            Verdict::Allowed
        );
    }

    #[test]
    fn the_table_is_bounded_and_pruned() {
        let p = policy();
        let mut t = BanTable::new();
        let now = Instant::now();
        for i in 0..MAX_TRACKED as u32 {
            t.record_failure(Client::Addr(IpAddr::V4(i.into())), now, &p);
        }
        assert_eq!(t.len(), MAX_TRACKED);
        let late = ip("203.0.113.1");
        assert_eq!(t.record_failure(late, now, &p), Recorded::Untracked);
        // Once the window has passed, old entries make room.
        let later = now + p.window;
        assert_eq!(t.record_failure(late, later, &p), Recorded::Counted(1));
        assert_eq!(t.len(), 1);
    }
}
