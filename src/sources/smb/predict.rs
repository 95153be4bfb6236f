//! Prediction mode: from an apartment's newest landed minute, the next expected file names.

use std::collections::BTreeMap;
use std::path::Path as FsPath;

use chrono::NaiveDateTime;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;

use super::{MAX_EMPTY_MINUTES, Transfer};
use crate::config::HouseMap;
use crate::lake::Lake;
use crate::lake::landing::sensors::{ROOT as LANDING_SENSORS, SensorFileName, landing_path};
use crate::ops::report::StepReport;
use crate::sources::Result;

/// The newest minute landed for `apartment` (walking the newest year/month/day/hour folders).
pub(super) async fn newest_landed(lake: &Lake, apartment: &str) -> Result<Option<NaiveDateTime>> {
    newest_below(
        lake,
        lake.path(&format!("{LANDING_SENSORS}/{apartment}")),
        4,
    )
    .await
}

pub(super) fn newest_below(
    lake: &Lake,
    dir: object_store::path::Path,
    levels: u32,
) -> futures::future::BoxFuture<'_, Result<Option<NaiveDateTime>>> {
    Box::pin(async move {
        let listing = lake.root_store().list_with_delimiter(Some(&dir)).await?;
        if levels == 0 {
            return Ok(listing
                .objects
                .iter()
                .filter_map(|o| SensorFileName::parse(o.location.filename()?))
                .map(|n| n.minute)
                .max());
        }
        let mut children = listing.common_prefixes;
        children.sort();
        for child in children.into_iter().rev() {
            if let Some(found) = newest_below(lake, child, levels - 1).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    })
}

/// Probe the expected next names per apartment.
pub(super) async fn predict(
    lake: &Lake,
    share: &FsPath,
    houses: &HouseMap,
    newest: &BTreeMap<String, Option<NaiveDateTime>>,
    report: &mut StepReport,
) -> Result<Vec<Transfer>> {
    let mut transfers = Vec::new();
    for entry in houses.entries() {
        let Some(Some(mut minute)) = newest.get(&entry.apartment).copied() else {
            continue;
        };
        let mut empty = 0;
        while empty < MAX_EMPTY_MINUTES {
            minute += chrono::Duration::minutes(1);
            let name = SensorFileName::format(minute, &entry.house);
            let source = share.join(&name);
            report.count("probes", 1);
            match tokio::fs::metadata(&source).await {
                Ok(meta) if meta.is_file() => {
                    empty = 0;
                    let landing = landing_path(&entry.apartment, minute, &name);
                    if landed_size(lake, &landing).await? != Some(meta.len()) {
                        transfers.push(Transfer {
                            source,
                            apartment: entry.apartment.clone(),
                            minute,
                            landing,
                            size: meta.len(),
                        });
                    }
                }
                _ => empty += 1,
            }
        }
    }
    Ok(transfers)
}

pub(super) async fn landed_size(lake: &Lake, landing: &str) -> Result<Option<u64>> {
    match lake.root_store().head(&lake.path(landing)).await {
        Ok(meta) => Ok(Some(meta.size)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
