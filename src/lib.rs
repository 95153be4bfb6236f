//! datacycle: a lakehouse for apartment IoT data.
//!
//! Sources (`sources`) land raw files in the lake (`lake`), `bronze` turns them into generic Delta
//! tables, `transform` runs the SQL of `queries/` to derive silver and gold, `ml` trains and applies
//! the occupancy and energy models on gold's feature tables, `publish` serves
//! gold from PostgreSQL, and `ops`
//! holds what every step shares: configuration, logging, secrets, progress and run reports.
//! `cli` is the command-line edge; `generate` produces realistic synthetic sources.

pub mod bronze;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod error;
pub mod gdpr;
pub mod generate;
pub mod lake;
pub mod ml;
pub mod ops;
pub mod publish;
pub mod schedule;
pub mod sources;
pub mod transform;

pub use error::{Error, Result};

#[cfg(test)]
mod architecture;
