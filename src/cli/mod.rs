//! The command line: flags (each with an environment twin), commands, and output formats.

mod demo;
mod output;
mod pipeline;
mod sql;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{
    DEFAULT_HOUSE_MAP, HouseMap, Settings, SftpTarget, WeatherSource, default_threads, defaults,
    parse_timezone,
};
use crate::error::{Error, Result};
use crate::ops::logging::LogFormat;
use crate::sources::reference::ReferenceSource;

pub use output::{OutputFormat, ReportFormat};

/// datacycle: apartment IoT data from sensor files, weather forecasts and a reference database
/// into a Delta lake (landing → bronze → silver → gold), with every transform in DataFusion SQL.
#[derive(Debug, Parser)]
#[command(name = "datacycle", version, about, long_about = None, max_term_width = 110)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings shared by every command. Precedence: flag, then environment, then the env file.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// File of KEY=value settings read before anything else (e.g. `.env.prod`); a missing
    /// default `.env` is fine.
    #[arg(long, env = "ENV_FILE", default_value = ".env", global = true)]
    pub env_file: PathBuf,

    /// Lake root: a local folder or `s3://bucket/prefix` (S3/MinIO settings from the AWS_*
    /// variables: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    /// AWS_ALLOW_HTTP).
    #[arg(
        long,
        env = "LAKE_URL",
        default_value = defaults::LAKE_URL,
        global = true,
        hide_env_values = true
    )]
    pub lake_url: String,

    /// Folder where the SMB share with the sensor JSON files is mounted.
    #[arg(long, env = "SMB_PATH", global = true, hide_env_values = true)]
    pub smb_path: Option<PathBuf>,

    /// fsync landing files on a local lake (before they are named, and their folders after each
    /// batch), so raw data survives a power loss; `false` trades that for speed on bulk loads.
    #[arg(long, env = "LANDING_FSYNC", default_value_t = defaults::LANDING_FSYNC, global = true,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub landing_fsync: bool,

    /// House token of sensor file names to apartment id, `House=apartment,...` (case-insensitive).
    #[arg(long, env = "HOUSE_MAP", default_value = DEFAULT_HOUSE_MAP, global = true)]
    pub house_map: String,

    /// IANA time zone of the wall-clock times in sensor files (e.g. `Europe/Zurich`).
    #[arg(long, env = "SENSOR_TIMEZONE", default_value = defaults::SENSOR_TIMEZONE, global = true)]
    pub sensor_timezone: String,

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

    /// Seconds to wait for the lake's writer lease when another writer holds it (0: refuse at once).
    #[arg(long, env = "LOCK_WAIT_SECS", default_value_t = defaults::LOCK_WAIT_SECS, global = true)]
    pub lock_wait: u64,

    /// Worker threads for parsing and SQL (default: one per core).
    #[arg(long, env = "THREADS", global = true)]
    pub threads: Option<usize>,

    /// Concurrent file reads and writes against the share and the lake.
    #[arg(long, env = "IO_CONCURRENCY", default_value_t = defaults::IO_CONCURRENCY, global = true)]
    pub io_concurrency: usize,

    /// Minutes without a new sensor file after which a listing scan of the share runs.
    #[arg(
        long,
        env = "SENSOR_SCAN_IDLE_MIN",
        default_value_t = defaults::SENSOR_SCAN_IDLE_MIN,
        global = true
    )]
    pub sensor_scan_idle_min: u64,

    /// Sensor files flattened per bronze commit.
    #[arg(
        long,
        env = "BRONZE_BATCH_FILES",
        default_value_t = defaults::BRONZE_BATCH_FILES,
        global = true
    )]
    pub bronze_batch_files: usize,

    /// Landing MiB parsed per bronze commit; bounds memory with large files (weather CSVs).
    #[arg(long, env = "BRONZE_BATCH_MB", default_value_t = defaults::BRONZE_BATCH_MB, global = true)]
    pub bronze_batch_mb: u64,

    /// A source file larger than this many MiB is landed as it is and quarantined in bronze
    /// without being read (a real sensor file is 2 KiB, a forecast file 12 MiB).
    #[arg(long, env = "MAX_SOURCE_FILE_MB", default_value_t = defaults::MAX_SOURCE_FILE_MB, global = true)]
    pub max_source_file_mb: u64,

    /// Silver (apartment, date) partitions recomputed per commit; bounds memory of full rebuilds.
    #[arg(
        long,
        env = "SILVER_PARTITIONS_PER_COMMIT",
        default_value_t = defaults::SILVER_PARTITIONS_PER_COMMIT,
        global = true
    )]
    pub silver_partitions_per_commit: usize,

    /// Weather forecast source: `sftp://user@host:port/Meteo2` or a local folder. Without it, the
    /// SFTP_HOST/SFTP_PORT/SFTP_USER/SFTP_PATH settings describe the server.
    #[arg(long, env = "WEATHER_SOURCE", global = true, hide_env_values = true)]
    pub weather_source: Option<String>,

    /// sFTP server host (when WEATHER_SOURCE is not set).
    #[arg(long, env = "SFTP_HOST", global = true)]
    pub sftp_host: Option<String>,

    /// sFTP server port.
    #[arg(long, env = "SFTP_PORT", default_value_t = defaults::SFTP_PORT, global = true)]
    pub sftp_port: u16,

    /// sFTP user.
    #[arg(long, env = "SFTP_USER", global = true)]
    pub sftp_user: Option<String>,

    /// sFTP password (prefer the environment or the env file to a flag).
    #[arg(long, env = "SFTP_PASSWORD", global = true, hide_env_values = true)]
    pub sftp_password: Option<String>,

    /// Private key file for sFTP public-key authentication (instead of a password).
    #[arg(long, env = "SFTP_KEY_FILE", global = true, hide_env_values = true)]
    pub sftp_key_file: Option<PathBuf>,

    /// Remote folder of the forecast files.
    #[arg(long, env = "SFTP_PATH", default_value = defaults::SFTP_PATH, global = true)]
    pub sftp_path: String,

    /// OpenSSH known_hosts file the server's host key is checked against (default ~/.ssh/known_hosts).
    #[arg(long, env = "SFTP_KNOWN_HOSTS", global = true)]
    pub sftp_known_hosts: Option<PathBuf>,

    /// Record an unknown sFTP host key in SFTP_KNOWN_HOSTS instead of refusing the server.
    #[arg(long, env = "SFTP_ACCEPT_NEW_HOST", global = true, action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub sftp_accept_new_host: bool,

    /// Retries after a lost sFTP connection or a failed file download.
    #[arg(long, env = "SFTP_MAX_RETRIES", default_value_t = defaults::SFTP_MAX_RETRIES, global = true)]
    pub sftp_max_retries: u32,

    /// Seconds before the first sFTP retry; doubles with each retry.
    #[arg(long, env = "SFTP_RETRY_DELAY", default_value_t = defaults::SFTP_RETRY_DELAY_SECS, global = true)]
    pub sftp_retry_delay: u64,

    /// Seconds one run may spend waiting for retries of a source in all (the next run, or the
    /// next scheduled window, retries a longer outage).
    #[arg(
        long,
        env = "SOURCE_RETRY_BUDGET_SECS",
        default_value_t = defaults::SOURCE_RETRY_BUDGET_SECS,
        global = true
    )]
    pub source_retry_budget_secs: u64,

    /// Seconds since its last modification before a forecast file is landed (younger files may
    /// still be uploading and wait for the next run).
    #[arg(
        long,
        env = "WEATHER_MIN_AGE_SECS",
        default_value_t = defaults::WEATHER_MIN_AGE_SECS,
        global = true
    )]
    pub weather_min_age_secs: u64,

    /// Weather forecast rows for times before this year are dropped in silver.
    #[arg(long, env = "WEATHER_MIN_YEAR", default_value_t = defaults::WEATHER_MIN_YEAR, global = true)]
    pub weather_min_year: i32,

    /// Reference database: `mysql://user:password@host:3306/pidb` (MariaDB too).
    #[arg(long, env = "MYSQL_URL", global = true, hide_env_values = true)]
    pub mysql_url: Option<String>,

    /// Reference tables from a folder of CSV exports (`<table>.csv`, an empty field is NULL) or
    /// a mysql:// URL; MYSQL_URL is the same for a server.
    #[arg(long, env = "REFERENCE_SOURCE", global = true, hide_env_values = true)]
    pub reference_source: Option<String>,

    /// IANA zone of gold's local_* reporting columns (keys stay UTC).
    #[arg(
        long,
        env = "REPORTING_TIMEZONE",
        default_value = defaults::REPORTING_TIMEZONE,
        global = true
    )]
    pub reporting_timezone: String,

    /// Forecast sites kept in gold, comma-separated MeteoSwiss names; apartments use the first.
    #[arg(long = "gold-weather-sites", env = "WEATHER_SITES",
          default_value = crate::config::DEFAULT_WEATHER_SITE, global = true)]
    pub gold_weather_sites: String,

    /// PostgreSQL that serves gold: `postgresql://app:password@host:5432/datacycle`. `rebuild`
    /// publishes to it when set.
    #[arg(long, env = "DB_URL", global = true, hide_env_values = true)]
    pub db_url: Option<String>,

    /// Publish maps a new apartment to its reader role (reader_<apartment>) when that role exists;
    /// `pg init` creates the roles (the app role may not).
    #[arg(long, env = "PG_AUTO_READERS", default_value_t = defaults::PG_AUTO_READERS, global = true,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub pg_auto_readers: bool,

    /// Comma-separated words that make a sensor JSON key a secret: such members are dropped at
    /// any depth before bronze (case-insensitive substring match) and counted.
    #[arg(long, env = "SECRET_KEYS", default_value = crate::config::DEFAULT_SECRET_KEYS, global = true)]
    pub secret_keys: String,

    /// Never draw progress bars (NO_PROGRESS=1/true/yes).
    #[arg(long, env = "NO_PROGRESS", global = true, action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub no_progress: bool,
}

impl GlobalArgs {
    pub fn settings(&self) -> Result<Settings> {
        let mut settings = Settings::for_lake(self.lake_url.clone());
        settings.smb_path = self.smb_path.clone().filter(|p| !p.as_os_str().is_empty());
        settings.landing_fsync = self.landing_fsync;
        settings.house_map = HouseMap::parse(&self.house_map)?;
        settings.sensor_timezone = parse_timezone(&self.sensor_timezone, "SENSOR_TIMEZONE")?;
        settings.threads = self.threads.unwrap_or_else(default_threads).max(1);
        settings.io_concurrency = self.io_concurrency.max(1);
        settings.lock_wait = Duration::from_secs(self.lock_wait);
        settings.scan_idle = Duration::from_secs(self.sensor_scan_idle_min * 60);
        settings.bronze_batch_files = self.bronze_batch_files.max(1);
        settings.bronze_batch_bytes = self.bronze_batch_mb.max(1) << 20;
        settings.max_source_file_bytes = self.max_source_file_mb.max(1) << 20;
        settings.silver_partitions_per_commit = self.silver_partitions_per_commit.max(1);
        settings.weather = self.weather_source()?;
        settings.weather_min_year = self.weather_min_year;
        settings.weather_min_age = Duration::from_secs(self.weather_min_age_secs);
        settings.reference = self.reference_source()?;
        settings.reporting_timezone =
            parse_timezone(&self.reporting_timezone, "REPORTING_TIMEZONE")?;
        settings.weather_sites = parse_weather_sites(&self.gold_weather_sites)?;
        settings.db_url = self.db_url.clone().filter(|u| !u.trim().is_empty());
        settings.pg_auto_readers = self.pg_auto_readers;
        settings.secret_keys = self.secret_keys.clone();
        Ok(settings)
    }

    /// The reference source from MYSQL_URL or REFERENCE_SOURCE (both set: they must agree).
    fn reference_source(&self) -> Result<Option<ReferenceSource>> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(ReferenceSource::parse)
        };
        match (given(&self.mysql_url), given(&self.reference_source)) {
            (Some(mysql), Some(other)) if mysql != other => Err(Error::Config(format!(
                "MYSQL_URL ({}) and REFERENCE_SOURCE ({}) name different reference sources; set one",
                mysql.display(),
                other.display()
            ))),
            (mysql, other) => Ok(mysql.or(other)),
        }
    }

    /// The weather source from WEATHER_SOURCE, or from the separate SFTP_* settings.
    fn weather_source(&self) -> Result<Option<WeatherSource>> {
        let text = self
            .weather_source
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(text) = text else {
            return Ok(self.sftp_host.as_ref().map(|host| {
                WeatherSource::Sftp(self.sftp_target(
                    host.clone(),
                    self.sftp_port,
                    self.sftp_user.clone(),
                    None,
                    self.sftp_path.clone(),
                ))
            }));
        };
        if !text.starts_with("sftp://") {
            return Ok(Some(WeatherSource::Local(PathBuf::from(text))));
        }
        let url = url::Url::parse(text).map_err(|e| {
            Error::Config(format!(
                "WEATHER_SOURCE `{}` is not a valid sftp:// URL: {e}",
                crate::ops::secrets::mask_url(text)
            ))
        })?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
            Error::Config(format!(
                "WEATHER_SOURCE `{}` has no host",
                crate::ops::secrets::mask_url(text)
            ))
        })?;
        let user = Some(url.username())
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .or_else(|| self.sftp_user.clone());
        let password = url.password().map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        });
        let path = match url.path() {
            "" | "/" => self.sftp_path.clone(),
            path => percent_encoding::percent_decode_str(path)
                .decode_utf8_lossy()
                .into_owned(),
        };
        Ok(Some(WeatherSource::Sftp(self.sftp_target(
            host.to_string(),
            url.port().unwrap_or(self.sftp_port),
            user,
            password,
            path,
        ))))
    }

    fn sftp_target(
        &self,
        host: String,
        port: u16,
        user: Option<String>,
        password: Option<String>,
        path: String,
    ) -> SftpTarget {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        SftpTarget {
            host,
            port,
            user: user
                .or_else(|| self.sftp_user.clone())
                .unwrap_or_else(|| "anonymous".into()),
            password: password
                .or_else(|| self.sftp_password.clone())
                .filter(|p| !p.is_empty())
                .inspect(|p| crate::ops::secrets::register(p)),
            key_file: self.sftp_key_file.clone(),
            path,
            known_hosts: self
                .sftp_known_hosts
                .clone()
                .unwrap_or_else(|| home.join(".ssh/known_hosts")),
            accept_new_host: self.sftp_accept_new_host,
            max_retries: self.sftp_max_retries,
            retry_delay: Duration::from_secs(self.sftp_retry_delay),
            retry_budget: Duration::from_secs(self.source_retry_budget_secs),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate realistic synthetic sources (sensor files, weather CSVs, reference database).
    Generate(GenerateArgs),
    /// Copy new raw files from a source into the lake's landing zone.
    Ingest {
        #[command(subcommand)]
        source: IngestSource,
    },
    /// Build lake layers from what has landed (only what changed, unless --full).
    Build(BuildArgs),
    /// Ingest every configured source, then build every layer.
    Rebuild(RebuildArgs),
    /// Run SQL against the lake (`bronze.*`, `silver.*`, `gold.*`, `reference.*`).
    Sql(sql::SqlArgs),
    /// The main job end to end on a small generated data set in the embedded default lake.
    Demo(demo::DemoArgs),
    /// PostgreSQL administration.
    Pg {
        #[command(subcommand)]
        command: PgCommand,
    },
    /// Copy gold into PostgreSQL (DB_URL): changed tables and days, swapped in atomically.
    Publish(PublishArgs),
}

/// `--format` of every command that ends with a step summary.
#[derive(Debug, Clone, Copy, Args)]
pub struct SummaryArgs {
    /// Summary format.
    #[arg(long, value_enum, env = "OUTPUT_FORMAT", default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum PgCommand {
    /// Create the app role and database of DB_URL, schema gold, reader roles and the map of
    /// row-level security, with the admin credentials of DB_ADMIN_URL (used for this call only).
    Init(PgInitArgs),
}

#[derive(Debug, Args)]
pub struct PgInitArgs {
    /// Admin connection, e.g. `postgresql://postgres:...@host:5432/postgres`; used for this call
    /// only and never written anywhere.
    #[arg(long, env = "DB_ADMIN_URL", hide_env_values = true)]
    pub db_admin_url: String,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Copy every table whole instead of the changed tables and days.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output folder (created; an earlier generated set there is replaced).
    #[arg(long, env = "GENERATE_OUT")]
    pub out: PathBuf,
    /// Days of data.
    #[arg(long, env = "GENERATE_DAYS", default_value_t = 7)]
    pub days: u32,
    /// Apartments (the first two are JimmyLoup/jimmy and JeremieVianin/jeremie).
    #[arg(long, env = "GENERATE_APARTMENTS", default_value_t = 2)]
    pub apartments: u32,
    /// First day.
    #[arg(long, env = "GENERATE_START", default_value = "2023-08-18")]
    pub start: chrono::NaiveDate,
    /// Random seed: the same seed gives the same files.
    #[arg(long, env = "GENERATE_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Weather sites per forecast file (at most 45).
    #[arg(long, env = "GENERATE_WEATHER_SITES", default_value_t = 45)]
    pub weather_sites: u32,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Subcommand)]
pub enum IngestSource {
    /// Sensor JSON files from the SMB share (SMB_PATH).
    Sensors {
        /// List the whole share and land everything missing (also fills source gaps).
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        summary: SummaryArgs,
    },
    /// Snapshot the reference tables (MYSQL_URL or REFERENCE_SOURCE) into bronze.ref_*.
    Reference {
        #[command(flatten)]
        summary: SummaryArgs,
    },
    /// Weather forecast files from the sFTP server or folder (WEATHER_SOURCE).
    Weather {
        #[command(flatten)]
        summary: SummaryArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuildLayer {
    Bronze,
    Silver,
    Gold,
    All,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Layer to build.
    #[arg(value_enum, default_value = "all")]
    pub layer: BuildLayer,
    /// Bronze: reconcile with all of landing. Silver and gold: recompute every partition.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Full scans of every source and full recomputes of every layer.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

impl Cli {
    /// Whether a machine reads the output (a JSON summary, JSON results or JSON logs): then no
    /// progress bars are drawn.
    pub fn wants_json(&self) -> bool {
        let json_output = match &self.command {
            Command::Sql(args) => args.format == OutputFormat::Json,
            Command::Generate(args) => args.summary.format == ReportFormat::Json,
            Command::Ingest { source } => match source {
                IngestSource::Sensors { summary, .. }
                | IngestSource::Weather { summary }
                | IngestSource::Reference { summary } => summary.format == ReportFormat::Json,
            },
            Command::Build(args) => args.summary.format == ReportFormat::Json,
            Command::Rebuild(args) => args.summary.format == ReportFormat::Json,
            Command::Demo(args) => args.summary.format == ReportFormat::Json,
            Command::Pg {
                command: PgCommand::Init(args),
            } => args.summary.format == ReportFormat::Json,
            Command::Publish(args) => args.summary.format == ReportFormat::Json,
        };
        json_output || self.global.log_format == LogFormat::Json
    }
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> Result<i32> {
    let settings = cli.global.settings()?;
    match cli.command {
        Command::Generate(args) => pipeline::generate(args).await,
        Command::Ingest {
            source: IngestSource::Sensors { full, summary },
        } => pipeline::ingest_sensors(&settings, full, summary.format).await,
        Command::Ingest {
            source: IngestSource::Weather { summary },
        } => pipeline::ingest_weather(&settings, summary.format).await,
        Command::Ingest {
            source: IngestSource::Reference { summary },
        } => pipeline::ingest_reference(&settings, summary.format).await,
        Command::Build(args) => pipeline::build(&settings, args).await,
        Command::Rebuild(args) => pipeline::rebuild(&settings, args).await,
        Command::Sql(args) => sql::run(&settings, args).await,
        Command::Demo(args) => demo::run(&settings, args).await,
        Command::Pg {
            command: PgCommand::Init(args),
        } => pipeline::pg_init(&settings, args).await,
        Command::Publish(args) => pipeline::publish(&settings, args).await,
    }
}

/// WEATHER_SITES: comma-separated site names, at least one, no duplicates.
fn parse_weather_sites(text: &str) -> Result<Vec<String>> {
    let mut sites: Vec<String> = Vec::new();
    for site in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if sites.iter().any(|s| s == site) {
            return Err(Error::Config(format!("WEATHER_SITES names `{site}` twice")));
        }
        sites.push(site.to_string());
    }
    if sites.is_empty() {
        return Err(Error::Config(
            "WEATHER_SITES is empty: name at least one forecast site, e.g. Sion".into(),
        ));
    }
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn every_command_parses_with_the_global_flags() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "datacycle",
            "generate",
            "--out",
            "x",
            "--weather-sites",
            "3",
            "--gold-weather-sites",
            "Sion, Visp",
        ])
        .unwrap();
        let settings = cli.global.settings().unwrap();
        assert_eq!(settings.weather_sites, ["Sion", "Visp"]);
        assert!(parse_weather_sites(" , ").is_err());
        assert!(parse_weather_sites("Sion,Sion").is_err());
    }
}
