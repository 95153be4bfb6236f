//! Whole gold tables (dimensions, `weather_best_forecast`): computed and written when their
//! content changed. The content hash is the Delta application transaction version, so an
//! unchanged table is never rewritten and its version stays put.
//!
//! Computing a table to find it unchanged is most of a no-op run's time (`dim_datetime` alone
//! is 100k rows for 70 days), so each table's *inputs* are fingerprinted too: the Delta
//! ids and versions of every lake table its plan scans (views and subqueries followed), every
//! query file, the reference data, the settings the SQL functions read and the binary itself. When the fingerprint and
//! the table's content version are the ones recorded after the last computation
//! (`_ops/state/gold_whole_inputs.json`), the table cannot have changed and is not computed.
//! The record is written after the table's commit, so a crash between the two only costs one
//! recomputation; `--full` always recomputes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use datafusion::arrow::datatypes::Field;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::super::{Result, plan_query};
use crate::catalog::queries;
use crate::catalog::tables::{GoldTable, Kind};
use crate::config::Settings;
use crate::lake::partitions::partitions_of_table;
use crate::lake::{
    ContentHasher, Lake, LakeSession, Layer, TableRef, TableWrite, WriteInput, WriteMode,
    WriterLease, partition_columns, state, table_reference,
};
use crate::ops::report::StepReport;

const STATE: &str = "gold_whole_inputs";

/// What a whole table was last computed from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct Computed {
    /// The fingerprint of its inputs.
    inputs: String,
    /// Its content version (application transaction) after that computation.
    content: i64,
}

/// The whole tables of one gold build and what each was last computed from.
/// Several are built at the same time (`gold_stages`), hence the locks.
pub(super) struct WholeTables {
    /// Reference data and settings, shared by every table's fingerprint.
    context: String,
    /// What each table was computed from, and whether that changed in this build.
    recorded: Mutex<(BTreeMap<String, Computed>, bool)>,
    /// Partition columns and partition set of each declared input, read once per build (the
    /// inputs do not change while gold is built).
    partitions: Mutex<BTreeMap<TableRef, Option<Partitions>>>,
}

/// The partition columns of a table and, as text, which partitions it has.
#[derive(Debug, Clone)]
struct Partitions {
    columns: Vec<String>,
    set: String,
}

impl WholeTables {
    pub(super) async fn load(
        session: &LakeSession,
        settings: &Settings,
        context: &str,
    ) -> Result<Self> {
        let recorded = state::load(session.lake(), STATE).await?;
        // Every query file: a table's own and those it reads through `query_file`.
        let queries = queries::all().fold(Sha256::new(), |hash, q| hash.chain_update(q.sql));
        let context = format!(
            "{:x}|{context}|{}|{}|{}|{}",
            queries.finalize(),
            settings.sensor_timezone.name(),
            settings.reporting_timezone.name(),
            settings.weather_min_year,
            binary_identity(),
        );
        Ok(Self {
            context,
            recorded: Mutex::new((recorded, false)),
            partitions: Mutex::default(),
        })
    }

    /// Save what was computed (nothing when nothing was).
    pub(super) async fn save(&self, lake: &Lake) -> Result<()> {
        let (recorded, changed) = self.recorded().clone();
        if changed {
            state::save(lake, STATE, &recorded).await?;
        }
        Ok(())
    }

    /// Bring `table` up to date (`full`: compute it whatever its inputs).
    pub(super) async fn build(
        &self,
        session: &LakeSession,
        lease: &WriterLease,
        table: &GoldTable,
        full: bool,
    ) -> Result<StepReport> {
        let started = Instant::now();
        let output = table.table();
        let mut report = StepReport::new(output.to_string());
        // Brought up to date before the plan is made, which reads what is registered.
        let existing = session.current(&output).await?;
        let plan = plan_query(session, &table.query).await?;
        let inputs = self.fingerprint(session, table, &plan).await?;
        let lake = session.lake();
        let app_id = output.app_id();
        let current = match &existing {
            Some(existing) => lake.app_version(existing, &app_id).await?,
            None => None,
        };
        let last = self.recorded().0.get(table.name()).cloned();
        if !full
            && let Some(content) = current
            && last
                == Some(Computed {
                    inputs: inputs.clone(),
                    content,
                })
        {
            report.notes.push("inputs unchanged".into());
            report.count("tables_unchanged_inputs", 1);
            return Ok(report.finish(started));
        }
        let exists = existing.is_some();
        let content = compute(
            session,
            lease,
            &output,
            plan,
            (exists, current),
            &mut report,
        )
        .await?;
        if let Some(content) = content {
            let mut recorded = self.recorded();
            recorded
                .0
                .insert(table.name().to_string(), Computed { inputs, content });
            recorded.1 = true;
        }
        Ok(report.finish(started))
    }

    /// The fingerprint of everything `table`'s rows depend on.
    async fn fingerprint(
        &self,
        session: &LakeSession,
        table: &GoldTable,
        plan: &LogicalPlan,
    ) -> Result<String> {
        let by_partitions = match table.kind {
            Kind::Whole(whole) => whole.partitions_of,
            Kind::Daily(_) => &[],
        };
        let optimized = match by_partitions {
            [] => None,
            _ => session.ctx().state().optimize(plan).ok(),
        };
        let mut hash = Sha256::new().chain_update(self.context.as_bytes());
        for scanned in scanned_tables(plan) {
            let declared = by_partitions
                .iter()
                .any(|(layer, name)| scanned == TableRef::new(*layer, *name));
            let partitions = match &optimized {
                Some(optimized) if declared => self
                    .partitions_of(session, &scanned)
                    .await?
                    .filter(|p| reads_only(optimized, &scanned, &p.columns))
                    .map(|p| p.set),
                _ => None,
            };
            let input = match partitions {
                Some(partitions) => format!("|{scanned} partitions {partitions}"),
                None => format!("|{scanned}@{:?}", session.registered(&scanned)),
            };
            hash.update(input.as_bytes());
        }
        Ok(hash.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    /// [`partitions`] of `table`, read on first use.
    async fn partitions_of(
        &self,
        session: &LakeSession,
        table: &TableRef,
    ) -> Result<Option<Partitions>> {
        let known = self.lock_partitions().get(table).cloned();
        if let Some(known) = known {
            return Ok(known);
        }
        // Two tables of a stage may read the same input's partitions at once: the same result.
        let found = partitions(session, table).await?;
        self.lock_partitions().insert(table.clone(), found.clone());
        Ok(found)
    }

    fn recorded(&self) -> MutexGuard<'_, (BTreeMap<String, Computed>, bool)> {
        self.recorded.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_partitions(&self) -> MutexGuard<'_, BTreeMap<TableRef, Option<Partitions>>> {
        self.partitions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The partition columns and partitions of `table` at the version the session reads, when it is
/// partitioned; else `None`.
async fn partitions(session: &LakeSession, table: &TableRef) -> Result<Option<Partitions>> {
    let Some(delta) = session.handle(table).await else {
        return Ok(None);
    };
    let columns = partition_columns(&delta);
    if columns.is_empty() {
        return Ok(None);
    }
    let frame = session.ctx().table(table_reference(table)).await?;
    let fields: Vec<Field> = columns
        .iter()
        .filter_map(|c| frame.schema().field_with_unqualified_name(c).ok())
        .map(|f| f.as_ref().clone())
        .collect();
    if fields.len() != columns.len() {
        return Ok(None);
    }
    let set = partitions_of_table(&delta, &fields)?;
    Ok(Some(Partitions {
        columns,
        set: format!("{:?}", set.iter().collect::<Vec<_>>()),
    }))
}

/// Whether `plan` scans `table`, and only its `columns` (in what it returns and filters on).
fn reads_only(plan: &LogicalPlan, table: &TableRef, columns: &[String]) -> bool {
    let mut scans = 0;
    let mut only = true;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && scan.table_name.schema() == Some(table.layer.as_str())
            && scan.table_name.table() == table.name
        {
            scans += 1;
            let read: Vec<String> = scan
                .projected_schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .chain(
                    scan.filters
                        .iter()
                        .flat_map(|f| f.column_refs())
                        .map(|c| c.name.clone()),
                )
                .collect();
            only &= !read.is_empty() && read.iter().all(|c| columns.contains(c));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    scans > 0 && only
}

/// The program whose SQL functions compute the tables: a rebuilt or upgraded binary (a changed
/// UDF, a new DataFusion) computes every whole table once more. Its version, size and
/// modification time; the version alone when the executable cannot be inspected.
fn binary_identity() -> String {
    let file = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| format!("{}:{:?}", m.len(), m.modified().ok()))
        .unwrap_or_default();
    format!("{}:{file}", env!("CARGO_PKG_VERSION"))
}

/// The lake tables a plan scans, through the views and subqueries it reads.
fn scanned_tables(plan: &LogicalPlan) -> BTreeSet<TableRef> {
    let mut tables = BTreeSet::new();
    let mut plans = vec![plan.clone()];
    while let Some(plan) = plans.pop() {
        // The closure never fails; `apply_with_subqueries` only reports what it returns.
        let _ = plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                if let Some(view) = scan.source.get_logical_plan() {
                    plans.push(view.into_owned());
                }
                let layer = scan.table_name.schema().and_then(Layer::from_name);
                if let Some(layer) = layer {
                    tables.insert(TableRef::new(layer, scan.table_name.table()));
                }
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    tables
}

/// Compute `output` from `plan` and write it when its content differs from the lake's
/// (`existing`: whether the table exists, and its content version). The content version it has
/// afterwards (`None`: still absent).
async fn compute(
    session: &LakeSession,
    lease: &WriterLease,
    output: &TableRef,
    plan: LogicalPlan,
    (exists, current): (bool, Option<i64>),
    report: &mut StepReport,
) -> Result<Option<i64>> {
    let frame = session.ctx().execute_logical_plan(plan).await?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let batches = frame.collect().await?;
    let mut hasher = ContentHasher::new(&schema)?;
    for batch in &batches {
        hasher.add(batch)?;
    }
    let digest = hasher.finish();
    let version = content_version(&format!("{schema:?}"), &digest.hash);
    if current == Some(version) {
        report.notes.push("unchanged".into());
        return Ok(current);
    }
    if !exists && digest.rows == 0 {
        report.notes.push("no rows yet".into());
        return Ok(None);
    }
    let batches = if batches.is_empty() {
        vec![datafusion::arrow::array::RecordBatch::new_empty(schema)]
    } else {
        batches
    };
    lease.check().await?;
    session
        .lake()
        .write(TableWrite {
            table: output,
            partition_columns: &[],
            input: WriteInput::Batches(batches),
            mode: WriteMode::Overwrite,
            app_transaction: Some((output.app_id(), version)),
            without_statistics: &[],
        })
        .await?;
    tracing::debug!(target: "datacycle::commit", table = %output, rows = digest.rows, "committed");
    session.refresh(output).await?;
    report.rows = digest.rows;
    report.count("tables_written", 1);
    Ok(Some(version))
}

/// A non-negative number that changes with the content.
fn content_version(schema: &str, hash: &str) -> i64 {
    crate::ops::fingerprint::version_of([schema.as_bytes(), hash.as_bytes()])
}
