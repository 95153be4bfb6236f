//! Order-insensitive content digests of tables: two tables with the same multiset of rows have
//! the same digest, whatever their file layout, row order or commit history. Used to prove
//! idempotency, crash safety and incremental == full.

use std::hash::{DefaultHasher, Hasher};

use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::prelude::{SessionContext, col};
use futures::StreamExt;
use serde::Serialize;

use super::Result;

/// Rows and a 128-bit multiset hash of a table's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDigest {
    pub rows: u64,
    pub hash: String,
}

/// Digest of `SELECT *` from `table` (a SQL name) without the `exclude` columns (run metadata
/// such as `ingested_at`).
pub async fn table_digest(
    ctx: &SessionContext,
    table: &str,
    exclude: &[&str],
) -> Result<TableDigest> {
    let df = ctx.table(table).await?;
    let keep: Vec<_> = df
        .schema()
        .fields()
        .iter()
        .filter(|f| !exclude.contains(&f.name().as_str()))
        .map(|f| col(format!("\"{}\"", f.name())))
        .collect();
    let df = df.select(keep)?;
    let fields: Vec<SortField> = df
        .schema()
        .fields()
        .iter()
        .map(|f| SortField::new(f.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let mut stream = df.execute_stream().await?;
    let (mut rows, mut sum_a, mut sum_b) = (0u64, 0u64, 0u64);
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let converted = converter.convert_columns(batch.columns())?;
        for row in converted.iter() {
            let bytes = row.as_ref();
            // SipHash with fixed keys: stable across runs and processes.
            let mut a = DefaultHasher::new();
            a.write(bytes);
            let mut b = DefaultHasher::new();
            b.write_u64(0x9e37_79b9_7f4a_7c15);
            b.write(bytes);
            sum_a = sum_a.wrapping_add(a.finish());
            sum_b = sum_b.wrapping_add(b.finish());
            rows += 1;
        }
    }
    Ok(TableDigest {
        rows,
        hash: format!("{sum_a:016x}{sum_b:016x}"),
    })
}
