//! Arrow schemas of the bronze tables and builders that fill them.

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, Date32Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use super::flatten::{FlatFile, LeafValue};

pub const READINGS_PARTITIONS: &[&str] = &["apartment", "date"];
pub const FILES_PARTITIONS: &[&str] = &["apartment", "date"];

fn local_ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

fn utc_ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// `bronze.sensor_readings`: one row per JSON leaf.
pub static SENSOR_READINGS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("apartment", DataType::Utf8, false),
        Field::new("date", DataType::Date32, false),
        Field::new("file_ts", local_ts(), false),
        Field::new("payload_ts", local_ts(), true),
        Field::new("category", DataType::Utf8, false),
        Field::new("room_raw", DataType::Utf8, true),
        Field::new("item", DataType::Int32, true),
        Field::new("key", DataType::Utf8, false),
        Field::new("value_num", DataType::Float64, true),
        Field::new("value_text", DataType::Utf8, true),
        Field::new("ingested_at", utc_ts(), false),
    ]))
});

/// `bronze.sensor_files`: one row per source file, with its outcome.
pub static SENSOR_FILES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("apartment", DataType::Utf8, false),
        Field::new("date", DataType::Date32, false),
        Field::new("file_ts", local_ts(), false),
        Field::new("size", DataType::Int64, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("rows", DataType::Int64, false),
        Field::new("ingested_at", utc_ts(), false),
    ]))
});

pub const STATUS_OK: &str = "ok";
pub const STATUS_QUARANTINED: &str = "quarantined";

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// Identity of a source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub apartment: String,
    pub file_ts: NaiveDateTime,
    pub size: i64,
}

/// Accumulates `sensor_readings` rows.
pub struct ReadingsBuilder {
    source_file: StringBuilder,
    apartment: StringBuilder,
    date: Date32Builder,
    file_ts: TimestampMicrosecondBuilder,
    payload_ts: TimestampMicrosecondBuilder,
    category: StringBuilder,
    room_raw: StringBuilder,
    item: Int32Builder,
    key: StringBuilder,
    value_num: Float64Builder,
    value_text: StringBuilder,
    ingested_at: TimestampMicrosecondBuilder,
    ingested_at_value: i64,
}

impl ReadingsBuilder {
    /// A builder sized for about `rows` rows, so that the columns are allocated once instead of
    /// growing (and being copied) by doubling.
    pub fn with_capacity(ingested_at: DateTime<Utc>, rows: usize) -> Self {
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        Self {
            source_file: text(40),
            apartment: text(8),
            date: Date32Builder::with_capacity(rows),
            file_ts: TimestampMicrosecondBuilder::with_capacity(rows),
            payload_ts: TimestampMicrosecondBuilder::with_capacity(rows),
            category: text(10),
            room_raw: text(10),
            item: Int32Builder::with_capacity(rows),
            key: text(10),
            value_num: Float64Builder::with_capacity(rows),
            value_text: text(2),
            ingested_at: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            ingested_at_value: ingested_at.timestamp_micros(),
        }
    }

    /// Append the leaves of one flattened file.
    pub fn append(&mut self, file: &SourceFile, flat: &FlatFile) {
        let file_ts = micros(file.file_ts);
        let date = days(file.file_ts.date());
        let payload_ts = flat.payload_ts.map(micros);
        for leaf in &flat.leaves {
            self.source_file.append_value(&file.name);
            self.apartment.append_value(&file.apartment);
            self.date.append_value(date);
            self.file_ts.append_value(file_ts);
            self.payload_ts.append_option(payload_ts);
            self.category.append_value(flat.text(leaf.category));
            self.room_raw.append_option(leaf.room.map(|r| flat.text(r)));
            self.item.append_option(leaf.item);
            self.key.append_value(flat.text(leaf.key));
            match leaf.value {
                LeafValue::Num(n) => {
                    self.value_num.append_value(n);
                    self.value_text.append_null();
                }
                LeafValue::Text(t) => {
                    self.value_num.append_null();
                    self.value_text.append_value(flat.text(t));
                }
                LeafValue::Null => {
                    self.value_num.append_null();
                    self.value_text.append_null();
                }
            }
            self.ingested_at.append_value(self.ingested_at_value);
        }
    }

    pub fn len(&self) -> usize {
        self.key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.source_file.finish()),
            Arc::new(self.apartment.finish()),
            Arc::new(self.date.finish()),
            Arc::new(self.file_ts.finish()),
            Arc::new(self.payload_ts.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.room_raw.finish()),
            Arc::new(self.item.finish()),
            Arc::new(self.key.finish()),
            Arc::new(self.value_num.finish()),
            Arc::new(self.value_text.finish()),
            Arc::new(self.ingested_at.finish()),
        ];
        RecordBatch::try_new(SENSOR_READINGS.clone(), columns)
    }
}

/// Outcome of one file for `sensor_files`.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub file: SourceFile,
    pub rows: i64,
    /// `None` when the file was ingested, else the quarantine reason.
    pub error: Option<String>,
}

/// Build the `sensor_files` rows of a batch.
pub fn files_batch(
    outcomes: &[FileOutcome],
    ingested_at: DateTime<Utc>,
) -> Result<RecordBatch, ArrowError> {
    let mut source_file = StringBuilder::new();
    let mut apartment = StringBuilder::new();
    let mut date = Date32Builder::new();
    let mut file_ts = TimestampMicrosecondBuilder::new();
    let mut size = Int64Builder::new();
    let mut status = StringBuilder::new();
    let mut error = StringBuilder::new();
    let mut rows = Int64Builder::new();
    let mut at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    for o in outcomes {
        source_file.append_value(&o.file.name);
        apartment.append_value(&o.file.apartment);
        date.append_value(days(o.file.file_ts.date()));
        file_ts.append_value(micros(o.file.file_ts));
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
    let columns: Vec<ArrayRef> = vec![
        Arc::new(source_file.finish()),
        Arc::new(apartment.finish()),
        Arc::new(date.finish()),
        Arc::new(file_ts.finish()),
        Arc::new(size.finish()),
        Arc::new(status.finish()),
        Arc::new(error.finish()),
        Arc::new(rows.finish()),
        Arc::new(at.finish()),
    ];
    RecordBatch::try_new(SENSOR_FILES.clone(), columns)
}
