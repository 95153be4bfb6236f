//! The SQL files of `queries/` and the reference CSVs, compiled into the binary so that an
//! installed `datacycle` needs no source tree. `REFERENCE_DIR` overrides reference CSVs by name.

/// A SQL file of `queries/`.
#[derive(Debug, Clone, Copy)]
pub struct QueryFile {
    /// Path below `queries/`, e.g. `silver/sensor_events.sql`.
    pub path: &'static str,
    pub sql: &'static str,
}

macro_rules! query {
    ($path:literal) => {
        QueryFile {
            path: $path,
            sql: include_str!(concat!("../../queries/", $path)),
        }
    };
}

pub const SENSOR_EVENTS: QueryFile = query!("silver/sensor_events.sql");
pub const WEATHER_READINGS: QueryFile = query!("silver/weather_readings.sql");
pub const WEATHER_FORECASTS: QueryFile = query!("silver/weather_forecasts.sql");
pub const WEATHER_FILE_STATS: QueryFile = query!("silver/weather_file_stats.sql");

/// Every query, for listing and for the SQL tests.
pub const ALL: &[QueryFile] = &[
    SENSOR_EVENTS,
    WEATHER_READINGS,
    WEATHER_FORECASTS,
    WEATHER_FILE_STATS,
];

/// A reference CSV of `queries/reference/`, registered as `reference.<name>`.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceFile {
    pub name: &'static str,
    pub csv: &'static str,
}

macro_rules! reference {
    ($name:literal) => {
        ReferenceFile {
            name: $name,
            csv: include_str!(concat!("../../queries/reference/", $name, ".csv")),
        }
    };
}

pub const REFERENCES: &[ReferenceFile] = &[
    reference!("sensor_fields"),
    reference!("room_map"),
    reference!("outlier_bounds"),
    reference!("weather_measurements"),
];
