//! Snapshots of reference tables from MySQL / MariaDB (mysql_async, text protocol: every value
//! arrives as the server's text, which is exactly what bronze keeps).

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row, Value};

use super::reference::{Fetched, TableSnapshot, imported_positions, text_of};
use super::{Result, SourceError};
use crate::catalog::tables::imported_columns;
use crate::ops::secrets::mask_url;

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long reading one table may take: a server that stops answering mid-query (or a table
/// locked by a long DDL) fails the snapshot instead of holding the writer lease forever.
const TABLE_TIMEOUT: Duration = Duration::from_secs(300);
/// MySQL's "table doesn't exist".
const ER_NO_SUCH_TABLE: u16 = 1146;

/// The imported columns of each table in `tables`, over one connection.
pub async fn fetch_tables(
    url: &str,
    tables: &[&'static str],
) -> Result<Vec<(&'static str, Fetched)>> {
    let masked = mask_url(url);
    let opts = Opts::from_url(url).map_err(|e| {
        SourceError::Remote(format!(
            "MYSQL_URL `{masked}` is not a valid mysql:// URL: {e}"
        ))
    })?;
    let address = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
    let failure = |what: &str, e: mysql_async::Error| {
        SourceError::Remote(
            crate::ops::secrets::redact(&format!("MySQL server {address} ({masked}): {what}: {e}"))
                .into_owned(),
        )
    };
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts))
        .await
        .map_err(|_| {
            SourceError::Remote(format!(
                "MySQL server {address} ({masked}): no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| failure("cannot connect", e))?;
    let mut out = Vec::with_capacity(tables.len());
    for &table in tables {
        let fetched = tokio::time::timeout(TABLE_TIMEOUT, fetch_table(&mut conn, table))
            .await
            .map_err(|_| {
                SourceError::Remote(format!(
                    "MySQL server {address} ({masked}): reading `{table}` took more than {} s",
                    TABLE_TIMEOUT.as_secs()
                ))
            })?;
        match fetched {
            Ok(fetched) => out.push((table, fetched)),
            Err(mysql_async::Error::Server(e)) if e.code == ER_NO_SUCH_TABLE => {
                out.push((table, Fetched::Missing(e.message)));
            }
            Err(e) => return Err(failure(&format!("reading table `{table}`"), e)),
        }
    }
    // A failed goodbye does not make the snapshot wrong.
    let _ = conn.disconnect().await;
    Ok(out)
}

async fn fetch_table(conn: &mut Conn, table: &'static str) -> mysql_async::Result<Fetched> {
    let selection = match selection(conn, table).await? {
        Ok(selection) => selection,
        Err(reason) => return Ok(Fetched::Missing(reason)),
    };
    let mut result = conn
        .query_iter(format!("SELECT {selection} FROM `{table}`"))
        .await?;
    let columns: Vec<String> = result
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    // Each row becomes text as it arrives: the server's rows are never held twice.
    let mut replaced_values = 0;
    let mut rows = Vec::new();
    result
        .for_each(|row: Row| {
            rows.push(
                row.unwrap()
                    .into_iter()
                    .map(|value| value_text(value, &mut replaced_values))
                    .collect(),
            )
        })
        .await?;
    Ok(Fetched::Table(TableSnapshot {
        table,
        columns,
        rows,
        replaced_values,
    }))
}

/// The select list of `table`: `*`, or its imported columns by name, learnt from a query that
/// returns no row (so no value of another column ever leaves the server); `Err`: it has none.
async fn selection(
    conn: &mut Conn,
    table: &'static str,
) -> mysql_async::Result<Result<String, String>> {
    if imported_columns(table).is_none() {
        return Ok(Ok("*".into()));
    }
    let probe = conn
        .query_iter(format!("SELECT * FROM `{table}` LIMIT 0"))
        .await?;
    let columns: Vec<String> = probe
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    probe.drop_result().await?;
    Ok(imported_positions(table, &columns).map(|positions| {
        positions
            .iter()
            .map(|&i| format!("`{}`", columns[i].replace('`', "``")))
            .collect::<Vec<_>>()
            .join(", ")
    }))
}

/// The text protocol sends bytes; other variants only appear with prepared statements, but are
/// rendered the way the server would print them.
fn value_text(value: Value, replaced: &mut u64) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(text_of(&bytes, replaced)),
        Value::Int(v) => Some(v.to_string()),
        Value::UInt(v) => Some(v.to_string()),
        Value::Float(v) => Some(v.to_string()),
        Value::Double(v) => Some(v.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}
