//! Sets of (apartment, date) partitions: what an incremental run recomputes, and the filters that
//! select them in its input and its output.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Date32Type;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, col, lit};

/// Dates per apartment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionSet(BTreeMap<String, BTreeSet<NaiveDate>>);

impl PartitionSet {
    pub fn insert(&mut self, apartment: &str, date: NaiveDate) {
        self.0
            .entry(apartment.to_string())
            .or_default()
            .insert(date);
    }

    pub fn len(&self) -> usize {
        self.0.values().map(BTreeSet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, apartment: &str, date: NaiveDate) -> bool {
        self.0.get(apartment).is_some_and(|d| d.contains(&date))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, NaiveDate)> {
        self.0
            .iter()
            .flat_map(|(a, dates)| dates.iter().map(move |d| (a.as_str(), *d)))
    }

    /// Collect from batches with columns `apartment` (text) and `date` (Date32).
    pub fn from_batches(batches: &[RecordBatch]) -> Self {
        let mut set = Self::default();
        use datafusion::arrow::compute::cast;
        use datafusion::arrow::datatypes::DataType;
        for batch in batches {
            // Partition columns may arrive dictionary-encoded or as views: normalise first.
            let apartments = cast(
                batch.column_by_name("apartment").expect("apartment column"),
                &DataType::Utf8,
            )
            .expect("apartment casts to text");
            let apartments = apartments.as_string::<i32>();
            let dates = cast(
                batch.column_by_name("date").expect("date column"),
                &DataType::Date32,
            )
            .expect("date casts to date");
            let dates = dates.as_primitive::<Date32Type>();
            for i in 0..batch.num_rows() {
                if apartments.is_valid(i) && dates.is_valid(i) {
                    let date = NaiveDate::from_num_days_from_ce_opt(dates.value(i) + 719_163)
                        .expect("valid date");
                    set.insert(apartments.value(i), date);
                }
            }
        }
        set
    }

    /// Split into sets of at most `size` partitions, in (apartment, date) order.
    pub fn chunks(&self, size: usize) -> Vec<PartitionSet> {
        let mut chunks: Vec<PartitionSet> = Vec::new();
        for (i, (apartment, date)) in self.iter().enumerate() {
            if i % size.max(1) == 0 {
                chunks.push(PartitionSet::default());
            }
            chunks.last_mut().expect("pushed").insert(apartment, date);
        }
        chunks
    }

    /// `(apartment = a AND date IN (...)) OR ...` over the partition columns of an output table.
    pub fn partition_filter(&self) -> Expr {
        self.0
            .iter()
            .map(|(apartment, dates)| {
                let dates: Vec<Expr> = dates.iter().map(|d| date_literal(*d)).collect();
                col("apartment")
                    .eq(lit(apartment.as_str()))
                    .and(col("date").in_list(dates, false))
            })
            .reduce(Expr::or)
            .unwrap_or(lit(false))
    }

    /// A filter on an input table's wall-clock columns that keeps every row whose converted time
    /// may fall on one of the dates: the local time `coalesce(local, fallback)` within
    /// `margin` days of each contiguous run of dates (wide enough for any zone offset).
    pub fn local_time_filter(&self, local: &str, fallback: &str, margin: u64) -> Expr {
        let mut terms = Vec::new();
        for (apartment, dates) in &self.0 {
            let windows: Vec<Expr> = contiguous_runs(dates)
                .into_iter()
                .map(|(first, last)| {
                    let low = timestamp_literal(
                        first
                            .checked_sub_days(Days::new(margin))
                            .expect("date in range"),
                    );
                    let high = timestamp_literal(
                        last.checked_add_days(Days::new(margin + 1))
                            .expect("date in range"),
                    );
                    let in_window =
                        |c: &str| col(c).gt_eq(low.clone()).and(col(c).lt(high.clone()));
                    in_window(local).or(col(local).is_null().and(in_window(fallback)))
                })
                .collect();
            let any_window = windows.into_iter().reduce(Expr::or).unwrap_or(lit(false));
            terms.push(col("apartment").eq(lit(apartment.as_str())).and(any_window));
        }
        terms.into_iter().reduce(Expr::or).unwrap_or(lit(false))
    }
}

fn contiguous_runs(dates: &BTreeSet<NaiveDate>) -> Vec<(NaiveDate, NaiveDate)> {
    let mut runs: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &date in dates {
        match runs.last_mut() {
            Some((_, last)) if last.succ_opt() == Some(date) => *last = date,
            _ => runs.push((date, date)),
        }
    }
    runs
}

pub fn date_literal(date: NaiveDate) -> Expr {
    let days = (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32;
    lit(ScalarValue::Date32(Some(days)))
}

fn timestamp_literal(date: NaiveDate) -> Expr {
    let midnight: NaiveDateTime = date.and_hms_opt(0, 0, 0).expect("midnight");
    lit(ScalarValue::TimestampMicrosecond(
        Some(midnight.and_utc().timestamp_micros()),
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, 8, day).unwrap()
    }

    #[test]
    fn runs_and_chunks() {
        let dates: BTreeSet<_> = [d(1), d(2), d(3), d(7), d(9), d(10)].into_iter().collect();
        assert_eq!(
            contiguous_runs(&dates),
            vec![(d(1), d(3)), (d(7), d(7)), (d(9), d(10))]
        );
        let mut set = PartitionSet::default();
        for day in 1..=5 {
            set.insert("a", d(day));
            set.insert("b", d(day));
        }
        let chunks = set.chunks(4);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.iter().map(PartitionSet::len).sum::<usize>(), 10);
        assert!(chunks[1].contains("a", d(5)) && chunks[1].contains("b", d(3)));
    }
}
