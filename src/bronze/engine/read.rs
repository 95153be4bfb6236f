//! Getting the bytes of landing files (plain reads on a local lake, the object store otherwise)
//! and parsing them on every core.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use rayon::prelude::*;

use super::{FileOutcome, LandingFormat, SourceFile};
use crate::bronze::{BronzeError, Result};
use crate::lake::{PartitionBatch, PartitionValue};
use crate::ops::files::read_if_present;

/// Where the parsing workers get file contents from.
pub(super) enum Contents {
    /// Read by the workers themselves (local lakes: no hand-off per file).
    ReadInWorkers(PathBuf),
    /// Fetched beforehand, in batch order (remote lakes).
    Fetched(Vec<Option<Bytes>>),
}

/// The bytes of a landing file, `None` when it is not there (a copy that never finished: the
/// source step lands and queues it again).
pub(super) async fn fetch(
    store: &Arc<dyn ObjectStore>,
    path: &ObjectPath,
) -> Result<Option<Bytes>> {
    let read_error = |source| BronzeError::Read {
        path: path.to_string(),
        source: Box::new(source),
    };
    match store.get(path).await {
        Ok(result) => result.bytes().await.map(Some).map_err(read_error),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(source) => Err(read_error(source)),
    }
}

/// [`fetch`] for a local lake: a plain read on the worker thread (no runtime, no URL
/// conversion per file), sized by the listed size.
pub(super) fn read_local(path: &Path, size: i64) -> Result<Option<Bytes>> {
    match read_if_present(path, size.max(0) as u64) {
        Ok(bytes) => Ok(bytes.map(Bytes::from)),
        Err(source) => Err(BronzeError::Read {
            path: path.display().to_string(),
            source: Box::new(source),
        }),
    }
}

/// Parse every present file on `threads` workers; returns the rows split by partition and one
/// outcome per present file.
pub(super) fn parse_all<F: LandingFormat>(
    format: &F,
    work: &[(SourceFile, String)],
    contents: &Contents,
    ingested_at: DateTime<Utc>,
    threads: usize,
) -> Result<(Vec<PartitionBatch>, Vec<FileOutcome>)> {
    let chunk = work.len().div_ceil(threads * 4).max(1);
    let results: Vec<Result<(Vec<PartitionBatch>, Vec<FileOutcome>)>> = work
        .par_chunks(chunk)
        .enumerate()
        .map(|(index, files)| {
            let mut batches = Vec::new();
            let mut current: Option<(Vec<PartitionValue>, F::Rows)> = None;
            let mut scratch = F::Scratch::default();
            let mut outcomes = Vec::with_capacity(files.len());
            for (offset, (file, landing_path)) in files.iter().enumerate() {
                let bytes = match contents {
                    Contents::ReadInWorkers(root) => {
                        read_local(&root.join(landing_path), file.size)?
                    }
                    Contents::Fetched(all) => all[index * chunk + offset].clone(),
                };
                let Some(bytes) = bytes else { continue };
                let mut file = file.clone();
                file.size = bytes.len() as i64;
                if current.as_ref().is_none_or(|(p, _)| *p != file.partition) {
                    if let Some((partition, rows)) = current.take() {
                        batches.push(PartitionBatch {
                            values: partition,
                            batch: format.finish(rows)?,
                        });
                    }
                    let rows = format.rows_builder(ingested_at, files.len() - offset);
                    current = Some((file.partition.clone(), rows));
                }
                let (_, rows) = current.as_mut().expect("set above");
                let outcome = match format.parse(&file, &bytes, rows, &mut scratch) {
                    Ok(parsed) => FileOutcome {
                        rows: parsed.rows as i64,
                        secrets_dropped: parsed.secrets_dropped,
                        file,
                        error: None,
                    },
                    Err(error) => FileOutcome {
                        rows: 0,
                        secrets_dropped: 0,
                        file,
                        error: Some(error),
                    },
                };
                outcomes.push(outcome);
            }
            if let Some((partition, rows)) = current.take() {
                batches.push(PartitionBatch {
                    values: partition,
                    batch: format.finish(rows)?,
                });
            }
            Ok((batches, outcomes))
        })
        .collect();
    let mut batches = Vec::new();
    let mut outcomes = Vec::with_capacity(work.len());
    for result in results {
        let (chunk_batches, chunk_outcomes) = result?;
        batches.extend(chunk_batches.into_iter().filter(|b| b.batch.num_rows() > 0));
        outcomes.extend(chunk_outcomes);
    }
    Ok((batches, outcomes))
}
