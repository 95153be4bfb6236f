//! Session options and SQL functions of datacycle.
//!
//! `datacycle.sensor_timezone` (settable with `SET` in the SQL shell and in `.slt` tests) names
//! the zone of sensor wall-clock times; `sensor_time_utc(local)` converts such a time to UTC.

use std::sync::Arc;

use chrono::{NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, ArrayRef, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigExtension;
use datafusion::common::{ScalarValue, exec_err, extensions_options};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

extensions_options! {
    /// datacycle's own session options (`SET datacycle.<name> = ...`).
    pub struct DatacycleOptions {
        /// IANA zone of the wall-clock times in sensor files (file names and payload datetime).
        pub sensor_timezone: String, default = "UTC".to_string()
        /// Weather forecast rows for times before this year are dropped (WEATHER_MIN_YEAR).
        pub weather_min_year: i32, default = 2023
        /// IANA zone of gold's local_* reporting columns (REPORTING_TIMEZONE).
        pub reporting_timezone: String, default = "Europe/Zurich".to_string()
    }
}

impl ConfigExtension for DatacycleOptions {
    const PREFIX: &'static str = "datacycle";
}

impl DatacycleOptions {
    pub fn new(sensor_timezone: Tz, weather_min_year: i32, reporting_timezone: Tz) -> Self {
        Self {
            sensor_timezone: sensor_timezone.name().to_string(),
            weather_min_year,
            reporting_timezone: reporting_timezone.name().to_string(),
        }
    }
}

/// `sensor_time_utc(local TIMESTAMP) -> TIMESTAMP WITH TIME ZONE 'UTC'`.
///
/// A local time that occurs twice (the autumn DST change) is read as its first occurrence; a
/// local time that does not exist (the spring gap) is read with the offset in force before the
/// gap, as a clock that was not yet adjusted would have meant it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SensorTimeUtc {
    signature: Signature,
}

impl Default for SensorTimeUtc {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
        }
    }
}

/// The function as a [`ScalarUDF`].
pub fn sensor_time_utc() -> ScalarUDF {
    ScalarUDF::from(SensorTimeUtc::default())
}

const MICROS_PER_MINUTE: i64 = 60_000_000;

/// UTC micros of local wall-clock micros in `tz`.
pub fn local_to_utc_micros(tz: &Tz, local_micros: i64) -> Option<i64> {
    let local = chrono::DateTime::from_timestamp_micros(local_micros)?.naive_utc();
    Some(local_to_utc(tz, local)?.and_utc().timestamp_micros())
}

/// UTC time of a local wall-clock time in `tz` (see [`SensorTimeUtc`] for DST rules).
pub fn local_to_utc(tz: &Tz, local: NaiveDateTime) -> Option<NaiveDateTime> {
    use chrono::LocalResult;
    let offset_seconds = match tz.offset_from_local_datetime(&local) {
        LocalResult::Single(offset) => offset.fix().local_minus_utc(),
        LocalResult::Ambiguous(first, _) => first.fix().local_minus_utc(),
        LocalResult::None => {
            // Inside the spring-forward gap: use the offset of one gap-length before.
            let before = local - chrono::Duration::hours(3);
            tz.offset_from_utc_datetime(&before).fix().local_minus_utc()
        }
    };
    Some(local - chrono::Duration::seconds(offset_seconds as i64))
}

impl ScalarUDFImpl for SensorTimeUtc {
    fn name(&self) -> &str {
        "sensor_time_utc"
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

    /// Any zone-less timestamp (or a string) is read as microseconds.
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [
                DataType::Timestamp(_, None)
                | DataType::Null
                | DataType::Utf8
                | DataType::Utf8View
                | DataType::LargeUtf8,
            ] => Ok(vec![DataType::Timestamp(TimeUnit::Microsecond, None)]),
            [other] => datafusion::common::plan_err!(
                "sensor_time_utc expects a timestamp without time zone (a wall-clock time), got {other}"
            ),
            _ => datafusion::common::plan_err!("sensor_time_utc expects one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = args
            .config_options
            .extensions
            .get::<DatacycleOptions>()
            .map(|o| o.sensor_timezone.clone())
            .unwrap_or_else(|| "UTC".into());
        let Ok(tz) = zone.parse::<Tz>() else {
            return exec_err!("datacycle.sensor_timezone `{zone}` is not an IANA time zone");
        };
        let utc: Option<Arc<str>> = Some("UTC".into());
        match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(v, _)) => {
                Ok(ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(
                    v.and_then(|v| local_to_utc_micros(&tz, v)),
                    utc,
                )))
            }
            ColumnarValue::Array(array) => {
                let local = array
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .expect("signature guarantees microsecond timestamps");
                let converted: TimestampMicrosecondArray = if tz == Tz::UTC {
                    local.clone()
                } else {
                    // Files hold one minute each, so consecutive rows share the minute: convert
                    // once per minute instead of once per row.
                    let mut cache: Option<(i64, i64)> = None;
                    local
                        .iter()
                        .map(|value| {
                            let value = value?;
                            let minute = value.div_euclid(MICROS_PER_MINUTE);
                            let offset = match cache {
                                Some((m, offset)) if m == minute => offset,
                                _ => {
                                    let start = minute * MICROS_PER_MINUTE;
                                    let offset = local_to_utc_micros(&tz, start)? - start;
                                    cache = Some((minute, offset));
                                    offset
                                }
                            };
                            Some(value + offset)
                        })
                        .collect()
                };
                Ok(ColumnarValue::Array(Arc::new(
                    converted.with_timezone("UTC"),
                )))
            }
            other => exec_err!("sensor_time_utc expects a timestamp, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(tz: &str, local: &str) -> String {
        let tz: Tz = tz.parse().unwrap();
        let local = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap();
        local_to_utc(&tz, local)
            .unwrap()
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    #[test]
    fn converts_across_dst_changes() {
        assert_eq!(utc("UTC", "2023-10-29 02:30"), "2023-10-29 02:30");
        assert_eq!(utc("Europe/Zurich", "2023-08-18 10:00"), "2023-08-18 08:00");
        assert_eq!(utc("Europe/Zurich", "2023-12-18 10:00"), "2023-12-18 09:00");
        // Autumn: 02:30 happens twice; the first (summer time) is taken.
        assert_eq!(utc("Europe/Zurich", "2023-10-29 02:30"), "2023-10-29 00:30");
        assert_eq!(utc("Europe/Zurich", "2023-10-29 03:00"), "2023-10-29 02:00");
        // Spring: 02:30 does not exist; read with the winter offset.
        assert_eq!(utc("Europe/Zurich", "2024-03-31 02:30"), "2024-03-31 01:30");
        assert_eq!(utc("Europe/Zurich", "2024-03-31 03:00"), "2024-03-31 01:00");
    }
}

/// `query_file('silver/sensor_events.sql')`: the result of a query file of `queries/`, planned
/// against the calling session. Lets the SQL shell preview a transform and lets `.slt` tests run
/// the real query files over fixture tables.
#[derive(Debug, Default)]
pub struct QueryFileFunction;

impl datafusion::catalog::TableFunctionImpl for QueryFileFunction {
    fn call_with_args(
        &self,
        args: datafusion::catalog::TableFunctionArgs,
    ) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
        use datafusion::execution::SessionState;
        use datafusion::logical_expr::Expr;
        let path = match args.exprs() {
            [Expr::Literal(ScalarValue::Utf8(Some(path)), _)] => path.clone(),
            _ => return exec_err!("query_file expects one string: the path below queries/"),
        };
        let Some(query) = crate::catalog::queries::all().find(|q| q.path == path) else {
            let known: Vec<&str> = crate::catalog::queries::all().map(|q| q.path).collect();
            return exec_err!("unknown query file `{path}`; known: {}", known.join(", "));
        };
        let Some(state) = args.session().as_any().downcast_ref::<SessionState>() else {
            return exec_err!("query_file needs a full DataFusion session");
        };
        // Lake and reference tables resolve without I/O, so planning completes immediately. It
        // runs on its own thread because a query file may itself call query_file, and a
        // blocking executor cannot be entered twice on one thread.
        let plan = std::thread::scope(|scope| {
            scope
                .spawn(|| futures::executor::block_on(state.create_logical_plan(query.sql)))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;
        Ok(Arc::new(datafusion::catalog::view::ViewTable::new(
            plan,
            Some(query.sql.to_string()),
        )))
    }
}

/// Functions of a UTC timestamp computed by integer arithmetic on its microseconds (a cast of a
/// zone-aware timestamp converts every value through the time zone database):
/// - `utc_date(ts)`: the UTC calendar date;
/// - `quarter_hour(ts)`: the start of its 15-minute UTC slot, as a microsecond UTC timestamp
///   (what the ML feature tables are keyed by);
/// - `iso_day_of_week(ts)`: 1 (Monday) to 7 (Sunday) of the UTC date.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UtcTimeFunction {
    part: UtcPart,
    signature: Signature,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum UtcPart {
    Date,
    QuarterHour,
    IsoDayOfWeek,
}

fn utc_time_function(part: UtcPart) -> ScalarUDF {
    ScalarUDF::from(UtcTimeFunction {
        part,
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

pub fn utc_date() -> ScalarUDF {
    utc_time_function(UtcPart::Date)
}

pub fn quarter_hour() -> ScalarUDF {
    utc_time_function(UtcPart::QuarterHour)
}

pub fn iso_day_of_week() -> ScalarUDF {
    utc_time_function(UtcPart::IsoDayOfWeek)
}

const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_QUARTER_HOUR: i64 = 900_000_000;

impl UtcPart {
    fn name(self) -> &'static str {
        match self {
            Self::Date => "utc_date",
            Self::QuarterHour => "quarter_hour",
            Self::IsoDayOfWeek => "iso_day_of_week",
        }
    }

    fn return_type(self) -> DataType {
        match self {
            Self::Date => DataType::Date32,
            Self::QuarterHour => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Self::IsoDayOfWeek => DataType::Int32,
        }
    }

    fn apply(self, micros: &TimestampMicrosecondArray) -> ArrayRef {
        use datafusion::arrow::datatypes::{Date32Type, Int32Type, TimestampMicrosecondType};
        let days = |m: i64| m.div_euclid(MICROS_PER_DAY);
        match self {
            Self::Date => Arc::new(micros.unary::<_, Date32Type>(|m| days(m) as i32)),
            Self::QuarterHour => Arc::new(
                micros
                    .unary::<_, TimestampMicrosecondType>(|m| {
                        m - m.rem_euclid(MICROS_PER_QUARTER_HOUR)
                    })
                    .with_timezone("UTC"),
            ),
            // 1970-01-01 was a Thursday (ISO day 4).
            Self::IsoDayOfWeek => {
                Arc::new(micros.unary::<_, Int32Type>(|m| ((days(m) + 3).rem_euclid(7) + 1) as i32))
            }
        }
    }
}

impl ScalarUDFImpl for UtcTimeFunction {
    fn name(&self) -> &str {
        self.part.name()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.part.return_type())
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.part.name();
        match args {
            [DataType::Timestamp(_, tz)]
                if tz.as_deref().is_none_or(|z| z == "UTC" || z == "+00:00") =>
            {
                Ok(vec![DataType::Timestamp(TimeUnit::Microsecond, tz.clone())])
            }
            [other] => datafusion::common::plan_err!("{name} expects a UTC timestamp, got {other}"),
            _ => datafusion::common::plan_err!("{name} expects one argument"),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(v, _)) => {
                let one = TimestampMicrosecondArray::from(vec![*v]);
                let value = ScalarValue::try_from_array(&self.part.apply(&one), 0)?;
                Ok(ColumnarValue::Scalar(value))
            }
            ColumnarValue::Array(array) => {
                let micros = array
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .expect("coerced to microseconds");
                Ok(ColumnarValue::Array(self.part.apply(micros)))
            }
            other => exec_err!("{} expects a timestamp, got {other:?}", self.part.name()),
        }
    }
}

/// `weather_min_year()`: the `datacycle.weather_min_year` option (WEATHER_MIN_YEAR) as a BIGINT.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WeatherMinYear {
    signature: Signature,
}

impl Default for WeatherMinYear {
    fn default() -> Self {
        Self {
            signature: Signature::nullary(Volatility::Stable),
        }
    }
}

pub fn weather_min_year() -> ScalarUDF {
    ScalarUDF::from(WeatherMinYear::default())
}

impl ScalarUDFImpl for WeatherMinYear {
    fn name(&self) -> &str {
        "weather_min_year"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let year = args
            .config_options
            .extensions
            .get::<DatacycleOptions>()
            .map_or(DatacycleOptions::default().weather_min_year, |o| {
                o.weather_min_year
            });
        Ok(ColumnarValue::Scalar(ScalarValue::Int64(Some(i64::from(
            year,
        )))))
    }
}

/// `reporting_time(ts TIMESTAMP WITH TIME ZONE 'UTC') -> TIMESTAMP`: the wall-clock time of an
/// instant in `datacycle.reporting_timezone` (REPORTING_TIMEZONE), for gold's local_* columns.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ReportingTime {
    signature: Signature,
}

impl Default for ReportingTime {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
        }
    }
}

pub fn reporting_time() -> ScalarUDF {
    ScalarUDF::from(ReportingTime::default())
}

impl ScalarUDFImpl for ReportingTime {
    fn name(&self) -> &str {
        "reporting_time"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Microsecond, None))
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [DataType::Timestamp(_, tz)] => {
                Ok(vec![DataType::Timestamp(TimeUnit::Microsecond, tz.clone())])
            }
            [other] => {
                datafusion::common::plan_err!("reporting_time expects a UTC timestamp, got {other}")
            }
            _ => datafusion::common::plan_err!("reporting_time expects one argument"),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = args
            .config_options
            .extensions
            .get::<DatacycleOptions>()
            .map_or_else(
                || DatacycleOptions::default().reporting_timezone,
                |o| o.reporting_timezone.clone(),
            );
        let Ok(tz) = zone.parse::<Tz>() else {
            return exec_err!("datacycle.reporting_timezone `{zone}` is not an IANA time zone");
        };
        let local = |micros: i64| {
            let instant = chrono::DateTime::from_timestamp_micros(micros)?;
            let offset = tz.offset_from_utc_datetime(&instant.naive_utc()).fix();
            Some(micros + i64::from(offset.local_minus_utc()) * 1_000_000)
        };
        match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(v, _)) => Ok(
                ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(v.and_then(local), None)),
            ),
            ColumnarValue::Array(array) => {
                let utc = array
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .expect("coerced to microseconds");
                let converted: TimestampMicrosecondArray =
                    utc.iter().map(|v| v.and_then(local)).collect();
                Ok(ColumnarValue::Array(Arc::new(converted)))
            }
            other => exec_err!("reporting_time expects a timestamp, got {other:?}"),
        }
    }
}
