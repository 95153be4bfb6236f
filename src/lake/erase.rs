//! Erasing rows for good (the right to erasure). The rows leave the current version of a table
//! by a Delta DELETE (or, for a personal column, an UPDATE that blanks it), and then every data
//! file in storage that holds one of them is deleted: the current files the commit replaced and
//! the older ones that only time travel still reached. A table without matching rows is left
//! as it is, history and all.
//!
//! In a table that had them, the log files of the versions before the erasure are deleted too,
//! after a checkpoint of the new one: they name those files and keep their statistics. Time
//! travel to those versions then fails ("its log is gone"); they held the erased rows. Their
//! other files, which no log names any more, go with the next vacuum.
//!
//! Which files hold a row is read from the files themselves (the predicate's columns, or the
//! partition values in a file's path), not from the log, so a file written by any version, a
//! compaction or an interrupted earlier erasure is found. Running it again after a crash finds
//! what is left and finishes.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, StringArray, new_null_array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, lit};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use datafusion::prelude::SessionContext;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::{ObjectMeta, ObjectStoreExt};
use serde::Serialize;

use super::log::live_files;
use super::write::writer_properties_without_statistics;
use super::{DeltaTable, Lake, LakeError, Result, TableRef, WriterLease, partition_columns};

/// What leaves a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The matching rows.
    Delete,
    /// The value of this column in the matching rows (set to NULL).
    Blank(String),
}

/// What erasing from one table did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Erased {
    pub table: String,
    /// Matching rows of the current version.
    pub rows: u64,
    /// Data files deleted from storage (relative to the table): every file that held a row.
    pub files: Vec<String>,
    pub bytes: u64,
    /// The version the erasure committed (`None`: nothing current matched, or a dry run).
    pub version: Option<u64>,
    /// Log files of earlier versions deleted (see [`forget_history`]).
    pub logs_removed: usize,
}

/// Erase the rows of `table` that the predicate `erasing` gives for its schema matches (see
/// the module documentation); `None` when the table does not exist or `erasing` gives none.
pub async fn erase(
    lake: &Lake,
    lease: &WriterLease,
    table: &TableRef,
    erasing: impl Fn(&Schema) -> Option<(Expr, Change)>,
    dry_run: bool,
) -> Result<Option<Erased>> {
    let name = table.to_string();
    let delta_error = |e| LakeError::delta(name.clone(), e);
    let Some(delta) = lake.open_table(table).await? else {
        return Ok(None);
    };
    let schema = delta
        .snapshot()
        .map_err(delta_error)?
        .snapshot()
        .arrow_schema();
    let Some((predicate, change)) = erasing(schema.as_ref()) else {
        return Ok(None);
    };
    let predicate = &predicate;
    let holding = files_holding(lake, table, &delta, schema, predicate).await?;
    let live: HashSet<String> = live_set(&delta).await?;
    let mut erased = Erased {
        table: name.clone(),
        rows: holding
            .iter()
            .filter(|f| live.contains(&f.relative))
            .map(|f| f.rows)
            .sum(),
        files: holding.iter().map(|f| f.relative.clone()).collect(),
        bytes: holding.iter().map(|f| f.meta.size).sum(),
        version: None,
        logs_removed: 0,
    };
    if dry_run || holding.is_empty() {
        return Ok(Some(erased));
    }
    let mut delta = delta;
    if erased.rows > 0 {
        lease.check().await?;
        delta = commit(delta, predicate, &change)
            .await
            .map_err(delta_error)?;
        erased.version = delta.version();
        tracing::debug!(target: "datacycle::commit", table = %name, version = erased.version,
            rows = erased.rows, "erasure committed");
    }
    let live = live_set(&delta).await?;
    if let Some(needed) = holding.iter().find(|f| live.contains(&f.relative)) {
        return Err(LakeError::Corrupt {
            context: format!("erasing from {name}"),
            message: format!(
                "{} still holds matching rows in the current version after the commit; no file \
                 was deleted",
                needed.relative
            ),
        });
    }
    lease.check().await?;
    erased.logs_removed = forget_history(&delta).await.map_err(delta_error)?;
    futures::stream::iter(&holding)
        .map(|file| async move {
            match lake.root_store().delete(&file.meta.location).await {
                // Deleted by an earlier, interrupted run.
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                done => done,
            }
        })
        .buffer_unordered(8)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    remove_empty_folders(lake, table, &holding);
    Ok(Some(erased))
}

/// The commit that takes the matching rows out of the current version.
async fn commit(
    delta: DeltaTable,
    predicate: &Expr,
    change: &Change,
) -> deltalake::DeltaResult<DeltaTable> {
    let properties = writer_properties_without_statistics(&[]);
    Ok(match change {
        Change::Delete => {
            delta
                .delete()
                .with_predicate(predicate.clone())
                .with_writer_properties(properties)
                .await?
                .0
        }
        Change::Blank(column) => {
            delta
                .update()
                .with_predicate(predicate.clone())
                .with_update(column.as_str(), lit(ScalarValue::Utf8(None)))
                .with_writer_properties(properties)
                .await?
                .0
        }
    })
}

/// Checkpoint the current version of `delta` and delete every log file before it: the commits
/// of the erased rows' files name them and carry their statistics (row counts, minima and maxima
/// per column, partition values), which time travel would still answer aggregates from. Versions
/// before the erasure cannot be read afterwards; they held the erased rows. Done before the files
/// go, so that a rerun after a crash, which finds the files still there, does it again.
async fn forget_history(delta: &DeltaTable) -> deltalake::DeltaResult<usize> {
    let Some(version) = delta.version() else {
        return Ok(0);
    };
    deltalake::checkpoints::create_checkpoint(delta, None).await?;
    // Every log file of an older version goes (their store times are compared with the real
    // clock, with a margin for an object store's own).
    let cutoff = chrono::Utc::now() + chrono::Duration::minutes(5);
    deltalake::checkpoints::cleanup_expired_logs_for(
        version,
        delta.log_store().as_ref(),
        cutoff.timestamp_millis(),
        None,
    )
    .await
}

/// On a local lake, the partition folders the deleted files leave empty (their names carry
/// partition values such as `apartment=jimmy`); object stores have no folders.
fn remove_empty_folders(lake: &Lake, table: &TableRef, deleted: &[Holding]) {
    let Some(root) = lake.local_root() else {
        return;
    };
    let table_dir = root.join(table.layer.as_str()).join(&table.name);
    for file in deleted {
        let mut dir = table_dir.join(&file.relative);
        while dir.pop() && dir != table_dir && dir.starts_with(&table_dir) {
            if std::fs::remove_dir(&dir).is_err() {
                break;
            }
        }
    }
}

/// A stored data file that holds matching rows.
struct Holding {
    meta: ObjectMeta,
    /// Relative to the table, percent-decoded.
    relative: String,
    rows: u64,
}

/// The table's current data files, relative and percent-decoded.
async fn live_set(delta: &DeltaTable) -> Result<HashSet<String>> {
    Ok(live_files(delta)
        .await?
        .iter()
        .map(|p| decoded(p))
        .collect())
}

fn decoded(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// Every data file in the table's storage, current or not, with a row `predicate` matches.
async fn files_holding(
    lake: &Lake,
    table: &TableRef,
    delta: &DeltaTable,
    table_schema: SchemaRef,
    predicate: &Expr,
) -> Result<Vec<Holding>> {
    let root = lake.path(&format!("{}/{}", table.layer.as_str(), table.name));
    let stored: Vec<ObjectMeta> = lake
        .root_store()
        .list(Some(&root))
        .try_filter(|meta| {
            let data = meta.location.extension() == Some("parquet")
                && !meta.location.as_ref().contains("/_delta_log/");
            std::future::ready(data)
        })
        .try_collect()
        .await?;
    let matcher = Matcher {
        state: SessionContext::new().state(),
        predicate: predicate.clone(),
        table_schema,
        partitions: partition_columns(delta),
    };
    let prefix_parts = root.parts().count();
    let checked: Vec<Option<Holding>> = futures::stream::iter(stored)
        .map(|meta| {
            let matcher = &matcher;
            let relative = decoded(
                &meta
                    .location
                    .parts()
                    .skip(prefix_parts)
                    .map(|p| p.as_ref().to_string())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
            async move {
                let rows = matcher.matching_rows(lake, &meta, &relative).await?;
                Ok::<_, LakeError>((rows > 0).then_some(Holding {
                    meta,
                    relative,
                    rows,
                }))
            }
        })
        .buffer_unordered(4)
        .try_collect()
        .await?;
    let mut holding: Vec<Holding> = checked.into_iter().flatten().collect();
    holding.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(holding)
}

/// Evaluates the predicate over one stored file.
struct Matcher {
    state: SessionState,
    predicate: Expr,
    table_schema: SchemaRef,
    partitions: Vec<String>,
}

impl Matcher {
    /// The rows of the file at `meta` (`relative` to the table) that the predicate matches. A
    /// file without one of the predicate's columns holds none.
    async fn matching_rows(&self, lake: &Lake, meta: &ObjectMeta, relative: &str) -> Result<u64> {
        let wanted: Vec<String> = self
            .predicate
            .column_refs()
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let partition_values = partition_values(relative);
        let data_columns: Vec<&str> = wanted
            .iter()
            .filter(|c| !self.partitions.contains(c))
            .map(String::as_str)
            .collect();
        let file_error = |e: datafusion::parquet::errors::ParquetError| LakeError::Corrupt {
            context: format!("reading {}", meta.location),
            message: e.to_string(),
        };
        let reader = StoredFile {
            store: lake.root_store().clone(),
            meta: meta.clone(),
        };
        let builder = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(file_error)?;
        if data_columns.is_empty() {
            // Partition values alone decide: every row of the file or none.
            let path_only = RecordBatch::try_new_with_options(
                Arc::new(Schema::empty()),
                vec![],
                &RecordBatchOptions::new().with_row_count(Some(1)),
            )?;
            let path_only = self.with_partition_values(path_only, &wanted, &partition_values)?;
            let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
            return Ok(if self.evaluate(&path_only)? > 0 {
                rows
            } else {
                0
            });
        }
        let file_schema = builder.schema().clone();
        if data_columns
            .iter()
            .any(|c| file_schema.field_with_name(c).is_err())
        {
            return Ok(0);
        }
        let mask = ProjectionMask::columns(builder.parquet_schema(), data_columns.iter().copied());
        let mut stream = builder.with_projection(mask).build().map_err(file_error)?;
        let mut rows = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(file_error)?;
            let batch = self.with_partition_values(batch, &wanted, &partition_values)?;
            rows += self.evaluate(&batch)?;
        }
        Ok(rows)
    }

    /// `batch` (the file's data columns) with the partition columns of `wanted` added from the
    /// file's path, typed as in the table.
    fn with_partition_values(
        &self,
        batch: RecordBatch,
        wanted: &[String],
        values: &[(String, Option<String>)],
    ) -> Result<RecordBatch> {
        let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for column in wanted.iter().filter(|c| self.partitions.contains(c)) {
            let data_type = self
                .table_schema
                .field_with_name(column)
                .map(|f| f.data_type().clone())?;
            let value = values
                .iter()
                .find(|(k, _)| k == column)
                .and_then(|(_, v)| v.clone());
            let array: ArrayRef = match value {
                Some(v) => cast(
                    &StringArray::from(vec![v.as_str(); batch.num_rows()]),
                    &data_type,
                )?,
                None => new_null_array(&data_type, batch.num_rows()),
            };
            fields.push(Arc::new(Field::new(column, data_type, true)));
            columns.push(array);
        }
        let schema = Arc::new(Schema::new(fields));
        Ok(RecordBatch::try_new_with_options(
            schema,
            columns,
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )?)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<u64> {
        let schema = DFSchema::try_from(batch.schema().as_ref().clone())?;
        let expr = self
            .state
            .create_physical_expr(self.predicate.clone(), &schema)?;
        let result = expr.evaluate(batch)?.into_array(batch.num_rows())?;
        let matched = result
            .as_any()
            .downcast_ref::<BooleanArray>()
            .map_or(0, BooleanArray::true_count);
        Ok(matched as u64)
    }
}

/// A stored Parquet file, read by the byte ranges the Parquet reader asks for (the footer, then
/// only the column chunks of the predicate's columns).
struct StoredFile {
    store: Arc<dyn object_store::ObjectStore>,
    meta: ObjectMeta,
}

impl AsyncFileReader for StoredFile {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, datafusion::parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.meta.location, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, datafusion::parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.meta.size;
            let metadata = ParquetMetaDataReader::new()
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// The `column=value` segments of a Hive-style partition path (`None`: the null partition).
fn partition_values(relative: &str) -> Vec<(String, Option<String>)> {
    relative
        .split('/')
        .filter_map(|segment| segment.split_once('='))
        .map(|(k, v)| {
            let value = (v != "__HIVE_DEFAULT_PARTITION__").then(|| v.to_string());
            (k.to_string(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_partition_values_from_paths() {
        assert_eq!(
            partition_values("apartment=jimmy/date=2023-10-01/part-0.parquet"),
            vec![
                ("apartment".into(), Some("jimmy".into())),
                ("date".into(), Some("2023-10-01".into()))
            ]
        );
        assert_eq!(
            partition_values("date_key=__HIVE_DEFAULT_PARTITION__/x.parquet"),
            vec![("date_key".into(), None)]
        );
        assert!(partition_values("part-0.parquet").is_empty());
    }
}
