//! Sensor files from the SMB share (mounted as a local folder) into `landing.sensor_files`.
//!
//! Prediction mode (every tick): per apartment, from its newest landed minute, probe the next
//! expected names on the share and land what exists, stopping after 10 consecutive empty
//! minutes. Prediction alone never crosses a source gap longer than that, so a listing scan of
//! the share also runs when an apartment found nothing for `SENSOR_SCAN_IDLE_MIN` minutes (and
//! no scan ran in that time), once per UTC day, for an apartment with nothing landed yet, and
//! with `--full`. The scan parses every name, compares name and size with landing and lands
//! everything missing or changed, oldest first. No early stop.
//!
//! Landing is one Delta commit per batch of files (see `land`): a file is landed whole or not at
//! all, and what a crash interrupted is simply found missing by the next run.

mod land;
mod predict;
mod scan;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Result, SourceError};
use crate::config::Settings;
use crate::lake::erasures::Erasures;
use crate::lake::landing::sensor_table;
use crate::lake::state;
use crate::lake::{Lake, WriterLease};
use crate::ops::clock;
use crate::ops::report::StepReport;
use land::land_all;
use predict::predict;
use scan::scan;

/// Prediction stops after this many consecutive minutes without a file.
pub const MAX_EMPTY_MINUTES: u32 = 10;
const STATE: &str = "sensors_ingest";

/// What the step remembers between runs.
#[derive(Debug, Default, Serialize, Deserialize)]
struct IngestState {
    /// Since when prediction has found nothing, per apartment.
    idle_since: BTreeMap<String, DateTime<Utc>>,
    /// When the last listing scan of the share ran.
    last_scan: Option<DateTime<Utc>>,
}

/// A file on the share to land.
#[derive(Debug, Clone)]
pub(super) struct Transfer {
    pub(super) source: PathBuf,
    pub(super) apartment: String,
    pub(super) minute: NaiveDateTime,
    /// The file name.
    pub(super) name: String,
    pub(super) size: u64,
    /// Modification time on the share, to the second.
    pub(super) modified: Option<DateTime<Utc>>,
    /// Landed before with another size: its row is replaced.
    pub(super) replaces: bool,
}

/// Land new sensor files from `SMB_PATH`.
pub async fn ingest(
    lake: &Lake,
    settings: &Settings,
    lease: &WriterLease,
    full: bool,
) -> Result<StepReport> {
    let started = Instant::now();
    let mut report = StepReport::new("ingest sensors");
    let share = settings
        .smb_path
        .clone()
        .ok_or(SourceError::NotConfigured {
            variable: "SMB_PATH",
        })?;
    let metadata =
        tokio::fs::metadata(&share)
            .await
            .map_err(|source| SourceError::ShareUnavailable {
                path: share.clone(),
                source,
            })?;
    if !metadata.is_dir() {
        return Err(SourceError::ShareUnavailable {
            path: share,
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }

    let mut memory: IngestState = state::load(lake, STATE).await?;
    let now = clock::now();
    let landed = match lake.open_table(&sensor_table::table()).await? {
        Some(delta) => sensor_table::newest_minutes(&delta)?,
        None => Default::default(),
    };
    // An erased apartment's files are refused until it is re-admitted (docs/gdpr.md).
    let (houses, erased) = Erasures::load(lake).await?.house_map(&settings.house_map);
    let newest: BTreeMap<String, Option<NaiveDateTime>> = houses
        .entries()
        .iter()
        .map(|e| (e.apartment.clone(), landed.get(&e.apartment).copied()))
        .collect();
    let scan_reason = scan_reason(full, &newest, &memory, now, settings.scan_idle);

    let transfers = match &scan_reason {
        Some(reason) => {
            report.notes.push(format!("listing scan: {reason}"));
            scan(lake, &share, &houses, &erased, &mut report).await?
        }
        None => predict(&share, &houses, &newest, &mut report).await?,
    };
    let landed_apartments: std::collections::HashSet<String> =
        transfers.iter().map(|t| t.apartment.clone()).collect();

    lease.check().await?;
    land_all(lake, settings, lease, transfers, &mut report).await?;

    memory
        .idle_since
        .retain(|apartment, _| newest.contains_key(apartment));
    for entry in houses.entries() {
        if landed_apartments.contains(&entry.apartment) {
            memory.idle_since.remove(&entry.apartment);
        } else {
            memory
                .idle_since
                .entry(entry.apartment.clone())
                .or_insert(now);
        }
    }
    if scan_reason.is_some() {
        memory.last_scan = Some(now);
    }
    state::save(lake, STATE, &memory).await?;
    report.warnings = report.counter("unknown_house")
        + report.counter("unrecognised_name")
        + report.counter("undecodable_name")
        + report.counter("vanished");
    Ok(report.finish(started))
}

/// Forget what the step remembers of `apartment` (after its erasure: the state names it).
pub async fn forget_apartment(lake: &Lake, apartment: &str) -> Result<()> {
    let mut memory: IngestState = state::load(lake, STATE).await?;
    if memory.idle_since.remove(apartment).is_some() {
        state::save(lake, STATE, &memory).await?;
    }
    Ok(())
}

/// Why a listing scan must run now, if it must.
fn scan_reason(
    full: bool,
    newest: &BTreeMap<String, Option<NaiveDateTime>>,
    memory: &IngestState,
    now: DateTime<Utc>,
    idle_limit: Duration,
) -> Option<String> {
    if full {
        return Some("--full".into());
    }
    if let Some((apartment, _)) = newest.iter().find(|(_, n)| n.is_none()) {
        return Some(format!("nothing landed yet for {apartment}"));
    }
    match memory.last_scan {
        None => return Some("first scan".into()),
        Some(last) if last.date_naive() != now.date_naive() => return Some("daily scan".into()),
        _ => {}
    }
    let idle_limit = chrono::Duration::from_std(idle_limit).unwrap_or(chrono::Duration::MAX);
    let scanned_recently = memory.last_scan.is_some_and(|last| now - last < idle_limit);
    let idle = memory
        .idle_since
        .iter()
        .find(|(_, since)| now - **since >= idle_limit);
    match idle {
        Some((apartment, since)) if !scanned_recently => Some(format!(
            "prediction found nothing for {apartment} since {}",
            since.format("%Y-%m-%d %H:%M UTC")
        )),
        _ => None,
    }
}
