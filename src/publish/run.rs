//! `datacycle publish`: gold tables into PostgreSQL schema `gold`.
//!
//! A table whose lake version is the one last published is skipped. A daily fact published
//! before gets only its changed days (the partition values of the files added or removed since
//! that version, from the Delta log): deleted and re-copied inside the publish transaction. Any
//! other table is copied whole into a staging table of schema `gold_staging`, which no reader
//! may use (binary COPY, then primary key and indexes), outside the transaction, and moved into
//! `gold` inside it. One transaction covers every swap and
//! every day replacement, the foreign keys, views, grants, policies, comments and the published
//! versions (`gold._datacycle_published`), so readers see the previous publish or this one,
//! never a mix, and a killed publish leaves the previous one intact. Every table is copied from
//! the Delta snapshot whose version is recorded. Row counts are compared with the lake
//! afterwards.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use datafusion::arrow::datatypes::Schema;
use datafusion::logical_expr::{Expr, col, lit};
use futures::{SinkExt, StreamExt, TryStreamExt};
use tokio_postgres::{Client, Transaction};

use super::copy::{CopyEncoder, column_definitions};
use super::init::{ident, map_readers, prepare_schema};
use super::schema::{
    ADMIN_READER, INDEXED, apartment_scoped, column_list, foreign_keys, primary_key,
};
use super::{PublishError, Result, Server};
use crate::lake::{LakeSession, PartitionValue, TableRef, changed_files_since};
use crate::ops::report::StepReport;
use crate::transform::gold::{Kind, Partition, TABLES};
use crate::transform::incremental::partitions_of_files;

/// Tables staged at once.
const STAGING_CONNECTIONS: usize = 2;
/// Bytes encoded before they are sent to the server.
const SEND_BYTES: usize = 4 << 20;
/// More changed days than this are published by a whole-table swap: copying into an empty
/// staging table and indexing it afterwards is faster than updating a live table's indexes.
const MAX_DAYS_REPLACED: usize = 7;
/// How long a publish retries taking its locks without waiting in line.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);
/// Serialises publishes to one database (a second one waits).
const ADVISORY_LOCK: i64 = 0x6461_7461_6379_636c;

/// Where tables are staged (see `queries/publish/reset_staging.sql`).
const STAGING: &str = "gold_staging";

const RESET_STAGING: &str = include_str!("../../queries/publish/reset_staging.sql");
const VIEWS: &str = include_str!("../../queries/publish/views.sql");
const COMMENTS: &str = include_str!("../../queries/publish/comments.sql");

/// What a publish does with one table.
enum Plan {
    /// Copy whole into staging and swap in.
    Replace,
    /// Replace these partition values (`column = ANY(values)`) inside the transaction.
    Days {
        column: String,
        values: Vec<PartitionValue>,
    },
}

struct TablePlan {
    name: String,
    /// The lake version copied and recorded.
    version: i64,
    /// The session table that holds the snapshot at `version`.
    snapshot: String,
    schema: Schema,
    plan: Plan,
}

/// Publish gold to `server` (`full`: every table whole).
pub async fn publish(
    session: &LakeSession,
    server: &Server,
    full: bool,
    auto_readers: bool,
) -> Result<StepReport> {
    let started = Instant::now();
    let mut report = StepReport::new("publish");
    let mut client = server.connect().await?;
    let failed = |what: &'static str| move |e: tokio_postgres::Error| server.error(what, e);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&ADVISORY_LOCK])
        .await
        .map_err(failed("waiting for another publish"))?;
    prepare_schema(&client, server).await?;
    client
        .batch_execute(RESET_STAGING)
        .await
        .map_err(failed("emptying the staging schema"))?;
    let result = publish_locked(
        session,
        server,
        &mut client,
        full,
        auto_readers,
        &mut report,
    )
    .await;
    if result.is_err() {
        // Best effort: a publish killed outright leaves staging to the next one, which empties it.
        let _ = client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {STAGING} CASCADE"))
            .await;
    }
    result?;
    Ok(report.finish(started))
}

/// The publish proper, holding the advisory lock, with an empty staging schema.
async fn publish_locked(
    session: &LakeSession,
    server: &Server,
    client: &mut Client,
    full: bool,
    auto_readers: bool,
    report: &mut StepReport,
) -> Result<()> {
    let failed = |what: &'static str| move |e: tokio_postgres::Error| server.error(what, e);
    let published: HashMap<String, i64> = client
        .query(
            "SELECT table_name, lake_version FROM gold._datacycle_published",
            &[],
        )
        .await
        .map_err(failed("reading the published versions"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();

    let plans = plan_tables(session, client, server, &published, full, report).await?;
    // Two tables at a time, each on its own connection: one PostgreSQL backend per core.
    let staged: Vec<Staged> =
        futures::stream::iter(plans.iter().filter(|p| matches!(p.plan, Plan::Replace)))
            .map(|plan| stage(session, server, plan))
            .buffered(STAGING_CONNECTIONS)
            .try_collect()
            .await?;
    for s in staged {
        report.notes.push(format!(
            "gold.{}: {} rows copied in {:.2} s ({:.0} rows/s), keys and indexes {:.2} s",
            s.table,
            s.rows,
            s.copy_seconds,
            s.rows as f64 / s.copy_seconds.max(1e-9),
            s.index_seconds
        ));
        report.rows += s.rows;
        report.count("tables_replaced", 1);
    }

    let transaction = client
        .transaction()
        .await
        .map_err(failed("starting the publish transaction"))?;
    lock_tables(&transaction, server).await?;
    for plan in &plans {
        match &plan.plan {
            Plan::Replace => swap(&transaction, server, plan).await?,
            Plan::Days { column, values } => {
                report.rows +=
                    replace_days(session, &transaction, server, plan, column, values).await?;
                report.count("days_replaced", values.len() as u64);
            }
        }
    }
    let present = present_tables(session, &transaction, server).await?;
    finish_schema(&transaction, server, &present).await?;
    if auto_readers && present.contains_key("dim_apartment") {
        let apartments: Vec<String> = transaction
            .query(
                "SELECT apartment_id FROM gold.dim_apartment ORDER BY 1",
                &[],
            )
            .await
            .map_err(failed("listing apartments"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mapped = map_readers(transaction.client(), server, &apartments).await?;
        if !mapped.missing.is_empty() {
            report.count("reader_roles_missing", mapped.missing.len() as u64);
            report.notes.push(format!(
                "no reader role yet for {}: run `datacycle pg init` (the app role cannot create roles)",
                mapped.missing.join(", ")
            ));
        }
    }
    grant_and_protect(&transaction, server, &present).await?;
    for plan in &plans {
        transaction
            .execute(
                "INSERT INTO gold._datacycle_published (table_name, lake_version) VALUES ($1, $2)
                 ON CONFLICT (table_name) DO UPDATE
                 SET lake_version = EXCLUDED.lake_version, published_at = now()",
                &[&plan.name, &plan.version],
            )
            .await
            .map_err(failed("recording the published versions"))?;
    }
    transaction
        .commit()
        .await
        .map_err(failed("committing the publish"))?;

    for plan in &plans {
        verify_count(session, client, server, plan).await?;
    }
    report.count("tables_published", plans.len() as u64);
    if plans.is_empty() {
        report.notes.push("every table is up to date".into());
    }
    Ok(())
}

/// Decide, per gold table of the lake, whether and how to publish it.
async fn plan_tables(
    session: &LakeSession,
    client: &Client,
    server: &Server,
    published: &HashMap<String, i64>,
    full: bool,
    report: &mut StepReport,
) -> Result<Vec<TablePlan>> {
    let mut plans = Vec::new();
    for table in TABLES {
        let name = table.query.stem().to_string();
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
        if last == Some(version) {
            report.count("tables_unchanged", 1);
            continue;
        }
        let schema = session
            .ctx()
            .table(snapshot.as_str())
            .await
            .map_err(PublishError::reading(&name))?
            .schema()
            .as_arrow()
            .clone();
        // Days can be replaced only in a table with the lake's columns (an edited query changes
        // them; the new table is then swapped in whole).
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
            published
                .iter()
                .eq(schema.fields().iter().map(|f| f.name()))
        };
        let plan = match (table.kind, last.filter(|_| same_columns)) {
            (Kind::Daily(daily), Some(last)) => {
                let column = match daily.partition {
                    Partition::DateKey => "date_key",
                    Partition::Date(column) => column,
                };
                match changed_files_since(&delta, last.max(0) as u64).await? {
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

/// Lock every gold table before changing any. A reader that joins two tables holds one while
/// waiting for the other; a publish that waited for a lock while holding another could
/// deadlock with it (and PostgreSQL would cancel one of them). So the locks are taken all at
/// once without waiting, retried while readers finish, and only after `LOCK_PATIENCE` taken
/// waiting in line (readers arriving later then queue behind the publish).
async fn lock_tables(transaction: &Transaction<'_>, server: &Server) -> Result<()> {
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

/// A table copied into staging.
struct Staged {
    table: String,
    rows: u64,
    copy_seconds: f64,
    index_seconds: f64,
}

/// Copy a whole table into `gold_staging.<table>` with its primary key and indexes (named as
/// they will be in `gold`), on a connection of its own.
async fn stage(session: &LakeSession, server: &Server, plan: &TablePlan) -> Result<Staged> {
    let started = Instant::now();
    let name = &plan.name;
    let staged = format!("{STAGING}.{}", ident(name));
    let failed = |e: tokio_postgres::Error| server.error(&format!("staging gold.{name}"), e);
    let mut client = server.connect().await?;
    let client = client.transaction().await.map_err(failed)?;
    client
        .batch_execute(&format!(
            "CREATE TABLE {staged} ({})",
            column_definitions(&plan.schema)?.join(", ")
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
    for column in INDEXED {
        if plan.schema.field_with_name(column).is_ok() && key.first() != Some(column) {
            ddl.push(format!(
                "CREATE INDEX {} ON {staged} (\"{column}\")",
                ident(&format!("{name}_{column}")),
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

/// Replace `gold.<table>` by its staging table (inside the publish transaction): its primary
/// key and indexes already carry their final names and move along.
async fn swap(client: &Transaction<'_>, server: &Server, plan: &TablePlan) -> Result<()> {
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
async fn replace_days(
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
                "DELETE FROM gold.{} WHERE \"{column}\" IN ({})",
                ident(&plan.name),
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
        PartitionValue::Text(t) => super::init::literal(t),
    }
}

/// Binary COPY of the rows of the planned snapshot (matching `filter`) into `target` (a
/// qualified, quoted table name).
async fn copy_rows(
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
    let columns: Vec<String> = frame
        .schema()
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
        .collect();
    let sink = client
        .copy_in::<_, bytes::Bytes>(&format!(
            "COPY {target} ({}) FROM STDIN (FORMAT binary)",
            columns.join(", ")
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

/// Gold tables in PostgreSQL that datacycle publishes, with their lake schema.
async fn present_tables(
    session: &LakeSession,
    client: &Transaction<'_>,
    server: &Server,
) -> Result<HashMap<String, Schema>> {
    let mut present = HashMap::new();
    for table in TABLES {
        let name = table.query.stem();
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
async fn finish_schema(
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
                        "ALTER TABLE gold.{} ADD CONSTRAINT {} FOREIGN KEY (\"{column}\")
                         REFERENCES gold.{} ({}) NOT VALID",
                        ident(table),
                        ident(&name),
                        ident(dimension),
                        column_list(primary_key(dimension))
                    ))
                    .await
                    .map_err(failed("adding foreign keys"))?;
            }
        }
    }
    for statement in sql_statements(VIEWS).chain(sql_statements(COMMENTS)) {
        let published = |t: &String| present.contains_key(t) || t == "user_apartment_map";
        if statement_tables(&statement).iter().all(published) {
            client
                .batch_execute(&statement)
                .await
                .map_err(|e| server.error(&format!("running `{}`", first_line(&statement)), e))?;
        }
    }
    Ok(())
}

/// Row-level security on every apartment-scoped table and SELECT for every reader role.
async fn grant_and_protect(
    client: &Transaction<'_>,
    server: &Server,
    present: &HashMap<String, Schema>,
) -> Result<()> {
    let failed = |e: tokio_postgres::Error| server.error("applying grants and policies", e);
    let readers: Vec<String> = client
        .query(
            "SELECT DISTINCT m.role_name FROM gold.user_apartment_map m
             JOIN pg_roles r ON r.rolname = m.role_name
             UNION SELECT rolname FROM pg_roles WHERE rolname = $1",
            &[&ADMIN_READER],
        )
        .await
        .map_err(failed)?
        .iter()
        .map(|r| ident(r.get(0)))
        .collect();
    // Table by table: whatever else is in the schema stays the app role's alone.
    let mut granted: Vec<String> = present
        .keys()
        .map(|t| format!("gold.{}", ident(t)))
        .collect();
    granted.sort();
    granted.push("gold.user_apartment_map".into());
    let has_view: bool = client
        .query_one(
            "SELECT to_regclass('gold.mv_energy_with_cost') IS NOT NULL",
            &[],
        )
        .await
        .map_err(failed)?
        .get(0);
    if has_view {
        granted.push("gold.mv_energy_with_cost".into());
    }
    let mut sql = Vec::new();
    if !readers.is_empty() {
        let readers = readers.join(", ");
        sql.push(format!("GRANT USAGE ON SCHEMA gold TO {readers}"));
        sql.push(format!(
            "GRANT SELECT ON {} TO {readers}",
            granted.join(", ")
        ));
    }
    for (table, schema) in present {
        if !apartment_scoped(schema) {
            continue;
        }
        let table = ident(table);
        sql.push(format!(
            "ALTER TABLE gold.{table} ENABLE ROW LEVEL SECURITY"
        ));
        sql.push(format!(
            "DROP POLICY IF EXISTS apartment_readers ON gold.{table}"
        ));
        // A role sees the apartments the map grants to it or to a role it is a member of.
        sql.push(format!(
            "CREATE POLICY apartment_readers ON gold.{table} FOR SELECT USING (
                 apartment_key IN (
                     SELECT m.apartment_key FROM gold.user_apartment_map m
                     JOIN pg_roles r ON r.rolname = m.role_name
                     WHERE pg_has_role(current_user, r.oid, 'MEMBER')))"
        ));
    }
    client.batch_execute(&sql.join(";\n")).await.map_err(failed)
}

async fn verify_count(
    session: &LakeSession,
    client: &Client,
    server: &Server,
    plan: &TablePlan,
) -> Result<()> {
    let table = &plan.name;
    let published: i64 = client
        .query_one(&format!("SELECT count(*) FROM gold.{}", ident(table)), &[])
        .await
        .map_err(|e| server.error(&format!("counting gold.{table}"), e))?
        .get(0);
    let lake = session
        .ctx()
        .table(plan.snapshot.as_str())
        .await
        .map_err(PublishError::reading(table))?
        .count()
        .await
        .map_err(PublishError::reading(table))? as i64;
    if published != lake {
        return Err(PublishError::CountMismatch {
            table: format!("gold.{table}"),
            published,
            lake,
        });
    }
    Ok(())
}

/// The statements of a SQL file (split at `;` ending a line), comments removed.
fn sql_statements(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
}

/// The gold tables a statement names (`gold.<table>`).
fn statement_tables(statement: &str) -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    for (i, _) in statement.match_indices("gold.") {
        let name: String = statement[i + 5..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && name != "mv_energy_with_cost" {
            tables.insert(name);
        }
    }
    tables
}

fn first_line(statement: &str) -> &str {
    statement.trim().lines().next().unwrap_or_default()
}
