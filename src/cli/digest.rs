//! `datacycle digest`: an order-insensitive content digest of each lake table, without the
//! columns that record when something ran. Two lakes with the same digests hold the same rows
//! whatever their files and histories: a restored backup against its original, an S3 lake
//! against a local one, a build of one version of datacycle against another's.

use std::sync::Arc;

use clap::Args;
use datafusion::arrow::array::{RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use super::output::{ResultFormatArgs, write_batches};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::{Lake, LakeSession, table_digest};

/// Columns left out of a digest: when a row was written, not what it holds.
const RUN_METADATA: &[&str] = &["ingested_at", "snapshot_at"];

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Tables to digest, e.g. `silver.sensor_events` (default: every lake table).
    pub tables: Vec<String>,
    #[command(flatten)]
    pub output: ResultFormatArgs,
    #[command(flatten)]
    pub lake: super::LakeArgs,
}

pub async fn run(settings: &Settings, args: DigestArgs) -> Result<i32> {
    let lake = Lake::open(&settings.lake_url)?;
    let session = LakeSession::new(&lake, LakeSession::base_config(settings.threads)).await?;
    let tables: Vec<String> = if args.tables.is_empty() {
        lake.list_tables()
            .await?
            .iter()
            .map(ToString::to_string)
            .collect()
    } else {
        args.tables.clone()
    };
    let (mut rows, mut hashes) = (Vec::new(), Vec::new());
    for table in &tables {
        let digest = table_digest(session.ctx(), table, RUN_METADATA)
            .await
            .map_err(|e| Error::config(format!("digest of {table}: {e}")))?;
        rows.push(digest.rows);
        hashes.push(digest.hash);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("rows", DataType::UInt64, false),
        Field::new("digest", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(tables)),
            Arc::new(UInt64Array::from(rows)),
            Arc::new(StringArray::from(hashes)),
        ],
    )
    .map_err(|e| Error::io("formatting digests", std::io::Error::other(e)))?;
    write_batches(&mut std::io::stdout().lock(), &[batch], args.output.format)?;
    Ok(crate::ops::exit::OK)
}
