//! Fast SQL functions for the text fields bronze keeps as read (weather CSV rows).
//!
//! `utc_time(text)` and `clean_site(text)` do what `arrow_cast(try_cast(t AS TIMESTAMP), ..)`
//! and `trim(replace(t, '"', ''))` do, for the forms the forecast files hold. On ~10M rows per
//! rebuild the general casts spent a third of the silver CPU in time-zone lookups and string
//! copies; these parse in place and leave clean text untouched.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, StringViewArray, StringViewBuilder, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

const MICROS_PER_SECOND: i64 = 1_000_000;

/// `utc_time(text) -> TIMESTAMP WITH TIME ZONE 'UTC'`: `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]`
/// followed by `Z`, `+HH:MM`, `+HHMM`, `+HH` (or nothing, read as UTC). Anything else,
/// including impossible dates, is NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UtcTime {
    signature: Signature,
}

impl Default for UtcTime {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

pub fn utc_time() -> ScalarUDF {
    ScalarUDF::from(UtcTime::default())
}

/// `clean_site(text) -> text`: double quotes removed, surrounding whitespace trimmed.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CleanSite {
    signature: Signature,
}

impl Default for CleanSite {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

pub fn clean_site() -> ScalarUDF {
    ScalarUDF::from(CleanSite::default())
}

/// Both functions take one string, read as a string view.
fn coerce_text(name: &str, args: &[DataType]) -> Result<Vec<DataType>> {
    match args {
        [DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null] => {
            Ok(vec![DataType::Utf8View])
        }
        [other] => plan_err!("{name} expects a string, got {other}"),
        _ => plan_err!("{name} expects one argument"),
    }
}

fn text_argument<'a>(name: &str, args: &'a ScalarFunctionArgs) -> Result<&'a ColumnarValue> {
    match args.args.as_slice() {
        [value] => Ok(value),
        _ => exec_err!("{name} expects one argument"),
    }
}

fn scalar_text(value: &ScalarValue) -> Option<&str> {
    match value {
        ScalarValue::Utf8View(v) | ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) => v.as_deref(),
        _ => None,
    }
}

impl ScalarUDFImpl for UtcTime {
    fn name(&self) -> &str {
        "utc_time"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(
            TimeUnit::Microsecond,
            Some("UTC".into()),
        ))
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        coerce_text(self.name(), args)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let utc: Option<Arc<str>> = Some("UTC".into());
        match text_argument(self.name(), &args)? {
            ColumnarValue::Scalar(value) => {
                Ok(ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(
                    scalar_text(value).and_then(|t| parse_utc_micros(t.as_bytes())),
                    utc,
                )))
            }
            ColumnarValue::Array(array) => {
                let text = array.as_string_view();
                let mut dates = DateCache::default();
                let parsed: TimestampMicrosecondArray = text
                    .iter()
                    .map(|v| v.and_then(|t| dates.parse(t.as_bytes())))
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(parsed.with_timezone("UTC"))))
            }
        }
    }
}

impl ScalarUDFImpl for CleanSite {
    fn name(&self) -> &str {
        "clean_site"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8View)
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        coerce_text(self.name(), args)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match text_argument(self.name(), &args)? {
            ColumnarValue::Scalar(value) => Ok(ColumnarValue::Scalar(ScalarValue::Utf8View(
                scalar_text(value).map(|t| clean_site_text(t).into_owned()),
            ))),
            ColumnarValue::Array(array) => Ok(ColumnarValue::Array(clean_site_array(
                array.as_string_view(),
            ))),
        }
    }
}

/// The array itself when every value is clean already (the common case), else a cleaned copy.
fn clean_site_array(text: &StringViewArray) -> ArrayRef {
    let dirty = |t: &str| {
        t.contains('"') || t.starts_with(char::is_whitespace) || t.ends_with(char::is_whitespace)
    };
    if !text.iter().flatten().any(dirty) {
        return Arc::new(text.clone());
    }
    let mut builder = StringViewBuilder::with_capacity(text.len());
    for value in text.iter() {
        match value {
            Some(t) if dirty(t) => builder.append_value(clean_site_text(t)),
            Some(t) => builder.append_value(t),
            None => builder.append_null(),
        }
    }
    Arc::new(builder.finish())
}

fn clean_site_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('"') {
        std::borrow::Cow::Owned(text.replace('"', "").trim().to_string())
    } else {
        std::borrow::Cow::Borrowed(text.trim())
    }
}

/// Microseconds since the epoch of a `YYYY-MM-DD HH:MM[:SS[.f]][offset]` text, if valid.
pub fn parse_utc_micros(text: &[u8]) -> Option<i64> {
    DateCache::default().parse(text)
}

/// The day number of the last date seen: consecutive forecast rows mostly share their date.
#[derive(Default)]
struct DateCache {
    last: Option<([u8; 10], i64)>,
}

impl DateCache {
    fn parse(&mut self, text: &[u8]) -> Option<i64> {
        let date: [u8; 10] = text.get(..10)?.try_into().ok()?;
        let days = match self.last {
            Some((last, days)) if last == date => days,
            _ => {
                let days = parse_date(&date)?;
                self.last = Some((date, days));
                days
            }
        };
        parse_time_of_day(&text[10..]).map(|micros| days * 86_400 * MICROS_PER_SECOND + micros)
    }
}

/// Days since the epoch of `YYYY-MM-DD`.
fn parse_date(text: &[u8; 10]) -> Option<i64> {
    let mut cursor = Cursor { text, at: 0 };
    let year = cursor.digits(4)? as i64;
    cursor.expect(b'-')?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2)?;
    days_from_civil(year, month, day)
}

/// Microseconds after midnight UTC of `[ T]HH:MM[:SS[.f]][offset]`; negative or beyond one day
/// when the offset moves the time to another date.
fn parse_time_of_day(text: &[u8]) -> Option<i64> {
    let mut cursor = Cursor { text, at: 0 };
    if !matches!(cursor.next()?, b' ' | b'T') {
        return None;
    }
    let hour = cursor.digits(2)?;
    cursor.expect(b':')?;
    let minute = cursor.digits(2)?;
    let mut second = 0;
    let mut micros = 0;
    if cursor.peek() == Some(b':') {
        cursor.at += 1;
        second = cursor.digits(2)?;
        if cursor.peek() == Some(b'.') {
            cursor.at += 1;
            micros = cursor.fraction_micros()?;
        }
    }
    let offset_seconds = cursor.offset_seconds()?;
    if cursor.at != text.len() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let seconds = i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    Some(seconds * MICROS_PER_SECOND + micros)
}

struct Cursor<'a> {
    text: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }
    fn digits(&mut self, count: usize) -> Option<u32> {
        let mut value = 0;
        for _ in 0..count {
            let byte = self.next()?;
            if !byte.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(byte - b'0');
        }
        Some(value)
    }
    /// Up to nine fraction digits, truncated to microseconds.
    fn fraction_micros(&mut self) -> Option<i64> {
        let start = self.at;
        let mut micros = 0i64;
        while let Some(byte) = self.peek().filter(u8::is_ascii_digit) {
            let position = self.at - start;
            if position < 6 {
                micros = micros * 10 + i64::from(byte - b'0');
            }
            self.at += 1;
        }
        let digits = self.at - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        Some(micros * 10i64.pow(6u32.saturating_sub(digits as u32)))
    }
    /// `Z`, `+HH:MM`, `+HHMM`, `+HH` (or `-`), or nothing: seconds east of UTC.
    fn offset_seconds(&mut self) -> Option<i64> {
        if self.text.get(self.at..) == Some(b"+00:00") {
            self.at += 6;
            return Some(0);
        }
        let sign = match self.peek() {
            None => return Some(0),
            Some(b'Z') => {
                self.at += 1;
                return Some(0);
            }
            Some(b'+') => 1,
            Some(b'-') => -1,
            Some(_) => return None,
        };
        self.at += 1;
        let hours = self.digits(2)?;
        let minutes = match self.peek() {
            None => 0,
            Some(b':') => {
                self.at += 1;
                self.digits(2)?
            }
            Some(_) => self.digits(2)?,
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * i64::from(hours * 3600 + minutes * 60))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm), if it exists.
fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day == 0 || day > month_days[month as usize - 1] {
        return None;
    }
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_index + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_micros(text: &str) -> Option<i64> {
        chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%:z")
            .ok()
            .map(|t| t.timestamp_micros())
    }

    #[test]
    fn parses_the_forecast_format_like_chrono() {
        for text in [
            "2023-10-03 09:00:00+00:00",
            "1970-01-01 00:00:00+00:00",
            "1969-12-31 23:59:59+00:00",
            "2024-02-29 12:34:56+00:00",
            "2000-02-29 00:00:00+00:00",
            "2023-10-29 02:30:00+02:00",
            "2023-03-26 01:00:00-05:30",
            "2400-12-31 23:59:59+00:00",
        ] {
            assert_eq!(
                parse_utc_micros(text.as_bytes()),
                chrono_micros(text),
                "{text}"
            );
        }
    }

    #[test]
    fn a_shared_cache_parses_each_row_on_its_own() {
        let mut cache = DateCache::default();
        for text in [
            "2023-10-03 09:00:00+00:00",
            "2023-10-03 12:00:00+01:00",
            "2023-10-04 00:00:00Z",
            "2023-02-30 00:00:00Z",
            "2023-10-04 25:00:00Z",
        ] {
            assert_eq!(
                cache.parse(text.as_bytes()),
                parse_utc_micros(text.as_bytes()),
                "{text}"
            );
        }
        assert_eq!(
            cache.parse(b"2023-10-04 00:00:00+00:00"),
            chrono_micros("2023-10-04 00:00:00+00:00")
        );
    }

    #[test]
    fn accepts_the_other_iso_forms() {
        let base = parse_utc_micros(b"2023-10-03 09:00:00+00:00").unwrap();
        assert_eq!(parse_utc_micros(b"2023-10-03T09:00:00Z"), Some(base));
        assert_eq!(parse_utc_micros(b"2023-10-03 09:00:00"), Some(base));
        assert_eq!(parse_utc_micros(b"2023-10-03 09:00"), Some(base));
        assert_eq!(parse_utc_micros(b"2023-10-03 11:00:00+0200"), Some(base));
        assert_eq!(parse_utc_micros(b"2023-10-03 11:00:00+02"), Some(base));
        assert_eq!(
            parse_utc_micros(b"2023-10-03 09:00:00.25+00:00"),
            Some(base + 250_000)
        );
        assert_eq!(
            parse_utc_micros(b"2023-10-03 09:00:00.123456789Z"),
            Some(base + 123_456)
        );
    }

    #[test]
    fn rejects_what_is_no_time() {
        for text in [
            "",
            "not a time",
            "2023-02-29 00:00:00+00:00",
            "2023-13-01 00:00:00+00:00",
            "2023-00-10 00:00:00+00:00",
            "2023-04-31 00:00:00+00:00",
            "2023-10-03 24:00:00+00:00",
            "2023-10-03 09:60:00+00:00",
            "2023-10-03 09:00:00+00:00 ",
            "2023-10-03 09:00:00.+00:00",
            "2023-10-03 09:00:00+25:00",
            "2023-10-03",
            "2023/10/03 09:00:00",
        ] {
            assert_eq!(parse_utc_micros(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn cleans_sites_and_leaves_clean_arrays_alone() {
        assert_eq!(
            clean_site_text(r#" "Aadorf / Tänikon" "#),
            "Aadorf / Tänikon"
        );
        assert_eq!(clean_site_text(r#""""Sion""""#), "Sion");
        assert_eq!(clean_site_text(" Visp "), "Visp");
        let clean = StringViewArray::from(vec![Some("Sion"), None, Some("Aadorf / Tänikon")]);
        let out = clean_site_array(&clean);
        assert_eq!(out.as_string_view(), &clean);
        let dirty = StringViewArray::from(vec![Some("Sion"), None, Some(" \"Visp\"")]);
        let out = clean_site_array(&dirty);
        let values: Vec<_> = out.as_string_view().iter().collect();
        assert_eq!(values, vec![Some("Sion"), None, Some("Visp")]);
    }
}
