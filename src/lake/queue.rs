//! Landing queues: the hand-off from a source to its bronze step. A source enqueues the landing
//! paths it is about to write *before* writing them, and the bronze step acknowledges a queue
//! entry only after its rows are committed. A crash anywhere in between leaves the entry in the
//! queue, so nothing landed is ever forgotten, and bronze never needs to list all of landing on
//! a routine tick. An entry whose file never landed (a copy that crashed or failed) stays queued
//! until the source lands it or finds it gone from the source ([`LandingQueue::forget`]).

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::PutPayload;
use object_store::path::Path;

use super::{Lake, LakeError, Result};

/// A landing path with the size it had at the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueuedFile {
    pub path: String,
    pub size: u64,
}

/// Pending entries and the queue objects holding them.
#[derive(Debug, Default)]
pub struct QueueSnapshot {
    pub files: Vec<QueuedFile>,
    objects: Vec<Path>,
}

/// The queue of one source (for example `sensors`).
pub struct LandingQueue<'a> {
    lake: &'a Lake,
    dir: Path,
}

impl<'a> LandingQueue<'a> {
    pub fn new(lake: &'a Lake, source: &str) -> Self {
        Self {
            lake,
            dir: lake.path(&format!("_ops/queue/{source}")),
        }
    }

    /// Record `files` as about to be landed (one object per call).
    pub async fn enqueue(&self, files: &[QueuedFile]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let mut text = String::with_capacity(files.len() * 80);
        for f in files {
            text.push_str(&f.size.to_string());
            text.push('\t');
            text.push_str(&f.path);
            text.push('\n');
        }
        let name = format!(
            "{}-{}.tsv",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            uuid::Uuid::new_v4().simple()
        );
        self.lake
            .root_store()
            .put(&self.dir.clone().join(name), PutPayload::from(text))
            .await?;
        Ok(())
    }

    /// Every pending entry, deduplicated by path (the latest size wins).
    pub async fn snapshot(&self) -> Result<QueueSnapshot> {
        let store = self.lake.root_store();
        let mut objects: Vec<_> = store.list(Some(&self.dir)).try_collect().await?;
        objects.sort_by(|a, b| a.location.cmp(&b.location));
        let mut latest = std::collections::HashMap::new();
        let mut paths = Vec::with_capacity(objects.len());
        for object in objects {
            let bytes = match store.get(&object.location).await {
                Ok(r) => r.bytes().await?,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let text = std::str::from_utf8(&bytes).map_err(|e| LakeError::Corrupt {
                context: format!("queue object {}", object.location),
                message: e.to_string(),
            })?;
            for line in text.lines().filter(|l| !l.is_empty()) {
                let parsed = line
                    .split_once('\t')
                    .and_then(|(size, path)| Some((size.parse::<u64>().ok()?, path)));
                let Some((size, path)) = parsed else {
                    return Err(LakeError::Corrupt {
                        context: format!("queue object {}", object.location),
                        message: format!("bad line `{line}`"),
                    });
                };
                latest.insert(path.to_string(), size);
            }
            paths.push(object.location);
        }
        let mut files: Vec<QueuedFile> = latest
            .into_iter()
            .map(|(path, size)| QueuedFile { path, size })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(QueueSnapshot {
            files,
            objects: paths,
        })
    }

    /// Remove `paths` from the queue: the other pending entries are rewritten into one new object
    /// first, then the old objects are removed (a crash in between leaves duplicates, which
    /// [`LandingQueue::snapshot`] merges).
    pub async fn forget(&self, paths: &std::collections::HashSet<String>) -> Result<()> {
        if paths.is_empty() {
            return Ok(());
        }
        let snapshot = self.snapshot().await?;
        let kept: Vec<QueuedFile> = snapshot
            .files
            .iter()
            .filter(|f| !paths.contains(&f.path))
            .cloned()
            .collect();
        self.enqueue(&kept).await?;
        self.acknowledge(snapshot).await
    }

    /// Remove the queue objects of `snapshot`; entries enqueued since stay pending.
    pub async fn acknowledge(&self, snapshot: QueueSnapshot) -> Result<()> {
        for object in snapshot.objects {
            match self.lake.root_store().delete(&object).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
