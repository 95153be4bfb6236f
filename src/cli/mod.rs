//! The command line: commands, their flag groups (`args`, each flag with an environment twin)
//! and output formats (`output`), apart from execution (`pipeline`, `sql`, `demo`).

mod args;
mod demo;
mod digest;
mod gdpr;
mod maintenance;
mod ml;
mod output;
mod pipeline;
mod sql;
mod status;
mod watch;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Settings, defaults};
use crate::error::Result;
use crate::ops::logging::LogFormat;

pub use args::{
    BuildTuningArgs, Group, LakeArgs, LoggingArgs, ModelArgs, PostgresArgs, ReferenceArgs,
    RetentionArgs, ShareArgs, WeatherArgs,
};
pub use output::{OutputFormat, ReportFormat};

/// datacycle: apartment IoT data from sensor files, weather forecasts and a reference database
/// into a Delta lake (landing → bronze → silver → gold), with every transform in DataFusion SQL.
///
/// Every flag has an environment twin; precedence: flag, then environment, then the env file.
#[derive(Debug, Parser)]
#[command(name = "datacycle", version, about, long_about = None, max_term_width = 110)]
pub struct Cli {
    #[command(flatten)]
    pub logging: LoggingArgs,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the largest variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate realistic synthetic sources (sensor files, weather CSVs, reference database).
    Generate(GenerateArgs),
    /// Land new raw files from a source in the lake (sensor files as rows of landing.sensor_files).
    Ingest {
        #[command(subcommand)]
        source: IngestSource,
    },
    /// Build lake layers from what has landed (only what changed, unless --full).
    Build(BuildArgs),
    /// Ingest every configured source, then build every layer.
    Rebuild(RebuildArgs),
    /// Run SQL against the lake (`landing.sensor_files`, `bronze.*`, `silver.*`, `gold.*`,
    /// `reference.*`).
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
    /// Content digest of each lake table: equal digests, equal rows (compare lakes, backups).
    Digest(digest::DigestArgs),
    /// Delete landed sensor days older than RETENTION_LANDING_DAYS that are already in bronze
    /// (whole partitions).
    Retention(RetentionCommandArgs),
    /// The landing zone: raw files as they arrived.
    Landing {
        #[command(subcommand)]
        command: LandingCommand,
    },
    /// Compact the partitions with small files (Delta OPTIMIZE), checkpoint, drop expired logs.
    Compact(maintenance::CompactArgs),
    /// Delete data files no version of the retention period needs (default: a week).
    Vacuum(maintenance::VacuumArgs),
    /// The lake's health: freshness of sources and layers, tables, last runs, lease; exit code
    /// 0 ok, 1 warn, 2 fail.
    Status(status::StatusArgs),
    /// Run the pipeline on its schedule until SIGTERM: sensor ticks, publishes, the daily weather,
    /// reference and ML windows, nightly maintenance; missed windows are caught up once.
    Watch(watch::WatchArgs),
    /// Occupancy and energy models on the gold feature tables: benchmark, then predict.
    Ml {
        #[command(subcommand)]
        command: ml::MlCommand,
    },
    /// Data subjects' rights over every layer: export an apartment's data (access,
    /// portability).
    Gdpr {
        #[command(subcommand)]
        command: gdpr::GdprCommand,
    },
}

#[derive(Debug, Args)]
pub struct RetentionCommandArgs {
    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Subcommand)]
pub enum LandingCommand {
    /// Write an apartment's sensor files back as they were on the share: byte for byte, under
    /// their original names and modification times.
    Export(LandingExportArgs),
}

#[derive(Debug, Args)]
pub struct LandingExportArgs {
    /// Apartment, as in HOUSE_MAP (e.g. `jimmy`).
    #[arg(long, env = "EXPORT_APARTMENT")]
    pub apartment: String,
    /// Only the files of this day (the date in their names), e.g. 2023-08-18.
    #[arg(long, env = "EXPORT_DATE")]
    pub date: Option<chrono::NaiveDate>,
    /// Folder to write the files into (created; files of the same name are replaced).
    #[arg(long, env = "EXPORT_OUT")]
    pub out: PathBuf,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

/// `--format` of every command that ends with a step summary.
#[derive(Debug, Clone, Copy, Args)]
#[command(next_help_heading = "Output")]
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
    pub model: ModelArgs,
    #[command(flatten)]
    pub postgres: PostgresArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

impl PgInitArgs {
    /// `pg init` never opens the lake: the default lake stands in.
    fn settings(&self) -> Result<Settings> {
        let mut settings = Settings::for_lake(defaults::LAKE_URL.to_string());
        self.model.apply(&mut settings)?;
        self.postgres.apply(&mut settings)?;
        Ok(settings)
    }
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Copy every table whole instead of the changed tables and days.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub postgres: PostgresArgs,
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
    Sensors(IngestSensorsArgs),
    /// Snapshot the reference tables (MYSQL_URL or REFERENCE_SOURCE) into bronze.ref_*.
    Reference(IngestReferenceArgs),
    /// Weather forecast files from the sFTP server or folder (WEATHER_SOURCE).
    Weather(IngestWeatherArgs),
}

#[derive(Debug, Args)]
pub struct IngestSensorsArgs {
    /// List the whole share and land everything missing (also fills source gaps).
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub share: ShareArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args)]
pub struct IngestReferenceArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Silver's reference tables are rebuilt right after the snapshot; their SQL reads these.
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub reference: ReferenceArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args)]
pub struct IngestWeatherArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub weather: WeatherArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
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
    pub lake: LakeArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub tuning: BuildTuningArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Full scans of every source and full recomputes of every layer.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub share: ShareArgs,
    #[command(flatten)]
    pub tuning: BuildTuningArgs,
    #[command(flatten)]
    pub weather: WeatherArgs,
    #[command(flatten)]
    pub reference: ReferenceArgs,
    #[command(flatten)]
    pub postgres: PostgresArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

impl Command {
    /// The settings of this command: its flag groups over the defaults.
    fn settings(&self) -> Result<Settings> {
        match self {
            Command::Generate(_) => Ok(Settings::for_lake(defaults::LAKE_URL.to_string())),
            Command::Ingest { source } => match source {
                IngestSource::Sensors(a) => args::settings(&a.lake, &[&a.share, &a.model]),
                IngestSource::Reference(a) => args::settings(&a.lake, &[&a.reference, &a.model]),
                IngestSource::Weather(a) => args::settings(&a.lake, &[&a.weather]),
            },
            Command::Build(a) => args::settings(&a.lake, &[&a.model, &a.tuning]),
            Command::Rebuild(a) => args::settings(
                &a.lake,
                &[
                    &a.model,
                    &a.share,
                    &a.tuning,
                    &a.weather,
                    &a.reference,
                    &a.postgres,
                ],
            ),
            Command::Sql(a) => args::settings(&a.lake, &[&a.model]),
            Command::Digest(a) => args::settings(&a.lake, &[]),
            Command::Retention(a) => args::settings(&a.lake, &[&a.retention]),
            Command::Demo(a) => args::settings(&a.lake, &[&a.model, &a.tuning, &a.postgres]),
            Command::Pg {
                command: PgCommand::Init(a),
            } => a.settings(),
            Command::Publish(a) => args::settings(&a.lake, &[&a.model, &a.postgres]),
            Command::Landing {
                command: LandingCommand::Export(a),
            } => args::settings(&a.lake, &[]),
            Command::Status(a) => args::settings(&a.lake, &[&a.model]),
            Command::Watch(a) => args::settings(
                &a.lake,
                &[
                    &a.model,
                    &a.share,
                    &a.tuning,
                    &a.weather,
                    &a.reference,
                    &a.postgres,
                    &a.retention,
                ],
            ),
            Command::Compact(a) => args::settings(&a.lake, &[]),
            Command::Vacuum(a) => args::settings(&a.lake, &[]),
            Command::Gdpr { command } => match command {
                gdpr::GdprCommand::Export(a) => args::settings(&a.lake, &[&a.model]),
                gdpr::GdprCommand::Erase(a) => args::settings(&a.lake, &[&a.model, &a.postgres]),
                gdpr::GdprCommand::Readmit(a) => args::settings(&a.lake, &[]),
            },
            Command::Ml { command } => match command {
                ml::MlCommand::Benchmark(a) => args::settings(&a.lake, &[&a.model]),
                ml::MlCommand::Predict(a) => args::settings(&a.lake, &[&a.model]),
            },
        }
    }

    /// The summary format of a command that ends with one.
    fn summary(&self) -> Option<ReportFormat> {
        let summary = match self {
            Command::Sql(_) | Command::Digest(_) | Command::Status(_) => return None,
            Command::Generate(a) => a.summary,
            Command::Ingest { source } => match source {
                IngestSource::Sensors(a) => a.summary,
                IngestSource::Reference(a) => a.summary,
                IngestSource::Weather(a) => a.summary,
            },
            Command::Build(a) => a.summary,
            Command::Rebuild(a) => a.summary,
            Command::Demo(a) => a.summary,
            Command::Pg {
                command: PgCommand::Init(a),
            } => a.summary,
            Command::Publish(a) => a.summary,
            Command::Retention(a) => a.summary,
            Command::Compact(a) => a.summary,
            Command::Vacuum(a) => a.summary,
            Command::Watch(a) => a.summary,
            Command::Gdpr { command } => match command {
                gdpr::GdprCommand::Export(a) => a.summary,
                gdpr::GdprCommand::Erase(a) => a.summary,
                gdpr::GdprCommand::Readmit(a) => a.summary,
            },
            Command::Landing {
                command: LandingCommand::Export(a),
            } => a.summary,
            Command::Ml { command } => match command {
                ml::MlCommand::Benchmark(a) => a.summary,
                ml::MlCommand::Predict(a) => a.summary,
            },
        };
        Some(summary.format)
    }
}

impl Cli {
    /// Whether a machine reads the output (a JSON summary, JSON results or JSON logs): then no
    /// progress bars are drawn.
    pub fn wants_json(&self) -> bool {
        let json_output = match &self.command {
            Command::Sql(args) => args.output.format == OutputFormat::Json,
            Command::Digest(args) => args.output.format == OutputFormat::Json,
            Command::Status(args) => args.format == ReportFormat::Json,
            command => command.summary() == Some(ReportFormat::Json),
        };
        json_output || self.logging.log_format == LogFormat::Json
    }
}

/// Run a parsed command line; a command that works on the lake records its steps (or its
/// error) in `_ops.runs`.
pub async fn run(cli: Cli) -> Result<i32> {
    let settings = cli.command.settings()?;
    let recorded = cli.command.recorded_name();
    let started_at = crate::ops::clock::now();
    let started = std::time::Instant::now();
    let result = dispatch(cli.command, &settings).await;
    if let Some(command) = recorded {
        let steps = match (&result, output::printed_summary()) {
            (Ok(_), Some(summary)) => summary.steps,
            (Ok(_), None) => Vec::new(),
            (Err(e), _) => vec![crate::ops::report::StepReport::failure(
                command,
                &e.to_string(),
                started,
            )],
        };
        if let Err(e) = record_run(&settings, command, started_at, &steps).await {
            tracing::warn!("could not record the run in _ops.runs: {e}");
        }
    }
    result
}

async fn record_run(
    settings: &Settings,
    command: &str,
    started_at: chrono::DateTime<chrono::Utc>,
    steps: &[crate::ops::report::StepReport],
) -> Result<()> {
    let lake = crate::lake::Lake::open(&settings.lake_url)?;
    crate::lake::runs::record(&lake, command, started_at, steps).await?;
    Ok(())
}

impl Command {
    /// The name a command is recorded under in `_ops.runs`; `None` for commands that only read
    /// the lake or do not touch it.
    fn recorded_name(&self) -> Option<&'static str> {
        Some(match self {
            Command::Ingest { source } => match source {
                IngestSource::Sensors(_) => "ingest sensors",
                IngestSource::Weather(_) => "ingest weather",
                IngestSource::Reference(_) => "ingest reference",
            },
            Command::Build(_) => "build",
            Command::Rebuild(_) => "rebuild",
            Command::Demo(_) => "demo",
            Command::Publish(_) => "publish",
            Command::Retention(_) => "retention",
            Command::Compact(_) => "compact",
            Command::Vacuum(_) => "vacuum",
            // The record of an access request names no one (the steps are tables).
            Command::Gdpr { command } => match command {
                gdpr::GdprCommand::Export(_) => "gdpr export",
                gdpr::GdprCommand::Erase(a) if a.dry_run => "gdpr erase (dry run)",
                gdpr::GdprCommand::Erase(_) => "gdpr erase",
                gdpr::GdprCommand::Readmit(_) => "gdpr readmit",
            },
            Command::Ml { command } => match command {
                ml::MlCommand::Benchmark(_) => "ml benchmark",
                ml::MlCommand::Predict(_) => "ml predict",
            },
            Command::Generate(_)
            | Command::Sql(_)
            | Command::Digest(_)
            | Command::Status(_)
            // Every window records itself.
            | Command::Watch(_)
            | Command::Pg { .. }
            | Command::Landing { .. } => return None,
        })
    }
}

async fn dispatch(command: Command, settings: &Settings) -> Result<i32> {
    let settings = settings.clone();
    match command {
        Command::Generate(args) => pipeline::generate(args).await,
        Command::Ingest { source } => match source {
            IngestSource::Sensors(args) => {
                pipeline::ingest_sensors(&settings, args.full, args.summary.format).await
            }
            IngestSource::Weather(args) => {
                pipeline::ingest_weather(&settings, args.summary.format).await
            }
            IngestSource::Reference(args) => {
                pipeline::ingest_reference(&settings, args.summary.format).await
            }
        },
        Command::Build(args) => pipeline::build(&settings, args).await,
        Command::Rebuild(args) => pipeline::rebuild(&settings, args).await,
        Command::Sql(args) => sql::run(&settings, args).await,
        Command::Digest(args) => digest::run(&settings, args).await,
        Command::Demo(args) => demo::run(&settings, args).await,
        Command::Pg {
            command: PgCommand::Init(args),
        } => pipeline::pg_init(&settings, args).await,
        Command::Publish(args) => pipeline::publish(&settings, args).await,
        Command::Retention(args) => pipeline::retention(&settings, args).await,
        Command::Landing {
            command: LandingCommand::Export(args),
        } => pipeline::landing_export(&settings, args).await,
        Command::Ml { command } => ml::run(&settings, command).await,
        Command::Status(args) => status::run(&settings, args).await,
        Command::Compact(args) => maintenance::compact(&settings, args).await,
        Command::Vacuum(args) => maintenance::vacuum(&settings, args).await,
        Command::Watch(args) => watch::run(&settings, args).await,
        Command::Gdpr { command } => match command {
            gdpr::GdprCommand::Export(args) => gdpr::export(&settings, args).await,
            gdpr::GdprCommand::Erase(args) => gdpr::erase(&settings, args).await,
            gdpr::GdprCommand::Readmit(args) => gdpr::readmit(&settings, args).await,
        },
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn every_command_parses_with_its_flag_groups() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "datacycle",
            "--log-level",
            "debug",
            "build",
            "--gold-weather-sites",
            "Sion, Visp",
            "--bronze-batch-files",
            "7",
        ])
        .unwrap();
        let settings = cli.command.settings().unwrap();
        assert_eq!(settings.weather_sites, ["Sion", "Visp"]);
        assert_eq!(settings.bronze_batch_files, 7);
        // `ingest reference` rebuilds silver's reference tables, whose SQL reads the house map
        // and the sensor time zone.
        let cli = Cli::try_parse_from([
            "datacycle",
            "ingest",
            "reference",
            "--sensor-timezone",
            "Europe/Zurich",
            "--house-map",
            "A=a",
        ])
        .unwrap();
        let settings = cli.command.settings().unwrap();
        assert_eq!(settings.sensor_timezone.name(), "Europe/Zurich");
        assert_eq!(settings.house_map.apartment_of("A"), Some("a"));
        // A flag of another command's group is refused, not silently ignored.
        assert!(Cli::try_parse_from(["datacycle", "build", "--db-url", "postgresql://x"]).is_err());
    }

    /// Every flag but the command's own switches has an environment twin shown in `--help`.
    #[test]
    fn every_group_flag_has_an_environment_twin() {
        fn visit(command: &clap::Command, path: &str) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_positional()
                    || [
                        "full", "dry_run", "yes", "help", "version", "command", "file",
                    ]
                    .contains(&id)
                {
                    continue;
                }
                assert!(
                    arg.get_env().is_some(),
                    "{path} --{id} has no environment twin"
                );
            }
            for sub in command.get_subcommands() {
                visit(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        visit(&Cli::command(), "datacycle");
    }
}
