//! The schedule, as pure functions of an injected instant: when each entry
//! fires on a given local date, which entry fired most recently before an
//! instant (the scheduled state), and the next fires after one. No clock is
//! read here: the daemon and `schedd next` pass `Utc::now()`, the tests
//! pass whatever instant they need (a DST change, New Year's Eve).
//!
//! # Rules
//!
//! - An entry belongs to a *local* date (in the schedule's time zone): its
//!   `weekdays` and its `from`/`until` range are checked against that date,
//!   and its time is that date's time of day, or that date's sunrise or
//!   sunset plus the offset (which may move the instant to the day before
//!   or after: offsets are at most [`MAX_OFFSET_MINUTES`]).
//! - A time of day that a spring-forward change skips (02:30 in Berlin on
//!   the last Sunday of March) fires when the clocks jump, at the first
//!   local minute after it that exists (03:00). A time of day that a
//!   fall-back change repeats fires once, at its first occurrence.
//! - The scheduled state at an instant is the action of the entry whose
//!   most recent fire is at or before that instant. Two entries firing at
//!   the same instant: the one later in the file wins.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use tinsel_proto::{Animation, PlayParams};

use crate::sun::{self, Place, SunEvent};

/// The largest sunrise/sunset offset, in minutes either way: 12 hours, so
/// that an entry's fire stays within a day of the date it belongs to.
pub const MAX_OFFSET_MINUTES: i32 = 12 * 60;

/// How far back [`Schedule::current`] and forward [`Schedule::next`] look
/// for a fire: two years, so a yearly date range on a rare weekday (or a
/// leap day) is still found, and a schedule that never fires costs a
/// bounded amount of work.
pub const SEARCH_DAYS: u64 = 2 * 366;

/// When, on its date, an entry fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// At this local time of day (`"07:30"`).
    At(NaiveTime),
    /// At sunrise or sunset plus an offset in minutes (`"sunset+30m"`).
    Sun {
        /// Sunrise or sunset.
        event: SunEvent,
        /// Minutes after (positive) or before (negative) the event.
        offset_minutes: i32,
    },
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Trigger::At(t) => write!(f, "{}", t.format("%H:%M")),
            Trigger::Sun {
                event,
                offset_minutes: 0,
            } => write!(f, "{}", event.name()),
            Trigger::Sun {
                event,
                offset_minutes,
            } => {
                let sign = if offset_minutes < 0 { '-' } else { '+' };
                let m = offset_minutes.unsigned_abs();
                match (m / 60, m % 60) {
                    (0, m) => write!(f, "{}{sign}{m}m", event.name()),
                    (h, 0) => write!(f, "{}{sign}{h}h", event.name()),
                    (h, m) => write!(f, "{}{sign}{h}h{m}m", event.name()),
                }
            }
        }
    }
}

/// The days of the week an entry fires on: one bit per day, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(u8);

impl Weekdays {
    /// Every day.
    pub const ALL: Weekdays = Weekdays(0x7f);

    /// The days given.
    pub fn of(days: &[Weekday]) -> Weekdays {
        Weekdays(
            days.iter()
                .fold(0, |m, d| m | (1 << d.num_days_from_monday())),
        )
    }

    /// Whether `day` is one of them.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }
}

/// A day of the year without a year (`"12-01"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MonthDay {
    /// 1 to 12.
    pub month: u32,
    /// 1 to the month's length (29 for February).
    pub day: u32,
}

impl MonthDay {
    /// The month and day of `date`.
    pub fn of(date: NaiveDate) -> MonthDay {
        MonthDay {
            month: date.month(),
            day: date.day(),
        }
    }
}

impl std::fmt::Display for MonthDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

/// The days of each year an entry fires on, both ends included. `from`
/// after `until` spans the new year (`12-01` to `01-06`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// The first day.
    pub from: MonthDay,
    /// The last day.
    pub until: MonthDay,
}

impl DateRange {
    /// Whether `date` is in the range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        let d = MonthDay::of(date);
        if self.from <= self.until {
            self.from <= d && d <= self.until
        } else {
            d >= self.from || d <= self.until
        }
    }
}

/// What an entry asks ledd for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Play an animation with these parameters (checked against what the
    /// animation accepts when the config was read).
    Play {
        /// Which animation.
        animation: Animation,
        /// Its parameters.
        params: PlayParams,
    },
    /// Fade to dark.
    Off,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Off => f.write_str("off"),
            Action::Play { animation, params } => {
                write!(f, "play {}", animation.name())?;
                if let Some(c) = params.color {
                    write!(f, " color {c}")?;
                }
                if params.speed != tinsel_proto::Speed::DEFAULT {
                    write!(f, " speed {}", params.speed.get())?;
                }
                Ok(())
            }
        }
    }
}

impl Action {
    /// The request that carries it out.
    pub fn request(&self) -> tinsel_proto::Request {
        match *self {
            Action::Off => tinsel_proto::Request::Off,
            Action::Play { animation, params } => tinsel_proto::Request::Play { animation, params },
        }
    }
}

/// One `[[entries]]` table, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its `name`, or `entries[i]` when it has none: used in logs.
    pub name: String,
    /// When on its date it fires.
    pub trigger: Trigger,
    /// The days of the week it fires on.
    pub weekdays: Weekdays,
    /// The days of the year it fires on (`None`: every day).
    pub range: Option<DateRange>,
    /// What it does.
    pub action: Action,
}

/// One fire of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    /// When.
    pub at: DateTime<Utc>,
    /// The entry's index in [`Schedule::entries`].
    pub entry: usize,
}

/// The entries, where and in which time zone they are read.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The enabled entries, in file order.
    pub entries: Vec<Entry>,
    /// The time zone of times of day, weekdays and date ranges.
    pub tz: Tz,
    /// Where sunrise and sunset are computed (`None` when no entry needs it:
    /// the config refuses a sun entry without it).
    pub place: Option<Place>,
}

impl Schedule {
    /// The fires of the entries that belong to the local date `date`, in
    /// entry order (not sorted by time).
    pub fn fires_on(&self, date: NaiveDate) -> Vec<Fire> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.weekdays.contains(date.weekday()))
            .filter(|(_, e)| e.range.is_none_or(|r| r.contains(date)))
            .filter_map(|(entry, e)| {
                let at = match e.trigger {
                    Trigger::At(time) => local_instant(&self.tz, date, time)?,
                    Trigger::Sun {
                        event,
                        offset_minutes,
                    } => {
                        sun::event(self.place?, date, event)?
                            + chrono::Duration::minutes(i64::from(offset_minutes))
                    }
                };
                Some(Fire { at, entry })
            })
            .collect()
    }

    /// The scheduled state at `now`: the most recent fire at or before it
    /// (`None` if no entry fired in the last [`SEARCH_DAYS`]).
    pub fn current(&self, now: DateTime<Utc>) -> Option<Fire> {
        if self.entries.is_empty() {
            return None;
        }
        // A fire of date D lies within half a day (and a DST change) of D
        // (MAX_OFFSET_MINUTES), so tomorrow's fires may already be due and,
        // once one is found on date D, dates before D - 2 cannot hold a
        // later one.
        let today = self.local_date(now);
        let mut best: Option<(Fire, NaiveDate)> = None;
        for back in 0..=SEARCH_DAYS + 1 {
            let Some(date) = (today + Days::new(1)).checked_sub_days(Days::new(back)) else {
                break;
            };
            if best.is_some_and(|(_, d)| date + Days::new(2) < d) {
                break;
            }
            for fire in self.fires_on(date).into_iter().filter(|f| f.at <= now) {
                // Later in time wins; at the same instant, later in the file.
                if best.is_none_or(|(b, _)| (fire.at, fire.entry) > (b.at, b.entry)) {
                    best = Some((fire, date));
                }
            }
        }
        best.map(|(f, _)| f)
    }

    /// The first `count` fires strictly after `now`, in time order (at
    /// the same instant, in file order).
    pub fn next(&self, now: DateTime<Utc>, count: usize) -> Vec<Fire> {
        let mut found: Vec<(Fire, NaiveDate)> = Vec::new();
        if self.entries.is_empty() || count == 0 {
            return Vec::new();
        }
        let today = self.local_date(now);
        let Some(start) = today.checked_sub_days(Days::new(1)) else {
            return Vec::new();
        };
        for ahead in 0..=SEARCH_DAYS + 1 {
            let Some(date) = start.checked_add_days(Days::new(ahead)) else {
                break;
            };
            // Fires of a date lie within half a day (and a DST change) of
            // it: once `count` are found and this date is more than two
            // days past the last needed one's, nothing earlier can come.
            if found.len() >= count && found[count - 1].1 + Days::new(2) < date {
                break;
            }
            found.extend(
                self.fires_on(date)
                    .into_iter()
                    .filter(|f| f.at > now)
                    .map(|f| (f, date)),
            );
            found.sort_by_key(|(f, _)| (f.at, f.entry));
        }
        found.into_iter().take(count).map(|(f, _)| f).collect()
    }

    /// The entry a fire belongs to.
    pub fn entry(&self, fire: &Fire) -> &Entry {
        &self.entries[fire.entry]
    }

    /// `at` in the schedule's time zone.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.tz)
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        self.local(at).date_naive()
    }
}

/// The instant of the local `time` on `date` in `tz`: a time the clocks
/// skip fires when they jump (the first minute after it that exists); a
/// time they repeat fires at its first occurrence.
pub fn local_instant(tz: &Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let wanted = date.and_time(time);
    if let Some(t) = tz.from_local_datetime(&wanted).earliest() {
        return Some(t.with_timezone(&Utc));
    }
    // In a gap. Zone transitions fall on whole minutes; no gap is a day.
    (1..=24 * 60).find_map(|m| {
        let t = wanted + chrono::Duration::minutes(m);
        tz.from_local_datetime(&t)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

#[cfg(test)]
mod tests;
