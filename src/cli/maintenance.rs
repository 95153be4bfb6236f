//! `datacycle compact` and `datacycle vacuum`: table maintenance, table by table.

use clap::Args;

use super::pipeline::{Writer, write_and_report};
use super::{LakeArgs, SummaryArgs};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::{Lake, Layer, TableRef, maintenance, runs};
use crate::ops::progress;
use crate::ops::report::StepReport;

/// The retention below which `vacuum` asks for `--yes`.
pub(super) const SAFE_RETAIN_HOURS: u64 = 168;

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Only this table (e.g. `silver.sensor_events`) [default: every table].
    #[arg(long, env = "COMPACT_TABLE")]
    pub table: Option<String>,
    /// Target size of the compacted files, in MiB.
    #[arg(long, env = "COMPACT_TARGET_SIZE_MB", default_value_t = 128)]
    pub target_size: u64,
    /// Delta log files older than N hours go once a checkpoint covers them (time travel reaches
    /// back that far; keep it at least VACUUM_RETAIN_HOURS).
    #[arg(long, env = "LOG_RETAIN_HOURS", default_value_t = SAFE_RETAIN_HOURS)]
    pub log_retain_hours: u64,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// Only this table (e.g. `silver.sensor_events`) [default: every table].
    #[arg(long, env = "VACUUM_TABLE")]
    pub table: Option<String>,
    /// Keep every file a version of the last N hours needs (readers of older versions lose
    /// theirs).
    #[arg(long, env = "VACUUM_RETAIN_HOURS", default_value_t = SAFE_RETAIN_HOURS)]
    pub retain_hours: u64,
    /// List what would be deleted and its size; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Confirm a retention below 168 hours.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

/// The tables a maintenance command works on: `only`, or every table and `_ops.runs`.
async fn tables(lake: &Lake, only: Option<&str>) -> Result<Vec<TableRef>> {
    let mut all = lake.list_tables().await?;
    all.push(runs::table());
    let Some(only) = only else {
        return Ok(all);
    };
    let wanted = only.split_once('.').and_then(|(schema, name)| {
        let layer = Layer::from_name(schema).or((schema == "_ops").then_some(Layer::Ops))?;
        Some(TableRef::new(layer, name))
    });
    match wanted {
        Some(table) if all.contains(&table) => Ok(vec![table]),
        _ => Err(Error::config(format!(
            "no table `{only}` in the lake (name it as in SQL: `silver.sensor_events`)"
        ))),
    }
}

/// Run `step` on every table `only` selects, with the lease checked and a progress bar; one
/// report per table the step returns one for.
async fn each_table(
    writer: &Writer,
    command: &'static str,
    only: Option<&str>,
    step: impl AsyncFn(&Lake, &TableRef) -> Result<Option<StepReport>>,
) -> Result<Vec<StepReport>> {
    let tables = tables(&writer.lake, only).await?;
    let bar = progress::bar(tables.len() as u64, command, "tables");
    let mut steps = Vec::new();
    for table in tables {
        writer.lease.check().await?;
        bar.set_message(table.to_string());
        let started = std::time::Instant::now();
        if let Some(report) = step(&writer.lake, &table).await? {
            steps.push(report.finish(started));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(steps)
}

pub async fn compact(settings: &Settings, args: CompactArgs) -> Result<i32> {
    let only = args.table.as_deref();
    write_and_report(settings, "compact", args.summary.format, async |writer| {
        compact_tables(writer, only, args.target_size, args.log_retain_hours).await
    })
    .await
}

/// Compact every table `only` selects into files of about `target_mib`, dropping log files
/// older than `log_retain_hours`.
pub(super) async fn compact_tables(
    writer: &Writer,
    only: Option<&str>,
    target_mib: u64,
    log_retain_hours: u64,
) -> Result<Vec<StepReport>> {
    let target = target_mib.max(1) * 1024 * 1024;
    each_table(writer, "compact", only, async |lake, table| {
        let Some(done) = maintenance::compact(lake, table, target, log_retain_hours).await? else {
            return Ok(None);
        };
        let mut report = StepReport::new(format!("compact {table}"));
        report.files = done.files_added;
        report.count("files_removed", done.files_removed);
        report.count("partitions_compacted", done.partitions);
        report.count("expired_logs_removed", done.logs_removed as u64);
        Ok(Some(report))
    })
    .await
}

pub async fn vacuum(settings: &Settings, args: VacuumArgs) -> Result<i32> {
    if args.retain_hours < SAFE_RETAIN_HOURS && !args.yes && !args.dry_run {
        return Err(Error::config(format!(
            "--retain-hours {} is below {SAFE_RETAIN_HOURS}: readers and time travel to older \
             versions lose their files; add --yes to confirm (or --dry-run to look first)",
            args.retain_hours
        )));
    }
    let only = args.table.as_deref();
    write_and_report(settings, "vacuum", args.summary.format, async |writer| {
        vacuum_tables(writer, only, args.retain_hours, args.dry_run).await
    })
    .await
}

/// Vacuum every table `only` selects, keeping what the versions of the last `hours` need.
pub(super) async fn vacuum_tables(
    writer: &Writer,
    only: Option<&str>,
    hours: u64,
    dry_run: bool,
) -> Result<Vec<StepReport>> {
    each_table(writer, "vacuum", only, async |lake, table| {
        let Some(done) = maintenance::vacuum(lake, table, hours, dry_run).await? else {
            return Ok(None);
        };
        let verb = if done.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        let mut report = StepReport::new(format!("vacuum {table}"));
        report.files = done.files.len() as u64;
        report.bytes = done.bytes;
        report
            .notes
            .extend(done.files.iter().map(|f| format!("{verb} {f}")));
        Ok(Some(report))
    })
    .await
}
