//! One `[[entries]]` table: `at` (a time of day or sunrise/sunset with an
//! offset), `weekdays`, `from`/`until`, and the action (`animation` with
//! `color` and `speed`, checked against what the animation accepts, since
//! ledd would refuse the rest; or `"off"`).

use chrono::{NaiveDate, NaiveTime, Weekday};
use tinsel_daemon::config::Validate;
use tinsel_proto::{Animation, Param, PlayParams, Rgb, Speed};

use super::raw::RawEntry;
use super::{ConfigError, Validator};
use crate::schedule::{Action, DateRange, Entry, MAX_OFFSET_MINUTES, MonthDay, Trigger, Weekdays};
use crate::sun::SunEvent;

/// The longest `name`: it appears in every log line about the entry.
pub const MAX_NAME_LEN: usize = 64;

impl Validator<'_> {
    /// The entry, or `None` when `enabled = false` (still checked whole, so
    /// enabling it later cannot reveal a mistake).
    pub(super) fn entry(&self, i: usize, e: RawEntry) -> Result<Option<Entry>, ConfigError> {
        let key = |k: &str| format!("entries[{i}].{k}");
        let name = match e.name {
            Some(n) => {
                let ok = (1..=MAX_NAME_LEN).contains(&n.len())
                    && n.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
                if !ok {
                    return Err(self.err(
                        key("name"),
                        format!("{n:?}: a name is 1 to {MAX_NAME_LEN} printable ASCII characters"),
                    ));
                }
                n
            }
            None => format!("entries[{i}]"),
        };
        let trigger = parse_at(&e.at).map_err(|m| self.err(key("at"), m))?;
        let weekdays = match e.weekdays {
            None => Weekdays::ALL,
            Some(days) if days.is_empty() => {
                return Err(self.err(
                    key("weekdays"),
                    "an empty list never fires: list days (\"mon\" ... \"sun\") or remove the key for every day",
                ));
            }
            Some(days) => {
                let mut parsed = Vec::with_capacity(days.len());
                for (j, d) in days.iter().enumerate() {
                    parsed.push(parse_weekday(d).ok_or_else(|| {
                        self.err(
                            format!("entries[{i}].weekdays[{j}]"),
                            format!("{d:?} is not a day: use mon, tue, wed, thu, fri, sat or sun"),
                        )
                    })?);
                }
                Weekdays::of(&parsed)
            }
        };
        let range = match (e.from, e.until) {
            (None, None) => None,
            (Some(from), Some(until)) => Some(DateRange {
                from: parse_month_day(&from).map_err(|m| self.err(key("from"), m))?,
                until: parse_month_day(&until).map_err(|m| self.err(key("until"), m))?,
            }),
            (Some(_), None) => {
                return Err(self.err(
                    key("until"),
                    "`from` is set but `until` is not: set both (\"MM-DD\", both days included)",
                ));
            }
            (None, Some(_)) => {
                return Err(self.err(
                    key("from"),
                    "`until` is set but `from` is not: set both (\"MM-DD\", both days included)",
                ));
            }
        };
        let action = self.action(i, &e.animation, e.color.as_deref(), e.speed)?;
        if e.enabled == Some(false) {
            return Ok(None);
        }
        Ok(Some(Entry {
            name,
            trigger,
            weekdays,
            range,
            action,
        }))
    }

    fn action(
        &self,
        i: usize,
        animation: &str,
        color: Option<&str>,
        speed: Option<u16>,
    ) -> Result<Action, ConfigError> {
        let key = |k: &str| format!("entries[{i}].{k}");
        let color = color
            .map(str::parse::<Rgb>)
            .transpose()
            .map_err(|e| self.err(key("color"), e.to_string()))?;
        let speed = speed
            .map(Speed::new)
            .transpose()
            .map_err(|e| self.err(key("speed"), e.to_string()))?;
        if animation.eq_ignore_ascii_case("off") {
            if color.is_some() || speed.is_some() {
                return Err(self.err(
                    key("animation"),
                    "\"off\" takes no color or speed: remove them",
                ));
            }
            return Ok(Action::Off);
        }
        let animation = animation
            .parse::<Animation>()
            .map_err(|e| self.err(key("animation"), format!("`{animation}`: {e}, or off")))?;
        let params = PlayParams {
            color,
            speed: speed.unwrap_or_default(),
            duration: None,
            fade: None,
        };
        // ledd refuses a parameter the animation does not use: say so here,
        // naming the key, rather than in a log line at the first fire.
        if let Err(unused) = animation.check(&params) {
            let first = unused
                .unused
                .iter()
                .next()
                .map_or("animation", |p| match p {
                    Param::Color => "color",
                    Param::Speed => "speed",
                    Param::Duration => "animation",
                });
            return Err(self.err(key(first), unused.to_string()));
        }
        Ok(Action::Play { animation, params })
    }
}

/// `"07:30"`, `"sunrise"`, `"sunset+30m"`, `"sunrise-1h15m"`.
pub fn parse_at(s: &str) -> Result<Trigger, String> {
    let t = s.trim();
    for event in [SunEvent::Sunrise, SunEvent::Sunset] {
        if let Some(rest) = t.strip_prefix(event.name()) {
            let offset_minutes = parse_offset(rest.trim()).ok_or_else(|| {
                format!(
                    "{s:?}: after {} write nothing or an offset like +30m, -1h or +1h15m",
                    event.name()
                )
            })?;
            if offset_minutes.abs() > MAX_OFFSET_MINUTES {
                return Err(format!(
                    "{s:?}: an offset is at most 12h either way; for a fixed time use \"HH:MM\""
                ));
            }
            return Ok(Trigger::Sun {
                event,
                offset_minutes,
            });
        }
    }
    let bad = || {
        format!(
            "{s:?} is not a time: use \"HH:MM\" (24-hour, e.g. \"07:30\"), \"sunrise\" or \"sunset\" with an offset like \"sunset+30m\""
        )
    };
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m) = (
        h.parse::<u32>().map_err(|_| bad())?,
        m.parse::<u32>().map_err(|_| bad())?,
    );
    NaiveTime::from_hms_opt(h, m, 0)
        .map(Trigger::At)
        .ok_or_else(bad)
}

/// `""`, `"+30m"`, `"-1h"`, `"+1h15m"` → minutes.
fn parse_offset(s: &str) -> Option<i32> {
    if s.is_empty() {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes()[0] {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (hours, rest) = match rest.split_once('h') {
        Some((h, r)) => (Some(h), r),
        None => (None, rest),
    };
    let minutes = match rest.strip_suffix('m') {
        Some(m) => Some(m),
        None if rest.is_empty() => None,
        None => return None,
    };
    if hours.is_none() && minutes.is_none() {
        return None;
    }
    let num = |x: &str| {
        (!x.is_empty() && x.len() <= 4 && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse::<i32>().ok())
            .flatten()
    };
    let h = hours.map(num).unwrap_or(Some(0))?;
    let m = minutes.map(num).unwrap_or(Some(0))?;
    Some(sign * (h * 60 + m))
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    let s = s.to_ascii_lowercase();
    let days = [
        ("mon", "monday", Weekday::Mon),
        ("tue", "tuesday", Weekday::Tue),
        ("wed", "wednesday", Weekday::Wed),
        ("thu", "thursday", Weekday::Thu),
        ("fri", "friday", Weekday::Fri),
        ("sat", "saturday", Weekday::Sat),
        ("sun", "sunday", Weekday::Sun),
    ];
    days.iter()
        .find(|(short, long, _)| s == *short || s == *long)
        .map(|(.., d)| *d)
}

/// `"12-01"` → 1 December. `"02-29"` is allowed (it fires in leap years).
pub fn parse_month_day(s: &str) -> Result<MonthDay, String> {
    let bad = || format!("{s:?} is not a day of the year: use \"MM-DD\", e.g. \"12-01\"");
    let (m, d) = s.trim().split_once('-').ok_or_else(bad)?;
    if m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (month, day) = (
        m.parse::<u32>().map_err(|_| bad())?,
        d.parse::<u32>().map_err(|_| bad())?,
    );
    // 2000 is a leap year: every day any year has exists in it.
    NaiveDate::from_ymd_opt(2000, month, day)
        .map(|_| MonthDay { month, day })
        .ok_or_else(bad)
}
