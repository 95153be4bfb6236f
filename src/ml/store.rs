//! Where ML results go: the rows of a run into `gold.ml_benchmark` / `gold.fact_prediction`
//! (partitioned by target; a run's rows replace that run's earlier rows in one commit, so a
//! re-run never duplicates), models and their metadata under `_models/<target>/<run_id>/`.

use datafusion::arrow::array::RecordBatch;
use datafusion::logical_expr::{col, lit};
use object_store::{ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use super::{MlError, Result, Target};
use crate::lake::{Lake, LakeSession, TableRef, TableWrite, WriteInput, WriteMode, WriterLease};

/// Replace the rows of (`target`, `run_id`) in `table` by `batch` (one commit).
pub(super) async fn replace_run(
    lake: &Lake,
    lease: &WriterLease,
    table: &TableRef,
    target: Target,
    run_id: &str,
    batch: RecordBatch,
) -> Result<()> {
    lease.check().await?;
    let run = col("target")
        .eq(lit(target.name()))
        .and(col("run_id").eq(lit(run_id)));
    lake.write(TableWrite {
        table,
        partition_columns: &["target"],
        input: WriteInput::Batches(vec![batch]),
        mode: WriteMode::ReplaceWhere(run),
        app_transaction: None,
        without_statistics: &[],
    })
    .await?;
    Ok(())
}

/// Put `bytes` at `relative` (below the lake root).
pub(super) async fn put(lake: &Lake, relative: &str, bytes: Vec<u8>) -> Result<()> {
    lake.root_store()
        .put(&lake.path(relative), PutPayload::from(bytes))
        .await
        .map_err(|e| MlError::Output {
            path: relative.to_string(),
            message: e.to_string(),
        })?;
    Ok(())
}

/// The Delta versions of the feature tables of `targets`, as `table@version` (what a run id
/// and a saved model record, so a result can be traced to the data it came from).
pub(super) async fn input_versions(session: &LakeSession, targets: &[Target]) -> Result<String> {
    let mut parts = Vec::new();
    for target in targets {
        let table = target.feature_table();
        let version = session
            .lake()
            .open_table(&table)
            .await?
            .and_then(|t| t.version());
        parts.push(match version {
            Some(v) => format!("{table}@{v}"),
            None => format!("{table}@none"),
        });
    }
    Ok(parts.join(","))
}

/// A run id: `prefix-` and 12 hex digits of a digest of `parts`.
pub(super) fn run_id(prefix: &str, parts: &[&str]) -> String {
    let digest = parts
        .iter()
        .fold(Sha256::new(), |hash, part| {
            hash.chain_update(part).chain_update([0])
        })
        .finalize();
    format!("{prefix}-{}", hex::encode(&digest[..6]))
}
