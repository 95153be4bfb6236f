//! Landing share files into `landing.sensor_files`: read in parallel, committed a batch at a
//! time (one Delta commit per batch, so a batch is landed whole or not at all). Files too large
//! to hold in memory are streamed beside the table and land as a row without content.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::Transfer;
use crate::config::Settings;
use crate::lake::landing::sensor_table::{
    self, APP_ID, LandedFile, PARTITION_COLUMNS, UNINDEXED_COLUMNS, large_file_path,
};
use crate::lake::{Lake, TableWrite, WriteInput, WriteMode, WriterLease};
use crate::ops::files::read_if_present;
use crate::ops::parallel::map_blocking;
use crate::ops::progress;
use crate::ops::report::StepReport;
use crate::sources::{Result, SourceError};

/// Land every transfer, oldest first, in batches bounded like bronze's.
pub(super) async fn land_all(
    lake: &Lake,
    settings: &Settings,
    lease: &WriterLease,
    transfers: Vec<Transfer>,
    report: &mut StepReport,
) -> Result<()> {
    if transfers.is_empty() {
        return Ok(());
    }
    let table = sensor_table::table();
    let mut last_version = match lake.open_table(&table).await? {
        Some(delta) => lake.app_version(&delta, APP_ID).await?.unwrap_or(0),
        None => 0,
    };
    let bar = progress::bar(transfers.len() as u64, "landing", "files");
    for batch in batches(
        &transfers,
        settings.bronze_batch_files,
        settings.bronze_batch_bytes,
    ) {
        let files = read_batch(lake, settings, batch, &bar).await?;
        report.count("vanished", (batch.len() - files.len()) as u64);
        let (replacing, fresh): (Vec<_>, Vec<_>) = files.into_iter().partition(|(_, r)| *r);
        for (files, replace) in [(replacing, true), (fresh, false)] {
            let files: Vec<LandedFile> = files.into_iter().map(|(f, _)| f).collect();
            if files.is_empty() {
                continue;
            }
            // A strictly increasing batch version, also the rows' `ingested_at`.
            last_version = Utc::now().timestamp_micros().max(last_version + 1);
            lease.check().await?;
            commit(lake, settings, &files, replace, last_version).await?;
            report.files += files.len() as u64;
            report.bytes += files.iter().map(|f| f.size).sum::<u64>();
            if replace {
                report.count("landed_again_changed", files.len() as u64);
            }
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// One commit: an append, or (`replace`: files landed before with another size) a replacement
/// of exactly those files' rows.
async fn commit(
    lake: &Lake,
    settings: &Settings,
    files: &[LandedFile],
    replace: bool,
    version: i64,
) -> Result<()> {
    let table = sensor_table::table();
    let ingested_at = DateTime::from_timestamp_micros(version).expect("valid timestamp");
    let txn = Some((APP_ID.to_string(), version));
    let started = Instant::now();
    if replace {
        let refs: Vec<&LandedFile> = files.iter().collect();
        lake.write(TableWrite {
            table: &table,
            partition_columns: &PARTITION_COLUMNS,
            input: WriteInput::Batches(vec![sensor_table::rows(&refs, ingested_at)?]),
            mode: WriteMode::ReplaceWhere(sensor_table::files_filter(files)),
            app_transaction: txn,
            without_statistics: UNINDEXED_COLUMNS,
        })
        .await?;
    } else {
        lake.append_partitioned(
            &table,
            &sensor_table::SCHEMA,
            &PARTITION_COLUMNS,
            UNINDEXED_COLUMNS,
            sensor_table::partition_batches(files, ingested_at)?,
            settings.threads.max(1),
            txn,
        )
        .await?;
    }
    tracing::debug!(target: "datacycle::commit", table = %table, batch = version,
        files = files.len(), ms = started.elapsed().as_millis() as u64, "committed");
    Ok(())
}

/// Consecutive runs of at most `max_files` files and (unless one file alone exceeds it)
/// `max_bytes` bytes.
fn batches(transfers: &[Transfer], max_files: usize, max_bytes: u64) -> Vec<&[Transfer]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (index, transfer) in transfers.iter().enumerate() {
        let full = index - start >= max_files.max(1)
            || (index > start && bytes + transfer.size > max_bytes);
        if full {
            out.push(&transfers[start..index]);
            (start, bytes) = (index, 0);
        }
        bytes += transfer.size;
    }
    if start < transfers.len() {
        out.push(&transfers[start..]);
    }
    out
}

/// Read a batch on worker threads: (file, replaces a landed file) per source still present.
/// A file over `MAX_SOURCE_FILE_MB` is streamed to its large-file path instead (bronze
/// quarantines it by its size, unread).
async fn read_batch(
    lake: &Lake,
    settings: &Settings,
    batch: &[Transfer],
    bar: &indicatif::ProgressBar,
) -> Result<Vec<(LandedFile, bool)>> {
    let max_bytes = settings.max_source_file_bytes;
    let mut landed = Vec::with_capacity(batch.len());
    for large in batch.iter().filter(|t| t.size > max_bytes) {
        if let Some(size) = stream_large(lake, settings, large).await? {
            landed.push((large.landed(size, None), large.replaces));
        }
        bar.inc(1);
    }
    let small: Vec<Transfer> = batch
        .iter()
        .filter(|t| t.size <= max_bytes)
        .cloned()
        .collect();
    let threads = settings.local_io_threads();
    let bar = bar.clone();
    let read = tokio::task::spawn_blocking(move || {
        map_blocking(&small, threads, |t| {
            let bytes = read_if_present(&t.source, t.size).map_err(|source| SourceError::Read {
                path: t.source.clone(),
                source,
            });
            bar.inc(1);
            bytes.map(|b| b.map(|b| (t.landed(b.len() as u64, Some(b)), t.replaces)))
        })
    })
    .await
    .map_err(|e| SourceError::Read {
        path: PathBuf::from("(landing workers)"),
        source: std::io::Error::other(e.to_string()),
    })?;
    for file in read {
        landed.extend(file?);
    }
    Ok(landed)
}

impl Transfer {
    fn landed(&self, size: u64, content: Option<Vec<u8>>) -> LandedFile {
        LandedFile {
            apartment: self.apartment.clone(),
            minute: self.minute,
            name: self.name.clone(),
            size,
            modified: self.modified,
            content,
        }
    }
}

/// Stream a file too large for a row to its large-file path; `None` when it vanished.
async fn stream_large(
    lake: &Lake,
    settings: &Settings,
    transfer: &Transfer,
) -> Result<Option<u64>> {
    let relative = large_file_path(&transfer.apartment, transfer.minute, &transfer.name);
    if lake.is_local() {
        let (lake, source, sync) = (
            lake.clone(),
            transfer.source.clone(),
            settings.landing_fsync,
        );
        return tokio::task::spawn_blocking(move || {
            Ok(lake.copy_in_blocking(&relative, &source, sync)?)
        })
        .await
        .map_err(|e| SourceError::Read {
            path: transfer.source.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    stream_one(lake.root_store(), transfer, &lake.path(&relative)).await
}

/// A large file as a multipart upload, 8 MiB at a time.
async fn stream_one(
    store: &Arc<dyn ObjectStore>,
    transfer: &Transfer,
    target: &ObjectPath,
) -> Result<Option<u64>> {
    use std::io::Read;
    let read_error = |source| SourceError::Read {
        path: transfer.source.clone(),
        source,
    };
    let mut file = match std::fs::File::open(&transfer.source) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    let mut upload = object_store::WriteMultipart::new(store.put_multipart(target).await?);
    let mut buffer = vec![0u8; 8 << 20];
    let mut copied = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(read_error)?;
        if n == 0 {
            break;
        }
        upload.wait_for_capacity(4).await?;
        upload.write(&buffer[..n]);
        copied += n as u64;
    }
    upload.finish().await?;
    Ok(Some(copied))
}
