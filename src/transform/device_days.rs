//! `silver.device_days` from `silver.sensor_events`, incrementally by the same (apartment, date)
//! partitions: a changed sensor_events partition (added, replaced or deleted files) recomputes
//! its device_days partition, found from the Delta log alone.

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field};
use deltalake::DeltaTable;

use super::Result;
use super::incremental::Derivation;
use crate::catalog::queries::{DEVICE_DAYS, QueryFile};
use crate::lake::{AddedFile, Retention, TableRef, changed_files_since};

pub fn table() -> TableRef {
    TableRef::silver("device_days")
}

/// The derivation of `silver.device_days`.
pub struct DeviceDays;

#[async_trait]
impl Derivation for DeviceDays {
    fn input(&self) -> TableRef {
        super::sensor_events::table()
    }
    fn output(&self) -> TableRef {
        table()
    }
    fn query(&self) -> QueryFile {
        DEVICE_DAYS
    }
    fn partition_fields(&self) -> Vec<Field> {
        vec![
            Field::new("apartment", DataType::Utf8, false),
            Field::new("date", DataType::Date32, false),
        ]
    }
    async fn changes(&self, input: &DeltaTable, consumed: u64) -> Result<Option<Vec<AddedFile>>> {
        Ok(changed_files_since(input, consumed, Retention::Ignore).await?)
    }
}
