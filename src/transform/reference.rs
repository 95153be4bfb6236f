//! Reference tables: small CSVs (room map, field map, outlier bounds, ...) registered in the
//! session as `reference.<name>`, with column types inferred from the CSV.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;

use super::Result;
use crate::catalog::reference::{REFERENCES, load};
use crate::config::HouseMap;

pub const SCHEMA: &str = "reference";

/// Register every reference table in `ctx` under the `reference` schema.
pub fn register(ctx: &SessionContext, dir: Option<&Path>) -> Result<()> {
    let catalog = ctx.catalog("datafusion").expect("default catalog exists");
    if catalog.schema(SCHEMA).is_none() {
        catalog.register_schema(SCHEMA, Arc::new(MemorySchemaProvider::new()))?;
    }
    for reference in REFERENCES {
        register_batch(ctx, reference.name, load(reference, dir)?)?;
    }
    Ok(())
}

/// Register `batch` as `reference.<name>`, its text columns as `Utf8View` like the lake's
/// scans: joins then take a 16-byte view per output row instead of copying the string, and
/// nothing casts between the two string types per row.
fn register_batch(ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<()> {
    use datafusion::arrow::compute::cast;
    let error = crate::lake::LakeError::from;
    let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| match field.data_type() {
            DataType::Utf8 => Ok((
                field.as_ref().clone().with_data_type(DataType::Utf8View),
                cast(column, &DataType::Utf8View)?,
            )),
            _ => Ok((field.as_ref().clone(), column.clone())),
        })
        .collect::<Result<Vec<_>, datafusion::arrow::error::ArrowError>>()
        .map_err(error)?
        .into_iter()
        .unzip();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(error)?;
    let name = TableReference::partial(SCHEMA, name);
    ctx.deregister_table(name.clone())?;
    ctx.register_table(
        name,
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    Ok(())
}

/// Register HOUSE_MAP as `reference.house_map(house, apartment)`, for queries that join source
/// data naming houses (the reference database's `houseName`).
pub fn register_house_map(ctx: &SessionContext, house_map: &HouseMap) -> Result<()> {
    let entries = house_map.entries();
    register_text_table(
        ctx,
        "house_map",
        &["house", "apartment"],
        entries
            .iter()
            .map(|e| vec![e.house.clone(), e.apartment.clone()])
            .collect(),
    )
}

/// Register WEATHER_SITES as `reference.weather_sites(position, site_name)`, position from '1'.
pub fn register_weather_sites(ctx: &SessionContext, sites: &[String]) -> Result<()> {
    register_text_table(
        ctx,
        "weather_sites",
        &["position", "site_name"],
        sites
            .iter()
            .enumerate()
            .map(|(i, site)| vec![(i + 1).to_string(), site.clone()])
            .collect(),
    )
}

/// Register `reference.<name>` holding `rows` of text `columns`.
fn register_text_table(
    ctx: &SessionContext,
    name: &str,
    columns: &[&str],
    rows: Vec<Vec<String>>,
) -> Result<()> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let arrays = (0..columns.len())
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r[i].as_str()),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema, arrays).map_err(crate::lake::LakeError::from)?;
    register_batch(ctx, name, batch)
}
