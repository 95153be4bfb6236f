//! Landing retention (SPEC §3, `RETENTION_LANDING_DAYS`): the days of `landing.sensor_files`
//! older than the limit go, as whole partitions (one Delta commit that removes their data files,
//! nothing rewritten), with the large files kept beside the table for those days. Only files
//! already in bronze go: bronze is the lossless replay source from then on, so retention waits
//! while any landed batch is still pending.

use std::time::Instant;

use chrono::{Duration, NaiveDate};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;

use super::Result;
use super::engine::landing_fully_ingested;
use crate::config::Settings;
use crate::lake::landing::sensor_table::{self, LARGE_ROOT, PARTITION_COLUMNS};
use crate::lake::{Lake, PartitionValue, WriterLease, partition_filter};
use crate::ops::clock;
use crate::ops::report::StepReport;

/// Delete the landed days older than `settings.retention_landing_days` (`dry_run`: only say
/// which).
pub async fn expire_landing(
    lake: &Lake,
    settings: &Settings,
    lease: &WriterLease,
    dry_run: bool,
) -> Result<StepReport> {
    let started = Instant::now();
    let mut report = StepReport::new("retention landing");
    let Some(days) = settings.retention_landing_days else {
        report
            .notes
            .push("RETENTION_LANDING_DAYS=-1: landing is kept forever".into());
        return Ok(report.finish(started));
    };
    let table = sensor_table::table();
    let Some(delta) = lake.open_table(&table).await? else {
        return Ok(report.finish(started));
    };
    let cutoff = clock::now().date_naive() - Duration::days(days as i64);
    let expired: Vec<Vec<PartitionValue>> = sensor_table::partitions(&delta)?
        .iter()
        .filter(|key| matches!(key, [_, PartitionValue::Date(d)] if *d < cutoff))
        .map(<[PartitionValue]>::to_vec)
        .collect();
    report.notes.push(format!(
        "{} day(s) landed before {cutoff} ({days} days)",
        expired.len()
    ));
    if expired.is_empty() {
        return Ok(report.finish(started));
    }
    if !landing_fully_ingested(lake).await? {
        report.warn(
            "waiting_for_bronze",
            "landed files are not all in bronze yet: run `datacycle build bronze` first; nothing deleted".into(),
        );
        return Ok(report.finish(started));
    }
    let columns: Vec<String> = PARTITION_COLUMNS.iter().map(|c| c.to_string()).collect();
    let filter = partition_filter(&columns, expired.iter().map(Vec::as_slice));
    let session = sensor_table::session_of(lake, &delta).await?;
    let (files, bytes) = sensor_table::count(&session, filter.clone()).await?;
    report.files = files;
    report.bytes = bytes;
    report.count("partitions", expired.len() as u64);
    if dry_run {
        report.notes.push("dry run: nothing deleted".into());
        return Ok(report.finish(started));
    }
    lease.check().await?;
    lake.delete_where(&table, filter, None).await?;
    for key in &expired {
        if let [PartitionValue::Text(apartment), PartitionValue::Date(date)] = key.as_slice() {
            delete_large_files(lake, apartment, *date).await?;
        }
    }
    Ok(report.finish(started))
}

/// The large files of an apartment's day, kept beside the table.
async fn delete_large_files(lake: &Lake, apartment: &str, date: NaiveDate) -> Result<()> {
    let prefix = lake.path(&format!(
        "{LARGE_ROOT}/{apartment}/{}",
        date.format("%Y/%m/%d")
    ));
    let store = lake.root_store();
    let objects: Vec<_> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(crate::lake::LakeError::from)?;
    for object in objects {
        store
            .delete(&object.location)
            .await
            .map_err(crate::lake::LakeError::from)?;
    }
    Ok(())
}
