//! Run-time settings shared by every command, resolved from flags, the environment and the
//! `.env` file (in that order of precedence; see `cli::args` for every variable).

use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;

mod house_map;
mod sources;

pub use house_map::{HouseEntry, HouseMap, is_valid_apartment_id, parse_timezone};
pub use sources::{ReferenceSource, SftpSettings, SftpTarget, WeatherSource, parse_weather_sites};

/// A setting that cannot be used as given; the message names the variable and the value.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    /// The process exit code this error calls for.
    pub fn exit_code(&self) -> i32 {
        crate::ops::exit::CONFIG
    }
}

pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

pub const DEFAULT_WEATHER_SITE: &str = "Sion";

/// The defaults of the settings, shared by the command line (`cli::args`, where each is
/// documented) and [`Settings::for_lake`].
pub mod defaults {
    pub const LAKE_URL: &str = "./lake";
    pub const SENSOR_TIMEZONE: &str = "UTC";
    pub const REPORTING_TIMEZONE: &str = "Europe/Zurich";
    pub const LANDING_FSYNC: bool = true;
    pub const LOCK_WAIT_SECS: u64 = 0;
    pub const IO_CONCURRENCY: usize = 32;
    pub const SENSOR_SCAN_IDLE_MIN: u64 = 15;
    pub const BRONZE_BATCH_FILES: usize = 25_000;
    pub const BRONZE_BATCH_MB: u64 = 64;
    pub const MAX_SOURCE_FILE_MB: u64 = 64;
    pub const SILVER_PARTITIONS_PER_COMMIT: usize = 32;
    pub const RETENTION_LANDING_DAYS: i64 = 30;
    pub const WEATHER_MIN_YEAR: i32 = 2023;
    pub const WEATHER_MIN_AGE_SECS: u64 = 60;
    pub const PG_AUTO_READERS: bool = true;
    pub const SFTP_PORT: u16 = 22;
    pub const SFTP_PATH: &str = "/Meteo2";
    pub const SFTP_MAX_RETRIES: u32 = 3;
    pub const SFTP_RETRY_DELAY_SECS: u64 = 5;
    pub const SOURCE_RETRY_BUDGET_SECS: u64 = 120;
}
/// Words that make a sensor JSON key a secret (SECRET_KEYS): such members never leave landing.
pub const DEFAULT_SECRET_KEYS: &str = "token,api_key,apikey,password,passwd,secret,credential";
pub const DEFAULT_HOUSE_MAP: &str = "JimmyLoup=jimmy,JeremieVianin=jeremie";

/// Days of data kept per layer; `None` keeps a layer forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerRetention {
    pub bronze: Option<u32>,
    pub silver: Option<u32>,
    pub gold: Option<u32>,
    pub predictions: Option<u32>,
}

/// Everything a pipeline step needs to know about its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lake root: a local path or an `s3://bucket/prefix` URL.
    pub lake_url: String,
    /// The SMB share with sensor files, mounted as a local folder.
    pub smb_path: Option<PathBuf>,
    /// Landing files on a local lake are fsynced before they are named, and their folders after
    /// each batch: raw data survives a power loss (everything derived from it can be rebuilt).
    pub landing_fsync: bool,
    pub house_map: HouseMap,
    /// Zone of the wall-clock times in sensor file names and payloads.
    pub sensor_timezone: Tz,
    /// Worker threads for CPU-bound work (parsing, SQL).
    pub threads: usize,
    /// Concurrent file copies and reads against the share and the lake.
    pub io_concurrency: usize,
    /// How long to wait for the writer lease held by another process.
    pub lock_wait: Duration,
    /// A listing scan of the share runs when prediction found nothing for this long.
    pub scan_idle: Duration,
    /// Files flattened per bronze commit.
    pub bronze_batch_files: usize,
    /// Landing bytes parsed per bronze commit (bounds memory with large files).
    pub bronze_batch_bytes: u64,
    /// A source file larger than this is landed as it is (streamed) and quarantined unread.
    pub max_source_file_bytes: u64,
    /// Days of landed sensor files kept by `retention` (`None`: kept forever).
    pub retention_landing_days: Option<u32>,
    /// Days kept per layer (`None`: forever, the default): bronze, silver, gold and the
    /// predictions (`gold.fact_prediction`); see `lake::retention`.
    pub retention_days: LayerRetention,
    /// Silver partitions recomputed per commit (bounds memory on full rebuilds).
    pub silver_partitions_per_commit: usize,
    /// The weather forecast source, if configured.
    pub weather: Option<WeatherSource>,
    /// Forecast rows for times before this year are dropped in silver.
    pub weather_min_year: i32,
    /// A forecast file modified more recently than this may still be uploading: not landed yet.
    pub weather_min_age: Duration,
    /// The reference database (MySQL server or folder of CSV exports), if configured.
    pub reference: Option<ReferenceSource>,
    /// Zone of gold's local_* reporting columns.
    pub reporting_timezone: Tz,
    /// Forecast sites of gold, in order; apartments use the first.
    pub weather_sites: Vec<String>,
    /// PostgreSQL serving gold (`publish`), if configured.
    pub db_url: Option<String>,
    /// Publish creates reader roles for new apartments.
    pub pg_auto_readers: bool,
    /// Comma-separated words that make a sensor JSON key a secret (dropped before bronze).
    pub secret_keys: String,
}

impl Settings {
    /// Threads for many small blocking file operations on a local lake: twice the cores, so
    /// one thread's disk wait overlaps another's work, capped by `io_concurrency`.
    pub fn local_io_threads(&self) -> usize {
        (self.threads * 2).clamp(1, self.io_concurrency.max(1))
    }

    /// Defaults for tests and embedding: the local lake at `lake_url`, no sources.
    pub fn for_lake(lake_url: impl Into<String>) -> Self {
        Self {
            lake_url: lake_url.into(),
            smb_path: None,
            landing_fsync: defaults::LANDING_FSYNC,
            house_map: HouseMap::default(),
            sensor_timezone: defaults::SENSOR_TIMEZONE.parse().expect("valid zone"),
            threads: default_threads(),
            io_concurrency: defaults::IO_CONCURRENCY,
            lock_wait: Duration::from_secs(defaults::LOCK_WAIT_SECS),
            scan_idle: Duration::from_secs(defaults::SENSOR_SCAN_IDLE_MIN * 60),
            bronze_batch_files: defaults::BRONZE_BATCH_FILES,
            retention_landing_days: u32::try_from(defaults::RETENTION_LANDING_DAYS).ok(),
            retention_days: LayerRetention::default(),
            bronze_batch_bytes: defaults::BRONZE_BATCH_MB << 20,
            max_source_file_bytes: defaults::MAX_SOURCE_FILE_MB << 20,
            silver_partitions_per_commit: defaults::SILVER_PARTITIONS_PER_COMMIT,
            weather: None,
            weather_min_year: defaults::WEATHER_MIN_YEAR,
            weather_min_age: Duration::from_secs(defaults::WEATHER_MIN_AGE_SECS),
            reference: None,
            reporting_timezone: defaults::REPORTING_TIMEZONE.parse().expect("valid zone"),
            weather_sites: vec![DEFAULT_WEATHER_SITE.to_string()],
            db_url: None,
            pg_auto_readers: defaults::PG_AUTO_READERS,
            secret_keys: DEFAULT_SECRET_KEYS.to_string(),
        }
    }
}

/// One worker per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Load the `.env`-style file before flags are parsed, so that its values act as defaults for
/// flags (flags and real environment variables win). A missing default file is fine; a missing
/// file that was asked for explicitly is an error.
pub fn load_env_file(path: &std::path::Path, explicit: bool) -> Result<()> {
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            Ok(())
        }
        Err(e) => Err(ConfigError(format!(
            "cannot read env file {}: {e}",
            path.display()
        ))),
    }
}
