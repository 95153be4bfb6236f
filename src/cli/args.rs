//! The flag groups: each setting once, with its environment twin and its doc comment as `--help`,
//! grouped under a help heading and attached only to the commands that use it. Precedence: flag,
//! then environment, then the env file. Defaults are the named constants of `config::defaults`,
//! shared with `Settings`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use clap::builder::BoolishValueParser;

use crate::config::{
    DEFAULT_HOUSE_MAP, DEFAULT_SECRET_KEYS, DEFAULT_WEATHER_SITE, HouseMap, ReferenceSource,
    Settings, SftpSettings, WeatherSource, default_threads, defaults, parse_timezone,
    parse_weather_sites,
};
use crate::error::{Error, Result};
use crate::ops::logging::LogFormat;

/// A group of flags that sets its part of [`Settings`].
pub trait Group {
    fn apply(&self, settings: &mut Settings) -> Result<()>;
}

/// Settings for a command that uses the lake and `groups`; everything else keeps its default.
pub fn settings(lake: &LakeArgs, groups: &[&dyn Group]) -> Result<Settings> {
    let mut settings = Settings::for_lake(lake.lake_url.clone());
    lake.apply(&mut settings)?;
    for group in groups {
        group.apply(&mut settings)?;
    }
    Ok(settings)
}

/// Flags of every command: the env file, logs and progress bars.
#[derive(Debug, Args)]
#[command(next_help_heading = "Logging")]
pub struct LoggingArgs {
    /// File of KEY=value settings read before anything else (e.g. `.env.prod`); a missing
    /// default `.env` is fine.
    #[arg(long, env = "ENV_FILE", default_value = ".env", global = true)]
    pub env_file: PathBuf,

    /// Log line format on stderr.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Log level or filter (`info`, `debug`, `datacycle=debug,deltalake=info`).
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,

    /// Also write JSON logs to daily files in this folder.
    #[arg(long, env = "LOG_DIR", global = true)]
    pub log_dir: Option<PathBuf>,

    /// Never draw progress bars (NO_PROGRESS=1/true/yes).
    #[arg(long, env = "NO_PROGRESS", global = true, action = clap::ArgAction::SetTrue,
          value_parser = BoolishValueParser::new())]
    pub no_progress: bool,
}

/// Where the lake is and how a command writes to it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Lake")]
pub struct LakeArgs {
    /// Lake root: a local folder or `s3://bucket/prefix` (S3/MinIO settings from the AWS_*
    /// variables: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    /// AWS_ALLOW_HTTP).
    #[arg(long, env = "LAKE_URL", default_value = defaults::LAKE_URL, hide_env_values = true)]
    pub lake_url: String,

    /// Seconds to wait for the lake's writer lease when another writer holds it (0: refuse at once).
    #[arg(long, env = "LOCK_WAIT_SECS", default_value_t = defaults::LOCK_WAIT_SECS)]
    pub lock_wait: u64,

    /// Worker threads for parsing and SQL (default: one per core).
    #[arg(long, env = "THREADS")]
    pub threads: Option<usize>,

    /// Concurrent file reads and writes against the share and the lake.
    #[arg(long, env = "IO_CONCURRENCY", default_value_t = defaults::IO_CONCURRENCY)]
    pub io_concurrency: usize,

    /// fsync landing files on a local lake (before they are named, and their folders after each
    /// batch), so raw data survives a power loss; `false` trades that for speed on bulk loads.
    #[arg(long, env = "LANDING_FSYNC", default_value_t = defaults::LANDING_FSYNC,
          action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub landing_fsync: bool,

    /// A source file larger than this many MiB is landed as it is and quarantined in bronze
    /// without being read (a real sensor file is 2 KiB, a forecast file 12 MiB).
    #[arg(long, env = "MAX_SOURCE_FILE_MB", default_value_t = defaults::MAX_SOURCE_FILE_MB)]
    pub max_source_file_mb: u64,
}

impl Group for LakeArgs {
    fn apply(&self, settings: &mut Settings) -> Result<()> {
        settings.lock_wait = Duration::from_secs(self.lock_wait);
        settings.threads = self.threads.unwrap_or_else(default_threads).max(1);
        settings.io_concurrency = self.io_concurrency.max(1);
        settings.landing_fsync = self.landing_fsync;
        settings.max_source_file_bytes = self.max_source_file_mb.max(1) << 20;
        Ok(())
    }
}

/// What the data means: apartments, time zones, forecast sites.
#[derive(Debug, Args)]
#[command(next_help_heading = "Apartments and time")]
pub struct ModelArgs {
    /// House token of sensor file names to apartment id, `House=apartment,...` (case-insensitive).
    #[arg(long, env = "HOUSE_MAP", default_value = DEFAULT_HOUSE_MAP)]
    pub house_map: String,

    /// IANA time zone of the wall-clock times in sensor files (e.g. `Europe/Zurich`).
    #[arg(long, env = "SENSOR_TIMEZONE", default_value = defaults::SENSOR_TIMEZONE)]
    pub sensor_timezone: String,

    /// IANA zone of gold's local_* reporting columns (keys stay UTC).
    #[arg(long, env = "REPORTING_TIMEZONE", default_value = defaults::REPORTING_TIMEZONE)]
    pub reporting_timezone: String,

    /// Forecast sites kept in gold, comma-separated MeteoSwiss names; apartments use the first.
    #[arg(long = "gold-weather-sites", env = "WEATHER_SITES", default_value = DEFAULT_WEATHER_SITE)]
    pub gold_weather_sites: String,

    /// Weather forecast rows for times before this year are dropped in silver.
    #[arg(long, env = "WEATHER_MIN_YEAR", default_value_t = defaults::WEATHER_MIN_YEAR)]
    pub weather_min_year: i32,
}

impl Group for ModelArgs {
    fn apply(&self, settings: &mut Settings) -> Result<()> {
        settings.house_map = HouseMap::parse(&self.house_map)?;
        settings.sensor_timezone = parse_timezone(&self.sensor_timezone, "SENSOR_TIMEZONE")?;
        settings.reporting_timezone =
            parse_timezone(&self.reporting_timezone, "REPORTING_TIMEZONE")?;
        settings.weather_sites = parse_weather_sites(&self.gold_weather_sites)?;
        settings.weather_min_year = self.weather_min_year;
        Ok(())
    }
}

/// The SMB share of sensor files.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sensor share")]
pub struct ShareArgs {
    /// Folder where the SMB share with the sensor JSON files is mounted.
    #[arg(long, env = "SMB_PATH", hide_env_values = true)]
    pub smb_path: Option<PathBuf>,

    /// Minutes without a new sensor file after which a listing scan of the share runs.
    #[arg(long, env = "SENSOR_SCAN_IDLE_MIN", default_value_t = defaults::SENSOR_SCAN_IDLE_MIN)]
    pub sensor_scan_idle_min: u64,
}

impl Group for ShareArgs {
    fn apply(&self, settings: &mut Settings) -> Result<()> {
        settings.smb_path = self.smb_path.clone().filter(|p| !p.as_os_str().is_empty());
        settings.scan_idle = Duration::from_secs(self.sensor_scan_idle_min * 60);
        Ok(())
    }
}

/// How long landed files are kept.
#[derive(Debug, Args)]
#[command(next_help_heading = "Retention")]
pub struct RetentionArgs {
    /// Days of landed sensor files kept (by the date in their names); older days already in
    /// bronze are deleted by `retention`. -1 keeps landing forever.
    #[arg(long, env = "RETENTION_LANDING_DAYS", default_value_t = defaults::RETENTION_LANDING_DAYS,
          allow_negative_numbers = true)]
    pub retention_landing_days: i64,
    /// Days of bronze kept (whole day partitions; reference snapshots are never expired).
    /// -1 keeps bronze forever.
    #[arg(long, env = "RETENTION_BRONZE_DAYS", default_value_t = -1, allow_negative_numbers = true)]
    pub retention_bronze_days: i64,
    /// Days of silver kept (`silver.device_days`, the index of days, is kept). -1: forever.
    #[arg(long, env = "RETENTION_SILVER_DAYS", default_value_t = -1, allow_negative_numbers = true)]
    pub retention_silver_days: i64,
    /// Days of gold facts kept (dimensions are kept). -1: forever.
    #[arg(long, env = "RETENTION_GOLD_DAYS", default_value_t = -1, allow_negative_numbers = true)]
    pub retention_gold_days: i64,
    /// Days of predictions (`gold.fact_prediction`) kept. -1: forever.
    #[arg(long, env = "RETENTION_PREDICTION_DAYS", default_value_t = -1,
          allow_negative_numbers = true)]
    pub retention_prediction_days: i64,
}

/// `days` of `variable`, or `None` for -1 (kept forever).
fn retention_days(variable: &str, days: i64) -> Result<Option<u32>> {
    match days {
        -1 => Ok(None),
        days => u32::try_from(days).map(Some).map_err(|_| {
            Error::config(format!(
                "{variable}={days}: a number of days, or -1 to keep the data forever"
            ))
        }),
    }
}

impl Group for RetentionArgs {
    fn apply(&self, settings: &mut Settings) -> Result<()> {
        settings.retention_landing_days =
            retention_days("RETENTION_LANDING_DAYS", self.retention_landing_days)?;
        settings.retention_days = crate::config::LayerRetention {
            bronze: retention_days("RETENTION_BRONZE_DAYS", self.retention_bronze_days)?,
            silver: retention_days("RETENTION_SILVER_DAYS", self.retention_silver_days)?,
            gold: retention_days("RETENTION_GOLD_DAYS", self.retention_gold_days)?,
            predictions: retention_days(
                "RETENTION_PREDICTION_DAYS",
                self.retention_prediction_days,
            )?,
        };
        Ok(())
    }
}

/// How bronze and silver are built.
#[derive(Debug, Args)]
#[command(next_help_heading = "Build")]
pub struct BuildTuningArgs {
    /// Sensor files flattened per bronze commit.
    #[arg(long, env = "BRONZE_BATCH_FILES", default_value_t = defaults::BRONZE_BATCH_FILES)]
    pub bronze_batch_files: usize,

    /// Landing MiB parsed per bronze commit; bounds memory with large files (weather CSVs).
    #[arg(long, env = "BRONZE_BATCH_MB", default_value_t = defaults::BRONZE_BATCH_MB)]
    pub bronze_batch_mb: u64,

    /// Silver (apartment, date) partitions recomputed per commit; bounds memory of full rebuilds.
    #[arg(long, env = "SILVER_PARTITIONS_PER_COMMIT",
          default_value_t = defaults::SILVER_PARTITIONS_PER_COMMIT)]
    pub silver_partitions_per_commit: usize,

    /// Comma-separated words that make a sensor JSON key a secret: such members are dropped at
    /// any depth before bronze (case-insensitive substring match) and counted.
    #[arg(long, env = "SECRET_KEYS", default_value = DEFAULT_SECRET_KEYS)]
    pub secret_keys: String,
}

impl Group for BuildTuningArgs {
    fn apply(&self, settings: &mut Settings) -> Result<()> {
        settings.bronze_batch_files = self.bronze_batch_files.max(1);
        settings.bronze_batch_bytes = self.bronze_batch_mb.max(1) << 20;
        settings.silver_partitions_per_commit = self.silver_partitions_per_commit.max(1);
        settings.secret_keys = self.secret_keys.clone();
        Ok(())
    }
}

/// The weather forecast source.
#[derive(Debug, Args)]
#[command(next_help_heading = "Weather forecasts (sFTP)")]
pub struct WeatherArgs {
    /// Weather forecast source: `sftp://user@host:port/Meteo2` or a local folder. Without it, the
    /// SFTP_HOST/SFTP_PORT/SFTP_USER/SFTP_PATH settings describe the server.
    #[arg(long, env = "WEATHER_SOURCE", hide_env_values = true)]
    pub weather_source: Option<String>,

    /// sFTP server host (when WEATHER_SOURCE is not set).
    #[arg(long, env = "SFTP_HOST")]
    pub sftp_host: Option<String>,

    /// sFTP server port.
    #[arg(long, env = "SFTP_PORT", default_value_t = defaults::SFTP_PORT)]
    pub sftp_port: u16,

    /// sFTP user.
    #[arg(long, env = "SFTP_USER")]
    pub sftp_user: Option<String>,

    /// sFTP password (prefer the environment or the env file to a flag).
    #[arg(long, env = "SFTP_PASSWORD", hide_env_values = true)]
    pub sftp_password: Option<String>,

    /// Private key file for sFTP public-key authentication (instead of a password).
    #[arg(long, env = "SFTP_KEY_FILE", hide_env_values = true)]
    pub sftp_key_file: Option<PathBuf>,

    /// Remote folder of the forecast files.
    #[arg(long, env = "SFTP_PATH", default_value = defaults::SFTP_PATH)]
    pub sftp_path: String,

    /// OpenSSH known_hosts file the server's host key is checked against (default ~/.ssh/known_hosts).
    #[arg(long, env = "SFTP_KNOWN_HOSTS")]
    pub sftp_known_hosts: Option<PathBuf>,

    /// Record an unknown sFTP host key in SFTP_KNOWN_HOSTS instead of refusing the server.
    #[arg(long, env = "SFTP_ACCEPT_NEW_HOST", action = clap::ArgAction::SetTrue,
          value_parser = BoolishValueParser::new())]
    pub sftp_accept_new_host: bool,

    /// Retries after a lost sFTP connection or a failed file download.
    #[arg(long, env = "SFTP_MAX_RETRIES", default_value_t = defaults::SFTP_MAX_RETRIES)]
    pub sftp_max_retries: u32,

    /// Seconds before the first sFTP retry; doubles with each retry.
    #[arg(long, env = "SFTP_RETRY_DELAY", default_value_t = defaults::SFTP_RETRY_DELAY_SECS)]
    pub sftp_retry_delay: u64,

    /// Seconds one run may spend waiting for retries of a source in all (the next run, or the
    /// next scheduled window, retries a longer outage).
    #[arg(long, env = "SOURCE_RETRY_BUDGET_SECS",
          default_value_t = defaults::SOURCE_RETRY_BUDGET_SECS)]
    pub source_retry_budget_secs: u64,

    /// Seconds since its last modification before a forecast file is landed (younger files may
    /// still be uploading and wait for the next run).
    #[arg(long, env = "WEATHER_MIN_AGE_SECS", default_value_t = defaults::WEATHER_MIN_AGE_SECS)]
    pub weather_min_age_secs: u64,
}

impl Group for WeatherArgs {
    fn apply(&self, settings: &mut Settings) -> Result<()> {
        let sftp = SftpSettings {
            host: self.sftp_host.clone(),
            port: self.sftp_port,
            user: self.sftp_user.clone(),
            password: self.sftp_password.clone(),
            key_file: self.sftp_key_file.clone(),
            path: self.sftp_path.clone(),
            known_hosts: self.sftp_known_hosts.clone(),
            accept_new_host: self.sftp_accept_new_host,
            max_retries: self.sftp_max_retries,
            retry_delay: Duration::from_secs(self.sftp_retry_delay),
            retry_budget: Duration::from_secs(self.source_retry_budget_secs),
        };
        settings.weather = WeatherSource::resolve(self.weather_source.as_deref(), &sftp)?;
        settings.weather_min_age = Duration::from_secs(self.weather_min_age_secs);
        Ok(())
    }
}

/// The reference database.
#[derive(Debug, Args)]
#[command(next_help_heading = "Reference database")]
pub struct ReferenceArgs {
    /// Reference database: `mysql://user:password@host:3306/pidb` (MariaDB too).
    #[arg(long, env = "MYSQL_URL", hide_env_values = true)]
    pub mysql_url: Option<String>,

    /// Reference tables from a folder of CSV exports (`<table>.csv`, an empty field is NULL) or
    /// a mysql:// URL; MYSQL_URL is the same for a server.
    #[arg(long, env = "REFERENCE_SOURCE", hide_env_values = true)]
    pub reference_source: Option<String>,
}

impl Group for ReferenceArgs {
    fn apply(&self, settings: &mut Settings) -> Result<()> {
        settings.reference =
            ReferenceSource::resolve(self.mysql_url.as_deref(), self.reference_source.as_deref())?;
        Ok(())
    }
}

/// The PostgreSQL serving layer.
#[derive(Debug, Args)]
#[command(next_help_heading = "PostgreSQL")]
pub struct PostgresArgs {
    /// PostgreSQL that serves gold: `postgresql://app:password@host:5432/datacycle`. `rebuild`
    /// publishes to it when set.
    #[arg(long, env = "DB_URL", hide_env_values = true)]
    pub db_url: Option<String>,

    /// Publish maps a new apartment to its reader role (reader_<apartment>) when that role exists;
    /// `pg init` creates the roles (the app role may not).
    #[arg(long, env = "PG_AUTO_READERS", default_value_t = defaults::PG_AUTO_READERS,
          action = clap::ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub pg_auto_readers: bool,
}

impl Group for PostgresArgs {
    fn apply(&self, settings: &mut Settings) -> Result<()> {
        settings.db_url = self.db_url.clone().filter(|u| !u.trim().is_empty());
        settings.pg_auto_readers = self.pg_auto_readers;
        Ok(())
    }
}
