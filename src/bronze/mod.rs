//! Bronze: raw landing files turned into generic, lossless Delta tables. Bronze knows the shape
//! of its sources (JSON leaves, CSV rows) but no field meanings; those live in silver's SQL.

pub mod engine;
pub mod flatten;
pub mod reference;
pub mod retention;
pub mod sensors;
pub mod weather;

use crate::catalog::CatalogError;
use crate::lake::LakeError;

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
    Catalog(#[from] CatalogError),
    #[error("reading landing file {path}: {source}")]
    Read {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("worker thread failed: {0}")]
    Worker(String),
    /// Any failure of one bronze step (`bronze sensors`, `bronze weather`), named.
    #[error("{step}: {source}")]
    Step {
        step: String,
        source: Box<BronzeError>,
    },
}

impl BronzeError {
    /// This error as a failure of bronze step `step`.
    pub fn in_step(self, step: &str) -> Self {
        match self {
            Self::Step { .. } => self,
            source => Self::Step {
                step: step.to_string(),
                source: Box::new(source),
            },
        }
    }

    /// The process exit code this error calls for.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Lake(e) => e.exit_code(),
            Self::Catalog(e) => e.exit_code(),
            Self::Read { .. } | Self::Worker(_) => crate::ops::exit::FAILURE,
            Self::Step { source, .. } => source.exit_code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_its_step_and_keeps_its_exit_code() {
        let error = BronzeError::from(datafusion::error::DataFusionError::Plan("bad".into()))
            .in_step("bronze sensors");
        assert_eq!(
            error.to_string(),
            "bronze sensors: SQL engine: Error during planning: bad"
        );
        let lost = BronzeError::Lake(LakeError::LeaseLost { holder: "x".into() })
            .in_step("bronze weather");
        assert_eq!(lost.exit_code(), crate::ops::exit::LOCKED);
    }
}
