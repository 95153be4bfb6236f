//! Delta tables of the lake: naming, opening, listing, and the application transaction versions
//! a step records what it has consumed under (atomically with its data, see `write`).

use deltalake::DeltaTableBuilder;
use futures::StreamExt;

use super::{Lake, LakeError, Result};

pub use deltalake::DeltaTable;

/// The table layers of the lake; their names are also the SQL schema names. Landing holds the
/// raw source files as they arrived (sensor files as a table of bytes, forecasts as files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Landing,
    Bronze,
    Silver,
    Gold,
    /// datacycle's own records (`_ops.runs`), apart from the data layers of [`Layer::ALL`].
    Ops,
}

impl Layer {
    pub const ALL: [Layer; 4] = [Layer::Landing, Layer::Bronze, Layer::Silver, Layer::Gold];

    /// The layer named `name` (a SQL schema name), if it is one.
    pub fn from_name(name: &str) -> Option<Layer> {
        Self::ALL.into_iter().find(|l| l.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Landing => "landing",
            Layer::Bronze => "bronze",
            Layer::Silver => "silver",
            Layer::Gold => "gold",
            Layer::Ops => "_ops",
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

impl std::str::FromStr for TableRef {
    type Err = String;

    /// `layer.name`, e.g. `silver.sensor_events` or `_ops.runs`.
    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        let (layer, name) = text.trim().split_once('.').unwrap_or(("", ""));
        let layer = Layer::from_name(layer)
            .or((layer == Layer::Ops.as_str()).then_some(Layer::Ops))
            .filter(|_| !name.is_empty() && !name.contains(['.', '/']));
        match layer {
            Some(layer) => Ok(TableRef::new(layer, name)),
            None => Err(format!(
                "`{text}` is not a lake table name (layer.table, e.g. silver.sensor_events)"
            )),
        }
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.layer.as_str(), self.name)
    }
}

impl Lake {
    /// An unloaded handle of `table` (used to create it on first write).
    pub(super) fn table_handle(&self, table: &TableRef) -> Result<DeltaTable> {
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
        // One entry of the log says the table exists (`verify_deltatable_existence` stats a
        // thousand of its files; loading a missing table logs errors).
        let dir = self.path(&format!("{}/{}", table.layer.as_str(), table.name));
        if !self.has_log(&dir).await {
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

    /// Every Delta table under `landing/`, `bronze/`, `silver/` and `gold/`.
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
                // One entry says the log exists; listing it all would cost a month of commits.
                let log = dir.clone().join("_delta_log");
                let has_log =
                    matches!(self.root_store().list(Some(&log)).next().await, Some(Ok(_)));
                if has_log {
                    tables.push(TableRef::new(layer, name));
                }
            }
        }
        tables.sort();
        Ok(tables)
    }

    /// Whether the table folder `dir` has a Delta log: one entry says so (listing it all would
    /// cost a month of commits).
    async fn has_log(&self, dir: &object_store::path::Path) -> bool {
        let log = dir.clone().join("_delta_log");
        matches!(self.root_store().list(Some(&log)).next().await, Some(Ok(_)))
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

/// The metadata action of a Delta table's snapshot, as the log writes it (`None`: not loaded).
fn metadata(delta: &DeltaTable) -> Option<serde_json::Value> {
    let snapshot = delta.snapshot().ok()?;
    serde_json::to_value(snapshot.metadata()).ok()
}

/// The id of a Delta table (empty when the snapshot cannot say): a table deleted and created
/// again has a new one, while its versions start again at 0.
pub fn table_id(delta: &DeltaTable) -> String {
    metadata(delta)
        .and_then(|m| m["id"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The partition columns of a Delta table.
pub fn partition_columns(delta: &DeltaTable) -> Vec<String> {
    metadata(delta)
        .and_then(|m| serde_json::from_value(m["partitionColumns"].clone()).ok())
        .unwrap_or_default()
}
