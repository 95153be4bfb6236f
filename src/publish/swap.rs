//! Inside the publish transaction: every gold table locked, staged tables swapped in, changed
//! days deleted and copied again.

use std::time::Instant;

use datafusion::logical_expr::{Expr, col, lit};
use tokio_postgres::Transaction;

use super::plan::TablePlan;
use super::schema::foreign_keys;
use super::sql::{ident, literal};
use super::stage::{STAGING, copy_rows};
use super::{Result, Server};
use crate::lake::{LakeSession, PartitionValue};

/// How long a publish retries taking its locks without waiting in line.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Lock every gold table before changing any. A reader that joins two tables holds one while
/// waiting for the other; a publish that waited for a lock while holding another could
/// deadlock with it (and PostgreSQL would cancel one of them). So the locks are taken all at
/// once without waiting, retried while readers finish, and only after `LOCK_PATIENCE` taken
/// waiting in line (readers arriving later then queue behind the publish).
pub(super) async fn lock_tables(transaction: &Transaction<'_>, server: &Server) -> Result<()> {
    let failed = |e: tokio_postgres::Error| server.error("locking the gold tables", e);
    let tables: Vec<String> = transaction
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
             WHERE schemaname = 'gold' AND tablename NOT LIKE '\\_%' ORDER BY tablename",
            &[],
        )
        .await
        .map_err(failed)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if tables.is_empty() {
        return Ok(());
    }
    let lock = format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", tables.join(", "));
    let deadline = Instant::now() + LOCK_PATIENCE;
    while Instant::now() < deadline {
        transaction
            .batch_execute("SAVEPOINT locking")
            .await
            .map_err(failed)?;
        match transaction.batch_execute(&format!("{lock} NOWAIT")).await {
            Ok(()) => return Ok(()),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                transaction
                    .batch_execute("ROLLBACK TO SAVEPOINT locking")
                    .await
                    .map_err(failed)?;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => return Err(failed(e)),
        }
    }
    transaction.batch_execute(&lock).await.map_err(failed)
}

/// Replace `gold.<table>` by its staging table (inside the publish transaction): its primary
/// key and indexes already carry their final names and move along.
pub(super) async fn swap(
    client: &Transaction<'_>,
    server: &Server,
    plan: &TablePlan,
) -> Result<()> {
    let name = ident(&plan.name);
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS gold.{name} CASCADE;
             ALTER TABLE {STAGING}.{name} SET SCHEMA gold"
        ))
        .await
        .map_err(|e| server.error(&format!("swapping in gold.{}", plan.name), e))
}

/// Delete and re-copy the changed days of a daily fact (inside the publish transaction).
pub(super) async fn replace_days(
    session: &LakeSession,
    client: &Transaction<'_>,
    server: &Server,
    plan: &TablePlan,
    column: &str,
    values: &[PartitionValue],
) -> Result<u64> {
    let failed = |e: tokio_postgres::Error| {
        server.error(&format!("replacing days of gold.{}", plan.name), e)
    };
    // Foreign-key triggers would check every copied row one by one (25x slower than the copy);
    // the keys are dropped here and re-added NOT VALID by `finish_schema`, all in the one
    // transaction, so no reader ever sees the table without them.
    let drops: Vec<String> = foreign_keys(&plan.name, &plan.schema)
        .iter()
        .map(|(column, _)| {
            format!(
                "ALTER TABLE gold.{} DROP CONSTRAINT IF EXISTS {}",
                ident(&plan.name),
                ident(&format!("{}_{column}_fkey", plan.name))
            )
        })
        .collect();
    client
        .batch_execute(&drops.join(";\n"))
        .await
        .map_err(failed)?;
    let list: Vec<String> = values.iter().map(sql_value).collect();
    if !list.is_empty() {
        client
            .batch_execute(&format!(
                "DELETE FROM gold.{} WHERE {} IN ({})",
                ident(&plan.name),
                ident(column),
                list.join(", ")
            ))
            .await
            .map_err(failed)?;
    }
    let filter = values
        .iter()
        .map(|v| col(column).eq(lit(v.scalar_value())))
        .reduce(Expr::or)
        .unwrap_or(lit(false));
    let target = format!("gold.{}", ident(&plan.name));
    copy_rows(session, client, server, plan, &target, Some(filter)).await
}

fn sql_value(value: &PartitionValue) -> String {
    match value {
        PartitionValue::Int(v) => v.to_string(),
        PartitionValue::Date(d) => format!("DATE '{d}'"),
        PartitionValue::Text(t) => literal(t),
    }
}
