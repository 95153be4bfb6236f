//! Table partitions: the value of a partition column, sets of partitions (what an incremental
//! run recomputes), the filter that selects them, and the partitions of a table or of the files
//! a commit range changed (read from the Delta log, no data scanned).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Int32Type};
use datafusion::logical_expr::Expr;
use deltalake::DeltaTable;

use super::{AddedFile, LakeError, Result};

/// Partition column values as the Delta writer takes them.
pub(super) type PartitionValues = indexmap::IndexMap<String, delta_kernel::expressions::Scalar>;

/// The value of one partition column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartitionValue {
    Text(String),
    Date(chrono::NaiveDate),
    /// An INT key such as gold's `date_key`.
    Int(i32),
}

impl PartitionValue {
    /// The value as a DataFusion literal.
    pub fn scalar_value(&self) -> datafusion::common::ScalarValue {
        use datafusion::common::ScalarValue;
        match self {
            PartitionValue::Text(text) => ScalarValue::Utf8(Some(text.clone())),
            PartitionValue::Date(date) => {
                ScalarValue::Date32(Some(Date32Type::from_naive_date(*date)))
            }
            PartitionValue::Int(value) => ScalarValue::Int32(Some(*value)),
        }
    }

    pub(super) fn scalar(&self) -> delta_kernel::expressions::Scalar {
        use delta_kernel::expressions::Scalar;
        match self {
            PartitionValue::Text(text) => Scalar::String(text.clone()),
            PartitionValue::Date(date) => Scalar::Date(Date32Type::from_naive_date(*date)),
            PartitionValue::Int(value) => Scalar::Integer(*value),
        }
    }
}

/// A filter selecting exactly the distinct partitions in `keys` (`false` when there are none):
/// per distinct value of the leading columns, `c1 = v1 AND ... AND last IN (values)`, ORed.
/// Grouping matters: the filter runs on every row of a chunk (twice, with replaceWhere's
/// validation), and an OR of one conjunction per partition costs one comparison per partition.
pub fn partition_filter<'a>(
    columns: &[String],
    keys: impl IntoIterator<Item = &'a [PartitionValue]>,
) -> Expr {
    use datafusion::logical_expr::{col, lit};
    let mut groups: std::collections::BTreeMap<
        &[PartitionValue],
        std::collections::BTreeSet<&PartitionValue>,
    > = Default::default();
    let mut any_key = false;
    for key in keys {
        any_key = true;
        if let Some((value, prefix)) = key.split_last() {
            groups.entry(prefix).or_default().insert(value);
        }
    }
    let Some((last, leading)) = columns.split_last() else {
        return lit(any_key);
    };
    groups
        .into_iter()
        .map(|(prefix, values)| {
            let mut values: Vec<Expr> = values.into_iter().map(|v| lit(v.scalar_value())).collect();
            let last = if values.len() == 1 {
                col(last.as_str()).eq(values.remove(0))
            } else {
                col(last.as_str()).in_list(values, false)
            };
            leading
                .iter()
                .zip(prefix)
                .map(|(c, v)| col(c.as_str()).eq(lit(v.scalar_value())))
                .fold(last, |all, term| term.and(all))
        })
        .reduce(Expr::or)
        .unwrap_or(lit(false))
}

/// Rows that all belong to one partition: the values of the partition columns, in order. The
/// batch may leave the partition columns out (their values are `values`).
#[derive(Debug, Clone)]
pub struct PartitionBatch {
    pub values: Vec<PartitionValue>,
    pub batch: RecordBatch,
}

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

/// The partitions of added files, read from their Delta partition values (no data scanned).
pub fn partitions_of_files(files: &[AddedFile], fields: &[Field]) -> PartitionSet {
    let mut set = PartitionSet::default();
    for file in files {
        let key: Option<Vec<_>> = fields
            .iter()
            .map(|f| {
                let text = file.partition_values.get(f.name())?.as_deref()?;
                parse_partition_value(text, f)
            })
            .collect();
        if let Some(key) = key {
            set.insert(key);
        }
    }
    set
}

/// Every partition of a table, from the partition values of its live files.
pub fn partitions_of_table(table: &DeltaTable, fields: &[Field]) -> Result<PartitionSet> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::DataType;
    let name = table.table_url().to_string();
    let files = table
        .snapshot()
        .and_then(|s| s.add_actions_table(true))
        .map_err(|e| LakeError::delta(name, e))?;
    let columns: Vec<_> = fields
        .iter()
        .map(|f| {
            let column = files
                .column_by_name(&format!("partition.{}", f.name()))
                .map(|c| cast(c, &DataType::Utf8))
                .transpose()?;
            Ok::<_, datafusion::arrow::error::ArrowError>(column)
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(LakeError::from)?;
    let mut set = PartitionSet::default();
    for row in 0..files.num_rows() {
        let key: Option<Vec<_>> = fields
            .iter()
            .zip(&columns)
            .map(|(f, c)| {
                let c = c.as_ref()?.as_string::<i32>();
                c.is_valid(row)
                    .then(|| parse_partition_value(c.value(row), f))
                    .flatten()
            })
            .collect();
        if let Some(key) = key {
            set.insert(key);
        }
    }
    Ok(set)
}

fn parse_partition_value(text: &str, field: &Field) -> Option<PartitionValue> {
    use PartitionValue;
    match field.data_type() {
        datafusion::arrow::datatypes::DataType::Date32 => {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(PartitionValue::Date)
        }
        datafusion::arrow::datatypes::DataType::Int32 => text.parse().ok().map(PartitionValue::Int),
        _ => Some(PartitionValue::Text(text.to_string())),
    }
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
