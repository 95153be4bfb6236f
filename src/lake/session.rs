//! A DataFusion session over the lake: schemas `landing`, `bronze`, `silver` and `gold` hold every Delta
//! table, so SQL files and the SQL shell see the same names.

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemorySchemaProvider, TableProvider};
use datafusion::common::TableReference;
use datafusion::dataframe::DataFrame;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::{DFParser, Statement};
use deltalake::delta_datafusion::planner::DeltaPlanner;
use futures::{StreamExt, TryStreamExt, stream};

use super::table::{DeltaTable, Layer, TableRef, table_id};
use super::time_travel::{AsOf, Snapshot, TABLE_AT, TableAt};
use super::{Lake, LakeError, Result};

/// Which table a session reads and at which version. A table deleted and created again starts
/// again at version 0, so the version alone does not identify what was read; the id of its
/// Delta metadata does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub table_id: String,
    pub version: u64,
}

/// The Delta handle of one table (`None`: not loaded, or gone).
type HandleSlot = Arc<tokio::sync::Mutex<Option<DeltaTable>>>;

/// How many tables a session loads or refreshes at once: each is a few small reads of its log,
/// which overlap (on S3 each is a round trip).
const TABLES_AT_ONCE: usize = 8;

/// A session with the lake's tables registered.
#[derive(Clone)]
pub struct LakeSession {
    ctx: SessionContext,
    lake: Lake,
    /// The table (Delta metadata id) and version each lake table is registered at.
    versions: Arc<std::sync::Mutex<std::collections::HashMap<TableRef, Registered>>>,
    /// The Delta handle each table was registered from: a refresh reads only the commits since
    /// (a session that lives long, as `watch`'s does, never reloads a table whole). One lock per
    /// table, so that tables are refreshed at the same time and one table's refreshes in turn.
    handles: Arc<std::sync::Mutex<std::collections::HashMap<TableRef, HandleSlot>>>,
    /// The snapshots `table_at(...)` serves.
    table_at: Arc<TableAt>,
}

impl LakeSession {
    /// Session settings every lake session starts from.
    pub fn base_config(target_partitions: usize) -> SessionConfig {
        let mut config = SessionConfig::new()
            .with_target_partitions(target_partitions.max(1))
            .with_information_schema(true)
            .with_default_catalog_and_schema("datafusion", "public");
        // Evaluate filters while decoding Parquet, so rows that a filter (or a join's dynamic
        // filter) rejects are never materialised: most bronze leaves are not silver readings.
        config.options_mut().execution.parquet.pushdown_filters = true;
        config.options_mut().execution.parquet.reorder_filters = true;
        config
    }

    /// A session with every existing lake table registered at its latest version.
    pub async fn new(lake: &Lake, config: SessionConfig) -> Result<Self> {
        Self::with_tables(lake, config, &lake.list_tables().await?).await
    }

    /// Register `_ops.runs` too, for the sessions that read it (the SQL shell, `status`): it
    /// grows by a commit per command, so the steps that never read it do not open it.
    pub async fn with_runs(self) -> Result<Self> {
        self.refresh(&super::runs::table()).await?;
        Ok(self)
    }

    /// A session with only `tables` registered (those that exist), for a step that reads a few.
    pub async fn with_tables(
        lake: &Lake,
        config: SessionConfig,
        tables: &[TableRef],
    ) -> Result<Self> {
        // deltalake's planner lowers its own plan nodes (used when writing from a query plan)
        // and plans everything else like DataFusion's default planner.
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_query_planner(DeltaPlanner::new())
            .build();
        let ctx = SessionContext::new_with_state(state);
        let catalog = ctx.catalog("datafusion").expect("default catalog exists");
        for layer in Layer::ALL.into_iter().chain([Layer::Ops]) {
            catalog
                .register_schema(layer.as_str(), Arc::new(MemorySchemaProvider::new()))
                .map_err(LakeError::from)?;
        }
        let table_at = Arc::new(TableAt::default());
        ctx.register_udtf(TABLE_AT, table_at.clone());
        let session = Self {
            ctx,
            lake: lake.clone(),
            versions: Default::default(),
            handles: Default::default(),
            table_at,
        };
        session.refresh_each(tables).await?;
        Ok(session)
    }

    pub fn ctx(&self) -> &SessionContext {
        &self.ctx
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// (Re-)register `table` at its latest version; a table that does not exist yet is removed.
    pub async fn refresh(&self, table: &TableRef) -> Result<()> {
        let reference = table_reference(table);
        let slot = self.slot(table);
        let mut handle = slot.lock().await;
        let updated = match handle.take() {
            Some(mut handle) => match handle.load().await {
                Ok(()) => Some(handle),
                // Deleted, or replaced by a table with fewer versions: open it afresh.
                Err(_) => self.lake.open_table(table).await?,
            },
            None => self.lake.open_table(table).await?,
        };
        let Some(delta) = updated else {
            // Only a table registered from the lake is dropped: an empty stand-in a step
            // created for a table the lake does not have (`gold/inputs.sql`) stays.
            if self.registered_versions().remove(table).is_some() {
                self.ctx.deregister_table(reference)?;
            }
            return Ok(());
        };
        let registered = Registered {
            table_id: table_id(&delta),
            version: delta.version().unwrap_or(0),
        };
        let unchanged = self.registered(table).as_ref() == Some(&registered)
            && self.ctx.table_exist(reference.clone())?;
        if !unchanged {
            let provider = self.provider(&delta, table).await?;
            self.ctx.deregister_table(reference.clone())?;
            self.ctx.register_table(reference, provider)?;
            self.registered_versions().insert(table.clone(), registered);
        }
        *handle = Some(delta);
        Ok(())
    }

    /// Refresh `tables`, several at once.
    async fn refresh_each(&self, tables: &[TableRef]) -> Result<()> {
        stream::iter(tables)
            .map(|table| self.refresh(table))
            .buffer_unordered(TABLES_AT_ONCE)
            .try_collect::<()>()
            .await
    }

    /// The handle slot of `table`.
    fn slot(&self, table: &TableRef) -> HandleSlot {
        let mut handles = self.handles.lock().unwrap_or_else(|p| p.into_inner());
        handles.entry(table.clone()).or_default().clone()
    }

    /// `table` at its latest version, registered at it: the session's handle brought up to date
    /// (only the commits since its last refresh are read), not the table opened anew.
    pub async fn current(&self, table: &TableRef) -> Result<Option<DeltaTable>> {
        self.refresh(table).await?;
        Ok(self.handle(table).await)
    }

    /// Bring every table to its latest version, register tables created since and drop those
    /// that are gone (another process may have written the lake since the last refresh).
    pub async fn refresh_all(&self) -> Result<()> {
        let mut tables = self.lake.list_tables().await?;
        let registered: Vec<TableRef> = self.registered_versions().keys().cloned().collect();
        for table in registered {
            if !tables.contains(&table) {
                tables.push(table);
            }
        }
        self.refresh_each(&tables).await
    }

    /// Register every table of the session as it was `as_of`. A table that had no such version
    /// yet (younger, or fewer commits) is left out and named in the result; a version whose log
    /// is gone is an error that says why.
    pub async fn pin(&self, as_of: AsOf) -> Result<Vec<TableRef>> {
        let mut left_out = Vec::new();
        let tables = self.tables();
        for table in tables {
            let reference = table_reference(&table);
            self.ctx.deregister_table(reference.clone())?;
            match self.load_as_of(&table, as_of).await? {
                Some(handle) => {
                    let provider = self.provider(&handle, &table).await?;
                    self.ctx.register_table(reference, provider)?;
                    let registered = Registered {
                        table_id: table_id(&handle),
                        version: handle.version().unwrap_or(0),
                    };
                    self.registered_versions().insert(table.clone(), registered);
                    *self.slot(&table).lock().await = Some(handle);
                }
                None => {
                    self.registered_versions().remove(&table);
                    *self.slot(&table).lock().await = None;
                    left_out.push(table);
                }
            }
        }
        Ok(left_out)
    }

    /// `table` as it was `as_of`; `None` when it had no such version (not created yet, or fewer
    /// commits than that).
    async fn load_as_of(&self, table: &TableRef, as_of: AsOf) -> Result<Option<DeltaTable>> {
        let latest = match self.registered(table) {
            Some(registered) => registered.version,
            None => match self.lake.open_table(table).await? {
                Some(delta) => delta.version().unwrap_or(0),
                None => return Ok(None),
            },
        };
        let mut handle = self.lake.table_handle(table)?;
        let loaded = match as_of {
            AsOf::Version(version) if version > latest => return Ok(None),
            AsOf::Version(version) => handle.load_version(version as _).await,
            AsOf::Time(time) => handle.load_with_datetime(time).await,
        };
        match loaded {
            Ok(()) => Ok(Some(handle)),
            // Before the table's first commit.
            Err(_) if matches!(as_of, AsOf::Time(_)) => Ok(None),
            Err(e) => Err(LakeError::TimeTravel {
                table: table.to_string(),
                as_of: as_of.to_string(),
                reason: format!(
                    "its log is gone (compaction removes log files older than LOG_RETAIN_HOURS \
                     once a checkpoint covers them): {e}"
                ),
            }),
        }
    }

    /// Load the snapshot a `table_at(...)` call asked for.
    async fn load_table_at(&self, (table, as_of): Snapshot) -> Result<()> {
        let Some(delta) = self.load_as_of(&table, as_of).await? else {
            return Err(LakeError::TimeTravel {
                table: table.to_string(),
                as_of: as_of.to_string(),
                reason: "the table has no such version (not created yet, or fewer commits); \
                         `\\history TABLE` in the SQL shell lists its versions"
                    .into(),
            });
        };
        let provider = self.provider(&delta, &table).await?;
        self.table_at.insert((table, as_of), provider);
        Ok(())
    }

    /// The table and version `table` is registered at (`None`: not a lake table of this
    /// session).
    pub fn registered(&self, table: &TableRef) -> Option<Registered> {
        self.registered_versions().get(table).cloned()
    }

    /// The lake tables of the session, sorted.
    pub fn tables(&self) -> Vec<TableRef> {
        let mut tables: Vec<TableRef> = self.registered_versions().keys().cloned().collect();
        tables.sort();
        tables
    }

    /// The Delta handle `table` is registered from (at the session's version of it).
    pub async fn handle(&self, table: &TableRef) -> Option<DeltaTable> {
        self.slot(table).lock().await.clone()
    }

    fn registered_versions(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<TableRef, Registered>> {
        self.versions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Register `table` as it was at `version` under the name `alias` (time travel).
    pub async fn register_version(
        &self,
        table: &TableRef,
        version: u64,
        alias: &str,
    ) -> Result<()> {
        let delta = self.lake.open_table_version(table, version).await?;
        self.register_snapshot(&delta, table, alias).await
    }

    /// Register the snapshot `delta` of `table` under the name `alias`, so that what is read
    /// through it is exactly that version (publish records the version it copied).
    pub async fn register_snapshot(
        &self,
        delta: &deltalake::DeltaTable,
        table: &TableRef,
        alias: &str,
    ) -> Result<()> {
        let provider = self.provider(delta, table).await?;
        self.ctx.deregister_table(alias)?;
        self.ctx.register_table(alias, provider)?;
        Ok(())
    }

    /// The scan of a lake table. Two departures from deltalake's defaults, both measured on
    /// `silver.sensor_events` (a quarter of its CPU is the bronze scan):
    /// - partition columns are plain strings, not dictionaries packed row by row from the
    ///   partition value (queries compare and group them as text anyway);
    /// - deltalake uses filters only to skip files and leaves row filtering inside Parquet to
    ///   DataFusion's own pushdown; with both, every pushed predicate was evaluated twice.
    async fn provider(
        &self,
        delta: &deltalake::DeltaTable,
        table: &TableRef,
    ) -> Result<Arc<dyn TableProvider>> {
        use deltalake::delta_datafusion::{DeltaScanConfig, DeltaScanNext};
        let delta_error = |e| LakeError::delta(table.to_string(), e);
        let state = self.ctx.state();
        delta
            .update_datafusion_session(&state)
            .map_err(delta_error)?;
        let snapshot = delta.snapshot().map_err(delta_error)?.snapshot().clone();
        let config = DeltaScanConfig::new_from_session(&state)
            .with_wrap_partition_values(false)
            .with_parquet_pushdown(false);
        Ok(Arc::new(DeltaScanNext::new(snapshot, config)?))
    }

    /// Plan and run the statements of `text` in order, handing each one's result to `each`
    /// before the next one runs.
    pub async fn run_statements(
        &self,
        text: &str,
        mut each: impl FnMut(Vec<RecordBatch>) -> Result<()>,
    ) -> Result<()> {
        for statement in DFParser::parse_sql(text)? {
            each(self.plan(statement).await?.collect().await?)?;
        }
        Ok(())
    }

    /// Plan `statement`, loading the snapshots its `table_at(...)` calls read.
    pub async fn plan(&self, statement: Statement) -> Result<DataFrame> {
        loop {
            let planned = self.ctx.state().statement_to_plan(statement.clone()).await;
            let wanted = self.table_at.take_wanted();
            match planned {
                Err(_) if !wanted.is_empty() => {
                    for snapshot in wanted {
                        self.load_table_at(snapshot).await?;
                    }
                }
                planned => return Ok(self.ctx.execute_logical_plan(planned?).await?),
            }
        }
    }

    /// Whether `table` is registered (exists in the lake).
    pub fn has_table(&self, table: &TableRef) -> bool {
        self.ctx
            .table_exist(table_reference(table))
            .unwrap_or(false)
    }
}

/// The SQL name of a lake table.
pub fn table_reference(table: &TableRef) -> TableReference {
    TableReference::partial(table.layer.as_str(), table.name.clone())
}
