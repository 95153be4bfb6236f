//! Bronze: raw landing files turned into generic, lossless Delta tables. Bronze knows the shape
//! of its sources (JSON leaves, CSV rows) but no field meanings; those live in silver's SQL.

pub mod flatten;
pub mod schema;
pub mod sensors;

use crate::lake::LakeError;
use crate::transform::TransformError;

pub type Result<T, E = BronzeError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum BronzeError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error("SQL engine: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("reading landing file {path}: {source}")]
    Read {
        path: String,
        source: object_store::Error,
    },
    #[error("worker thread failed: {0}")]
    Worker(String),
}
