//! `gdpr erase`: the right to erasure over the whole lake and PostgreSQL.
//!
//! 1. The apartment is recorded as erased first (`lake::erasures`): from then on every ingest
//!    refuses its files and the reference snapshots blank its house name, so nothing brings it
//!    back while the erasure runs or after it, and an interrupted erasure stays refused.
//! 2. Every table of the lake, found by listing the storage: its rows of the apartment (by the
//!    apartment column, see `subject`) leave the current version, every data file that ever held
//!    one is deleted from storage and the log of the versions before is dropped (`lake::erase`);
//!    a reference snapshot with the house-name column gets that column blanked for the
//!    apartment's house instead.
//! 3. Files too large for a landing row, kept beside the table, are deleted.
//! 4. PostgreSQL, when `DB_URL` is set: its rows of every gold table, in one transaction.
//!
//! Every part finds what is left and removes it, so running it again after a failure (say,
//! PostgreSQL was down) finishes the erasure. The step reports name tables and counts only:
//! they are the audit record in `_ops.runs` and hold no personal data.

use std::time::Instant;

use datafusion::arrow::datatypes::Schema;
use datafusion::common::Column;
use datafusion::functions::expr_fn::{btrim, encode, lower, sha256};
use datafusion::logical_expr::{Expr, lit};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};

use super::subject::{ApartmentColumn, Subject};
use crate::catalog::tables::HOUSE_NAME;
use crate::config::{HouseEntry, Settings};
use crate::error::Result;
use crate::lake::erase::{Change, Erased, erase};
use crate::lake::erasures::Erasures;
use crate::lake::landing::sensor_table::LARGE_ROOT;
use crate::lake::{Lake, WriterLease};
use crate::ops::report::StepReport;
use crate::publish::Server;
use crate::publish::erase::erase_apartment;

/// Erase `subject` (`dry_run`: report what would go, change nothing); one report per table or
/// store that holds (or held) its data.
pub async fn erase_subject(
    lake: &Lake,
    lease: &WriterLease,
    settings: &Settings,
    subject: &Subject,
    dry_run: bool,
) -> Result<Vec<StepReport>> {
    let houses: Vec<HouseEntry> = settings
        .house_map
        .without(|apartment| apartment == subject.apartment)
        .1;
    if !dry_run {
        let mut erasures = Erasures::load(lake).await?;
        erasures.insert(&subject.apartment, crate::ops::clock::now());
        erasures.save(lake).await?;
    }
    let mut reports = Vec::new();
    let tables = lake.list_tables().await?;
    let progress = crate::ops::progress::bar(tables.len() as u64, "erase", "tables");
    for table in tables {
        progress.set_message(table.to_string());
        let started = Instant::now();
        let erasing = |schema: &Schema| predicate(subject, &houses, schema);
        if let Some(erased) = erase(lake, lease, &table, erasing, dry_run).await?
            && !erased.files.is_empty()
        {
            reports.push(table_report(&erased, dry_run).finish(started));
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    let started = Instant::now();
    let (files, bytes) = erase_large_files(lake, lease, &subject.apartment, dry_run).await?;
    if files > 0 {
        let mut report = StepReport::new(format!("erase {LARGE_ROOT}"));
        (report.files, report.bytes) = (files, bytes);
        reports.push(report.finish(started));
    }
    if let Some(url) = &settings.db_url {
        let started = Instant::now();
        let server = Server::parse(url, "DB_URL")?;
        let erased = erase_apartment(&server, &subject.apartment, &subject.keys, dry_run).await?;
        let mut report = StepReport::new("erase postgresql");
        for table in erased {
            report.rows += table.rows;
            report
                .notes
                .push(format!("{}: {} row(s)", table.table, table.rows));
        }
        reports.push(report.finish(started));
    }
    if dry_run {
        if let Some(first) = reports.first_mut() {
            first.notes.push("dry run: nothing was changed".into());
        }
    } else {
        crate::sources::smb::forget_apartment(lake, &subject.apartment).await?;
    }
    Ok(reports)
}

/// Which rows of a table with `schema` are the subject's, and what leaves: its rows, or the
/// house name of its building in a reference snapshot; `None` for a table that holds neither.
fn predicate(subject: &Subject, houses: &[HouseEntry], schema: &Schema) -> Option<(Expr, Change)> {
    if let Some(column) = ApartmentColumn::of(schema) {
        return Some((subject.predicate(column), Change::Delete));
    }
    let house = schema
        .fields()
        .iter()
        .find(|f| f.name().eq_ignore_ascii_case(HOUSE_NAME))?;
    if houses.is_empty() {
        return None;
    }
    // Compared by digest: the erasure's Delta commit records its predicate, and the house name
    // is usually the residents' names.
    let value = lower(btrim(vec![Expr::Column(Column::new_unqualified(
        house.name(),
    ))]));
    let digest = encode(sha256(value), lit("hex"));
    let digests = houses
        .iter()
        .map(|h| lit(hex::encode(Sha256::digest(h.house.to_lowercase()))))
        .collect();
    Some((
        digest.in_list(digests, false),
        Change::Blank(house.name().clone()),
    ))
}

fn table_report(erased: &Erased, dry_run: bool) -> StepReport {
    let mut report = StepReport::new(format!("erase {}", erased.table));
    report.rows = erased.rows;
    report.files = erased.files.len() as u64;
    report.bytes = erased.bytes;
    report.count("log_files_removed", erased.logs_removed as u64);
    if let Some(version) = erased.version {
        report.notes.push(format!(
            "committed as version {version}; {} data file(s) that held its rows deleted",
            erased.files.len()
        ));
    } else if !dry_run {
        report.notes.push(format!(
            "{} older data file(s) that held its rows deleted",
            erased.files.len()
        ));
    }
    report
}

/// Delete the apartment's files kept beside `landing.sensor_files`: (files, bytes).
async fn erase_large_files(
    lake: &Lake,
    lease: &WriterLease,
    apartment: &str,
    dry_run: bool,
) -> Result<(u64, u64)> {
    let prefix = lake.path(&format!("{LARGE_ROOT}/{apartment}"));
    let store = lake.root_store();
    let files: Vec<_> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(crate::lake::LakeError::from)?;
    let bytes = files.iter().map(|f| f.size).sum();
    if !dry_run && !files.is_empty() {
        lease.check().await?;
        for file in &files {
            store
                .delete(&file.location)
                .await
                .map_err(crate::lake::LakeError::from)?;
        }
        if let Some(root) = lake.local_root() {
            let _ = std::fs::remove_dir_all(root.join(LARGE_ROOT).join(apartment));
        }
    }
    Ok((files.len() as u64, bytes))
}
