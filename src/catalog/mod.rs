//! What datacycle knows before it reads any data: the embedded queries, the reference CSVs, the
//! declared tables (names, keys, partitioning, inputs) and the surrogate-key functions. Every
//! layer above reads its tables and queries from here.

pub mod keys;
pub mod queries;
pub mod reference;
pub mod tables;

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("reference table {name}: {message}")]
    Reference { name: String, message: String },
}

impl CatalogError {
    /// The process exit code this error calls for.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Reference { .. } => crate::ops::exit::FAILURE,
        }
    }
}
