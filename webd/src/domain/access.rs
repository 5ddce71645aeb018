//! What narrows a valid token beyond its hooks: whether it may read
//! `GET /state`, the networks it may be used from (`allow_from`), how
//! often it may be used (`rate`, also per hook) and the last day it is
//! good for (`expires`); and [`RateTable`], the small state the rates
//! keep.
//!
//! A rate is a GCRA (the "virtual scheduling" form of a token bucket):
//! per rate-limited token or hook, one [`Instant`], the theoretical arrival
//! time of the next request. `N/min` allows a burst of N, then one request
//! every minute/N. The table holds one entry per name from the config that
//! was used lately, never anything a client chooses.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::date::days_from_civil;
use super::net::IpNet;

/// The most requests a rate may allow per period: more is no limit on a Pi.
pub const MAX_RATE_COUNT: u32 = 10_000;

/// The entries a [`RateTable`] keeps before it drops the idle ones. Only
/// configured names are keys, so this is never reached by a client.
pub const MAX_RATE_KEYS: usize = 1024;

/// The narrowing of one token; the default narrows nothing (no `/state`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// May read `GET /state` (`state = true`).
    pub state: bool,
    /// The networks the client must be in; empty: anywhere.
    pub allow_from: Vec<IpNet>,
    /// At most this many requests per period, all routes together.
    pub rate: Option<Rate>,
    /// Refused from the end of this day (UTC).
    pub expires: Option<Expiry>,
}

impl Access {
    /// Whether `ip` may use the token. A request through a trusted proxy
    /// that does not say who the client is has no address to check, so a
    /// token with `allow_from` is refused for it.
    pub fn allows_from(&self, ip: Option<IpAddr>) -> bool {
        if self.allow_from.is_empty() {
            return true;
        }
        ip.is_some_and(|ip| self.allow_from.iter().any(|n| n.contains(ip)))
    }
}

/// `N/s`, `N/min` or `N/h`: a burst of N, refilled over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    per: Duration,
}

/// Why a rate does not parse, as the config error says it.
pub const RATE_RULE: &str =
    "write a rate as COUNT/UNIT, COUNT 1 to 10000, UNIT s, min or h (e.g. \"10/min\", \"2/s\")";

impl Rate {
    /// Parses `10/min`, `2/s`, `100/h` (also `sec`, `second`, `m`,
    /// `minute`, `hour`; blanks around the parts are ignored).
    pub fn parse(text: &str) -> Option<Rate> {
        let (count, unit) = text.split_once('/')?;
        let count: u32 = count.trim().parse().ok()?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return None,
        };
        (1..=MAX_RATE_COUNT)
            .contains(&count)
            .then_some(Rate { count, per })
    }

    /// The time between requests once the burst is spent.
    fn interval(self) -> Duration {
        self.per / self.count
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// The last day a token is good for, as written, and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// The date as the config gives it (`2027-01-06`).
    pub date: String,
    /// The Unix time from which the token is refused: the midnight (UTC)
    /// after `date`.
    pub refused_from: u64,
}

/// Why a date does not parse, as the config error says it.
pub const DATE_RULE: &str =
    "write the last day the token is good for as YYYY-MM-DD (UTC), e.g. \"2027-01-06\"";

impl Expiry {
    /// Parses `YYYY-MM-DD`, a real calendar day from 1970 to 9999.
    pub fn parse(text: &str) -> Option<Expiry> {
        let text = text.trim();
        let mut parts = text.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        if !text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return None;
        }
        let days = days_from_civil(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
        let refused_from = u64::try_from(days + 1).ok()? * 86_400;
        Some(Expiry {
            date: text.to_owned(),
            refused_from,
        })
    }

    /// Whether the token is refused at `now_unix`.
    pub fn is_past(&self, now_unix: u64) -> bool {
        now_unix >= self.refused_from
    }
}

/// What a rate applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// Every request of the token with this name.
    Token(String),
    /// Every request to the hook with this name, whichever token.
    Hook(String),
}

/// The rate state: one theoretical arrival time per rate-limited token and
/// hook that was used lately. Survives reloads with the other counters.
#[derive(Debug, Default)]
pub struct RateTable {
    next: HashMap<RateKey, Instant>,
}

impl RateTable {
    /// Takes one request from each of `limits` if all have room, else none
    /// and the time until all do. A request refused by one limit does not
    /// spend the others.
    pub fn take(
        &mut self,
        limits: &[(RateKey, Rate)],
        now: Instant,
    ) -> Result<(), (Duration, RateKey)> {
        let mut wait: Option<(Duration, &RateKey)> = None;
        for (key, rate) in limits {
            let tat = self.next.get(key).copied().unwrap_or(now).max(now);
            // The burst: `count` requests fit before the first must wait.
            let tolerance = rate.per.saturating_sub(rate.interval());
            let ahead = tat.saturating_duration_since(now);
            if ahead > tolerance {
                let w = ahead - tolerance;
                if wait.is_none_or(|(longest, _)| w > longest) {
                    wait = Some((w, key));
                }
            }
        }
        if let Some((w, key)) = wait {
            return Err((w, key.clone()));
        }
        if self.next.len() + limits.len() > MAX_RATE_KEYS {
            // An entry at or before now holds no information: a fresh one
            // would be the same.
            self.next.retain(|_, tat| *tat > now);
        }
        for (key, rate) in limits {
            let tat = self.next.get(key).copied().unwrap_or(now).max(now);
            self.next.insert(key.clone(), tat + rate.interval());
        }
        Ok(())
    }

    /// The entries held.
    pub fn len(&self) -> usize {
        self.next.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_refuse_the_rest() {
        assert_eq!(
            Rate::parse("10/min").map(|r| r.to_string()),
            Some("10/min".into())
        );
        assert_eq!(
            Rate::parse(" 2 / s ").map(|r| r.to_string()),
            Some("2/s".into())
        );
        assert_eq!(
            Rate::parse("100/hour").map(|r| r.to_string()),
            Some("100/h".into())
        );
        assert_eq!(Rate::parse("1/m"), Rate::parse("1/minute"));
        for bad in [
            "", "10", "10/", "/min", "0/min", "10/day", "-1/s", "1.5/s", "10001/s", "ten/s",
        ] {
            assert_eq!(Rate::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_rate_allows_its_burst_then_one_per_interval() {
        let mut table = RateTable::default();
        let key = RateKey::Token("ha".into());
        let limits = [(key.clone(), Rate::parse("3/min").unwrap())];
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(table.take(&limits, t0).is_ok());
        }
        let (wait, which) = table.take(&limits, t0).unwrap_err();
        assert_eq!(which, key);
        assert_eq!(wait, Duration::from_secs(20));
        // Refusals do not push the time further out.
        assert_eq!(
            table.take(&limits, t0).unwrap_err().0,
            Duration::from_secs(20)
        );
        assert!(table.take(&limits, t0 + Duration::from_secs(19)).is_err());
        assert!(table.take(&limits, t0 + Duration::from_secs(20)).is_ok());
        assert!(table.take(&limits, t0 + Duration::from_secs(20)).is_err());
        // After a full period idle, the whole burst is back.
        let later = t0 + Duration::from_secs(200);
        for _ in 0..3 {
            assert!(table.take(&limits, later).is_ok());
        }
        assert!(table.take(&limits, later).is_err());
    }

    #[test]
    fn a_request_refused_by_one_limit_spends_no_other() {
        let mut table = RateTable::default();
        let token = (RateKey::Token("t".into()), Rate::parse("5/min").unwrap());
        let hook = (RateKey::Hook("h".into()), Rate::parse("1/min").unwrap());
        let t0 = Instant::now();
        assert!(table.take(&[token.clone(), hook.clone()], t0).is_ok());
        for _ in 0..10 {
            let (_, which) = table.take(&[token.clone(), hook.clone()], t0).unwrap_err();
            assert_eq!(which, hook.0);
        }
        // The token alone still has 4 of its 5.
        for _ in 0..4 {
            assert!(table.take(std::slice::from_ref(&token), t0).is_ok());
        }
        assert!(table.take(std::slice::from_ref(&token), t0).is_err());
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut table = RateTable::default();
        let rate = Rate::parse("1/s").unwrap();
        let t0 = Instant::now();
        for i in 0..(MAX_RATE_KEYS * 3) {
            // Each name is used once; a second later its entry is idle.
            let now = t0 + Duration::from_secs(i as u64 * 2);
            table
                .take(&[(RateKey::Hook(format!("h{i}")), rate)], now)
                .unwrap();
            assert!(table.len() <= MAX_RATE_KEYS, "{}", table.len());
        }
    }

    #[test]
    fn expiry_dates_parse_and_end_at_the_next_midnight_utc() {
        let e = Expiry::parse("2027-01-06").unwrap();
        // 2027-01-07T00:00:00Z.
        assert_eq!(e.refused_from, 1_799_280_000);
        assert!(!e.is_past(1_799_279_999));
        assert!(e.is_past(1_799_280_000));
        assert_eq!(Expiry::parse("1970-01-01").unwrap().refused_from, 86_400);
        assert!(Expiry::parse("2028-02-29").is_some());
        for bad in [
            "",
            "2027-1-6",
            "2027-01-06T00:00:00Z",
            "2027/01/06",
            "2027-13-01",
            "2027-02-29",
            "2027-04-31",
            "2027-00-10",
            "2027-01-00",
            "1969-12-31",
            "+027-01-06",
            "06.01.2027",
        ] {
            assert_eq!(Expiry::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn allow_from_checks_the_client_address() {
        let only = |nets: &[&str]| Access {
            allow_from: nets.iter().map(|n| IpNet::parse(n).unwrap()).collect(),
            ..Access::default()
        };
        let lan = only(&["10.0.0.0/8", "fd00::/8"]);
        assert!(lan.allows_from(Some("10.1.2.3".parse().unwrap())));
        assert!(lan.allows_from(Some("::ffff:10.1.2.3".parse().unwrap())));
        assert!(lan.allows_from(Some("fd12::1".parse().unwrap())));
        assert!(!lan.allows_from(Some("127.0.0.1".parse().unwrap())));
        assert!(!lan.allows_from(Some("11.0.0.1".parse().unwrap())));
        assert!(!lan.allows_from(None));
        assert!(Access::default().allows_from(None));
    }
}
