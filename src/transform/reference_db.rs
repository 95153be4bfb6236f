//! The silver tables of the reference database (`queries/silver/reference/`), rebuilt whole from
//! the `bronze.ref_*` snapshots.
//!
//! The queries read schema `pidb`: one view per snapshot with every column name lowercased, so
//! that `creationDate`, `CreationDate` and `creationdate` (the case drifts between installs) are
//! all `creationdate` in SQL. Each output commit records a fingerprint of its inputs (snapshot
//! versions, query text, house map, sensor time zone) as an application transaction: a re-run
//! with the same inputs writes nothing, and a crash leaves each table at its old or new content.
//! A query that no longer plans (a column it needs was renamed at the source) keeps the previous
//! table and is reported; the other tables are still rebuilt.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::{Column, TableReference};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::Expr;

use super::{Result, plan_query};
use crate::catalog::queries::{QueryFile, SILVER_REFERENCE};
use crate::catalog::tables::{REFERENCE_TABLES, SNAPSHOT_AT, reference_snapshot};
use crate::config::Settings;
use crate::lake::erasures::Erasures;
use crate::lake::{
    LakeSession, TableRef, TableWrite, WriteInput, WriteMode, WriterLease, last_commit_metric,
    table_reference,
};
use crate::ops::report::StepReport;

/// The schema of the lowercased snapshot views.
pub const SCHEMA: &str = "pidb";

/// Create the (empty) `pidb` schema, so that SQL naming it plans in every session.
pub fn register_schema(ctx: &SessionContext) -> Result<()> {
    let catalog = ctx.catalog("datafusion").expect("default catalog exists");
    if catalog.schema(SCHEMA).is_none() {
        catalog.register_schema(SCHEMA, Arc::new(MemorySchemaProvider::new()))?;
    }
    Ok(())
}

/// (Re-)register `pidb.<table>` over the current snapshot of each table; returns the warnings
/// (two source columns that differ only in case: the first one is used).
pub async fn register_views(session: &LakeSession) -> Result<Vec<String>> {
    let ctx = session.ctx();
    let mut warnings = Vec::new();
    for table in REFERENCE_TABLES {
        let view = TableReference::partial(SCHEMA, table);
        ctx.deregister_table(view.clone())?;
        let snapshot = reference_snapshot(table);
        if !session.has_table(&snapshot) {
            continue;
        }
        let frame = ctx.table(table_reference(&snapshot)).await?;
        let mut seen = HashSet::new();
        let mut columns = Vec::new();
        for field in frame.schema().fields() {
            let name = field.name();
            if name == SNAPSHOT_AT {
                continue;
            }
            let lower = name.to_lowercase();
            if seen.insert(lower.clone()) {
                columns.push(Expr::Column(Column::new_unqualified(name)).alias(lower));
            } else {
                warnings.push(format!(
                    "{snapshot}: column `{name}` differs from another only in case; pidb.{table}.{lower} is the first one"
                ));
            }
        }
        ctx.register_table(view, frame.select(columns)?.into_view())?;
    }
    Ok(warnings)
}

/// Rebuild the silver reference tables whose inputs changed (`full`: all of them).
pub async fn build(
    session: &LakeSession,
    settings: &Settings,
    lease: &WriterLease,
    full: bool,
) -> Result<StepReport> {
    let started = Instant::now();
    let mut report = StepReport::new("silver reference");
    let inputs = snapshot_versions(session).await?;
    if inputs.iter().all(|(_, version)| version.is_none()) {
        report.notes.push("no reference snapshots yet".into());
        return Ok(report.finish(started));
    }
    for warning in register_views(session).await? {
        report.warn("ambiguous_columns", warning);
    }
    let (houses, _) = Erasures::load(session.lake())
        .await?
        .house_map(&settings.house_map);
    let base = format!(
        "{inputs:?}|{}|{}",
        houses.to_config_string(),
        settings.sensor_timezone.name()
    );
    for query in SILVER_REFERENCE {
        let output = TableRef::silver(query.stem());
        let fingerprint = fingerprint(&base, query);
        let app_id = output.app_id();
        let lake = session.lake();
        if !full
            && let Some(existing) = lake.open_table(&output).await?
            && lake.app_version(&existing, &app_id).await? == Some(fingerprint)
        {
            report.count("unchanged_tables", 1);
            continue;
        }
        let plan = match plan_query(session, query).await {
            Ok(plan) => plan,
            Err(e) => {
                let kept = if session.has_table(&output) {
                    "the previous table is kept"
                } else {
                    "not built"
                };
                report.warn("failed_tables", format!("{output}: {e}; {kept}"));
                continue;
            }
        };
        lease.check().await?;
        let written = lake
            .write(TableWrite {
                table: &output,
                partition_columns: &[],
                input: WriteInput::Plan {
                    plan,
                    session: Arc::new(session.ctx().state()),
                },
                mode: WriteMode::Overwrite,
                app_transaction: Some((app_id, fingerprint)),
                without_statistics: &[],
            })
            .await?;
        let rows = last_commit_metric(&written, "num_added_rows")
            .await
            .unwrap_or(0);
        tracing::debug!(target: "datacycle::commit", table = %output, rows, "committed");
        report.rows += rows;
        session.refresh(&output).await?;
        report.count("tables_written", 1);
    }
    Ok(report.finish(started))
}

/// The Delta version of each snapshot table (`None`: no snapshot yet).
async fn snapshot_versions(session: &LakeSession) -> Result<Vec<(&'static str, Option<u64>)>> {
    let mut versions = Vec::with_capacity(REFERENCE_TABLES.len());
    for table in REFERENCE_TABLES {
        let delta = session
            .lake()
            .open_table(&reference_snapshot(table))
            .await?;
        versions.push((table, delta.and_then(|d| d.version())));
    }
    Ok(versions)
}

/// A non-negative number that changes whenever the inputs or the query change.
fn fingerprint(base: &str, query: &QueryFile) -> i64 {
    crate::ops::fingerprint::version_of([
        base.as_bytes(),
        query.path.as_bytes(),
        query.sql.as_bytes(),
    ])
}
