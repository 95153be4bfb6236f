//! An apartment out of PostgreSQL (`gdpr erase`): its rows of every table of schema `gold` that
//! has an apartment column (found in the catalog, so the row-level-security maps the deployer
//! fills are covered too), deleted in one transaction under the publish lock: readers see all of
//! them or none of them gone, and no publish runs in between. The staging schema, where a killed
//! publish may have left whole copies of tables, is emptied in the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::run::{ADVISORY_LOCK, RESET_STAGING};
use super::sql::ident;
use super::{Result, Server};

const APARTMENT_TABLES: &str = include_str!("../../queries/publish/apartment_tables.sql");
const FOREIGN_KEYS: &str = include_str!("../../queries/publish/foreign_keys.sql");

/// The rows one table lost (or, in a dry run, would lose).
#[derive(Debug, Clone, Serialize)]
pub struct ErasedRows {
    pub table: String,
    pub rows: u64,
}

/// Delete `apartment` (its name, and its `keys` in `gold.dim_apartment`) from every gold table.
pub async fn erase_apartment(
    server: &Server,
    apartment: &str,
    keys: &[i64],
    dry_run: bool,
) -> Result<Vec<ErasedRows>> {
    let failed = |what: &'static str| move |e: tokio_postgres::Error| server.error(what, e);
    let mut client = server.connect().await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&ADVISORY_LOCK])
        .await
        .map_err(failed("waiting for a publish to finish"))?;
    let transaction = client
        .transaction()
        .await
        .map_err(failed("starting the erasure transaction"))?;
    let columns: BTreeMap<String, String> = transaction
        .query(APARTMENT_TABLES, &[])
        .await
        .map_err(failed("listing the tables with apartment columns"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let references: Vec<(String, String)> = transaction
        .query(FOREIGN_KEYS, &[])
        .await
        .map_err(failed("listing the foreign keys"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if !dry_run {
        // A publish killed after staging left whole copies of the tables there.
        transaction
            .batch_execute(RESET_STAGING)
            .await
            .map_err(failed("emptying the staging schema"))?;
    }
    let mut erased = Vec::new();
    for table in referencing_first(columns.keys().cloned().collect(), &references) {
        let column = &columns[&table];
        let (verb, tail) = if dry_run {
            ("SELECT count(*) FROM", "")
        } else {
            (
                "WITH gone AS (DELETE FROM",
                " RETURNING 1) SELECT count(*) FROM gone",
            )
        };
        let filter = if column == "apartment_key" {
            format!("{} = ANY($1::bigint[])", ident(column))
        } else {
            format!("{} = $1::text", ident(column))
        };
        let statement = format!("{verb} gold.{} WHERE {filter}{tail}", ident(&table));
        let row = if column == "apartment_key" {
            transaction.query_one(&statement, &[&keys]).await
        } else {
            transaction.query_one(&statement, &[&apartment]).await
        }
        .map_err(failed("deleting the apartment's rows"))?;
        let rows: i64 = row.get(0);
        if rows > 0 {
            erased.push(ErasedRows {
                table: format!("gold.{table}"),
                rows: rows as u64,
            });
        }
    }
    transaction
        .commit()
        .await
        .map_err(failed("committing the erasure"))?;
    Ok(erased)
}

/// `tables` ordered so that a table comes before every table it references (a row is deleted
/// before the row it points to); tables caught in a cycle keep their order, at the end.
fn referencing_first(tables: Vec<String>, references: &[(String, String)]) -> Vec<String> {
    let mut left: BTreeSet<String> = tables.iter().cloned().collect();
    let mut ordered = Vec::with_capacity(tables.len());
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|t| {
                !references
                    .iter()
                    .any(|(from, to)| to == *t && from != *t && left.contains(from))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            ordered.extend(left.iter().cloned());
            break;
        }
        for table in ready {
            left.remove(&table);
            ordered.push(table);
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_go_before_the_dimensions_they_reference() {
        let tables = [
            "dim_apartment",
            "dim_device",
            "fact_energy_minute",
            "user_apartment_map",
        ]
        .map(String::from)
        .to_vec();
        let references = [
            ("fact_energy_minute", "dim_device"),
            ("fact_energy_minute", "dim_apartment"),
            ("dim_device", "dim_apartment"),
            ("fact_energy_minute", "dim_date"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()));
        let order = referencing_first(tables, &references);
        let at = |t: &str| order.iter().position(|o| o == t).unwrap();
        assert!(at("fact_energy_minute") < at("dim_device"));
        assert!(at("dim_device") < at("dim_apartment"));
        assert_eq!(order.len(), 4);
    }
}
