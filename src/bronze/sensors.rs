//! The bronze step for sensor files: landing JSON → `bronze.sensor_readings` (one row per leaf)
//! and `bronze.sensor_files` (one row per file: ok or quarantined, with the reason).
//!
//! Files come from the landing queue (routine ticks) or from a listing of all of landing
//! (`--full`). A file already in `sensor_files` with the same size is skipped; a quarantined
//! file is retried only when its size changed. Files are flattened in parallel on every core
//! and committed in batches: first the readings, then the file rows, both carrying the batch's
//! application transaction version (its `ingested_at` in microseconds). A crash between the two
//! commits leaves readings whose version is ahead of `sensor_files`; the next run deletes exactly
//! those rows before doing anything else, so no file is ever added twice.

use object_store::ObjectStoreExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{col, lit};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use rayon::prelude::*;

use super::flatten::{FlatFile, flatten};
use super::schema::{
    FILES_PARTITIONS, FileOutcome, READINGS_PARTITIONS, ReadingsBuilder, SENSOR_READINGS,
    STATUS_OK, SourceFile, files_batch,
};
use super::{BronzeError, Result};
use crate::config::Settings;
use crate::lake::{
    Lake, LakeSession, LandingQueue, PartitionBatch, PartitionValue, QueuedFile, TableRef,
    TableWrite, WriteInput, WriteMode, WriterLease, table_reference,
};
use crate::ops::progress;
use crate::ops::report::StepReport;
use crate::sources::sensor_name::{LANDING_SENSORS, SensorFileName, parse_landing_path};
use crate::transform::partitions::PartitionSet;

/// Application id of this step in the Delta log of both tables.
pub const APP_ID: &str = "datacycle.bronze.sensors";
/// Name of the landing queue sensors are handed over in.
pub const QUEUE: &str = "sensors";
/// Quarantine reasons listed in the report (all are in `bronze.sensor_files`).
const NOTES_LIMIT: usize = 10;

pub fn readings_table() -> TableRef {
    TableRef::bronze("sensor_readings")
}

pub fn files_table() -> TableRef {
    TableRef::bronze("sensor_files")
}

/// A landing file to ingest.
#[derive(Debug, Clone)]
struct Candidate {
    landing_path: String,
    file: SourceFile,
}

/// What the index of `sensor_files` says about a file.
#[derive(Debug, Clone, Copy)]
struct Known {
    size: i64,
    ok: bool,
}

/// Ingest pending landing files (all of landing with `full`) into bronze.
pub async fn build(
    session: &LakeSession,
    settings: &Settings,
    lease: &WriterLease,
    full: bool,
) -> Result<StepReport> {
    let started = Instant::now();
    let mut report = StepReport::new("bronze sensors");
    let lake = session.lake();
    recover_interrupted_batch(lake, lease, &mut report).await?;

    let queue = LandingQueue::new(lake, QUEUE);
    let pending = queue.snapshot().await?;
    let listed = if full {
        list_landing(lake, settings.local_io_threads()).await?
    } else {
        pending.files.clone()
    };
    let candidates = parse_candidates(listed, &mut report);

    session.refresh(&files_table()).await?;
    let index = load_index(session, &candidates, full).await?;
    let (retries, fresh) = classify(candidates, &index, &mut report);

    let categories = crate::transform::reference::sensor_categories(
        crate::transform::reference_dir().as_deref(),
    )?;
    let total = (retries.len() + fresh.len()) as u64;
    let bar = progress::bar(total, "bronze", "files");
    let mut batcher = Batcher {
        lake,
        settings,
        lease,
        categories: Arc::new(categories),
        last_version: last_version(lake).await?,
        quarantine_notes: 0,
    };
    if !retries.is_empty() {
        batcher.run(&retries, true, &mut report).await?;
        bar.inc(retries.len() as u64);
    }
    for batch in fresh.chunks(settings.bronze_batch_files.max(1)) {
        batcher.run(batch, false, &mut report).await?;
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    queue.acknowledge(pending).await?;
    session.refresh(&readings_table()).await?;
    session.refresh(&files_table()).await?;
    report.warnings = report.counter("quarantined")
        + report.counter("changed_after_ingest")
        + report.counter("unrecognised_name");
    Ok(report.finish(started))
}

/// Undo a readings commit whose `sensor_files` commit never happened.
async fn recover_interrupted_batch(
    lake: &Lake,
    lease: &WriterLease,
    report: &mut StepReport,
) -> Result<()> {
    let Some(readings) = lake.open_table(&readings_table()).await? else {
        return Ok(());
    };
    let Some(readings_version) = lake.app_version(&readings, APP_ID).await? else {
        return Ok(());
    };
    let files_version = match lake.open_table(&files_table()).await? {
        Some(files) => lake.app_version(&files, APP_ID).await?,
        None => None,
    };
    if files_version.is_some_and(|f| f >= readings_version) {
        return Ok(());
    }
    lease.check()?;
    let ingested_at = lit(ScalarValue::TimestampMicrosecond(
        Some(readings_version),
        Some("UTC".into()),
    ));
    tracing::warn!(
        batch = readings_version,
        "removing the readings of a bronze batch interrupted before its file list was committed"
    );
    lake.delete_where(
        &readings_table(),
        col("ingested_at").eq(ingested_at),
        Some((APP_ID.to_string(), files_version.unwrap_or(0))),
    )
    .await?;
    report.count("interrupted_batches_rolled_back", 1);
    Ok(())
}

/// The highest batch version recorded so far.
async fn last_version(lake: &Lake) -> Result<i64> {
    let mut last = 0;
    for table in [readings_table(), files_table()] {
        if let Some(t) = lake.open_table(&table).await? {
            last = last.max(lake.app_version(&t, APP_ID).await?.unwrap_or(0));
        }
    }
    Ok(last)
}

/// Every file under `landing/sensors/`.
async fn list_landing(lake: &Lake, threads: usize) -> Result<Vec<QueuedFile>> {
    let spinner = progress::spinner("listing landing");
    let files = lake.list_files(LANDING_SENSORS, threads).await?;
    spinner.finish_and_clear();
    Ok(files)
}

fn parse_candidates(listed: Vec<QueuedFile>, report: &mut StepReport) -> Vec<Candidate> {
    let mut candidates = Vec::with_capacity(listed.len());
    for queued in listed {
        let parsed = parse_landing_path(&queued.path)
            .and_then(|(apartment, name)| Some((apartment, name, SensorFileName::parse(name)?)));
        match parsed {
            Some((apartment, name, parsed)) => candidates.push(Candidate {
                file: SourceFile {
                    name: name.to_string(),
                    apartment: apartment.to_string(),
                    file_ts: parsed.minute,
                    size: queued.size as i64,
                },
                landing_path: queued.path,
            }),
            None => {
                tracing::warn!(path = %queued.path, "not a sensor landing path; left alone");
                report.count("unrecognised_name", 1);
            }
        }
    }
    candidates
}

/// (name → size, ok) of the files already in `sensor_files`, restricted to the candidates'
/// partitions unless `full`.
async fn load_index(
    session: &LakeSession,
    candidates: &[Candidate],
    full: bool,
) -> Result<HashMap<String, Known>> {
    let mut index = HashMap::new();
    if candidates.is_empty() || !session.has_table(&files_table()) {
        return Ok(index);
    }
    let mut df = session.ctx().table(table_reference(&files_table())).await?;
    if !full {
        let mut partitions = PartitionSet::default();
        for c in candidates {
            partitions.insert(&c.file.apartment, c.file.file_ts.date());
        }
        df = df.filter(partitions.partition_filter())?;
    }
    let batches: Vec<RecordBatch> = df
        .select(vec![col("source_file"), col("size"), col("status")])?
        .collect()
        .await?;
    for batch in &batches {
        let names = datafusion::arrow::compute::cast(
            batch.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )?;
        let names = names.as_string::<i32>();
        let sizes = batch.column(1).as_primitive::<Int64Type>();
        let status = datafusion::arrow::compute::cast(
            batch.column(2),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )?;
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

/// Split candidates into (quarantined files to retry, new files), chronologically.
fn classify(
    candidates: Vec<Candidate>,
    index: &HashMap<String, Known>,
    report: &mut StepReport,
) -> (Vec<Candidate>, Vec<Candidate>) {
    let (mut retries, mut fresh) = (Vec::new(), Vec::new());
    for c in candidates {
        match index.get(&c.file.name) {
            None => fresh.push(c),
            Some(known) if known.size == c.file.size => report.count("already_in_bronze", 1),
            Some(known) if !known.ok => retries.push(c),
            Some(known) => {
                tracing::warn!(
                    file = %c.file.name,
                    bronze_size = known.size,
                    landing_size = c.file.size,
                    "file changed after it was ingested; bronze keeps the first version"
                );
                report.count("changed_after_ingest", 1);
            }
        }
    }
    // By apartment, then time: consecutive files share a partition, so the flattened rows come
    // out already split by partition.
    let order = |c: &Candidate| (c.file.apartment.clone(), c.file.file_ts);
    retries.sort_by_key(order);
    fresh.sort_by_key(order);
    (retries, fresh)
}

struct Batcher<'a> {
    lake: &'a Lake,
    settings: &'a Settings,
    lease: &'a WriterLease,
    categories: Arc<HashSet<String>>,
    last_version: i64,
    quarantine_notes: usize,
}

impl Batcher<'_> {
    /// Read, flatten and commit one batch. `replace` rewrites existing `sensor_files` rows of
    /// these files (retries of quarantined files) instead of appending.
    async fn run(
        &mut self,
        batch: &[Candidate],
        replace: bool,
        report: &mut StepReport,
    ) -> Result<()> {
        let contents = if self.lake.is_local() {
            Contents::ReadInWorkers(self.lake.root_store().clone())
        } else {
            Contents::Fetched(self.read(batch).await?)
        };
        let ingested_at = self.next_ingested_at();
        let version = ingested_at.timestamp_micros();
        let categories = self.categories.clone();
        let threads = self.settings.threads.max(1);
        let work: Vec<(SourceFile, ObjectPath)> = batch
            .iter()
            .map(|c| (c.file.clone(), self.lake.path(&c.landing_path)))
            .collect();
        let flattening = Instant::now();
        let (readings, outcomes) = tokio::task::spawn_blocking(move || {
            flatten_all(&work, &contents, &categories, ingested_at, threads)
        })
        .await
        .map_err(|e| BronzeError::Worker(e.to_string()))??;
        tracing::debug!(
            files = batch.len(),
            ms = flattening.elapsed().as_millis() as u64,
            "bronze batch flattened"
        );

        for outcome in &outcomes {
            report.bytes += outcome.file.size.max(0) as u64;
            if let Some(error) = &outcome.error {
                tracing::warn!(file = %outcome.file.name, apartment = %outcome.file.apartment, "quarantined: {error}");
                report.count("quarantined", 1);
                if self.quarantine_notes < NOTES_LIMIT {
                    report
                        .notes
                        .push(format!("quarantined {}: {error}", outcome.file.name));
                    self.quarantine_notes += 1;
                } else if self.quarantine_notes == NOTES_LIMIT {
                    report
                        .notes
                        .push("more quarantined files: see bronze.sensor_files".into());
                    self.quarantine_notes += 1;
                }
            }
        }
        let missing = batch.len() - outcomes.len();
        report.count("missing_in_landing", missing as u64);
        if replace {
            report.count("retried", outcomes.len() as u64);
        }
        if outcomes.is_empty() {
            return Ok(());
        }
        let rows: usize = readings.iter().map(|b| b.batch.num_rows()).sum();
        let txn = Some((APP_ID.to_string(), version));
        if rows > 0 {
            self.lease.check()?;
            let writing = Instant::now();
            self.lake
                .append_partitioned(
                    &readings_table(),
                    &SENSOR_READINGS,
                    READINGS_PARTITIONS,
                    readings,
                    threads,
                    txn.clone(),
                )
                .await?;
            tracing::debug!(target: "datacycle::commit", table = "bronze.sensor_readings", batch = version, rows, ms = writing.elapsed().as_millis() as u64, "committed");
        }
        let mode = if replace {
            let mut partitions = PartitionSet::default();
            for o in &outcomes {
                partitions.insert(&o.file.apartment, o.file.file_ts.date());
            }
            let names = outcomes.iter().map(|o| lit(o.file.name.as_str())).collect();
            WriteMode::ReplaceWhere(
                partitions
                    .partition_filter()
                    .and(col("source_file").in_list(names, false)),
            )
        } else {
            WriteMode::Append
        };
        self.lease.check()?;
        self.lake
            .write(TableWrite {
                table: &files_table(),
                partition_columns: FILES_PARTITIONS,
                input: WriteInput::Batches(vec![files_batch(&outcomes, ingested_at)?]),
                mode,
                app_transaction: txn,
            })
            .await?;
        tracing::debug!(target: "datacycle::commit", table = "bronze.sensor_files", batch = version, files = outcomes.len(), "committed");
        report.files += outcomes.len() as u64;
        report.rows += rows as u64;
        Ok(())
    }

    /// Bytes of each file fetched asynchronously (remote lakes), `None` for files missing from
    /// landing (a copy that never finished; the source step lands and queues them again).
    async fn read(&self, batch: &[Candidate]) -> Result<Vec<Option<Bytes>>> {
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

/// Where the flattening workers get file contents from.
enum Contents {
    /// Read by the workers themselves (local lakes: no hand-off per file).
    ReadInWorkers(Arc<dyn ObjectStore>),
    /// Fetched beforehand, in batch order (remote lakes).
    Fetched(Vec<Option<Bytes>>),
}

/// The bytes of a landing file, `None` when it is not there.
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

/// Flatten every present file on `threads` workers; returns the readings split by partition
/// and one outcome per present file.
fn flatten_all(
    work: &[(SourceFile, ObjectPath)],
    contents: &Contents,
    categories: &HashSet<String>,
    ingested_at: DateTime<Utc>,
    threads: usize,
) -> Result<(Vec<PartitionBatch>, Vec<FileOutcome>)> {
    let chunk = work.len().div_ceil(threads * 4).max(1);
    let results: Vec<Result<(Vec<PartitionBatch>, Vec<FileOutcome>)>> = work
        .par_chunks(chunk)
        .enumerate()
        .map(|(index, files)| {
            let mut batches = Vec::new();
            let mut current: Option<(String, chrono::NaiveDate, ReadingsBuilder)> = None;
            let mut flat = FlatFile::default();
            let mut outcomes = Vec::with_capacity(files.len());
            for (offset, (file, path)) in files.iter().enumerate() {
                let bytes = match contents {
                    Contents::ReadInWorkers(store) => {
                        futures::executor::block_on(fetch(store, path))?
                    }
                    Contents::Fetched(all) => all[index * chunk + offset].clone(),
                };
                let Some(bytes) = bytes else { continue };
                let mut file = file.clone();
                file.size = bytes.len() as i64;
                if let Err(error) = flatten(&bytes, categories, &mut flat) {
                    outcomes.push(FileOutcome {
                        file,
                        rows: 0,
                        error: Some(error),
                    });
                    continue;
                }
                let date = file.file_ts.date();
                let same_partition =
                    matches!(&current, Some((a, d, _)) if *a == file.apartment && *d == date);
                if !same_partition {
                    if let Some(done) = current.take() {
                        batches.push(finish_partition(done)?);
                    }
                    let remaining = (files.len() - offset) * flat.leaves.len().max(64);
                    current = Some((
                        file.apartment.clone(),
                        date,
                        ReadingsBuilder::with_capacity(ingested_at, remaining),
                    ));
                }
                let (_, _, builder) = current.as_mut().expect("set above");
                builder.append(&file, &flat);
                outcomes.push(FileOutcome {
                    rows: flat.leaves.len() as i64,
                    file,
                    error: None,
                });
            }
            if let Some(done) = current.take() {
                batches.push(finish_partition(done)?);
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

fn finish_partition(
    (apartment, date, builder): (String, chrono::NaiveDate, ReadingsBuilder),
) -> Result<PartitionBatch> {
    Ok(PartitionBatch {
        values: vec![PartitionValue::Text(apartment), PartitionValue::Date(date)],
        batch: builder.finish()?,
    })
}
