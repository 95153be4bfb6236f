//! Time travel: a point in a table's history ([`AsOf`]) and the SQL table function
//! `table_at('silver.sensor_events', 42)` (or `table_at('gold.dim_date', '2023-10-01T12:00:00Z')`)
//! that reads one table as it was then, next to the current versions of the others.
//!
//! DataFusion plans table functions synchronously while loading a Delta version is I/O, so the
//! function only serves snapshots loaded beforehand: planning a statement that names one not
//! loaded yet records it as wanted and fails, and the session loads what is wanted and plans
//! again ([`super::LakeSession::plan`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::Expr;
use datafusion::scalar::ScalarValue;

use super::TableRef;

/// The SQL name of the function.
pub const TABLE_AT: &str = "table_at";

/// A point in a table's history to read it at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsOf {
    Version(u64),
    Time(chrono::DateTime<chrono::Utc>),
}

impl std::str::FromStr for AsOf {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        if let Ok(version) = text.trim().parse() {
            return Ok(AsOf::Version(version));
        }
        chrono::DateTime::parse_from_rfc3339(text.trim())
            .map(|t| AsOf::Time(t.with_timezone(&chrono::Utc)))
            .map_err(|_| {
                format!("`{text}`: a table version (42) or an RFC 3339 time (2023-10-01T12:00:00Z)")
            })
    }
}

impl std::fmt::Display for AsOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AsOf::Version(version) => write!(f, "version {version}"),
            AsOf::Time(time) => write!(f, "{}", time.to_rfc3339()),
        }
    }
}

/// One `table_at(...)` call: which table at which point.
pub type Snapshot = (TableRef, AsOf);

/// The `table_at` function of a session: the snapshots loaded so far and those a plan wanted.
#[derive(Debug, Default)]
pub struct TableAt {
    loaded: Mutex<HashMap<Snapshot, Arc<dyn TableProvider>>>,
    wanted: Mutex<Vec<Snapshot>>,
}

impl TableAt {
    /// The snapshots planning asked for and did not find, emptied.
    pub fn take_wanted(&self) -> Vec<Snapshot> {
        std::mem::take(&mut *self.wanted.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn insert(&self, snapshot: Snapshot, provider: Arc<dyn TableProvider>) {
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(snapshot, provider);
    }
}

impl TableFunctionImpl for TableAt {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        let snapshot = snapshot_of(args.exprs()).map_err(|reason| {
            DataFusionError::Plan(format!(
                "{TABLE_AT}(table, version_or_time): {reason}, e.g. \
                 {TABLE_AT}('silver.sensor_events', 42) or \
                 {TABLE_AT}('silver.sensor_events', '2023-10-01T12:00:00Z')"
            ))
        })?;
        let loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(provider) = loaded.get(&snapshot) {
            return Ok(provider.clone());
        }
        let message = format!("{} at {} is not loaded yet", snapshot.0, snapshot.1);
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(snapshot);
        Err(DataFusionError::Plan(message))
    }
}

/// The table and point in time of a call's two literal arguments.
fn snapshot_of(args: &[Expr]) -> std::result::Result<Snapshot, String> {
    let [table, as_of] = args else {
        return Err(format!("takes 2 arguments, got {}", args.len()));
    };
    let table = match table {
        Expr::Literal(ScalarValue::Utf8(Some(name)), _) => name
            .parse::<TableRef>()
            .map_err(|e| format!("first argument: {e}"))?,
        other => {
            return Err(format!(
                "first argument must be a table name in quotes, not {other}"
            ));
        }
    };
    let as_of = match as_of {
        Expr::Literal(ScalarValue::Int64(Some(version)), _) if *version >= 0 => {
            AsOf::Version(*version as u64)
        }
        Expr::Literal(ScalarValue::Utf8(Some(text)), _) => text.parse()?,
        other => {
            return Err(format!(
                "second argument must be a version number or a time in quotes, not {other}"
            ));
        }
    };
    Ok((table, as_of))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::lit;

    #[test]
    fn arguments_name_a_table_and_a_version_or_time() {
        let (table, as_of) = snapshot_of(&[lit("silver.sensor_events"), lit(42i64)]).unwrap();
        assert_eq!(table, TableRef::silver("sensor_events"));
        assert_eq!(as_of, AsOf::Version(42));
        let (_, as_of) = snapshot_of(&[lit("gold.dim_date"), lit("2023-10-01T12:00:00Z")]).unwrap();
        assert_eq!(as_of, "2023-10-01T12:00:00Z".parse().unwrap());
        for bad in [
            vec![lit("sensor_events"), lit(1i64)],
            vec![lit("silver.sensor_events")],
            vec![lit("silver.sensor_events"), lit(-1i64)],
            vec![lit("silver.sensor_events"), lit("yesterday")],
        ] {
            assert!(snapshot_of(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_unloaded_snapshot_is_wanted_then_served() {
        let function = TableAt::default();
        let args = [lit("silver.sensor_events"), lit(3i64)];
        let session = datafusion::prelude::SessionContext::new().state();
        let call = || function.call_with_args(TableFunctionArgs::new(&args, &session));
        assert!(call().is_err());
        let wanted = function.take_wanted();
        assert_eq!(
            wanted,
            vec![(TableRef::silver("sensor_events"), AsOf::Version(3))]
        );
        let empty = datafusion::datasource::empty::EmptyTable::new(Arc::new(
            datafusion::arrow::datatypes::Schema::empty(),
        ));
        function.insert(wanted[0].clone(), Arc::new(empty));
        assert!(call().is_ok());
        assert!(function.take_wanted().is_empty());
    }
}
