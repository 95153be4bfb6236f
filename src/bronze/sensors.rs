//! Sensor files as bronze: landing JSON → `bronze.sensor_readings` (one row per JSON leaf, see
//! `flatten`) and `bronze.sensor_files` (one row per file: ok or quarantined, with the reason).
//! Both are partitioned by apartment and the date in the file name.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int32Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use super::engine::{LandingFormat, SourceFile, days_since_epoch};
use super::flatten::{FlatFile, LeafValue, flatten};
use crate::lake::{PartitionValue, TableRef};
use crate::sources::sensor_name::{LANDING_SENSORS, SensorFileName, parse_landing_path};

/// Name of the landing queue sensor files are handed over in.
pub const QUEUE: &str = "sensors";

pub fn readings_table() -> TableRef {
    TableRef::bronze("sensor_readings")
}

pub fn files_table() -> TableRef {
    TableRef::bronze("sensor_files")
}

fn local_ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

/// `bronze.sensor_readings`: one row per JSON leaf.
static SENSOR_READINGS: LazyLock<SchemaRef> = LazyLock::new(|| {
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
        Field::new(
            "ingested_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
});

/// Sensor JSON files.
pub struct SensorFiles {
    /// Top-level members checked structurally (the categories of the reference field map).
    categories: HashSet<String>,
}

impl SensorFiles {
    pub fn new(categories: HashSet<String>) -> Self {
        Self { categories }
    }
}

impl LandingFormat for SensorFiles {
    type Rows = ReadingsBuilder;
    type Scratch = FlatFile;

    fn name(&self) -> &'static str {
        "sensors"
    }
    fn app_id(&self) -> &'static str {
        "datacycle.bronze.sensors"
    }
    fn queue(&self) -> &'static str {
        QUEUE
    }
    fn landing_prefix(&self) -> &'static str {
        LANDING_SENSORS
    }
    fn rows_table(&self) -> TableRef {
        readings_table()
    }
    fn files_table(&self) -> TableRef {
        files_table()
    }
    fn rows_schema(&self) -> SchemaRef {
        SENSOR_READINGS.clone()
    }
    fn partition_fields(&self) -> Vec<Field> {
        vec![
            Field::new("apartment", DataType::Utf8, false),
            Field::new("date", DataType::Date32, false),
        ]
    }

    fn identify(&self, landing_path: &str, size: u64) -> Option<SourceFile> {
        let (apartment, name) = parse_landing_path(landing_path)?;
        let parsed = SensorFileName::parse(name)?;
        Some(SourceFile {
            name: name.to_string(),
            partition: vec![
                PartitionValue::Text(apartment.to_string()),
                PartitionValue::Date(parsed.minute.date()),
            ],
            time: parsed.minute,
            size: size as i64,
        })
    }

    fn rows_builder(&self, ingested_at: DateTime<Utc>, capacity: usize) -> ReadingsBuilder {
        // About 130 leaves per real file.
        ReadingsBuilder::with_capacity(ingested_at, capacity * 130)
    }

    fn parse(
        &self,
        file: &SourceFile,
        bytes: &[u8],
        rows: &mut ReadingsBuilder,
        flat: &mut FlatFile,
    ) -> Result<usize, String> {
        flatten(bytes, &self.categories, flat)?;
        rows.append(file, flat);
        Ok(flat.leaves.len())
    }

    fn finish(&self, rows: ReadingsBuilder) -> Result<RecordBatch, ArrowError> {
        rows.finish()
    }
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
        let apartment = match file.partition.first() {
            Some(PartitionValue::Text(apartment)) => apartment.as_str(),
            _ => "",
        };
        let file_ts = file.time.and_utc().timestamp_micros();
        let date = days_since_epoch(file.time.date());
        let payload_ts = flat.payload_ts.map(|t| t.and_utc().timestamp_micros());
        for leaf in &flat.leaves {
            self.source_file.append_value(&file.name);
            self.apartment.append_value(apartment);
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

/// Ingest pending sensor files (all of landing with `full`) into bronze.
pub async fn build(
    session: &crate::lake::LakeSession,
    settings: &crate::config::Settings,
    lease: &crate::lake::WriterLease,
    full: bool,
) -> super::Result<crate::ops::report::StepReport> {
    let reference_dir = crate::transform::reference_dir();
    let categories = crate::transform::reference::sensor_categories(reference_dir.as_deref())?;
    super::engine::build(
        Arc::new(SensorFiles::new(categories)),
        session,
        settings,
        lease,
        full,
    )
    .await
}
