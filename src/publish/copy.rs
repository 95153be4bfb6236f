//! PostgreSQL binary COPY, encoded by hand from Arrow columns: no text rendering and parsing of
//! every value, and every type the lake uses maps to its PostgreSQL type exactly.
//!
//! Format (PostgreSQL docs, "COPY ... Binary Format"): a signature and header, then per row an
//! int16 field count and per field an int32 byte length (-1 for NULL) and the value in network
//! byte order; an int16 -1 ends the data.

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampMicrosecondType,
};

use super::sql::ident;
use super::{PublishError, Result};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Days and microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The PostgreSQL column type of an Arrow type (the type `canonical` casts to).
pub fn pg_type(data_type: &DataType) -> Result<String> {
    Ok(match data_type {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "integer".into(),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "bigint".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::Dictionary(_, value) if is_text(value) => "text".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::Decimal128(precision, scale) => format!("numeric({precision}, {scale})"),
        other => return Err(PublishError::Unsupported(other.to_string())),
    })
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// The array cast to the one Arrow type per PostgreSQL type that the encoder writes.
fn canonical(array: &ArrayRef) -> Result<ArrayRef> {
    let target = match array.data_type() {
        DataType::Int8 | DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 => DataType::Float32,
        DataType::LargeUtf8 | DataType::Dictionary(_, _) => DataType::Utf8,
        DataType::Date64 => DataType::Date32,
        DataType::Timestamp(unit, tz) if *unit != TimeUnit::Microsecond => {
            DataType::Timestamp(TimeUnit::Microsecond, tz.clone())
        }
        _ => return Ok(array.clone()),
    };
    Ok(cast(array, &target)?)
}

/// Encodes record batches as the body of a binary COPY.
pub struct CopyEncoder {
    buffer: BytesMut,
}

impl Default for CopyEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl CopyEncoder {
    /// An encoder whose first bytes are the COPY header.
    pub fn new() -> Self {
        let mut buffer = BytesMut::with_capacity(1 << 20);
        buffer.put_slice(SIGNATURE);
        buffer.put_i32(0); // flags
        buffer.put_i32(0); // header extension length
        Self { buffer }
    }

    /// Append the rows of `batch`.
    pub fn encode(&mut self, batch: &RecordBatch) -> Result<()> {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(canonical)
            .collect::<Result<_>>()?;
        let fields = i16::try_from(columns.len())
            .map_err(|_| PublishError::Unsupported("more than 32767 columns".into()))?;
        for row in 0..batch.num_rows() {
            self.buffer.put_i16(fields);
            for column in &columns {
                self.field(column, row)?;
            }
        }
        Ok(())
    }

    /// Take the bytes encoded so far (send them while encoding goes on).
    pub fn take(&mut self) -> bytes::Bytes {
        self.buffer.split().freeze()
    }

    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// The end-of-data marker.
    pub fn finish(&mut self) -> bytes::Bytes {
        self.buffer.put_i16(-1);
        self.take()
    }

    fn field(&mut self, column: &ArrayRef, row: usize) -> Result<()> {
        let out = &mut self.buffer;
        if column.is_null(row) {
            out.put_i32(-1);
            return Ok(());
        }
        match column.data_type() {
            DataType::Boolean => {
                out.put_i32(1);
                out.put_u8(column.as_boolean().value(row) as u8);
            }
            DataType::Int16 => {
                out.put_i32(2);
                out.put_i16(column.as_primitive::<Int16Type>().value(row));
            }
            DataType::Int32 => {
                out.put_i32(4);
                out.put_i32(column.as_primitive::<Int32Type>().value(row));
            }
            DataType::Int64 => {
                out.put_i32(8);
                out.put_i64(column.as_primitive::<Int64Type>().value(row));
            }
            DataType::Float32 => {
                out.put_i32(4);
                out.put_f32(column.as_primitive::<Float32Type>().value(row));
            }
            DataType::Float64 => {
                out.put_i32(8);
                out.put_f64(column.as_primitive::<Float64Type>().value(row));
            }
            DataType::Utf8 => put_text(out, column.as_string::<i32>().value(row)),
            DataType::Utf8View => put_text(out, column.as_string_view().value(row)),
            DataType::Date32 => {
                out.put_i32(4);
                out.put_i32(column.as_primitive::<Date32Type>().value(row) - PG_EPOCH_DAYS);
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                out.put_i32(8);
                out.put_i64(
                    column.as_primitive::<TimestampMicrosecondType>().value(row) - PG_EPOCH_MICROS,
                );
            }
            DataType::Decimal128(_, scale) => {
                let value = column.as_primitive::<Decimal128Type>().value(row);
                put_numeric(out, value, *scale);
            }
            other => return Err(PublishError::Unsupported(other.to_string())),
        }
        Ok(())
    }
}

fn put_text(out: &mut BytesMut, text: &str) {
    out.put_i32(text.len() as i32);
    out.put_slice(text.as_bytes());
}

/// PostgreSQL `numeric`: base-10000 digits with a weight (position of the first digit group
/// relative to the decimal point), a sign and the display scale.
fn put_numeric(out: &mut BytesMut, value: i128, scale: i8) {
    let scale = scale.max(0) as usize;
    let text = value.unsigned_abs().to_string();
    let text = format!("{text:0>width$}", width = scale + 1);
    let (integer, fraction) = text.split_at(text.len() - scale);
    let integer = format!("{integer:0>width$}", width = integer.len().div_ceil(4) * 4);
    let fraction = format!(
        "{fraction:0<width$}",
        width = fraction.len().div_ceil(4) * 4
    );
    let groups = |s: &str| -> Vec<i16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| {
                std::str::from_utf8(c)
                    .expect("digits")
                    .parse()
                    .expect("digits")
            })
            .collect()
    };
    let mut digits = groups(&integer);
    let mut weight = digits.len() as i16 - 1;
    digits.extend(groups(&fraction));
    while digits.first() == Some(&0) {
        digits.remove(0);
        weight -= 1;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    out.put_i32(8 + 2 * digits.len() as i32);
    out.put_i16(digits.len() as i16);
    out.put_i16(weight);
    out.put_u16(if value < 0 { 0x4000 } else { 0 });
    out.put_u16(scale as u16);
    for digit in digits {
        out.put_i16(digit);
    }
}

/// The Arrow schema's columns as `"name" type` definitions.
pub fn column_definitions(schema: &datafusion::arrow::datatypes::Schema) -> Result<Vec<String>> {
    schema
        .fields()
        .iter()
        .map(|f| Ok(format!("{} {}", ident(f.name()), pg_type(f.data_type())?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(value: i128, scale: i8) -> Vec<u8> {
        let mut out = BytesMut::new();
        put_numeric(&mut out, value, scale);
        out.to_vec()
    }

    #[test]
    fn numerics_encode_as_base_10000_groups() {
        // 12345.6789 (scale 4): digits [1, 2345, 6789], weight 1, dscale 4.
        assert_eq!(
            numeric(123_456_789, 4),
            [
                0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 4, 0, 1, 0x09, 0x29, 0x1a, 0x85
            ]
        );
        // -0.5 (scale 2): digits [5000], weight -1, negative.
        assert_eq!(
            numeric(-50, 2),
            [0, 0, 0, 10, 0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x13, 0x88]
        );
        // 0 (scale 3): no digits.
        assert_eq!(numeric(0, 3), [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 3]);
    }
}
