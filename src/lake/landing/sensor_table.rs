//! `landing.sensor_files`: every sensor file as it came from the share, one row per file with its
//! bytes, in zstd-compressed Parquet partitioned by apartment and the date in the file's name.
//!
//! One Delta commit lands a whole batch of files, so a file is landed entirely or not at all, a
//! crash leaves nothing half-landed, and the 200,000 files of 70 days are a few hundred objects
//! instead of 200,000 (each an inode on a disk, a PUT on S3). Retention and erasure delete whole
//! partitions. A file larger than `MAX_SOURCE_FILE_MB` is not read into memory: it is streamed
//! beside the table to its [`large_file_path`] and its row has no content.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, Date32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Field, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, col, lit};

use super::sensors::landing_path;
use crate::lake::partitions::PartitionSet;
use crate::lake::{
    DeltaTable, Lake, LakeError, LakeSession, Layer, PartitionBatch, PartitionValue, QueuedFile,
    Result, TableRef, partition_filter, table_reference,
};

/// The application id landing commits record their batch version under.
pub const APP_ID: &str = "datacycle.landing.sensor_files";
/// Partition columns, in order.
pub const PARTITION_COLUMNS: [&str; 2] = ["apartment", "date"];
/// Columns written without min/max statistics: file contents (statistics would copy them into
/// every footer) and names nothing prunes by.
pub const UNINDEXED_COLUMNS: &[&str] = &["source_file", "content"];
/// Root of the files too large to be read into a row, kept beside the table.
pub const LARGE_ROOT: &str = "landing/sensors_large";

/// `landing.sensor_files`.
pub fn table() -> TableRef {
    TableRef::new(Layer::Landing, "sensor_files")
}

/// Where a file too large for a row is kept: `landing/sensors_large/<apartment>/YYYY/MM/DD/HH/<name>`.
pub fn large_file_path(apartment: &str, minute: NaiveDateTime, name: &str) -> String {
    large_file_of(&landing_path(apartment, minute, name)).expect("a landing path")
}

/// [`large_file_path`] of the file whose canonical landing path is `landing_path`.
pub fn large_file_of(landing_path: &str) -> Option<String> {
    let rest = landing_path.strip_prefix(super::sensors::ROOT)?;
    Some(format!("{LARGE_ROOT}{rest}"))
}

fn utc_ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The table's columns.
pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("apartment", DataType::Utf8, false),
        Field::new("date", DataType::Date32, false),
        Field::new("source_file", DataType::Utf8, false),
        // The minute in the file name (sensor gateway wall-clock time, no zone).
        Field::new(
            "file_ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("size", DataType::Int64, false),
        Field::new("source_modified", utc_ts(), true),
        // NULL: kept as a file at `large_file_path` (larger than MAX_SOURCE_FILE_MB).
        Field::new("content", DataType::Binary, true),
        Field::new("ingested_at", utc_ts(), false),
    ]))
});

/// A sensor file to land.
#[derive(Debug, Clone)]
pub struct LandedFile {
    pub apartment: String,
    /// The minute in its name.
    pub minute: NaiveDateTime,
    pub name: String,
    pub size: u64,
    /// Modification time on the share.
    pub modified: Option<DateTime<Utc>>,
    /// `None`: streamed to [`large_file_path`] instead.
    pub content: Option<Vec<u8>>,
}

impl LandedFile {
    pub fn partition(&self) -> Vec<PartitionValue> {
        vec![
            PartitionValue::Text(self.apartment.clone()),
            PartitionValue::Date(self.minute.date()),
        ]
    }
}

/// Rows of `files`, all columns.
pub fn rows(files: &[&LandedFile], ingested_at: DateTime<Utc>) -> Result<RecordBatch> {
    let bytes: usize = files
        .iter()
        .filter_map(|f| f.content.as_ref())
        .map(Vec::len)
        .sum();
    let mut apartment = StringBuilder::new();
    let mut date = Date32Builder::with_capacity(files.len());
    let mut name = StringBuilder::new();
    let mut file_ts = TimestampMicrosecondBuilder::with_capacity(files.len());
    let mut size = Int64Builder::with_capacity(files.len());
    let mut modified = TimestampMicrosecondBuilder::with_capacity(files.len()).with_timezone("UTC");
    let mut content = BinaryBuilder::with_capacity(files.len(), bytes);
    let mut at = TimestampMicrosecondBuilder::with_capacity(files.len()).with_timezone("UTC");
    for file in files {
        apartment.append_value(&file.apartment);
        date.append_value(Date32Type::from_naive_date(file.minute.date()));
        name.append_value(&file.name);
        file_ts.append_value(file.minute.and_utc().timestamp_micros());
        size.append_value(file.size as i64);
        modified.append_option(file.modified.map(|m| m.timestamp_micros()));
        content.append_option(file.content.as_deref());
        at.append_value(ingested_at.timestamp_micros());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(apartment.finish()),
        Arc::new(date.finish()),
        Arc::new(name.finish()),
        Arc::new(file_ts.finish()),
        Arc::new(size.finish()),
        Arc::new(modified.finish()),
        Arc::new(content.finish()),
        Arc::new(at.finish()),
    ];
    Ok(RecordBatch::try_new(SCHEMA.clone(), columns)?)
}

/// Rows of `files` split by partition, without the partition columns (for an append).
pub fn partition_batches(
    files: &[LandedFile],
    ingested_at: DateTime<Utc>,
) -> Result<Vec<PartitionBatch>> {
    let mut groups: std::collections::BTreeMap<Vec<PartitionValue>, Vec<&LandedFile>> =
        Default::default();
    for file in files {
        groups.entry(file.partition()).or_default().push(file);
    }
    let data_columns: Vec<usize> = (PARTITION_COLUMNS.len()..SCHEMA.fields().len()).collect();
    groups
        .into_iter()
        .map(|(values, files)| {
            let batch = rows(&files, ingested_at)?.project(&data_columns)?;
            Ok(PartitionBatch { values, batch })
        })
        .collect()
}

/// A filter on the rows of `files`: their partitions and names.
pub fn files_filter(files: &[LandedFile]) -> Expr {
    let columns: Vec<String> = PARTITION_COLUMNS.iter().map(|c| c.to_string()).collect();
    let partitions: Vec<Vec<PartitionValue>> = files.iter().map(LandedFile::partition).collect();
    let names = files.iter().map(|f| lit(f.name.as_str())).collect();
    partition_filter(&columns, partitions.iter().map(Vec::as_slice))
        .and(col("source_file").in_list(names, false))
}

fn landed_after(version: Option<i64>) -> Option<Expr> {
    version.map(|v| {
        col("ingested_at").gt(lit(ScalarValue::TimestampMicrosecond(
            Some(v),
            Some("UTC".into()),
        )))
    })
}

/// A session over the already opened `delta` (this table at that version) and nothing else.
pub async fn session_of(lake: &Lake, delta: &DeltaTable) -> Result<LakeSession> {
    let session = LakeSession::with_tables(lake, LakeSession::base_config(2), &[]).await?;
    session
        .register_snapshot(delta, &table(), &table().to_string())
        .await?;
    Ok(session)
}

/// `columns` of the rows matching `filter` (every row without one).
async fn select(
    session: &LakeSession,
    filter: Option<Expr>,
    columns: &[&str],
) -> Result<Vec<RecordBatch>> {
    let mut df = session.ctx().table(table_reference(&table())).await?;
    if let Some(filter) = filter {
        df = df.filter(filter)?;
    }
    Ok(df
        .select(columns.iter().map(|c| col(*c)).collect::<Vec<Expr>>())?
        .collect()
        .await?)
}

/// A `file_ts` value as the minute it is.
fn minute_of(micros: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc())
        .unwrap_or_default()
}

/// Every landed file (landed in a batch after `after`, when given) as its canonical landing path
/// ([`landing_path`]) and size: what bronze ingests and what the share is compared with.
pub async fn list(session: &LakeSession, after: Option<i64>) -> Result<Vec<QueuedFile>> {
    let columns = ["apartment", "source_file", "file_ts", "size"];
    let batches = select(session, landed_after(after), &columns).await?;
    let mut files = Vec::new();
    for batch in &batches {
        let apartment = cast(batch.column(0), &DataType::Utf8)?;
        let apartment = apartment.as_string::<i32>();
        let name = cast(batch.column(1), &DataType::Utf8)?;
        let name = name.as_string::<i32>();
        let minute = batch.column(2).as_primitive::<TimestampMicrosecondType>();
        let size = batch.column(3).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            files.push(QueuedFile {
                path: landing_path(
                    apartment.value(i),
                    minute_of(minute.value(i)),
                    name.value(i),
                ),
                size: size.value(i).max(0) as u64,
            });
        }
    }
    Ok(files)
}

/// The bytes of the files landed in `partitions` (after batch `after`, when given), by file name;
/// `None` for a file kept at its [`large_file_path`].
pub async fn contents(
    session: &LakeSession,
    partitions: &[&[PartitionValue]],
    after: Option<i64>,
) -> Result<HashMap<String, Option<Bytes>>> {
    let columns: Vec<String> = PARTITION_COLUMNS.iter().map(|c| c.to_string()).collect();
    let mut filter = partition_filter(&columns, partitions.iter().copied());
    if let Some(after) = landed_after(after) {
        filter = filter.and(after);
    }
    let batches = select(session, Some(filter), &["source_file", "content"]).await?;
    let mut out = HashMap::new();
    for batch in &batches {
        let name = cast(batch.column(0), &DataType::Utf8)?;
        let name = name.as_string::<i32>();
        let content = cast(batch.column(1), &DataType::Binary)?;
        let content = ContentColumn::new(content.as_binary::<i32>());
        for i in 0..batch.num_rows() {
            out.insert(name.value(i).to_string(), content.get(i));
        }
    }
    Ok(out)
}

/// The files of a `content` column as [`Bytes`] sharing the column's buffer: no copy of the
/// (decompressed) bytes per file.
struct ContentColumn<'a> {
    array: &'a BinaryArray,
    values: Bytes,
}

/// An Arrow buffer as the owner of a [`Bytes`].
struct ArrowBytes(Buffer);

impl AsRef<[u8]> for ArrowBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl<'a> ContentColumn<'a> {
    fn new(array: &'a BinaryArray) -> Self {
        let values = Bytes::from_owner(ArrowBytes(array.values().clone()));
        Self { array, values }
    }

    fn get(&self, row: usize) -> Option<Bytes> {
        if !self.array.is_valid(row) {
            return None;
        }
        let offsets = self.array.value_offsets();
        Some(
            self.values
                .slice(offsets[row] as usize..offsets[row + 1] as usize),
        )
    }
}

/// A landed file as export writes it back.
pub struct StoredFile {
    pub name: String,
    pub minute: NaiveDateTime,
    pub modified: Option<DateTime<Utc>>,
    /// `None`: read it from its [`large_file_path`].
    pub content: Option<Bytes>,
}

/// Every file landed for `apartment` on `date`, with its bytes.
pub async fn files_of_day(
    session: &LakeSession,
    apartment: &str,
    date: NaiveDate,
) -> Result<Vec<StoredFile>> {
    let key = [
        PartitionValue::Text(apartment.to_string()),
        PartitionValue::Date(date),
    ];
    let columns: Vec<String> = PARTITION_COLUMNS.iter().map(|c| c.to_string()).collect();
    let filter = partition_filter(&columns, [key.as_slice()]);
    let columns = ["source_file", "file_ts", "source_modified", "content"];
    let batches = select(session, Some(filter), &columns).await?;
    let mut files = Vec::new();
    for batch in &batches {
        let name = cast(batch.column(0), &DataType::Utf8)?;
        let name = name.as_string::<i32>();
        let minute = batch.column(1).as_primitive::<TimestampMicrosecondType>();
        let modified = batch.column(2).as_primitive::<TimestampMicrosecondType>();
        let content = cast(batch.column(3), &DataType::Binary)?;
        let content = ContentColumn::new(content.as_binary::<i32>());
        for i in 0..batch.num_rows() {
            files.push(StoredFile {
                name: name.value(i).to_string(),
                minute: minute_of(minute.value(i)),
                modified: modified
                    .is_valid(i)
                    .then(|| DateTime::from_timestamp_micros(modified.value(i)))
                    .flatten(),
                content: content.get(i),
            });
        }
    }
    Ok(files)
}

/// The newest minute landed per apartment, from the statistics of the table's files in its Delta
/// log (no data read). An apartment whose files carry no statistics is left out.
pub fn newest_minutes(delta: &DeltaTable) -> Result<HashMap<String, NaiveDateTime>> {
    let name = delta.table_url().to_string();
    let files = delta
        .snapshot()
        .and_then(|s| s.add_actions_table(true))
        .map_err(|e| LakeError::delta(name, e))?;
    let (Some(apartment), Some(newest)) = (
        files.column_by_name("partition.apartment"),
        files.column_by_name("max.file_ts"),
    ) else {
        return Ok(HashMap::new());
    };
    let apartment = cast(apartment, &DataType::Utf8)?;
    let apartment = apartment.as_string::<i32>();
    let newest = cast(newest, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let newest = newest.as_primitive::<TimestampMicrosecondType>();
    let mut out: HashMap<String, NaiveDateTime> = HashMap::new();
    for i in 0..files.num_rows() {
        if !apartment.is_valid(i) || !newest.is_valid(i) {
            continue;
        }
        let Some(minute) = DateTime::from_timestamp_micros(newest.value(i)) else {
            continue;
        };
        let minute = minute.naive_utc();
        out.entry(apartment.value(i).to_string())
            .and_modify(|m| *m = (*m).max(minute))
            .or_insert(minute);
    }
    Ok(out)
}

/// The (apartment, date) partitions of the table (from the Delta log).
pub fn partitions(delta: &DeltaTable) -> Result<PartitionSet> {
    let fields: Vec<Field> = SCHEMA.fields()[..PARTITION_COLUMNS.len()]
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    crate::lake::partitions::partitions_of_table(delta, &fields)
}

/// The dates landed for `apartment`, oldest first (from the Delta log).
pub fn dates_of(delta: &DeltaTable, apartment: &str) -> Result<Vec<NaiveDate>> {
    let mut dates: Vec<NaiveDate> = partitions(delta)?
        .iter()
        .filter_map(|key| match key {
            [PartitionValue::Text(a), PartitionValue::Date(d)] if a == apartment => Some(*d),
            _ => None,
        })
        .collect();
    dates.sort();
    Ok(dates)
}

/// Files and bytes of the rows matching `filter`.
pub async fn count(session: &LakeSession, filter: Expr) -> Result<(u64, u64)> {
    use datafusion::functions_aggregate::expr_fn::{count as count_rows, sum};
    let batches = session
        .ctx()
        .table(table_reference(&table()))
        .await?
        .filter(filter)?
        .aggregate(vec![], vec![count_rows(lit(1)), sum(col("size"))])?
        .collect()
        .await?;
    let batch = batches.first();
    let files = batch
        .and_then(|b| cast(b.column(0), &DataType::Int64).ok())
        .map(|c| c.as_primitive::<Int64Type>().value(0))
        .unwrap_or(0);
    let bytes = batch
        .and_then(|b| cast(b.column(1), &DataType::Int64).ok())
        .filter(|c| c.is_valid(0))
        .map(|c| c.as_primitive::<Int64Type>().value(0))
        .unwrap_or(0);
    Ok((files.max(0) as u64, bytes.max(0) as u64))
}
