//! `gdpr export`: every row of one apartment from every layer — landing files as they arrived,
//! each table as Parquet (types kept) and CSV (for people) — and a `manifest.json` naming the
//! tables, rows, time range, the lake version of each table read and the SHA-256 of every file.
//!
//! The export is written into `<out>.partial` and renamed to `<out>` when complete, so an
//! interrupted export leaves no directory that looks finished; running it again starts over.

use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::logical_expr::{cast, col};
use datafusion::parquet::arrow::ArrowWriter;
use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::subject::{ApartmentColumn, Subject};
use crate::error::{Error, Result};
use crate::lake::{LakeError, LakeSession, Layer, TableRef};
use crate::ops::report::StepReport;

/// The landing column holding a file's bytes, written out as the file itself.
const CONTENT: &str = "content";
/// The landing column naming the file.
const SOURCE_FILE: &str = "source_file";

/// What `manifest.json` says about an export.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// The apartment exported.
    pub apartment: String,
    pub exported_at: chrono::DateTime<chrono::Utc>,
    /// The lake read (credentials never appear in a lake URL).
    pub lake: String,
    /// Earliest and latest instant of any exported row.
    pub time_range: Option<TimeRange>,
    pub tables: Vec<ExportedTable>,
    /// Landing files, byte for byte as they arrived.
    pub landing_files: Vec<ExportedFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportedTable {
    pub table: String,
    /// The Delta version read.
    pub version: u64,
    /// The column that ties a row to the apartment.
    pub selected_by: String,
    pub rows: u64,
    pub time_range: Option<TimeRange>,
    pub files: Vec<ExportedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TimeRange {
    /// The column the range is of (the table's first date or timestamp column).
    pub column: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportedFile {
    /// Relative to the export directory.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Export `apartment` from every table of `session` into the new directory `out`; one step
/// report per table that holds rows of it.
pub async fn export(
    session: &LakeSession,
    apartment: &str,
    out: &Path,
) -> Result<(Manifest, Vec<StepReport>)> {
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::config(format!(
            "{} exists and is not empty: export into a new directory",
            out.display()
        )));
    }
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| io(&partial, e))?;
    }
    let subject = Subject::find(session, apartment).await?;
    let mut manifest = Manifest {
        apartment: apartment.to_string(),
        exported_at: crate::ops::clock::now(),
        lake: session.lake().url().to_string(),
        time_range: None,
        tables: Vec::new(),
        landing_files: Vec::new(),
    };
    let mut reports = Vec::new();
    let tables = session.tables();
    let progress = crate::ops::progress::bar(tables.len() as u64, "export", "tables");
    for table in tables {
        progress.inc(1);
        let started = Instant::now();
        let Some((rows, column)) = subject.rows(session, &table).await? else {
            continue;
        };
        let version = session.registered(&table).map(|r| r.version).unwrap_or(0);
        let (exported, landing_files) =
            export_table(&partial, &table, rows, column, version).await?;
        if exported.rows == 0 {
            continue;
        }
        let mut report = StepReport::new(format!("export {table}"));
        report.rows = exported.rows;
        report.files = (exported.files.len() + landing_files.len()) as u64;
        report.bytes = exported
            .files
            .iter()
            .chain(&landing_files)
            .map(|f| f.bytes)
            .sum();
        reports.push(report.finish(started));
        manifest.landing_files.extend(landing_files);
        manifest.tables.push(exported);
    }
    progress.finish_and_clear();
    if manifest.tables.is_empty() {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(Error::config(
            "that apartment has no rows in any table of the lake (names are case-sensitive, as \
             in HOUSE_MAP)",
        ));
    }
    manifest.time_range = overall_range(&manifest.tables);
    let text = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    let manifest_path = partial.join("manifest.json");
    std::fs::write(&manifest_path, text).map_err(|e| io(&manifest_path, e))?;
    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| io(out, e))?;
    }
    std::fs::rename(&partial, out).map_err(|e| io(out, e))?;
    Ok((manifest, reports))
}

/// Write the rows of one table as Parquet and CSV (and, for landing, each file's bytes).
async fn export_table(
    dir: &Path,
    table: &TableRef,
    rows: DataFrame,
    column: ApartmentColumn,
    version: u64,
) -> Result<(ExportedTable, Vec<ExportedFile>)> {
    let time_range = time_range(&rows).await?;
    let layer_dir = dir.join(table.layer.as_str());
    std::fs::create_dir_all(&layer_dir).map_err(|e| io(&layer_dir, e))?;
    let landing = table.layer == Layer::Landing;
    let parquet_path = layer_dir.join(format!("{}.parquet", table.name));
    let csv_path = layer_dir.join(format!("{}.csv", table.name));
    let mut stream = rows.execute_stream().await.map_err(LakeError::from)?;
    let mut writers: Option<(
        ArrowWriter<std::fs::File>,
        datafusion::arrow::csv::Writer<_>,
    )> = None;
    let mut landing_files = Vec::new();
    let mut count = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(LakeError::from)?;
        if batch.num_rows() == 0 {
            continue;
        }
        count += batch.num_rows() as u64;
        if landing {
            landing_files.extend(write_landing_files(dir, &batch)?);
        }
        let batch = without_binary(batch)?;
        if writers.is_none() {
            let parquet = create(&parquet_path)?;
            let parquet = ArrowWriter::try_new(parquet, batch.schema(), None)
                .map_err(|e| Error::io("writing Parquet", std::io::Error::other(e)))?;
            let csv = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(create(&csv_path)?);
            writers = Some((parquet, csv));
        }
        let (parquet, csv) = writers.as_mut().expect("just created");
        parquet
            .write(&batch)
            .map_err(|e| Error::io("writing Parquet", std::io::Error::other(e)))?;
        csv.write(&batch)
            .map_err(|e| Error::io("writing CSV", std::io::Error::other(e)))?;
    }
    let mut files = Vec::new();
    if let Some((parquet, csv)) = writers {
        parquet
            .close()
            .map_err(|e| Error::io("writing Parquet", std::io::Error::other(e)))?;
        drop(csv);
        files.push(exported_file(dir, &parquet_path)?);
        files.push(exported_file(dir, &csv_path)?);
    }
    let exported = ExportedTable {
        table: table.to_string(),
        version,
        selected_by: column.name().to_string(),
        rows: count,
        time_range,
        files,
    };
    Ok((exported, landing_files))
}

/// The files of a landing batch, written under `landing/files/` as they arrived.
fn write_landing_files(dir: &Path, batch: &RecordBatch) -> Result<Vec<ExportedFile>> {
    let (Some(names), Some(contents)) = (
        batch.column_by_name(SOURCE_FILE),
        batch.column_by_name(CONTENT),
    ) else {
        return Ok(Vec::new());
    };
    let names =
        datafusion::arrow::compute::cast(names, &DataType::Utf8).map_err(LakeError::from)?;
    let contents =
        datafusion::arrow::compute::cast(contents, &DataType::Binary).map_err(LakeError::from)?;
    let (names, contents) = (names.as_string::<i32>(), contents.as_binary::<i32>());
    let files_dir = dir.join("landing/files");
    std::fs::create_dir_all(&files_dir).map_err(|e| io(&files_dir, e))?;
    let mut written = Vec::new();
    for i in (0..batch.num_rows()).filter(|i| names.is_valid(*i) && contents.is_valid(*i)) {
        // The name only, never a path from the data.
        let name = Path::new(names.value(i))
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("file-{i}"));
        let mut path = files_dir.join(&name);
        // The same file landed twice (changed on the share): keep both.
        let mut copy = 1;
        while path.exists() {
            copy += 1;
            path = files_dir.join(format!("{name}.{copy}"));
        }
        std::fs::write(&path, contents.value(i)).map_err(|e| io(&path, e))?;
        written.push(exported_file(dir, &path)?);
    }
    Ok(written)
}

/// `batch` without its binary columns (landing's bytes are exported as files; CSV has no
/// binary type).
fn without_binary(batch: RecordBatch) -> Result<RecordBatch> {
    let keep: Vec<usize> = (0..batch.num_columns())
        .filter(|i| {
            !matches!(
                batch.schema().field(*i).data_type(),
                DataType::Binary | DataType::BinaryView | DataType::LargeBinary
            )
        })
        .collect();
    Ok(batch.project(&keep).map_err(LakeError::from)?)
}

/// Earliest and latest value of the first date or timestamp column of `rows`, as text.
async fn time_range(rows: &DataFrame) -> Result<Option<TimeRange>> {
    let schema: &Schema = rows.schema().as_arrow();
    let Some(field) = schema
        .fields()
        .iter()
        .find(|f| matches!(f.data_type(), DataType::Date32 | DataType::Timestamp(_, _)))
    else {
        return Ok(None);
    };
    let name = field.name();
    let batches = rows
        .clone()
        .aggregate(
            vec![],
            vec![
                cast(min(col(name)), DataType::Utf8).alias("from"),
                cast(max(col(name)), DataType::Utf8).alias("to"),
            ],
        )
        .map_err(LakeError::from)?
        .collect()
        .await
        .map_err(LakeError::from)?;
    let Some(batch) = batches.first().filter(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let (from, to) = (
        batch.column(0).as_string::<i32>(),
        batch.column(1).as_string::<i32>(),
    );
    if from.is_null(0) || to.is_null(0) {
        return Ok(None);
    }
    Ok(Some(TimeRange {
        column: name.clone(),
        from: from.value(0).to_string(),
        to: to.value(0).to_string(),
    }))
}

/// The range over every table's range (timestamps and dates compare as ISO text).
fn overall_range(tables: &[ExportedTable]) -> Option<TimeRange> {
    let ranges: Vec<&TimeRange> = tables
        .iter()
        .filter_map(|t| t.time_range.as_ref())
        .collect();
    Some(TimeRange {
        column: "any".into(),
        from: ranges.iter().map(|r| r.from.clone()).min()?,
        to: ranges.iter().map(|r| r.to.clone()).max()?,
    })
}

fn exported_file(dir: &Path, path: &Path) -> Result<ExportedFile> {
    let bytes = std::fs::read(path).map_err(|e| io(path, e))?;
    Ok(ExportedFile {
        path: path
            .strip_prefix(dir)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned(),
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}

fn create(path: &Path) -> Result<std::fs::File> {
    std::fs::File::create(path).map_err(|e| io(path, e))
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("writing {}", path.display()), e)
}
