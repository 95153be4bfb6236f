//! SQL transforms: the files of `queries/` run by DataFusion over the lake session, with the
//! reference CSVs and datacycle's functions registered.

pub mod device_days;
pub mod functions;
pub mod gold;
pub mod incremental;
pub mod keys;
pub mod max_by;
pub mod partitions;
pub mod queries;
pub mod reference;
pub mod reference_db;
pub mod scope;
pub mod sensor_events;
pub mod text_parse;
pub mod weather;

use std::path::PathBuf;

use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;

use crate::config::Settings;
use crate::lake::{Lake, LakeError, LakeSession};
use functions::DatacycleOptions;
use queries::QueryFile;

pub type Result<T, E = TransformError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("query queries/{path}: {source}")]
    Query {
        path: String,
        source: Box<DataFusionError>,
    },
    #[error("reference table {name}: {message}")]
    Reference { name: String, message: String },
}

impl TransformError {
    /// The process exit code this error calls for.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Lake(e) => e.exit_code(),
            Self::Query { .. } | Self::Reference { .. } => crate::ops::exit::FAILURE,
        }
    }
}

impl From<DataFusionError> for TransformError {
    fn from(e: DataFusionError) -> Self {
        Self::Lake(e.into())
    }
}

/// Where reference CSVs may be overridden (`REFERENCE_DIR`).
pub fn reference_dir() -> Option<PathBuf> {
    std::env::var_os("REFERENCE_DIR").map(PathBuf::from)
}

/// A lake session ready for datacycle SQL: tables, reference data, options and functions.
pub async fn open_session(lake: &Lake, settings: &Settings) -> Result<LakeSession> {
    let config =
        LakeSession::base_config(settings.threads).with_option_extension(DatacycleOptions::new(
            settings.sensor_timezone,
            settings.weather_min_year,
            settings.reporting_timezone,
        ));
    let session = LakeSession::new(lake, config).await?;
    session.ctx().register_udf(functions::sensor_time_utc());
    session.ctx().register_udf(functions::utc_date());
    session.ctx().register_udf(functions::weather_min_year());
    session.ctx().register_udf(text_parse::utc_time());
    session.ctx().register_udf(text_parse::clean_site());
    session.ctx().register_udf(functions::reporting_time());
    for key_function in [
        keys::surrogate_key(),
        keys::date_key(),
        keys::datetime_key(),
        keys::key_date(),
    ] {
        session.ctx().register_udf(key_function);
    }
    session.ctx().register_udaf(max_by::max_by());
    session.ctx().register_udtf(
        "query_file",
        std::sync::Arc::new(functions::QueryFileFunction),
    );
    reference::register(session.ctx(), reference_dir().as_deref())?;
    reference::register_house_map(session.ctx(), &settings.house_map)?;
    reference::register_weather_sites(session.ctx(), &settings.weather_sites)?;
    reference_db::register_schema(session.ctx())?;
    // Also for the SQL shell, where `query_file('silver/reference/...')` previews a table; the
    // build step re-registers them over fresh snapshots and reports ambiguous columns.
    reference_db::register_views(&session).await?;
    Ok(session)
}

/// The silver tables, in build order.
pub fn silver(settings: &Settings) -> Vec<Box<dyn incremental::Derivation>> {
    vec![
        Box::new(sensor_events::SensorEvents {
            sensor_timezone: settings.sensor_timezone,
        }),
        Box::new(weather::FORECASTS),
        Box::new(weather::FILE_STATS),
        Box::new(device_days::DeviceDays),
    ]
}

/// The logical plan of a query file.
pub async fn plan_query(session: &LakeSession, query: &QueryFile) -> Result<LogicalPlan> {
    session
        .ctx()
        .state()
        .create_logical_plan(query.sql)
        .await
        .map_err(|source| TransformError::Query {
            path: query.path.to_string(),
            source: Box::new(source),
        })
}
