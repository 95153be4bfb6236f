//! The SQL files of `queries/`, compiled into the binary so that an installed `datacycle` needs
//! no source tree.

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
pub const DEVICE_DAYS: QueryFile = query!("silver/device_days.sql");

/// Stand-ins for the optional inputs of gold (DDL, run before the gold tables).
pub const GOLD_INPUTS: QueryFile = query!("gold/inputs.sql");
/// The days the lake has data for (used by the calendar dimensions through `query_file`).
pub const GOLD_DATA_RANGE: QueryFile = query!("gold/data_range.sql");

pub const DIM_DATE: QueryFile = query!("gold/dim_date.sql");
pub const DIM_DATETIME: QueryFile = query!("gold/dim_datetime.sql");
pub const DIM_TARIFF: QueryFile = query!("gold/dim_tariff.sql");
pub const DIM_WEATHER_SITE: QueryFile = query!("gold/dim_weather_site.sql");
pub const DIM_APARTMENT: QueryFile = query!("gold/dim_apartment.sql");
pub const DIM_ROOM: QueryFile = query!("gold/dim_room.sql");
pub const DIM_DEVICE: QueryFile = query!("gold/dim_device.sql");
pub const FACT_ENERGY_MINUTE: QueryFile = query!("gold/fact_energy_minute.sql");
pub const FACT_ENVIRONMENT_MINUTE: QueryFile = query!("gold/fact_environment_minute.sql");
pub const FACT_PRESENCE_MINUTE: QueryFile = query!("gold/fact_presence_minute.sql");
pub const FACT_DEVICE_HEALTH_DAY: QueryFile = query!("gold/fact_device_health_day.sql");
pub const FACT_WEATHER_HOUR: QueryFile = query!("gold/fact_weather_hour.sql");
pub const WEATHER_BEST_FORECAST: QueryFile = query!("gold/weather_best_forecast.sql");
pub const ML_OCCUPANCY_FEATURES: QueryFile = query!("ml/ml_occupancy_features.sql");
pub const ML_ENERGY_FEATURES: QueryFile = query!("ml/ml_energy_features.sql");
/// What `datacycle ml` reads of the feature tables (key, target, baselines, features).
pub const OCCUPANCY_TRAINING_SET: QueryFile = query!("ml/occupancy_training_set.sql");
pub const ENERGY_TRAINING_SET: QueryFile = query!("ml/energy_training_set.sql");
/// The home site's weather per hour, without leakage (features and forecasts).
pub const HOME_WEATHER: QueryFile = query!("ml/home_weather.sql");
/// `fact_presence_minute` with the occupancy forecasts' probabilities.
pub const PRESENCE_FORECAST: QueryFile = query!("ml/presence_forecast.sql");
/// The model each target's latest benchmark selected.
pub const SELECTED_MODELS: QueryFile = query!("ml/selected_models.sql");

/// The latest run of every step (`datacycle status`).
pub const LAST_RUNS: QueryFile = query!("ops/last_runs.sql");

/// Headline numbers printed by `datacycle demo`.
pub const DEMO_HEADLINES: QueryFile = query!("reports/demo_headlines.sql");

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
        DEVICE_DAYS,
        GOLD_INPUTS,
        GOLD_DATA_RANGE,
        DEMO_HEADLINES,
        OCCUPANCY_TRAINING_SET,
        ENERGY_TRAINING_SET,
        HOME_WEATHER,
        SELECTED_MODELS,
        PRESENCE_FORECAST,
        LAST_RUNS,
    ]
    .into_iter()
    .chain(SILVER_REFERENCE.iter().copied())
    .chain(super::tables::GOLD.iter().map(|t| t.query))
}
