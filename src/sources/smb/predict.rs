//! Prediction mode: from an apartment's newest landed minute, the next expected file names.

use std::collections::BTreeMap;
use std::path::Path as FsPath;

use chrono::{DateTime, NaiveDateTime};

use super::{MAX_EMPTY_MINUTES, Transfer};
use crate::config::HouseMap;
use crate::lake::landing::sensors::SensorFileName;
use crate::ops::report::StepReport;
use crate::sources::Result;

/// Probe the expected next names per apartment. Every minute probed is after the newest landed
/// one, so what exists is new.
pub(super) async fn predict(
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
                    transfers.push(Transfer {
                        source,
                        apartment: entry.apartment.clone(),
                        minute,
                        name,
                        size: meta.len(),
                        modified: modified_second(&meta),
                        replaces: false,
                    });
                }
                _ => empty += 1,
            }
        }
    }
    Ok(transfers)
}

/// A file's modification time, to the second (what a share listing gives).
fn modified_second(meta: &std::fs::Metadata) -> Option<DateTime<chrono::Utc>> {
    let since_epoch = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    DateTime::from_timestamp(since_epoch.as_secs() as i64, 0)
}
