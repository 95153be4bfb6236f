//! Which landing files a run ingests: the candidates, what the files table already knows of
//! them, and the rollback of a batch a crash interrupted between its two commits.

use std::collections::HashMap;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{col, lit};

use super::{LandingFormat, STATUS_OK, SourceFile};
use crate::bronze::Result;
use crate::lake::{Lake, LakeSession, QueuedFile, WriterLease, partition_filter, table_reference};
use crate::ops::report::StepReport;

/// A landing file to ingest and where it is.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) landing_path: String,
    pub(super) file: SourceFile,
}

/// What the files table says about a file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Known {
    pub(super) size: i64,
    pub(super) ok: bool,
}

/// Undo a rows commit whose files commit never happened.
pub(super) async fn recover_interrupted_batch<F: LandingFormat>(
    format: &F,
    lake: &Lake,
    lease: &WriterLease,
    report: &mut StepReport,
) -> Result<()> {
    let Some(rows) = lake.open_table(&format.rows_table()).await? else {
        return Ok(());
    };
    let Some(rows_version) = lake.app_version(&rows, format.app_id()).await? else {
        return Ok(());
    };
    let files_version = match lake.open_table(&format.files_table()).await? {
        Some(files) => lake.app_version(&files, format.app_id()).await?,
        None => None,
    };
    if files_version.is_some_and(|f| f >= rows_version) {
        return Ok(());
    }
    lease.check().await?;
    tracing::warn!(
        batch = rows_version,
        table = %format.rows_table(),
        "removing the rows of a bronze batch interrupted before its file list was committed"
    );
    let ingested_at = lit(ScalarValue::TimestampMicrosecond(
        Some(rows_version),
        Some("UTC".into()),
    ));
    lake.delete_where(
        &format.rows_table(),
        col("ingested_at").eq(ingested_at),
        Some((format.app_id().to_string(), files_version.unwrap_or(0))),
    )
    .await?;
    report.count("interrupted_batches_rolled_back", 1);
    Ok(())
}

pub(super) fn identify_all<F: LandingFormat>(
    format: &F,
    listed: Vec<QueuedFile>,
    report: &mut StepReport,
) -> Vec<Candidate> {
    let mut candidates = Vec::with_capacity(listed.len());
    for queued in listed {
        match format.identify(&queued.path, queued.size) {
            Some(file) => candidates.push(Candidate {
                file,
                landing_path: queued.path,
            }),
            None => {
                tracing::warn!(path = %queued.path, "not a {} landing path; left alone", format.name());
                report.count("unrecognised_name", 1);
            }
        }
    }
    candidates
}

pub(super) fn partition_names<F: LandingFormat>(format: &F) -> Vec<String> {
    format
        .partition_fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// (name → size, ok) of the files already in the files table, restricted to the candidates'
/// partitions unless `full`.
pub(super) async fn load_index<F: LandingFormat>(
    format: &F,
    session: &LakeSession,
    candidates: &[Candidate],
    full: bool,
) -> Result<HashMap<String, Known>> {
    let mut index = HashMap::new();
    if candidates.is_empty() || !session.has_table(&format.files_table()) {
        return Ok(index);
    }
    let mut df = session
        .ctx()
        .table(table_reference(&format.files_table()))
        .await?;
    if !full {
        let columns = partition_names(format);
        df = df.filter(partition_filter(
            &columns,
            candidates.iter().map(|c| c.file.partition.as_slice()),
        ))?;
    }
    let batches: Vec<RecordBatch> = df
        .select(vec![col("source_file"), col("size"), col("status")])?
        .collect()
        .await?;
    for batch in &batches {
        let names = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let names = names.as_string::<i32>();
        let sizes = batch.column(1).as_primitive::<Int64Type>();
        let status = datafusion::arrow::compute::cast(batch.column(2), &DataType::Utf8)?;
        let status = status.as_string::<i32>();
        for i in 0..batch.num_rows() {
            index.insert(
                names.value(i).to_string(),
                Known {
                    size: sizes.value(i),
                    ok: status.value(i) == STATUS_OK,
                },
            );
        }
    }
    Ok(index)
}

/// Split candidates into (files ingested before whose size changed, new files), in processing
/// order.
pub(super) fn classify(
    candidates: Vec<Candidate>,
    index: &HashMap<String, Known>,
    report: &mut StepReport,
) -> (Vec<Candidate>, Vec<Candidate>) {
    let (mut replaced, mut fresh) = (Vec::new(), Vec::new());
    for c in candidates {
        match index.get(&c.file.name) {
            None => fresh.push(c),
            Some(known) if known.size == c.file.size => report.count("already_in_bronze", 1),
            Some(known) if !known.ok => replaced.push(c),
            Some(known) => {
                tracing::warn!(
                    file = %c.file.name,
                    bronze_size = known.size,
                    landing_size = c.file.size,
                    "file changed after it was ingested; its rows are replaced"
                );
                report.count("replaced_changed_file", 1);
                replaced.push(c);
            }
        }
    }
    // By partition, then time: consecutive files share a partition, so parsed rows come out
    // already split by partition.
    let order = |c: &Candidate| (c.file.partition.clone(), c.file.time);
    replaced.sort_by_key(order);
    fresh.sort_by_key(order);
    (replaced, fresh)
}
