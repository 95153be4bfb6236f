//! `datacycle status`: the lake's health, printed; the exit code is its level (0 ok, 1 warn,
//! 2 fail).

use clap::Args;

use super::output::ReportFormat;
use super::{LakeArgs, ModelArgs};
use crate::config::Settings;
use crate::error::Result;
use crate::lake::Lake;
use crate::lake::stats::TableStats;
use crate::ops::report::human_bytes;
use crate::schedule::status::{Status, Thresholds, status};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Minutes since an apartment's newest landed sensor file before it is a warning.
    #[arg(
        long,
        env = "STATUS_SENSORS_WARN_MIN",
        default_value_t = 15.0,
        help_heading = "Thresholds"
    )]
    pub sensors_warn_min: f64,
    /// … and before it is a failure.
    #[arg(
        long,
        env = "STATUS_SENSORS_FAIL_MIN",
        default_value_t = 60.0,
        help_heading = "Thresholds"
    )]
    pub sensors_fail_min: f64,
    /// Hours since the midnight (UTC) of the newest forecast's issue date before it is a warning
    /// (forecasts arrive daily in the morning).
    #[arg(
        long,
        env = "STATUS_WEATHER_WARN_HOURS",
        default_value_t = 32.0,
        help_heading = "Thresholds"
    )]
    pub weather_warn_hours: f64,
    /// … and before it is a failure.
    #[arg(
        long,
        env = "STATUS_WEATHER_FAIL_HOURS",
        default_value_t = 56.0,
        help_heading = "Thresholds"
    )]
    pub weather_fail_hours: f64,
    /// Minutes a layer (silver, gold) may be behind the one it is built from before it is a
    /// warning.
    #[arg(
        long,
        env = "STATUS_LAYER_WARN_MIN",
        default_value_t = 15.0,
        help_heading = "Thresholds"
    )]
    pub layer_warn_min: f64,
    /// … and before it is a failure.
    #[arg(
        long,
        env = "STATUS_LAYER_FAIL_MIN",
        default_value_t = 60.0,
        help_heading = "Thresholds"
    )]
    pub layer_fail_min: f64,
    /// Minutes since the last successful publish before it is a warning (once published).
    #[arg(
        long,
        env = "STATUS_PUBLISH_WARN_MIN",
        default_value_t = 30.0,
        help_heading = "Thresholds"
    )]
    pub publish_warn_min: f64,
    /// … and before it is a failure.
    #[arg(
        long,
        env = "STATUS_PUBLISH_FAIL_MIN",
        default_value_t = 120.0,
        help_heading = "Thresholds"
    )]
    pub publish_fail_min: f64,
    /// Output format.
    #[arg(long, value_enum, env = "OUTPUT_FORMAT", default_value = "table")]
    pub format: ReportFormat,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

impl StatusArgs {
    fn thresholds(&self) -> Thresholds {
        Thresholds {
            sensors_warn: self.sensors_warn_min,
            sensors_fail: self.sensors_fail_min,
            weather_warn: self.weather_warn_hours * 60.0,
            weather_fail: self.weather_fail_hours * 60.0,
            layer_warn: self.layer_warn_min,
            layer_fail: self.layer_fail_min,
            publish_warn: self.publish_warn_min,
            publish_fail: self.publish_fail_min,
        }
    }
}

/// Reads the lake only: no lease.
pub async fn run(settings: &Settings, args: StatusArgs) -> Result<i32> {
    let lake = Lake::open(&settings.lake_url)?;
    let session = crate::transform::open_session(&lake, settings)
        .await?
        .with_runs()
        .await?;
    let report = status(&session, crate::ops::clock::now(), &args.thresholds()).await?;
    match args.format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("status serializes")
        ),
        ReportFormat::Table => print_tables(&report),
    }
    Ok(report.level.exit_code())
}

fn table(header: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(header.to_vec());
    table
}

fn print_tables(report: &Status) {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M").to_string())
    };
    let mut checks = table(&["item", "level", "newest (UTC)", "lag min", "message"]);
    for check in &report.checks {
        checks.add_row([
            check.item.clone(),
            format!("{:?}", check.level).to_lowercase(),
            time(check.newest),
            check
                .lag_minutes
                .map_or_else(String::new, |m| format!("{m:.0}")),
            check.message.clone(),
        ]);
    }
    println!("{checks}");
    let mut tables = table(&[
        "table",
        "version",
        "rows",
        "files",
        "small",
        "size",
        "log files",
        "log size",
        "checkpoint",
    ]);
    for t in &report.tables {
        tables.add_row(table_row(t));
    }
    println!("{tables}");
    let mut runs = table(&[
        "command",
        "step",
        "started (UTC)",
        "seconds",
        "outcome",
        "error",
    ]);
    for run in &report.last_runs {
        runs.add_row([
            run.command.clone(),
            run.step.clone(),
            time(run.started_at),
            format!("{:.2}", run.seconds),
            run.outcome.clone(),
            run.error.clone().unwrap_or_default(),
        ]);
    }
    println!("{runs}");
    match &report.lease {
        Some(lease) if !lease.released => println!(
            "lease: held by `{}` on {} (pid {}) since {}",
            lease.command, lease.host, lease.pid, lease.started_at
        ),
        _ => println!("lease: free"),
    }
    println!(
        "lake: {}; status: {}",
        human_bytes(report.lake_bytes),
        format!("{:?}", report.level).to_lowercase()
    );
}

fn table_row(t: &TableStats) -> Vec<String> {
    vec![
        t.table.clone(),
        t.version.map_or_else(String::new, |v| v.to_string()),
        t.rows.to_string(),
        t.files.to_string(),
        t.small_files.to_string(),
        human_bytes(t.bytes.max(0) as u64),
        t.log_files.to_string(),
        human_bytes(t.log_bytes),
        t.last_checkpoint
            .map_or_else(|| "none".into(), |v| v.to_string()),
    ]
}
