//! Occupancy and energy models (SPEC §7): features come from the gold feature tables
//! (`queries/ml/`), models from smartcore.
//!
//! - `benchmark`: a chronological 80/20 split, three candidates and two baselines per target,
//!   scored and one candidate selected; written to `gold.ml_benchmark`, plots on request.
//! - `predict`: the selected model of each target trained on all history; backtest rows for the
//!   test period and true forecasts past the last observed slot, written to
//!   `gold.fact_prediction`, the model saved under `_models/`.
//!
//! Everything is deterministic: fixed seeds, rows in time order, so the same data gives the same
//! metrics and predictions, and a run id derived from the input versions replaces its own rows.

pub mod benchmark;
pub mod dataset;
pub mod metrics;
pub mod models;
pub mod plot;
pub mod predict;
mod store;

use std::fmt;

use crate::catalog::queries::{self, QueryFile};
use crate::lake::{LakeError, TableRef};
use crate::transform::TransformError;

pub type Result<T, E = MlError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error("ml {target}: no rows in {table} (build gold first: `datacycle build gold`)")]
    NoData { target: Target, table: String },
    #[error("ml {target}: {message}")]
    Invalid { target: Target, message: String },
    #[error("ml {target}: training {model}: {message}")]
    Training {
        target: Target,
        model: String,
        message: String,
    },
    #[error("ml: writing {path}: {message}")]
    Output { path: String, message: String },
}

impl From<datafusion::error::DataFusionError> for MlError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::Transform(e.into())
    }
}

impl From<datafusion::arrow::error::ArrowError> for MlError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Self::Transform(datafusion::error::DataFusionError::from(e).into())
    }
}

impl MlError {
    /// The process exit code this error calls for.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Lake(e) => e.exit_code(),
            Self::Transform(e) => e.exit_code(),
            Self::NoData { .. } | Self::Invalid { .. } => crate::ops::exit::CONFIG,
            Self::Training { .. } | Self::Output { .. } => crate::ops::exit::FAILURE,
        }
    }
}

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Whether a room is occupied in a 15-minute slot (classification).
    Occupancy,
    /// A room's mean power in a 15-minute slot (regression).
    Energy,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Target {
    pub const ALL: [Target; 2] = [Target::Occupancy, Target::Energy];

    pub fn name(self) -> &'static str {
        match self {
            Self::Occupancy => "occupancy",
            Self::Energy => "energy",
        }
    }

    pub fn feature_table(self) -> TableRef {
        TableRef::gold(match self {
            Self::Occupancy => "ml_occupancy_features",
            Self::Energy => "ml_energy_features",
        })
    }

    fn training_set(self) -> QueryFile {
        match self {
            Self::Occupancy => queries::OCCUPANCY_TRAINING_SET,
            Self::Energy => queries::ENERGY_TRAINING_SET,
        }
    }

    pub fn is_classification(self) -> bool {
        self == Self::Occupancy
    }

    /// Forecast slots past the last observed one when `--horizon-slots` is not given: an hour
    /// of occupancy, a day of energy.
    pub fn default_horizon(self) -> usize {
        match self {
            Self::Occupancy => 4,
            Self::Energy => 96,
        }
    }
}
