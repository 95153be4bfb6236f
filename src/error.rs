//! The crate-level error: one variant per library area, each area with its own error enum.
//! Messages name the file, row, table or host concerned; secrets are masked at the binary edge.

use crate::bronze::BronzeError;
use crate::catalog::CatalogError;
use crate::config::ConfigError;
use crate::generate::GenerateError;
use crate::lake::LakeError;
use crate::ml::MlError;
use crate::sources::SourceError;
use crate::transform::TransformError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Bronze(#[from] BronzeError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error(transparent)]
    Generate(#[from] GenerateError),
    #[error(transparent)]
    Ml(#[from] MlError),
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::Transform(e.into())
    }
}

impl Error {
    /// The process exit code this error calls for (`ops::exit`).
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Config(e) => e.exit_code(),
            Self::Catalog(e) => e.exit_code(),
            Self::Lake(e) => e.exit_code(),
            Self::Source(e) => e.exit_code(),
            Self::Bronze(e) => e.exit_code(),
            Self::Transform(e) => e.exit_code(),
            Self::Generate(GenerateError::Invalid(_) | GenerateError::NotGenerated(_)) => {
                crate::ops::exit::CONFIG
            }
            Self::Generate(GenerateError::Io { .. }) | Self::Io { .. } => crate::ops::exit::FAILURE,
            Self::Ml(e) => e.exit_code(),
            Self::Publish(e) => e.exit_code(),
        }
    }

    /// A configuration error of the command line itself.
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config(ConfigError(message.into()))
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
