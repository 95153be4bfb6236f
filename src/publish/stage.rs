//! Copying a whole table into schema `gold_staging` (binary COPY, then primary key and indexes)
//! on a connection of its own, and the binary COPY of a planned snapshot shared with the
//! replacement of changed days.

use std::time::Instant;

use datafusion::logical_expr::Expr;
use futures::{SinkExt, StreamExt};
use tokio_postgres::Transaction;

use super::copy::CopyEncoder;
use super::plan::TablePlan;
use super::schema::{indexed_columns, primary_key, table_columns};
use super::sql::{column_list, ident};
use super::{PublishError, Result, Server};
use crate::lake::LakeSession;

/// Tables staged at once.
pub(super) const STAGING_CONNECTIONS: usize = 2;

/// Bytes encoded before they are sent to the server.
const SEND_BYTES: usize = 4 << 20;

/// Where tables are staged (see `queries/publish/reset_staging.sql`).
pub(super) const STAGING: &str = "gold_staging";

/// A table copied into staging.
pub(super) struct Staged {
    pub(super) table: String,
    pub(super) rows: u64,
    pub(super) copy_seconds: f64,
    pub(super) index_seconds: f64,
}

/// Copy a whole table into `gold_staging.<table>` with its primary key and indexes (named as
/// they will be in `gold`), on a connection of its own.
pub(super) async fn stage(
    session: &LakeSession,
    server: &Server,
    plan: &TablePlan,
) -> Result<Staged> {
    let started = Instant::now();
    let name = &plan.name;
    let staged = format!("{STAGING}.{}", ident(name));
    let failed = |e: tokio_postgres::Error| server.error(&format!("staging gold.{name}"), e);
    let mut client = server.connect().await?;
    let client = client.transaction().await.map_err(failed)?;
    client
        .batch_execute(&format!(
            "CREATE TABLE {staged} ({})",
            table_columns(&plan.schema)?.join(", ")
        ))
        .await
        .map_err(failed)?;
    let rows = copy_rows(session, &client, server, plan, &staged, None).await?;
    let copy_seconds = started.elapsed().as_secs_f64();
    // Index builds sort in memory instead of in temporary files (the default is 64 MB).
    let mut ddl = vec!["SET LOCAL maintenance_work_mem = '256MB'".to_string()];
    let key = primary_key(name);
    if !key.is_empty() {
        ddl.push(format!(
            "ALTER TABLE {staged} ADD CONSTRAINT {} PRIMARY KEY ({})",
            ident(&format!("{name}_pkey")),
            column_list(key)
        ));
    }
    for column in indexed_columns(&plan.schema) {
        if key.first() != Some(&column) {
            ddl.push(format!(
                "CREATE INDEX {} ON {staged} ({})",
                ident(&format!("{name}_{column}")),
                ident(column),
            ));
        }
    }
    client
        .batch_execute(&ddl.join(";\n"))
        .await
        .map_err(failed)?;
    client.commit().await.map_err(failed)?;
    Ok(Staged {
        table: plan.name.clone(),
        rows,
        copy_seconds,
        index_seconds: started.elapsed().as_secs_f64() - copy_seconds,
    })
}

/// Binary COPY of the rows of the planned snapshot (matching `filter`) into `target` (a
/// qualified, quoted table name).
pub(super) async fn copy_rows(
    session: &LakeSession,
    client: &Transaction<'_>,
    server: &Server,
    plan: &TablePlan,
    target: &str,
    filter: Option<Expr>,
) -> Result<u64> {
    let failed = |e: tokio_postgres::Error| server.error(&format!("copying gold.{}", plan.name), e);
    let reading = || PublishError::reading(&plan.name);
    let mut frame = session
        .ctx()
        .table(plan.snapshot.as_str())
        .await
        .map_err(reading())?;
    if let Some(filter) = filter {
        frame = frame.filter(filter).map_err(reading())?;
    }
    let columns: Vec<&String> = frame.schema().fields().iter().map(|f| f.name()).collect();
    let sink = client
        .copy_in::<_, bytes::Bytes>(&format!(
            "COPY {target} ({}) FROM STDIN (FORMAT binary)",
            column_list(&columns)
        ))
        .await
        .map_err(failed)?;
    futures::pin_mut!(sink);
    let mut stream = frame.execute_stream().await.map_err(reading())?;
    let mut encoder = CopyEncoder::new();
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(reading())?;
        rows += batch.num_rows() as u64;
        encoder.encode(&batch)?;
        if encoder.len() >= SEND_BYTES {
            sink.send(encoder.take()).await.map_err(failed)?;
        }
    }
    sink.send(encoder.finish()).await.map_err(failed)?;
    sink.finish().await.map_err(failed)?;
    Ok(rows)
}
