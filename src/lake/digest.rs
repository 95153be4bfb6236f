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
    let mut hasher = ContentHasher::new(df.schema().as_arrow())?;
    let mut stream = df.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        hasher.add(&batch?)?;
    }
    Ok(hasher.finish())
}

/// An order-insensitive hash of record batches' rows (a multiset hash).
pub struct ContentHasher {
    converter: RowConverter,
    rows: u64,
    sum_a: u64,
    sum_b: u64,
}

impl ContentHasher {
    pub fn new(schema: &datafusion::arrow::datatypes::Schema) -> Result<Self> {
        let fields: Vec<SortField> = schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        Ok(Self {
            converter: RowConverter::new(fields)?,
            rows: 0,
            sum_a: 0,
            sum_b: 0,
        })
    }

    pub fn add(&mut self, batch: &datafusion::arrow::array::RecordBatch) -> Result<()> {
        let converted = self.converter.convert_columns(batch.columns())?;
        for row in converted.iter() {
            let bytes = row.as_ref();
            // SipHash with fixed keys: stable across runs and processes.
            let mut a = DefaultHasher::new();
            a.write(bytes);
            let mut b = DefaultHasher::new();
            b.write_u64(0x9e37_79b9_7f4a_7c15);
            b.write(bytes);
            self.sum_a = self.sum_a.wrapping_add(a.finish());
            self.sum_b = self.sum_b.wrapping_add(b.finish());
            self.rows += 1;
        }
        Ok(())
    }

    pub fn finish(&self) -> TableDigest {
        TableDigest {
            rows: self.rows,
            hash: format!("{:016x}{:016x}", self.sum_a, self.sum_b),
        }
    }
}
