//! Deciding, per gold table of the lake, whether and how a publish copies it: skipped (the
//! version last published, with the columns this version publishes), its changed days (a daily
//! fact with those columns, few changed days), or whole.

use std::collections::{BTreeSet, HashMap};

use datafusion::arrow::datatypes::Schema;
use tokio_postgres::Client;

use super::schema::published_columns;
use super::{PublishError, Result, Server};
use crate::catalog::tables;
use crate::lake::partitions::partitions_of_files;
use crate::lake::{LakeSession, PartitionValue, Retention, TableRef, changed_files_since};
use crate::ops::report::StepReport;

/// More changed days than this are published by a whole-table swap: copying into an empty
/// staging table and indexing it afterwards is faster than updating a live table's indexes.
const MAX_DAYS_REPLACED: usize = 7;

/// What a publish does with one table.
pub(super) enum Plan {
    /// Copy whole into staging and swap in.
    Replace,
    /// Replace these partition values (`column = ANY(values)`) inside the transaction.
    Days {
        column: String,
        values: Vec<PartitionValue>,
    },
}

pub(super) struct TablePlan {
    pub(super) name: String,
    /// The lake version copied and recorded.
    pub(super) version: i64,
    /// The session table that holds the snapshot at `version`.
    pub(super) snapshot: String,
    pub(super) schema: Schema,
    pub(super) plan: Plan,
}

/// Decide, per gold table of the lake, whether and how to publish it.
pub(super) async fn plan_tables(
    session: &LakeSession,
    client: &Client,
    server: &Server,
    published: &HashMap<String, i64>,
    full: bool,
    report: &mut StepReport,
) -> Result<Vec<TablePlan>> {
    let mut plans = Vec::new();
    for table in tables::published() {
        let name = table.name.to_string();
        let Some(delta) = session.lake().open_table(&TableRef::gold(&name)).await? else {
            continue;
        };
        let version = delta.version().unwrap_or(0) as i64;
        let snapshot = format!("publish_snapshot_{name}");
        session
            .register_snapshot(&delta, &TableRef::gold(&name), &snapshot)
            .await?;
        let in_postgres = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("gold.{name}")],
            )
            .await
            .map_err(|e| server.error("looking up a table", e))?
            .get::<_, bool>(0);
        let last = published
            .get(&name)
            .copied()
            .filter(|_| in_postgres && !full);
        let schema = session
            .ctx()
            .table(snapshot.as_str())
            .await
            .map_err(PublishError::reading(&name))?
            .schema()
            .as_arrow()
            .clone();
        // A published table keeps its rows only while it has the columns this version publishes
        // (an edited query, or a version that generates another column, changes them; the new
        // table is then swapped in whole, even when the lake version is the one published).
        let same_columns = last.is_some() && {
            let published: Vec<String> = client
                .query(
                    "SELECT column_name::text FROM information_schema.columns
                     WHERE table_schema = 'gold' AND table_name = $1 ORDER BY ordinal_position",
                    &[&name],
                )
                .await
                .map_err(|e| server.error("reading a table's columns", e))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            published == published_columns(&schema)
        };
        let last = last.filter(|_| same_columns);
        if last == Some(version) {
            report.count("tables_unchanged", 1);
            continue;
        }
        let plan = match (table.daily, last) {
            (Some(daily), Some(last)) => {
                let column = daily.partition.column();
                match changed_files_since(&delta, last.max(0) as u64, Retention::Follow).await? {
                    Some(files) if !files.is_empty() => {
                        let field = schema.field_with_name(column)?.clone();
                        let values: BTreeSet<PartitionValue> =
                            partitions_of_files(&files, &[field])
                                .iter()
                                .filter_map(|k| k.first().cloned())
                                .collect();
                        if values.len() > MAX_DAYS_REPLACED {
                            Plan::Replace
                        } else {
                            Plan::Days {
                                column: column.to_string(),
                                values: values.into_iter().collect(),
                            }
                        }
                    }
                    _ => Plan::Replace,
                }
            }
            _ => Plan::Replace,
        };
        plans.push(TablePlan {
            name,
            version,
            snapshot,
            schema,
            plan,
        });
    }
    Ok(plans)
}
