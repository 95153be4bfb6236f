//! The windows of `watch` and when each falls due: every N seconds (aligned to the Unix epoch,
//! so a 15-minute publish runs at :00, :15, :30, :45), daily at a local time, or monthly on the
//! first at a local time. Local times are wall-clock times of the reporting time zone: a time
//! the spring-forward skips falls due an hour later that day, a time the autumn repeats once
//! (the first of the two).

use std::fmt;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// What `watch` runs, in the order it runs windows that are due together: fresh sensor data
/// first, publish last so it carries everything the others built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Window {
    /// Sensors: landing → bronze → silver → gold of the dirty days.
    Tick,
    /// Weather forecasts, then the layers built from them.
    Weather,
    /// The reference database snapshot, then the layers built from it.
    Reference,
    /// Re-benchmark the models (monthly).
    Benchmark,
    /// Predict with the selected models (daily, after the weather).
    Predict,
    /// Full source scan, compaction, checkpoints, vacuum, retention (nightly).
    Maintenance,
    /// Copy gold into PostgreSQL.
    Publish,
}

impl Window {
    pub const ALL: [Window; 7] = [
        Window::Tick,
        Window::Weather,
        Window::Reference,
        Window::Benchmark,
        Window::Predict,
        Window::Maintenance,
        Window::Publish,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Window::Tick => "tick",
            Window::Weather => "weather",
            Window::Reference => "reference",
            Window::Benchmark => "benchmark",
            Window::Predict => "predict",
            Window::Maintenance => "maintenance",
            Window::Publish => "publish",
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Window::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown window `{name}`")))
    }
}

/// When a window falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every so long, at multiples of it since the Unix epoch.
    Every(Duration),
    /// Every day at this local time.
    DailyAt(NaiveTime),
    /// The first of every month at this local time.
    MonthlyAt(NaiveTime),
}

impl Cadence {
    /// Whether missing a few slots is routine (a step ran longer than the interval).
    pub fn is_interval(self) -> bool {
        matches!(self, Cadence::Every(_))
    }

    /// The newest slot at or before `now`.
    pub fn latest_slot(self, zone: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Cadence::Every(every) => {
                let step = every.num_seconds().max(1);
                let seconds = now.timestamp().div_euclid(step) * step;
                DateTime::from_timestamp(seconds, 0).expect("in range")
            }
            Cadence::DailyAt(time) => {
                let today = now.with_timezone(&zone).date_naive();
                let slot = local(zone, today, time);
                if slot <= now {
                    slot
                } else {
                    local(zone, today.pred_opt().expect("in range"), time)
                }
            }
            Cadence::MonthlyAt(time) => {
                let first = now
                    .with_timezone(&zone)
                    .date_naive()
                    .with_day(1)
                    .expect("day 1");
                let slot = local(zone, first, time);
                if slot <= now {
                    slot
                } else {
                    local(zone, previous_month(first), time)
                }
            }
        }
    }

    /// The first slot after `after`.
    pub fn next_slot(self, zone: Tz, after: DateTime<Utc>) -> DateTime<Utc> {
        let latest = self.latest_slot(zone, after);
        match self {
            Cadence::Every(every) => latest + Duration::seconds(every.num_seconds().max(1)),
            Cadence::DailyAt(time) => {
                let day = latest.with_timezone(&zone).date_naive();
                local(zone, day.succ_opt().expect("in range"), time)
            }
            Cadence::MonthlyAt(time) => {
                let first = latest
                    .with_timezone(&zone)
                    .date_naive()
                    .with_day(1)
                    .expect("day 1");
                local(zone, next_month(first), time)
            }
        }
    }

    /// How many slots lie strictly between `earlier` and `later` (windows missed).
    pub fn slots_between(self, zone: Tz, earlier: DateTime<Utc>, later: DateTime<Utc>) -> u64 {
        if later <= earlier {
            return 0;
        }
        let first = self.next_slot(zone, earlier);
        if first >= later {
            return 0;
        }
        if let Cadence::Every(every) = self {
            let step = every.num_seconds().max(1);
            return (((later - first).num_seconds() - 1) / step + 1) as u64;
        }
        let mut missed = 0;
        let mut slot = first;
        while slot < later {
            missed += 1;
            slot = self.next_slot(zone, slot);
        }
        missed
    }
}

/// `date` at local `time` in `zone`: the earlier instant of a repeated time, an hour later for
/// a skipped one.
fn local(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let wall = date.and_time(time);
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            let later = wall + Duration::hours(1);
            zone.from_local_datetime(&later)
                .earliest()
                .map_or_else(|| later.and_utc(), |t| t.with_timezone(&Utc))
        }
    }
}

fn next_month(first: NaiveDate) -> NaiveDate {
    let (year, month) = if first.month() == 12 {
        (first.year() + 1, 1)
    } else {
        (first.year(), first.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1).expect("valid month")
}

fn previous_month(first: NaiveDate) -> NaiveDate {
    let (year, month) = if first.month() == 1 {
        (first.year() - 1, 12)
    } else {
        (first.year(), first.month() - 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1).expect("valid month")
}

/// The windows `watch` runs, each with its cadence, and the zone of local times.
#[derive(Debug, Clone)]
pub struct Plan {
    pub zone: Tz,
    pub windows: Vec<(Window, Cadence)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const ZURICH: Tz = chrono_tz::Europe::Zurich;

    #[test]
    fn interval_slots_are_aligned_to_the_epoch() {
        let every = Cadence::Every(Duration::minutes(15));
        let now = utc("2023-08-18T10:07:12Z");
        assert_eq!(every.latest_slot(ZURICH, now), utc("2023-08-18T10:00:00Z"));
        assert_eq!(every.next_slot(ZURICH, now), utc("2023-08-18T10:15:00Z"));
        let slot = utc("2023-08-18T10:15:00Z");
        assert_eq!(every.latest_slot(ZURICH, slot), slot);
        assert_eq!(every.next_slot(ZURICH, slot), utc("2023-08-18T10:30:00Z"));
        // 10:00 was run; now is 11:15: 10:15, 10:30, 10:45, 11:00 were missed.
        let missed = every.slots_between(
            ZURICH,
            utc("2023-08-18T10:00:00Z"),
            utc("2023-08-18T11:15:00Z"),
        );
        assert_eq!(missed, 4);
        let next = every.slots_between(ZURICH, utc("2023-08-18T10:00:00Z"), slot);
        assert_eq!(next, 0);
    }

    #[test]
    fn daily_slots_follow_local_time_across_daylight_saving() {
        let daily = Cadence::DailyAt(NaiveTime::from_hms_opt(7, 30, 0).unwrap());
        // Summer: 07:30 in Zurich is 05:30 UTC.
        assert_eq!(
            daily.latest_slot(ZURICH, utc("2023-08-18T05:29:00Z")),
            utc("2023-08-17T05:30:00Z")
        );
        assert_eq!(
            daily.next_slot(ZURICH, utc("2023-08-18T05:29:00Z")),
            utc("2023-08-18T05:30:00Z")
        );
        // Across the autumn change (29 October 2023): 07:30 is 06:30 UTC the next day.
        assert_eq!(
            daily.next_slot(ZURICH, utc("2023-10-28T05:30:00Z")),
            utc("2023-10-29T06:30:00Z")
        );
        // Two days asleep: one slot missed between the last run and the slot run now.
        assert_eq!(
            daily.slots_between(
                ZURICH,
                utc("2023-08-18T05:30:00Z"),
                utc("2023-08-20T05:30:00Z")
            ),
            1
        );
        // 02:30 does not exist on 26 March 2023 in Zurich: due at 03:30 local (01:30 UTC).
        let nightly = Cadence::DailyAt(NaiveTime::from_hms_opt(2, 30, 0).unwrap());
        assert_eq!(
            nightly.next_slot(ZURICH, utc("2023-03-25T02:00:00Z")),
            utc("2023-03-26T01:30:00Z")
        );
    }

    #[test]
    fn monthly_slots_fall_on_the_first() {
        let monthly = Cadence::MonthlyAt(NaiveTime::from_hms_opt(7, 30, 0).unwrap());
        assert_eq!(
            monthly.latest_slot(ZURICH, utc("2023-08-18T12:00:00Z")),
            utc("2023-08-01T05:30:00Z")
        );
        assert_eq!(
            monthly.next_slot(ZURICH, utc("2023-12-18T12:00:00Z")),
            utc("2024-01-01T06:30:00Z")
        );
        assert_eq!(
            monthly.latest_slot(ZURICH, utc("2024-01-01T06:00:00Z")),
            utc("2023-12-01T06:30:00Z")
        );
    }
}
