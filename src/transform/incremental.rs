//! Incremental derivation of a partitioned table from a bronze table by a query of `queries/`,
//! recomputing only the output partitions that new input rows touch.
//!
//! Bookkeeping lives in the Delta log: every output commit records the input table version it
//! has consumed as an application transaction, atomically with its data. The next run reads the
//! input commits after that version, derives the output partitions of the data files they added,
//! and overwrites exactly those partitions (`replaceWhere`), in chunks that bound memory. Only
//! the last chunk records the consumed version, so a crash before it makes the next run redo the
//! same set, which yields the same rows. A full run recomputes every partition and removes the
//! partitions whose input rows are gone.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use datafusion::arrow::datatypes::Field;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use deltalake::DeltaTable;

use super::scope::restrict_input;
use super::{Result, plan_query};
use crate::catalog::queries::QueryFile;
use crate::config::Settings;
use crate::lake::partitions::{PartitionSet, partitions_of_files, partitions_of_table};
use crate::lake::{
    AddedFile, LakeSession, TableRef, TableWrite, WriteInput, WriteMode, WriterLease,
    added_files_since, last_commit_metric, table_reference,
};
use crate::ops::progress;
use crate::ops::report::StepReport;

/// A table derived from one input table by one query.
#[async_trait]
pub trait Derivation: Sync {
    /// The input (bronze) table whose versions are tracked.
    fn input(&self) -> TableRef;
    /// The derived table.
    fn output(&self) -> TableRef;
    fn query(&self) -> QueryFile;
    /// The output's partition columns, with their types.
    fn partition_fields(&self) -> Vec<Field>;
    /// Output partitions of the rows in these input data files. By default the files' own
    /// partition values, for an output partitioned like its input (no data read).
    async fn touched(
        &self,
        _session: &LakeSession,
        _input: &DeltaTable,
        files: Vec<AddedFile>,
    ) -> Result<PartitionSet> {
        Ok(partitions_of_files(&files, &self.partition_fields()))
    }
    /// Every output partition the whole input maps to (a superset is harmless: an empty
    /// partition is recomputed to nothing). By default the input's partitions.
    async fn all(&self, _session: &LakeSession, input: &DeltaTable) -> Result<PartitionSet> {
        Ok(partitions_of_table(input, &self.partition_fields())?)
    }
    /// A filter on the input that keeps every row a chunk of output partitions needs; `None`
    /// (the default) when the output partition filter reaches the input by itself (it names
    /// input partition columns).
    fn input_filter(&self, _chunk: &PartitionSet) -> Option<Expr> {
        None
    }

    /// The input files changed since input version `consumed` (`None`: that log is gone, recompute
    /// everything). By default the files added and still live, whose rows `touched` may read.
    async fn changes(&self, input: &DeltaTable, consumed: u64) -> Result<Option<Vec<AddedFile>>> {
        Ok(added_files_since(input, consumed).await?)
    }

    /// Output columns written without min/max statistics: text no query prunes files by (every
    /// file holds all of its values), whose statistics cost a comparison per value.
    fn unindexed_columns(&self) -> &'static [&'static str] {
        &[]
    }

    /// Application id recorded in the output's Delta log.
    fn app_id(&self) -> String {
        self.output().app_id()
    }

    fn partition_columns(&self) -> Vec<String> {
        self.partition_fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }
}

/// Bring `derivation`'s output up to date with its input; `full` recomputes everything. A
/// failure names the output table.
pub async fn build(
    derivation: &dyn Derivation,
    session: &LakeSession,
    settings: &Settings,
    lease: &WriterLease,
    full: bool,
) -> Result<StepReport> {
    build_derivation(derivation, session, settings, lease, full)
        .await
        .map_err(|e| e.building(derivation.output()))
}

async fn build_derivation(
    derivation: &dyn Derivation,
    session: &LakeSession,
    settings: &Settings,
    lease: &WriterLease,
    full: bool,
) -> Result<StepReport> {
    let started = Instant::now();
    let output = derivation.output();
    let mut report = StepReport::new(output.to_string());
    let lake = session.lake();
    let Some(input) = session.current(&derivation.input()).await? else {
        report.notes.push(format!("no {} yet", derivation.input()));
        return Ok(report.finish(started));
    };
    let input_version = input.version().unwrap_or(0);
    let existing = session.current(&output).await?;
    let app_id = derivation.app_id();
    let consumed = match &existing {
        Some(table) => lake.app_version(table, &app_id).await?,
        None => None,
    };
    if !full && consumed == Some(input_version as i64) {
        report.notes.push(format!(
            "up to date with {} version {input_version}",
            derivation.input()
        ));
        return Ok(report.finish(started));
    }

    let incremental = match (full, consumed) {
        (false, Some(consumed)) => derivation.changes(&input, consumed.max(0) as u64).await?,
        _ => None,
    };
    let everything = incremental.is_none();
    let dirty = match incremental {
        Some(files) if files.is_empty() => PartitionSet::default(),
        Some(files) => derivation.touched(session, &input, files).await?,
        None => derivation.all(session, &input).await?,
    };
    // The output's partitions come from its file metadata: a DISTINCT over the partition
    // columns would materialise them for every one of its rows.
    let stale = match (&existing, everything) {
        (Some(table), true) => {
            partitions_of_table(table, &derivation.partition_fields())?.difference(&dirty)
        }
        _ => PartitionSet::default(),
    };

    let columns = derivation.partition_columns();
    let column_refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    let chunks = dirty.chunks(settings.silver_partitions_per_commit);
    let bar = progress::bar(dirty.len() as u64, "derive", "partitions");
    bar.set_message(output.to_string());
    let txn = (app_id.clone(), input_version as i64);
    for (index, chunk) in chunks.iter().enumerate() {
        lease.check().await?;
        let last = index + 1 == chunks.len() && stale.is_empty();
        let plan = plan_query(session, &derivation.query()).await?;
        let plan = match derivation.input_filter(chunk) {
            Some(filter) => restrict_input(plan, &table_reference(&derivation.input()), &filter)?,
            None => plan,
        };
        let selection = chunk.filter(&columns);
        let plan = LogicalPlanBuilder::from(plan)
            .filter(selection.clone())?
            .build()?;
        let written = lake
            .write(TableWrite {
                table: &output,
                partition_columns: &column_refs,
                input: WriteInput::Plan {
                    plan,
                    session: Arc::new(session.ctx().state()),
                },
                mode: WriteMode::ReplaceWhere(selection),
                app_transaction: last.then(|| txn.clone()),
                without_statistics: derivation.unindexed_columns(),
            })
            .await?;
        let rows = last_commit_metric(&written, "num_added_rows")
            .await
            .unwrap_or(0);
        tracing::debug!(target: "datacycle::commit", table = %output, partitions = chunk.len(), rows, "committed");
        report.rows += rows;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if !stale.is_empty() {
        lease.check().await?;
        lake.delete_where(&output, stale.filter(&columns), Some(txn))
            .await?;
        report.count("stale_partitions_removed", stale.len() as u64);
    } else if chunks.is_empty() {
        report.notes.push("no partitions touched".into());
    }
    session.refresh(&output).await?;
    report.count("partitions", dirty.len() as u64);
    Ok(report.finish(started))
}
