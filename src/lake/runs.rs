//! `_ops.runs`: every step of every lake command, one row each (command, step, when, how long,
//! files, rows, bytes, outcome, error text with secrets masked), appended when the command ends,
//! so `datacycle status` and `datacycle sql` can tell what ran and how it went.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use super::{Lake, Layer, Result, TableRef, TableWrite, WriteInput, WriteMode};
use crate::ops::report::StepReport;
use crate::ops::secrets::redact;

/// The table of runs.
pub fn table() -> TableRef {
    TableRef::new(Layer::Ops, "runs")
}

/// How a step ended.
pub fn outcome(step: &StepReport) -> &'static str {
    match (&step.error, step.warnings) {
        (Some(_), _) => "failed",
        (None, 0) => "ok",
        (None, _) => "warnings",
    }
}

/// Append the steps of one run of `command`, started at `started_at`, to `_ops.runs`.
pub async fn record(
    lake: &Lake,
    command: &str,
    started_at: DateTime<Utc>,
    steps: &[StepReport],
) -> Result<()> {
    if steps.is_empty() {
        return Ok(());
    }
    let n = steps.len();
    let run_id = uuid::Uuid::new_v4().to_string();
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let text = |value: &str| Arc::new(StringArray::from(vec![value; n])) as ArrayRef;
    let count = |get: fn(&StepReport) -> u64| {
        Arc::new(Int64Array::from_iter_values(
            steps.iter().map(|s| get(s) as i64),
        )) as ArrayRef
    };
    let schema = Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("command", DataType::Utf8, false),
        Field::new("step", DataType::Utf8, false),
        Field::new(
            "started_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("seconds", DataType::Float64, false),
        Field::new("files", DataType::Int64, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("bytes", DataType::Int64, false),
        Field::new("warnings", DataType::Int64, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("host", DataType::Utf8, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        text(&run_id),
        text(command),
        Arc::new(StringArray::from_iter_values(
            steps.iter().map(|s| s.step.as_str()),
        )),
        Arc::new(
            TimestampMicrosecondArray::from(vec![started_at.timestamp_micros(); n])
                .with_timezone("UTC"),
        ),
        Arc::new(Float64Array::from_iter_values(
            steps.iter().map(|s| s.seconds),
        )),
        count(|s| s.files),
        count(|s| s.rows),
        count(|s| s.bytes),
        count(|s| s.warnings),
        Arc::new(StringArray::from_iter_values(steps.iter().map(outcome))),
        Arc::new(StringArray::from_iter(
            steps
                .iter()
                .map(|s| s.error.as_deref().map(|e| redact(e).into_owned())),
        )),
        text(&host),
    ];
    let batch = RecordBatch::try_new(Arc::new(schema), columns)?;
    lake.write(TableWrite {
        table: &table(),
        partition_columns: &[],
        input: WriteInput::Batches(vec![batch]),
        mode: WriteMode::Append,
        app_transaction: None,
        without_statistics: &[],
    })
    .await?;
    Ok(())
}
