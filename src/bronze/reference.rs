//! Reference snapshots into `bronze.ref_<table>`: every column as text with its original name,
//! plus `snapshot_at`. One commit per table, and only when the content changed, so a re-run is a
//! no-op and a crash between tables leaves every table either at its old or its new snapshot.
//!
//! A missing or empty source table never wipes the previous snapshot; it is reported. A table
//! whose columns changed is snapshotted with its new columns and the change is reported.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use super::Result;
use crate::catalog::tables::{HOUSE_NAME, SNAPSHOT_AT, reference_snapshot};
use crate::config::HouseEntry;
use crate::lake::{
    LakeSession, TableRef, TableWrite, WriteInput, WriteMode, WriterLease, table_reference,
};
use crate::ops::report::StepReport;
use crate::sources::reference::{Fetched, TableSnapshot};

/// Write the fetched tables, with the house names of `erased_houses` (erased apartments) as
/// NULL; `report` collects what happened to each.
pub async fn write_snapshots(
    session: &LakeSession,
    lease: &WriterLease,
    fetched: Vec<(&'static str, Fetched)>,
    erased_houses: &[HouseEntry],
    report: &mut StepReport,
) -> Result<()> {
    let snapshot_at = crate::ops::clock::now();
    for (table, fetched) in fetched {
        let target = reference_snapshot(table);
        let kept = if session.has_table(&target) {
            "the previous snapshot is kept"
        } else {
            "no snapshot yet"
        };
        let snapshot = match fetched {
            Fetched::Missing(reason) => {
                report.warn(
                    "missing_tables",
                    format!("table `{table}` is missing ({reason}); {kept}"),
                );
                continue;
            }
            Fetched::Table(snapshot) if snapshot.rows.is_empty() => {
                report.warn("empty_tables", format!("table `{table}` is empty; {kept}"));
                continue;
            }
            Fetched::Table(mut snapshot) => {
                report.count(
                    "erased_house_names_blanked",
                    blank_house_names(&mut snapshot, erased_houses),
                );
                snapshot
            }
        };
        let previous = current_snapshot(session, &target).await?;
        if snapshot.replaced_values > 0 {
            report.warn(
                "non_utf8_values",
                format!(
                    "table `{table}`: {} value(s) were not UTF-8; invalid bytes became U+FFFD",
                    snapshot.replaced_values
                ),
            );
        }
        if let Some((columns, _)) = &previous
            && *columns != snapshot.columns
        {
            report.warn(
                "changed_columns",
                column_change(table, columns, &snapshot.columns),
            );
        }
        report.files += 1;
        report.rows += snapshot.rows.len() as u64;
        report.bytes += snapshot
            .rows
            .iter()
            .flatten()
            .flatten()
            .map(|v| v.len() as u64)
            .sum::<u64>();
        if previous.is_some_and(|(columns, hashes)| {
            columns == snapshot.columns
                && hashes
                    == fingerprint(
                        snapshot
                            .rows
                            .iter()
                            .map(|r| r.iter().map(Option::as_deref).collect()),
                    )
        }) {
            report.count("unchanged_tables", 1);
            continue;
        }
        lease.check().await?;
        session
            .lake()
            .write(TableWrite {
                table: &target,
                partition_columns: &[],
                input: WriteInput::Batches(vec![snapshot_batch(&snapshot, snapshot_at)?]),
                mode: WriteMode::Overwrite,
                app_transaction: None,
                without_statistics: &[],
            })
            .await?;
        session.refresh(&target).await?;
        tracing::debug!(target: "datacycle::commit", table = %target, rows = snapshot.rows.len(), "committed");
        report.count("tables_written", 1);
    }
    Ok(())
}

/// Blank the house names of `erased` in `snapshot`; how many were.
fn blank_house_names(snapshot: &mut TableSnapshot, erased: &[HouseEntry]) -> u64 {
    let Some(column) = snapshot
        .columns
        .iter()
        .position(|c| c.eq_ignore_ascii_case(HOUSE_NAME))
    else {
        return 0;
    };
    let mut blanked = 0;
    for row in &mut snapshot.rows {
        let cell = &mut row[column];
        let house = cell.as_deref().map(str::trim);
        if house.is_some_and(|h| erased.iter().any(|e| e.house.eq_ignore_ascii_case(h))) {
            *cell = None;
            blanked += 1;
        }
    }
    blanked
}

fn column_change(table: &str, before: &[String], after: &[String]) -> String {
    let added: Vec<&str> = after
        .iter()
        .filter(|c| !before.contains(c))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = before
        .iter()
        .filter(|c| !after.contains(c))
        .map(String::as_str)
        .collect();
    format!(
        "table `{table}` changed its columns (added: {}; removed: {}); snapshotted with the new columns",
        list_or_none(&added),
        list_or_none(&removed)
    )
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// An order-independent fingerprint of rows: the sorted hashes of every row. Comparing two
/// snapshots this way holds one hash per row instead of a second copy of every value.
fn fingerprint<'a>(rows: impl Iterator<Item = Vec<Option<&'a str>>>) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let mut hashes: Vec<u64> = rows
        .map(|row| {
            let mut hasher = std::hash::DefaultHasher::new();
            row.hash(&mut hasher);
            hasher.finish()
        })
        .collect();
    hashes.sort_unstable();
    hashes
}

/// Column names and the row fingerprint of the current snapshot, if there is one; read a batch
/// at a time.
async fn current_snapshot(
    session: &LakeSession,
    table: &TableRef,
) -> Result<Option<(Vec<String>, Vec<u64>)>> {
    use futures::StreamExt;
    if !session.has_table(table) {
        return Ok(None);
    }
    let frame = session.ctx().table(table_reference(table)).await?;
    let columns: Vec<String> = frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|name| name != SNAPSHOT_AT)
        .collect();
    let mut stream = frame.execute_stream().await?;
    let mut hashes = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let texts: Vec<ArrayRef> = columns
            .iter()
            .map(|c| {
                cast(
                    batch.column_by_name(c).expect("column of the schema"),
                    &DataType::Utf8,
                )
            })
            .collect::<Result<_, _>>()?;
        let texts: Vec<&StringArray> = texts.iter().map(|a| a.as_string::<i32>()).collect();
        hashes.extend(fingerprint((0..batch.num_rows()).map(|row| {
            texts
                .iter()
                .map(|a| a.is_valid(row).then(|| a.value(row)))
                .collect()
        })));
    }
    hashes.sort_unstable();
    Ok(Some((columns, hashes)))
}

fn snapshot_batch(snapshot: &TableSnapshot, at: DateTime<Utc>) -> Result<RecordBatch> {
    let mut fields: Vec<Field> = snapshot
        .columns
        .iter()
        .map(|c| Field::new(c, DataType::Utf8, true))
        .collect();
    fields.push(Field::new(
        SNAPSHOT_AT,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    ));
    let mut columns: Vec<ArrayRef> = (0..snapshot.columns.len())
        .map(|i| {
            Arc::new(
                snapshot
                    .rows
                    .iter()
                    .map(|r| r.get(i).cloned().flatten())
                    .collect::<StringArray>(),
            ) as ArrayRef
        })
        .collect();
    columns.push(Arc::new(
        TimestampMicrosecondArray::from(vec![at.timestamp_micros(); snapshot.rows.len()])
            .with_timezone("UTC"),
    ));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
