//! The SQL shell reads the lake and never changes it: lake tables change only through
//! datacycle's own commands, which keep the layers, the digests and `_ops.runs` consistent.
//! Session-only objects (views, external tables over other files) are allowed outside the lake's
//! schemas; everything that writes is refused before it is planned.

use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{ObjectName, Statement as Sql};

use crate::lake::Layer;

/// Why `statement` is refused, or `None` when it only reads.
pub fn refusal(statement: &Statement) -> Option<String> {
    let allowed = match statement {
        Statement::Statement(sql) => reads_only(sql),
        Statement::Explain(explain) => return refusal(&explain.statement),
        Statement::CreateExternalTable(create) => outside_lake(&create.name),
        Statement::Reset(_) => true,
        Statement::CopyTo(_) => false,
    };
    (!allowed).then(|| {
        let text = statement.to_string();
        let shown: String = text.chars().take(60).collect();
        let ellipsis = if shown.len() < text.len() { " …" } else { "" };
        format!(
            "refused: `{shown}{ellipsis}` would write; the SQL shell is read-only. Lake tables \
             change only through datacycle's commands (ingest, build, retention, gdpr erase); \
             session views are allowed outside the lake schemas (CREATE VIEW my_view AS …), \
             and results export with --format csv|json"
        )
    })
}

fn reads_only(sql: &Sql) -> bool {
    match sql {
        Sql::Query(_)
        | Sql::ExplainTable { .. }
        | Sql::ShowTables { .. }
        | Sql::ShowColumns { .. }
        | Sql::ShowVariable { .. }
        | Sql::ShowVariables { .. }
        | Sql::ShowFunctions { .. }
        | Sql::ShowCreate { .. }
        | Sql::Set(_) => true,
        Sql::Explain { statement, .. } => reads_only(statement),
        Sql::CreateView(view) => !view.materialized && outside_lake(&view.name),
        _ => false,
    }
}

/// Whether `name` is outside the schemas of lake tables (a session object cannot shadow one).
fn outside_lake(name: &ObjectName) -> bool {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| p.to_string().to_lowercase())
        .collect();
    let schema = match parts.as_slice() {
        [_, schema, _] | [schema, _] => schema.as_str(),
        _ => return true,
    };
    Layer::from_name(schema).is_none() && schema != Layer::Ops.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn refused(sql: &str) -> bool {
        let statements = DFParser::parse_sql(sql).unwrap();
        refusal(&statements[0]).is_some()
    }

    #[test]
    fn reads_pass_and_writes_are_refused() {
        for reading in [
            "SELECT * FROM silver.sensor_events",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "EXPLAIN ANALYZE SELECT count(*) FROM gold.dim_date",
            "SHOW TABLES",
            "SET datafusion.execution.batch_size = 1024",
            "CREATE VIEW busy AS SELECT 1",
            "DESCRIBE gold.dim_date",
        ] {
            assert!(!refused(reading), "{reading}");
        }
        for writing in [
            "INSERT INTO gold.dim_date VALUES (1)",
            "DELETE FROM silver.sensor_events",
            "UPDATE gold.dim_date SET date_key = 1",
            "DROP TABLE gold.dim_date",
            "CREATE TABLE silver.copy AS SELECT 1",
            "CREATE TABLE scratch (a INT)",
            "CREATE VIEW gold.dim_date AS SELECT 1",
            "TRUNCATE TABLE bronze.sensors",
            "EXPLAIN ANALYZE INSERT INTO gold.dim_date VALUES (1)",
            "COPY (SELECT 1) TO '/tmp/x.csv'",
        ] {
            assert!(refused(writing), "{writing}");
        }
    }
}
