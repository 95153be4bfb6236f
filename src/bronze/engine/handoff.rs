//! The hand-over from landing to bronze: which landing files are pending, where their bytes are
//! read from, and what is recorded once they are in bronze.
//!
//! Files in landing folders (forecasts) come through their source's queue, or a listing with
//! `--full`. Sensor files are the rows of `landing.sensor_files` landed in batches after the one
//! the last completed run had seen (every row with `--full`, or when the table was created
//! anew). That mark is saved only after the run's last commit: a crash leaves it behind, and the
//! next run finds the files already in bronze by name and size and skips them.

use serde::{Deserialize, Serialize};

use crate::bronze::Result;
use crate::config::Settings;
use crate::lake::landing::sensor_table;
use crate::lake::{DeltaTable, Lake, LakeSession, LandingQueue, QueueSnapshot, QueuedFile, state};

use super::Landing;

/// State document of the mark.
const SEEN_STATE: &str = "bronze_sensor_landing";

/// The last landing batch a completed bronze run had seen, in which landing table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Seen {
    table_id: String,
    version: i64,
}

impl Seen {
    /// The newest batch of the landing table `delta`.
    async fn newest(lake: &Lake, delta: &DeltaTable) -> Result<Self> {
        Ok(Self {
            table_id: crate::lake::table_id(delta),
            version: lake
                .app_version(delta, sensor_table::APP_ID)
                .await?
                .unwrap_or(0),
        })
    }
}

pub(super) enum Handoff<'a> {
    Queue {
        queue: LandingQueue<'a>,
        snapshot: QueueSnapshot,
        prefix: &'static str,
    },
    Table {
        /// `None`: nothing landed since the mark (or nothing at all).
        session: Option<LakeSession>,
        /// Rows landed after this batch version are pending (`None`: every row).
        after: Option<i64>,
        /// The mark to save once the run is done.
        seen: Option<Seen>,
    },
}

/// Where a batch's bytes come from.
pub(super) enum ContentSource {
    /// The landing files themselves.
    Files,
    /// The `content` column of `landing.sensor_files`.
    Table {
        session: Option<Box<LakeSession>>,
        after: Option<i64>,
    },
}

impl<'a> Handoff<'a> {
    pub(super) async fn open(landing: Landing, lake: &'a Lake, full: bool) -> Result<Self> {
        match landing {
            Landing::Files { queue, prefix } => {
                let queue = LandingQueue::new(lake, queue);
                let snapshot = queue.snapshot().await?;
                Ok(Self::Queue {
                    queue,
                    snapshot,
                    prefix,
                })
            }
            Landing::SensorFilesTable => {
                let Some(delta) = lake.open_table(&sensor_table::table()).await? else {
                    return Ok(Self::Table {
                        session: None,
                        after: None,
                        seen: None,
                    });
                };
                let current = Seen::newest(lake, &delta).await?;
                let saved: Option<Seen> = state::load(lake, SEEN_STATE).await?;
                let after = saved
                    .filter(|s| !full && s.table_id == current.table_id)
                    .map(|s| s.version);
                let session = if after == Some(current.version) {
                    None
                } else {
                    Some(sensor_table::session_of(lake, &delta).await?)
                };
                Ok(Self::Table {
                    session,
                    after,
                    seen: Some(current),
                })
            }
        }
    }

    /// The pending landing files (with `full`, every landing file).
    pub(super) async fn pending(
        &self,
        lake: &Lake,
        settings: &Settings,
        full: bool,
    ) -> Result<Vec<QueuedFile>> {
        match self {
            Self::Queue { snapshot, .. } if !full => Ok(snapshot.files.clone()),
            Self::Queue { prefix, .. } => {
                let spinner = crate::ops::progress::spinner("listing landing");
                let files = lake.list_files(prefix, settings.local_io_threads()).await?;
                spinner.finish_and_clear();
                Ok(files)
            }
            Self::Table {
                session: Some(session),
                after,
                ..
            } => Ok(sensor_table::list(session, *after).await?),
            Self::Table { session: None, .. } => Ok(Vec::new()),
        }
    }

    pub(super) fn contents(&self) -> ContentSource {
        match self {
            Self::Queue { .. } => ContentSource::Files,
            Self::Table { session, after, .. } => ContentSource::Table {
                session: session.clone().map(Box::new),
                after: *after,
            },
        }
    }

    /// Record that the pending files are in bronze. `missing`: pending files found nowhere in
    /// landing; queued ones stay queued (the source lands them again, or finds them gone from
    /// the source and forgets them).
    pub(super) async fn done(self, lake: &Lake, missing: Vec<QueuedFile>) -> Result<()> {
        match self {
            Self::Queue {
                queue, snapshot, ..
            } => {
                queue.enqueue(&missing).await?;
                queue.acknowledge(snapshot).await?;
            }
            Self::Table {
                seen: Some(seen),
                after,
                ..
            } if after != Some(seen.version) => state::save(lake, SEEN_STATE, &Some(seen)).await?,
            Self::Table { .. } => {}
        }
        Ok(())
    }
}

/// Whether bronze has ingested every batch landed in `landing.sensor_files` (its last completed
/// run saw the table's newest batch): then landing may lose files to retention.
pub async fn landing_fully_ingested(lake: &Lake) -> Result<bool> {
    let Some(delta) = lake.open_table(&sensor_table::table()).await? else {
        return Ok(true);
    };
    let current = Seen::newest(lake, &delta).await?;
    let saved: Option<Seen> = state::load(lake, SEEN_STATE).await?;
    Ok(saved == Some(current))
}
