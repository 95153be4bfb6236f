//! The bronze ingestion engine, shared by every kind of landing file (sensor JSON, weather CSV):
//! which files to ingest, in which batches, how they are parsed in parallel and committed so that
//! no file is ever added twice. A [`LandingFormat`] says where a kind of file lands, how to parse
//! it and into which tables.
//!
//! Files come from the source's landing queue (routine ticks) or from a listing of its whole
//! landing area (`--full`); sensor files from the rows of `landing.sensor_files` landed since the
//! last run (all of them with `--full`). A file already in the files table with the same size is skipped; a
//! file whose size changed (a quarantined file fixed at the source, a forecast whose upload had
//! been cut short) is ingested again, replacing its rows and its files-table row. Files are
//! parsed on every core and committed in batches: first the rows, then the file rows, both
//! carrying the batch's application transaction version (its `ingested_at` in microseconds). A
//! crash between the two commits leaves rows whose version is ahead of the files table; the next
//! run deletes exactly those rows before doing anything else.

mod commit;
mod files_table;
mod handoff;
mod read;
mod select;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, SchemaRef};
use datafusion::arrow::error::ArrowError;

use super::Result;
use crate::config::Settings;
use crate::lake::{LakeSession, PartitionValue, TableRef, WriterLease};
use crate::ops::progress;
use crate::ops::report::StepReport;
use commit::Batcher;
pub use files_table::files_schema;
use handoff::Handoff;
pub use handoff::landing_fully_ingested;
use select::{Candidate, classify, identify_all, load_index, recover_interrupted_batch};

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

/// Where a format's files are in landing.
#[derive(Debug, Clone, Copy)]
pub enum Landing {
    /// Files under `prefix` (relative to the lake root), handed over in the queue `queue`.
    Files {
        queue: &'static str,
        prefix: &'static str,
    },
    /// Rows of `landing.sensor_files`, each holding a file's bytes.
    SensorFilesTable,
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
    /// Where the files are in landing.
    fn landing(&self) -> Landing;
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

/// Ingest pending landing files of `format` (all of its landing area with `full`) into bronze.
/// A failure names the step.
pub async fn build<F: LandingFormat>(
    format: Arc<F>,
    session: &LakeSession,
    settings: &Settings,
    lease: &WriterLease,
    full: bool,
) -> Result<StepReport> {
    let step = format!("bronze {}", format.name());
    ingest(format, session, settings, lease, full, &step)
        .await
        .map_err(|e| e.in_step(&step))
}

async fn ingest<F: LandingFormat>(
    format: Arc<F>,
    session: &LakeSession,
    settings: &Settings,
    lease: &WriterLease,
    full: bool,
    step: &str,
) -> Result<StepReport> {
    let started = Instant::now();
    let mut report = StepReport::new(step);
    let lake = session.lake();
    recover_interrupted_batch(format.as_ref(), lake, lease, &mut report).await?;

    let handoff = Handoff::open(format.landing(), lake, full).await?;
    let listed = handoff.pending(lake, settings, full).await?;
    let candidates = identify_all(format.as_ref(), listed, &mut report);

    session.refresh(&format.files_table()).await?;
    let index = load_index(format.as_ref(), session, &candidates, full).await?;
    let (replaced, fresh) = classify(candidates, &index, &mut report);

    let bar = progress::bar((replaced.len() + fresh.len()) as u64, "bronze", "files");
    let mut batcher = Batcher {
        format,
        source: handoff.contents(),
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
    handoff
        .done(lake, std::mem::take(&mut batcher.missing))
        .await?;
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
