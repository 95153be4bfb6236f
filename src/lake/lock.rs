//! The single-writer lease. Writers (ingest, build, publish, maintenance) hold it; readers (the
//! SQL shell, status) never need it.
//!
//! Leases are numbered objects `_ops/lock/lease-<generation>.json`. Taking the lease means
//! creating the next generation with a create-if-absent put, which exactly one contender wins on
//! a local disk and on S3 alike. The holder renews its object periodically; a lease that is
//! released, expired, or held by a dead process on this host can be taken over. A holder that
//! finds a newer generation has been fenced out and stops before its next commit: every commit
//! first re-reads the newest generation.
//!
//! Expiry is measured on the store's clock only (the lease object's last modification against a
//! probe object written just now), so a holder or contender with a wrong clock cannot make a
//! live lease look stale. "Dead process on this host" needs the same boot and the same pid
//! namespace, not only the same host name (containers often share one).

use object_store::ObjectStoreExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::{Lake, LakeError, Result};

const LOCK_DIR: &str = "_ops/lock";
/// Where the store's current time is read (a probe object written and removed again).
const CLOCK_DIR: &str = "_ops/clock";
/// A lease not renewed for this long is stale.
const LEASE_TTL: Duration = Duration::from_secs(120);
const RENEW_EVERY: Duration = Duration::from_secs(20);

/// Who holds (or held) the lease.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeaseHolder {
    pub host: String,
    /// `/proc/sys/kernel/random/boot_id` of the holder's machine: same host name, other boot id
    /// means another machine (or container host).
    #[serde(default)]
    pub boot_id: Option<String>,
    /// The holder's pid namespace (`/proc/self/ns/pid`): pids compare only within one.
    #[serde(default)]
    pub pid_namespace: Option<String>,
    pub pid: u32,
    /// Start time of the process (clock ticks since boot), to tell a live holder from a new
    /// process that reused its pid.
    pub pid_start: Option<u64>,
    pub command: String,
    pub started_at: DateTime<Utc>,
    pub renewed_at: DateTime<Utc>,
    pub released: bool,
}

impl LeaseHolder {
    fn current(command: &str) -> Self {
        let now = Utc::now();
        let pid = std::process::id();
        Self {
            host: hostname(),
            boot_id: boot_id(),
            pid_namespace: pid_namespace(),
            pid,
            pid_start: process_start_ticks(pid),
            command: command.to_string(),
            started_at: now,
            renewed_at: now,
            released: false,
        }
    }

    /// Whether another process may take the lease over; `age`: how long ago (on the store's
    /// clock) the lease object was last written.
    fn is_stale(&self, age: Duration) -> bool {
        self.released
            || age > LEASE_TTL
            || (self.is_local() && !process_is_alive(self.pid, self.pid_start))
    }

    /// Whether the holder's pid means a process this one can look up: the same host, boot and
    /// pid namespace.
    fn is_local(&self) -> bool {
        self.host == hostname()
            && self.boot_id.is_some()
            && self.boot_id == boot_id()
            && self.pid_namespace.is_some()
            && self.pid_namespace == pid_namespace()
    }
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (pid {} on {}, since {}, renewed {})",
            self.command,
            self.pid,
            self.host,
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.renewed_at.format("%H:%M:%S UTC"),
        )
    }
}

/// A held writer lease; renewed in the background until released or dropped.
pub struct WriterLease {
    store: Arc<dyn ObjectStore>,
    path: Path,
    dir: Path,
    generation: u64,
    holder: LeaseHolder,
    lost: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
}

impl WriterLease {
    /// Take the lease for `command`, waiting up to `wait` for another holder to finish.
    pub async fn acquire(lake: &Lake, command: &str, wait: Duration) -> Result<Self> {
        let store = lake.root_store().clone();
        let dir = lake.path(LOCK_DIR);
        let deadline = tokio::time::Instant::now() + wait;
        let mut announced = false;
        loop {
            let latest = latest_lease(&store, &dir).await?;
            let next_generation = latest.as_ref().map_or(1, |l| l.generation + 1);
            let free = match &latest {
                None => true,
                Some(lease) if lease.holder.released => true,
                Some(lease) => {
                    let now = store_now(&store, &lake.path(CLOCK_DIR)).await?;
                    let age = now
                        .signed_duration_since(lease.written)
                        .to_std()
                        .unwrap_or_default();
                    lease.holder.is_stale(age)
                }
            };
            if free {
                let holder = LeaseHolder::current(command);
                let path = dir.clone().join(lease_name(next_generation));
                let put = store
                    .put_opts(
                        &path,
                        to_payload(&holder),
                        PutOptions::from(PutMode::Create),
                    )
                    .await;
                match put {
                    Ok(_) => {
                        if let Some(stale) = &latest
                            && !stale.holder.released
                        {
                            tracing::warn!(
                                generation = stale.generation,
                                "took over a stale writer lease held by {}",
                                stale.holder
                            );
                        }
                        remove_older(&store, &dir, next_generation).await;
                        tracing::debug!(generation = next_generation, "writer lease acquired");
                        return Ok(Self::start(store, path, holder, dir, next_generation));
                    }
                    Err(object_store::Error::AlreadyExists { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let holder = latest.map(|l| l.holder).expect("a busy lease has a holder");
            if tokio::time::Instant::now() >= deadline {
                return Err(LakeError::Locked {
                    holder: holder.to_string(),
                });
            }
            if !announced {
                tracing::info!("waiting for the writer lease held by {holder}");
                announced = true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn start(
        store: Arc<dyn ObjectStore>,
        path: Path,
        holder: LeaseHolder,
        dir: Path,
        generation: u64,
    ) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew_loop(
            store.clone(),
            dir.clone(),
            path.clone(),
            holder.clone(),
            generation,
            lost.clone(),
        ));
        Self {
            store,
            path,
            dir,
            generation,
            holder,
            lost,
            renewer: Some(renewer),
        }
    }

    /// Fail if another process took the lease over; call before every commit. Reads the newest
    /// generation from the store (one listing), so a takeover is noticed at the next commit,
    /// not at the next renewal.
    pub async fn check(&self) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(LakeError::LeaseLost {
                holder: "another writer".into(),
            });
        }
        match latest_lease(&self.store, &self.dir).await? {
            Some(latest) if latest.generation != self.generation => {
                self.lost.store(true, Ordering::SeqCst);
                Err(LakeError::LeaseLost {
                    holder: latest.holder.to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Who holds this lease.
    pub fn holder(&self) -> &LeaseHolder {
        &self.holder
    }

    /// Give the lease back so the next writer need not wait for it to expire.
    pub async fn release(mut self) -> Result<()> {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
        if self.lost.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut holder = self.holder.clone();
        holder.released = true;
        holder.renewed_at = Utc::now();
        self.store.put(&self.path, to_payload(&holder)).await?;
        Ok(())
    }
}

impl Drop for WriterLease {
    fn drop(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
    }
}

/// The current lease holder of the lake, if any lease object exists.
pub async fn current_holder(lake: &Lake) -> Result<Option<LeaseHolder>> {
    Ok(latest_lease(lake.root_store(), &lake.path(LOCK_DIR))
        .await?
        .map(|l| l.holder))
}

async fn renew_loop(
    store: Arc<dyn ObjectStore>,
    dir: Path,
    path: Path,
    mut holder: LeaseHolder,
    generation: u64,
    lost: Arc<AtomicBool>,
) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        match latest_lease(&store, &dir).await {
            Ok(Some(latest)) if latest.generation > generation => {
                let g = latest.generation;
                tracing::error!("the writer lease was taken over (generation {g}); stopping");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot check the writer lease: {e}"),
        }
        holder.renewed_at = Utc::now();
        if let Err(e) = store.put(&path, to_payload(&holder)).await {
            tracing::warn!("cannot renew the writer lease: {e}");
        }
    }
}

fn lease_name(generation: u64) -> String {
    format!("lease-{generation:020}.json")
}

fn to_payload(holder: &LeaseHolder) -> PutPayload {
    PutPayload::from(serde_json::to_vec_pretty(holder).expect("lease serializes"))
}

/// A lease object as found in the store.
struct FoundLease {
    generation: u64,
    holder: LeaseHolder,
    /// When the store last wrote it (the store's clock).
    written: DateTime<Utc>,
}

/// The newest lease in `dir`.
async fn latest_lease(store: &Arc<dyn ObjectStore>, dir: &Path) -> Result<Option<FoundLease>> {
    let objects: Vec<_> = store.list(Some(dir)).try_collect().await?;
    let latest = objects
        .iter()
        .filter_map(|o| {
            let name = o.location.filename()?;
            let generation = name
                .strip_prefix("lease-")?
                .strip_suffix(".json")?
                .parse::<u64>()
                .ok()?;
            Some((generation, o.location.clone(), o.last_modified))
        })
        .max_by_key(|(g, _, _)| *g);
    let Some((generation, path, written)) = latest else {
        return Ok(None);
    };
    let bytes = match store.get(&path).await {
        Ok(result) => result.bytes().await?,
        // Removed by the next holder between list and get: that holder is the current one.
        Err(object_store::Error::NotFound { .. }) => {
            return Box::pin(latest_lease(store, dir)).await;
        }
        Err(e) => return Err(e.into()),
    };
    let holder: LeaseHolder = serde_json::from_slice(&bytes).map_err(|e| LakeError::Corrupt {
        context: format!("writer lease {path}"),
        message: e.to_string(),
    })?;
    Ok(Some(FoundLease {
        generation,
        holder,
        written,
    }))
}

/// The store's current time: the modification time of a probe object written now.
async fn store_now(store: &Arc<dyn ObjectStore>, dir: &Path) -> Result<DateTime<Utc>> {
    let probe = dir
        .clone()
        .join(format!("probe-{}", uuid::Uuid::new_v4().simple()));
    store.put(&probe, PutPayload::from_static(b"")).await?;
    let meta = store.head(&probe).await;
    let _ = store.delete(&probe).await;
    Ok(meta?.last_modified)
}

/// Best-effort removal of superseded lease objects.
async fn remove_older(store: &Arc<dyn ObjectStore>, dir: &Path, generation: u64) {
    let Ok(objects) = store.list(Some(dir)).try_collect::<Vec<_>>().await else {
        return;
    };
    for object in objects {
        let older = object
            .location
            .filename()
            .and_then(|n| {
                n.strip_prefix("lease-")?
                    .strip_suffix(".json")?
                    .parse::<u64>()
                    .ok()
            })
            .is_some_and(|g| g < generation);
        if older {
            let _ = store.delete(&object.location).await;
        }
    }
}

fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
}

fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|link| link.to_string_lossy().into_owned())
}

/// Start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it follow the last `)`.
    let mut fields = stat[stat.rfind(')')? + 2..].split_whitespace();
    // A killed child that nobody reaped yet is a zombie: it holds nothing any more.
    if matches!(fields.next()?, "Z" | "X") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

fn process_is_alive(pid: u32, start: Option<u64>) -> bool {
    if !std::path::Path::new("/proc").exists() {
        return true; // cannot tell: rely on expiry
    }
    match (process_start_ticks(pid), start) {
        (None, _) => false,
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_start_time_is_read() {
        let pid = std::process::id();
        let start = process_start_ticks(pid);
        assert!(start.is_some());
        assert!(process_is_alive(pid, start));
        assert!(!process_is_alive(pid, start.map(|s| s + 1)));
    }
}
