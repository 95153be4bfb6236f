//! The bronze ingestion engine, shared by every kind of landing file (sensor JSON, weather CSV):
//! which files to ingest, in which batches, how they are parsed in parallel and committed so that
//! no file is ever added twice. A [`LandingFormat`] says where a kind of file lands, how to parse
//! it and into which tables.
//!
//! Files come from the source's landing queue (routine ticks) or from a listing of its whole
//! landing area (`--full`). A file already in the files table with the same size is skipped; a
//! file whose size changed (a quarantined file fixed at the source, a forecast whose upload had
//! been cut short) is ingested again, replacing its rows and its files-table row. Files are
//! parsed on every core and committed in batches: first the rows, then the file rows, both
//! carrying the batch's application transaction version (its `ingested_at` in microseconds). A
//! crash between the two commits leaves rows whose version is ahead of the files table; the next
//! run deletes exactly those rows before doing anything else.

use object_store::ObjectStoreExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, AsArray, Date32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Field, Int64Type, Schema, SchemaRef, TimeUnit,
};
use datafusion::arrow::error::ArrowError;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{col, lit};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use rayon::prelude::*;

use super::{BronzeError, Result};
use crate::config::Settings;
use crate::lake::{
    Lake, LakeSession, LandingQueue, PartitionBatch, PartitionValue, QueuedFile, TableRef,
    TableWrite, WriteInput, WriteMode, WriterLease, partition_filter, table_reference,
};
use crate::ops::files::read_if_present;
use crate::ops::progress;
use crate::ops::report::StepReport;

pub const STATUS_OK: &str = "ok";
pub const STATUS_QUARANTINED: &str = "quarantined";
/// Quarantine reasons listed in the report (all are in the files table).
const NOTES_LIMIT: usize = 10;

/// A landing file to ingest.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The file name (unique within its source).
    pub name: String,
    /// Values of the partition columns of both bronze tables.
    pub partition: Vec<PartitionValue>,
    /// The time the file is about (its name's minute or date): files are processed in this order.
    pub time: NaiveDateTime,
    pub size: i64,
}

/// What parsing one file gave.
#[derive(Debug, Clone, Copy)]
pub struct Parsed {
    /// Rows added.
    pub rows: usize,
    /// Members left out because their key names a secret.
    pub secrets_dropped: usize,
}

/// What became of one file.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub file: SourceFile,
    pub rows: i64,
    pub secrets_dropped: usize,
    /// `None` when the file was ingested, else the quarantine reason.
    pub error: Option<String>,
}

/// One kind of landing file: where it lands, how it parses, which bronze tables it fills.
pub trait LandingFormat: Send + Sync + 'static {
    /// Accumulates the rows of many files (one builder per partition and worker).
    type Rows: Send;
    /// Per-worker parsing state reused from file to file.
    type Scratch: Default;

    /// Name in reports, e.g. `sensors`.
    fn name(&self) -> &'static str;
    /// Application id of the step in the Delta log of both tables.
    fn app_id(&self) -> &'static str;
    /// The landing queue the source hands files over in.
    fn queue(&self) -> &'static str;
    /// Where the files land, relative to the lake root.
    fn landing_prefix(&self) -> &'static str;
    fn rows_table(&self) -> TableRef;
    fn files_table(&self) -> TableRef;
    fn rows_schema(&self) -> SchemaRef;
    /// Partition columns of both tables, with their types.
    fn partition_fields(&self) -> Vec<Field>;
    /// The file a landing path holds, `None` when the path is not one of this format's files.
    fn identify(&self, landing_path: &str, size: u64) -> Option<SourceFile>;
    /// A builder for about `capacity` files.
    fn rows_builder(&self, ingested_at: DateTime<Utc>, capacity: usize) -> Self::Rows;
    /// Parse one file into `rows`: what was added, or why the file is quarantined (then nothing
    /// was added).
    fn parse(
        &self,
        file: &SourceFile,
        bytes: &[u8],
        rows: &mut Self::Rows,
        scratch: &mut Self::Scratch,
    ) -> std::result::Result<Parsed, String>;
    /// Columns of the rows table written without min/max statistics (text nothing prunes by).
    fn unindexed_columns(&self) -> &'static [&'static str] {
        &[]
    }
    /// The accumulated rows; the partition columns may be left out (they are constant).
    fn finish(&self, rows: Self::Rows) -> std::result::Result<RecordBatch, ArrowError>;
}

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

/// A landing file to ingest and where it is.
#[derive(Debug, Clone)]
struct Candidate {
    landing_path: String,
    file: SourceFile,
}

/// What the files table says about a file.
#[derive(Debug, Clone, Copy)]
struct Known {
    size: i64,
    ok: bool,
}

/// Ingest pending landing files of `format` (all of its landing area with `full`) into bronze.
pub async fn build<F: LandingFormat>(
    format: Arc<F>,
    session: &LakeSession,
    settings: &Settings,
    lease: &WriterLease,
    full: bool,
) -> Result<StepReport> {
    let started = Instant::now();
    let mut report = StepReport::new(format!("bronze {}", format.name()));
    let lake = session.lake();
    recover_interrupted_batch(format.as_ref(), lake, lease, &mut report).await?;

    let queue = LandingQueue::new(lake, format.queue());
    let pending = queue.snapshot().await?;
    let listed = if full {
        let spinner = progress::spinner("listing landing");
        let files = lake
            .list_files(format.landing_prefix(), settings.local_io_threads())
            .await?;
        spinner.finish_and_clear();
        files
    } else {
        pending.files.clone()
    };
    let candidates = identify_all(format.as_ref(), listed, &mut report);

    session.refresh(&format.files_table()).await?;
    let index = load_index(format.as_ref(), session, &candidates, full).await?;
    let (replaced, fresh) = classify(candidates, &index, &mut report);

    let bar = progress::bar((replaced.len() + fresh.len()) as u64, "bronze", "files");
    let mut batcher = Batcher {
        format,
        lake,
        settings,
        lease,
        last_version: 0,
        quarantine_notes: 0,
        missing: Vec::new(),
    };
    batcher.last_version = batcher.last_version().await?;
    if !replaced.is_empty() {
        batcher.run(&replaced, true, &mut report).await?;
        bar.inc(replaced.len() as u64);
    }
    for batch in batches(
        &fresh,
        settings.bronze_batch_files,
        settings.bronze_batch_bytes,
    ) {
        batcher.run(batch, false, &mut report).await?;
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    // Queued files that are not in landing stay queued: the source lands them again, or finds
    // them gone and forgets them.
    queue.enqueue(&batcher.missing).await?;
    queue.acknowledge(pending).await?;
    session.refresh(&batcher.format.rows_table()).await?;
    session.refresh(&batcher.format.files_table()).await?;
    report.warnings = report.counter("quarantined")
        + report.counter("replaced_changed_file")
        + report.counter("unrecognised_name");
    Ok(report.finish(started))
}

/// Consecutive runs of at most `max_files` files and (unless one file alone exceeds it)
/// `max_bytes` bytes: many small sensor files or a few large forecast files per commit.
fn batches(candidates: &[Candidate], max_files: usize, max_bytes: u64) -> Vec<&[Candidate]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (index, candidate) in candidates.iter().enumerate() {
        let size = candidate.file.size.max(0) as u64;
        let full = index - start >= max_files.max(1) || (index > start && bytes + size > max_bytes);
        if full {
            out.push(&candidates[start..index]);
            start = index;
            bytes = 0;
        }
        bytes += size;
    }
    if start < candidates.len() {
        out.push(&candidates[start..]);
    }
    out
}

/// Undo a rows commit whose files commit never happened.
async fn recover_interrupted_batch<F: LandingFormat>(
    format: &F,
    lake: &Lake,
    lease: &WriterLease,
    report: &mut StepReport,
) -> Result<()> {
    let Some(rows) = lake.open_table(&format.rows_table()).await? else {
        return Ok(());
    };
    let Some(rows_version) = lake.app_version(&rows, format.app_id()).await? else {
        return Ok(());
    };
    let files_version = match lake.open_table(&format.files_table()).await? {
        Some(files) => lake.app_version(&files, format.app_id()).await?,
        None => None,
    };
    if files_version.is_some_and(|f| f >= rows_version) {
        return Ok(());
    }
    lease.check().await?;
    tracing::warn!(
        batch = rows_version,
        table = %format.rows_table(),
        "removing the rows of a bronze batch interrupted before its file list was committed"
    );
    let ingested_at = lit(ScalarValue::TimestampMicrosecond(
        Some(rows_version),
        Some("UTC".into()),
    ));
    lake.delete_where(
        &format.rows_table(),
        col("ingested_at").eq(ingested_at),
        Some((format.app_id().to_string(), files_version.unwrap_or(0))),
    )
    .await?;
    report.count("interrupted_batches_rolled_back", 1);
    Ok(())
}

fn identify_all<F: LandingFormat>(
    format: &F,
    listed: Vec<QueuedFile>,
    report: &mut StepReport,
) -> Vec<Candidate> {
    let mut candidates = Vec::with_capacity(listed.len());
    for queued in listed {
        match format.identify(&queued.path, queued.size) {
            Some(file) => candidates.push(Candidate {
                file,
                landing_path: queued.path,
            }),
            None => {
                tracing::warn!(path = %queued.path, "not a {} landing path; left alone", format.name());
                report.count("unrecognised_name", 1);
            }
        }
    }
    candidates
}

fn partition_names<F: LandingFormat>(format: &F) -> Vec<String> {
    format
        .partition_fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// (name → size, ok) of the files already in the files table, restricted to the candidates'
/// partitions unless `full`.
async fn load_index<F: LandingFormat>(
    format: &F,
    session: &LakeSession,
    candidates: &[Candidate],
    full: bool,
) -> Result<HashMap<String, Known>> {
    let mut index = HashMap::new();
    if candidates.is_empty() || !session.has_table(&format.files_table()) {
        return Ok(index);
    }
    let mut df = session
        .ctx()
        .table(table_reference(&format.files_table()))
        .await?;
    if !full {
        let columns = partition_names(format);
        df = df.filter(partition_filter(
            &columns,
            candidates.iter().map(|c| c.file.partition.as_slice()),
        ))?;
    }
    let batches: Vec<RecordBatch> = df
        .select(vec![col("source_file"), col("size"), col("status")])?
        .collect()
        .await?;
    for batch in &batches {
        let names = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let names = names.as_string::<i32>();
        let sizes = batch.column(1).as_primitive::<Int64Type>();
        let status = datafusion::arrow::compute::cast(batch.column(2), &DataType::Utf8)?;
        let status = status.as_string::<i32>();
        for i in 0..batch.num_rows() {
            index.insert(
                names.value(i).to_string(),
                Known {
                    size: sizes.value(i),
                    ok: status.value(i) == STATUS_OK,
                },
            );
        }
    }
    Ok(index)
}

/// Split candidates into (files ingested before whose size changed, new files), in processing
/// order.
fn classify(
    candidates: Vec<Candidate>,
    index: &HashMap<String, Known>,
    report: &mut StepReport,
) -> (Vec<Candidate>, Vec<Candidate>) {
    let (mut replaced, mut fresh) = (Vec::new(), Vec::new());
    for c in candidates {
        match index.get(&c.file.name) {
            None => fresh.push(c),
            Some(known) if known.size == c.file.size => report.count("already_in_bronze", 1),
            Some(known) if !known.ok => replaced.push(c),
            Some(known) => {
                tracing::warn!(
                    file = %c.file.name,
                    bronze_size = known.size,
                    landing_size = c.file.size,
                    "file changed after it was ingested; its rows are replaced"
                );
                report.count("replaced_changed_file", 1);
                replaced.push(c);
            }
        }
    }
    // By partition, then time: consecutive files share a partition, so parsed rows come out
    // already split by partition.
    let order = |c: &Candidate| (c.file.partition.clone(), c.file.time);
    replaced.sort_by_key(order);
    fresh.sort_by_key(order);
    (replaced, fresh)
}

struct Batcher<'a, F: LandingFormat> {
    format: Arc<F>,
    lake: &'a Lake,
    settings: &'a Settings,
    lease: &'a WriterLease,
    last_version: i64,
    quarantine_notes: usize,
    /// Queued files that were not in landing.
    missing: Vec<QueuedFile>,
}

impl<F: LandingFormat> Batcher<'_, F> {
    /// The highest batch version recorded so far.
    async fn last_version(&self) -> Result<i64> {
        let mut last = 0;
        for table in [self.format.rows_table(), self.format.files_table()] {
            if let Some(t) = self.lake.open_table(&table).await? {
                last = last.max(
                    self.lake
                        .app_version(&t, self.format.app_id())
                        .await?
                        .unwrap_or(0),
                );
            }
        }
        Ok(last)
    }

    /// Read, parse and commit one batch. `replace`: these files were ingested before; their rows
    /// and files-table rows are replaced. A crash after the rows were deleted leaves the files
    /// table with the old size, so the next run replaces the file again.
    async fn run(
        &mut self,
        batch: &[Candidate],
        replace: bool,
        report: &mut StepReport,
    ) -> Result<()> {
        // Files too large to parse are quarantined by their size, never read.
        let max_bytes = self.settings.max_source_file_bytes;
        let (oversized, batch): (Vec<Candidate>, Vec<Candidate>) = batch
            .iter()
            .cloned()
            .partition(|c| c.file.size.max(0) as u64 > max_bytes);
        let batch = batch.as_slice();
        let contents = match self.lake.local_root() {
            Some(root) => Contents::ReadInWorkers(root),
            None => Contents::Fetched(self.fetch_all(batch).await?),
        };
        let ingested_at = self.next_ingested_at();
        let version = ingested_at.timestamp_micros();
        let threads = self.settings.threads.max(1);
        let work: Vec<(SourceFile, String)> = batch
            .iter()
            .map(|c| (c.file.clone(), c.landing_path.clone()))
            .collect();
        let format = self.format.clone();
        let parsing = Instant::now();
        let (rows, mut outcomes) = tokio::task::spawn_blocking(move || {
            parse_all(format.as_ref(), &work, &contents, ingested_at, threads)
        })
        .await
        .map_err(|e| BronzeError::Worker(e.to_string()))??;
        let listed = batch.len() + oversized.len();
        outcomes.extend(oversized.into_iter().map(|c| FileOutcome {
            error: Some(format!(
                "{} bytes: larger than MAX_SOURCE_FILE_MB ({} MiB); kept in landing, not read",
                c.file.size,
                max_bytes >> 20
            )),
            file: c.file,
            rows: 0,
            secrets_dropped: 0,
        }));
        tracing::debug!(
            files = batch.len(),
            ms = parsing.elapsed().as_millis() as u64,
            "bronze batch parsed"
        );
        self.note_outcomes(&outcomes, listed, replace, report);
        if outcomes.len() < listed {
            let present: std::collections::HashSet<&str> =
                outcomes.iter().map(|o| o.file.name.as_str()).collect();
            self.missing.extend(
                batch
                    .iter()
                    .filter(|c| !present.contains(c.file.name.as_str()))
                    .map(|c| QueuedFile {
                        path: c.landing_path.clone(),
                        size: c.file.size.max(0) as u64,
                    }),
            );
        }
        if outcomes.is_empty() {
            return Ok(());
        }
        let row_count: usize = rows.iter().map(|b| b.batch.num_rows()).sum();
        let txn = Some((self.format.app_id().to_string(), version));
        let partitions: Vec<String> = partition_names(self.format.as_ref());
        let partition_refs: Vec<&str> = partitions.iter().map(String::as_str).collect();
        let these_files = || {
            let names = outcomes.iter().map(|o| lit(o.file.name.as_str())).collect();
            partition_filter(
                &partitions,
                outcomes.iter().map(|o| o.file.partition.as_slice()),
            )
            .and(col("source_file").in_list(names, false))
        };
        if replace {
            self.lease.check().await?;
            self.lake
                .delete_where(&self.format.rows_table(), these_files(), None)
                .await?;
        }
        if row_count > 0 {
            self.lease.check().await?;
            let writing = Instant::now();
            self.lake
                .append_partitioned(
                    &self.format.rows_table(),
                    &self.format.rows_schema(),
                    &partition_refs,
                    self.format.unindexed_columns(),
                    rows,
                    threads,
                    txn.clone(),
                )
                .await?;
            tracing::debug!(target: "datacycle::commit", table = %self.format.rows_table(), batch = version,
                rows = row_count, ms = writing.elapsed().as_millis() as u64, "committed");
        }
        let mode = if replace {
            WriteMode::ReplaceWhere(these_files())
        } else {
            WriteMode::Append
        };
        let files_schema = files_schema(&self.format.partition_fields());
        self.lease.check().await?;
        self.lake
            .write(TableWrite {
                table: &self.format.files_table(),
                partition_columns: &partition_refs,
                input: WriteInput::Batches(vec![files_batch(
                    &files_schema,
                    &outcomes,
                    ingested_at,
                )?]),
                mode,
                app_transaction: txn,
            })
            .await?;
        tracing::debug!(target: "datacycle::commit", table = %self.format.files_table(), batch = version,
            files = outcomes.len(), "committed");
        report.files += outcomes.len() as u64;
        report.rows += row_count as u64;
        Ok(())
    }

    fn note_outcomes(
        &mut self,
        outcomes: &[FileOutcome],
        batch_len: usize,
        replace: bool,
        report: &mut StepReport,
    ) {
        for outcome in outcomes {
            report.bytes += outcome.file.size.max(0) as u64;
            if outcome.secrets_dropped > 0 {
                report.count("secret_keys_dropped", outcome.secrets_dropped as u64);
            }
            let Some(error) = &outcome.error else {
                continue;
            };
            tracing::warn!(file = %outcome.file.name, "quarantined: {error}");
            report.count("quarantined", 1);
            if self.quarantine_notes < NOTES_LIMIT {
                report
                    .notes
                    .push(format!("quarantined {}: {error}", outcome.file.name));
            } else if self.quarantine_notes == NOTES_LIMIT {
                report.notes.push(format!(
                    "more quarantined files: see {}",
                    self.format.files_table()
                ));
            }
            self.quarantine_notes += 1;
        }
        report.count("missing_in_landing", (batch_len - outcomes.len()) as u64);
        if replace {
            report.count("retried", outcomes.len() as u64);
        }
    }

    /// Bytes of each file fetched asynchronously (remote lakes).
    async fn fetch_all(&self, batch: &[Candidate]) -> Result<Vec<Option<Bytes>>> {
        let store = self.lake.root_store().clone();
        futures::stream::iter(batch.iter().map(|c| {
            let store = store.clone();
            let path = self.lake.path(&c.landing_path);
            async move { fetch(&store, &path).await }
        }))
        .buffered(self.settings.io_concurrency.max(1))
        .try_collect()
        .await
    }

    /// A batch timestamp that is also a strictly increasing batch version.
    fn next_ingested_at(&mut self) -> DateTime<Utc> {
        let now = Utc::now().timestamp_micros();
        let version = now.max(self.last_version + 1);
        self.last_version = version;
        DateTime::from_timestamp_micros(version).expect("valid timestamp")
    }
}

/// Where the parsing workers get file contents from.
enum Contents {
    /// Read by the workers themselves (local lakes: no hand-off per file).
    ReadInWorkers(PathBuf),
    /// Fetched beforehand, in batch order (remote lakes).
    Fetched(Vec<Option<Bytes>>),
}

/// The bytes of a landing file, `None` when it is not there (a copy that never finished: the
/// source step lands and queues it again).
async fn fetch(store: &Arc<dyn ObjectStore>, path: &ObjectPath) -> Result<Option<Bytes>> {
    let read_error = |source| BronzeError::Read {
        path: path.to_string(),
        source: Box::new(source),
    };
    match store.get(path).await {
        Ok(result) => result.bytes().await.map(Some).map_err(read_error),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(source) => Err(read_error(source)),
    }
}

/// [`fetch`] for a local lake: a plain read on the worker thread (no runtime, no URL
/// conversion per file), sized by the listed size.
fn read_local(path: &Path, size: i64) -> Result<Option<Bytes>> {
    match read_if_present(path, size.max(0) as u64) {
        Ok(bytes) => Ok(bytes.map(Bytes::from)),
        Err(source) => Err(BronzeError::Read {
            path: path.display().to_string(),
            source: Box::new(source),
        }),
    }
}

/// Parse every present file on `threads` workers; returns the rows split by partition and one
/// outcome per present file.
fn parse_all<F: LandingFormat>(
    format: &F,
    work: &[(SourceFile, String)],
    contents: &Contents,
    ingested_at: DateTime<Utc>,
    threads: usize,
) -> Result<(Vec<PartitionBatch>, Vec<FileOutcome>)> {
    let chunk = work.len().div_ceil(threads * 4).max(1);
    let results: Vec<Result<(Vec<PartitionBatch>, Vec<FileOutcome>)>> = work
        .par_chunks(chunk)
        .enumerate()
        .map(|(index, files)| {
            let mut batches = Vec::new();
            let mut current: Option<(Vec<PartitionValue>, F::Rows)> = None;
            let mut scratch = F::Scratch::default();
            let mut outcomes = Vec::with_capacity(files.len());
            for (offset, (file, landing_path)) in files.iter().enumerate() {
                let bytes = match contents {
                    Contents::ReadInWorkers(root) => {
                        read_local(&root.join(landing_path), file.size)?
                    }
                    Contents::Fetched(all) => all[index * chunk + offset].clone(),
                };
                let Some(bytes) = bytes else { continue };
                let mut file = file.clone();
                file.size = bytes.len() as i64;
                if current.as_ref().is_none_or(|(p, _)| *p != file.partition) {
                    if let Some((partition, rows)) = current.take() {
                        batches.push(PartitionBatch {
                            values: partition,
                            batch: format.finish(rows)?,
                        });
                    }
                    let rows = format.rows_builder(ingested_at, files.len() - offset);
                    current = Some((file.partition.clone(), rows));
                }
                let (_, rows) = current.as_mut().expect("set above");
                let outcome = match format.parse(&file, &bytes, rows, &mut scratch) {
                    Ok(parsed) => FileOutcome {
                        rows: parsed.rows as i64,
                        secrets_dropped: parsed.secrets_dropped,
                        file,
                        error: None,
                    },
                    Err(error) => FileOutcome {
                        rows: 0,
                        secrets_dropped: 0,
                        file,
                        error: Some(error),
                    },
                };
                outcomes.push(outcome);
            }
            if let Some((partition, rows)) = current.take() {
                batches.push(PartitionBatch {
                    values: partition,
                    batch: format.finish(rows)?,
                });
            }
            Ok((batches, outcomes))
        })
        .collect();
    let mut batches = Vec::new();
    let mut outcomes = Vec::with_capacity(work.len());
    for result in results {
        let (chunk_batches, chunk_outcomes) = result?;
        batches.extend(chunk_batches.into_iter().filter(|b| b.batch.num_rows() > 0));
        outcomes.extend(chunk_outcomes);
    }
    Ok((batches, outcomes))
}

/// The files-table rows of a batch.
fn files_batch(
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
enum PartitionColumn {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(sizes: &[i64]) -> Vec<Candidate> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| Candidate {
                landing_path: format!("f{i}"),
                file: SourceFile {
                    name: format!("f{i}"),
                    partition: Vec::new(),
                    time: NaiveDateTime::default(),
                    size,
                },
            })
            .collect()
    }

    fn lengths(batches: Vec<&[Candidate]>) -> Vec<usize> {
        batches.iter().map(|b| b.len()).collect()
    }

    #[test]
    fn batches_are_bounded_by_files_and_bytes() {
        let files = candidates(&[10, 10, 10, 10, 10]);
        assert_eq!(lengths(batches(&files, 2, 1000)), vec![2, 2, 1]);
        assert_eq!(lengths(batches(&files, 100, 25)), vec![2, 2, 1]);
        assert_eq!(lengths(batches(&files, 100, 1000)), vec![5]);
        // A file larger than the byte bound is a batch of its own.
        let files = candidates(&[5, 100, 5, 5]);
        assert_eq!(lengths(batches(&files, 100, 20)), vec![1, 1, 2]);
        assert!(batches(&[], 10, 10).is_empty());
    }
}
