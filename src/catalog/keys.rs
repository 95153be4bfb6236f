//! Gold's keys as SQL functions.
//!
//! - `surrogate_key(part, ...)`: a member's key, derived from its natural key alone: FNV-1a
//!   (64 bit) of the parts' UTF-8 bytes, each followed by the unit separator 0x1F, masked to a
//!   positive BIGINT. The same member gets the same key in every build, incremental or full, and
//!   a new member never moves another one's key (nothing is numbered). NULL when a part is NULL.
//! - `date_key(date | timestamp) -> INT` `YYYYMMDD` and `datetime_key(timestamp) -> BIGINT`
//!   `YYYYMMDDHHMM`: zone-stable keys of the UTC time (a timestamp's stored instant).
//! - `key_date(date_key) -> DATE`: back from a date key.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Int32Array, Int64Array, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Int32Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const SEPARATOR: u8 = 0x1f;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The surrogate key of a natural key (see the module documentation).
pub fn surrogate_key_of<'a>(parts: impl IntoIterator<Item = &'a str>) -> i64 {
    let mut hash = FNV_OFFSET;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(SEPARATOR)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    (hash & i64::MAX as u64) as i64
}

/// `YYYYMMDD` of a date.
pub fn date_key_of(date: NaiveDate) -> i32 {
    date.year() * 10_000 + date.month() as i32 * 100 + date.day() as i32
}

/// The date of a `YYYYMMDD` key (`None` when it names no date).
pub fn key_to_date(key: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(key / 10_000, (key / 100 % 100) as u32, (key % 100) as u32)
}

/// The UTC minute of a `YYYYMMDDHHMM` key (`None` when it names no minute).
pub fn key_to_datetime(key: i64) -> Option<chrono::NaiveDateTime> {
    let date = key_to_date(i32::try_from(key / 10_000).ok()?)?;
    date.and_hms_opt((key / 100 % 100) as u32, (key % 100) as u32, 0)
}

/// A scalar function `name(args) -> returns` over arrays, with argument coercion.
#[derive(Debug, PartialEq, Eq, Hash)]
struct KeyFunction {
    name: &'static str,
    signature: Signature,
}

fn function(name: &'static str) -> ScalarUDF {
    ScalarUDF::from(KeyFunction {
        name,
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

pub fn surrogate_key() -> ScalarUDF {
    function("surrogate_key")
}
pub fn date_key() -> ScalarUDF {
    function("date_key")
}
pub fn datetime_key() -> ScalarUDF {
    function("datetime_key")
}
pub fn key_date() -> ScalarUDF {
    function("key_date")
}

impl ScalarUDFImpl for KeyFunction {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.name {
            "date_key" => DataType::Int32,
            "key_date" => DataType::Date32,
            _ => DataType::Int64,
        })
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match (self.name, args) {
            ("surrogate_key", []) => plan_err!("surrogate_key expects at least one argument"),
            ("surrogate_key", args) => Ok(vec![DataType::Utf8; args.len()]),
            ("date_key", [DataType::Date32 | DataType::Date64 | DataType::Utf8]) => {
                Ok(vec![DataType::Date32])
            }
            ("date_key" | "datetime_key", [DataType::Timestamp(_, tz)]) => {
                Ok(vec![DataType::Timestamp(TimeUnit::Microsecond, tz.clone())])
            }
            ("key_date", [t]) if t.is_integer() => Ok(vec![DataType::Int32]),
            (name, other) => plan_err!("{name}: unexpected arguments {other:?}"),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(args.number_rows))
            .collect::<Result<Vec<_>>>()?;
        let result: ArrayRef = match self.name {
            "surrogate_key" => Arc::new(surrogate_keys(&arrays)?),
            "date_key" => Arc::new(date_keys(&arrays[0])),
            "datetime_key" => Arc::new(datetime_keys(&arrays[0])),
            "key_date" => Arc::new(key_dates(&arrays[0])),
            other => return exec_err!("unknown key function {other}"),
        };
        if all_scalar {
            Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&result, 0)?,
            ))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

fn surrogate_keys(arrays: &[ArrayRef]) -> Result<Int64Array> {
    let strings = arrays
        .iter()
        .map(|a| cast(a, &DataType::Utf8))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let strings: Vec<&StringArray> = strings.iter().map(|a| a.as_string::<i32>()).collect();
    let rows = arrays.first().map_or(0, |a| a.len());
    Ok((0..rows)
        .map(|row| {
            strings
                .iter()
                .all(|s| s.is_valid(row))
                .then(|| surrogate_key_of(strings.iter().map(|s| s.value(row))))
        })
        .collect())
}

fn date_keys(array: &ArrayRef) -> Int32Array {
    match array.data_type() {
        DataType::Date32 => array.as_primitive::<Date32Type>().unary(|days| {
            date_key_of(Date32Type::to_naive_date_opt(days).expect("a date in range"))
        }),
        _ => array
            .as_primitive::<TimestampMicrosecondType>()
            .unary(|micros| {
                date_key_of(
                    Date32Type::to_naive_date_opt(micros.div_euclid(MICROS_PER_DAY) as i32)
                        .expect("a date in range"),
                )
            }),
    }
}

fn datetime_keys(array: &ArrayRef) -> Int64Array {
    // Rows of one day are usually adjacent: compute the day's part once per run of equal days.
    let mut cached: Option<(i64, i64)> = None;
    array
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .map(|micros| {
            let micros = micros?;
            let day = micros.div_euclid(MICROS_PER_DAY);
            let day_part = match cached {
                Some((d, part)) if d == day => part,
                _ => {
                    let part = i64::from(date_key_of(
                        Date32Type::to_naive_date_opt(day as i32).expect("a date in range"),
                    )) * 10_000;
                    cached = Some((day, part));
                    part
                }
            };
            let time = chrono::DateTime::from_timestamp_micros(micros)?.time();
            Some(day_part + i64::from(time.hour()) * 100 + i64::from(time.minute()))
        })
        .collect()
}

fn key_dates(array: &ArrayRef) -> Date32Array {
    array
        .as_primitive::<Int32Type>()
        .iter()
        .map(|key| Some(Date32Type::from_naive_date(key_to_date(key?)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        // Pinned (an independent FNV-1a computation): keys are published data and must never
        // change between releases.
        assert_eq!(surrogate_key_of(["jimmy"]), 4_734_548_567_404_447_234);
        assert_eq!(
            surrogate_key_of(["jimmy", "Living Room", "plug"]),
            8_650_353_032_311_906_420
        );
        assert_eq!(surrogate_key_of(["Sion"]), 6_975_338_831_267_569_881);
        assert_ne!(
            surrogate_key_of(["jimmy", "Office"]),
            surrogate_key_of(["jimmyO", "ffice"])
        );
        assert!(surrogate_key_of(["jimmy", "Living Room", "plug"]) >= 0);
        assert_eq!(
            date_key_of(NaiveDate::from_ymd_opt(2023, 8, 18).unwrap()),
            20230818
        );
    }
}
