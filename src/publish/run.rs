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

use std::collections::HashMap;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use tokio_postgres::Client;

use super::init::{map_readers, prepare_schema};
use super::plan::{Plan, TablePlan, plan_tables};
use super::schema::{finish_schema, present_tables};
use super::security::grant_and_protect;
use super::sql::ident;
use super::stage::{STAGING, STAGING_CONNECTIONS, Staged, stage};
use super::swap::{lock_tables, replace_days, swap};
use super::{PublishError, Result, Server};
use crate::lake::LakeSession;
use crate::ops::report::StepReport;

/// Serialises publishes to one database (a second one waits).
pub(super) const ADVISORY_LOCK: i64 = 0x6461_7461_6379_636c;

pub(super) const RESET_STAGING: &str = include_str!("../../queries/publish/reset_staging.sql");

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
