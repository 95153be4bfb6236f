//! `silver.sensor_events` from `bronze.sensor_readings` by `queries/silver/sensor_events.sql`,
//! incrementally by (apartment, UTC date of ts) partition (see `incremental`).
//!
//! The output date is the UTC date of a reading's converted time, which need not be the date of
//! its bronze partition (the file's wall-clock date). So the touched partitions of new files are
//! computed from their rows with the same `sensor_time_utc` the SQL uses, and a recomputed date
//! reads the bronze rows whose wall-clock time lies within a day of it.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, col, lit};
use deltalake::DeltaTable;

use super::incremental::Derivation;
use super::{Result, functions};
use crate::catalog::queries::{QueryFile, SENSOR_EVENTS};
use crate::lake::partitions::{PartitionSet, date_runs};
use crate::lake::{AddedFile, LakeSession, PartitionValue, TableRef, table_reference};

/// Days of bronze wall-clock time read around a recomputed date (any zone offset fits).
const INPUT_MARGIN_DAYS: u64 = 1;

pub fn table() -> TableRef {
    TableRef::silver("sensor_events")
}

/// The derivation of `silver.sensor_events`.
pub struct SensorEvents {
    pub sensor_timezone: Tz,
}

#[async_trait]
impl Derivation for SensorEvents {
    fn input(&self) -> TableRef {
        crate::catalog::tables::sensor_readings()
    }
    fn output(&self) -> TableRef {
        table()
    }
    fn query(&self) -> QueryFile {
        SENSOR_EVENTS
    }
    fn partition_fields(&self) -> Vec<Field> {
        vec![
            Field::new("apartment", DataType::Utf8, false),
            Field::new("date", DataType::Date32, false),
        ]
    }
    fn unindexed_columns(&self) -> &'static [&'static str] {
        &["room", "sensor_type", "field", "unit", "source_file"]
    }

    async fn touched(
        &self,
        session: &LakeSession,
        input: &DeltaTable,
        files: Vec<AddedFile>,
    ) -> Result<PartitionSet> {
        let provider = input
            .table_provider()
            .with_file_paths(files.into_iter().map(|f| f.path))
            .await?;
        self.partitions_of_rows(session.ctx().read_table(provider)?)
            .await
    }

    /// From the Delta file statistics of bronze (no data scanned): per data file, every UTC
    /// date between its earliest and latest wall-clock time. Files without statistics fall
    /// back to a scan.
    async fn all(&self, session: &LakeSession, input: &DeltaTable) -> Result<PartitionSet> {
        match partitions_from_statistics(input, self.sensor_timezone) {
            Some(partitions) => Ok(partitions),
            None => {
                self.partitions_of_rows(session.ctx().table(table_reference(&self.input())).await?)
                    .await
            }
        }
    }

    /// Per apartment, the bronze rows whose wall-clock time (payload, else file name) lies
    /// within a day of each run of recomputed dates.
    fn input_filter(&self, chunk: &PartitionSet) -> Option<Expr> {
        let mut dates: BTreeMap<&str, BTreeSet<NaiveDate>> = BTreeMap::new();
        for key in chunk.iter() {
            if let [PartitionValue::Text(apartment), PartitionValue::Date(date)] = key {
                dates.entry(apartment.as_str()).or_default().insert(*date);
            }
        }
        let per_apartment = dates.into_iter().map(|(apartment, dates)| {
            let windows = date_runs(&dates).into_iter().map(|(first, last)| {
                let low = timestamp_literal(
                    first
                        .checked_sub_days(Days::new(INPUT_MARGIN_DAYS))
                        .expect("date in range"),
                );
                let high = timestamp_literal(
                    last.checked_add_days(Days::new(INPUT_MARGIN_DAYS + 1))
                        .expect("date in range"),
                );
                let within = |c: &str| col(c).gt_eq(low.clone()).and(col(c).lt(high.clone()));
                within("payload_ts").or(col("payload_ts").is_null().and(within("file_ts")))
            });
            col("apartment")
                .eq(lit(apartment))
                .and(windows.reduce(Expr::or).unwrap_or(lit(false)))
        });
        Some(per_apartment.reduce(Expr::or).unwrap_or(lit(false)))
    }
}

impl SensorEvents {
    /// The (apartment, date) partitions of the rows of `df` (bronze readings).
    async fn partitions_of_rows(
        &self,
        df: datafusion::dataframe::DataFrame,
    ) -> Result<PartitionSet> {
        use datafusion::functions::expr_fn::coalesce;
        let ts = functions::sensor_time_utc()
            .call(vec![coalesce(vec![col("payload_ts"), col("file_ts")])]);
        let date = functions::utc_date().call(vec![ts]).alias("date");
        let batches = df
            .select(vec![col("apartment"), date])?
            .distinct()?
            .collect()
            .await?;
        Ok(PartitionSet::from_batches(
            &batches,
            &self.partition_fields(),
        ))
    }
}

fn partitions_from_statistics(bronze: &DeltaTable, tz: Tz) -> Option<PartitionSet> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::Int64Type;
    let files = bronze.snapshot().ok()?.add_actions_table(true).ok()?;
    let column = |name: &str| cast(files.column_by_name(name)?, &DataType::Int64).ok();
    let apartments = cast(
        files.column_by_name("partition.apartment")?,
        &DataType::Utf8,
    )
    .ok()?;
    let apartments = apartments.as_string::<i32>();
    let bounds = [
        column("min.payload_ts")?,
        column("max.payload_ts")?,
        column("min.file_ts")?,
        column("max.file_ts")?,
    ];
    let bounds: Vec<_> = bounds
        .iter()
        .map(|b| b.as_primitive::<Int64Type>())
        .collect();
    // Local-to-UTC conversion is monotonic but for the DST gap hour; an hour of margin on each
    // side covers it (UTC needs none).
    let hour = if tz == Tz::UTC { 0 } else { 3_600_000_000i64 };
    let mut set = PartitionSet::default();
    for row in 0..files.num_rows() {
        let values: Vec<i64> = bounds
            .iter()
            .filter(|b| b.is_valid(row))
            .map(|b| b.value(row))
            .collect();
        // file_ts is never null, so a file with rows has at least its two bounds.
        if values.len() < 2 || !apartments.is_valid(row) {
            return None;
        }
        let (low, high) = (values.iter().min()?, values.iter().max()?);
        let low = functions::local_to_utc_micros(&tz, low - hour)?;
        let high = functions::local_to_utc_micros(&tz, high + hour)?;
        let mut day = chrono::DateTime::from_timestamp_micros(low)?.date_naive();
        let last = chrono::DateTime::from_timestamp_micros(high)?.date_naive();
        while day <= last {
            set.insert(vec![
                PartitionValue::Text(apartments.value(row).to_string()),
                PartitionValue::Date(day),
            ]);
            day = day.succ_opt()?;
        }
    }
    Some(set)
}

fn timestamp_literal(date: NaiveDate) -> Expr {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight");
    lit(ScalarValue::TimestampMicrosecond(
        Some(midnight.and_utc().timestamp_micros()),
        None,
    ))
}
