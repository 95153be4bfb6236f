//! Sources: copying raw files from where they are produced into the lake's landing zone.

pub mod mysql;
pub mod reference;
pub mod remote;
pub mod sftp;
pub mod smb;
pub mod weather;

use std::path::PathBuf;

use crate::lake::LakeError;

pub type Result<T, E = SourceError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{variable} is not set: this source is not configured")]
    NotConfigured { variable: &'static str },
    #[error("the share {path} is not reachable: {source}")]
    ShareUnavailable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Remote(String),
    #[error(transparent)]
    Lake(#[from] LakeError),
}

impl SourceError {
    /// The process exit code this error calls for.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::NotConfigured { .. } => crate::ops::exit::CONFIG,
            Self::ShareUnavailable { .. } | Self::Read { .. } | Self::Remote(_) => {
                crate::ops::exit::FAILURE
            }
            Self::Lake(e) => e.exit_code(),
        }
    }
}

impl From<object_store::Error> for SourceError {
    fn from(e: object_store::Error) -> Self {
        Self::Lake(LakeError::from(e))
    }
}
