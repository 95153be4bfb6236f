//! `datacycle status`: is the lake healthy? Freshness of every source and layer against ok/warn/
//! fail thresholds, figures of every table (rows, files, small files, Delta log, checkpoint), the
//! last run of every step, the lease holder and the lake's size. The worst level is the exit code
//! (0 ok, 1 warn, 2 fail), so Nagios, systemd and cron can act on it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType};
use serde::Serialize;

use crate::catalog::keys;
use crate::error::Result;
use crate::lake::landing::sensor_table;
use crate::lake::stats::{TableStats, column_max, lake_bytes, table_stats};
use crate::lake::{Lake, LakeSession, LeaseHolder, TableRef, current_holder, runs};

/// How old (minutes) something may be before it is a warning or a failure.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Thresholds {
    /// Newest landed sensor minute of an apartment, against now.
    pub sensors_warn: f64,
    pub sensors_fail: f64,
    /// Newest forecast issue date (its midnight), against now.
    pub weather_warn: f64,
    pub weather_fail: f64,
    /// A layer behind the one it is built from (silver behind landing, gold behind silver).
    pub layer_warn: f64,
    pub layer_fail: f64,
    /// The last successful publish, against now (only once the lake was published).
    pub publish_warn: f64,
    pub publish_fail: f64,
}

/// How an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    /// The exit code of a status at this level.
    pub fn exit_code(self) -> i32 {
        self as i32
    }

    fn of(age_minutes: f64, warn: f64, fail: f64) -> Self {
        if age_minutes > fail {
            Self::Fail
        } else if age_minutes > warn {
            Self::Warn
        } else {
            Self::Ok
        }
    }
}

/// One checked item.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub item: String,
    pub level: Level,
    /// The newest time the item has (UTC), when it has one.
    pub newest: Option<DateTime<Utc>>,
    /// Minutes behind now, or behind the layer it is built from.
    pub lag_minutes: Option<f64>,
    pub message: String,
}

/// The last run of one step.
#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    pub command: String,
    pub step: String,
    pub started_at: Option<DateTime<Utc>>,
    pub seconds: f64,
    pub outcome: String,
    pub error: Option<String>,
}

/// Everything `status` reports (the shape of `--format json`, documented in docs/operations.md).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub checked_at: DateTime<Utc>,
    pub level: Level,
    pub checks: Vec<Check>,
    pub tables: Vec<TableStats>,
    pub last_runs: Vec<LastRun>,
    pub lease: Option<LeaseHolder>,
    pub lake_bytes: u64,
}

/// The status of the lake of `session` at `now`.
pub async fn status(
    session: &LakeSession,
    now: DateTime<Utc>,
    limits: &Thresholds,
) -> Result<Status> {
    let lake = session.lake();
    let mut checks = Vec::new();
    let landed = sensor_freshness(lake, now, limits, &mut checks).await?;
    weather_freshness(lake, now, limits, &mut checks).await?;
    let silver = layer_freshness(
        lake,
        &TableRef::silver("sensor_events"),
        "ts",
        landed,
        limits,
        &mut checks,
    )
    .await?;
    layer_freshness(
        lake,
        &TableRef::gold("fact_energy_minute"),
        "datetime_key",
        silver,
        limits,
        &mut checks,
    )
    .await?;
    let last_runs = last_runs(session).await?;
    publish_freshness(&last_runs, now, limits, &mut checks);
    for run in last_runs.iter().filter(|r| r.outcome == "failed") {
        checks.push(Check {
            item: format!("run {}: {}", run.command, run.step),
            level: Level::Warn,
            newest: run.started_at,
            lag_minutes: None,
            message: format!("failed: {}", run.error.as_deref().unwrap_or("(no message)")),
        });
    }
    let mut tables = Vec::new();
    for table in lake.list_tables().await?.into_iter().chain([runs::table()]) {
        if let Some(delta) = lake.open_table(&table).await? {
            tables.push(table_stats(lake, &table, &delta).await?);
        }
    }
    let level = checks.iter().map(|c| c.level).max().unwrap_or(Level::Ok);
    Ok(Status {
        checked_at: now,
        level,
        checks,
        tables,
        last_runs,
        lease: current_holder(lake).await?,
        lake_bytes: lake_bytes(lake).await?,
    })
}

fn minutes_between(newer: DateTime<Utc>, older: DateTime<Utc>) -> f64 {
    (newer - older).num_seconds() as f64 / 60.0
}

fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(time, Utc)
}

/// One check per apartment: its newest landed minute. Returns the newest of all.
async fn sensor_freshness(
    lake: &Lake,
    now: DateTime<Utc>,
    limits: &Thresholds,
    checks: &mut Vec<Check>,
) -> Result<Option<DateTime<Utc>>> {
    let Some(delta) = lake.open_table(&sensor_table::table()).await? else {
        checks.push(missing("sensors", "nothing landed yet"));
        return Ok(None);
    };
    let newest: BTreeMap<String, NaiveDateTime> =
        sensor_table::newest_minutes(&delta)?.into_iter().collect();
    for (apartment, minute) in &newest {
        let age = minutes_between(now, utc(*minute));
        checks.push(Check {
            item: format!("sensors {apartment}"),
            level: Level::of(age, limits.sensors_warn, limits.sensors_fail),
            newest: Some(utc(*minute)),
            lag_minutes: Some(age),
            message: format!("newest landed file {age:.0} min ago"),
        });
    }
    Ok(newest.values().max().map(|m| utc(*m)))
}

/// A source or layer without data: a failure (nothing to serve).
fn missing(item: &str, message: &str) -> Check {
    Check {
        item: item.into(),
        level: Level::Fail,
        newest: None,
        lag_minutes: None,
        message: message.into(),
    }
}

async fn weather_freshness(
    lake: &Lake,
    now: DateTime<Utc>,
    limits: &Thresholds,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let table = crate::catalog::tables::weather_rows();
    let Some(delta) = lake.open_table(&table).await? else {
        checks.push(missing("weather", "no forecast in bronze yet"));
        return Ok(());
    };
    let field =
        datafusion::arrow::datatypes::Field::new("prediction_date", DataType::Date32, false);
    let newest = crate::lake::partitions::partitions_of_table(&delta, &[field])?
        .iter()
        .filter_map(|key| match key {
            [crate::lake::PartitionValue::Date(d)] => Some(*d),
            _ => None,
        })
        .max();
    let Some(issued) = newest else {
        checks.push(missing("weather", "no forecast in bronze yet"));
        return Ok(());
    };
    let issued = utc(issued.and_hms_opt(0, 0, 0).expect("midnight"));
    let age = minutes_between(now, issued);
    checks.push(Check {
        item: "weather".into(),
        level: Level::of(age, limits.weather_warn, limits.weather_fail),
        newest: Some(issued),
        lag_minutes: Some(age),
        message: format!("newest forecast issued {}", issued.date_naive()),
    });
    Ok(())
}

/// `table`'s newest time (column `column`: a timestamp, or a `YYYYMMDDHHMM` key) against the
/// newest of the layer it is built from. Returns its newest time.
async fn layer_freshness(
    lake: &Lake,
    table: &TableRef,
    column: &str,
    upstream: Option<DateTime<Utc>>,
    limits: &Thresholds,
    checks: &mut Vec<Check>,
) -> Result<Option<DateTime<Utc>>> {
    let item = table.to_string();
    let newest = match lake.open_table(table).await? {
        Some(delta) => column_max(&delta, column)?.and_then(|v| {
            if column == "datetime_key" {
                keys::key_to_datetime(v).map(utc)
            } else {
                DateTime::from_timestamp_micros(v)
            }
        }),
        None => None,
    };
    match (newest, upstream) {
        (Some(newest), Some(upstream)) => {
            let lag = minutes_between(upstream, newest).max(0.0);
            checks.push(Check {
                item,
                level: Level::of(lag, limits.layer_warn, limits.layer_fail),
                newest: Some(newest),
                lag_minutes: Some(lag),
                message: format!("{lag:.0} min behind the layer it is built from"),
            });
        }
        (None, Some(_)) => checks.push(missing(&item, "not built yet")),
        (_, None) => {}
    }
    Ok(newest)
}

fn publish_freshness(
    runs: &[LastRun],
    now: DateTime<Utc>,
    limits: &Thresholds,
    checks: &mut Vec<Check>,
) {
    let published = runs
        .iter()
        .filter(|r| r.step.starts_with("publish") && r.outcome != "failed")
        .filter_map(|r| r.started_at)
        .max();
    if let Some(at) = published {
        let age = minutes_between(now, at);
        checks.push(Check {
            item: "publish".into(),
            level: Level::of(age, limits.publish_warn, limits.publish_fail),
            newest: Some(at),
            lag_minutes: Some(age),
            message: format!("last successful publish {age:.0} min ago"),
        });
    }
}

/// The latest run of every (command, step) in `_ops.runs`.
async fn last_runs(session: &LakeSession) -> Result<Vec<LastRun>> {
    // Registered by `LakeSession::with_runs` when the table exists.
    if session.registered(&runs::table()).is_none() {
        return Ok(Vec::new());
    }
    let batches =
        crate::transform::collect_query(session, &crate::catalog::queries::LAST_RUNS).await?;
    let mut out = Vec::new();
    let arrow = datafusion::error::DataFusionError::from;
    for batch in &batches {
        let text = |i: usize| cast(batch.column(i), &DataType::Utf8).map_err(arrow);
        let (command, step, outcome, error) = (text(0)?, text(1)?, text(4)?, text(5)?);
        let started = cast(
            batch.column(2),
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )
        .map_err(arrow)?;
        let started = started.as_primitive::<TimestampMicrosecondType>();
        let seconds = cast(batch.column(3), &DataType::Float64).map_err(arrow)?;
        let seconds = seconds.as_primitive::<Float64Type>();
        for row in 0..batch.num_rows() {
            let value = |a: &dyn Array, row: usize| {
                a.is_valid(row)
                    .then(|| a.as_string::<i32>().value(row).to_string())
            };
            out.push(LastRun {
                command: value(command.as_ref(), row).unwrap_or_default(),
                step: value(step.as_ref(), row).unwrap_or_default(),
                started_at: DateTime::from_timestamp_micros(started.value(row)),
                seconds: seconds.value(row),
                outcome: value(outcome.as_ref(), row).unwrap_or_default(),
                error: value(error.as_ref(), row),
            });
        }
    }
    Ok(out)
}
