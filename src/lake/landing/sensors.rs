//! Sensor files in landing: their names (`DD.MM.YYYY HHMM_<House>_received.json`, one file per
//! apartment and minute) and their canonical landing paths, which name a file in reports and
//! bronze's hand-over (the bytes are rows of `landing.sensor_files`, see `sensor_table`).
//! Lexicographic order of these names is not chronological; always parse them.

use chrono::{Datelike, NaiveDateTime, Timelike};

const SUFFIX: &str = "_received.json";
const TIME_FORMAT: &str = "%d.%m.%Y %H%M";

/// A parsed sensor file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SensorFileName {
    /// The minute in the name (wall-clock time of the sensor gateway, no zone).
    pub minute: NaiveDateTime,
    /// The `<House>` token, as written in the name.
    pub house: String,
}

impl SensorFileName {
    /// Parse a file name (not a path); `None` when it does not follow the pattern.
    pub fn parse(name: &str) -> Option<Self> {
        let stem = name.strip_suffix(SUFFIX)?;
        let (time, house) = stem.split_once('_')?;
        if house.is_empty() || time.len() != 15 {
            return None;
        }
        let minute = NaiveDateTime::parse_from_str(time, TIME_FORMAT).ok()?;
        Some(Self {
            minute,
            house: house.to_string(),
        })
    }

    /// The file name of `house` at `minute`.
    pub fn format(minute: NaiveDateTime, house: &str) -> String {
        format!("{}_{house}{SUFFIX}", minute.format(TIME_FORMAT))
    }

    pub fn name(&self) -> String {
        Self::format(self.minute, &self.house)
    }
}

/// Canonical landing path of a sensor file: `landing/sensors/<apartment>/YYYY/MM/DD/HH/<name>`.
pub fn landing_path(apartment: &str, minute: NaiveDateTime, name: &str) -> String {
    format!(
        "{}/{}/{:04}/{:02}/{:02}/{:02}/{name}",
        ROOT,
        apartment,
        minute.year(),
        minute.month(),
        minute.day(),
        minute.hour()
    )
}

/// Root of the canonical landing paths.
pub const ROOT: &str = "landing/sensors";

/// (apartment, file name) of a landing path relative to the lake root.
pub fn parse_landing_path(relative: &str) -> Option<(&str, &str)> {
    let rest = relative.strip_prefix(ROOT)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let apartment = parts.next()?;
    let name = rest.rsplit('/').next()?;
    (parts.count() == 5).then_some((apartment, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_names() {
        let parsed = SensorFileName::parse("18.08.2023 1000_JimmyLoup_received.json").unwrap();
        assert_eq!(parsed.house, "JimmyLoup");
        assert_eq!(parsed.minute.to_string(), "2023-08-18 10:00:00");
        assert_eq!(parsed.name(), "18.08.2023 1000_JimmyLoup_received.json");
        for bad in [
            "18.08.2023 1000_JimmyLoup_received.json.gz",
            "18.08.2023 2500_JimmyLoup_received.json",
            "32.08.2023 1000_JimmyLoup_received.json",
            "18.08.2023 1000__received.json",
            "18.08.2023_1000_JimmyLoup_received.json",
            "notes.txt",
        ] {
            assert!(SensorFileName::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn landing_paths_round_trip() {
        let parsed = SensorFileName::parse("01.09.2023 0705_JimmyLoup_received.json").unwrap();
        let path = landing_path("jimmy", parsed.minute, &parsed.name());
        assert_eq!(
            path,
            "landing/sensors/jimmy/2023/09/01/07/01.09.2023 0705_JimmyLoup_received.json"
        );
        assert_eq!(
            parse_landing_path(&path),
            Some(("jimmy", "01.09.2023 0705_JimmyLoup_received.json"))
        );
        assert_eq!(parse_landing_path("landing/sensors/jimmy/x.json"), None);
    }
}
