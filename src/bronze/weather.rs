//! Weather forecast files as bronze: landing `Pred_YYYY-MM-DD.csv` → `bronze.weather_rows`
//! (every CSV row as read, text columns, sentinels kept) and `bronze.weather_files` (one row per
//! file), both partitioned by `prediction_date`, the issue date in the file name.
//!
//! A file whose header lacks one of the six columns is quarantined with the reason. A row that
//! cannot be split into the header's fields, or is not UTF-8, is kept with its raw text and an
//! `error`, and counted; it is never dropped silently. UTF-8 with or without BOM, RFC 4180
//! quoting, and stray quotes inside unquoted fields are all read as written.

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use super::engine::{Landing, LandingFormat, Parsed, SourceFile};
use crate::catalog::tables;
use crate::lake::{PartitionValue, TableRef, landing};
use datafusion::arrow::datatypes::Date32Type;

/// The columns every forecast file must have, in the order bronze stores them.
pub const COLUMNS: [&str; 6] = ["Time", "Value", "Prediction", "Site", "Measurement", "Unit"];
/// Typical rows per file, for sizing builders.
const ROWS_PER_FILE: usize = 160_000;

static WEATHER_ROWS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("prediction_date", DataType::Date32, false),
        Field::new("line", DataType::Int64, false),
        text("time"),
        text("value"),
        text("prediction"),
        text("site"),
        text("measurement"),
        text("unit"),
        text("error"),
        text("raw"),
        Field::new(
            "ingested_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
});

/// Weather forecast CSV files.
pub struct WeatherFiles;

impl LandingFormat for WeatherFiles {
    type Rows = WeatherRowsBuilder;
    type Scratch = ();

    fn name(&self) -> &'static str {
        "weather"
    }
    fn app_id(&self) -> &'static str {
        "datacycle.bronze.weather"
    }
    fn landing(&self) -> Landing {
        Landing::Files {
            queue: landing::weather::QUEUE,
            prefix: landing::weather::ROOT,
        }
    }
    fn rows_table(&self) -> TableRef {
        tables::weather_rows()
    }
    fn files_table(&self) -> TableRef {
        tables::weather_files()
    }
    fn rows_schema(&self) -> SchemaRef {
        WEATHER_ROWS.clone()
    }
    fn partition_fields(&self) -> Vec<Field> {
        vec![Field::new("prediction_date", DataType::Date32, false)]
    }
    /// Silver reads whole `prediction_date` partitions; nothing prunes by these texts, whose
    /// min/max statistics were a tenth of bronze's CPU (`perf`: string comparisons).
    fn unindexed_columns(&self) -> &'static [&'static str] {
        &[
            "source_file",
            "time",
            "value",
            "prediction",
            "site",
            "measurement",
            "unit",
            "error",
            "raw",
        ]
    }

    fn identify(&self, landing_path: &str, size: u64) -> Option<SourceFile> {
        let name = landing_path
            .strip_prefix(landing::weather::ROOT)?
            .rsplit('/')
            .next()?;
        let date = landing::weather::prediction_date(name)?;
        Some(SourceFile {
            name: name.to_string(),
            partition: vec![PartitionValue::Date(date)],
            time: date.and_hms_opt(0, 0, 0)?,
            size: size as i64,
        })
    }

    fn rows_builder(&self, ingested_at: DateTime<Utc>, _files: usize) -> WeatherRowsBuilder {
        // Every file is a partition of its own, so a builder holds one file.
        WeatherRowsBuilder::with_capacity(ingested_at, ROWS_PER_FILE)
    }

    fn parse(
        &self,
        file: &SourceFile,
        bytes: &[u8],
        rows: &mut WeatherRowsBuilder,
        _scratch: &mut (),
    ) -> Result<Parsed, String> {
        parse_csv(file, bytes, rows).map(|rows| Parsed {
            rows,
            secrets_dropped: 0,
        })
    }

    fn finish(&self, rows: WeatherRowsBuilder) -> Result<RecordBatch, ArrowError> {
        rows.finish()
    }
}

/// Parse one forecast file into `rows`.
fn parse_csv(
    file: &SourceFile,
    bytes: &[u8],
    rows: &mut WeatherRowsBuilder,
) -> Result<usize, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("empty file (no header)".into());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let header = match reader.read_byte_record(&mut record) {
        Ok(true) => record.clone(),
        Ok(false) => return Err("empty file (no header)".into()),
        Err(e) => return Err(format!("unreadable header: {e}")),
    };
    let positions = header_positions(&header)?;
    let date = match file.partition.first() {
        Some(PartitionValue::Date(date)) => Date32Type::from_naive_date(*date),
        _ => return Err("no prediction date".into()),
    };
    let width = header.len();
    let mut count = 0;
    loop {
        let line = reader.position().line() as i64;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.len() == width => rows.append(file, date, line, &record, &positions),
            Ok(true) => rows.append_error(
                file,
                date,
                line,
                &format!("expected {width} fields, found {}", record.len()),
                &record_text(&record),
            ),
            Err(e) => rows.append_error(file, date, line, &format!("unreadable row: {e}"), ""),
        }
        count += 1;
    }
    Ok(count)
}

/// Where each of [`COLUMNS`] is in the header, or which are missing.
fn header_positions(header: &csv::ByteRecord) -> Result<[usize; 6], String> {
    let names: Vec<String> = header
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_string())
        .collect();
    let mut positions = [0; 6];
    let mut missing = Vec::new();
    for (slot, column) in positions.iter_mut().zip(COLUMNS) {
        match names.iter().position(|n| n == column) {
            Some(at) => *slot = at,
            None => missing.push(column),
        }
    }
    if missing.is_empty() {
        Ok(positions)
    } else {
        Err(format!(
            "header lacks column(s) {}; found `{}`",
            missing.join(", "),
            names.join(",")
        ))
    }
}

fn record_text(record: &csv::ByteRecord) -> String {
    record
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect::<Vec<_>>()
        .join(",")
}

/// Accumulates `weather_rows` rows.
pub struct WeatherRowsBuilder {
    source_file: StringBuilder,
    prediction_date: Date32Builder,
    line: Int64Builder,
    fields: [StringBuilder; 6],
    error: StringBuilder,
    raw: StringBuilder,
    ingested_at: TimestampMicrosecondBuilder,
    ingested_at_value: i64,
}

impl WeatherRowsBuilder {
    fn with_capacity(ingested_at: DateTime<Utc>, rows: usize) -> Self {
        let text = |bytes: usize| StringBuilder::with_capacity(rows, rows * bytes);
        Self {
            source_file: text(20),
            prediction_date: Date32Builder::with_capacity(rows),
            line: Int64Builder::with_capacity(rows),
            fields: [text(25), text(8), text(2), text(10), text(18), text(6)],
            error: StringBuilder::new(),
            raw: StringBuilder::new(),
            ingested_at: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            ingested_at_value: ingested_at.timestamp_micros(),
        }
    }

    fn start_row(&mut self, file: &SourceFile, date: i32, line: i64) {
        self.source_file.append_value(&file.name);
        self.prediction_date.append_value(date);
        self.line.append_value(line);
        self.ingested_at.append_value(self.ingested_at_value);
    }

    fn append(
        &mut self,
        file: &SourceFile,
        date: i32,
        line: i64,
        record: &csv::ByteRecord,
        positions: &[usize; 6],
    ) {
        let fields: Vec<Result<&str, _>> = positions
            .iter()
            .map(|&p| std::str::from_utf8(&record[p]))
            .collect();
        if fields.iter().any(Result::is_err) {
            self.append_error(file, date, line, "not UTF-8", &record_text(record));
            return;
        }
        self.start_row(file, date, line);
        for (builder, field) in self.fields.iter_mut().zip(fields) {
            builder.append_value(field.expect("checked above"));
        }
        self.error.append_null();
        self.raw.append_null();
    }

    fn append_error(&mut self, file: &SourceFile, date: i32, line: i64, error: &str, raw: &str) {
        self.start_row(file, date, line);
        for builder in &mut self.fields {
            builder.append_null();
        }
        self.error.append_value(error);
        self.raw.append_value(raw);
    }

    fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.source_file.finish()),
            Arc::new(self.prediction_date.finish()),
            Arc::new(self.line.finish()),
        ];
        columns.extend(
            self.fields
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.push(Arc::new(self.error.finish()));
        columns.push(Arc::new(self.raw.finish()));
        columns.push(Arc::new(self.ingested_at.finish()));
        RecordBatch::try_new(WEATHER_ROWS.clone(), columns)
    }
}

/// Ingest pending weather files (all of landing with `full`) into bronze.
pub async fn build(
    session: &crate::lake::LakeSession,
    settings: &crate::config::Settings,
    lease: &crate::lake::WriterLease,
    full: bool,
) -> super::Result<crate::ops::report::StepReport> {
    super::engine::build(Arc::new(WeatherFiles), session, settings, lease, full).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};

    fn parse(text: &str) -> Result<RecordBatch, String> {
        let file = WeatherFiles
            .identify(
                "landing/weather/2023/10/03/Pred_2023-10-03.csv",
                text.len() as u64,
            )
            .unwrap();
        let mut rows = WeatherRowsBuilder::with_capacity(Utc::now(), 8);
        parse_csv(&file, text.as_bytes(), &mut rows)?;
        Ok(rows.finish().unwrap())
    }

    fn column(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
        let array = batch.column_by_name(name).unwrap().as_string::<i32>();
        (0..array.len())
            .map(|i| array.is_valid(i).then(|| array.value(i).to_string()))
            .collect()
    }

    #[test]
    fn reads_rows_as_written() {
        let batch = parse(
            "\u{feff}Time,Value,Prediction,Site,Measurement,Unit\n\
             2023-10-03 09:00:00+00:00,18.1,00,\"Aadorf / Tänikon\",PRED_T_2M_ctrl,°C\n\
             2023-10-03 09:00:00+00:00,-99999.0,00,\"\"\"Sion\"\"\",PRED_GLOB_ctrl,Watt/m2\n\
             2023-10-03 10:00:00+00:00,1.0,01,Visp\",PRED_GLOB_ctrl,Watt/m2\n\
             broken,row\n",
        )
        .unwrap();
        assert_eq!(batch.num_rows(), 4);
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            column(&batch, "site"),
            vec![s("Aadorf / Tänikon"), s("\"Sion\""), s("Visp\""), None]
        );
        assert_eq!(
            column(&batch, "value"),
            vec![s("18.1"), s("-99999.0"), s("1.0"), None]
        );
        assert_eq!(
            column(&batch, "error")[3].as_deref(),
            Some("expected 6 fields, found 2")
        );
        assert_eq!(column(&batch, "raw")[3].as_deref(), Some("broken,row"));
        let lines = batch
            .column_by_name("line")
            .unwrap()
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        assert_eq!(lines.values().to_vec(), vec![2, 3, 4, 5]);
    }

    #[test]
    fn header_columns_may_move_but_not_go_missing() {
        let batch = parse("Unit,Site,Time,Value,Measurement,Prediction\nC,Sion,2023-10-03 09:00:00+00:00,1.5,T,00\n").unwrap();
        assert_eq!(column(&batch, "value"), vec![Some("1.5".into())]);
        let error = parse("Time,Value,Prediction,Measurement\n").unwrap_err();
        assert!(error.contains("Site, Unit"), "{error}");
        assert!(parse("").unwrap_err().contains("empty"));
    }
}
