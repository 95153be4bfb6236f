//! The files table of a landing format: one row per source file with its size, outcome and
//! partition.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;

use super::{FileOutcome, STATUS_OK, STATUS_QUARANTINED};
use crate::lake::PartitionValue;

/// Arrow schema of the files table of a format.
pub fn files_schema(partition_fields: &[Field]) -> SchemaRef {
    let mut fields = vec![Field::new("source_file", DataType::Utf8, false)];
    fields.extend(partition_fields.iter().cloned());
    fields.extend([
        Field::new("size", DataType::Int64, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("rows", DataType::Int64, false),
        Field::new(
            "ingested_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]);
    Arc::new(Schema::new(fields))
}

/// The files-table rows of a batch.
pub(super) fn files_batch(
    schema: &SchemaRef,
    outcomes: &[FileOutcome],
    ingested_at: DateTime<Utc>,
) -> std::result::Result<RecordBatch, ArrowError> {
    let mut name = StringBuilder::new();
    let partitions = schema.fields().len() - 6;
    let mut partition_columns: Vec<PartitionColumn> = schema.fields()[1..=partitions]
        .iter()
        .map(|f| PartitionColumn::new(f.data_type()))
        .collect();
    let mut size = Int64Builder::new();
    let mut status = StringBuilder::new();
    let mut error = StringBuilder::new();
    let mut rows = Int64Builder::new();
    let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    for o in outcomes {
        name.append_value(&o.file.name);
        for (column, value) in partition_columns.iter_mut().zip(&o.file.partition) {
            column.append(value);
        }
        size.append_value(o.file.size);
        status.append_value(if o.error.is_none() {
            STATUS_OK
        } else {
            STATUS_QUARANTINED
        });
        error.append_option(o.error.as_deref());
        rows.append_value(o.rows);
        at.append_value(ingested_at.timestamp_micros());
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(name.finish())];
    columns.extend(partition_columns.into_iter().map(PartitionColumn::finish));
    columns.extend([
        Arc::new(size.finish()) as ArrayRef,
        Arc::new(status.finish()),
        Arc::new(error.finish()),
        Arc::new(rows.finish()),
        Arc::new(at.finish()),
    ]);
    RecordBatch::try_new(schema.clone(), columns)
}

/// A column of partition values.
pub(super) enum PartitionColumn {
    Text(StringBuilder),
    Date(Date32Builder),
}

impl PartitionColumn {
    fn new(data_type: &DataType) -> Self {
        match data_type {
            DataType::Date32 => Self::Date(Date32Builder::new()),
            _ => Self::Text(StringBuilder::new()),
        }
    }

    fn append(&mut self, value: &PartitionValue) {
        match (self, value) {
            (Self::Text(b), PartitionValue::Text(t)) => b.append_value(t),
            (Self::Date(b), PartitionValue::Date(d)) => {
                b.append_value(Date32Type::from_naive_date(*d))
            }
            (Self::Text(b), PartitionValue::Date(d)) => b.append_value(d.to_string()),
            (Self::Text(b), PartitionValue::Int(i)) => b.append_value(i.to_string()),
            (Self::Date(b), PartitionValue::Text(_) | PartitionValue::Int(_)) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Self::Text(mut b) => Arc::new(b.finish()),
            Self::Date(mut b) => Arc::new(b.finish()),
        }
    }
}
