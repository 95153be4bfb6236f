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

/// The silver tables of the reference database, one per file of `silver/reference/`, each
/// named after its file.
pub const SILVER_REFERENCE: &[QueryFile] = &[
    query!("silver/reference/dim_buildings.sql"),
    query!("silver/reference/dim_building_types.sql"),
    query!("silver/reference/dim_rooms.sql"),
    query!("silver/reference/dim_sensors.sql"),
    query!("silver/reference/dim_devices.sql"),
    query!("silver/reference/ref_energy_profiles.sql"),
    query!("silver/reference/ref_power_snapshots.sql"),
    query!("silver/reference/ref_parameters.sql"),
    query!("silver/reference/ref_parameters_type.sql"),
    query!("silver/reference/log_sensor_errors.sql"),
    query!("silver/reference/sensor_errors.sql"),
];

impl QueryFile {
    /// The file name without `.sql`: the name of the table a query file produces.
    pub fn stem(&self) -> &'static str {
        let name = self.path.rsplit('/').next().unwrap_or(self.path);
        name.strip_suffix(".sql").unwrap_or(name)
    }
}

/// Every query, for listing and for the SQL tests.
pub fn all() -> impl Iterator<Item = QueryFile> {
    [
        SENSOR_EVENTS,
        WEATHER_READINGS,
        WEATHER_FORECASTS,
        WEATHER_FILE_STATS,
    ]
    .into_iter()
    .chain(SILVER_REFERENCE.iter().copied())
}

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
