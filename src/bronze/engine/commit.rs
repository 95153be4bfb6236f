//! One batch: read, parse and commit the rows, then the files-table rows, both under the
//! batch's application transaction version.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use datafusion::logical_expr::{col, lit};
use futures::{StreamExt, TryStreamExt};

use super::files_table::files_batch;
use super::handoff::ContentSource;
use super::read::{Contents, fetch, parse_all};
use super::select::{Candidate, partition_names};
use super::{FileOutcome, LandingFormat, NOTES_LIMIT, SourceFile, files_schema};
use crate::bronze::{BronzeError, Result};
use crate::config::Settings;
use crate::lake::landing::sensor_table;
use crate::lake::{
    Lake, LakeSession, PartitionValue, QueuedFile, TableWrite, WriteInput, WriteMode, WriterLease,
    partition_filter,
};
use crate::ops::report::StepReport;

pub(super) struct Batcher<'a, F: LandingFormat> {
    pub(super) format: Arc<F>,
    pub(super) source: ContentSource,
    pub(super) lake: &'a Lake,
    pub(super) settings: &'a Settings,
    pub(super) lease: &'a WriterLease,
    pub(super) last_version: i64,
    pub(super) quarantine_notes: usize,
    /// Queued files that were not in landing.
    pub(super) missing: Vec<QueuedFile>,
}

impl<F: LandingFormat> Batcher<'_, F> {
    /// The highest batch version recorded so far.
    pub(super) async fn last_version(&self) -> Result<i64> {
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
    pub(super) async fn run(
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
        let contents = match (&self.source, self.lake.local_root()) {
            (ContentSource::Table { session, after }, _) => Contents::Fetched(
                self.fetch_from_table(session.as_deref(), *after, batch)
                    .await?,
            ),
            (ContentSource::Files, Some(root)) => Contents::ReadInWorkers(root),
            (ContentSource::Files, None) => Contents::Fetched(self.fetch_all(batch).await?),
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
                without_statistics: &[],
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

    /// Bytes of each file from the rows of `landing.sensor_files` (landed after `after`), a file
    /// kept beside the table read from there.
    async fn fetch_from_table(
        &self,
        session: Option<&LakeSession>,
        after: Option<i64>,
        batch: &[Candidate],
    ) -> Result<Vec<Option<Bytes>>> {
        let Some(session) = session else {
            return Ok(vec![None; batch.len()]);
        };
        let partitions: BTreeSet<&[PartitionValue]> =
            batch.iter().map(|c| c.file.partition.as_slice()).collect();
        let partitions: Vec<&[PartitionValue]> = partitions.into_iter().collect();
        let mut found = sensor_table::contents(session, &partitions, after).await?;
        let store = self.lake.root_store();
        let mut contents = Vec::with_capacity(batch.len());
        for candidate in batch {
            let bytes = match found.remove(&candidate.file.name) {
                Some(Some(bytes)) => Some(bytes),
                Some(None) => match sensor_table::large_file_of(&candidate.landing_path) {
                    Some(path) => fetch(store, &self.lake.path(&path)).await?,
                    None => None,
                },
                None => None,
            };
            contents.push(bytes);
        }
        Ok(contents)
    }

    /// A batch timestamp that is also a strictly increasing batch version.
    fn next_ingested_at(&mut self) -> DateTime<Utc> {
        let now = Utc::now().timestamp_micros();
        let version = now.max(self.last_version + 1);
        self.last_version = version;
        DateTime::from_timestamp_micros(version).expect("valid timestamp")
    }
}
