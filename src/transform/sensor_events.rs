//! The silver step for sensors: `queries/silver/sensor_events.sql` over bronze, recomputing only
//! the (apartment, date) partitions that new bronze rows touch.
//!
//! Bookkeeping lives in the Delta log: every silver commit records the bronze version it has
//! consumed as an application transaction, atomically with its data. The next run reads the
//! bronze commits after that version, derives the silver dates of the rows they added, and
//! overwrites exactly those partitions. A crash between commits leaves the recorded version
//! behind, so the next run recomputes the same partitions again: the result is identical.

use std::time::Instant;

use datafusion::logical_expr::{LogicalPlanBuilder, col};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;

use super::partitions::PartitionSet;
use super::queries::SENSOR_EVENTS;
use super::scope::restrict_input;
use super::{Result, plan_query};
use crate::config::Settings;
use crate::lake::{
    LakeSession, TableRef, TableWrite, WriteInput, WriteMode, WriterLease, added_files_since,
    last_commit_metric, table_reference,
};
use crate::ops::progress;
use crate::ops::report::StepReport;

/// Application id of the silver sensor step in the Delta log.
pub const APP_ID: &str = "datacycle.silver.sensor_events";
pub const PARTITIONS: &[&str] = &["apartment", "date"];
/// Days of bronze wall-clock time read around a recomputed date (any zone offset fits).
const INPUT_MARGIN_DAYS: u64 = 1;

pub fn table() -> TableRef {
    TableRef::silver("sensor_events")
}

fn input_table() -> TableRef {
    crate::bronze::sensors::readings_table()
}

/// Build `silver.sensor_events`; `full` recomputes every partition.
pub async fn build(
    session: &LakeSession,
    settings: &Settings,
    lease: &WriterLease,
    full: bool,
) -> Result<StepReport> {
    let started = Instant::now();
    let mut report = StepReport::new("silver sensor_events");
    let lake = session.lake();
    let Some(bronze) = lake.open_table(&input_table()).await? else {
        report.notes.push("no bronze sensor readings yet".into());
        return Ok(report.finish(started));
    };
    let bronze_version = bronze.version().unwrap_or(0);
    let silver = lake.open_table(&table()).await?;
    let consumed = match &silver {
        Some(silver) => lake.app_version(silver, APP_ID).await?,
        None => None,
    };
    if !full && consumed == Some(bronze_version as i64) {
        report
            .notes
            .push(format!("up to date with bronze version {bronze_version}"));
        return Ok(report.finish(started));
    }
    session.refresh(&input_table()).await?;

    let dirty = match (full, consumed) {
        (false, Some(consumed)) => {
            match added_files_since(&bronze, consumed.max(0) as u64).await? {
                Some(files) => touched_partitions(session.ctx(), &bronze, files).await?,
                None => all_partitions(session.ctx(), &bronze, settings).await?,
            }
        }
        _ => all_partitions(session.ctx(), &bronze, settings).await?,
    };
    let stale = match (&silver, full || consumed.is_none()) {
        (Some(_), true) => stale_partitions(session, &dirty).await?,
        _ => PartitionSet::default(),
    };

    let chunks = dirty.chunks(settings.silver_partitions_per_commit);
    let bar = progress::bar(dirty.len() as u64, "silver", "partitions");
    for (index, chunk) in chunks.iter().enumerate() {
        lease.check()?;
        let last = index + 1 == chunks.len();
        // The consumed bronze version is recorded with the last chunk only: a crash before it
        // makes the next run redo the whole set.
        let app_transaction =
            (last && stale.is_empty()).then(|| (APP_ID.to_string(), bronze_version as i64));
        let written = write_chunk(session, chunk, app_transaction).await?;
        tracing::debug!(target: "datacycle::commit", table = "silver.sensor_events", partitions = chunk.len(), rows = written, "committed");
        report.rows += written;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if !stale.is_empty() {
        lease.check()?;
        lake.delete_where(
            &table(),
            stale.partition_filter(),
            Some((APP_ID.to_string(), bronze_version as i64)),
        )
        .await?;
        report.count("stale_partitions_removed", stale.len() as u64);
    } else if chunks.is_empty() {
        // Nothing to recompute (for example only removals): still record progress.
        report.notes.push("no partitions touched".into());
    }
    session.refresh(&table()).await?;
    report.count("partitions", dirty.len() as u64);
    Ok(report.finish(started))
}

/// Run the query for `chunk` and replace those partitions in one commit; returns rows written.
async fn write_chunk(
    session: &LakeSession,
    chunk: &PartitionSet,
    app_transaction: Option<(String, i64)>,
) -> Result<u64> {
    let plan = plan_query(session, &SENSOR_EVENTS).await?;
    let input = chunk.local_time_filter("payload_ts", "file_ts", INPUT_MARGIN_DAYS);
    let plan = restrict_input(plan, &table_reference(&input_table()), &input)?;
    let plan = LogicalPlanBuilder::from(plan)
        .filter(chunk.partition_filter())?
        .build()?;
    let written = session
        .lake()
        .write(TableWrite {
            table: &table(),
            partition_columns: PARTITIONS,
            input: WriteInput::Plan {
                plan,
                session: std::sync::Arc::new(session.ctx().state()),
            },
            mode: WriteMode::ReplaceWhere(chunk.partition_filter()),
            app_transaction,
        })
        .await?;
    Ok(last_commit_metric(&written, "num_added_rows")
        .await
        .unwrap_or(0))
}

/// The silver partitions of the rows in the given bronze data files.
async fn touched_partitions(
    ctx: &SessionContext,
    bronze: &DeltaTable,
    files: Vec<String>,
) -> Result<PartitionSet> {
    if files.is_empty() {
        return Ok(PartitionSet::default());
    }
    let provider = bronze.table_provider().with_file_paths(files).await?;
    let df = ctx.read_table(provider)?;
    partitions_of(df).await
}

/// Every silver partition the whole of bronze may map to. Read from the Delta file statistics
/// (no data is scanned): per data file, every UTC date between its earliest and latest
/// wall-clock time. A partition found this way that holds no rows is recomputed to nothing,
/// which is harmless. Files without statistics fall back to a scan.
async fn all_partitions(
    ctx: &SessionContext,
    bronze: &DeltaTable,
    settings: &Settings,
) -> Result<PartitionSet> {
    match partitions_from_statistics(bronze, settings.sensor_timezone) {
        Some(partitions) => Ok(partitions),
        None => partitions_of(ctx.table(table_reference(&input_table())).await?).await,
    }
}

fn partitions_from_statistics(bronze: &DeltaTable, tz: chrono_tz::Tz) -> Option<PartitionSet> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Int64Type};
    let files = bronze.snapshot().ok()?.add_actions_table(true).ok()?;
    let column = |name: &str| -> Option<datafusion::arrow::array::ArrayRef> {
        cast(files.column_by_name(name)?, &DataType::Int64).ok()
    };
    let apartments = cast(
        files.column_by_name("partition.apartment")?,
        &DataType::Utf8,
    )
    .ok()?;
    let apartments = apartments.as_string::<i32>();
    let bounds = [
        column("min.payload_ts")?,
        column("max.payload_ts")?,
        column("min.file_ts")?,
        column("max.file_ts")?,
    ];
    let bounds: Vec<_> = bounds
        .iter()
        .map(|b| b.as_primitive::<Int64Type>())
        .collect();
    // Local-to-UTC conversion is monotonic but for the DST gap hour; an hour of margin on each
    // side covers it (UTC needs none).
    let hour = if tz == chrono_tz::Tz::UTC {
        0
    } else {
        3_600_000_000i64
    };
    let mut set = PartitionSet::default();
    for row in 0..files.num_rows() {
        let values: Vec<i64> = bounds
            .iter()
            .filter(|b| b.is_valid(row))
            .map(|b| b.value(row))
            .collect();
        // file_ts is never null, so a file with rows has at least its two bounds.
        if values.len() < 2 || !apartments.is_valid(row) {
            return None;
        }
        let (low, high) = (values.iter().min()?, values.iter().max()?);
        let low = super::functions::local_to_utc_micros(&tz, low - hour)?;
        let high = super::functions::local_to_utc_micros(&tz, high + hour)?;
        let mut day = chrono::DateTime::from_timestamp_micros(low)?.date_naive();
        let last = chrono::DateTime::from_timestamp_micros(high)?.date_naive();
        while day <= last {
            set.insert(apartments.value(row), day);
            day = day.succ_opt()?;
        }
    }
    Some(set)
}

async fn partitions_of(df: datafusion::dataframe::DataFrame) -> Result<PartitionSet> {
    use datafusion::functions::expr_fn::coalesce;
    let ts = super::functions::sensor_time_utc()
        .call(vec![coalesce(vec![col("payload_ts"), col("file_ts")])]);
    let date = super::functions::utc_date().call(vec![ts]).alias("date");
    let batches = df
        .select(vec![col("apartment"), date])?
        .distinct()?
        .collect()
        .await?;
    Ok(PartitionSet::from_batches(&batches))
}

/// Partitions present in silver but absent from `keep` (their bronze rows are gone).
async fn stale_partitions(session: &LakeSession, keep: &PartitionSet) -> Result<PartitionSet> {
    if !session.has_table(&table()) {
        return Ok(PartitionSet::default());
    }
    let df = session.ctx().table(table_reference(&table())).await?;
    let batches = df
        .select(vec![col("apartment"), col("date")])?
        .distinct()?
        .collect()
        .await?;
    let present = PartitionSet::from_batches(&batches);
    let mut stale = PartitionSet::default();
    for (apartment, date) in present.iter() {
        if !keep.contains(apartment, date) {
            stale.insert(apartment, date);
        }
    }
    Ok(stale)
}
