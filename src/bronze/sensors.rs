//! Sensor files as bronze: the JSON in `landing.sensor_files` → `bronze.sensor_readings` (one row per JSON leaf, see
//! `flatten`) and `bronze.sensor_files` (one row per file: ok or quarantined, with the reason).
//! Both are partitioned by apartment and the date in the file name.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, StringBuilder, TimestampMicrosecondArray,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use super::engine::{Landing, LandingFormat, Parsed, SourceFile};
use super::flatten::{FlatFile, FlattenRules, LeafValue, SecretKeys, flatten};
use crate::catalog::tables;
use crate::lake::landing::sensors::{SensorFileName, parse_landing_path};
use crate::lake::{PartitionValue, TableRef};

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
    rules: FlattenRules,
}

impl SensorFiles {
    /// `categories`: the top-level members checked structurally (the reference field map's).
    pub fn new(categories: HashSet<String>, secret_keys: SecretKeys) -> Self {
        Self {
            rules: FlattenRules {
                categories,
                secret_keys,
            },
        }
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
    fn landing(&self) -> Landing {
        Landing::SensorFilesTable
    }
    fn rows_table(&self) -> TableRef {
        tables::sensor_readings()
    }
    fn files_table(&self) -> TableRef {
        tables::sensor_files()
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
    /// Queries filter these by equality on every file (all hold every category and key), so
    /// their statistics would prune nothing; `file_ts`, `payload_ts` and `ingested_at` keep theirs.
    fn unindexed_columns(&self) -> &'static [&'static str] {
        &["source_file", "category", "room_raw", "key", "value_text"]
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
    ) -> Result<Parsed, String> {
        flatten(bytes, &self.rules, flat)?;
        rows.append(file, flat);
        Ok(Parsed {
            rows: flat.leaves.len(),
            secrets_dropped: flat.secrets_dropped,
        })
    }

    fn finish(&self, rows: ReadingsBuilder) -> Result<RecordBatch, ArrowError> {
        rows.finish()
    }
}

/// The columns of `sensor_readings` that are stored in its data files: all but the partition
/// columns, whose values the writer takes from the batch's partition.
static SENSOR_READINGS_FILE: LazyLock<SchemaRef> = LazyLock::new(|| {
    let fields = SENSOR_READINGS
        .fields()
        .iter()
        .filter(|f| !matches!(f.name().as_str(), "apartment" | "date"))
        .cloned()
        .collect::<Vec<_>>();
    Arc::new(Schema::new(fields))
});

/// Accumulates `sensor_readings` rows of one partition, a file at a time: the columns that are
/// constant within a file are filled in runs, the leaves column by column.
pub struct ReadingsBuilder {
    source_file: StringBuilder,
    file_ts: TimestampMicrosecondBuilder,
    payload_ts: TimestampMicrosecondBuilder,
    category: StringBuilder,
    room_raw: StringBuilder,
    item: Int32Builder,
    key: StringBuilder,
    value_num: Float64Builder,
    value_text: StringBuilder,
    ingested_at: i64,
}

impl ReadingsBuilder {
    /// A builder sized for about `rows` rows, so that the columns are allocated once instead of
    /// growing (and being copied) by doubling.
    pub fn with_capacity(ingested_at: DateTime<Utc>, rows: usize) -> Self {
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        Self {
            source_file: text(40),
            file_ts: TimestampMicrosecondBuilder::with_capacity(rows),
            payload_ts: TimestampMicrosecondBuilder::with_capacity(rows),
            category: text(10),
            room_raw: text(10),
            item: Int32Builder::with_capacity(rows),
            key: text(10),
            value_num: Float64Builder::with_capacity(rows),
            value_text: text(2),
            ingested_at: ingested_at.timestamp_micros(),
        }
    }

    /// Append the leaves of one flattened file.
    pub fn append(&mut self, file: &SourceFile, flat: &FlatFile) {
        let leaves = flat.leaves.len();
        for _ in 0..leaves {
            self.source_file.append_value(&file.name);
        }
        self.file_ts
            .append_value_n(file.time.and_utc().timestamp_micros(), leaves);
        match flat.payload_ts {
            Some(t) => self
                .payload_ts
                .append_value_n(t.and_utc().timestamp_micros(), leaves),
            None => self.payload_ts.append_nulls(leaves),
        }
        for leaf in &flat.leaves {
            self.category.append_value(flat.text(leaf.category));
        }
        for leaf in &flat.leaves {
            self.room_raw.append_option(leaf.room.map(|r| flat.text(r)));
            self.item.append_option(leaf.item);
            self.key.append_value(flat.text(leaf.key));
        }
        for leaf in &flat.leaves {
            let (num, text) = match leaf.value {
                LeafValue::Num(n) => (Some(n), None),
                LeafValue::Text(t) => (None, Some(flat.text(t))),
                LeafValue::Null => (None, None),
            };
            self.value_num.append_option(num);
            self.value_text.append_option(text);
        }
    }

    /// The rows as a batch of [`SENSOR_READINGS_FILE`] (the partition travels beside it).
    pub fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        let file_ts = self.file_ts.finish();
        let rows = file_ts.len();
        let ingested_at =
            TimestampMicrosecondArray::from_value(self.ingested_at, rows).with_timezone("UTC");
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.source_file.finish()),
            Arc::new(file_ts),
            Arc::new(self.payload_ts.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.room_raw.finish()),
            Arc::new(self.item.finish()),
            Arc::new(self.key.finish()),
            Arc::new(self.value_num.finish()),
            Arc::new(self.value_text.finish()),
            Arc::new(ingested_at),
        ];
        RecordBatch::try_new(SENSOR_READINGS_FILE.clone(), columns)
    }
}

/// Ingest pending sensor files (all of landing with `full`) into bronze.
pub async fn build(
    session: &crate::lake::LakeSession,
    settings: &crate::config::Settings,
    lease: &crate::lake::WriterLease,
    full: bool,
) -> super::Result<crate::ops::report::StepReport> {
    let reference_dir = crate::catalog::reference::reference_dir();
    let categories = crate::catalog::reference::sensor_categories(reference_dir.as_deref())?;
    super::engine::build(
        Arc::new(SensorFiles::new(
            categories,
            SecretKeys::parse(&settings.secret_keys),
        )),
        session,
        settings,
        lease,
        full,
    )
    .await
}
