//! Keeping tables cheap to open and to read after months of small commits:
//! - **compaction**: Delta OPTIMIZE of the partitions that have several small files, committed
//!   with `dataChange = false` (incremental readers see no new data, see `log`), then a
//!   checkpoint and the removal of log files older than the table's log retention;
//! - **vacuum**: deleting the data files that no version within the retention period needs
//!   (files replaced by compaction, partition rewrites, retention).

use std::num::NonZeroU64;

use object_store::ObjectStoreExt;
use serde::Serialize;

use super::write::writer_properties_without_statistics;
use super::{Lake, LakeError, Result, TableRef};

/// What compacting one table did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Compacted {
    pub table: String,
    pub files_removed: u64,
    pub files_added: u64,
    pub partitions: u64,
    /// The version checkpointed.
    pub checkpoint: Option<u64>,
    /// Expired log files removed.
    pub logs_removed: usize,
}

/// Compact `table` into files of about `target_bytes`, checkpoint it and drop the log files
/// older than `log_retain_hours` that the checkpoint makes unnecessary (the table's own 30-day
/// default would leave a month of minute commits in the log: 43,200 files every open lists).
pub async fn compact(
    lake: &Lake,
    table: &TableRef,
    target_bytes: u64,
    log_retain_hours: u64,
) -> Result<Option<Compacted>> {
    let name = table.to_string();
    let delta_error = |e| LakeError::delta(name.clone(), e);
    let Some(delta) = lake.open_table(table).await? else {
        return Ok(None);
    };
    let target = NonZeroU64::new(target_bytes.max(1)).expect("not zero");
    let (delta, metrics) = delta
        .optimize()
        .with_target_size(target)
        .with_writer_properties(writer_properties_without_statistics(&[]))
        .await
        .map_err(delta_error)?;
    deltalake::checkpoints::create_checkpoint(&delta, None)
        .await
        .map_err(delta_error)?;
    // Log files carry the store's modification times: compared with the real clock.
    let cutoff = chrono::Utc::now() - chrono::Duration::hours(log_retain_hours as i64);
    let logs_removed = deltalake::checkpoints::cleanup_expired_logs_for(
        delta.version().unwrap_or_default(),
        delta.log_store().as_ref(),
        cutoff.timestamp_millis(),
        None,
    )
    .await
    .map_err(delta_error)?;
    Ok(Some(Compacted {
        table: name,
        files_removed: metrics.num_files_removed,
        files_added: metrics.num_files_added,
        partitions: metrics.partitions_optimized,
        checkpoint: delta.version(),
        logs_removed,
    }))
}

/// What vacuuming one table deleted (or would delete, in a dry run).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Vacuumed {
    pub table: String,
    /// Paths relative to the table.
    pub files: Vec<String>,
    pub bytes: u64,
    pub dry_run: bool,
}

/// Delete the files of `table` that no version of the last `retain_hours` needs.
pub async fn vacuum(
    lake: &Lake,
    table: &TableRef,
    retain_hours: u64,
    dry_run: bool,
) -> Result<Option<Vacuumed>> {
    let name = table.to_string();
    let delta_error = |e| LakeError::delta(name.clone(), e);
    let Some(delta) = lake.open_table(table).await? else {
        return Ok(None);
    };
    let retention = chrono::Duration::hours(retain_hours as i64);
    let (delta, planned) = delta
        .vacuum()
        .with_retention_period(retention)
        .with_enforce_retention_duration(false)
        .with_dry_run(true)
        .await
        .map_err(delta_error)?;
    let root = format!("{}/{}", table.layer.as_str(), table.name);
    let mut bytes = 0;
    let mut files = Vec::with_capacity(planned.files_deleted.len());
    for file in planned.files_deleted {
        // Dry-run paths are absolute store paths or table-relative ones, by version.
        let relative = file
            .rsplit_once(&format!("{root}/"))
            .map_or(file.as_str(), |(_, r)| r)
            .to_string();
        if let Ok(meta) = lake
            .root_store()
            .head(&lake.path(&format!("{root}/{relative}")))
            .await
        {
            bytes += meta.size;
        }
        files.push(relative);
    }
    if !dry_run && !files.is_empty() {
        delta
            .vacuum()
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .await
            .map_err(delta_error)?;
    }
    Ok(Some(Vacuumed {
        table: name,
        files,
        bytes,
        dry_run,
    }))
}
