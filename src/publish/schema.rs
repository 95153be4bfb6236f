//! What PostgreSQL gets besides the rows: primary keys (declared with each gold table), foreign
//! keys, indexes and the generated `timestamp_utc` derived from the columns by one rule each
//! (keys are named alike in every table), the compatibility views and the comments of
//! `queries/publish/`.

use std::collections::{HashMap, HashSet};

use datafusion::arrow::datatypes::Schema;
use tokio_postgres::Transaction;

use super::copy::column_definitions;
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

/// Columns indexed in every table that has them (SPEC §8; `timestamp_utc` for Power BI's
/// incremental refresh).
pub const INDEXED: &[&str] = &["date_key", "apartment_key", "room_key", TIMESTAMP_UTC];

/// The UTC minute as a PostgreSQL `timestamp`, generated from `datetime_key` in every published
/// table that has a `datetime_key` and no column of that name (`queries/publish/timestamp_utc.sql`).
pub const TIMESTAMP_UTC: &str = "timestamp_utc";

/// The definition of the generated [`TIMESTAMP_UTC`] column.
const TIMESTAMP_UTC_DEFINITION: &str = include_str!("../../queries/publish/timestamp_utc.sql");

/// The tables of `queries/publish/schema.sql` that readers read: the reader roles' map of
/// row-level security and Power BI's map of user principal names. Filled outside `publish`,
/// which creates them when missing and never replaces them.
pub const MAPS: &[&str] = &["user_apartment_map", PRINCIPAL_MAP];

/// Power BI's map of user principal names to apartments (dynamic row-level security with
/// `USERPRINCIPALNAME()`, docs/power-bi.md).
pub const PRINCIPAL_MAP: &str = "user_principal_apartment_map";

fn generates_timestamp_utc(schema: &Schema) -> bool {
    schema.field_with_name("datetime_key").is_ok() && schema.field_with_name(TIMESTAMP_UTC).is_err()
}

/// The column definitions of a table published from `schema`: the lake's columns, then the
/// ones PostgreSQL generates.
pub fn table_columns(schema: &Schema) -> Result<Vec<String>> {
    let mut columns = column_definitions(schema)?;
    if generates_timestamp_utc(schema) {
        columns.push(TIMESTAMP_UTC_DEFINITION.trim().to_string());
    }
    Ok(columns)
}

/// The column names of a table published from `schema`, in order.
pub fn published_columns(schema: &Schema) -> Vec<String> {
    let mut columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    if generates_timestamp_utc(schema) {
        columns.push(TIMESTAMP_UTC.into());
    }
    columns
}

/// The [`INDEXED`] columns of a table published from `schema`.
pub fn indexed_columns(schema: &Schema) -> Vec<&'static str> {
    let columns = published_columns(schema);
    INDEXED
        .iter()
        .copied()
        .filter(|c| columns.iter().any(|p| p == c))
        .collect()
}

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
    available.extend(MAPS.iter().map(|m| m.to_string()));
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

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};

    use super::*;

    #[test]
    fn tables_with_a_datetime_key_get_an_indexed_timestamp_utc() {
        let fact = Schema::new(vec![
            Field::new("datetime_key", DataType::Int64, false),
            Field::new("room_key", DataType::Int64, false),
        ]);
        assert_eq!(
            published_columns(&fact),
            ["datetime_key", "room_key", TIMESTAMP_UTC]
        );
        let definitions = table_columns(&fact).unwrap();
        assert!(
            definitions[2].contains("timestamp_utc timestamp GENERATED ALWAYS AS"),
            "{definitions:?}"
        );
        assert_eq!(indexed_columns(&fact), ["room_key", TIMESTAMP_UTC]);

        // dim_datetime has its own timestamp_utc; a table without datetime_key gets none.
        let calendar = Schema::new(vec![
            Field::new("datetime_key", DataType::Int64, false),
            Field::new(
                TIMESTAMP_UTC,
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
        ]);
        assert_eq!(
            published_columns(&calendar),
            ["datetime_key", TIMESTAMP_UTC]
        );
        assert_eq!(table_columns(&calendar).unwrap().len(), 2);
        let daily = Schema::new(vec![Field::new("date_key", DataType::Int32, false)]);
        assert_eq!(published_columns(&daily), ["date_key"]);
    }
}
