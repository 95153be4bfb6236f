//! The listing scan: every file of the share against everything landed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path as FsPath;

use super::Transfer;
use crate::config::HouseMap;
use crate::lake::Lake;
use crate::lake::landing::sensors::{ROOT as LANDING_SENSORS, SensorFileName, landing_path};
use crate::ops::progress;
use crate::ops::report::StepReport;
use crate::sources::remote::{Listing, RemoteFile};
use crate::sources::{Result, SourceError};

/// List the share and everything landed; return what is missing or differs in size.
pub(super) async fn scan(
    lake: &Lake,
    share: &FsPath,
    houses: &HouseMap,
    threads: usize,
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
    let landed: HashMap<String, u64> = lake
        .list_files(LANDING_SENSORS, threads)
        .await?
        .into_iter()
        .map(|f| (f.path, f.size))
        .collect();
    spinner.finish_and_clear();

    let mut unknown: BTreeMap<String, u64> = BTreeMap::new();
    let mut transfers = Vec::new();
    for RemoteFile { name, size, .. } in listing.files {
        let Some(parsed) = SensorFileName::parse(&name) else {
            tracing::debug!(file = %name, "not a sensor file name; skipped");
            report.count("unrecognised_name", 1);
            continue;
        };
        let Some(apartment) = houses.apartment_of(&parsed.house) else {
            *unknown.entry(parsed.house).or_default() += 1;
            continue;
        };
        let landing = landing_path(apartment, parsed.minute, &name);
        if landed.get(&landing) == Some(&size) {
            continue;
        }
        transfers.push(Transfer {
            source: share.join(&name),
            apartment: apartment.to_string(),
            minute: parsed.minute,
            landing,
            size,
        });
    }
    for (house, files) in unknown {
        tracing::warn!(house = %house, files, "files of a house not in HOUSE_MAP were skipped");
        report.count("unknown_house", files);
        report.notes.push(format!(
            "skipped {files} files of unknown house `{house}` (add it to HOUSE_MAP)"
        ));
    }
    transfers.sort_by(|a, b| (a.minute, &a.apartment).cmp(&(b.minute, &b.apartment)));
    Ok(transfers)
}

/// Every regular file directly in the share, and the names that are not UTF-8 (shown lossily).
pub(super) fn list_share(share: &FsPath) -> Result<Listing> {
    crate::sources::remote::list_local(share).map_err(|source| SourceError::Read {
        path: share.to_path_buf(),
        source,
    })
}
