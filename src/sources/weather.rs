//! Weather forecast files from the sFTP server (or a local folder) into
//! `landing/weather/YYYY/MM/DD/Pred_YYYY-MM-DD.csv`.
//!
//! The folder is listed; names whose date does not parse are skipped with a warning; what landing
//! lacks (by name and size) is queued for bronze, then downloaded one file at a time (sFTP servers
//! dislike parallel sessions) and written to landing with one atomic put, so a partial download is
//! never present. libssh2 is blocking, so the whole step runs on a blocking thread.
//!
//! A file modified less than WEATHER_MIN_AGE_SECS ago may still be being uploaded: it waits for
//! a later run. A landed file that is later found with another size (an upload that was cut
//! short) is downloaded again; bronze then replaces its rows.

use std::collections::HashMap;
use std::time::Instant;

use object_store::{ObjectStoreExt, PutPayload};

use super::remote::{LocalFolder, RemoteFile, RemoteFolder};
use super::sftp::SftpFolder;
use super::{Result, SourceError};
use crate::config::{Settings, WeatherSource};
use crate::lake::landing::weather::{
    QUEUE, ROOT as LANDING_WEATHER, landing_path, prediction_date,
};
use crate::lake::{Lake, LandingQueue, QueuedFile, WriterLease};
use crate::ops::progress;
use crate::ops::report::StepReport;

/// Land new weather forecast files.
pub async fn ingest(lake: &Lake, settings: &Settings, lease: &WriterLease) -> Result<StepReport> {
    let started = Instant::now();
    let source = settings.weather.clone().ok_or(SourceError::NotConfigured {
        variable: "WEATHER_SOURCE",
    })?;
    let landed: HashMap<String, u64> = lake
        .list_files(LANDING_WEATHER, settings.local_io_threads())
        .await?
        .into_iter()
        .filter_map(|f| Some((f.path.rsplit('/').next()?.to_string(), f.size)))
        .collect();
    lease.check().await?;
    let lake = lake.clone();
    let runtime = tokio::runtime::Handle::current();
    let limits = Limits {
        min_age: settings.weather_min_age,
        max_bytes: settings.max_source_file_bytes,
        sync: settings.landing_fsync,
    };
    let report = tokio::task::spawn_blocking(move || {
        let folder: Box<dyn RemoteFolder> = match source {
            WeatherSource::Local(path) => Box::new(LocalFolder(path)),
            WeatherSource::Sftp(target) => Box::new(SftpFolder::new(target)),
        };
        land(folder, &lake, &landed, &limits, &runtime)
    })
    .await
    .map_err(|e| SourceError::Remote(format!("weather download thread: {e}")))??;
    Ok(report.finish(started))
}

/// What `land` leaves alone, and how it writes.
struct Limits {
    /// Files modified more recently may still be uploading.
    min_age: std::time::Duration,
    /// Larger files are not downloaded (a forecast file is about 12 MiB).
    max_bytes: u64,
    /// fsync landed files (local lakes).
    sync: bool,
}

/// List `folder`, queue and download what landing lacks.
fn land(
    mut folder: Box<dyn RemoteFolder>,
    lake: &Lake,
    landed: &HashMap<String, u64>,
    limits: &Limits,
    runtime: &tokio::runtime::Handle,
) -> Result<StepReport> {
    let mut report = StepReport::new("ingest weather");
    let source = folder.describe();
    let listing = folder
        .list()
        .map_err(|e| SourceError::Remote(format!("{source}: {e}")))?;
    for name in &listing.undecodable {
        report.warn(
            "undecodable_name",
            format!("{source}: file name `{name}` is not UTF-8; skipped"),
        );
    }
    // File times are the server's: compared with the real clock, not DATACYCLE_NOW.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut wanted = Vec::new();
    for RemoteFile {
        name,
        size,
        modified,
    } in listing.files
    {
        if !name.ends_with(".csv") {
            continue;
        }
        let min_age = limits.min_age.as_secs();
        if modified.is_some_and(|m| m > now - min_age as i64) {
            tracing::info!(file = %name, "modified less than {min_age} s ago: may still be uploading; left for the next run");
            report.count("not_yet_stable", 1);
            continue;
        }
        if size > limits.max_bytes {
            report.warn(
                "too_large",
                format!(
                    "{source}: {name} has {size} bytes, more than MAX_SOURCE_FILE_MB ({} MiB): \
                     not downloaded, left on the server",
                    limits.max_bytes >> 20
                ),
            );
            continue;
        }
        let Some(date) = prediction_date(&name) else {
            tracing::warn!(file = %name, "weather file name without a parseable date; skipped");
            report.count("unrecognised_name", 1);
            continue;
        };
        match landed.get(&name) {
            Some(&landed) if landed == size => {}
            Some(&landed) => {
                tracing::warn!(file = %name, landed, size, "the file changed after it landed (an upload cut short?): landing it again");
                report.count("changed_since_landed", 1);
                wanted.push((name, size, date));
            }
            None => wanted.push((name, size, date)),
        }
    }
    wanted.sort_by_key(|(_, _, date)| *date);
    let queued: Vec<QueuedFile> = wanted
        .iter()
        .map(|(name, size, date)| QueuedFile {
            path: landing_path(name, *date),
            size: *size,
        })
        .collect();
    runtime.block_on(LandingQueue::new(lake, QUEUE).enqueue(&queued))?;

    let total: u64 = wanted.iter().map(|(_, size, _)| size).sum();
    let bar = progress::bar(total, "weather", "bytes");
    for ((name, size, _), target) in wanted.iter().zip(&queued) {
        bar.set_message(name.clone());
        let bytes = folder
            .read(name, *size, &|n| bar.inc(n))
            .map_err(|e| SourceError::Remote(format!("{source}: {e}")))?;
        let len = bytes.len() as u64;
        runtime.block_on(
            lake.root_store()
                .put(&lake.path(&target.path), PutPayload::from(bytes)),
        )?;
        if limits.sync {
            lake.sync_file(&target.path)?;
        }
        report.files += 1;
        report.bytes += len;
    }
    bar.finish_and_clear();
    report.warnings = report.counter("unrecognised_name")
        + report.counter("undecodable_name")
        + report.counter("too_large");
    report.notes.push(format!("source {source}"));
    Ok(report)
}
