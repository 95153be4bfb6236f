//! The gold star schema (`queries/gold/`), built in the order of `catalog::tables::GOLD`.
//!
//! Two kinds of table:
//! - **Whole** tables (dimensions, `weather_best_forecast`) are small: computed when their
//!   inputs changed and written only when their content changed (see `whole`).
//! - **Daily** facts are partitioned by day (`date_key`, or `prediction_date` for forecasts) and
//!   derived incrementally from one silver table with [`incremental::build`]: the days whose
//!   silver partitions changed are recomputed and overwritten. A fact that looks at neighbouring
//!   days (energy looks one day back for a device's previous reading, device health at the days
//!   around for the edges of the observed window) reads those days too, and a changed day also
//!   recomputes the days that look at it. The application id carries a fingerprint of the query,
//!   the reference data and the other inputs: when one of them changes, everything is
//!   recomputed. Consecutive facts that read none of each other (`tables::gold_stages`) are
//!   built a few at a time in an incremental build.
//!
//! Surrogate keys come from `surrogate_key(natural key)` (see `keys`), so facts never join a
//! dimension to find a key and a member's key never changes.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{NaiveDate, TimeDelta};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::logical_expr::{Expr, col, lit};
use deltalake::DeltaTable;
use futures::{StreamExt, TryStreamExt, stream};
use sha2::{Digest, Sha256};

mod whole;

use super::incremental::{self, Derivation};
use super::{Result, TransformError};
use crate::catalog::keys;
use crate::catalog::queries::{self as q, QueryFile};
use crate::catalog::reference::REFERENCES;
use crate::catalog::tables::{Daily, GOLD, GoldTable, Kind, Partition, gold_stages};
use crate::config::Settings;
use crate::lake::partitions::{PartitionSet, date_runs, partitions_of_files, partitions_of_table};
use crate::lake::{
    AddedFile, LakeError, LakeSession, PartitionValue, Retention, TableRef, WriterLease,
    changed_files_since, table_digest,
};
use crate::ops::report::StepReport;
use whole::WholeTables;

/// How many tables of a stage an incremental build computes at once: a tick's tables are small
/// and spend much of their time waiting on the store (log reads, commits), which overlaps. A
/// full build computes one at a time, so that its memory stays that of the largest table.
const TABLES_AT_ONCE: usize = 4;

/// Bring every gold table up to date (`full`: recompute every day of every fact).
pub async fn build(
    session: &LakeSession,
    settings: &Settings,
    lease: &WriterLease,
    full: bool,
) -> Result<Vec<StepReport>> {
    create_missing_inputs(session).await?;
    let context = context_fingerprint(session).await?;
    let whole = WholeTables::load(session, settings, &context).await?;
    let mut reports = Vec::with_capacity(GOLD.len());
    let build = GoldBuild {
        session,
        settings,
        lease,
        whole: &whole,
        context: &context,
        full,
    };
    let at_once = if full { 1 } else { TABLES_AT_ONCE };
    for stage in gold_stages() {
        lease.check().await?;
        let tables = stage.iter().map(|table| build.table(table));
        let built: Vec<StepReport> = stream::iter(tables).buffered(at_once).try_collect().await?;
        reports.extend(built);
    }
    whole.save(session.lake()).await?;
    Ok(reports)
}

/// What every table of one gold build shares.
struct GoldBuild<'a> {
    session: &'a LakeSession,
    settings: &'a Settings,
    lease: &'a WriterLease,
    whole: &'a WholeTables,
    context: &'a str,
    full: bool,
}

impl GoldBuild<'_> {
    /// Bring one table up to date; a failure names it.
    async fn table(&self, table: &GoldTable) -> Result<StepReport> {
        let (session, lease, full) = (self.session, self.lease, self.full);
        match table.kind {
            Kind::Whole(_) => self
                .whole
                .build(session, lease, table, full)
                .await
                .map_err(|e| e.building(table.table())),
            Kind::Daily(daily) => {
                let fact = DailyFact::new(session, table, daily, self.context)
                    .await
                    .map_err(|e| e.building(table.table()))?;
                incremental::build(&fact, session, self.settings, lease, full).await
            }
        }
    }
}

/// Register empty stand-ins for optional inputs the lake does not have (`gold/inputs.sql`).
async fn create_missing_inputs(session: &LakeSession) -> Result<()> {
    let error = |e| match e {
        LakeError::DataFusion(source) => TransformError::Query {
            path: q::GOLD_INPUTS.path.to_string(),
            source,
        },
        other => other.into(),
    };
    session
        .run_statements(q::GOLD_INPUTS.sql, |_| Ok(()))
        .await
        .map_err(error)
}

/// A digest of everything besides the input tables that fact rows depend on: the reference
/// tables (tariffs, sites, field maps, ...).
async fn context_fingerprint(session: &LakeSession) -> Result<String> {
    let mut parts = Vec::new();
    let names = REFERENCES
        .iter()
        .map(|r| r.name)
        .chain(["house_map", "weather_sites"]);
    for name in names {
        let digest = table_digest(session.ctx(), &format!("reference.{name}"), &[]).await?;
        parts.push(format!("{name}={}", digest.hash));
    }
    Ok(parts.join(","))
}

/// A daily fact as an incremental derivation.
struct DailyFact {
    table: GoldTable,
    daily: Daily,
    /// Query, reference data and `depends_on` versions: part of the application id.
    fingerprint: String,
}

impl DailyFact {
    async fn new(
        session: &LakeSession,
        table: &GoldTable,
        daily: Daily,
        context: &str,
    ) -> Result<Self> {
        let mut hash = Sha256::new()
            .chain_update(context.as_bytes())
            .chain_update(table.query.sql.as_bytes());
        for (layer, name) in daily.depends_on {
            let dependency = TableRef::new(*layer, *name);
            let version = session
                .current(&dependency)
                .await?
                .and_then(|t| t.version());
            hash.update(format!("{dependency}@{version:?}").as_bytes());
        }
        let digest = hash.finalize();
        Ok(Self {
            table: *table,
            daily,
            fingerprint: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    fn input_date_field(&self) -> Field {
        Field::new(self.daily.input_date, DataType::Date32, false)
    }

    fn output_value(&self, date: NaiveDate) -> PartitionValue {
        match self.daily.partition {
            Partition::DateKey => PartitionValue::Int(keys::date_key_of(date)),
            Partition::Date(_) => PartitionValue::Date(date),
        }
    }

    fn output_dates(&self, chunk: &PartitionSet) -> BTreeSet<NaiveDate> {
        chunk
            .iter()
            .filter_map(|key| match key {
                [PartitionValue::Int(key)] => keys::key_to_date(*key),
                [PartitionValue::Date(date)] => Some(*date),
                _ => None,
            })
            .collect()
    }

    fn input_dates(&self, set: &PartitionSet) -> BTreeSet<NaiveDate> {
        set.iter()
            .filter_map(|key| match key {
                [PartitionValue::Date(date)] => Some(*date),
                _ => None,
            })
            .collect()
    }

    fn to_output(&self, dates: impl IntoIterator<Item = NaiveDate>) -> PartitionSet {
        let mut set = PartitionSet::default();
        for date in dates {
            set.insert(vec![self.output_value(date)]);
        }
        set
    }
}

/// `day` moved by each of `offsets` days (the ones that stay within the calendar).
fn shifted(day: NaiveDate, offsets: impl Iterator<Item = i64>) -> impl Iterator<Item = NaiveDate> {
    offsets.filter_map(move |offset| day.checked_add_signed(TimeDelta::days(offset)))
}

#[async_trait]
impl Derivation for DailyFact {
    fn input(&self) -> TableRef {
        TableRef::new(self.daily.input.0, self.daily.input.1)
    }
    fn output(&self) -> TableRef {
        self.table.table()
    }
    fn query(&self) -> QueryFile {
        self.table.query
    }
    fn partition_fields(&self) -> Vec<Field> {
        vec![match self.daily.partition {
            Partition::DateKey => Field::new("date_key", DataType::Int32, false),
            Partition::Date(name) => Field::new(name, DataType::Date32, false),
        }]
    }
    fn app_id(&self) -> String {
        format!("{}.{}", self.output().app_id(), self.fingerprint)
    }
    async fn changes(&self, input: &DeltaTable, consumed: u64) -> Result<Option<Vec<AddedFile>>> {
        Ok(changed_files_since(input, consumed, Retention::Ignore).await?)
    }

    /// The days whose rows read a changed input day (the changed days shifted back by each
    /// context offset), among the days the input has.
    async fn touched(
        &self,
        _session: &LakeSession,
        input: &DeltaTable,
        files: Vec<AddedFile>,
    ) -> Result<PartitionSet> {
        let field = self.input_date_field();
        let changed = self.input_dates(&partitions_of_files(&files, std::slice::from_ref(&field)));
        let present = self.input_dates(&partitions_of_table(input, &[field])?);
        let dirty = changed
            .iter()
            .flat_map(|day| shifted(*day, self.daily.context_days.iter().map(|o| -o)));
        Ok(self.to_output(dirty.filter(|d| present.contains(d))))
    }

    async fn all(&self, _session: &LakeSession, input: &DeltaTable) -> Result<PartitionSet> {
        let dates = self.input_dates(&partitions_of_table(input, &[self.input_date_field()])?);
        Ok(self.to_output(dates))
    }

    /// The input days the chunk's days read (their context offsets), as date ranges.
    fn input_filter(&self, chunk: &PartitionSet) -> Option<Expr> {
        let days: BTreeSet<NaiveDate> = self
            .output_dates(chunk)
            .into_iter()
            .flat_map(|day| shifted(day, self.daily.context_days.iter().copied()))
            .collect();
        let date = |d: NaiveDate| lit(PartitionValue::Date(d).scalar_value());
        let windows = date_runs(&days).into_iter().map(|(first, last)| {
            let column = col(self.daily.input_date);
            column
                .clone()
                .gt_eq(date(first))
                .and(column.lt_eq(date(last)))
        });
        Some(windows.reduce(Expr::or).unwrap_or(lit(false)))
    }
}
