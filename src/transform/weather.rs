//! `silver.weather_forecasts` and `silver.weather_file_stats` from `bronze.weather_rows`,
//! incrementally by `prediction_date`: a forecast file is one partition of bronze and of both
//! outputs, so the partitions to recompute are the partition values of the new bronze files, and
//! the output filter alone narrows the input scan (no data is read to find them).

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::logical_expr::Expr;
use deltalake::DeltaTable;

use super::Result;
use super::incremental::{Derivation, partitions_of_files, partitions_of_table};
use super::partitions::PartitionSet;
use super::queries::{QueryFile, WEATHER_FILE_STATS, WEATHER_FORECASTS};
use crate::lake::{AddedFile, LakeSession, TableRef};

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
        crate::bronze::weather::rows_table()
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
    async fn touched(
        &self,
        _session: &LakeSession,
        _input: &DeltaTable,
        files: Vec<AddedFile>,
    ) -> Result<PartitionSet> {
        Ok(partitions_of_files(&files, &self.partition_fields()))
    }
    async fn all(&self, _session: &LakeSession, input: &DeltaTable) -> Result<PartitionSet> {
        partitions_of_table(input, &self.partition_fields())
    }
    fn input_filter(&self, _chunk: &PartitionSet) -> Option<Expr> {
        None
    }
}
