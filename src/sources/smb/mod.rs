//! Sensor files from the SMB share (mounted as a local folder) into
//! `landing/sensors/<apartment>/YYYY/MM/DD/HH/<name>`.
//!
//! Prediction mode (every tick): per apartment, from its newest landed minute, probe the next
//! expected names on the share and copy what exists, stopping after 10 consecutive empty
//! minutes. Prediction alone never crosses a source gap longer than that, so a listing scan of
//! the share also runs when an apartment found nothing for `SENSOR_SCAN_IDLE_MIN` minutes (and
//! no scan ran in that time), once per UTC day, for an apartment with nothing landed yet, and
//! with `--full`. The scan parses every name, compares name and size with landing and copies
//! everything missing, oldest first, in parallel. No early stop.
//!
//! Every landing path is queued for bronze before it is written, and every copy is an atomic
//! put, so a half-copied file is never present and a copied file is never forgotten.

mod copy;
mod predict;
mod scan;

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use super::{Result, SourceError};
use crate::config::Settings;
use crate::lake::landing::sensors::{QUEUE, SensorFileName, parse_landing_path};
use crate::lake::state;
use crate::lake::{Lake, LandingQueue, WriterLease};
use crate::ops::clock;
use crate::ops::report::StepReport;
use copy::copy_all;
use predict::{newest_landed, predict};
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
    pub(super) landing: String,
    pub(super) size: u64,
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
    let mut newest = BTreeMap::new();
    for entry in settings.house_map.entries() {
        newest.insert(
            entry.apartment.clone(),
            newest_landed(lake, &entry.apartment).await?,
        );
    }
    let scan_reason = scan_reason(full, &newest, &memory, now, settings.scan_idle);

    let mut transfers = match &scan_reason {
        Some(reason) => {
            report.notes.push(format!("listing scan: {reason}"));
            scan(
                lake,
                &share,
                &settings.house_map,
                settings.local_io_threads(),
                &mut report,
            )
            .await?
        }
        None => predict(lake, &share, &settings.house_map, &newest, &mut report).await?,
    };
    let landed_apartments: std::collections::HashSet<String> =
        transfers.iter().map(|t| t.apartment.clone()).collect();
    let planned: std::collections::HashSet<String> =
        transfers.iter().map(|t| t.landing.clone()).collect();
    transfers.extend(
        queued_but_not_landed(lake, &share, settings, &mut report)
            .await?
            .into_iter()
            .filter(|t| !planned.contains(&t.landing)),
    );

    lease.check().await?;
    copy_all(lake, settings, transfers, &mut report).await?;

    for entry in settings.house_map.entries() {
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
        + report.counter("queued_gone_from_share")
        + report.counter("vanished");
    Ok(report.finish(started))
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

/// Files queued by an earlier run that never landed (a copy that crashed or failed): copied
/// again when the share still has them, forgotten when it does not.
async fn queued_but_not_landed(
    lake: &Lake,
    share: &FsPath,
    settings: &Settings,
    report: &mut StepReport,
) -> Result<Vec<Transfer>> {
    let queue = LandingQueue::new(lake, QUEUE);
    let pending = queue.snapshot().await?.files;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let store = lake.root_store().clone();
    let present: Vec<bool> = futures::stream::iter(pending.iter().map(|f| {
        let (store, path) = (store.clone(), lake.path(&f.path));
        async move { store.head(&path).await.is_ok() }
    }))
    .buffered(settings.io_concurrency.max(1))
    .collect()
    .await;
    let mut transfers = Vec::new();
    let mut gone = std::collections::HashSet::new();
    for (file, _) in pending.iter().zip(present).filter(|(_, present)| !present) {
        let parsed = parse_landing_path(&file.path)
            .and_then(|(apartment, name)| Some((apartment, name, SensorFileName::parse(name)?)));
        let Some((apartment, name, parsed)) = parsed else {
            gone.insert(file.path.clone());
            continue;
        };
        let source = share.join(name);
        match std::fs::metadata(&source) {
            Ok(meta) if meta.is_file() => transfers.push(Transfer {
                source,
                apartment: apartment.to_string(),
                minute: parsed.minute,
                landing: file.path.clone(),
                size: meta.len(),
            }),
            _ => {
                gone.insert(file.path.clone());
            }
        }
    }
    report.count("queued_landed_again", transfers.len() as u64);
    if !gone.is_empty() {
        report.warn(
            "queued_gone_from_share",
            format!(
                "{} queued file(s) never landed and are no longer on the share (e.g. {}); forgotten",
                gone.len(),
                gone.iter().next().expect("not empty")
            ),
        );
        queue.forget(&gone).await?;
    }
    Ok(transfers)
}
