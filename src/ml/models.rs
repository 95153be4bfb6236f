//! The candidate models, on top of smartcore 0.4, with fixed hyper-parameters and seeds.
//!
//! Occupancy (classification) needs a probability for its AUC; smartcore gives none for a
//! forest, and a one-hot one for a tree (`DecisionTreeClassifier::predict_proba` is 1 for the
//! majority class of the leaf). So:
//! - **logistic regression**: smartcore's `LogisticRegression` on standardised features; the
//!   probability is the logistic function of its linear score (what its `predict` thresholds).
//! - **decision tree**: a CART tree grown on the 0/1 label (`DecisionTreeRegressor`). For a 0/1
//!   label the variance it minimises is half the Gini impurity, so its splits are a Gini
//!   classifier's, and a leaf's value is the share of occupied slots in it: the probability.
//! - **random forest**: the mean of such trees, each on its own bootstrap sample with its own
//!   feature subsets (a one-tree smartcore forest per seed, so the trees really differ: one
//!   smartcore forest re-seeds every tree alike). The mean of leaf shares is the probability
//!   scikit-learn's `predict_proba` gives too.
//!
//! Energy (regression) uses the same tree and forest code, and smartcore's `LinearRegression`
//! (SVD solver, which tolerates constant and collinear columns), all on ln(1 + power): the target
//! spans 0.5 W of standby to 2 kW appliance cycles, and on the raw scale a few cycles dominate
//! the squared error while the selection looks at percentage errors. Predictions are
//! transformed back (and are never negative).
//!
//! smartcore 0.4.10 grows a tree two levels shallower than its `max_depth` says; the depths
//! below are what is passed.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{
    LinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

use super::{MlError, Result, Target};

type Matrix = DenseMatrix<f64>;
type Logistic = LogisticRegression<f64, i32, Matrix, Vec<i32>>;
type Linear = LinearRegression<f64, f64, Matrix, Vec<f64>>;
type Tree = DecisionTreeRegressor<f64, f64, Matrix, Vec<f64>>;
type OneTreeForest = RandomForestRegressor<f64, f64, Matrix, Vec<f64>>;

/// Trees of a forest.
pub const FOREST_TREES: u64 = 32;
/// Depth passed to smartcore for single trees and forest trees (about 10 and 8 levels).
const TREE_DEPTH: u16 = 12;
const FOREST_DEPTH: u16 = 10;
const MIN_SAMPLES_LEAF: usize = 20;
/// L2 penalty of the logistic regression (on standardised features).
const LOGISTIC_ALPHA: f64 = 1.0;

/// A candidate model of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Candidate {
    LogisticRegression,
    DecisionTree,
    RandomForest,
    LinearRegression,
    RegressionTree,
    RandomForestRegressor,
}

impl Candidate {
    /// The three candidates of `target`, in the order they are reported.
    pub fn of(target: Target) -> [Candidate; 3] {
        match target {
            Target::Occupancy => [
                Self::LogisticRegression,
                Self::DecisionTree,
                Self::RandomForest,
            ],
            Target::Energy => [
                Self::LinearRegression,
                Self::RegressionTree,
                Self::RandomForestRegressor,
            ],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::LogisticRegression => "logistic_regression",
            Self::DecisionTree => "decision_tree",
            Self::RandomForest => "random_forest",
            Self::LinearRegression => "linear_regression",
            Self::RegressionTree => "regression_tree",
            Self::RandomForestRegressor => "random_forest_regressor",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Target::Occupancy, Target::Energy]
            .into_iter()
            .flat_map(Self::of)
            .find(|c| c.name() == name)
    }

    /// The hyper-parameters, as recorded with a model.
    pub fn parameters(self) -> String {
        match self {
            Self::LogisticRegression => {
                format!("lbfgs, alpha {LOGISTIC_ALPHA}, standardised features")
            }
            Self::LinearRegression => "ordinary least squares, svd, ln(1 + power)".into(),
            Self::RegressionTree => format!(
                "cart, max_depth {TREE_DEPTH}, min_samples_leaf {MIN_SAMPLES_LEAF}, ln(1 + power)"
            ),
            Self::DecisionTree => {
                format!("cart, max_depth {TREE_DEPTH}, min_samples_leaf {MIN_SAMPLES_LEAF}")
            }
            Self::RandomForest => format!(
                "{FOREST_TREES} trees, seeds 0..{FOREST_TREES}, max_depth {FOREST_DEPTH}, \
                 min_samples_leaf {MIN_SAMPLES_LEAF}, sqrt(features) per split"
            ),
            Self::RandomForestRegressor => format!(
                "{FOREST_TREES} trees, seeds 0..{FOREST_TREES}, max_depth {FOREST_DEPTH}, \
                 min_samples_leaf {MIN_SAMPLES_LEAF}, features/3 per split, ln(1 + power)"
            ),
        }
    }

    /// Fit on rows `x` (row-major) and targets `y` (0/1 for occupancy).
    pub fn fit(self, target: Target, x: &[Vec<f64>], y: &[f64]) -> Result<Fitted> {
        let y: Vec<f64> = match target {
            Target::Occupancy => y.to_vec(),
            Target::Energy => y.iter().map(|v| v.max(0.0).ln_1p()).collect(),
        };
        let y = y.as_slice();
        let failed = |e: smartcore::error::Failed| MlError::Training {
            target,
            model: self.name().into(),
            message: e.to_string(),
        };
        if x.is_empty() {
            return Err(MlError::Invalid {
                target,
                message: format!("no training rows for {}", self.name()),
            });
        }
        let fitted = match self {
            Self::LogisticRegression => {
                let scaler = Scaler::fit(x);
                let labels: Vec<i32> = y.iter().map(|v| i32::from(*v >= 0.5)).collect();
                let parameters = LogisticRegressionParameters::default().with_alpha(LOGISTIC_ALPHA);
                let model = Logistic::fit(&scaler.matrix(x).map_err(failed)?, &labels, parameters)
                    .map_err(failed)?;
                Fitted::Logistic { model, scaler }
            }
            Self::LinearRegression => {
                let parameters = LinearRegressionParameters::default()
                    .with_solver(LinearRegressionSolverName::SVD);
                Fitted::Linear(
                    Linear::fit(&matrix(x).map_err(failed)?, &y.to_vec(), parameters)
                        .map_err(failed)?,
                )
            }
            Self::DecisionTree | Self::RegressionTree => {
                let parameters = DecisionTreeRegressorParameters::default()
                    .with_max_depth(TREE_DEPTH)
                    .with_min_samples_leaf(MIN_SAMPLES_LEAF);
                Fitted::Tree(
                    Tree::fit(&matrix(x).map_err(failed)?, &y.to_vec(), parameters)
                        .map_err(failed)?,
                )
            }
            Self::RandomForest | Self::RandomForestRegressor => {
                let data = matrix(x).map_err(failed)?;
                let y = y.to_vec();
                // Features tried per split: √M for classification, M/3 for regression (the
                // usual defaults of both).
                let columns = x[0].len();
                let per_split = match target {
                    Target::Occupancy => (columns as f64).sqrt() as usize,
                    Target::Energy => columns / 3,
                }
                .max(1);
                let trees = (0..FOREST_TREES)
                    .into_par_iter()
                    .map(|seed| {
                        let parameters = RandomForestRegressorParameters::default()
                            .with_n_trees(1)
                            .with_seed(seed)
                            .with_max_depth(FOREST_DEPTH)
                            .with_min_samples_leaf(MIN_SAMPLES_LEAF)
                            .with_m(per_split);
                        OneTreeForest::fit(&data, &y, parameters)
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(failed)?;
                Fitted::Forest(trees)
            }
        };
        Ok(fitted)
    }
}

fn matrix(x: &[Vec<f64>]) -> std::result::Result<Matrix, smartcore::error::Failed> {
    let columns = x.first().map_or(0, Vec::len);
    let flat: Vec<f64> = x.iter().flatten().copied().collect();
    DenseMatrix::new(x.len(), columns, flat, false)
}

/// Standardisation (z-scores) learnt on the training rows; a constant column is only centred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Scaler {
    fn fit(x: &[Vec<f64>]) -> Self {
        let n = x.len() as f64;
        let columns = x.first().map_or(0, Vec::len);
        let mean: Vec<f64> = (0..columns)
            .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n)
            .collect();
        let scale = (0..columns)
            .map(|j| {
                let variance = x.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
                if variance > 1e-12 {
                    variance.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        Self { mean, scale }
    }

    fn matrix(&self, x: &[Vec<f64>]) -> std::result::Result<Matrix, smartcore::error::Failed> {
        let scaled: Vec<Vec<f64>> = x
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(j, v)| (v - self.mean[j]) / self.scale[j])
                    .collect()
            })
            .collect();
        matrix(&scaled)
    }
}

/// A trained model. Occupancy models predict the probability of an occupied slot, energy models
/// the mean power.
#[derive(Debug, Serialize, Deserialize)]
pub enum Fitted {
    Logistic { model: Logistic, scaler: Scaler },
    Linear(Linear),
    Tree(Tree),
    Forest(Vec<OneTreeForest>),
}

impl Fitted {
    pub fn predict(&self, target: Target, x: &[Vec<f64>]) -> Result<Vec<f64>> {
        let failed = |e: smartcore::error::Failed| MlError::Training {
            target,
            model: "prediction".into(),
            message: e.to_string(),
        };
        if x.is_empty() {
            return Ok(Vec::new());
        }
        let values = match self {
            Self::Logistic { model, scaler } => {
                let data = scaler.matrix(x).map_err(failed)?;
                let weights = model.coefficients();
                let intercept = *model.intercept().get((0, 0));
                // The probability of the second class (1 = occupied: classes are sorted).
                let (rows, columns) = data.shape();
                (0..rows)
                    .map(|i| {
                        let z = intercept
                            + (0..columns)
                                .map(|j| *weights.get((0, j)) * *data.get((i, j)))
                                .sum::<f64>();
                        1.0 / (1.0 + (-z).exp())
                    })
                    .collect()
            }
            Self::Linear(model) => model.predict(&matrix(x).map_err(failed)?).map_err(failed)?,
            Self::Tree(model) => model.predict(&matrix(x).map_err(failed)?).map_err(failed)?,
            Self::Forest(trees) => {
                let data = matrix(x).map_err(failed)?;
                let predictions = trees
                    .par_iter()
                    .map(|tree| tree.predict(&data))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(failed)?;
                let count = predictions.len() as f64;
                (0..x.len())
                    .map(|i| predictions.iter().map(|p| p[i]).sum::<f64>() / count)
                    .collect()
            }
        };
        Ok(match target {
            // A tree's leaf share is already in [0, 1]; the clamp only guards rounding.
            Target::Occupancy => values.into_iter().map(|p| p.clamp(0.0, 1.0)).collect(),
            Target::Energy => values.into_iter().map(|v| v.exp_m1().max(0.0)).collect(),
        })
    }
}
