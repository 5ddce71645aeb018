//! fail2ban semantics, built in: failures are counted per client, too many
//! within a window ban the client for a while, and a global budget caps
//! failures from everyone together (a botnet gets no more guesses than one
//! client).
//!
//! Time is a parameter of every method, so tests drive a fake clock. IPv6
//! clients are counted per /64: one home connection owns a whole /64, and
//! counting single addresses would let one attacker rotate through 2^64 of
//! them.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

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
    /// Everyone together failed too often; try again after `retry_after`.
    GlobalLimit {
        /// Time until the budget has room.
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
struct Client {
    /// Times of recent failures, oldest first, at most `max_failures`.
    failures: VecDeque<Instant>,
    banned_until: Option<Instant>,
}

/// Per-client failure counts and bans, and the global failure budget.
#[derive(Debug)]
pub struct BanTable {
    clients: HashMap<IpAddr, Client>,
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

/// The key a client is counted under: the address, or its /64 for IPv6.
pub fn ban_key(ip: IpAddr) -> IpAddr {
    match crate::config::canonical(ip) {
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

    /// Whether a request from `ip` may proceed.
    pub fn check(&mut self, ip: IpAddr, now: Instant, policy: &BanPolicy) -> Verdict {
        if let Some(until) = self
            .clients
            .get(&ban_key(ip))
            .and_then(|c| c.banned_until)
            .filter(|until| *until > now)
        {
            return Verdict::Banned {
                retry_after: until - now,
            };
        }
        if policy.global_failures_per_minute > 0 {
            self.refill(now, policy);
            if self.budget < 1.0 {
                let per_sec = f64::from(policy.global_failures_per_minute) / 60.0;
                let secs = (1.0 - self.budget) / per_sec;
                return Verdict::GlobalLimit {
                    retry_after: Duration::from_secs_f64(secs.max(0.001)),
                };
            }
        }
        Verdict::Allowed
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

    /// Counts a failure by `ip`.
    pub fn record_failure(&mut self, ip: IpAddr, now: Instant, policy: &BanPolicy) -> Recorded {
        if policy.global_failures_per_minute > 0 {
            self.refill(now, policy);
            self.budget = (self.budget - 1.0).max(0.0);
        }
        // max_failures = 0: no per-client bans (the global budget still applies).
        if policy.max_failures == 0 {
            return Recorded::Untracked;
        }
        let key = ban_key(ip);
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
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
            assert_eq!(t.check(ip(A), now, &p), Verdict::Allowed);
        }
        let fifth = t0 + Duration::from_secs(299);
        assert_eq!(t.record_failure(ip(A), fifth, &p), Recorded::Banned);
        assert_eq!(
            t.check(ip(A), fifth + Duration::from_secs(1), &p),
            Verdict::Banned {
                retry_after: Duration::from_secs(3599)
            }
        );
        // Another client is not affected.
        assert_eq!(t.check(ip(B), fifth, &p), Verdict::Allowed);
        // The ban ends after an hour.
        assert_eq!(
            t.check(ip(A), fifth + Duration::from_secs(3600), &p),
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
            t.check(ip(A), t0 + Duration::from_secs(3600), &p),
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
            t.check(ip("2001:db8:1:2:ffff::1"), now, &p),
            Verdict::Banned { .. }
        ));
        assert_eq!(t.check(ip("2001:db8:1:3::1"), now, &p), Verdict::Allowed);
        // IPv4-mapped addresses are the IPv4 client.
        for _ in 0..5 {
            t.record_failure(ip("::ffff:192.0.2.9"), now, &p);
        }
        assert!(matches!(
            t.check(ip("192.0.2.9"), now, &p),
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
        let Verdict::GlobalLimit { retry_after } = t.check(ip(B), now, &p) else {
            panic!("global limit expected")
        };
        // One failure's worth refills in 10 s.
        assert!(retry_after <= Duration::from_secs(10), "{retry_after:?}");
        assert_eq!(
            t.check(ip(B), now + Duration::from_secs(10), &p),
            Verdict::Allowed
        );
    }

    #[test]
    fn the_table_is_bounded_and_pruned() {
        let p = policy();
        let mut t = BanTable::new();
        let now = Instant::now();
        for i in 0..MAX_TRACKED as u32 {
            t.record_failure(IpAddr::V4(i.into()), now, &p);
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
