//! Narrowing a query's input: the SQL files read whole tables; an incremental run wraps the scan
//! of one input table in a filter, which DataFusion pushes into the Delta scan so only matching
//! files are read. The SQL stays the same for full and incremental runs.

use datafusion::common::TableReference;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};

/// `plan` with every scan of `table` filtered by `predicate` (over that table's columns).
pub fn restrict_input(
    plan: LogicalPlan,
    table: &TableReference,
    predicate: &Expr,
) -> Result<LogicalPlan> {
    plan.transform_up(|node| match &node {
        LogicalPlan::TableScan(scan) if scan.table_name.resolved_eq(table) => {
            let filtered = LogicalPlanBuilder::from(node)
                .filter(predicate.clone())?
                .build()?;
            Ok(Transformed::yes(filtered))
        }
        _ => Ok(Transformed::no(node)),
    })
    .map(|t| t.data)
}
