//! Sunrise and sunset for a place and a date, from the `sunrise` crate
//! (NOAA's algorithm, pure Rust, a few floating-point operations per day:
//! cheap on a Pi Zero). The crate answers a NaN-derived instant for days
//! on which the sun does not rise or set (polar day and night); here those
//! days have no event.

use chrono::{DateTime, NaiveDate, Utc};
use sunrise::{Coordinates, SolarDay, SolarEvent};

/// Where sunrise and sunset are computed: `latitude` and `longitude` in
/// degrees (north and east positive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    coordinates: Coordinates,
}

impl Place {
    /// The place at `latitude` (−90 to 90) and `longitude` (−180 to 180);
    /// `None` outside those ranges.
    pub fn new(latitude: f64, longitude: f64) -> Option<Place> {
        Coordinates::new(latitude, longitude).map(|coordinates| Place { coordinates })
    }

    /// Latitude in degrees.
    pub fn latitude(&self) -> f64 {
        self.coordinates.lat()
    }

    /// Longitude in degrees.
    pub fn longitude(&self) -> f64 {
        self.coordinates.lon()
    }
}

/// Sunrise or sunset (the sun's upper edge at the horizon, with refraction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SunEvent {
    /// Morning.
    Sunrise,
    /// Evening.
    Sunset,
}

impl SunEvent {
    /// `"sunrise"` or `"sunset"`, as written in the config.
    pub const fn name(self) -> &'static str {
        match self {
            SunEvent::Sunrise => "sunrise",
            SunEvent::Sunset => "sunset",
        }
    }
}

/// When `event` happens at `place` on the solar day of `date` (the day
/// around local noon there), or `None` when the sun does not rise or set
/// that day.
pub fn event(place: Place, date: NaiveDate, event: SunEvent) -> Option<DateTime<Utc>> {
    let day = SolarDay::new(place.coordinates, date);
    let at = day.event_time(match event {
        SunEvent::Sunrise => SolarEvent::Sunrise,
        SunEvent::Sunset => SolarEvent::Sunset,
    });
    // Polar day or night: the hour angle is NaN and the crate's instant
    // lands at the epoch. A real event is within a day of the date.
    let noon = date.and_hms_opt(12, 0, 0)?.and_utc();
    ((at - noon).num_hours().abs() <= 36).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn within_two_minutes(got: DateTime<Utc>, want: &str) {
        let want = utc(want);
        let off = (got - want).num_seconds().abs();
        assert!(
            off <= 120,
            "got {got}, want {want} (±2 min), off by {off} s"
        );
    }

    /// Berlin (52.52 N, 13.405 E) on 2026-06-21 and 2026-12-21, against
    /// published almanac times (timeanddate.com, NOAA's calculator):
    /// sunrise 04:43 / sunset 21:33 CEST in June, 08:15 / 15:54 CET in
    /// December.
    #[test]
    fn berlin_matches_the_almanac_within_two_minutes() {
        let berlin = Place::new(52.52, 13.405).unwrap();
        let june = NaiveDate::from_ymd_opt(2026, 6, 21).unwrap();
        let dec = NaiveDate::from_ymd_opt(2026, 12, 21).unwrap();
        within_two_minutes(
            event(berlin, june, SunEvent::Sunrise).unwrap(),
            "2026-06-21T04:43:00+02:00",
        );
        within_two_minutes(
            event(berlin, june, SunEvent::Sunset).unwrap(),
            "2026-06-21T21:33:00+02:00",
        );
        within_two_minutes(
            event(berlin, dec, SunEvent::Sunrise).unwrap(),
            "2026-12-21T08:15:00+01:00",
        );
        within_two_minutes(
            event(berlin, dec, SunEvent::Sunset).unwrap(),
            "2026-12-21T15:54:00+01:00",
        );
    }

    /// New York (40.7128 N, 74.006 W), west of Greenwich: the solar day
    /// of the local date, not of the UTC date (sunset 16:32 EST, 21:32
    /// UTC, on 2026-12-21).
    #[test]
    fn west_of_greenwich_uses_the_local_solar_day() {
        let nyc = Place::new(40.7128, -74.006).unwrap();
        let dec = NaiveDate::from_ymd_opt(2026, 12, 21).unwrap();
        within_two_minutes(
            event(nyc, dec, SunEvent::Sunset).unwrap(),
            "2026-12-21T16:32:00-05:00",
        );
        within_two_minutes(
            event(nyc, dec, SunEvent::Sunrise).unwrap(),
            "2026-12-21T07:17:00-05:00",
        );
    }

    #[test]
    fn polar_night_and_day_have_no_event() {
        let tromso = Place::new(69.65, 18.96).unwrap();
        let dec = NaiveDate::from_ymd_opt(2026, 12, 21).unwrap();
        let june = NaiveDate::from_ymd_opt(2026, 6, 21).unwrap();
        assert_eq!(event(tromso, dec, SunEvent::Sunrise), None);
        assert_eq!(event(tromso, june, SunEvent::Sunset), None);
    }

    #[test]
    fn coordinates_out_of_range_are_refused() {
        assert!(Place::new(91.0, 0.0).is_none());
        assert!(Place::new(0.0, 181.0).is_none());
        assert!(Place::new(-90.0, -180.0).is_some());
    }
}
