//! The command line: flags (each with an environment twin), commands, and output formats.

mod demo;
mod output;
mod pipeline;
mod sql;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{DEFAULT_HOUSE_MAP, HouseMap, Settings, default_threads, parse_timezone};
use crate::error::{Error, Result};
use crate::ops::logging::LogFormat;

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
    #[arg(long, env = "LAKE_URL", default_value = "./lake", global = true)]
    pub lake_url: String,

    /// Folder where the SMB share with the sensor JSON files is mounted.
    #[arg(long, env = "SMB_PATH", global = true)]
    pub smb_path: Option<PathBuf>,

    /// House token of sensor file names to apartment id, `House=apartment,...` (case-insensitive).
    #[arg(long, env = "HOUSE_MAP", default_value = DEFAULT_HOUSE_MAP, global = true)]
    pub house_map: String,

    /// IANA time zone of the wall-clock times in sensor files (e.g. `Europe/Zurich`).
    #[arg(long, env = "SENSOR_TIMEZONE", default_value = "UTC", global = true)]
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
    #[arg(long, env = "LOCK_WAIT_SECS", default_value_t = 0, global = true)]
    pub lock_wait: u64,

    /// Worker threads for parsing and SQL (default: one per core).
    #[arg(long, env = "THREADS", global = true)]
    pub threads: Option<usize>,

    /// Concurrent file reads and writes against the share and the lake.
    #[arg(long, env = "IO_CONCURRENCY", default_value_t = 32, global = true)]
    pub io_concurrency: usize,

    /// Minutes without a new sensor file after which a listing scan of the share runs.
    #[arg(
        long,
        env = "SENSOR_SCAN_IDLE_MIN",
        default_value_t = 15,
        global = true
    )]
    pub sensor_scan_idle_min: u64,

    /// Sensor files flattened per bronze commit.
    #[arg(
        long,
        env = "BRONZE_BATCH_FILES",
        default_value_t = 25_000,
        global = true
    )]
    pub bronze_batch_files: usize,

    /// Silver (apartment, date) partitions recomputed per commit; bounds memory of full rebuilds.
    #[arg(
        long,
        env = "SILVER_PARTITIONS_PER_COMMIT",
        default_value_t = 32,
        global = true
    )]
    pub silver_partitions_per_commit: usize,

    /// Never draw progress bars (NO_PROGRESS=1/true/yes).
    #[arg(long, env = "NO_PROGRESS", global = true, action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub no_progress: bool,
}

impl GlobalArgs {
    pub fn settings(&self) -> Result<Settings> {
        let mut settings = Settings::for_lake(self.lake_url.clone());
        settings.smb_path = self.smb_path.clone().filter(|p| !p.as_os_str().is_empty());
        settings.house_map = HouseMap::parse(&self.house_map)?;
        settings.sensor_timezone = parse_timezone(&self.sensor_timezone, "SENSOR_TIMEZONE")?;
        settings.threads = self.threads.unwrap_or_else(default_threads).max(1);
        settings.io_concurrency = self.io_concurrency.max(1);
        settings.lock_wait = Duration::from_secs(self.lock_wait);
        settings.scan_idle = Duration::from_secs(self.sensor_scan_idle_min * 60);
        settings.bronze_batch_files = self.bronze_batch_files.max(1);
        settings.silver_partitions_per_commit = self.silver_partitions_per_commit.max(1);
        Ok(settings)
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
    /// Summary format.
    #[arg(long, value_enum, env = "OUTPUT_FORMAT", default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum IngestSource {
    /// Sensor JSON files from the SMB share (SMB_PATH).
    Sensors {
        /// List the whole share and land everything missing (also fills source gaps).
        #[arg(long)]
        full: bool,
        /// Summary format.
        #[arg(long, value_enum, env = "OUTPUT_FORMAT", default_value = "table")]
        format: ReportFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuildLayer {
    Bronze,
    Silver,
    All,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Layer to build.
    #[arg(value_enum, default_value = "all")]
    pub layer: BuildLayer,
    /// Bronze: reconcile with all of landing. Silver: recompute every partition.
    #[arg(long)]
    pub full: bool,
    /// Summary format.
    #[arg(long, value_enum, env = "OUTPUT_FORMAT", default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Full scans of every source and full recomputes of every layer.
    #[arg(long)]
    pub full: bool,
    /// Summary format.
    #[arg(long, value_enum, env = "OUTPUT_FORMAT", default_value = "table")]
    pub format: ReportFormat,
}

/// Exit code when the writer lease is held by another process.
pub const EXIT_LOCKED: i32 = 75;

/// Run a parsed command line.
pub async fn run(cli: Cli) -> Result<i32> {
    let settings = cli.global.settings()?;
    match cli.command {
        Command::Generate(args) => pipeline::generate(args).await,
        Command::Ingest {
            source: IngestSource::Sensors { full, format },
        } => pipeline::ingest_sensors(&settings, full, format).await,
        Command::Build(args) => pipeline::build(&settings, args).await,
        Command::Rebuild(args) => pipeline::rebuild(&settings, args).await,
        Command::Sql(args) => sql::run(&settings, args).await,
        Command::Demo(args) => demo::run(&settings, args).await,
    }
}

/// Whether an error means the lake is locked by another writer.
pub fn is_locked(error: &Error) -> bool {
    let lake_error = match error {
        Error::Lake(e) => Some(e),
        Error::Source(crate::sources::SourceError::Lake(e)) => Some(e),
        Error::Bronze(crate::bronze::BronzeError::Lake(e)) => Some(e),
        Error::Transform(crate::transform::TransformError::Lake(e)) => Some(e),
        _ => None,
    };
    matches!(lake_error, Some(crate::lake::LakeError::Locked { .. }))
}
