//! Retention by day for any lake table partitioned by a day: a DATE partition column (`date`,
//! `prediction_date`, …) or gold's INT `date_key` (YYYYMMDD). The partitions older than a cut-off
//! go in one Delta commit that rewrites nothing (their files stay until `vacuum`), marked as
//! retention so the tables built from this one keep their own copy (see `log::Retention`).
//! Tables without a day partition (reference snapshots, dimensions) are never touched.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{Expr, lit};

use super::table::partition_columns;
use super::{Lake, LakeError, Result, TableRef, WriterLease};

/// What retention removed from a table (or would remove, in a dry run).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expired {
    pub partitions: u64,
    pub files: u64,
    pub bytes: u64,
}

/// How a table's partitions name their day.
#[derive(Debug, Clone, PartialEq)]
enum DayColumn {
    /// A DATE column, written `YYYY-MM-DD` in partition values.
    Date(String),
    /// An INT `date_key`, `YYYYMMDD`.
    Key(String),
}

impl DayColumn {
    fn name(&self) -> &str {
        match self {
            DayColumn::Date(name) | DayColumn::Key(name) => name,
        }
    }

    fn day(&self, value: &str) -> Option<NaiveDate> {
        match self {
            DayColumn::Date(_) => NaiveDate::parse_from_str(value, "%Y-%m-%d").ok(),
            DayColumn::Key(_) => NaiveDate::parse_from_str(value, "%Y%m%d").ok(),
        }
    }

    /// `column < before`, on the partition column.
    fn older_than(&self, before: NaiveDate) -> Expr {
        let column = Expr::Column(Column::from_name(self.name()));
        let bound = match self {
            DayColumn::Date(_) => {
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
                ScalarValue::Date32(Some((before - epoch).num_days() as i32))
            }
            DayColumn::Key(_) => {
                let key: i32 = before.format("%Y%m%d").to_string().parse().expect("digits");
                ScalarValue::Int32(Some(key))
            }
        };
        column.lt(lit(bound))
    }
}

/// Remove the day partitions of `table` before `before`; `None`: the table does not exist or
/// has no day partition.
pub async fn expire_days(
    lake: &Lake,
    lease: &WriterLease,
    table: &TableRef,
    before: NaiveDate,
    dry_run: bool,
) -> Result<Option<Expired>> {
    let name = table.to_string();
    let Some(delta) = lake.open_table(table).await? else {
        return Ok(None);
    };
    let files = delta
        .snapshot()
        .and_then(|s| s.add_actions_table(true))
        .map_err(|e| LakeError::delta(name.clone(), e))?;
    let text = |column: &str| {
        files
            .column_by_name(&format!("partition.{column}"))
            .and_then(|c| cast(c, &DataType::Utf8).ok())
    };
    let columns = partition_columns(&delta);
    let Some((day, values)) = columns.iter().find_map(|column| {
        let values = text(column)?;
        let candidate = if column == "date_key" {
            DayColumn::Key(column.clone())
        } else {
            DayColumn::Date(column.clone())
        };
        let strings = values.as_string::<i32>();
        let all_days = (0..strings.len())
            .all(|i| strings.is_null(i) || candidate.day(strings.value(i)).is_some());
        (all_days && !strings.is_empty()).then_some((candidate, values))
    }) else {
        return Ok(None);
    };
    let sizes = files
        .column_by_name("size_bytes")
        .and_then(|c| cast(c, &DataType::Int64).ok());
    let keys: Vec<_> = columns.iter().filter_map(|c| text(c)).collect();
    let (values, mut expired, mut partitions) = (
        values.as_string::<i32>(),
        Expired::default(),
        BTreeSet::new(),
    );
    for row in 0..values.len() {
        let old = !values.is_null(row) && day.day(values.value(row)).is_some_and(|d| d < before);
        if !old {
            continue;
        }
        expired.files += 1;
        expired.bytes += sizes.as_ref().map_or(0, |s| {
            s.as_primitive::<Int64Type>().value(row).max(0) as u64
        });
        let key: Vec<String> = keys
            .iter()
            .map(|k| k.as_string::<i32>().value(row).to_string())
            .collect();
        partitions.insert(key);
    }
    expired.partitions = partitions.len() as u64;
    if !dry_run && expired.files > 0 {
        lease.check().await?;
        lake.expire_where(table, day.older_than(before)).await?;
    }
    Ok(Some(expired))
}
