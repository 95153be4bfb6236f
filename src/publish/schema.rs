//! What PostgreSQL gets besides the rows: primary keys (declared with each gold table), foreign
//! keys and indexes derived from the columns by one rule each (keys are named alike in every
//! table), the compatibility views and the comments of `queries/publish/`.

use std::collections::{HashMap, HashSet};

use datafusion::arrow::datatypes::Schema;
use tokio_postgres::Transaction;

use super::sql::{column_list, ident, statements};
use super::{Result, Server};
use crate::catalog::tables::published;
use crate::lake::LakeSession;

/// Each surrogate or calendar key column and the dimension it identifies.
pub const KEY_DIMENSIONS: &[(&str, &str)] = &[
    ("date_key", "dim_date"),
    ("datetime_key", "dim_datetime"),
    ("apartment_key", "dim_apartment"),
    ("room_key", "dim_room"),
    ("device_key", "dim_device"),
    ("site_key", "dim_weather_site"),
    ("weather_site_key", "dim_weather_site"),
];

/// Columns indexed in every table that has them (SPEC §8).
pub const INDEXED: &[&str] = &["date_key", "apartment_key", "room_key"];

/// The primary key of a gold table (declared in `catalog::tables`).
pub fn primary_key(table: &str) -> &'static [&'static str] {
    published()
        .find(|t| t.name == table)
        .map_or(&[], |t| t.primary_key)
}

/// (column, dimension) of every foreign key of `table`.
pub fn foreign_keys(table: &str, schema: &Schema) -> Vec<(&'static str, &'static str)> {
    KEY_DIMENSIONS
        .iter()
        .filter(|(column, dimension)| *dimension != table && schema.field_with_name(column).is_ok())
        .copied()
        .collect()
}

const VIEWS: &str = include_str!("../../queries/publish/views.sql");

const COMMENTS: &str = include_str!("../../queries/publish/comments.sql");

/// Gold tables in PostgreSQL that datacycle publishes, with their lake schema.
pub(super) async fn present_tables(
    session: &LakeSession,
    client: &Transaction<'_>,
    server: &Server,
) -> Result<HashMap<String, Schema>> {
    let mut present = HashMap::new();
    for table in published() {
        let name = table.name;
        let exists: bool = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("gold.{name}")],
            )
            .await
            .map_err(|e| server.error("looking up a table", e))?
            .get(0);
        if exists && let Ok(frame) = session.ctx().table(format!("gold.{name}")).await {
            present.insert(name.to_string(), frame.schema().as_arrow().clone());
        }
    }
    Ok(present)
}

/// Foreign keys (NOT VALID: the lake guarantees them; checking 4 M rows would double the
/// publish time), the compatibility views and the comments.
pub(super) async fn finish_schema(
    client: &Transaction<'_>,
    server: &Server,
    present: &HashMap<String, Schema>,
) -> Result<()> {
    let failed = |what: &'static str| move |e: tokio_postgres::Error| server.error(what, e);
    for (table, schema) in present {
        for (column, dimension) in foreign_keys(table, schema) {
            if !present.contains_key(dimension) {
                continue;
            }
            let name = format!("{table}_{column}_fkey");
            let exists = client
                .query_opt("SELECT 1 FROM pg_constraint WHERE conname = $1", &[&name])
                .await
                .map_err(failed("looking up foreign keys"))?
                .is_some();
            if !exists {
                client
                    .batch_execute(&format!(
                        "ALTER TABLE gold.{} ADD CONSTRAINT {} FOREIGN KEY ({})
                         REFERENCES gold.{} ({}) NOT VALID",
                        ident(table),
                        ident(&name),
                        ident(column),
                        ident(dimension),
                        column_list(primary_key(dimension))
                    ))
                    .await
                    .map_err(failed("adding foreign keys"))?;
            }
        }
    }
    // A statement runs when every relation it needs is published (or was created before it).
    let mut available: HashSet<String> = present.keys().cloned().collect();
    available.insert("user_apartment_map".into());
    for (file, sql) in [("views.sql", VIEWS), ("comments.sql", COMMENTS)] {
        for statement in statements(file, sql)? {
            if !statement.requires().all(|r| available.contains(r)) {
                continue;
            }
            client
                .batch_execute(&statement.text)
                .await
                .map_err(|e| server.error(&format!("running `{}`", statement.first_line()), e))?;
            available.extend(statement.creates);
        }
    }
    Ok(())
}
