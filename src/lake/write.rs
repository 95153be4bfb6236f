//! Writing Delta tables: one atomic commit per write (append, partition replacement, whole-table
//! overwrite, delete), optionally carrying an application transaction, and the parallel
//! partition-wise append bronze and silver use.

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::parquet::basic::{Compression, ZstdLevel};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::protocol::SaveMode;

use super::partitions::{PartitionBatch, PartitionValue, PartitionValues};
use super::{Lake, LakeError, Result, TableRef};

/// What a write does to the rows already in the table.
#[derive(Debug, Clone)]
pub enum WriteMode {
    /// Add rows.
    Append,
    /// Replace exactly the rows matching the predicate (normally a partition filter); every new
    /// row must match it. One commit, so readers see the old or the new partitions, never a mix.
    ReplaceWhere(Expr),
    /// Replace the whole table, columns included.
    Overwrite,
}

/// The rows to write.
pub enum WriteInput {
    Batches(Vec<RecordBatch>),
    /// A DataFusion plan, streamed into Parquet; `session` must know the plan's tables.
    Plan {
        plan: LogicalPlan,
        session: Arc<dyn Session>,
    },
}

/// A write request for one table.
pub struct TableWrite<'a> {
    pub table: &'a TableRef,
    pub partition_columns: &'a [&'a str],
    pub input: WriteInput,
    pub mode: WriteMode,
    /// Application transaction recorded in the same commit: (application id, version).
    pub app_transaction: Option<(String, i64)>,
    /// Columns written without min/max statistics (see [`writer_properties_without_statistics`]).
    pub without_statistics: &'a [&'a str],
}

/// What every commit of the lake's writes shares: expired log files are removed by maintenance
/// (`lake::maintenance`, nightly), not after each commit, where delta-rs would list (and stat)
/// the whole `_delta_log` every time — a busy table's minute commits pay for its whole log.
fn lake_commit() -> CommitProperties {
    CommitProperties::default().with_cleanup_expired_logs(Some(false))
}

/// Commit properties carrying the application transaction `(app id, version)`, if any.
fn commit_properties(app_transaction: Option<(String, i64)>) -> CommitProperties {
    let commit = lake_commit();
    match app_transaction {
        Some((app, version)) => commit.with_application_transaction(Transaction::new(app, version)),
        None => commit,
    }
}

impl Lake {
    /// Write into a table (creating it on first write) in one atomic commit.
    pub async fn write(&self, request: TableWrite<'_>) -> Result<DeltaTable> {
        let name = request.table.to_string();
        let table = match self.open_table(request.table).await? {
            Some(table) => table,
            None => self.table_handle(request.table)?,
        };
        let commit = commit_properties(request.app_transaction);
        let builder = match request.input {
            WriteInput::Batches(batches) if batches.is_empty() => table.write(batches),
            WriteInput::Batches(batches) => {
                // One input partition per batch, so deltalake encodes Parquet on every core
                // (its own `with_input_batches` puts all batches in a single partition).
                let schema = batches[0].schema();
                let partitions = batches.into_iter().map(|b| vec![b]).collect();
                let provider = MemTable::try_new(schema, partitions)?;
                let plan = LogicalPlanBuilder::scan(
                    "input",
                    provider_as_source(Arc::new(provider)),
                    None,
                )?
                .build()?;
                table.write(Vec::new()).with_input_plan(plan)
            }
            WriteInput::Plan { plan, session } => table
                .write(Vec::new())
                .with_input_plan(plan)
                .with_session_state(session),
        };
        let builder = builder
            .with_partition_columns(request.partition_columns.iter().copied())
            .with_writer_properties(writer_properties_without_statistics(
                request.without_statistics,
            ))
            .with_commit_properties(commit)
            .with_table_name(request.table.name.clone());
        let builder = match request.mode {
            WriteMode::Append => builder.with_save_mode(SaveMode::Append),
            WriteMode::ReplaceWhere(predicate) => builder
                .with_save_mode(SaveMode::Overwrite)
                .with_replace_where(predicate),
            // A whole-table replacement may change the columns (a reference table that gained
            // one, a query that was edited).
            WriteMode::Overwrite => builder
                .with_save_mode(SaveMode::Overwrite)
                .with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite),
        };
        builder.await.map_err(|e| LakeError::delta(name, e))
    }

    /// Delete the rows matching `predicate` in one commit that also records `app_transaction`.
    pub async fn delete_where(
        &self,
        table: &TableRef,
        predicate: Expr,
        app_transaction: Option<(String, i64)>,
    ) -> Result<()> {
        self.delete_with(table, predicate, commit_properties(app_transaction))
            .await
    }

    /// Delete the partitions matching `predicate` (on partition columns only) as retention: the
    /// commit is marked ([`super::log::RETENTION_MARK`]) so that the tables built from this one
    /// keep their own copy of those days instead of following the deletion.
    pub async fn expire_where(&self, table: &TableRef, predicate: Expr) -> Result<()> {
        let mark = (
            super::log::RETENTION_MARK.to_string(),
            serde_json::Value::Bool(true),
        );
        let commit = lake_commit().with_metadata([mark]);
        self.delete_with(table, predicate, commit).await
    }

    async fn delete_with(
        &self,
        table: &TableRef,
        predicate: Expr,
        commit: CommitProperties,
    ) -> Result<()> {
        let Some(handle) = self.open_table(table).await? else {
            return Ok(());
        };
        handle
            .delete()
            .with_predicate(predicate)
            .with_commit_properties(commit)
            .await
            .map_err(|e| LakeError::delta(table.to_string(), e))?;
        Ok(())
    }
}

impl Lake {
    /// Open `table`, creating it empty with `schema` and `partition_columns` when missing.
    pub async fn create_table_if_missing(
        &self,
        table: &TableRef,
        schema: &datafusion::arrow::datatypes::Schema,
        partition_columns: &[&str],
    ) -> Result<DeltaTable> {
        use deltalake::kernel::StructType;
        use deltalake::kernel::engine::arrow_conversion::TryFromArrow;
        if let Some(existing) = self.open_table(table).await? {
            return Ok(existing);
        }
        let columns = StructType::try_from_arrow(schema)?;
        let created = self
            .table_handle(table)?
            .create()
            .with_columns(columns.fields().cloned())
            .with_partition_columns(partition_columns.iter().copied())
            .with_table_name(table.name.clone())
            .await;
        match created {
            Ok(created) => Ok(created),
            // Created meanwhile by a crashed earlier attempt: use it.
            Err(_) if self.open_table(table).await?.is_some() => {
                Ok(self.open_table(table).await?.expect("table exists"))
            }
            Err(e) => Err(LakeError::delta(table.to_string(), e)),
        }
    }

    /// Append rows already split by partition in one commit, encoding Parquet with up to
    /// `writers` writers in parallel (each owns whole partitions, so every partition gets one
    /// file per call). Faster than a plan-based write: no repartitioning copy of the rows.
    /// `without_statistics` are columns written without min/max statistics.
    #[allow(clippy::too_many_arguments)]
    pub async fn append_partitioned(
        &self,
        table: &TableRef,
        schema: &datafusion::arrow::datatypes::Schema,
        partition_columns: &[&str],
        without_statistics: &[&str],
        batches: Vec<PartitionBatch>,
        writers: usize,
        app_transaction: Option<(String, i64)>,
    ) -> Result<()> {
        use deltalake::kernel::Action;
        use deltalake::kernel::transaction::CommitBuilder;
        use deltalake::protocol::DeltaOperation;
        use deltalake::writer::{DeltaWriter, RecordBatchWriter, WriteMode as RowsWriteMode};

        let name = table.to_string();
        let delta_error = |e| LakeError::delta(name.clone(), e);
        let delta = self
            .create_table_if_missing(table, schema, partition_columns)
            .await?;

        let mut groups: std::collections::BTreeMap<Vec<PartitionValue>, Vec<RecordBatch>> =
            Default::default();
        for b in batches {
            groups.entry(b.values).or_default().push(b.batch);
        }
        let writers = writers.clamp(1, groups.len().max(1));
        let mut shares: Vec<Vec<(PartitionValues, Vec<RecordBatch>)>> =
            (0..writers).map(|_| Vec::new()).collect();
        for (i, (values, rows)) in groups.into_iter().enumerate() {
            let map = partition_columns
                .iter()
                .map(|c| c.to_string())
                .zip(values.iter().map(PartitionValue::scalar))
                .collect();
            shares[i % writers].push((map, rows));
        }
        let mut tasks = tokio::task::JoinSet::new();
        for share in shares {
            let mut writer = RecordBatchWriter::for_table(&delta)
                .map_err(delta_error)?
                .with_writer_properties(writer_properties_without_statistics(without_statistics));
            tasks.spawn(async move {
                for (values, rows) in share {
                    for batch in rows {
                        writer
                            .write_partition(batch, &values, RowsWriteMode::Default)
                            .await?;
                    }
                }
                writer.flush().await
            });
        }
        let mut actions = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let adds = done
                .map_err(|e| LakeError::Corrupt {
                    context: format!("writing {name}"),
                    message: e.to_string(),
                })?
                .map_err(delta_error)?;
            actions.extend(adds.into_iter().map(Action::Add));
        }
        let commit = commit_properties(app_transaction);
        let snapshot = delta.snapshot().map_err(delta_error)?;
        CommitBuilder::from(commit)
            .with_actions(actions)
            .build(
                Some(snapshot),
                delta.log_store(),
                DeltaOperation::Write {
                    mode: SaveMode::Append,
                    partition_by: Some(partition_columns.iter().map(|c| c.to_string()).collect()),
                    predicate: None,
                },
            )
            .await
            .map_err(delta_error)?;
        Ok(())
    }
}

/// Parquet settings of every lake file, with no min/max statistics for `columns` (text no query
/// prunes by, whose statistics would cost two comparisons per value, or file contents). zstd
/// keeps the many repeated strings of bronze small at a cost close to snappy's.
pub(super) fn writer_properties_without_statistics(columns: &[&str]) -> WriterProperties {
    use deltalake::parquet::file::properties::EnabledStatistics;
    use deltalake::parquet::schema::types::ColumnPath;
    columns
        .iter()
        .fold(WriterProperties::builder(), |builder, column| {
            builder
                .set_column_statistics_enabled(ColumnPath::from(*column), EnabledStatistics::None)
        })
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid zstd level"),
        ))
        .build()
}
