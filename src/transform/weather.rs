//! `silver.weather_forecasts` and `silver.weather_file_stats` from `bronze.weather_rows`,
//! incrementally by `prediction_date`: a forecast file is one partition of bronze and of both
//! outputs, so the partitions to recompute are the partition values of the new bronze files, and
//! the output filter alone narrows the input scan (no data is read to find them).

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field};

use super::incremental::Derivation;
use crate::catalog::queries::{QueryFile, WEATHER_FILE_STATS, WEATHER_FORECASTS};
use crate::lake::TableRef;

/// A silver weather table.
pub struct WeatherDerivation {
    table: &'static str,
    query: QueryFile,
}

/// `silver.weather_forecasts`.
pub const FORECASTS: WeatherDerivation = WeatherDerivation {
    table: "weather_forecasts",
    query: WEATHER_FORECASTS,
};
/// `silver.weather_file_stats`.
pub const FILE_STATS: WeatherDerivation = WeatherDerivation {
    table: "weather_file_stats",
    query: WEATHER_FILE_STATS,
};

#[async_trait]
impl Derivation for WeatherDerivation {
    fn input(&self) -> TableRef {
        crate::catalog::tables::weather_rows()
    }
    fn output(&self) -> TableRef {
        TableRef::silver(self.table)
    }
    fn query(&self) -> QueryFile {
        self.query
    }
    fn partition_fields(&self) -> Vec<Field> {
        vec![Field::new("prediction_date", DataType::Date32, false)]
    }
    fn unindexed_columns(&self) -> &'static [&'static str] {
        &["site", "measurement", "unit", "source_file"]
    }
}
