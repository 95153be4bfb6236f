//! What a table's Delta log says about it without reading data: file and row counts, sizes,
//! column maxima from file statistics, and the log itself (its size, the last checkpoint).

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use serde::Serialize;

use super::{DeltaTable, Lake, LakeError, Result, TableRef};

/// A data file smaller than this counts as small (what compaction would merge).
pub const SMALL_FILE_BYTES: i64 = 16 * 1024 * 1024;

/// A table's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TableStats {
    pub table: String,
    pub version: Option<u64>,
    pub rows: i64,
    pub files: usize,
    pub small_files: usize,
    pub bytes: i64,
    pub log_files: usize,
    pub log_bytes: u64,
    pub last_checkpoint: Option<u64>,
}

fn add_actions(delta: &DeltaTable) -> Result<datafusion::arrow::array::RecordBatch> {
    let name = delta.table_url().to_string();
    delta
        .snapshot()
        .and_then(|s| s.add_actions_table(true))
        .map_err(|e| LakeError::delta(name, e))
}

/// The figures of `table` (opened as `delta`).
pub async fn table_stats(lake: &Lake, table: &TableRef, delta: &DeltaTable) -> Result<TableStats> {
    let files = add_actions(delta)?;
    let column_sum = |name: &str| -> Result<(i64, Vec<i64>)> {
        let Some(column) = files.column_by_name(name) else {
            return Ok((0, Vec::new()));
        };
        let values = cast(column, &DataType::Int64)?;
        let values = values.as_primitive::<Int64Type>();
        let all: Vec<i64> = (0..values.len())
            .filter(|i| values.is_valid(*i))
            .map(|i| values.value(i))
            .collect();
        Ok((all.iter().sum(), all))
    };
    let (rows, _) = column_sum("num_records")?;
    let (bytes, sizes) = column_sum("size_bytes")?;
    let log = lake.path(&format!(
        "{}/{}/_delta_log",
        table.layer.as_str(),
        table.name
    ));
    let entries: Vec<_> = lake.root_store().list(Some(&log)).try_collect().await?;
    let last_checkpoint = match lake
        .root_store()
        .get(&log.clone().join("_last_checkpoint"))
        .await
    {
        Ok(found) => serde_json::from_slice::<serde_json::Value>(&found.bytes().await?)
            .ok()
            .and_then(|v| v["version"].as_u64()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(TableStats {
        table: table.to_string(),
        version: delta.version(),
        rows,
        files: files.num_rows(),
        small_files: sizes.iter().filter(|s| **s < SMALL_FILE_BYTES).count(),
        bytes,
        log_files: entries.len(),
        log_bytes: entries.iter().map(|e| e.size).sum(),
        last_checkpoint,
    })
}

/// The largest value of column `column` over the table's file statistics, as an integer
/// (timestamps in microseconds); `None` without statistics.
pub fn column_max(delta: &DeltaTable, column: &str) -> Result<Option<i64>> {
    let files = add_actions(delta)?;
    let Some(max) = files.column_by_name(&format!("max.{column}")) else {
        return Ok(None);
    };
    let values = match max.data_type() {
        DataType::Timestamp(_, _) => {
            let micros = cast(max, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            let micros = micros.as_primitive::<TimestampMicrosecondType>();
            (0..micros.len())
                .filter(|i| micros.is_valid(*i))
                .map(|i| micros.value(i))
                .max()
        }
        _ => {
            let values = cast(max, &DataType::Int64)?;
            let values = values.as_primitive::<Int64Type>();
            (0..values.len())
                .filter(|i| values.is_valid(*i))
                .map(|i| values.value(i))
                .max()
        }
    };
    Ok(values)
}

/// Bytes of every object below the lake root.
pub async fn lake_bytes(lake: &Lake) -> Result<u64> {
    let root = lake.path("");
    let objects: Vec<_> = lake.root_store().list(Some(&root)).try_collect().await?;
    Ok(objects.iter().map(|o| o.size).sum())
}
