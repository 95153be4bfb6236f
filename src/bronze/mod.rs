//! Bronze: raw landing files turned into generic, lossless Delta tables. Bronze knows the shape
//! of its sources (JSON leaves, CSV rows) but no field meanings; those live in silver's SQL.

pub mod engine;
pub mod flatten;
pub mod reference;
pub mod sensors;
pub mod weather;

use crate::lake::LakeError;
use crate::transform::TransformError;

pub type Result<T, E = BronzeError> = std::result::Result<T, E>;

impl From<datafusion::error::DataFusionError> for BronzeError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::Lake(e.into())
    }
}

impl From<datafusion::arrow::error::ArrowError> for BronzeError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Self::Lake(e.into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BronzeError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error("reading landing file {path}: {source}")]
    Read {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("worker thread failed: {0}")]
    Worker(String),
}

impl BronzeError {
    /// The process exit code this error calls for.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Lake(e) => e.exit_code(),
            Self::Transform(e) => e.exit_code(),
            Self::Read { .. } | Self::Worker(_) => crate::ops::exit::FAILURE,
        }
    }
}
