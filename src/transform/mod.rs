//! SQL transforms: the files of `queries/` run by DataFusion over the lake session, with the
//! reference CSVs and datacycle's functions registered.

pub mod device_days;
pub mod functions;
pub mod gold;
pub mod incremental;
pub mod max_by;
pub mod reference;
pub mod reference_db;
pub mod scope;
pub mod sensor_events;
pub mod text_parse;
pub mod weather;

use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;

use crate::catalog::queries::QueryFile;
use crate::catalog::{CatalogError, keys};
use crate::config::Settings;
use crate::lake::erasures::Erasures;
use crate::lake::{Lake, LakeError, LakeSession};
use functions::DatacycleOptions;

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
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Any failure while building one table, named.
    #[error("building {table}: {source}")]
    Building {
        table: String,
        source: Box<TransformError>,
    },
}

impl TransformError {
    /// The process exit code this error calls for.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Lake(e) => e.exit_code(),
            Self::Catalog(e) => e.exit_code(),
            Self::Building { source, .. } => source.exit_code(),
            Self::Query { .. } => crate::ops::exit::FAILURE,
        }
    }
}

impl TransformError {
    /// This error as a failure of building `table` (as it is when it already names a table).
    pub fn building(self, table: impl std::fmt::Display) -> Self {
        match self {
            Self::Building { .. } => self,
            source => Self::Building {
                table: table.to_string(),
                source: Box::new(source),
            },
        }
    }
}

impl From<DataFusionError> for TransformError {
    fn from(e: DataFusionError) -> Self {
        Self::Lake(e.into())
    }
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
    session.ctx().register_udf(functions::quarter_hour());
    session.ctx().register_udf(functions::iso_day_of_week());
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
    reference::register(
        session.ctx(),
        crate::catalog::reference::reference_dir().as_deref(),
    )?;
    // Erased apartments are no apartments of the lake until re-admitted (`gdpr erase`).
    let (houses, _) = Erasures::load(lake).await?.house_map(&settings.house_map);
    reference::register_house_map(session.ctx(), &houses)?;
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

/// Run a query of `queries/` and collect its rows; a failure names the file.
pub async fn collect_query(
    session: &LakeSession,
    query: &QueryFile,
) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>> {
    let plan = plan_query(session, query).await?;
    let named = |source: DataFusionError| TransformError::Query {
        path: query.path.to_string(),
        source: Box::new(source),
    };
    session
        .ctx()
        .execute_logical_plan(plan)
        .await
        .map_err(named)?
        .collect()
        .await
        .map_err(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_table_being_built_once_and_keeps_its_exit_code() {
        let engine = TransformError::from(DataFusionError::Plan("no column x".into()));
        let named = engine.building("gold.dim_room").building("gold.outer");
        assert_eq!(
            named.to_string(),
            "building gold.dim_room: SQL engine: Error during planning: no column x"
        );
        assert_eq!(named.exit_code(), crate::ops::exit::FAILURE);
        let lost = TransformError::Lake(LakeError::LeaseLost {
            holder: "pid 1".into(),
        })
        .building("silver.sensor_events");
        assert_eq!(lost.exit_code(), crate::ops::exit::LOCKED);
    }
}
