//! A feature table in memory: the rows of a training-set query of `queries/ml/` as a numeric
//! matrix, with one-hot apartment and room columns expanded from the key, and the chronological
//! train/test split.

use std::collections::BTreeSet;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType};

use super::{MlError, Result, Target};
use crate::lake::LakeSession;

/// Columns before the features in a training-set query.
const KEY_COLUMNS: [&str; 6] = [
    "apartment",
    "room",
    "slot_ts",
    "target",
    "baseline_same_slot_yesterday",
    "baseline_last_slot",
];

/// Where a row belongs: an apartment's room and a slot (microseconds since the epoch, UTC).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotKey {
    pub apartment: String,
    pub room: String,
    pub slot_ts: i64,
}

/// The categorical values one-hot encoded for a model: sorted, saved with the model, so that
/// the same value always lands in the same column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vocabulary {
    pub apartments: Vec<String>,
    pub rooms: Vec<String>,
}

impl Vocabulary {
    fn of(keys: &[SlotKey]) -> Self {
        let apartments: BTreeSet<&str> = keys.iter().map(|k| k.apartment.as_str()).collect();
        let rooms: BTreeSet<&str> = keys.iter().map(|k| k.room.as_str()).collect();
        Self {
            apartments: apartments.into_iter().map(str::to_string).collect(),
            rooms: rooms.into_iter().map(str::to_string).collect(),
        }
    }

    fn names(&self) -> impl Iterator<Item = String> + '_ {
        let apartments = self.apartments.iter().map(|a| format!("apartment={a}"));
        apartments.chain(self.rooms.iter().map(|r| format!("room={r}")))
    }

    /// The one-hot columns of `key`.
    pub fn encode<'a>(&'a self, key: &'a SlotKey) -> impl Iterator<Item = f64> + 'a {
        let apartment = self
            .apartments
            .iter()
            .map(|a| f64::from(u8::from(*a == key.apartment)));
        let room = self
            .rooms
            .iter()
            .map(|r| f64::from(u8::from(*r == key.room)));
        apartment.chain(room)
    }
}

/// The rows of one target's feature table.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub target: Target,
    pub keys: Vec<SlotKey>,
    /// The query's feature columns, without the one-hot columns.
    pub base_features: Vec<String>,
    /// Row-major values of `base_features`.
    pub base: Vec<Vec<f64>>,
    pub y: Vec<f64>,
    pub same_slot_yesterday: Vec<f64>,
    pub last_slot: Vec<f64>,
}

impl Dataset {
    /// Read the training set of `target` (chronological).
    pub async fn load(session: &LakeSession, target: Target) -> Result<Self> {
        if session
            .lake()
            .open_table(&target.feature_table())
            .await?
            .is_none()
        {
            return Err(MlError::NoData {
                target,
                table: target.feature_table().to_string(),
            });
        }
        let batches = crate::transform::collect_query(session, &target.training_set()).await?;
        Self::from_batches(target, &batches)
    }

    /// The rows of a training-set query's result.
    pub fn from_batches(target: Target, batches: &[RecordBatch]) -> Result<Self> {
        let mut data = Self {
            target,
            keys: Vec::new(),
            base_features: Vec::new(),
            base: Vec::new(),
            y: Vec::new(),
            same_slot_yesterday: Vec::new(),
            last_slot: Vec::new(),
        };
        for batch in batches {
            data.append(batch)?;
        }
        if data.keys.is_empty() {
            return Err(MlError::NoData {
                target,
                table: target.feature_table().to_string(),
            });
        }
        Ok(data)
    }

    fn append(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        if names.len() <= KEY_COLUMNS.len() || names[..KEY_COLUMNS.len()] != KEY_COLUMNS {
            return Err(MlError::Invalid {
                target: self.target,
                message: format!(
                    "{} must select {} and then the features, got {names:?}",
                    self.target.training_set().path,
                    KEY_COLUMNS.join(", ")
                ),
            });
        }
        self.base_features = names[KEY_COLUMNS.len()..]
            .iter()
            .map(|n| n.to_string())
            .collect();
        let text = |i: usize| cast(batch.column(i), &DataType::Utf8);
        let (apartments, rooms) = (text(0)?, text(1)?);
        let slots = cast(
            batch.column(2),
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?;
        let slots = slots.as_primitive::<TimestampMicrosecondType>();
        let numbers: Vec<_> = (3..names.len())
            .map(|i| cast(batch.column(i), &DataType::Float64))
            .collect::<std::result::Result<_, _>>()?;
        let target = self.target;
        for row in 0..batch.num_rows() {
            let line = self.keys.len() + 1;
            let value = |column: usize| -> Result<f64> {
                let array = numbers[column - 3].as_primitive::<Float64Type>();
                let v = array.value(row);
                if array.is_null(row) || !v.is_finite() {
                    return Err(MlError::Invalid {
                        target,
                        message: format!(
                            "{} has a missing or non-finite `{}` at row {line} of {}",
                            target.feature_table(),
                            names[column],
                            target.training_set().path,
                        ),
                    });
                }
                Ok(v)
            };
            self.keys.push(SlotKey {
                apartment: apartments.as_string::<i32>().value(row).to_string(),
                room: rooms.as_string::<i32>().value(row).to_string(),
                slot_ts: slots.value(row),
            });
            self.y.push(value(3)?);
            self.same_slot_yesterday.push(value(4)?);
            self.last_slot.push(value(5)?);
            self.base.push(
                (KEY_COLUMNS.len()..names.len())
                    .map(value)
                    .collect::<Result<_>>()?,
            );
        }
        Ok(())
    }

    /// The one-hot vocabulary of these rows.
    pub fn vocabulary(&self) -> Vocabulary {
        Vocabulary::of(&self.keys)
    }

    /// Feature names: the query's, then the one-hot columns of `vocabulary`.
    pub fn feature_names(&self, vocabulary: &Vocabulary) -> Vec<String> {
        self.base_features
            .iter()
            .cloned()
            .chain(vocabulary.names())
            .collect()
    }

    /// The full feature row `row` (base features and one-hot columns).
    pub fn features(&self, row: usize, vocabulary: &Vocabulary) -> Vec<f64> {
        let mut values = self.base[row].clone();
        values.extend(vocabulary.encode(&self.keys[row]));
        values
    }

    /// The first row of the test period: 80 % of the rows come before it, and no slot is split
    /// between the periods (rows are in time order).
    pub fn split_at(&self) -> Result<usize> {
        let n = self.keys.len();
        let mut at = n * 4 / 5;
        while at > 0 && at < n && self.keys[at].slot_ts == self.keys[at - 1].slot_ts {
            at += 1;
        }
        if at == 0 || at >= n {
            return Err(MlError::Invalid {
                target: self.target,
                message: format!(
                    "{} rows in {} cannot be split into a training and a test period",
                    n,
                    self.target.feature_table()
                ),
            });
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, Float64Array, StringArray, TimestampMicrosecondArray,
    };

    use super::*;

    fn batch(values: Vec<f64>) -> RecordBatch {
        let n = values.len();
        let text = |v: &str| Arc::new(StringArray::from(vec![v; n])) as ArrayRef;
        let number = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
        let slots: Vec<i64> = (0..n as i64).map(|i| i * 900_000_000).collect();
        RecordBatch::try_from_iter([
            ("apartment", text("a")),
            ("room", text("Office")),
            (
                "slot_ts",
                Arc::new(TimestampMicrosecondArray::from(slots)) as ArrayRef,
            ),
            ("target", number(vec![1.0; n])),
            ("baseline_same_slot_yesterday", number(vec![0.0; n])),
            ("baseline_last_slot", number(vec![1.0; n])),
            ("hour", number(values)),
        ])
        .unwrap()
    }

    #[test]
    fn a_non_finite_feature_is_refused_with_its_column_and_row() {
        let error = Dataset::from_batches(Target::Energy, &[batch(vec![1.0, f64::NAN])])
            .unwrap_err()
            .to_string();
        assert!(error.contains("ml energy"), "{error}");
        assert!(error.contains("`hour` at row 2"), "{error}");
    }

    #[test]
    fn no_rows_is_an_error_naming_the_table() {
        let error = Dataset::from_batches(Target::Occupancy, &[batch(vec![])])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no rows in gold.ml_occupancy_features"),
            "{error}"
        );
    }

    #[test]
    fn the_split_never_cuts_a_slot_and_one_hot_columns_follow_the_sorted_values() {
        let mut data = Dataset::from_batches(Target::Energy, &[batch(vec![1.0; 10])]).unwrap();
        assert_eq!(data.split_at().unwrap(), 8);
        // Two rooms per slot: the cut moves to the next slot boundary.
        data.keys = (0..10)
            .map(|i| SlotKey {
                apartment: "a".into(),
                room: if i % 2 == 0 { "Office" } else { "Kitchen" }.into(),
                slot_ts: i / 2 * 900_000_000,
            })
            .collect();
        let mut cut = data.clone();
        cut.keys.truncate(9);
        assert_eq!(data.split_at().unwrap(), 8);
        assert_eq!(cut.split_at().unwrap(), 8);
        let vocabulary = data.vocabulary();
        assert_eq!(
            data.feature_names(&vocabulary),
            ["hour", "apartment=a", "room=Kitchen", "room=Office"]
        );
        assert_eq!(data.features(1, &vocabulary), [1.0, 1.0, 1.0, 0.0]);
    }
}
