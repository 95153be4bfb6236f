//! The reference CSVs of `queries/reference/` (field map, room map, outlier bounds, tariffs, ...),
//! compiled into the binary; `REFERENCE_DIR` overrides them by name.

use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::csv::ReaderBuilder;
use datafusion::arrow::csv::reader::Format;

use super::{CatalogError, Result};

/// A reference CSV of `queries/reference/`, registered as `reference.<name>`.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceFile {
    pub name: &'static str,
    pub csv: &'static str,
}

macro_rules! reference {
    ($name:literal) => {
        ReferenceFile {
            name: $name,
            csv: include_str!(concat!("../../queries/reference/", $name, ".csv")),
        }
    };
}

pub const REFERENCES: &[ReferenceFile] = &[
    reference!("sensor_fields"),
    reference!("room_map"),
    reference!("outlier_bounds"),
    reference!("weather_measurements"),
    reference!("tariffs"),
    reference!("holidays"),
    reference!("room_types"),
    reference!("ml_occupancy_rooms"),
];

/// Where reference CSVs may be overridden (`REFERENCE_DIR`).
pub fn reference_dir() -> Option<PathBuf> {
    std::env::var_os("REFERENCE_DIR").map(PathBuf::from)
}

/// The CSV text of a reference table: from `dir` when it holds `<name>.csv`, else built in.
fn csv_text(reference: &ReferenceFile, dir: Option<&Path>) -> Result<(String, String)> {
    if let Some(dir) = dir {
        let path: PathBuf = dir.join(format!("{}.csv", reference.name));
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| CatalogError::Reference {
                name: path.display().to_string(),
                message: e.to_string(),
            })?;
            return Ok((text, path.display().to_string()));
        }
    }
    Ok((
        reference.csv.to_string(),
        format!("queries/reference/{}.csv", reference.name),
    ))
}

/// Parse one reference CSV.
pub fn load(reference: &ReferenceFile, dir: Option<&Path>) -> Result<RecordBatch> {
    let (text, origin) = csv_text(reference, dir)?;
    let error = |e: datafusion::arrow::error::ArrowError| CatalogError::Reference {
        name: origin.clone(),
        message: e.to_string(),
    };
    let format = Format::default().with_header(true);
    let (schema, _) = format
        .infer_schema(Cursor::new(text.as_bytes()), None)
        .map_err(error)?;
    let schema = Arc::new(schema);
    let reader = ReaderBuilder::new(schema.clone())
        .with_format(format)
        .build(Cursor::new(text.as_bytes()))
        .map_err(error)?;
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().map_err(error)?;
    datafusion::arrow::compute::concat_batches(&schema, &batches).map_err(error)
}

/// The sensor categories of the field map: the top-level JSON members the bronze flattener
/// checks structurally.
pub fn sensor_categories(dir: Option<&Path>) -> Result<HashSet<String>> {
    let reference = REFERENCES
        .iter()
        .find(|r| r.name == "sensor_fields")
        .expect("sensor_fields is built in");
    let batch = load(reference, dir)?;
    let column = batch
        .column_by_name("category")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| CatalogError::Reference {
            name: "sensor_fields".into(),
            message: "needs a text column `category`".into(),
        })?;
    Ok((0..column.len())
        .filter(|&i| column.is_valid(i))
        .map(|i| column.value(i).to_string())
        .collect())
}
