//! Sets of table partitions (values of the partition columns): what an incremental run
//! recomputes, and the filter that selects them.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Int32Type};
use datafusion::logical_expr::Expr;

use crate::lake::{PartitionValue, partition_filter};

/// Distinct partitions, each the values of the partition columns in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionSet {
    keys: BTreeSet<Vec<PartitionValue>>,
}

impl PartitionSet {
    pub fn insert(&mut self, key: Vec<PartitionValue>) {
        self.keys.insert(key);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn contains(&self, key: &[PartitionValue]) -> bool {
        self.keys.contains(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &[PartitionValue]> {
        self.keys.iter().map(Vec::as_slice)
    }

    /// Collect the distinct values of the `columns` of `batches` (text or date columns).
    pub fn from_batches(batches: &[RecordBatch], columns: &[Field]) -> Self {
        let mut set = Self::default();
        for batch in batches {
            // Partition columns may arrive dictionary-encoded or as views: normalise first.
            let arrays: Vec<_> = columns
                .iter()
                .map(|f| {
                    let column = batch
                        .column_by_name(f.name())
                        .expect("partition column selected");
                    let target = match f.data_type() {
                        DataType::Date32 | DataType::Int32 => f.data_type().clone(),
                        _ => DataType::Utf8,
                    };
                    cast(column, &target).expect("partition column casts")
                })
                .collect();
            for row in 0..batch.num_rows() {
                let key: Option<Vec<PartitionValue>> = arrays
                    .iter()
                    .map(|a| {
                        a.is_valid(row).then(|| match a.data_type() {
                            DataType::Date32 => PartitionValue::Date(
                                Date32Type::to_naive_date_opt(
                                    a.as_primitive::<Date32Type>().value(row),
                                )
                                .expect("a date in range"),
                            ),
                            DataType::Int32 => {
                                PartitionValue::Int(a.as_primitive::<Int32Type>().value(row))
                            }
                            _ => PartitionValue::Text(a.as_string::<i32>().value(row).to_string()),
                        })
                    })
                    .collect();
                if let Some(key) = key {
                    set.insert(key);
                }
            }
        }
        set
    }

    /// Split into sets of at most `size` partitions, in order.
    pub fn chunks(&self, size: usize) -> Vec<PartitionSet> {
        let keys: Vec<_> = self.keys.iter().cloned().collect();
        keys.chunks(size.max(1))
            .map(|chunk| PartitionSet {
                keys: chunk.iter().cloned().collect(),
            })
            .collect()
    }

    /// The partitions of `self` that `other` lacks.
    pub fn difference(&self, other: &PartitionSet) -> PartitionSet {
        PartitionSet {
            keys: self.keys.difference(&other.keys).cloned().collect(),
        }
    }

    /// A filter over the partition `columns` selecting exactly these partitions.
    pub fn filter(&self, columns: &[String]) -> Expr {
        partition_filter(columns, self.iter())
    }
}

/// Runs of consecutive dates, as (first, last), in order.
pub fn date_runs(dates: &BTreeSet<NaiveDate>) -> Vec<(NaiveDate, NaiveDate)> {
    let mut runs: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &date in dates {
        match runs.last_mut() {
            Some((_, last)) if last.succ_opt() == Some(date) => *last = date,
            _ => runs.push((date, date)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(apartment: &str, day: u32) -> Vec<PartitionValue> {
        vec![
            PartitionValue::Text(apartment.into()),
            PartitionValue::Date(NaiveDate::from_ymd_opt(2023, 8, day).unwrap()),
        ]
    }

    #[test]
    fn contiguous_runs_of_dates() {
        let d = |day| NaiveDate::from_ymd_opt(2023, 8, day).unwrap();
        let dates: BTreeSet<_> = [d(1), d(2), d(3), d(7), d(9), d(10)].into_iter().collect();
        assert_eq!(
            date_runs(&dates),
            vec![(d(1), d(3)), (d(7), d(7)), (d(9), d(10))]
        );
    }

    #[test]
    fn chunks_and_differences() {
        let mut set = PartitionSet::default();
        for day in 1..=5 {
            set.insert(key("a", day));
            set.insert(key("b", day));
        }
        let chunks = set.chunks(4);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.iter().map(PartitionSet::len).sum::<usize>(), 10);
        assert!(chunks[1].contains(&key("a", 5)) && chunks[1].contains(&key("b", 3)));
        let mut fewer = PartitionSet::default();
        fewer.insert(key("a", 1));
        assert_eq!(fewer.difference(&set).len(), 0);
        assert_eq!(set.difference(&fewer).len(), 9);
    }
}
