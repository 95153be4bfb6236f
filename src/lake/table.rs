//! Delta tables of the lake: naming, opening, writing (append, partition overwrite), application
//! transaction versions (how a step records what it has consumed, atomically with its data) and
//! the files a commit range added (how incremental steps find their new input).

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use deltalake::DeltaTableBuilder;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::parquet::basic::{Compression, ZstdLevel};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt;

use super::{Lake, LakeError, Result};

pub use deltalake::DeltaTable;

/// The three table layers of the lake; their names are also the SQL schema names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Bronze,
    Silver,
    Gold,
}

impl Layer {
    pub const ALL: [Layer; 3] = [Layer::Bronze, Layer::Silver, Layer::Gold];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Bronze => "bronze",
            Layer::Silver => "silver",
            Layer::Gold => "gold",
        }
    }
}

/// A table of the lake, `layer.name` in SQL and `<layer>/<name>/` in storage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableRef {
    pub layer: Layer,
    pub name: String,
}

impl TableRef {
    pub fn new(layer: Layer, name: impl Into<String>) -> Self {
        Self {
            layer,
            name: name.into(),
        }
    }
    pub fn bronze(name: &str) -> Self {
        Self::new(Layer::Bronze, name)
    }
    pub fn silver(name: &str) -> Self {
        Self::new(Layer::Silver, name)
    }
    pub fn gold(name: &str) -> Self {
        Self::new(Layer::Gold, name)
    }

    /// The application id a step that writes this table records its progress under
    /// (`datacycle.silver.sensor_events`).
    pub fn app_id(&self) -> String {
        format!("datacycle.{self}")
    }
}

/// Commit properties carrying the application transaction `(app id, version)`, if any.
fn commit_properties(app_transaction: Option<(String, i64)>) -> CommitProperties {
    let commit = CommitProperties::default();
    match app_transaction {
        Some((app, version)) => commit.with_application_transaction(Transaction::new(app, version)),
        None => commit,
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.layer.as_str(), self.name)
    }
}

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
}

impl Lake {
    /// An unloaded handle of `table` (used to create it on first write).
    fn table_handle(&self, table: &TableRef) -> Result<DeltaTable> {
        let url = self.table_url(table);
        DeltaTableBuilder::from_url(url.clone())
            .map_err(|e| LakeError::delta(table.to_string(), e))?
            .with_storage_backend(self.root_store().clone(), url)
            .with_storage_options(self.storage_options())
            .build()
            .map_err(|e| LakeError::delta(table.to_string(), e))
    }

    /// Open the latest version of `table`, or `None` when it has never been written.
    pub async fn open_table(&self, table: &TableRef) -> Result<Option<DeltaTable>> {
        let mut handle = self.table_handle(table)?;
        let exists = handle
            .verify_deltatable_existence()
            .await
            .map_err(|e| LakeError::delta(table.to_string(), e))?;
        if !exists {
            return Ok(None);
        }
        handle
            .load()
            .await
            .map_err(|e| LakeError::delta(table.to_string(), e))?;
        Ok(Some(handle))
    }

    /// Open `table` at `version` (time travel).
    pub async fn open_table_version(&self, table: &TableRef, version: u64) -> Result<DeltaTable> {
        let mut handle = self.table_handle(table)?;
        handle
            .load_version(version)
            .await
            .map_err(|e| LakeError::delta(table.to_string(), e))?;
        Ok(handle)
    }

    /// Every Delta table under `bronze/`, `silver/` and `gold/`.
    pub async fn list_tables(&self) -> Result<Vec<TableRef>> {
        let mut tables = Vec::new();
        for layer in Layer::ALL {
            let listing = self
                .root_store()
                .list_with_delimiter(Some(&self.path(layer.as_str())))
                .await?;
            for dir in listing.common_prefixes {
                let Some(name) = dir.filename().map(str::to_string) else {
                    continue;
                };
                let log = dir.clone().join("_delta_log");
                let has_log = self
                    .root_store()
                    .list_with_delimiter(Some(&log))
                    .await
                    .map(|l| !l.objects.is_empty())
                    .unwrap_or(false);
                if has_log {
                    tables.push(TableRef::new(layer, name));
                }
            }
        }
        tables.sort();
        Ok(tables)
    }

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
            .with_writer_properties(writer_properties())
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
        let Some(handle) = self.open_table(table).await? else {
            return Ok(());
        };
        let commit = commit_properties(app_transaction);
        handle
            .delete()
            .with_predicate(predicate)
            .with_commit_properties(commit)
            .await
            .map_err(|e| LakeError::delta(table.to_string(), e))?;
        Ok(())
    }

    /// The version an application recorded in `table`, if any.
    pub async fn app_version(&self, table: &DeltaTable, app: &str) -> Result<Option<i64>> {
        let state = table
            .snapshot()
            .map_err(|e| LakeError::delta(table.table_url().as_str(), e))?;
        state
            .transaction_version(table.log_store().as_ref(), app)
            .await
            .map_err(|e| LakeError::delta(table.table_url().as_str(), e))
    }
}

/// A numeric operation metric (e.g. `num_added_rows`) of the latest commit of `table`.
pub async fn last_commit_metric(table: &DeltaTable, metric: &str) -> Option<u64> {
    use futures::StreamExt;
    let info = table.history(Some(1)).next().await?.ok()?;
    let metrics = info.info.get("operationMetrics")?;
    metrics.get(metric)?.as_u64()
}

/// Parquet settings of every lake file: zstd keeps the many repeated strings of bronze small at
/// a cost close to snappy's.
fn writer_properties() -> WriterProperties {
    writer_properties_without_statistics(&[])
}

/// [`writer_properties`] with no min/max statistics for `columns`: text no query prunes by,
/// whose statistics would cost two comparisons per value.
fn writer_properties_without_statistics(columns: &[&str]) -> WriterProperties {
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

/// A data file a commit added.
#[derive(Debug, Clone)]
pub struct AddedFile {
    /// Path relative to the table root.
    pub path: String,
    /// Partition column → value as Delta writes it (text; null as `None`).
    pub partition_values: std::collections::HashMap<String, Option<String>>,
}

/// Paths (relative to the table root) of the data files that commits `from + 1 ..= table version`
/// added and that are still live. `None` when part of that log is gone (expired), in which case
/// the caller must fall back to a full recompute.
pub async fn added_files_since(table: &DeltaTable, from: u64) -> Result<Option<Vec<AddedFile>>> {
    let Some(changes) = data_changes_since(table, from, false).await? else {
        return Ok(None);
    };
    let live: std::collections::HashSet<String> = live_files(table).await?.into_iter().collect();
    Ok(Some(
        changes
            .into_iter()
            .filter(|f| live.contains(&f.path))
            .collect(),
    ))
}

/// The data files that commits `from + 1 ..= table version` added or removed, live or not: their
/// partition values are the partitions whose content changed (a deleted partition included).
/// `None` as for [`added_files_since`].
pub async fn changed_files_since(table: &DeltaTable, from: u64) -> Result<Option<Vec<AddedFile>>> {
    data_changes_since(table, from, true).await
}

async fn data_changes_since(
    table: &DeltaTable,
    from: u64,
    with_removes: bool,
) -> Result<Option<Vec<AddedFile>>> {
    let name = table.table_url().to_string();
    let Some(current) = table.version() else {
        return Ok(Some(Vec::new()));
    };
    let log_store = table.log_store();
    let kinds: &[&str] = if with_removes {
        &["add", "remove"]
    } else {
        &["add"]
    };
    let mut changed = Vec::new();
    for version in (from + 1)..=current {
        let entry = log_store
            .read_commit_entry(version)
            .await
            .map_err(|e| LakeError::delta(name.clone(), e))?;
        let Some(bytes) = entry else { return Ok(None) };
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let action: serde_json::Value =
                serde_json::from_slice(line).map_err(|e| LakeError::Corrupt {
                    context: format!("{name} commit {version}"),
                    message: e.to_string(),
                })?;
            for kind in kinds {
                if let Some(file) = action.get(*kind).and_then(data_file) {
                    changed.push(file);
                }
            }
        }
    }
    Ok(Some(changed))
}

/// The file of an `add` or `remove` action that changed data (not a compaction rewrite).
fn data_file(action: &serde_json::Value) -> Option<AddedFile> {
    let data_change = action
        .get("dataChange")
        .and_then(|d| d.as_bool())
        .unwrap_or(true);
    let path = action.get("path").and_then(|p| p.as_str())?;
    if !data_change {
        return None;
    }
    let partition_values = action
        .get("partitionValues")
        .and_then(|v| v.as_object())
        .map(|values| {
            values
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
                .collect()
        })
        .unwrap_or_default();
    Some(AddedFile {
        path: percent_encoding::percent_decode_str(path)
            .decode_utf8_lossy()
            .into_owned(),
        partition_values,
    })
}

/// Relative paths of the live data files of `table`.
pub(crate) async fn live_files(table: &DeltaTable) -> Result<Vec<String>> {
    let name = table.table_url().to_string();
    let snapshot = table
        .snapshot()
        .map_err(|e| LakeError::delta(name.clone(), e))?;
    let log_store = table.log_store();
    let files: Vec<_> = snapshot
        .snapshot()
        .file_views(log_store.as_ref(), None)
        .map_ok(|f| f.path().to_string())
        .try_collect()
        .await
        .map_err(|e| LakeError::delta(name, e))?;
    Ok(files)
}

/// Partition column values as the Delta writer takes them.
type PartitionValues = indexmap::IndexMap<String, delta_kernel::expressions::Scalar>;

/// The value of one partition column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartitionValue {
    Text(String),
    Date(chrono::NaiveDate),
    /// An INT key such as gold's `date_key`.
    Int(i32),
}

use datafusion::arrow::datatypes::Date32Type;

impl PartitionValue {
    /// The value as a DataFusion literal.
    pub fn scalar_value(&self) -> datafusion::common::ScalarValue {
        use datafusion::common::ScalarValue;
        match self {
            PartitionValue::Text(text) => ScalarValue::Utf8(Some(text.clone())),
            PartitionValue::Date(date) => {
                ScalarValue::Date32(Some(Date32Type::from_naive_date(*date)))
            }
            PartitionValue::Int(value) => ScalarValue::Int32(Some(*value)),
        }
    }

    fn scalar(&self) -> delta_kernel::expressions::Scalar {
        use delta_kernel::expressions::Scalar;
        match self {
            PartitionValue::Text(text) => Scalar::String(text.clone()),
            PartitionValue::Date(date) => Scalar::Date(Date32Type::from_naive_date(*date)),
            PartitionValue::Int(value) => Scalar::Integer(*value),
        }
    }
}

/// A filter selecting exactly the distinct partitions in `keys` (`false` when there are none):
/// per distinct value of the leading columns, `c1 = v1 AND ... AND last IN (values)`, ORed.
/// Grouping matters: the filter runs on every row of a chunk (twice, with replaceWhere's
/// validation), and an OR of one conjunction per partition costs one comparison per partition.
pub fn partition_filter<'a>(
    columns: &[String],
    keys: impl IntoIterator<Item = &'a [PartitionValue]>,
) -> Expr {
    use datafusion::logical_expr::{col, lit};
    let mut groups: std::collections::BTreeMap<
        &[PartitionValue],
        std::collections::BTreeSet<&PartitionValue>,
    > = Default::default();
    let mut any_key = false;
    for key in keys {
        any_key = true;
        if let Some((value, prefix)) = key.split_last() {
            groups.entry(prefix).or_default().insert(value);
        }
    }
    let Some((last, leading)) = columns.split_last() else {
        return lit(any_key);
    };
    groups
        .into_iter()
        .map(|(prefix, values)| {
            let mut values: Vec<Expr> = values.into_iter().map(|v| lit(v.scalar_value())).collect();
            let last = if values.len() == 1 {
                col(last.as_str()).eq(values.remove(0))
            } else {
                col(last.as_str()).in_list(values, false)
            };
            leading
                .iter()
                .zip(prefix)
                .map(|(c, v)| col(c.as_str()).eq(lit(v.scalar_value())))
                .fold(last, |all, term| term.and(all))
        })
        .reduce(Expr::or)
        .unwrap_or(lit(false))
}

/// Rows that all belong to one partition: the values of the partition columns, in order. The
/// batch may leave the partition columns out (their values are `values`).
#[derive(Debug, Clone)]
pub struct PartitionBatch {
    pub values: Vec<PartitionValue>,
    pub batch: RecordBatch,
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
