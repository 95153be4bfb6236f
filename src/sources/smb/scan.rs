//! The listing scan: every file of the share against everything landed or in bronze.

use std::collections::{BTreeMap, HashMap};
use std::path::Path as FsPath;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::logical_expr::col;

use super::Transfer;
use crate::catalog::tables;
use crate::config::{HouseEntry, HouseMap};
use crate::lake::landing::sensor_table;
use crate::lake::landing::sensors::SensorFileName;
use crate::lake::{Lake, LakeError, LakeSession, table_reference};
use crate::ops::progress;
use crate::ops::report::StepReport;
use crate::sources::remote::{Listing, RemoteFile};
use crate::sources::{Result, SourceError};

/// List the share and everything landed; return what is missing or differs in size.
pub(super) async fn scan(
    lake: &Lake,
    share: &FsPath,
    houses: &HouseMap,
    erased: &[HouseEntry],
    report: &mut StepReport,
) -> Result<Vec<Transfer>> {
    let spinner = progress::spinner("listing share");
    let share_owned = share.to_path_buf();
    let listing = tokio::task::spawn_blocking(move || list_share(&share_owned))
        .await
        .map_err(|e| SourceError::Read {
            path: share.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })??;
    for name in listing.undecodable {
        report.warn(
            "undecodable_name",
            format!("share file name `{name}` is not UTF-8 (wrong share encoding?); skipped"),
        );
    }
    spinner.set_message("listing landing");
    let known = known_files(lake).await?;
    spinner.finish_and_clear();

    let mut unknown: BTreeMap<String, u64> = BTreeMap::new();
    let mut refused = 0;
    let mut transfers = Vec::new();
    for RemoteFile {
        name,
        size,
        modified,
    } in listing.files
    {
        let Some(parsed) = SensorFileName::parse(&name) else {
            tracing::debug!(file = %name, "not a sensor file name; skipped");
            report.count("unrecognised_name", 1);
            continue;
        };
        let Some(apartment) = houses.apartment_of(&parsed.house) else {
            if erased
                .iter()
                .any(|e| e.house.eq_ignore_ascii_case(&parsed.house))
            {
                refused += 1;
            } else {
                *unknown.entry(parsed.house).or_default() += 1;
            }
            continue;
        };
        let known = known.get(&name).copied();
        if known.is_some_and(|(known_size, _)| known_size == size) {
            continue;
        }
        transfers.push(Transfer {
            source: share.join(&name),
            apartment: apartment.to_string(),
            minute: parsed.minute,
            name,
            size,
            modified: modified.and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
            replaces: known.is_some_and(|(_, landed)| landed),
        });
    }
    for (house, files) in unknown {
        tracing::warn!(house = %house, files, "files of a house not in HOUSE_MAP were skipped");
        report.count("unknown_house", files);
        report.notes.push(format!(
            "skipped {files} files of unknown house `{house}` (add it to HOUSE_MAP)"
        ));
    }
    if refused > 0 {
        // Neither the apartment nor the house is named: the report goes to logs and `_ops.runs`.
        report.count("refused_erased", refused);
        report.notes.push(format!(
            "refused {refused} files of erased apartments (gdpr erase; `gdpr readmit` takes them \
             in again)"
        ));
    }
    transfers.sort_by(|a, b| (a.minute, &a.apartment).cmp(&(b.minute, &b.apartment)));
    Ok(transfers)
}

/// Size per file name of what bronze and landing hold, and whether landing holds it. A file that
/// retention removed from landing is still in bronze: it is not landed again.
async fn known_files(lake: &Lake) -> Result<HashMap<String, (u64, bool)>> {
    let bronze_files = tables::sensor_files();
    let session = LakeSession::with_tables(
        lake,
        LakeSession::base_config(2),
        &[sensor_table::table(), bronze_files.clone()],
    )
    .await?;
    let mut known = HashMap::new();
    if session.has_table(&bronze_files) {
        let batches = session
            .ctx()
            .table(table_reference(&bronze_files))
            .await
            .and_then(|df| df.select(vec![col("source_file"), col("size")]))
            .map_err(LakeError::from)?
            .collect()
            .await
            .map_err(LakeError::from)?;
        for batch in &batches {
            let names = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)
                .map_err(LakeError::from)?;
            let names = names.as_string::<i32>();
            let sizes = batch.column(1).as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                known.insert(
                    names.value(i).to_string(),
                    (sizes.value(i).max(0) as u64, false),
                );
            }
        }
    }
    if session.has_table(&sensor_table::table()) {
        for file in sensor_table::list(&session, None).await? {
            let name = file.path.rsplit('/').next().unwrap_or_default().to_string();
            known.insert(name, (file.size, true));
        }
    }
    Ok(known)
}

/// Every regular file directly in the share, and the names that are not UTF-8 (shown lossily).
pub(super) fn list_share(share: &FsPath) -> Result<Listing> {
    crate::sources::remote::list_local(share).map_err(|source| SourceError::Read {
        path: share.to_path_buf(),
        source,
    })
}
